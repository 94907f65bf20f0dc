// The filter and function tables are the one place a builtin is declared: whatever they list
// compiles with its arity, anything else is rejected by name, and a filter called as a function
// is the same code as the filter.
#include <gtest/gtest.h>

#include "stagesync/transform.h"
#include "transform/expression.h"
#include "transform/template.h"

namespace stagesync::transform::internal {
namespace {

const LookupTables kLookups = {{"t", {{"2", "two"}}}};

// "name", or "name(first, '2', ...)" with n arguments.
std::string CallText(const std::string& name, size_t n, const std::string& first = "'2'") {
  if (n == 0) return name;
  std::string s = name + "(" + first;
  for (size_t i = 1; i < n; ++i) s += ", '2'";
  return s + ")";
}

std::string CompileError(const std::string& text) {
  auto t = ParseTemplate(text, "cols.c", &kLookups);
  return t.ok() ? "compiled" : t.status().message();
}

TEST(BuiltinsTest, EveryFilterCompilesWithItsArityAndResolvesToItsEntry) {
  ASSERT_GE(FilterTable().size(), 12u);
  for (const FilterSpec& f : FilterTable()) {
    SCOPED_TRACE(f.name);
    for (size_t n = f.min_args; n <= f.max_args; ++n) {
      auto t = ParseTemplate("{a|" + CallText(f.name, n) + "}", "cols.c");
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      EXPECT_EQ((*t)->parts[0].filters[0].spec, &f);
    }
    std::string err = CompileError("{a|" + CallText(f.name, f.max_args + 1) + "}");
    EXPECT_NE(err.find("cols.c: filter |" + std::string(f.name) + " takes"), std::string::npos)
        << err;
    if (f.min_args > 0) {
      EXPECT_NE(CompileError("{a|" + std::string(f.name) + "}").find(f.name), std::string::npos);
    }
  }
  EXPECT_NE(CompileError("{a|nosuch}").find("cols.c: unknown filter |nosuch"), std::string::npos);
}

TEST(BuiltinsTest, EveryFunctionCompilesWithItsArityAndOthersAreRejected) {
  ASSERT_GE(FunctionTable().size(), 11u);
  for (const FnSpec& f : FunctionTable()) {
    SCOPED_TRACE(f.name);
    EXPECT_EQ(FindFilter(f.name), nullptr) << "a name in both tables is ambiguous";
    EXPECT_EQ(CompileError("_function " + CallText(f.name, f.min_args, "'t'")), "compiled");
    std::string err = CompileError("_function " + std::string(f.name) + "()");
    EXPECT_NE(err.find("cols.c: " + std::string(f.name) + "() takes"), std::string::npos) << err;
    if (f.max_args != SIZE_MAX) {
      EXPECT_EQ(CompileError("_function " + CallText(f.name, f.max_args, "'t'")), "compiled");
      err = CompileError("_function " + CallText(f.name, f.max_args + 1, "'t'"));
      EXPECT_NE(err.find(std::string(f.name) + "() takes"), std::string::npos) << err;
    }
  }
  EXPECT_NE(CompileError("_function nosuch(1)").find("cols.c: unknown function nosuch()"),
            std::string::npos);
}

TEST(BuiltinsTest, AFilterCalledAsAFunctionIsTheFilter) {
  const std::string record =
      R"({"d":"2024-03-01 09:12:44","n":" 5,000.456 ","s":" Ab ","b":true,"z":null,"x":"abc"})";
  auto rec = json::Parse(record);
  ASSERT_TRUE(rec.ok());
  for (const FilterSpec& f : FilterTable()) {
    SCOPED_TRACE(f.name);
    if (!f.function) {
      EXPECT_NE(CompileError("_function " + CallText(f.name, f.min_args + 1, "{d}"))
                    .find("unknown function " + std::string(f.name)),
                std::string::npos);
      continue;
    }
    EXPECT_NE(CompileError("_function " + CallText(f.name, f.max_args + 2, "{d}")).find("takes"),
              std::string::npos);
    for (const char* field : {"d", "n", "s", "b", "z", "x"}) {
      for (size_t n = f.min_args; n <= f.max_args; ++n) {
        std::string as_filter = "{" + std::string(field) + "|" + CallText(f.name, n) + "}";
        std::string as_call =
            "_function " + CallText(f.name, n + 1, "{" + std::string(field) + "}");
        auto a = EvaluateOnce(as_filter, *rec, {}, "Asia/Shanghai", "c");
        auto b = EvaluateOnce(as_call, *rec, {}, "Asia/Shanghai", "c");
        ASSERT_EQ(a.ok(), b.ok()) << as_filter << " / " << as_call << ": "
                                  << (a.ok() ? b.status() : a.status()).ToString();
        if (a.ok()) {
          EXPECT_EQ(*a, *b) << as_filter;
        }
      }
    }
  }
}

// A scale is checked when the template compiles; as a function argument it is a value, checked
// per call, and a bad one is an error (std::stoi used to throw on it).
TEST(BuiltinsTest, DecimalScaleAsAValueIsChecked) {
  auto rec = json::Parse(R"({"n":"1.25","k":"x"})");
  ASSERT_TRUE(rec.ok());
  auto ok = EvaluateOnce("_function decimal({n}, 1)", *rec, {}, "UTC", "c");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "1.3");
  for (const char* bad : {"_function decimal({n}, {k})", "_function decimal({n}, {none})",
                          "_function decimal({n}, -1)"}) {
    auto r = EvaluateOnce(bad, *rec, {}, "UTC", "c");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("decimal(N) needs a scale"), std::string::npos)
        << r.status().ToString();
  }
  EXPECT_NE(CompileError("{n|decimal(x)}").find("needs a scale"), std::string::npos);
}

}  // namespace
}  // namespace stagesync::transform::internal
