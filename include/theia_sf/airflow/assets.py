"""Assets the DAGs produce, so downstream DAGs can be scheduled on them."""

from __future__ import annotations

from airflow.sdk import Asset

# Updated when new flow rows land in the warehouse's FLOWS table.
FLOWS = Asset(name="theia_flows", uri="x-theia://warehouse/FLOWS", group="theia")
