"""Small trained runs (CTR, uplift, HyperPAVE) and new tables to score, built in-process."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datasets.services import create_dataset
from jobs import services
from jobs.models import Job
from jobs.runner import execute_job

FAST_CTR = {"epochs": 2, "batch_size": 256, "embedding_dim": 4, "hidden_units": "16", "min_count": 1}
FAST_UPLIFT = {"epochs": 2, "batch_size": 256, "n_bootstrap": 10, "tower_hidden": "16", "embedding_dim": 8}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _own_media(settings, tmp_path):
    """A fresh media folder per test: job ids repeat after a rolled-back test, and a job folder left
    behind would hand the next job with that id a stale checkpoint to resume from."""
    settings.MEDIA_ROOT = tmp_path / "media"


def run(job: Job) -> Job:
    assert execute_job(job.pk, "pytest", 1) == "succeeded", Job.objects.get(pk=job.pk).log_tail
    job.refresh_from_db()
    return job


def train(user, dataset, algorithm: str, **params) -> Job:
    return run(services.submit_job(owner=user, dataset=dataset, algorithm=algorithm, params=params))


def clicks_frame(n: int, seed: int = 0, with_label: bool = True) -> pd.DataFrame:
    """Clicks that depend on a site category and a price: learnable in two epochs."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["news", "shop", "blog", "video"], n)
    price = rng.gamma(2.0, 10.0, n).round(2)
    logit = np.select([site == "shop", site == "video"], [1.5, 0.5], -1.0) - 0.03 * price
    frame = pd.DataFrame({"user": [f"u{i % 50}" for i in range(n)], "site": site, "price": price})
    if with_label:
        frame.insert(0, "click", (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
    return frame


def save(frame: pd.DataFrame, path, owner, kind: str, name: str, **kw):
    frame.to_csv(path, index=False)
    return create_dataset(owner=owner, source_file=path, filename=path.name, name=name, kind=kind, **kw)


@pytest.fixture
def ctr_run(user, tmp_path):
    dataset = save(clicks_frame(1500), tmp_path / "clicks.csv", user, "ctr", "clicks",
                   role_overrides={"user": "user_id"})
    return train(user, dataset, "deepfm", **FAST_CTR)


@pytest.fixture
def uplift_run(user, tmp_path):
    from uplift.synthetic import make_chain_uplift

    frame = make_chain_uplift(1600, n_features=10, n_treatments=2, seed=3, effect_scale=1.5)
    frame.insert(0, "user_id", [f"u{i:05d}" for i in range(len(frame))])
    dataset = save(frame, tmp_path / "chain.csv", user, "uplift", "chain")
    return train(user, dataset, "ecup", **FAST_UPLIFT)


def catalogue_table() -> pd.DataFrame:
    """24 labelled products in two categories (values written in the titles) as a long table."""
    rows = []
    for i, (brand, color) in enumerate((b, c) for b in ("Crocs", "Nike", "Clarks", "Vans") for c in ("Red", "Navy", "Black")):
        title = f"{brand} Women's Sneaker, {color}, 8 M US"
        rows += [{"product_id": f"shoe-{i}", "title": title, "category": "Shoes", "attribute": a, "value": v}
                 for a, v in (("Brand", brand), ("Color", color))]
    for i, (brand, flavor) in enumerate((b, f) for b in ("Twinings", "Lipton", "Yogi") for f in ("Mint", "Lemon", "Chai", "Earl Grey")):
        title = f"{brand} {flavor} Tea, 20 bags"
        rows += [{"product_id": f"tea-{i}", "title": title, "category": "Tea", "attribute": a, "value": v}
                 for a, v in (("Brand", brand), ("Flavor", flavor))]
    return pd.DataFrame(rows)


def new_products() -> pd.DataFrame:
    return pd.DataFrame({"product_id": ["new-1", "new-2", "new-3"],
                         "title": ["Nike Women's Sneaker, Black, 9 M US", "Yogi Chai Tea, 40 bags",
                                   "Vans Kids Sneaker, Red"],
                         "category": ["Shoes", "Tea", "Shoes"]})


@pytest.fixture
def attribute_run(user, tmp_path):
    dataset = save(catalogue_table(), tmp_path / "catalogue.csv", user, "attributes", "catalogue")
    return train(user, dataset, "hyperpave", max_epochs=20, hidden_dim=16, n_splits=1, split="inductive",
                 holdout_share=0.2)
