"""A seeded MT-LIFT-like generator with known per-row effects, for tests, demos and benchmarks.

Layout follows MT-LIFT (dense features ``f0..f{F-1}``, ``treatment`` in 0..K with 0 = control,
``click``, ``conversion``) plus the ground truth a real log never has:
``true_uplift_click_<k>`` = P(click | x, k) − P(click | x, 0) and ``true_uplift_conv_<k>`` =
P(click ∧ conversion | x, k) − P(click ∧ conversion | x, 0) for every arm k ≥ 1.

The chain is click ~ Bernoulli(σ(a(x) + α_k(x))), conversion ~ click · Bernoulli(σ(b(x) + β_k(x))).
Arm strength grows with k. α_k rises with ``tanh(f0)`` while β_k falls with it, so where f0 is large
a treatment brings clicks but loses conversions: the "chain bias" segments in which click uplift
and conversion uplift have opposite signs (spec §3.4).

``effect_on="cvr"`` makes the treatment act on the conversion step only (α_k = 0): P(click) is the
same in every arm, so the true CTR effect is exactly zero, and the whole CTCVR effect is
P(click | x) · (P(conv | click, x, k) − P(conv | click, x, 0)): a click-rate baseline times a
conversion-rate effect, the chain structure ECUP models (spec §1.2, "chain bias").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIN_FEATURES = 10


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def make_chain_uplift(n_rows: int = 20_000, n_features: int = 12, n_treatments: int = 4, seed: int = 0,
                      effect_scale: float = 1.0, effect_on: str = "both") -> pd.DataFrame:
    """A DataFrame of ``n_rows`` impressions with ``n_treatments`` treated arms and a control arm.

    Treatment is assigned uniformly at random (an RCT, like MT-LIFT). ``effect_scale`` multiplies
    every treatment effect (0 gives a data set with no uplift at all). In the control arm about 14 % of
    impressions are clicked and 4 % convert. ``effect_on``: ``both`` (clicks and conversions) or
    ``cvr`` (conversion given a click only; the CTR effect is zero).
    """
    if effect_on not in ("both", "cvr"):
        raise ValueError(f"effect_on must be `both` or `cvr`, got {effect_on!r}")
    if n_features < MIN_FEATURES:
        raise ValueError(f"the generator needs at least {MIN_FEATURES} features, got {n_features}")
    if n_treatments < 1:
        raise ValueError("need at least one treated arm")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n_features)).astype(np.float32)  # (N, F)
    t = rng.integers(0, n_treatments + 1, size=n_rows)
    base_click = -2.0 + 0.6 * x[:, 1] - 0.4 * x[:, 2] + 0.3 * x[:, 3] * x[:, 4]
    base_conv = -1.0 + 0.5 * x[:, 5] - 0.3 * x[:, 6]
    arms = np.arange(n_treatments + 1)
    strength = effect_scale * arms / n_treatments  # (K+1,), 0 for control
    # Each arm also leans on its own feature, so arms are not just rescaled copies of each other.
    own = x[:, 7:10][:, arms % 3]  # (N, K+1)
    lean = np.where(arms % 2 == 0, 0.3, -0.3)  # (K+1,)
    alpha = strength * (0.9 * np.tanh(x[:, [0]]) + 0.3 + lean * own)  # (N, K+1)
    if effect_on == "cvr":
        alpha = np.zeros_like(alpha)
    beta = strength * (-1.2 * np.tanh(x[:, [0]]) + 0.2 + 0.4 * x[:, [8]])  # (N, K+1)
    p_click = _sigmoid(base_click[:, None] + alpha)  # (N, K+1)
    p_cvr = _sigmoid(base_conv[:, None] + beta)  # (N, K+1)
    p_ctcvr = p_click * p_cvr  # (N, K+1)
    rows = np.arange(n_rows)
    click = rng.random(n_rows) < p_click[rows, t]
    conversion = click & (rng.random(n_rows) < p_cvr[rows, t])
    data = {f"f{j}": x[:, j] for j in range(n_features)}
    data.update(treatment=t.astype(np.int64), click=click.astype(np.int64), conversion=conversion.astype(np.int64))
    for k in range(1, n_treatments + 1):
        data[f"true_uplift_click_{k}"] = (p_click[:, k] - p_click[:, 0]).astype(np.float32)
        data[f"true_uplift_conv_{k}"] = (p_ctcvr[:, k] - p_ctcvr[:, 0]).astype(np.float32)
    return pd.DataFrame(data)


def synthetic_roles(frame: pd.DataFrame) -> dict[str, str]:
    """The roles an analyst would confirm for a generated frame (true-effect columns are ignored)."""
    roles = {c: "numeric" for c in frame.columns if c.startswith("f") and c[1:].isdigit()}
    roles.update(treatment="treatment", click="click", conversion="conversion")
    roles.update({c: "ignore" for c in frame.columns if c.startswith("true_uplift_")})
    return roles
