"""A step-by-step algorithm for fault tests, importable by real worker processes (``celery --include``).

Each step logs a line, reports progress and sleeps; every ``checkpoint_every`` steps it writes a
checkpoint through the trainer's own atomic writer (free-space check, temp file + rename), whose
size is ``checkpoint_mb``, and a re-run resumes after the last checkpointed step.
"""
from __future__ import annotations

import time

import torch

from jobs import registry
from mlcore.api import Algorithm, Param, RunResult
from mlcore.trainer import _save_atomic


def _run(ctx):
    checkpoint = ctx.workdir / "checkpoint.pt"
    start = 0
    if checkpoint.exists():
        start = torch.load(checkpoint, weights_only=False)["step"]
        ctx.log(f"resumed from step {start}")
    steps = ctx.params["steps"]
    for step in range(start + 1, steps + 1):
        ctx.check_cancelled()
        time.sleep(ctx.params["sleep"])
        ctx.log(f"step {step}")
        ctx.progress(step / steps, f"step {step}/{steps}")
        if ctx.params["checkpoint_every"] and step % ctx.params["checkpoint_every"] == 0:
            blob = torch.zeros(int(ctx.params["checkpoint_mb"] * 2**20 / 4))
            _save_atomic(checkpoint, {"step": step, "blob": blob})
    return RunResult(metrics={"steps": float(steps), "resumed_from": float(start)})


STEPS = Algorithm(
    key="test_steps", kind="ctr", label="Steps (fault tests)", description="Sleeps, logs and checkpoints.",
    params=(Param("steps", "int", 5, min=1, max=1000), Param("sleep", "float", 0.3, min=0, max=5),
            Param("checkpoint_every", "int", 0, min=0, max=1000), Param("checkpoint_mb", "float", 0.01, min=0, max=64)),
    run=_run,
)

registry.register(STEPS)
