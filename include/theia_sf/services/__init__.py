"""Core services: one entry point per job, callable without Airflow."""
