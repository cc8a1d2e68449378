"""Multi-device training (mlcore/distributed.py): row shards, DDP on 2 CPU processes (Gloo), cancel, a killed rank.

The multi-process tests start fresh interpreters (one per rank), so they are marked ``slow``. The
model, loss, evaluation and test hook live at module level: the ranks unpickle them by reference.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mlcore.api import Cancelled
from mlcore.batching import TensorSource
from mlcore.distributed import DistributedError, ShardedSource, check_devices, fit_distributed, shard_plan
from mlcore.metrics import auc
from mlcore.store import StoreWriter
from mlcore.trainer import TrainConfig, fit, predict


class TinyNet(nn.Module):
    """One embedding per category plus a linear term on two numbers (the row id is never read)."""

    def __init__(self, n_cats: int = 20):
        super().__init__()
        self.emb = nn.Embedding(n_cats, 1)
        self.lin = nn.Linear(2, 1)

    def forward(self, batch):
        return self.emb(batch["cat"]).squeeze(-1) + self.lin(batch["num"]).squeeze(-1)


def bce(model, batch):
    return nn.functional.binary_cross_entropy_with_logits(model(batch).float(), batch["label"])


def valid_auc(model, table):
    return {"auc": auc(table["label"].numpy(), predict(model, table, torch.device("cpu")))}


class Recorder:
    """Test hook run in every rank before each training batch: appends ``epoch row_id`` lines to
    ``rank<r>.ids`` and the rank's pid to ``rank<r>.pid``; optionally SIGKILLs ``kill_rank`` at its
    ``kill_batch``-th batch of epoch ``kill_epoch``."""

    def __init__(self, folder: Path, kill_rank: int | None = None, kill_epoch: int = 2, kill_batch: int = 3):
        self.folder, self.kill_rank, self.kill_epoch, self.kill_batch = Path(folder), kill_rank, kill_epoch, kill_batch
        self.count: dict[int, int] = {}

    def __call__(self, rank: int, epoch: int, batch) -> None:
        pid_file = self.folder / f"rank{rank}.pid"
        if not pid_file.exists():
            pid_file.write_text(str(os.getpid()))
        with open(self.folder / f"rank{rank}.ids", "a") as out:
            out.write("".join(f"{epoch} {i}\n" for i in batch["row_id"].tolist()))
        self.count[epoch] = self.count.get(epoch, 0) + 1
        if rank == self.kill_rank and epoch == self.kill_epoch and self.count[epoch] == self.kill_batch:
            os.kill(os.getpid(), signal.SIGKILL)


def table(n: int, seed: int):
    """A planted rule: click when the category's weight plus a number is high (with noise)."""
    rng = np.random.default_rng(seed)
    cat = rng.integers(0, 20, n)
    num = rng.normal(size=(n, 2)).astype(np.float32)
    weight = np.linspace(-2, 2, 20)[cat]
    label = (weight + 1.5 * num[:, 0] + rng.normal(scale=0.7, size=n) > 0).astype(np.float32)
    return {"cat": torch.from_numpy(cat), "num": torch.from_numpy(num), "label": torch.from_numpy(label),
            "row_id": torch.arange(n)}


CONFIG = TrainConfig(epochs=3, batch_size=64, lr=0.05, patience=5, seed=7, amp=False)


def seen_rows(folder: Path, world: int) -> dict[int, list[int]]:
    """Row ids each epoch saw, over all ranks."""
    by_epoch: dict[int, list[int]] = {}
    for rank in range(world):
        for line in (folder / f"rank{rank}.ids").read_text().splitlines():
            epoch, row = map(int, line.split())
            by_epoch.setdefault(epoch, []).append(row)
    return by_epoch


def test_shard_plan_makes_equal_nonempty_pieces_per_rank():
    bounds = shard_plan(1001, 2, piece_rows=100)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == 1001
    assert len(sizes) == 12 and sizes.min() >= 83 and sizes.max() - sizes.min() <= 1
    assert len(shard_plan(3, 2, piece_rows=1000)) - 1 == 2
    with pytest.raises(ValueError, match="cannot be shared"):
        shard_plan(1, 2)


