DROP WAREHOUSE IF EXISTS {{ name | ident }}
