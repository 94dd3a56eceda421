"""The data behind the Theia page in the Airflow UI, read through the warehouse port.

:mod:`theia_sf.ui.views` runs the reduced queries of ``sql/ui/`` in short read-only
sessions (so the page works on DuckDB and Snowflake and never holds the DuckDB file);
:mod:`theia_sf.ui.app` serves them and the page itself as a FastAPI application, to which the
Airflow plugin adds authentication.
"""

from __future__ import annotations
