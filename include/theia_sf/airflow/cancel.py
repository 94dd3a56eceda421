"""Stop a task's warehouse statements when Airflow ends the task.

Airflow ends a task past its ``execution_timeout`` with SIGALRM and a task marked failed (or
on a stopping worker) with SIGTERM. Python runs signal handlers only between bytecodes of the
main thread, so a statement running inside DuckDB, or one Snowflake is still executing, would
go on until it returns (and on Snowflake after the process is gone). The C-level handler
writes each signal's number to the wakeup file descriptor at once, though: a watcher thread
reading it cancels every statement in flight (DuckDB ``interrupt()``, Snowflake
``SYSTEM$CANCEL_ALL_QUERIES`` for the session), and the task then fails with Airflow's own
error. Installed by every task's ``on_execute_callback`` (``DEFAULT_ARGS``), once per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)

ENDING_SIGNALS = frozenset({signal.SIGALRM, signal.SIGTERM, signal.SIGINT})
_installed = threading.Lock()
_done = False


def _watch(read_fd: int, previous_fd: int) -> None:
    from theia_sf.warehouse import IN_FLIGHT

    while True:
        data = os.read(read_fd, 64)
        if not data:
            return
        if previous_fd >= 0:  # whoever watched before still hears every signal
            with contextlib.suppress(OSError):
                os.write(previous_fd, data)
        if any(signum in ENDING_SIGNALS for signum in data):
            count = IN_FLIGHT.cancel_all()
            if count:
                log.warning("the task is being ended: cancelled %d running statement(s)", count)


def cancel_statements_when_ended(context: Any = None) -> bool:
    """Start the watcher (an ``on_execute_callback``); True when it runs in this process."""
    global _done
    if threading.current_thread() is not threading.main_thread():
        return False  # set_wakeup_fd is main-thread only; Airflow runs tasks there
    with _installed:
        if _done:
            return True
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        threading.Thread(
            target=_watch, args=(read_fd, previous), name="theia-cancel-on-end", daemon=True
        ).start()
        _done = True
    return True
