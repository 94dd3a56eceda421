DROP TASK IF EXISTS {{ task | ident }}
