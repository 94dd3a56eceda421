"""Fixtures for the DAG tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def dag(request):
    """The DAG of the test module's ``DAG_FILE``, parsed alone."""
    pytest.importorskip("airflow")
    from dagtest import load_dag

    return load_dag(request.module.DAG_FILE.stem)
