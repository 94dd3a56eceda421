-- The temporary X-Small warehouse that runs the migrations when no warehouse is given.
CREATE WAREHOUSE IF NOT EXISTS {{ name | ident }} WITH
    WAREHOUSE_SIZE = XSMALL
    AUTO_SUSPEND = 60
    INITIALLY_SUSPENDED = TRUE
