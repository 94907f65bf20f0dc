-- Seed 000: DingTalk payment requests (付款申请单) for BI, one row per 费用明细 detail row.
-- The seed's 23 columns, plus detail_index so that a flattened request has a stable row key.
CREATE TABLE IF NOT EXISTS payment_application_info (
  bfn_id                 VARCHAR(64)   NOT NULL COMMENT 'DingTalk process_instance_id',
  detail_index           INT           NOT NULL DEFAULT 0 COMMENT '费用明细 row, 1-based (0 = none)',
  department             VARCHAR(64)   NULL COMMENT '所属部门',
  purpose                VARCHAR(255)  NULL COMMENT '用途',
  estimated_payment_date DATE          NULL COMMENT '预计付款日期',
  total_amount           DECIMAL(18,2) NULL COMMENT '总额',
  payment_method         VARCHAR(32)   NULL COMMENT '付款方式',
  payee_name             VARCHAR(64)   NULL COMMENT '收款人姓名',
  payee_account          VARCHAR(64)   NULL COMMENT '收款账号',
  payee_bank             VARCHAR(128)  NULL COMMENT '开户行',
  actual_payment_amount  DECIMAL(18,2) NULL COMMENT '实际付款金额',
  details_of_purpose     TEXT          NULL COMMENT '用途说明',
  other_expenses         DECIMAL(18,2) NULL COMMENT '其他费用',
  amount                 DECIMAL(18,2) NULL COMMENT '费用明细.金额',
  corresponding_subjects VARCHAR(64)   NULL COMMENT '费用明细.对应科目',
  create_time            DATETIME      NULL,
  finish_time            DATETIME      NULL,
  originator_userid      VARCHAR(64)   NULL,
  originator_dept_id     VARCHAR(64)   NULL,
  status                 VARCHAR(16)   NULL,
  result                 VARCHAR(16)   NULL,
  business_id            VARCHAR(64)   NULL,
  originator_dept_name   VARCHAR(64)   NULL,
  biz_action             VARCHAR(16)   NULL,
  PRIMARY KEY (bfn_id, detail_index)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
