// Internal to the transform module: the `_function` expression language of the seeds
// (functions, comparisons, and/or/not, + - * / on exact decimals, `{ref}` and '{ref}' string
// templates), compiled once into a tree and evaluated per record with bounded work.
// Compiled expressions are immutable and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transform/template.h"

namespace stagesync::transform::internal {

class Expr {
 public:
  virtual ~Expr() = default;
  virtual Status Eval(const Context& ctx, Val* out) const = 0;
};

struct Call;  // a compiled call of a function (expression.cc)

// A function's implementation. `v` holds the evaluated arguments, unless the function is lazy
// (it evaluates `call.args` itself).
using CallFn = Status (*)(const Call& call, const std::vector<Val>& v, const Context& ctx,
                          Val* out);

// One `_function` function: the only place one is declared. The filters marked `function` in
// FilterTable() are functions too, with the value as their first argument.
struct FnSpec {
  const char* name;
  size_t min_args;
  size_t max_args;  // SIZE_MAX: variadic
  CallFn fn;
  bool lazy = false;        // if/coalesce: arguments evaluated by the function
  bool null_passes = true;  // a NULL first argument is the result, without a call
};

std::span<const FnSpec> FunctionTable();

// `offset` is added to positions in error messages (the text may follow "_function ").
Result<std::shared_ptr<const Expr>> CompileExpr(std::string_view text, const std::string& path,
                                                size_t offset, const LookupTables* lookups);
Status EvaluateExpr(const Expr& e, const Context& ctx, Val* out);

// NULL, "", "0" and "false" are false; everything else is true.
bool Truthy(const Val& v);

// Largest string an expression may build, so no record can make one blow up.
constexpr size_t kMaxValueBytes = 1u << 20;

}  // namespace stagesync::transform::internal
