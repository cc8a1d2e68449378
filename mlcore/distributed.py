"""Multi-device training: one process per device, DistributedDataParallel around the one trainer loop.

:func:`fit_distributed` is called by a pipeline instead of :func:`mlcore.trainer.fit` when a job asks
for ``devices > 1``. It writes a spec (the freshly built model, the training and validation sources,
the loss, the evaluation and the config, pickled) to ``workdir/ddp/`` and starts ``devices`` fresh
interpreters (``python -m mlcore.distributed SPEC RANK``, not forks of the worker: no inherited
CUDA or Celery state). Each rank:

- joins a process group on a free loopback port (NCCL on CUDA, one GPU per rank; Gloo on CPU) with a
  collective timeout (``timeout_s``), so a rank whose peer vanished raises instead of waiting forever;
- wraps the model in DistributedDataParallel (gradients all-reduced, i.e. averaged, every step) and
  reads its own shard of the training rows (:class:`ShardedSource`); the per-rank batch is
  ``ceil(batch_size / devices)`` so one step still consumes about ``batch_size`` rows in all;
- runs :func:`mlcore.trainer.fit` unchanged, with validation done once, by rank 0 on the plain model
  (the same code a one-process run uses), and the metrics broadcast to the other ranks, so early
  stopping and the LR schedule agree everywhere. That broadcast is also the barrier before rank 0
  writes the epoch checkpoint (only rank 0 writes; every rank resumes from it).

The parent (the job's worker process) watches its children: rank 0's progress and log lines arrive
through an events file and go to the job's callbacks; ``check_cancelled()`` runs in the parent and a
cancel terminates every rank; a rank that exits non-zero (an exception, SIGKILL, out of memory) makes
the parent stop the others and raise :class:`DistributedError` naming the rank and its last log
lines. Ranks also exit when their parent disappears. On success rank 0's best weights are loaded into
the caller's model, and throughput is reported per rank and in total.
"""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from .batching import BatchSource, TensorTable, as_source, take
from .trainer import FitResult, TrainConfig, fit

DEFAULT_TIMEOUT_S = 600.0
PIECE_ROWS = 32_768
BUFFER_PIECES = 8


class DistributedError(RuntimeError):
    """A rank of a multi-device run failed; the message says which one and how."""


@dataclass
class DistributedFit:
    """What a multi-device run hands back: rank 0's fit result (``samples_per_second`` is the total over
    ranks) and each rank's own training throughput."""

    result: FitResult
    devices: int
    samples_per_s_per_rank: list[float] = field(default_factory=list)


def check_devices(devices: int, device_type: str, *, max_devices: int | None = None) -> None:
    """Raise ``ValueError`` when ``devices`` cannot run here: below 1, above ``max_devices``, or more
    GPUs than this machine shows on a CUDA run (on CPU, ``devices`` is a number of processes)."""
    if devices < 1:
        raise ValueError("must be at least 1")
    if max_devices is not None and devices > max_devices:
        raise ValueError(f"at most {max_devices} devices per job on this installation (JOB_MAX_DEVICES)")
    if device_type == "cuda" and devices > torch.cuda.device_count():
        raise ValueError(f"this worker shows {torch.cuda.device_count()} GPU(s); the job asks for {devices}")


# ------------------------------------------------------------------------------------------------
# Sharding the training rows


