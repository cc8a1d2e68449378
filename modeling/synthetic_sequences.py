"""A seeded long-sequence CTR generator with planted, target-dependent and time-dependent interests.

What it plants (and why, from the papers' claims):

- Every user has two disjoint sets of ``n_interests`` item categories: **old** interests, seen in
  the older part of the history, and **current** interests, seen in the last ``recent_days``
  before the request. Each behaviour comes from the phase's interests, or with probability
  ``noise`` from a uniformly random category, so long histories are mostly irrelevant to any one
  target (QIN's ReLU-sparse attention, SUAN/LightSUAN's long sequences).
- Each request shows ``targets_per_user`` candidates at the same moment; a candidate's category
  is a current interest, an old interest or a random category (a third each), and its click is
  Bernoulli(σ(bias + w_current·[current] + w_old·[old])). The click therefore depends on the
  **target** (DIN's claim: a pooled user vector or a tabular model cannot tell which of the
  user's many categories the candidate matches) and on **when** the matching behaviours happened
  relative to the target (TIN's target-aware temporal claim; SUAN's time-gap bias).
- The share of the history that is recent is drawn per user, symmetric around one half, so the
  number of a category's behaviours says nothing about whether it is current or old: a model that
  sees the history as an unordered bag (DIN, QIN, AW-MoE here) can at best reach the
  *order-blind ceiling*, ``order_blind_p`` (the mean of the current and old click probabilities
  for an interest category), while a model that reads positions or time gaps can reach the Bayes
  ceiling ``p_click``.

Users are split into train/valid/test (``split`` column), so test users are new: a model must
read the history, not remember the user. Item ids carry no click signal beyond their category.

The frame follows ``modeling.sequences``' naming (``user_id``, ``item_id``, ``category``,
``timestamp``, ``label``, ``hist_item_id``, ``hist_category``, ``hist_time``, ``split``) so it can
be uploaded as a CTR dataset as is; ``p_click`` and ``order_blind_p`` are the ground truth
(role ``ignore``). No Django import.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlcore.metrics import auc

DAY = 86_400.0


@dataclass(frozen=True)
class InterestConfig:
    """Sizes and strengths of the planted rule (see the module docstring)."""

    n_users: int = 1_000
    targets_per_user: int = 6
    history_len: int = 200
    n_categories: int = 50
    items_per_category: int = 20
    n_interests: int = 3  # per phase (old and current)
    noise: float = 0.5  # share of behaviours from a random category
    recent_days: float = 14.0
    history_days: float = 365.0
    recent_share: tuple[float, float] = (0.3, 0.7)  # per-user share of recent behaviours, symmetric around 0.5
    bias: float = -2.0
    w_current: float = 3.0
    w_old: float = 0.5
    split: tuple[float, float] = (0.7, 0.1)  # train and valid shares of users; the rest is test

    def check(self) -> None:
        if 2 * self.n_interests > self.n_categories:
            raise ValueError("need at least 2 × n_interests categories (old and current interests are disjoint)")
        if self.history_len < 2 or self.n_users < 10 or self.targets_per_user < 1:
            raise ValueError("need history_len >= 2, n_users >= 10 and targets_per_user >= 1")
        if not 0.0 <= self.noise < 1.0:
            raise ValueError("noise must be in [0, 1)")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def make_interest_sequences(config: InterestConfig | None = None, seed: int = 0) -> pd.DataFrame:
    """One row per (user, candidate) with the user's ``history_len`` behaviours before the request."""
    c = config or InterestConfig()
    c.check()
    rng = np.random.default_rng(seed)
    n, length, k = c.n_users, c.history_len, c.n_interests
    interests = np.argsort(rng.random((n, c.n_categories)), axis=1)[:, :2 * k]  # (N, 2K) distinct categories
    old, current = interests[:, :k], interests[:, k:]
    now = 1.7e9 + rng.random(n) * 30 * DAY  # request time per user (spread so absolute time says nothing)
    n_recent = np.rint(rng.uniform(*c.recent_share, size=n) * length).astype(int)  # (N,)
    position = np.arange(length)[None, :]  # 0 = oldest
    recent = position >= (length - n_recent)[:, None]  # (N, L)
    gap = np.where(recent, rng.uniform(60.0, c.recent_days * DAY, (n, length)),
                   rng.uniform(c.recent_days * DAY, c.history_days * DAY, (n, length)))
    gap = -np.sort(-gap, axis=1)  # every old gap exceeds every recent one, so sorting keeps `recent` aligned
    times = (now[:, None] - gap).astype(np.int64)  # (N, L) increasing
    pick = rng.integers(0, k, (n, length))
    phase_cat = np.where(recent, np.take_along_axis(current, pick, 1), np.take_along_axis(old, pick, 1))
    noisy = rng.random((n, length)) < c.noise
    hist_cat = np.where(noisy, rng.integers(0, c.n_categories, (n, length)), phase_cat)  # (N, L)
    hist_item = hist_cat * c.items_per_category + rng.integers(0, c.items_per_category, (n, length))

    r = c.targets_per_user
    kind = rng.integers(0, 3, (n, r))  # 0 current, 1 old, 2 random category
    pick = rng.integers(0, k, (n, r))
    target_cat = np.select([kind == 0, kind == 1],
                           [np.take_along_axis(current, pick, 1), np.take_along_axis(old, pick, 1)],
                           rng.integers(0, c.n_categories, (n, r)))  # (N, R)
    is_current = (target_cat[:, :, None] == current[:, None, :]).any(-1)
    is_old = (target_cat[:, :, None] == old[:, None, :]).any(-1)
    p_click = _sigmoid(c.bias + c.w_current * is_current + c.w_old * is_old)  # (N, R)
    blind = 0.5 * (_sigmoid(c.bias + c.w_current) + _sigmoid(c.bias + c.w_old))
    order_blind = np.where(is_current | is_old, blind, _sigmoid(c.bias))
    label = rng.random((n, r)) < p_click
    target_item = target_cat * c.items_per_category + rng.integers(0, c.items_per_category, (n, r))

    users = rng.permutation(n)
    n_train, n_valid = int(c.split[0] * n), int(c.split[1] * n)
    user_split = np.empty(n, dtype=object)
    user_split[users[:n_train]], user_split[users[n_train:n_train + n_valid]] = "train", "valid"
    user_split[users[n_train + n_valid:]] = "test"

    join = lambda a: np.array(["|".join(map(str, row)) for row in a], dtype=object)  # noqa: E731
    hist_item_text, hist_cat_text, hist_time_text = join(hist_item), join(hist_cat), join(times)
    u = np.repeat(np.arange(n), r)
    return pd.DataFrame({
        "user_id": np.char.add("u", u.astype(str)), "item_id": target_item.ravel().astype(str),
        "category": target_cat.ravel().astype(str),
        "timestamp": (now[u] + 1 + np.tile(np.arange(r), n)).astype(np.int64), "label": label.ravel().astype(np.int64),
        "hist_item_id": hist_item_text[u], "hist_category": hist_cat_text[u], "hist_time": hist_time_text[u],
        "split": user_split[u], "p_click": p_click.ravel(), "order_blind_p": order_blind.ravel(),
    })


def interest_roles() -> dict[str, str]:
    """Column roles of a generated frame for the CTR pipeline (the ground truth is ignored)."""
    return {"user_id": "user_id", "item_id": "item_id", "category": "categorical", "timestamp": "timestamp",
            "label": "label", "hist_item_id": "sequence", "hist_category": "sequence", "hist_time": "sequence",
            "split": "split", "p_click": "ignore", "order_blind_p": "ignore"}


def ceilings(frame: pd.DataFrame, split: str = "test") -> dict[str, float]:
    """AUC of the generator's own probabilities on ``split`` rows: ``bayes`` (knows current from old
    interests) and ``order_blind`` (the best a model that ignores order and time can do)."""
    rows = frame[frame["split"] == split] if split else frame
    y = rows["label"].to_numpy()
    return {"bayes": auc(y, rows["p_click"].to_numpy()), "order_blind": auc(y, rows["order_blind_p"].to_numpy())}
