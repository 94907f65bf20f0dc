#include "transform/expression.h"

#include <algorithm>
#include <cctype>

namespace stagesync::transform::internal {

namespace {

// ---- exact decimal arithmetic: a 128-bit mantissa and a decimal scale ----

__extension__ typedef __int128 Int128;

struct Decimal {
  Int128 m = 0;
  int scale = 0;
};

constexpr int kMaxScale = 18;
constexpr int kDivScale = 10;

bool ParseDecimal(const std::string& s, Decimal* out) {
  std::string clean;
  if (!CleanNumber(s, &clean)) return false;
  bool neg = clean[0] == '-';
  size_t i = neg ? 1 : 0;
  Int128 m = 0;
  int scale = 0, digits = 0;
  bool frac = false;
  for (; i < clean.size(); ++i) {
    if (clean[i] == '.') {
      frac = true;
      continue;
    }
    // 18 significant digits keep every product and quotient inside 128 bits.
    if (++digits > 18) return false;
    m = m * 10 + (clean[i] - '0');
    if (frac) ++scale;
  }
  if (scale > kMaxScale) {
    // Round away the excess digits (half away from zero).
    while (scale > kMaxScale) {
      Int128 rem = m % 10;
      m /= 10;
      if (rem >= 5) ++m;
      --scale;
    }
  }
  out->m = neg ? -m : m;
  out->scale = scale;
  return true;
}

Int128 Pow10(int n) {
  Int128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

void Align(Decimal* a, Decimal* b) {
  if (a->scale < b->scale) {
    a->m *= Pow10(b->scale - a->scale);
    a->scale = b->scale;
  } else if (b->scale < a->scale) {
    b->m *= Pow10(a->scale - b->scale);
    b->scale = a->scale;
  }
}

std::string Format(Decimal d, bool trim_zeros) {
  bool neg = d.m < 0;
  Int128 m = neg ? -d.m : d.m;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  } while (m > 0);
  if (static_cast<int>(digits.size()) <= d.scale) {
    digits.insert(0, static_cast<size_t>(d.scale - static_cast<int>(digits.size()) + 1), '0');
  }
  std::string out = digits.substr(0, digits.size() - static_cast<size_t>(d.scale));
  if (d.scale > 0) {
    std::string frac = digits.substr(digits.size() - static_cast<size_t>(d.scale));
    if (trim_zeros) {
      while (!frac.empty() && frac.back() == '0') frac.pop_back();
    }
    if (!frac.empty()) out += "." + frac;
  }
  bool zero = out.find_first_not_of("0.") == std::string::npos;
  return (neg && !zero ? "-" : "") + out;
}

// ---- UTF-8 aware helpers (substr never splits a character) ----

std::vector<size_t> CharStarts(const std::string& s) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  return starts;
}

// ---- AST ----

class Literal final : public Expr {
 public:
  explicit Literal(Val v) : v_(std::move(v)) {}
  Status Eval(const Context&, Val* out) const override {
    *out = v_;
    return Status::Ok();
  }

 private:
  Val v_;
};

class TemplateExpr final : public Expr {
 public:
  explicit TemplateExpr(std::unique_ptr<Template> t) : t_(std::move(t)) {}
  Status Eval(const Context& ctx, Val* out) const override { return Evaluate(*t_, ctx, out); }

 private:
  std::unique_ptr<Template> t_;
};

class RefExpr final : public Expr {
 public:
  explicit RefExpr(Part p) : p_(std::move(p)) {}
  Status Eval(const Context& ctx, Val* out) const override { return ResolveFiltered(p_, ctx, out); }

 private:
  Part p_;
};

class Unary final : public Expr {
 public:
  Unary(char op, std::unique_ptr<Expr> e) : op_(op), e_(std::move(e)) {}
  Status Eval(const Context& ctx, Val* out) const override {
    Val v;
    SS_RETURN_IF_ERROR(e_->Eval(ctx, &v));
    if (op_ == '!') {
      *out = Val::Str(Truthy(v) ? "0" : "1");
      return Status::Ok();
    }
    if (v.null) {
      *out = v;
      return Status::Ok();
    }
    Decimal d;
    if (!ParseDecimal(v.s, &d)) return InvalidArgument("'-': '" + v.s + "' is not a number");
    d.m = -d.m;
    *out = Val::Str(Format(d, false));
    return Status::Ok();
  }