def shard_plan(n_rows: int, world: int, piece_rows: int = PIECE_ROWS) -> np.ndarray:
    """Boundaries of the pieces the rows are cut into: contiguous, sizes differing by at most one,
    a multiple of ``world`` of them (so every rank gets as many pieces) and none empty."""
    if n_rows < world:
        raise ValueError(f"{n_rows} training rows cannot be shared by {world} devices")
    pieces = max(world, -(-n_rows // max(1, piece_rows)))
    pieces = min(-(-pieces // world) * world, n_rows // world * world)
    return np.floor(np.linspace(0, n_rows, pieces + 1)).astype(np.int64)


class ShardedSource:
    """Rank ``rank``'s share of a training :class:`BatchSource`, as a ``BatchSource`` itself.

    Each epoch (each ``iter_batches`` call) draws one seed from the trainer's generator, which every
    rank holds in the same state, and from it the order of the pieces of :func:`shard_plan`; rank
    ``r`` takes pieces ``order[r::world]``, so the ranks' rows are disjoint and together cover every
    row exactly once per epoch. Within its share a rank shuffles like the store does (``buffer_pieces``
    pieces read at a time, rows permuted with a rank-specific generator). Every rank yields the same
    number of batches, the same every epoch (the smallest possible share divided by ``batch_size``,
    rounded up; larger shares make batches a row or so bigger), so the ranks' all-reduces pair up and
    no rank waits at an epoch's end.
    ``on_batch(rank, epoch, batch)`` is a test hook called before each batch is yielded (epochs count
    from 1 in each process).
    """

    def __init__(self, source: BatchSource | TensorTable, rank: int, world: int, *, piece_rows: int | None = None,
                 buffer_pieces: int | None = None, on_batch: Callable[[int, int, TensorTable], None] | None = None):
        self.source = as_source(source)
        self.rank, self.world = rank, world
        self.piece_rows = piece_rows or getattr(self.source, "chunk_rows", PIECE_ROWS)
        self.buffer_pieces = buffer_pieces or getattr(self.source, "buffer_chunks", BUFFER_PIECES)
        self.on_batch = on_batch
        self.epoch = 0
        self.bounds = shard_plan(len(self.source), world, self.piece_rows)
        sizes = np.sort(np.diff(self.bounds))
        self.min_share = int(sizes[:len(sizes) // world].sum())  # no rank's share is ever smaller

    def __len__(self) -> int:
        """The smallest share's rows: ``ceil(len / batch_size)`` is the number of batches every rank yields."""
        return self.min_share

    def __contains__(self, key: str) -> bool:
        return key in self.source

    def column(self, key: str) -> np.ndarray:
        return self.source.column(key)

    def head(self, n: int) -> TensorTable:
        return self.source.head(n)

    def _read(self, start: int, stop: int) -> TensorTable:
        if hasattr(self.source, "read"):  # mlcore.store.StoreSplit: positioned reads from disk
            return self.source.read(start, stop)
        return {k: v[start:stop] for k, v in self.source.table.items()}  # TensorSource

    def pieces(self, epoch_seed: int) -> list[list[int]]:
        """Every rank's piece indices for the epoch drawn from ``epoch_seed``."""
        order = torch.randperm(len(self.bounds) - 1, generator=torch.Generator().manual_seed(epoch_seed)).tolist()
        return [order[r::self.world] for r in range(self.world)]

    def iter_batches(self, batch_size: int, *, shuffle: bool,
                     generator: torch.Generator | None = None) -> Iterator[TensorTable]:
        if not shuffle:
            raise ValueError("a shard is for training; evaluate on the whole split")
        epoch_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        self.epoch += 1
        shares = self.pieces(epoch_seed)
        mine = shares[self.rank]
        steps = max(1, -(-self.min_share // batch_size))
        n_mine = int(sum(self.bounds[i + 1] - self.bounds[i] for i in mine))
        batch_sizes = [len(part) for part in np.array_split(np.arange(n_mine), steps)]
        local = torch.Generator().manual_seed(epoch_seed + 1 + self.rank)
        leftover: TensorTable | None = None
        k = 0
        for first in range(0, len(mine), self.buffer_pieces):
            parts = [self._read(int(self.bounds[i]), int(self.bounds[i + 1])) for i in mine[first:first + self.buffer_pieces]]
            if leftover is not None:
                parts.insert(0, leftover)
            buffer = {key: torch.cat([p[key] for p in parts]) for key in parts[0]}
            del parts  # one buffer at a time, not the pieces it was built from
            size = len(next(iter(buffer.values())))
            perm = torch.randperm(size, generator=local)
            pos = 0
            while k < steps and pos + batch_sizes[k] <= size:
                batch = take(buffer, perm[pos:pos + batch_sizes[k]])
                pos += batch_sizes[k]
                k += 1
                if self.on_batch is not None:
                    self.on_batch(self.rank, self.epoch, batch)
                yield batch
            leftover = take(buffer, perm[pos:]) if pos < size else None
            del buffer, perm
        if k != steps or leftover is not None:  # pragma: no cover - a planning error, never data-dependent
            raise RuntimeError(f"rank {self.rank} cut {k} of {steps} batches")


# ------------------------------------------------------------------------------------------------
# One rank


class _DDP(nn.parallel.DistributedDataParallel):
    """DDP that lets the loss read the wrapped net's attributes (``aux_loss``, ``embedding_regularizer``)
    and saves and loads the wrapped net's own state dict, so a checkpoint is the same file whether one
    process or several wrote it (a job may resume on another number of devices)."""

    def state_dict(self, *args, **kwargs):
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module":
                raise
            return getattr(self.module, name)


class _RankZeroEvaluate:
    """Evaluate once, on rank 0 with the plain net, and hand every rank the same metrics."""

    def __init__(self, evaluate: Callable[[nn.Module, Any], dict[str, float]], rank: int):
        self.evaluate, self.rank = evaluate, rank

    def __call__(self, model: nn.Module, valid) -> dict[str, float]:
        import torch.distributed as dist

        box = [self.evaluate(model.module, valid) if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


class _Events:
    """Rank 0's progress and log lines as JSON lines in a file the parent tails (progress throttled)."""

    def __init__(self, path: Path):
        self.handle = open(path, "a", buffering=1)
        self.last = 0.0

    def progress(self, fraction: float, phase: str) -> None:
        now = time.monotonic()
        if now - self.last >= 0.2 or fraction >= 1.0:
            self.last = now
            self.handle.write(json.dumps({"progress": fraction, "phase": phase}) + "\n")

    def log(self, message: str) -> None:
        self.handle.write(json.dumps({"log": message}) + "\n")


def _exit_with_parent(parent: int) -> None:
    """A rank whose parent (the worker's job process) died must not train on alone."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(1.0)

    threading.Thread(target=watch, name="ddp-parent-watch", daemon=True).start()


def run_rank(spec_path: Path, rank: int) -> None:
    """The body of one rank's process (see the module docstring)."""
    import torch.distributed as dist

    spec = torch.load(spec_path, map_location="cpu", weights_only=False)
    _exit_with_parent(spec["parent_pid"])
    world = spec["world"]
    torch.set_num_threads(spec["threads"])
    if spec["device_type"] == "cuda":
        torch.cuda.set_device(rank)
        device, backend = torch.device("cuda", rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{spec['port']}", rank=rank, world_size=world,
                            timeout=timedelta(seconds=spec["timeout_s"]))
    try:
        model = spec["model"].to(device)
        ddp = _DDP(model, device_ids=[rank] if device.type == "cuda" else None, find_unused_parameters=True)
        train = ShardedSource(spec["train"], rank, world, piece_rows=spec["piece_rows"], on_batch=spec["batch_hook"])
        config: TrainConfig = replace(spec["config"], batch_size=max(1, math.ceil(spec["config"].batch_size / world)))
        events = _Events(Path(spec["folder"]) / "events.jsonl") if rank == 0 else None
        result = fit(ddp, train, spec["valid"], loss_fn=spec["loss_fn"], evaluate=_RankZeroEvaluate(spec["evaluate"], rank),
                     config=config, device=device, workdir=spec["workdir"],
                     progress=events.progress if events else None, log=events.log if events else None,
                     write_checkpoint=rank == 0)
        folder = Path(spec["folder"])
        (folder / f"rank{rank}.json").write_text(json.dumps({"samples_per_second": result.samples_per_second}))
        if rank == 0:
            tmp = folder / "result.pt.tmp"
            torch.save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "result": result}, tmp)
            os.replace(tmp, folder / "result.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


# ------------------------------------------------------------------------------------------------
# The parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def fit_distributed(model: nn.Module, train: BatchSource | TensorTable, valid: BatchSource | TensorTable, *,
                    loss_fn: Callable, evaluate: Callable, config: TrainConfig, devices: int, device_type: str = "cpu",
                    workdir: Path, progress=None, log=None, check_cancelled=None, timeout_s: float = DEFAULT_TIMEOUT_S,
                    threads: int | None = None, piece_rows: int | None = None, batch_hook=None,
                    poll_s: float = 0.1) -> DistributedFit:
    """Train ``model`` on ``devices`` processes (see the module docstring) and load the best weights into it.

    ``loss_fn``, ``evaluate``, ``train``, ``valid``, ``batch_hook`` and the model must pickle (module-level
    functions, callable objects, :class:`mlcore.store.StoreSplit` or tensors). ``threads`` is each rank's
    ``torch.set_num_threads`` (default: this process's threads shared out). Raises
    :class:`mlcore.api.Cancelled` after stopping every rank when ``check_cancelled`` raises it, and
    :class:`DistributedError` when a rank fails.
    """
    progress = progress or (lambda fraction, phase: None)
    log = log or (lambda message: None)
    check_cancelled = check_cancelled or (lambda: None)
    folder = Path(workdir) / "ddp"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    threads = threads or max(1, torch.get_num_threads() // devices)
    spec_path = folder / "spec.pt"
    torch.save({"model": model.cpu(), "train": train, "valid": valid, "loss_fn": loss_fn, "evaluate": evaluate,
                "config": config, "world": devices, "device_type": device_type, "port": free_port(),
                "timeout_s": float(timeout_s), "threads": threads, "workdir": Path(workdir), "folder": str(folder),
                "piece_rows": piece_rows, "batch_hook": batch_hook, "parent_pid": os.getpid()}, spec_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path), OMP_NUM_THREADS=str(threads),
               TORCH_THREADS=str(threads))
    log(f"training on {devices} {'GPUs' if device_type == 'cuda' else 'CPU processes'} "
        f"(DistributedDataParallel, {'NCCL' if device_type == 'cuda' else 'Gloo'}), "
        f"{math.ceil(config.batch_size / devices)} rows per device per step")
    procs: list[subprocess.Popen] = []
    logs = [folder / f"rank{r}.log" for r in range(devices)]
    events, offset = folder / "events.jsonl", 0
    try:
        for rank in range(devices):
            with open(logs[rank], "wb") as out:
                procs.append(subprocess.Popen([sys.executable, "-m", "mlcore.distributed", str(spec_path), str(rank)],
                                              env=env, stdout=out, stderr=subprocess.STDOUT))
        while True:
            offset = _pump(events, offset, progress, log)
            check_cancelled()
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, code = failed[0]
                tail = _tail(logs[rank])
                raise DistributedError(f"rank {rank} of {devices} {_describe_exit(code)}; the other ranks were stopped"
                                       + (f". Its last output:\n{tail}" if tail else ""))
            if all(c == 0 for c in codes):
                break
            time.sleep(poll_s)
        _pump(events, offset, progress, log)
    finally:
        _stop(procs)
        spec_path.unlink(missing_ok=True)
    state = torch.load(folder / "result.pt", map_location="cpu", weights_only=False)
    model.load_state_dict(state["state_dict"])
    result: FitResult = state["result"]
    per_rank = [json.loads((folder / f"rank{r}.json").read_text())["samples_per_second"] for r in range(devices)]
    result.samples_per_second = float(sum(per_rank))
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return DistributedFit(result=result, devices=devices, samples_per_s_per_rank=per_rank)


def _pump(path: Path, offset: int, progress, log) -> int:
    """Forward the complete new lines of rank 0's events file; return the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    end = data.rfind(b"\n") + 1
    for line in data[:end].splitlines():
        event = json.loads(line)
        if "log" in event:
            log(event["log"])
        else:
            progress(event["progress"], event["phase"])
    return offset + end


def _stop(procs: list[subprocess.Popen], grace_s: float = 5.0) -> None:
    """Terminate the ranks still running, then kill those that ignore it; reap them all."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    run_rank(Path(sys.argv[1]), int(sys.argv[2]))
