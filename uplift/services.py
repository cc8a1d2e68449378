"""Services that change uplift state: store generated data as a dataset."""
from __future__ import annotations

import tempfile
from pathlib import Path

from datasets.models import Dataset
from datasets.services import create_dataset

from .synthetic import make_chain_uplift, synthetic_roles


def create_synthetic_uplift_dataset(*, owner, rows: int = 50_000, arms: int = 4, features: int = 12, seed: int = 0,
                                    effect_scale: float = 1.0, name: str = "") -> Dataset:
    """Generate an MT-LIFT-like chain table (uplift/synthetic.py) and store it as an uplift dataset.

    The name and description say the data is synthetic; the true per-row effects are kept as
    ignored columns, so jobs on it also report how well the model recovers them.
    """
    frame = make_chain_uplift(rows, n_features=features, n_treatments=arms, seed=seed, effect_scale=effect_scale)
    name = name or f"Synthetic uplift chain (generated, {rows:,} rows, {arms} treated arms, seed {seed})"
    description = (f"SYNTHETIC data from the seeded MT-LIFT-style generator (seed {seed}, effect scale {effect_scale}): "
                   f"features f0..f{features - 1}, treatment 0..{arms} assigned at random (0 = control), click and "
                   "conversion from a known logistic chain. Columns true_uplift_click_<k> / true_uplift_conv_<k> hold "
                   "the true per-row effects (ignored for training, used to score the models). Not real user behaviour.")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"synthetic_uplift_seed{seed}.csv"
        frame.to_csv(path, index=False)
        return create_dataset(inline=True, owner=owner, source_file=path, filename=path.name, name=name, kind="uplift",
                              description=description, role_overrides=synthetic_roles(frame),
                              source=Dataset.Source.SYNTHETIC)