def test_device_counts_are_checked_against_the_limit_and_the_visible_gpus(monkeypatch):
    check_devices(3, "cpu", max_devices=4)  # CPU: processes, no GPU needed
    with pytest.raises(ValueError, match="at most 2 devices"):
        check_devices(3, "cpu", max_devices=2)
    with pytest.raises(ValueError, match="at least 1"):
        check_devices(0, "cpu")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    check_devices(1, "cuda")
    with pytest.raises(ValueError, match=r"this worker shows 1 GPU\(s\); the job asks for 2"):
        check_devices(2, "cuda")


@pytest.mark.parametrize("on_disk", [False, True])
def test_shards_see_every_row_exactly_once_per_epoch_in_the_same_number_of_batches(tmp_path, on_disk):
    n = 1037
    data = {k: v.numpy() for k, v in table(n, 0).items()}
    if on_disk:
        writer = StoreWriter(tmp_path / "encoded", {"train": n}, key={"test": 1})
        for start in range(0, n, 300):
            writer.write("train", {k: v[start:start + 300] for k, v in data.items()})
        source = writer.close()["train"]
    else:
        source = TensorSource({k: torch.from_numpy(v) for k, v in data.items()})
    generators = [torch.Generator().manual_seed(5) for _ in range(3)]  # same seed on every rank
    shards = [ShardedSource(source, rank, 3, piece_rows=50, buffer_pieces=2) for rank in range(3)]
    orders = []
    for _ in range(2):
        batches = [list(shard.iter_batches(40, shuffle=True, generator=g)) for shard, g in zip(shards, generators)]
        assert {len(b) for b in batches} == {-(-len(shards[0]) // 40)}  # ranks step together, as many steps as announced
        assert max(len(x["row_id"]) for b in batches for x in b) <= 41
        ids = torch.cat([x["row_id"] for b in batches for x in b])
        assert sorted(ids.tolist()) == list(range(n))
        rank_sets = [set(torch.cat([x["row_id"] for x in b]).tolist()) for b in batches]
        assert not (rank_sets[0] & rank_sets[1]) and not (rank_sets[1] & rank_sets[2])
        orders.append(ids.tolist())
    assert orders[0] != orders[1]  # a new shuffle (and a new split between ranks) each epoch


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_and_see_each_row_once(tmp_path, one_torch_thread):
    train, valid, test = table(3000, 1), table(600, 2), table(1500, 3)
    torch.manual_seed(0)
    single = TinyNet()
    torch.manual_seed(0)
    double = TinyNet()
    fit(single, train, valid, loss_fn=bce, evaluate=valid_auc, config=CONFIG, device=torch.device("cpu"),
        workdir=tmp_path / "one")
    messages, fractions = [], []
    run = fit_distributed(double, train, valid, loss_fn=bce, evaluate=valid_auc, config=CONFIG, devices=2,
                          workdir=tmp_path / "two", threads=1, piece_rows=250, batch_hook=Recorder(tmp_path),
                          log=messages.append, progress=lambda f, phase: fractions.append(f))
    auc_one = auc(test["label"].numpy(), predict(single, test, torch.device("cpu")))
    auc_two = auc(test["label"].numpy(), predict(double, test, torch.device("cpu")))
    assert auc_one > 0.85 and abs(auc_one - auc_two) < 0.01
    by_epoch = seen_rows(tmp_path, 2)
    assert sorted(by_epoch) == [1, 2, 3]
    for rows in by_epoch.values():
        assert sorted(rows) == list(range(3000))  # every training row once per epoch, across both ranks
    assert run.devices == 2 and len(run.samples_per_s_per_rank) == 2 and min(run.samples_per_s_per_rank) > 0
    assert run.result.samples_per_second == pytest.approx(sum(run.samples_per_s_per_rank))
    # validation ran once, on rank 0, with the 1-process code: the kept weights give the same number here
    assert len(run.result.history) == 3 and run.result.best_valid["auc"] == pytest.approx(valid_auc(double, valid)["auc"], abs=1e-9)
    assert any(m.startswith("epoch 3:") for m in messages) and fractions and max(fractions) == pytest.approx(1.0)
    # rank 0 wrote the checkpoint once per epoch; the run's folder was cleared
    assert torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)["epoch"] == 3
    assert not (tmp_path / "two" / "ddp").exists()


@pytest.mark.slow
def test_cancel_stops_every_rank(tmp_path, one_torch_thread):
    fractions = []

    def check_cancelled():
        if fractions:
            raise Cancelled()

    start = time.monotonic()
    with pytest.raises(Cancelled):
        fit_distributed(TinyNet(), table(3000, 1), table(300, 2), loss_fn=bce, evaluate=valid_auc,
                        config=TrainConfig(epochs=200, batch_size=16, lr=0.01, patience=200, amp=False), devices=2,
                        workdir=tmp_path / "job", threads=1, piece_rows=250, batch_hook=Recorder(tmp_path),
                        progress=lambda f, phase: fractions.append(f), check_cancelled=check_cancelled)
    assert time.monotonic() - start < 50
    pids = [int((tmp_path / f"rank{r}.pid").read_text()) for r in range(2)]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert max(fractions) < 0.5  # stopped early in training, not at its end


@pytest.mark.slow
def test_a_killed_rank_fails_the_run_at_once_with_a_clear_message(tmp_path, one_torch_thread):
    start = time.monotonic()
    with pytest.raises(DistributedError, match=r"rank 1 of 2 was killed by SIGKILL; the other ranks were stopped"):
        fit_distributed(TinyNet(), table(3000, 1), table(300, 2), loss_fn=bce, evaluate=valid_auc, config=CONFIG,
                        devices=2, workdir=tmp_path / "job", threads=1, piece_rows=250,
                        batch_hook=Recorder(tmp_path, kill_rank=1, kill_epoch=2, kill_batch=3), timeout_s=120)
    assert time.monotonic() - start < 45  # the parent noticed at once; nobody waited out the 120 s collective timeout
    rank0 = int((tmp_path / "rank0.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(rank0, 0)
    assert torch.load(tmp_path / "job" / "checkpoint.pt", weights_only=False)["epoch"] == 1  # what a re-run resumes from


@pytest.mark.slow
def test_every_rank_resumes_from_the_checkpoint(tmp_path, one_torch_thread):
    """A checkpoint is the same file from one process or two: a 1-process epoch, then 2 ranks go on."""
    train, valid = table(3000, 1), table(300, 2)
    one_epoch = TrainConfig(**{**CONFIG.__dict__, "epochs": 1})
    fit(TinyNet(), train, valid, loss_fn=bce, evaluate=valid_auc, config=one_epoch, device=torch.device("cpu"),
        workdir=tmp_path / "job")
    run = fit_distributed(TinyNet(), train, valid, loss_fn=bce, evaluate=valid_auc, config=CONFIG, devices=2,
                          workdir=tmp_path / "job", threads=1, piece_rows=250, batch_hook=Recorder(tmp_path))
    assert run.result.resumed_from == 1 and [h["epoch"] for h in run.result.history] == [1, 2, 3]
    by_epoch = seen_rows(tmp_path, 2)
    assert sorted(by_epoch) == [1, 2]  # this run's epochs 1-2 are the job's epochs 2-3
    assert all(sorted(rows) == list(range(3000)) for rows in by_epoch.values())
    assert run.result.best_valid["auc"] > 0.85


def train_for_long(folder: str) -> None:
    """Run by the parent-death test in its own process: a 2-rank run that would take minutes."""
    fit_distributed(TinyNet(), table(3000, 1), table(300, 2), loss_fn=bce, evaluate=valid_auc,
                    config=TrainConfig(epochs=200, batch_size=16, lr=0.01, patience=200, amp=False), devices=2,
                    workdir=Path(folder) / "job", threads=1, piece_rows=250, batch_hook=Recorder(Path(folder)))


@pytest.mark.slow
def test_ranks_exit_when_the_job_process_dies(tmp_path):
    import subprocess
    import sys

    parent = subprocess.Popen([sys.executable, "-c", "import sys; from tests.mlcore.test_distributed import "
                               "train_for_long; train_for_long(sys.argv[1])", str(tmp_path)],
                              env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 50
        while not all((tmp_path / f"rank{r}.pid").exists() for r in range(2)):
            assert time.monotonic() < deadline and parent.poll() is None, "the ranks did not start"
            time.sleep(0.2)
        pids = [int((tmp_path / f"rank{r}.pid").read_text()) for r in range(2)]
    finally:
        parent.kill()  # SIGKILL: the job process gets no chance to stop its ranks
        parent.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        time.sleep(0.2)
    assert not alive, "ranks kept running after their job process died"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
