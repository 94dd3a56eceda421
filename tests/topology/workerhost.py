"""``[core] hostname_callable`` of the topology's Celery workers.

The two workers stand for two machines but share this one, so each reports the name it was
started with (``THEIA_TOPOLOGY_WORKER``) as its host name: Airflow records it on every task
instance the worker runs, where the REST API shows it.
"""

from __future__ import annotations

import os


def hostname() -> str:
    return os.environ["THEIA_TOPOLOGY_WORKER"]
