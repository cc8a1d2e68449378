"""Training-time limit shared by the scale benches: cut an epoch after S seconds of training."""
from __future__ import annotations

import time

from mlcore.api import Cancelled


class EpochClock:
    """``progress`` and ``check_cancelled`` callbacks for a :class:`~mlcore.api.RunContext` that
    note when training starts and how far it got, and cancel it ``time_limit`` seconds after the
    first epoch began (0 = never)."""

    def __init__(self, time_limit: float = 0.0):
        self.time_limit = time_limit
        self.training: dict[str, float] = {}

    def progress(self, fraction: float, phase: str) -> None:
        if phase.startswith("epoch"):
            self.training.setdefault("start", time.perf_counter())
            self.training["fraction"], self.training["now"] = fraction, time.perf_counter()

    def check_cancelled(self) -> None:
        start = self.training.get("start")
        if self.time_limit and start is not None and time.perf_counter() - start > self.time_limit:
            raise Cancelled()
