"""Retry a database write across a connection blip (a PostgreSQL restart, a dropped socket).

The runner's writes (claim, progress and log tail, heartbeat, the final status) go through
:func:`retry_db`: on ``OperationalError``/``InterfaceError`` it closes the broken connection, waits
with exponential backoff and tries again, for at most ``JOB_DB_RETRY_SECONDS``; then the last error
propagates. Only for autocommit writes: inside ``atomic()`` a broken connection cannot be replaced.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
T = TypeVar("T")

CONNECTION_ERRORS = (OperationalError, InterfaceError)


def retry_db(write: Callable[[], T], *, what: str, within: float | None = None, first_wait: float = 0.2,
             max_wait: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``write()`` until it succeeds or ``within`` seconds (``JOB_DB_RETRY_SECONDS``) have passed."""
    budget = settings.JOB_DB_RETRY_SECONDS if within is None else within
    deadline = time.monotonic() + budget
    wait, attempt = first_wait, 1
    while True:
        try:
            return write()
        except CONNECTION_ERRORS as exc:
            if connection.in_atomic_block:
                raise
            _drop_connection()
            left = deadline - time.monotonic()
            if left <= 0:
                logger.error("%s failed after %d attempts over %.0f s: %s", what, attempt, budget, exc)
                raise
            logger.warning("%s: database unavailable (%s); retry %d in %.1f s", what, str(exc).strip(), attempt, min(wait, left))
            sleep(min(wait, left))
            wait, attempt = min(wait * 2, max_wait), attempt + 1


def _drop_connection() -> None:
    """Throw away this thread's connection; the next query opens a fresh one."""
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - closing a dead socket may fail too; the object is reset anyway
        connection.connection = None
