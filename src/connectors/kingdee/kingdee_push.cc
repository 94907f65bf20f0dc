#include "connectors/kingdee/kingdee_push.h"

#include <fmt/format.h>

#include "connectors/kingdee/kingdee_client.h"

namespace stagesync::sink::kingdee {

namespace {

// Defaults, ranges and help in PushOptionTable().
struct PushOptions {
  std::string form_id;
  std::string target_form_id;
  std::string rule_id;
  bool enable_default_rule = false;
  bool draft_when_save_fail = false;
  std::string target_bill_type_id;
  int64_t target_org_id = 0;
  std::string custom_params = "{}";
  std::string on_change;  // report | quarantine
  size_t batch_rows = 0;
  transform::MappingSpec mapping;  // one column: "number"
};

const config::OptionTable<PushOptions>& PushOptionTable() {
  using O = PushOptions;
  static const config::OptionTable<O> kTable =
      config::OptionTable<O>()
          .Custom("numbers", config::OptionType::kString, true, "",
                  "template giving the source bill number, e.g. {{单据编号}}",
                  [](const config::OptionReader& r, O* o) {
                    o->mapping.columns = {{"number", r.String("numbers")}};
                    o->mapping.where = r.String("where");
                    return Status::Ok();
                  })
          .Str("form_id", &O::form_id, "CN_PAYAPPLY", "source form")
          .Str("target_form_id", &O::target_form_id, "AP_PAYBILL", "target form")
          .Str("rule_id", &O::rule_id, "", "conversion rule, e.g. CN_PAYAPPLYTOPAYBILL")
          .Flag("is_enable_default_rule", &O::enable_default_rule, false, "use the default rule")
          .Flag("is_draft_when_save_fail", &O::draft_when_save_fail, false,
                "keep failed targets as drafts (without a number)")
          .Str("target_bill_type_id", &O::target_bill_type_id, "", "TargetBillTypeId")
          .Int("target_org_id", &O::target_org_id, 0, 0, INT64_MAX, "TargetOrgId")
          .Custom("custom_params", config::OptionType::kObject, false, "{}",
                  "passed to conversion plugins",
                  [](const config::OptionReader& r, O* o) {
                    if (const json::Value* cp = r.Get("custom_params")) {
                      o->custom_params = json::Serialize(*cp);
                    }
                    return Status::Ok();
                  })
          .OneOf("on_change", &O::on_change, "report", {"report", "quarantine"},
                 "what a change after the push does")
          .Custom("where", config::OptionType::kString, false, "",
                  "records to push (e.g. approved only)", nullptr)
          .Int("batch_rows", &O::batch_rows, 20, 1, 200, "bills per push call")
          .Check([](const config::OptionReader& r, O* o) -> Status {
            if (o->rule_id.empty() && !o->enable_default_rule) {
              return InvalidArgument(r.path() +
                                     ": set rule_id (e.g. CN_PAYAPPLYTOPAYBILL) or "
                                     "is_enable_default_rule: true");
            }
            return Status::Ok();
          });
  return kTable;
}

Result<PushOptions> ReadPush(const config::PipelineConfig& p, const config::SinkConfig& s) {
  PushOptions base;
  base.mapping.lookups = p.lookups;
  base.mapping.time_zone = p.time_zone;
  base.mapping.path = s.path;
  return PushOptionTable().Read(s.options, s.path, std::move(base));
}

// The Result.<which> status object of a Push answer, or nullptr.
const json::Value* ResponseStatus(const json::Value& body, const char* which = "ResponseStatus") {
  const json::Value* result = body.Find("Result");
  return result ? result->Find(which) : nullptr;
}

std::string SqlString(const std::string& s) {  // for FilterString literals
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else
      out.push_back(c);
  }
  return out + "'";
}

class PushTarget final : public Target {
 public:
  PushTarget(std::string path, PushOptions o, transform::Mapping mapping,
             std::shared_ptr<connectors::kingdee::KingdeeClient> api)
      : path_(std::move(path)),
        o_(std::move(o)),
        mapping_(std::move(mapping)),
        api_(std::move(api)) {}

  Status Prepare(const stage::StagedRecord& r, std::string* payload,
                 transform::MapVerdict* verdict) override {
    auto v = json::Parse(r.raw);
    if (!v.ok()) return v.status();
    std::vector<transform::MappedRow> rows;
    SS_RETURN_IF_ERROR(mapping_.Map(*v, &rows, verdict));
    if (verdict->filtered || rows.empty()) return Status::Ok();
    const auto& number = rows[0].cells[0];
    if (!number || number->empty()) {
      return InvalidArgument("numbers: the request has no " + o_.form_id + " bill number");
    }
    *payload = *number;
    return Status::Ok();
  }

