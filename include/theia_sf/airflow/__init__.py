"""Airflow glue: turns Airflow connections into adapters, hosts Params and defaults.

The only part of ``theia_sf`` that imports Airflow.
"""
