-- Bookkeeping of applied forward migrations (sql/migrations/NNNNNN_<desc>.up.sql).
CREATE TABLE IF NOT EXISTS SCHEMA_MIGRATIONS (
    version NUMBER(20,0) NOT NULL PRIMARY KEY,
    description STRING(256),
    appliedAt TIMESTAMP_TZ DEFAULT CURRENT_TIMESTAMP()
);
