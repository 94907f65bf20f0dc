// End to end for seeds 002 (Kuaimai after-sale orders) and 004 (Kingdee materials): the seed
// files as shipped, pointed at the emulators and at a real MariaDB (the ctest fixture), fetched
// into staging and applied by the MySQL sink. Every column of every row is compared with rows
// computed independently from the emulators' state; a vanished material must delete its row.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "emulators/kingdee_emulator.h"
#include "emulators/kuaimai_emulator.h"
#include "stagesync/apply.h"
#include "stagesync/fetch.h"
#include "testing/mariadb.h"
#include "testing/pipeline_test.h"
#include "testing/seed_config.h"

namespace stagesync {
namespace {

using Row = std::vector<std::optional<std::string>>;
using testing::Num;
using testing::Str;

std::string Cents(int64_t c) { return fmt::format("{}.{:02}", c / 100, c % 100); }

std::string Trimmed(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::optional<std::string> OrNull(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

class SeedsMySqlTest : public testing::PipelineTest<> {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.ok()) << "no MariaDB: is the mariadb fixture running?"; }

  void Load(const std::string& seed, const testing::SeedEdits& e) {
    PipelineTest::Load(testing::SeedConfigJson(seed, e));
  }

  std::map<std::string, Row> Table(const std::string& sql, size_t key_columns) {
    std::map<std::string, Row> out;
    auto r = db_.conn()->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    for (auto& row : r->rows) {
      std::string key;
      for (size_t i = 0; i < key_columns; ++i) key += (i ? "|" : "") + row[i].value_or("NULL");
      out[key] = row;
    }
    return out;
  }

  // `null_ok`: columns that may also be NULL (see the seed 004 test).
  void ExpectRows(const std::map<std::string, Row>& want, const std::map<std::string, Row>& got,
                  const std::vector<std::string>& names, const std::set<size_t>& null_ok = {}) {
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [key, w] : want) {
      auto it = got.find(key);
      ASSERT_NE(it, got.end()) << "missing row " << key;
      for (size_t c = 0; c < w.size(); ++c) {
        if (null_ok.contains(c) && !it->second[c].has_value()) continue;
        EXPECT_EQ(it->second[c], w[c]) << "row " << key << " column " << names[c];
      }
    }
  }

  testing::TestDatabase db_;
};

// ---- Seed 004: Kingdee materials -> wk_wodtop_product ----

// Seed 004 maps material_group and base_unit with {{FMaterialGroup.FNumber}} /
// {{FBaseUnitId.FNumber}}: labels that name a Kingdee FieldKeys column, resolved as flat keys
// of the staged row. Every column must be exact.
const std::set<size_t> kLabelColumns = {};

const std::vector<std::string> kProductColumns = {
    "data_id",        "product_number", "product_name", "product_line", "specification_model",
    "material_group", "base_unit",      "modify_date"};

std::map<std::string, Row> ExpectedProducts(const std::vector<emulators::KingdeeMaterial>& ms) {
  std::map<std::string, Row> out;
  for (const auto& m : ms) {
    if (m.use_org != "T00" || m.document_status != "C" || m.forbid_status != "A") continue;
    std::string date = m.modify_date;
    date[10] = ' ';
    out[std::to_string(m.master_id)] = {std::to_string(m.master_id),
                                        m.number,
                                        m.name,
                                        m.product_line,
                                        Trimmed(m.specification),
                                        OrNull(m.group_number),
                                        OrNull(m.base_unit),
                                        date};
  }
  return out;
}

TEST_F(SeedsMySqlTest, Seed004MaterialsLandInMariaDbAndAVanishedOneIsDeleted) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/wk_wodtop_product.sql").ok());
  emulators::KingdeeEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  emu.GenerateMaterials(1500, 40);
  auto e =
      testing::EmulatorSeedEdits("kingdee", emu.base_url(), dir_.Sub("state"), {{"qps", Num(500)}});
  e.mysql_connection = "crm";
  e.mysql_port = db_.port();
  e.mysql_database = db_.name();
  Load("004-kingdee-material.json", e);
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const std::string select =
      "SELECT data_id, product_number, product_name, product_line, specification_model, "
      "material_group, base_unit, modify_date FROM wk_wodtop_product";
  ExpectRows(ExpectedProducts(emu.Materials()), Table(select, 1), kProductColumns, kLabelColumns);
  for (const auto& m : emu.Materials()) {
    auto r = log_->Get("kingdee-material", std::to_string(m.master_id));
    ASSERT_TRUE(r.ok());
    if (!r->has_value()) continue;
    EXPECT_NE((*r)->raw.find("\"FMaterialGroup.FNumber\":\"" + m.group_number + "\""),
              std::string::npos)
        << (*r)->raw;
    EXPECT_NE((*r)->raw.find("\"FBaseUnitId.FNumber\":\"" + m.base_unit + "\""), std::string::npos);
  }

