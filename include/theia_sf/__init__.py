"""Theia flow analytics core (no Airflow imports)."""
