DROP INTEGRATION IF EXISTS {{ name | ident }}
