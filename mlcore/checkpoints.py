"""Tell whoever runs the training that an epoch checkpoint was written (e.g. to copy it off the host).

The trainer calls :func:`written` after each atomic checkpoint write; a runner wraps the training in
``with on_written(callback):``. A context variable, not a global, so concurrent runs in one process
(threads) never see each other's callback, and code with no runner around it pays nothing.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Callable, Iterator

_callback: ContextVar[Callable[[Path], None] | None] = ContextVar("checkpoint_callback", default=None)


@contextmanager
def on_written(callback: Callable[[Path], None]) -> Iterator[None]:
    """Call ``callback(path)`` after every checkpoint written inside this block."""
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)


def written(path: Path) -> None:
    """Report a finished checkpoint file to the callback of the enclosing :func:`on_written`, if any."""
    callback = _callback.get()
    if callback is not None:
        callback(path)