  std::vector<CreateResult> Create(const std::vector<TargetItem>& items) override {
    std::string numbers;
    for (const auto& item : items) {
      numbers += (numbers.empty() ? "" : ",") + json::Quote(item.payload);
    }
    std::string data = fmt::format(
        "{{\"Numbers\":[{}],\"RuleId\":{},\"IsEnableDefaultRule\":{},\"TargetFormId\":{},"
        "\"IsDraftWhenSaveFail\":{},\"CustomParams\":{}",
        numbers, json::Quote(o_.rule_id), o_.enable_default_rule ? "true" : "false",
        json::Quote(o_.target_form_id), o_.draft_when_save_fail ? "true" : "false",
        o_.custom_params);
    if (!o_.target_bill_type_id.empty()) {
      data += ",\"TargetBillTypeId\":" + json::Quote(o_.target_bill_type_id);
    }
    if (o_.target_org_id > 0) data += ",\"TargetOrgId\":" + std::to_string(o_.target_org_id);
    data += "}";
    std::string body = "{\"formid\":" + json::Quote(o_.form_id) + ",\"data\":" + data + "}";
    auto res = api_->CallForAnswer("Push", body,
                                   fmt::format("{}: push {} bill(s)", path_, items.size()), false);
    std::vector<CreateResult> out(items.size());
    if (!res.ok()) {
      for (auto& r : out) {
        r.kind = CreateResult::kUnknown;
        r.message = res.status().message();
      }
      return out;
    }
    // Conversion errors name the source bill by DIndex; then the saves. When a conversion
    // failed, the saves' DIndex may count converted bills only: don't trust them, ask Kingdee.
    std::vector<std::string> convert_error(items.size());
    bool any_convert_error = false;
    if (const json::Value* cs = ResponseStatus(*res, "ConvertResponseStatus")) {
      CollectErrors(*cs, &convert_error, &any_convert_error);
    }
    std::vector<std::string> save_error(items.size());
    bool any_save_error = false;
    std::vector<const json::Value*> success(items.size(), nullptr);
    if (const json::Value* rs = ResponseStatus(*res)) {
      CollectErrors(*rs, &save_error, &any_save_error);
      if (const json::Value* se = rs->Find("SuccessEntitys"); se && se->is_array()) {
        for (const auto& e : se->items()) {
          int64_t d = -1;
          if (const json::Value* di = e.Find("DIndex")) di->AsInt64(&d);
          if (d >= 0 && d < static_cast<int64_t>(items.size()))
            success[static_cast<size_t>(d)] = &e;
        }
      }
    }
    for (size_t i = 0; i < items.size(); ++i) {
      CreateResult& r = out[i];
      if (!convert_error[i].empty()) {
        r.kind = CreateResult::kRejected;
        r.message = "Kingdee push (conversion): " + convert_error[i];
      } else if (any_convert_error) {
        r.kind = CreateResult::kUnknown;
        r.message = "ambiguous result after a conversion error";
      } else if (!save_error[i].empty()) {
        r.kind = CreateResult::kRejected;
        r.message =
            "Kingdee push (save): " + save_error[i] +
            (o_.draft_when_save_fail ? " (a draft AP_PAYBILL without number was kept)" : "");
      } else if (success[i] != nullptr) {
        r.kind = CreateResult::kCreated;
        if (const json::Value* id = success[i]->Find("Id")) r.outcome.target_id = id->text();
        if (const json::Value* n = success[i]->Find("Number")) r.outcome.number = n->text();
      } else {
        r.kind = CreateResult::kUnknown;
        r.message = "no result for this bill in the push answer";
      }
    }
    return out;
  }

  Result<std::optional<TargetOutcome>> Lookup(const TargetItem& item) override {
    SS_ASSIGN_OR_RETURN(auto bills,
                        Bills(SourceFilter(item.payload), 0, 10,
                              "look up " + o_.target_form_id + " pushed from " + item.payload));
    if (bills.empty()) return std::optional<TargetOutcome>();
    TargetOutcome out;  // drafts count: already pushed
    out.target_id = bills[0].target_id;
    out.number = bills[0].number;
    return std::optional<TargetOutcome>(out);
  }

  std::string ObjectName() const override { return o_.target_form_id + " bill"; }
  std::string IdName() const override { return "FID"; }
  std::string SourceKey(const TargetItem& item) const override { return item.payload; }

  // Every bill pushed from the item's source bill, a page at a time (a repeated push makes more
  // than one: a double payment).
  Result<std::vector<TargetObject>> FindAll(const TargetItem& item) override {
    std::vector<TargetObject> out;
    SS_RETURN_IF_ERROR(EachPage(SourceFilter(item.payload),
                                "audit " + o_.target_form_id + " pushed from " + item.payload,
                                [&](const TargetObject& b) {
                                  out.push_back(b);
                                  return Status::Ok();
                                }));
    return out;
  }

  // Every bill on the target form whose source is the source form, FID order.
  Status ScanAll(const std::function<Status(const TargetObject&)>& fn) override {
    return EachPage("FSOURCETYPE=" + SqlString(o_.form_id),
                    "audit every " + o_.target_form_id + " pushed from " + o_.form_id, fn);
  }
  Status OnChange(const TargetItem& item, TargetOutcome* outcome) override {
    // A bill is never pushed twice: the change is recorded and reported, or quarantined.
    ++outcome->changes_reported;
    std::string msg = fmt::format(
        "{} {} was already pushed to {} {}; a later change is not "
        "pushed again",
        o_.form_id, item.payload, o_.target_form_id,
        outcome->number.empty() ? "(draft " + outcome->target_id + ")" : outcome->number);
    if (o_.on_change == "quarantine") return InvalidArgument(msg);
    return Status(StatusCode::kAlreadyExists, msg);
  }

