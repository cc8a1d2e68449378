"""The learning-rate cut on a plateau acts before early stopping ends the run."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from mlcore.trainer import TrainConfig, fit


def _planted_run(values, **config):
    """Train a one-weight model while validation reports ``values`` epoch by epoch."""
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    table = {"x": torch.randn(64, 1), "label": torch.rand(64)}
    epochs = iter(values)
    result = fit(model, table, table,
                 loss_fn=lambda net, batch: ((net(batch["x"]).squeeze(-1) - batch["label"]) ** 2).mean(),
                 evaluate=lambda net, t: {"auc": next(epochs)},
                 config=TrainConfig(epochs=len(values), batch_size=32, amp=False, **config),
                 device=torch.device("cpu"))
    return result.history


def test_the_rate_halves_on_a_plateau_and_a_later_epoch_trains_with_it():
    # Gains, then a plateau: epoch 3 is worse, the rate halves, epoch 4 trains at half and gains.
    history = _planted_run([0.60, 0.70, 0.65, 0.72, 0.71, 0.70, 0.69, 0.68], lr=1e-2, patience=2,
                           reduce_lr_factor=0.5)
    rates = [row["lr"] for row in history]  # the rate after each epoch's scheduler step
    assert rates[:3] == pytest.approx([1e-2, 1e-2, 5e-3])
    assert len(history) > 3  # epoch 4 was trained with the halved rate
    # ... and at the end two epochs without gain stop the run after a second and third cut.
    assert len(history) == 6 and rates[-1] == pytest.approx(1.25e-3)


def test_the_cut_comes_before_the_stop_even_with_a_longer_scheduler_patience():
    history = _planted_run([0.60, 0.70, 0.65, 0.66, 0.64, 0.63], lr=1e-2, patience=3,
                           reduce_lr_patience=5, reduce_lr_factor=0.1)
    trained_at = [row["lr"] for row in history[:-1]]  # rates some later epoch trained with
    assert min(trained_at) == pytest.approx(1e-3)


def test_factor_one_keeps_the_rate():
    history = _planted_run([0.6, 0.5, 0.4], lr=1e-2, patience=3, reduce_lr_factor=1.0)
    assert [row["lr"] for row in history] == pytest.approx([1e-2] * 3)
