-- Seed 004: Kingdee materials (BD_MATERIAL) in the CRM's product table.
CREATE TABLE IF NOT EXISTS wk_wodtop_product (
  data_id             BIGINT        NOT NULL COMMENT 'FMasterId',
  product_number      VARCHAR(64)   NULL COMMENT 'FNumber',
  product_name        VARCHAR(255)  NULL COMMENT 'FName',
  product_line        VARCHAR(128)  NULL COMMENT 'F_ProductLine',
  specification_model VARCHAR(255)  NULL COMMENT 'trim(FSpecification)',
  material_group      VARCHAR(64)   NULL,
  base_unit           VARCHAR(32)   NULL,
  modify_date         DATETIME      NULL,
  PRIMARY KEY (data_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
