// Internal to the transform module: the `_function` expression language of the seeds
// (functions, comparisons, and/or/not, + - * / on exact decimals, `{ref}` and '{ref}' string
// templates), compiled once into a tree and evaluated per record with bounded work.
// Compiled expressions are immutable and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "transform/template.h"

namespace stagesync::transform::internal {

class Expr {
 public:
  virtual ~Expr() = default;
  virtual Status Eval(const Context& ctx, Val* out) const = 0;
};

// `offset` is added to positions in error messages (the text may follow "_function ").
Result<std::shared_ptr<const Expr>> CompileExpr(std::string_view text, const std::string& path,
                                                size_t offset, const LookupTables* lookups);
Status EvaluateExpr(const Expr& e, const Context& ctx, Val* out);

// NULL, "", "0" and "false" are false; everything else is true.
bool Truthy(const Val& v);

// Largest string an expression may build, so no record can make one blow up.
constexpr size_t kMaxValueBytes = 1u << 20;

}  // namespace stagesync::transform::internal