  Status OnDelete(const std::string&, TargetOutcome*) override {
    return Status::Ok();  // payment bills are not deleted by a sync
  }

  size_t batch_records() const override { return o_.batch_rows; }
  std::string MappingHash() const override { return mapping_.hash(); }

 private:
  static constexpr int64_t kAuditPage = 500;  // rows per ExecuteBillQuery (the API allows 2000)

  std::string SourceFilter(const std::string& number) const {
    return "FSOURCETYPE=" + SqlString(o_.form_id) + " AND FSRCBILLNO=" + SqlString(number);
  }

  // One page of target bills matching `filter`, in FID order.
  Result<std::vector<TargetObject>> Bills(const std::string& filter, int64_t start, int64_t limit,
                                          const std::string& what) {
    json::Value data = json::Value::Object();
    data.Add("FormId", json::Value::String(o_.target_form_id));
    data.Add("FieldKeys",
             json::Value::String("FID,FBillNo,FDocumentStatus,FSOURCETYPE,FSRCBILLNO"));
    data.Add("FilterString", json::Value::String(filter));
    data.Add("OrderString", json::Value::String("FID ASC"));
    data.Add("StartRow", json::Value::Number(std::to_string(start)));
    data.Add("Limit", json::Value::Number(std::to_string(limit)));
    SS_ASSIGN_OR_RETURN(auto rows, api_->ExecuteBillQuery(data, path_ + ": " + what));
    std::vector<TargetObject> out;
    for (const auto& row : rows) {
      const auto& cells = row.items();
      if (cells.size() < 5) {
        return BadReply(fmt::format("{}: {}: a row with {} of the 5 fields asked for", path_, what,
                                    cells.size()));
      }
      TargetObject b;
      b.target_id = cells[0].text();
      b.number = cells[1].is_null() ? "" : cells[1].text();
      b.status = cells[2].is_null() ? "" : cells[2].text();
      b.source = cells[4].is_null() ? "" : cells[4].text();
      out.push_back(std::move(b));
    }
    return out;
  }

  // Every bill matching `filter`: StartRow += Limit until a short page.
  Status EachPage(const std::string& filter, const std::string& what,
                  const std::function<Status(const TargetObject&)>& fn) {
    for (int64_t start = 0;; start += kAuditPage) {
      SS_ASSIGN_OR_RETURN(auto page, Bills(filter, start, kAuditPage, what));
      for (const auto& b : page) SS_RETURN_IF_ERROR(fn(b));
      if (static_cast<int64_t>(page.size()) < kAuditPage) return Status::Ok();
    }
  }

  static void CollectErrors(const json::Value& status, std::vector<std::string>* out, bool* any) {
    const json::Value* errs = status.Find("Errors");
    if (errs == nullptr || !errs->is_array()) return;
    for (const auto& e : errs->items()) {
      int64_t d = -1;
      if (const json::Value* di = e.Find("DIndex")) di->AsInt64(&d);
      std::string msg;
      if (const json::Value* f = e.Find("FieldName"); f && f->is_string() && !f->text().empty()) {
        msg = f->text() + ": ";
      }
      if (const json::Value* m = e.Find("Message")) msg += m->text();
      *any = true;
      if (d >= 0 && d < static_cast<int64_t>(out->size())) {
        (*out)[static_cast<size_t>(d)] += msg;
      }
    }
  }

  const std::string path_;
  const PushOptions o_;
  transform::Mapping mapping_;
  std::shared_ptr<connectors::kingdee::KingdeeClient> api_;
};

}  // namespace

const std::vector<config::OptionSpec>& SinkOptionTable() { return PushOptionTable().specs(); }

Result<transform::MappingSpec> PushMapping(const config::PipelineConfig& p,
                                           const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(PushOptions o, ReadPush(p, s));
  return o.mapping;
}

Status CheckPushSink(const config::PipelineConfig& p, const config::SinkConfig& s) {
  SS_ASSIGN_OR_RETURN(PushOptions o, ReadPush(p, s));
  return transform::Mapping::Compile(o.mapping).status();
}

Result<std::unique_ptr<Target>> MakePushTarget(
    const config::PipelineConfig& p, const config::SinkConfig& s,
    std::shared_ptr<connectors::kingdee::KingdeeClient> api) {
  SS_ASSIGN_OR_RETURN(PushOptions o, ReadPush(p, s));
  SS_ASSIGN_OR_RETURN(transform::Mapping mapping, transform::Mapping::Compile(o.mapping));
  return std::unique_ptr<Target>(
      new PushTarget(s.path, std::move(o), std::move(mapping), std::move(api)));
}

}  // namespace stagesync::sink::kingdee
