DROP PIPE IF EXISTS {{ pipe | ident }}