 private:
  char op_;
  std::unique_ptr<Expr> e_;
};

enum class BinOp { kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr };

int Compare(const Val& a, const Val& b) {
  Decimal x, y;
  if (ParseDecimal(a.s, &x) && ParseDecimal(b.s, &y)) {
    Align(&x, &y);
    return x.m < y.m ? -1 : (x.m > y.m ? 1 : 0);
  }
  return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
}

class Binary final : public Expr {
 public:
  Binary(BinOp op, std::unique_ptr<Expr> l, std::unique_ptr<Expr> r)
      : op_(op), l_(std::move(l)), r_(std::move(r)) {}

  Status Eval(const Context& ctx, Val* out) const override {
    Val a;
    SS_RETURN_IF_ERROR(l_->Eval(ctx, &a));
    if (op_ == BinOp::kAnd || op_ == BinOp::kOr) {  // short-circuit
      bool ta = Truthy(a);
      if (op_ == BinOp::kAnd && !ta) return Set(out, false);
      if (op_ == BinOp::kOr && ta) return Set(out, true);
      Val b;
      SS_RETURN_IF_ERROR(r_->Eval(ctx, &b));
      return Set(out, Truthy(b));
    }
    Val b;
    SS_RETURN_IF_ERROR(r_->Eval(ctx, &b));
    switch (op_) {
      case BinOp::kEq:
        return Set(out, a.null == b.null && (a.null || Compare(a, b) == 0));
      case BinOp::kNe:
        return Set(out, !(a.null == b.null && (a.null || Compare(a, b) == 0)));
      case BinOp::kLt:
      case BinOp::kLe:
      case BinOp::kGt:
      case BinOp::kGe: {
        if (a.null || b.null) return Set(out, false);
        int c = Compare(a, b);
        bool r = op_ == BinOp::kLt   ? c < 0
                 : op_ == BinOp::kLe ? c <= 0
                 : op_ == BinOp::kGt ? c > 0
                                     : c >= 0;
        return Set(out, r);
      }
      default:
        break;
    }
    if (a.null || b.null) {
      *out = Val::Null();
      return Status::Ok();
    }
    Decimal x, y;
    if (!ParseDecimal(a.s, &x)) return InvalidArgument("arithmetic: '" + a.s + "' is not a number");
    if (!ParseDecimal(b.s, &y)) return InvalidArgument("arithmetic: '" + b.s + "' is not a number");
    Decimal r;
    bool trim = false;
    switch (op_) {
      case BinOp::kAdd:
      case BinOp::kSub:
        Align(&x, &y);
        r.m = op_ == BinOp::kAdd ? x.m + y.m : x.m - y.m;
        r.scale = x.scale;
        break;
      case BinOp::kMul:
        r.m = x.m * y.m;
        r.scale = x.scale + y.scale;
        while (r.scale > kMaxScale) {
          r.m /= 10;
          --r.scale;
        }
        break;
      case BinOp::kDiv:
      case BinOp::kMod: {
        if (y.m == 0) return InvalidArgument("division by zero");
        Align(&x, &y);
        if (op_ == BinOp::kMod) {
          r.m = x.m % y.m;
          r.scale = x.scale;
        } else {
          // x/y with kDivScale decimals, rounded half away from zero. Keep x * 10^11 inside
          // 128 bits (|x| < 10^26 after aligning the scales).
          const Int128 limit = Pow10(26);
          if (x.m >= limit || x.m <= -limit) return InvalidArgument("division: number too large");
          Int128 num = x.m * Pow10(kDivScale + 1);
          Int128 q = num / y.m;
          q = q >= 0 ? (q + 5) / 10 : (q - 5) / 10;
          r.m = q;
          r.scale = kDivScale;
          trim = true;
        }
        break;
      }
      default:
        return Internal("bad operator");
    }
    *out = Val::Str(Format(r, trim));
    return Status::Ok();
  }