  // Upstream: two materials vanish, one is renamed.
  std::vector<int64_t> ids;
  for (const auto& m : emu.Materials()) {
    if (m.use_org == "T00" && m.document_status == "C" && m.forbid_status == "A") {
      ids.push_back(m.master_id);
    }
  }
  ASSERT_TRUE(emu.RemoveMaterial(ids[7]));
  ASSERT_TRUE(emu.RemoveMaterial(ids[700]));
  ASSERT_TRUE(emu.UpdateMaterial(ids[8], "新名字"));
  s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 3);
  ExpectRows(ExpectedProducts(emu.Materials()), Table(select, 1), kProductColumns, kLabelColumns);
  EXPECT_EQ(*db_.Scalar("SELECT COUNT(*) FROM wk_wodtop_product WHERE data_id IN (" +
                        std::to_string(ids[7]) + "," + std::to_string(ids[700]) + ")"),
            "0");
}

// ---- Seed 002: Kuaimai after-sale orders -> aftersale_list_query, one row per item ----

const std::vector<std::string> kAftersaleColumns = {"id",
                                                    "item_index",
                                                    "tid",
                                                    "sid",
                                                    "short_id",
                                                    "status",
                                                    "after_sale_type",
                                                    "refund_money",
                                                    "raw_refund_money",
                                                    "text_reason",
                                                    "created",
                                                    "finished",
                                                    "shop_name",
                                                    "source",
                                                    "good_status",
                                                    "refund_warehouse_name",
                                                    "refund_express_id",
                                                    "main_outer_id",
                                                    "outer_id",
                                                    "title",
                                                    "receivable_count",
                                                    "item_real_qty",
                                                    "price",
                                                    "payment",
                                                    "good_item_count",
                                                    "bad_item_count",
                                                    "item_type"};

std::map<std::string, Row> ExpectedAftersale(const std::vector<emulators::KuaimaiOrder>& orders) {
  std::map<std::string, Row> out;
  for (const auto& o : orders) {
    auto row = [&](int index, const emulators::KuaimaiItem* it) {
      auto n = [](int64_t v) { return std::optional<std::string>(std::to_string(v)); };
      Row r = {std::to_string(o.id),
               std::to_string(index),
               o.tid,
               n(o.sid),
               n(o.short_id),
               o.status,
               n(o.after_sale_type),
               Cents(o.refund_money_cents),
               Cents(o.raw_refund_money_cents),
               o.text_reason,
               o.created,
               o.finished_ms
                   ? std::optional<std::string>(emulators::KuaimaiFormatTime(o.finished_ms))
                   : std::nullopt,
               o.shop_name,
               o.source,
               n(o.good_status),
               o.refund_warehouse_name,
               o.refund_express_id};
      if (it == nullptr) {
        for (int k = 0; k < 10; ++k) r.push_back(std::nullopt);
      } else {
        r.insert(r.end(), {it->main_outer_id, it->outer_id, it->title, n(it->receivable_count),
                           n(it->item_real_qty), Cents(it->price_cents), Cents(it->payment_cents),
                           n(it->good_item_count), n(it->bad_item_count), n(it->type)});
      }
      out[std::to_string(o.id) + "|" + std::to_string(index)] = r;
    };
    if (o.items.empty()) row(0, nullptr);
    for (size_t i = 0; i < o.items.size(); ++i) row(static_cast<int>(i + 1), &o.items[i]);
  }
  return out;
}

TEST_F(SeedsMySqlTest, Seed002AftersaleOrdersLandInMariaDbOneRowPerItem) {
  ASSERT_TRUE(db_.Source(STAGESYNC_SOURCE_DIR "/conf/sql/aftersale_list_query.sql").ok());
  emulators::KuaimaiEmulator emu;
  ASSERT_TRUE(emu.Start(0));
  const int64_t now = Clock::Real()->NowMillis();
  emu.Generate(300, now - 5 * kDayMs, now - kHourMs, 41);
  emu.AdvanceClockMs(-5000);  // upstream edits land safely inside the next window
  auto e =
      testing::EmulatorSeedEdits("kuaimai", emu.base_url(), dir_.Sub("state"), {{"qps", Num(500)}});
  e.source = {{"initial_lookback_days", Num(6)}, {"lag_s", Num(0)}};
  e.mysql_connection = "bi";
  e.mysql_port = db_.port();
  e.mysql_database = db_.name();
  Load("002-kuaimai-aftersale.json", e);
  auto s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 300);
  const std::string select = "SELECT " + [] {
    std::string cols;
    for (const auto& c : kAftersaleColumns) cols += (cols.empty() ? "" : ", ") + c;
    return cols;
  }() + " FROM aftersale_list_query";
  ExpectRows(ExpectedAftersale(emu.Orders()), Table(select, 2), kAftersaleColumns);

  auto orders = emu.Orders();
  ASSERT_TRUE(emu.Modify(orders[3].id));
  ASSERT_TRUE(emu.Modify(orders[100].id));
  s = Sync();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->applied, 2);
  ExpectRows(ExpectedAftersale(emu.Orders()), Table(select, 2), kAftersaleColumns);
}

}  // namespace
}  // namespace stagesync
