DROP STAGE IF EXISTS {{ stage | ident }}