 private:
  static Status Set(Val* out, bool b) {
    *out = Val::Str(b ? "1" : "0");
    return Status::Ok();
  }
  BinOp op_;
  std::unique_ptr<Expr> l_, r_;
};

}  // namespace

// A call with its function resolved when the expression is compiled.
struct Call final : public Expr {
  const FnSpec* spec = nullptr;
  const char* name = nullptr;  // the function's, or the filter's
  std::vector<std::unique_ptr<Expr>> args;
  const FilterSpec* filter = nullptr;                         // a filter called as a function
  const std::map<std::string, std::string>* table = nullptr;  // lookup()'s

  Status Eval(const Context& ctx, Val* out) const override {
    if (spec->lazy) return spec->fn(*this, {}, ctx, out);
    std::vector<Val> v(args.size());
    for (size_t i = 0; i < args.size(); ++i) SS_RETURN_IF_ERROR(args[i]->Eval(ctx, &v[i]));
    if (spec->null_passes && v[0].null) {
      *out = Val::Null();
      return Status::Ok();
    }
    Status s = spec->fn(*this, v, ctx, out);
    if (s.ok() && !out->null && out->s.size() > kMaxValueBytes) {
      return InvalidArgument(std::string(name) + "(): result over " +
                             std::to_string(kMaxValueBytes) + " bytes");
    }
    return s.ok() ? s : s.WithContext(std::string(name) + "()");
  }
};

namespace {

using Vals = std::vector<Val>;

Status If(const Call& c, const Vals&, const Context& ctx, Val* out) {
  Val cond;
  SS_RETURN_IF_ERROR(c.args[0]->Eval(ctx, &cond));
  if (Truthy(cond)) return c.args[1]->Eval(ctx, out);
  if (c.args.size() > 2) return c.args[2]->Eval(ctx, out);
  *out = Val::Null();
  return Status::Ok();
}

Status Coalesce(const Call& c, const Vals&, const Context& ctx, Val* out) {
  for (const auto& a : c.args) {
    SS_RETURN_IF_ERROR(a->Eval(ctx, out));
    if (!out->null) return Status::Ok();
  }
  *out = Val::Null();
  return Status::Ok();
}

Status Concat(const Call&, const Vals& v, const Context&, Val* out) {
  std::string s;
  for (const auto& x : v) {
    if (!x.null) s += x.s;
    if (s.size() > kMaxValueBytes) return InvalidArgument("result too long");
  }
  *out = Val::Str(std::move(s));
  return Status::Ok();
}

Status Lookup(const Call& c, const Vals& v, const Context&, Val* out) {
  auto it = v[1].null ? c.table->end() : c.table->find(v[1].s);
  *out = it != c.table->end() ? Val::Str(it->second) : v.size() > 2 ? v[2] : Val::Null();
  return Status::Ok();
}

// A filter marked `function`: the value first, then the filter's arguments.
Status FilterCall(const Call& c, const Vals& v, const Context& ctx, Val* out) {
  Filter f{c.filter, {}};
  for (size_t i = 1; i < v.size(); ++i) f.args.push_back(v[i].s);
  std::string err;
  // The arguments are values here, so checked per call (a bad decimal scale is an error).
  if (!CheckFilterArgs(*f.spec, f.args, &err)) return InvalidArgument(err);
  *out = v[0];
  if (!ApplyFilter(f, ctx.tz_minutes, out, &err)) return InvalidArgument(err);
  return Status::Ok();
}

Status Length(const Call&, const Vals& v, const Context&, Val* out) {
  *out = Val::Str(std::to_string(CharStarts(v[0].s).size()));
  return Status::Ok();
}

// SQL style: 1-based start in characters; a negative start counts from the end.
Status Substr(const Call&, const Vals& v, const Context&, Val* out) {
  const std::string& s = v[0].s;
  auto starts = CharStarts(s);
  int64_t count = static_cast<int64_t>(starts.size());
  Decimal d;
  if (v[1].null || !ParseDecimal(v[1].s, &d) || d.scale != 0) {
    return InvalidArgument("start must be an integer");
  }
  int64_t start = static_cast<int64_t>(d.m);
  if (start < 0) start = count + start + 1;
  if (start < 1) start = 1;
  int64_t len = count;
  if (v.size() > 2) {
    if (v[2].null || !ParseDecimal(v[2].s, &d) || d.scale != 0 || d.m < 0) {
      return InvalidArgument("length must be a non-negative integer");
    }
    len = static_cast<int64_t>(d.m);
  }
  if (start > count || len == 0) {
    *out = Val::Str("");
    return Status::Ok();
  }
  int64_t end = std::min(count, start - 1 + len);
  size_t b = starts[static_cast<size_t>(start - 1)];
  size_t e = end >= count ? s.size() : starts[static_cast<size_t>(end)];
  *out = Val::Str(s.substr(b, e - b));
  return Status::Ok();
}

Status Replace(const Call&, const Vals& v, const Context&, Val* out) {
  if (v[1].null || v[1].s.empty()) {
    *out = v[0];
    return Status::Ok();
  }
  const std::string& s = v[0].s;
  const std::string& from = v[1].s;
  const std::string to = v[2].null ? "" : v[2].s;
  std::string r;
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    r.append(s, pos, hit - pos);
    r += to;
    if (r.size() > kMaxValueBytes) return InvalidArgument("result too long");
    pos = hit + from.size();
  }
  r.append(s, pos, std::string::npos);
  *out = Val::Str(std::move(r));
  return Status::Ok();
}

