"""Train LR, DeepFM and DCNv2 with this engine on the real Criteo attribution sample; print a table.

    python bench/ctr_tabular.py [--epochs 5] [--batch-size 2048] [--valid-file-as-test]

Same split (seeded 80/10/10 of small_train.parquet; with ``--valid-file-as-test``, a seeded 90/10
train/validation split of small_train.parquet and all of small_valid.parquet as the test rows, via
a split column), same epochs and batch size for every model; AUC and logloss are on the held-out
test rows; samples/s is training throughput. Prints differences and ratios against LR.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mlcore.api import RunContext  # noqa: E402
from mlcore.paths import shared_data_dir  # noqa: E402
from modeling.algorithms import CTR_ALGORITHMS  # noqa: E402

ROLES = {**{c: "categorical" for c in ("cat1", "cat4", "cat6", "cat8", "cat9")}, "click": "label", "c": "ignore"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--valid-file-as-test", action="store_true")
    args = parser.parse_args()
    folder = shared_data_dir() / "criteo_attribution_small"
    df = pd.read_parquet(folder / "small_train.parquet")
    roles = dict(ROLES)
    if args.valid_file_as_test:
        test = pd.read_parquet(folder / "small_valid.parquet")
        part = np.where(np.random.default_rng(2024).random(len(df)) < 0.9, "train", "valid")
        df = pd.concat([df.assign(part=part), test.assign(part="test")], ignore_index=True)
        roles["part"] = "split"
    rows = []
    for algo in CTR_ALGORITHMS:
        params = algo.validate({"epochs": args.epochs, "batch_size": args.batch_size, "patience": args.epochs})
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            result = algo.run(RunContext(params=params, roles=roles, workdir=Path(workdir),
                                         read_table=lambda cols=None: df[cols] if cols else df))
            rows.append((algo.key, result.metrics["auc"], result.metrics["logloss"], result.summary["samples_per_s"],
                         result.summary["params_count"], time.perf_counter() - start))
    base_auc, base_speed = rows[0][1], rows[0][3]
    test_rows = "small_valid.parquet" if args.valid_file_as_test else "10% of small_train.parquet"
    print(f"criteo_attribution_small: {len(df):,} rows, test = {test_rows}, epochs={args.epochs}, batch={args.batch_size}")
    print(f"{'model':8} {'test AUC':>9} {'logloss':>8} {'samples/s':>10} {'params':>9} {'wall s':>7} {'AUC-LR':>7} {'speed/LR':>8}")
    for key, auc, loss, speed, n_params, wall in rows:
        print(f"{key:8} {auc:9.4f} {loss:8.4f} {speed:10,.0f} {n_params:9,} {wall:7.1f} {auc - base_auc:+7.4f} {speed / base_speed:8.3f}")


if __name__ == "__main__":
    main()
