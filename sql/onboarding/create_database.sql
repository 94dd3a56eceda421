-- The stack's database and its THEIA schema (names are identifiers; DDL takes no binds).
CREATE DATABASE IF NOT EXISTS {{ database | ident }} COMMENT = {{ comment | comment }};
CREATE SCHEMA IF NOT EXISTS {{ schema | ident }} COMMENT = {{ comment | comment }}