// addtime (kSign 1) and subtime (-1): a datetime plus or minus 'HH:MM:SS' (hours may exceed
// 24), optionally negative.
template <int kSign>
Status AddTime(const Call&, const Vals& v, const Context& ctx, Val* out) {
  int64_t local;
  std::string err;
  if (!ToLocalSeconds(v[0].s, ctx.tz_minutes, &local, &err)) return InvalidArgument(err);
  std::string d = v[1].null ? "" : v[1].s;
  bool neg = !d.empty() && d[0] == '-';
  if (neg) d.erase(0, 1);
  int64_t parts[3] = {0, 0, 0};
  int idx = 0;
  bool ok = !d.empty();
  for (char c : d) {
    if (c == ':') {
      if (++idx > 2) {  // found by the fuzzer: parts[3] would be written
        ok = false;
        break;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      parts[idx] = parts[idx] * 10 + (c - '0');
      if (parts[idx] > 100000000) {  // found by the fuzzer: would overflow
        ok = false;
        break;
      }
    } else {
      ok = false;
      break;
    }
  }
  if (!ok || idx != 2) return InvalidArgument("interval '" + v[1].s + "' is not HH:MM:SS");
  int64_t delta = (parts[0] * 3600 + parts[1] * 60 + parts[2]) * (neg ? -1 : 1);
  *out = Val::Str(FormatLocal(local + kSign * delta, true));
  return Status::Ok();
}

Status Round(const Call&, const Vals& v, const Context&, Val* out) {
  const std::string& s = v[0].s;
  Decimal d;
  if (!ParseDecimal(s, &d)) return InvalidArgument("'" + s + "' is not a number");
  std::string clean;
  CleanNumber(s, &clean);
  int scale = 0;
  if (v.size() > 1) scale = std::clamp(std::atoi(v[1].s.c_str()), 0, kMaxScale);
  *out = Val::Str(RoundDecimal(clean, scale));
  return Status::Ok();
}

constexpr FnSpec kFunctions[] = {
    {"concat", 1, SIZE_MAX, Concat, false, /*null_passes=*/false},
    {"substr", 2, 3, Substr},
    {"replace", 3, 3, Replace},
    {"length", 1, 1, Length},
    {"subtime", 2, 2, AddTime<-1>},
    {"addtime", 2, 2, AddTime<1>},
    {"if", 2, 3, If, /*lazy=*/true},
    {"ifnull", 2, 2, Coalesce, /*lazy=*/true},
    {"coalesce", 1, SIZE_MAX, Coalesce, /*lazy=*/true},
    {"lookup", 2, 3, Lookup, false, /*null_passes=*/false},
    {"round", 1, 2, Round},
};
// The arity of a filter called as a function is its own plus one.
constexpr FnSpec kFilterCall = {"", 0, 0, FilterCall};

// ---- parser ----

class Parser {
 public:
  Parser(std::string_view text, const std::string& path, size_t offset, const LookupTables* lookups)
      : t_(text), path_(path), offset_(offset), lookups_(lookups) {}

  Result<std::unique_ptr<Expr>> Parse() {
    auto e = Or(0);
    if (!e.ok()) return e;
    Skip();
    if (pos_ < t_.size()) return Error("unexpected '" + std::string(1, t_[pos_]) + "'");
    return e;
  }

 private:
  static constexpr int kMaxDepth = 64;

  Status Error(const std::string& what) const {
    return InvalidArgument(path_ + ": " + what + " at position " +
                           std::to_string(offset_ + pos_ + 1));
  }
  void Skip() {
    while (pos_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[pos_]))) ++pos_;
  }
  bool Eat(std::string_view s) {
    Skip();
    if (t_.substr(pos_, s.size()) == s) {
      pos_ += s.size();
      return true;
    }
    return false;
  }
  bool EatWord(std::string_view w) {
    Skip();
    if (t_.size() - pos_ < w.size()) return false;
    for (size_t i = 0; i < w.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(t_[pos_ + i])) != w[i]) return false;
    }
    size_t end = pos_ + w.size();
    if (end < t_.size() && (std::isalnum(static_cast<unsigned char>(t_[end])) || t_[end] == '_'))
      return false;
    pos_ = end;
    return true;
  }

  using R = Result<std::unique_ptr<Expr>>;

  R Or(int d) {
    SS_ASSIGN_OR_RETURN(auto l, And(d));
    while (EatWord("or") || Eat("||")) {
      SS_ASSIGN_OR_RETURN(auto r, And(d));
      l = std::make_unique<Binary>(BinOp::kOr, std::move(l), std::move(r));
    }
    return l;
  }
  R And(int d) {
    SS_ASSIGN_OR_RETURN(auto l, Not(d));
    while (EatWord("and") || Eat("&&")) {
      SS_ASSIGN_OR_RETURN(auto r, Not(d));
      l = std::make_unique<Binary>(BinOp::kAnd, std::move(l), std::move(r));
    }
    return l;
  }
  R Not(int d) {
    if (d > kMaxDepth) return Error("expression nested too deeply");
    if (EatWord("not")) {
      SS_ASSIGN_OR_RETURN(auto e, Not(d + 1));
      return R(std::make_unique<Unary>('!', std::move(e)));
    }
    Skip();
    if (pos_ < t_.size() && t_[pos_] == '!' && t_.substr(pos_, 2) != "!=") {
      ++pos_;
      SS_ASSIGN_OR_RETURN(auto e, Not(d + 1));
      return R(std::make_unique<Unary>('!', std::move(e)));
    }
    return Cmp(d);
  }
  R Cmp(int d) {
    SS_ASSIGN_OR_RETURN(auto l, Add(d));
    static const std::pair<const char*, BinOp> kOps[] = {
        {"==", BinOp::kEq}, {"!=", BinOp::kNe}, {"<>", BinOp::kNe}, {"<=", BinOp::kLe},
        {">=", BinOp::kGe}, {"<", BinOp::kLt},  {">", BinOp::kGt},  {"=", BinOp::kEq}};
    for (const auto& [tok, op] : kOps) {
      if (Eat(tok)) {
        SS_ASSIGN_OR_RETURN(auto r, Add(d));
        return R(std::make_unique<Binary>(op, std::move(l), std::move(r)));
      }
    }
    return l;
  }
  R Add(int d) {
    SS_ASSIGN_OR_RETURN(auto l, Mul(d));
    while (true) {
      Skip();
      if (pos_ < t_.size() && (t_[pos_] == '+' || t_[pos_] == '-')) {
        BinOp op = t_[pos_] == '+' ? BinOp::kAdd : BinOp::kSub;
        ++pos_;
        SS_ASSIGN_OR_RETURN(auto r, Mul(d));
        l = std::make_unique<Binary>(op, std::move(l), std::move(r));
      } else {
        return l;
      }
    }
  }
  R Mul(int d) {
    SS_ASSIGN_OR_RETURN(auto l, Unary_(d));
    while (true) {
      Skip();
      if (pos_ < t_.size() && (t_[pos_] == '*' || t_[pos_] == '/' || t_[pos_] == '%')) {
        BinOp op = t_[pos_] == '*' ? BinOp::kMul : t_[pos_] == '/' ? BinOp::kDiv : BinOp::kMod;
        ++pos_;
        SS_ASSIGN_OR_RETURN(auto r, Unary_(d));
        l = std::make_unique<Binary>(op, std::move(l), std::move(r));
      } else {
        return l;
      }
    }
  }
  R Unary_(int d) {
    if (d > kMaxDepth) return Error("expression nested too deeply");
    Skip();
    if (pos_ < t_.size() && t_[pos_] == '-') {
      ++pos_;
      SS_ASSIGN_OR_RETURN(auto e, Unary_(d + 1));
      return R(std::make_unique<Unary>('-', std::move(e)));
    }
    return Primary(d);
  }
  R Primary(int d) {
    Skip();
    if (pos_ >= t_.size()) return Error("expression ends too early");
    char c = t_[pos_];
    if (c == '(') {
      ++pos_;
      SS_ASSIGN_OR_RETURN(auto e, Or(d + 1));
      if (!Eat(")")) return Error("missing ')'");
      return e;
    }
    if (c == '\'' || c == '"') return StringLit();
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return NumberLit();
    if (c == '{') return Ref();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
        static_cast<unsigned char>(c) >= 0x80) {
      size_t start = pos_;
      while (pos_ < t_.size() &&
             (std::isalnum(static_cast<unsigned char>(t_[pos_])) || t_[pos_] == '_' ||
              t_[pos_] == '.' || t_[pos_] == '[' || t_[pos_] == ']' ||
              static_cast<unsigned char>(t_[pos_]) >= 0x80)) {
        ++pos_;
      }
      std::string word(t_.substr(start, pos_ - start));
      std::string lower = word;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      Skip();
      if (pos_ < t_.size() && t_[pos_] == '(') return CallExpr(lower, start, d);
      if (lower == "true") return R(std::make_unique<Literal>(Val::Str("1")));
      if (lower == "false") return R(std::make_unique<Literal>(Val::Str("0")));
      if (lower == "null") return R(std::make_unique<Literal>(Val::Null()));
      Part p;
      std::string err;
      if (!ParseRef(word, false, &p, &err)) {
        pos_ = start;
        return Error(err);
      }
      return R(std::make_unique<RefExpr>(std::move(p)));
    }
    return Error("unexpected '" + std::string(1, c) + "'");
  }
  R StringLit() {
    char q = t_[pos_];
    size_t start = pos_++;
    std::string s;
    while (true) {
      if (pos_ >= t_.size()) {
        pos_ = start;
        return Error("unterminated string");
      }
      char c = t_[pos_++];
      if (c == '\\' && pos_ < t_.size()) {
        s.push_back(t_[pos_++]);
        continue;
      }
      if (c == q) {
        if (pos_ < t_.size() && t_[pos_] == q) {  // '' inside '...'
          s.push_back(q);
          ++pos_;
          continue;
        }
        break;
      }
      s.push_back(c);
    }
    // A string literal may hold references: '{FSpecification}' as the seeds write them.
    if (s.find('{') == std::string::npos) return R(std::make_unique<Literal>(Val::Str(s)));
    auto t = ParseTemplate(s, path_, lookups_);
    if (!t.ok()) {
      pos_ = start;
      return Error("in string: " + t.status().message().substr(path_.size() + 2));
    }
    return R(std::make_unique<TemplateExpr>(std::move(t).value()));
  }
  R NumberLit() {
    size_t start = pos_;
    while (pos_ < t_.size() &&
           (std::isdigit(static_cast<unsigned char>(t_[pos_])) || t_[pos_] == '.'))
      ++pos_;
    std::string num(t_.substr(start, pos_ - start));
    Decimal d;
    if (!ParseDecimal(num, &d)) {
      pos_ = start;
      return Error("bad number '" + num + "'");
    }
    return R(std::make_unique<Literal>(Val::Str(num)));
  }
  R Ref() {
    size_t start = pos_;
    bool label = t_.substr(pos_, 2) == "{{";
    size_t body = pos_ + (label ? 2 : 1);
    size_t close = t_.find(label ? "}}" : "}", body);
    if (close == std::string_view::npos)
      return Error(label ? "unterminated '{{'" : "unterminated '{'");
    Part p;
    std::string err;
    if (!ParseRef(t_.substr(body, close - body), label, &p, &err)) {
      pos_ = start;
      return Error(err);
    }
    pos_ = close + (label ? 2 : 1);
    return R(std::make_unique<RefExpr>(std::move(p)));
  }
  R CallExpr(const std::string& name, size_t name_pos, int d) {
    auto call = std::make_unique<Call>();
    for (const auto& f : kFunctions) {
      if (name == f.name) call->spec = &f;
    }
    const FilterSpec* filter = call->spec == nullptr ? FindFilter(name) : nullptr;
    if (filter != nullptr && filter->function) {
      call->spec = &kFilterCall;
      call->filter = filter;
    }
    if (call->spec == nullptr) {
      pos_ = name_pos;
      return Error("unknown function " + name + "()");
    }
    call->name = filter != nullptr ? filter->name : call->spec->name;
    size_t min_args = filter != nullptr ? filter->min_args + 1 : call->spec->min_args;
    size_t max_args = filter != nullptr ? filter->max_args + 1 : call->spec->max_args;
    ++pos_;  // '('
    auto& args = call->args;
    Skip();
    if (!Eat(")")) {
      while (true) {
        SS_ASSIGN_OR_RETURN(auto a, Or(d + 1));
        args.push_back(std::move(a));
        if (Eat(")")) break;
        if (!Eat(",")) return Error("expected ',' or ')' in " + name + "()");
      }
    }
    if (args.size() < min_args || args.size() > max_args) {
      pos_ = name_pos;
      std::string want = max_args == SIZE_MAX ? "at least " + std::to_string(min_args)
                         : min_args == max_args
                             ? std::to_string(min_args)
                             : std::to_string(min_args) + " to " + std::to_string(max_args);
      return Error(name + "() takes " + want + " argument(s), got " + std::to_string(args.size()));
    }
    if (call->spec->fn == Lookup) {
      // The table name must be a constant naming a configured table.
      auto* lit = dynamic_cast<Literal*>(args[0].get());
      Val v;
      if (lit == nullptr || !lit->Eval(Context{}, &v).ok() || v.null) {
        pos_ = name_pos;
        return Error("lookup() needs a table name in quotes");
      }
      auto t = lookups_ == nullptr ? LookupTables::const_iterator() : lookups_->find(v.s);
      if (lookups_ == nullptr || t == lookups_->end()) {
        pos_ = name_pos;
        return Error("lookup(): no table '" + v.s + "' in the pipeline's lookups");
      }
      call->table = &t->second;
    }
    return R(std::move(call));
  }

  std::string_view t_;
  const std::string& path_;
  size_t offset_;
  const LookupTables* lookups_;
  size_t pos_ = 0;
};

}  // namespace

bool Truthy(const Val& v) {
  if (v.null || v.s.empty() || v.s == "0" || v.s == "false") return false;
  return true;
}

Result<std::shared_ptr<const Expr>> CompileExpr(std::string_view text, const std::string& path,
                                                size_t offset, const LookupTables* lookups) {
  Parser p(text, path, offset, lookups);
  SS_ASSIGN_OR_RETURN(auto e, p.Parse());
  return std::shared_ptr<const Expr>(std::move(e));
}

Status EvaluateExpr(const Expr& e, const Context& ctx, Val* out) { return e.Eval(ctx, out); }

std::span<const FnSpec> FunctionTable() { return kFunctions; }

}  // namespace stagesync::transform::internal
