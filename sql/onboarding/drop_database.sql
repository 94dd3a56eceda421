-- Drops the schema, FLOWS, the views and the stage with it.
DROP DATABASE IF EXISTS {{ database | ident }}
