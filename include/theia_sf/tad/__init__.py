"""Throughput anomaly detection (standard Theia's TAD): models and algorithms (pure core)."""
