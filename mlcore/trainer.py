"""The one training loop: early stopping, LR on plateau, clipping, AMP, epoch checkpoints and resume."""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import checkpoints
from .batching import BatchSource, TensorTable, as_source, table_len, to_device
from .device import amp_dtype, autocast
from .diskspace import as_disk_error, ensure_free_space


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 1024
    eval_batch_size: int = 8192
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    embedding_l2: float = 0.0
    grad_clip: float | None = 10.0
    monitor: str = "auc"
    monitor_mode: str = "max"
    patience: int = 2
    reduce_lr_patience: int = 0  # epochs without gain tolerated before a cut; 0 = cut on every one (FuxiCTR)
    reduce_lr_factor: float = 0.5  # QIN's reference halves (FuxiCTR's default is 0.1); 1.0 keeps the rate
    min_lr: float = 1e-6
    amp: bool = True
    seed: int = 2024


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_valid: dict[str, float] = field(default_factory=dict)
    resumed_from: int | None = None
    samples_per_second: float = 0.0
    stopped_early: bool = False


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def _better(value: float, best: float | None, mode: str) -> bool:
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def fit(model: nn.Module, train: TensorTable | BatchSource, valid: TensorTable | BatchSource, *,
        loss_fn: Callable[[nn.Module, TensorTable], torch.Tensor],
        evaluate: Callable[[nn.Module, TensorTable], dict[str, float]],
        config: TrainConfig, device: torch.device, workdir: Path | None = None,
        progress=None, log=None, check_cancelled=None, write_checkpoint: bool = True) -> FitResult:
    """Train ``model`` and return its history; on return the model holds the best epoch's weights.

    ``train`` and ``valid`` are tensors in memory or any :class:`mlcore.batching.BatchSource` (an
    encoded store read chunk by chunk); training batches are drawn with the run's seeded generator,
    and ``valid`` is handed to ``evaluate`` as it is.

    ``loss_fn(model, batch)`` returns the mean loss of a batch. When ``config.embedding_l2 > 0`` and the
    model defines ``embedding_regularizer(batch)`` (the sum of squared embedding rows that batch used),
    ``embedding_l2 *`` that is added to the loss, so rare rows are not shrunk by batches that skip them.
    ``check_cancelled()`` runs before every batch and may raise :class:`mlcore.api.Cancelled`, which
    propagates (the last finished epoch's checkpoint stays on disk). ``progress(fraction, phase)``
    runs after every batch and ``log(message)`` after every epoch.

    After every epoch a checkpoint (model, optimiser, scheduler, scaler, RNG, history, best state)
    is written atomically to ``workdir/checkpoint.pt``; a later call with the same workdir resumes
    from the next epoch, which is how a job re-delivered after a worker death continues.
    ``write_checkpoint=False`` still resumes from it but never writes it (the ranks after the first
    of a multi-device run, see ``mlcore/distributed.py``).

    Learning-rate schedule: the rate is multiplied by ``reduce_lr_factor`` after
    ``reduce_lr_patience + 1`` consecutive epochs without validation gain. The cut must come before
    early stopping ends the run or the reduced rate is never used, so the scheduler's patience is
    capped at ``patience - 2`` (with ``patience`` 1 no cut can act: the run stops first).
    """
    progress = progress or (lambda fraction, phase: None)
    log = log or (lambda message: None)
    check_cancelled = check_cancelled or (lambda: None)
    generator = seed_everything(config.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(params, lr=config.lr, weight_decay=config.weight_decay)
    constant = config.reduce_lr_factor >= 1.0  # torch refuses factor 1: a floor at the start rate instead
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=config.monitor_mode, factor=0.5 if constant else config.reduce_lr_factor, threshold=0.0,
        patience=max(0, min(config.reduce_lr_patience, config.patience - 2)),
        min_lr=config.lr if constant else config.min_lr)
    use_scaler = config.amp and amp_dtype(device) == torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    result = FitResult()
    best_state: dict | None = None
    best_value: float | None = None
    bad_epochs = 0
    start_epoch = 1
    checkpoint = Path(workdir) / "checkpoint.pt" if workdir else None
    if checkpoint and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
        result.history = state["history"]
        best_state, best_value = state["best_state"], state["best_value"]
        result.best_epoch, result.best_valid, bad_epochs = state["best_epoch"], state["best_valid"], state["bad_epochs"]
        start_epoch = state["epoch"] + 1
        result.resumed_from = state["epoch"]
        log(f"resumed from epoch {state['epoch']} checkpoint")
    train = as_source(train)
    n_train = len(train)
    batches_per_epoch = max(1, -(-n_train // config.batch_size))
    seen, train_seconds = 0, 0.0
    for epoch in range(start_epoch, config.epochs + 1):
        if bad_epochs >= config.patience and result.history:
            result.stopped_early = True
            break
        model.train()
        t0 = time.perf_counter()
        total, count = 0.0, 0
        for i, batch in enumerate(train.iter_batches(config.batch_size, shuffle=True, generator=generator)):
            check_cancelled()
            batch = to_device(batch, device)
            with autocast(device, config.amp):
                loss = loss_fn(model, batch)
                if config.embedding_l2 and hasattr(model, "embedding_regularizer"):
                    loss = loss + config.embedding_l2 * model.embedding_regularizer(batch)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(params, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            size = table_len(batch)
            total += float(loss.detach()) * size
            count += size
            progress(((epoch - 1) + (i + 1) / batches_per_epoch) / config.epochs, f"epoch {epoch}/{config.epochs}")
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        seen += count
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model, valid)
        value = metrics[config.monitor]
        scheduler.step(value)
        row = {"epoch": epoch, "train_loss": total / max(count, 1), "lr": optimizer.param_groups[0]["lr"],
               "seconds": seconds, "samples_per_s": count / seconds if seconds else 0.0,
               **{f"valid_{k}": v for k, v in metrics.items()}}
        result.history.append(row)
        if _better(value, best_value, config.monitor_mode):
            best_value, result.best_epoch, result.best_valid, bad_epochs = value, epoch, dict(metrics), 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        log(f"epoch {epoch}: train loss {row['train_loss']:.5f}, "
            + ", ".join(f"valid {k} {v:.5f}" for k, v in metrics.items()) + f", {row['samples_per_s']:,.0f} samples/s")
        if checkpoint and write_checkpoint:
            _save_atomic(checkpoint, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                "python_rng": random.getstate(), "numpy_rng": np.random.get_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "history": result.history, "best_state": best_state, "best_value": best_value,
                "best_epoch": result.best_epoch, "best_valid": result.best_valid, "bad_epochs": bad_epochs, "epoch": epoch,
            })
    if bad_epochs >= config.patience and len(result.history) < config.epochs:
        result.stopped_early = True
    if best_state is not None:
        model.load_state_dict(best_state)
    result.samples_per_second = seen / train_seconds if train_seconds else (
        float(np.mean([h["samples_per_s"] for h in result.history])) if result.history else 0.0)
    return result


def _save_atomic(path: Path, state: dict) -> None:
    """Write to a temp file and rename, so a crash or a full disk never leaves a torn checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ensure_free_space(path.parent)
    tmp = path.with_suffix(".tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        error = as_disk_error(exc, tmp)
        tmp.unlink(missing_ok=True)
        if error is exc:
            raise
        raise error from exc
    checkpoints.written(path)


@torch.no_grad()
def predict(model: nn.Module, table: TensorTable | BatchSource, device: torch.device, batch_size: int = 8192,
            forward: Callable[[nn.Module, TensorTable], torch.Tensor] | None = None) -> np.ndarray:
    """Probabilities for every row, in table order, in batches, in eval mode, as one float32 array
    (4 bytes per row: held-out splits of tens of millions of rows fit)."""
    model.eval()
    forward = forward or (lambda m, b: m(b))
    out = []
    for batch in as_source(table).iter_batches(batch_size, shuffle=False):
        batch = to_device(batch, device)
        out.append(torch.sigmoid(forward(model, batch).float()).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)
