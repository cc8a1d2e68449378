"""Train LR, DeepFM and DCNv2 with this engine on the real Criteo attribution sample; print a table.

    python bench/ctr_tabular.py [--epochs 5] [--batch-size 2048] [--seeds 3] [--first-seed 2024]
        [--valid-file-as-test]

Every seed draws its own 80/10/10 train/validation/test split of small_train.parquet (with
``--valid-file-as-test``: a 90/10 train/validation split of small_train.parquet and all of
small_valid.parquet as the test rows) as a split column, so every model and the reference row see
the same rows; the seed also sets initialisation and shuffling. Same epochs and batch size for every
model; AUC and logloss are on the held-out test rows; samples/s is training throughput. Prints mean
± 95 % t-interval over seeds, and each model's paired difference from LR on the same seed.

Reference row (untrained, issue 15): the smoothed training click rate of the single categorical
field whose rate ranks the *validation* rows best (the field is chosen on validation, never on
test). The sample has no user or item column, so the job's own item/user references do not apply.
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

from bench.intervals import fmt  # noqa: E402
from mlcore.api import RunContext  # noqa: E402
from mlcore.paths import shared_data_dir  # noqa: E402
from modeling.algorithms import CTR_ALGORITHMS  # noqa: E402
from modeling.references import heuristic_references  # noqa: E402

FIELDS = ("cat1", "cat4", "cat6", "cat8", "cat9")
ROLES = {**{c: "categorical" for c in FIELDS}, "click": "label", "c": "ignore", "part": "split"}
TABULAR = ("lr", "deepfm", "dcnv2")  # the sample has no behaviour sequence
REFERENCE = "Reference (untrained): best field's click rate"


def reference(df: pd.DataFrame) -> tuple[dict[str, float], str]:
    """Test metrics of the best single field's click rate, the field chosen on validation AUC.

    Each field is scored as the job's untrained ``item_ctr`` reference would score an item column
    (``modeling.references``: the training click rate smoothed towards the global rate).
    """
    train, valid, test = (df[df["part"] == p] for p in ("train", "valid", "test"))

    def rate(rows: pd.DataFrame, field: str) -> dict[str, float]:
        return heuristic_references(train, rows, {field: "item_id", "click": "label"})["item_ctr"]

    field = max(FIELDS, key=lambda f: rate(valid, f)["auc"])
    return rate(test, field), field


def with_split(folder: Path, seed: int, valid_file_as_test: bool) -> pd.DataFrame:
    """small_train.parquet (and small_valid.parquet as test) with this seed's split column ``part``."""
    df = pd.read_parquet(folder / "small_train.parquet")
    draw = np.random.default_rng(seed).random(len(df))
    if valid_file_as_test:
        test = pd.read_parquet(folder / "small_valid.parquet")
        part = np.where(draw < 0.9, "train", "valid")
        return pd.concat([df.assign(part=part), test.assign(part="test")], ignore_index=True)
    return df.assign(part=np.select([draw < 0.8, draw < 0.9], ["train", "valid"], "test"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=2024)
    parser.add_argument("--valid-file-as-test", action="store_true")
    args = parser.parse_args()
    folder = shared_data_dir() / "criteo_attribution_small"
    runs: dict[str, list[dict]] = {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        df = with_split(folder, seed, args.valid_file_as_test)
        ref, field = reference(df)
        runs.setdefault(REFERENCE, []).append(ref)
        print(f"seed {seed}: {len(df):,} rows; reference field {field}: test AUC {ref['auc']:.4f}", flush=True)
        for algo in (a for a in CTR_ALGORITHMS if a.key in TABULAR):
            params = algo.validate({"epochs": args.epochs, "batch_size": args.batch_size, "patience": args.epochs,
                                    "seed": seed, "split_method": "column"})
            with tempfile.TemporaryDirectory() as workdir:
                start = time.perf_counter()
                result = algo.run(RunContext(params=params, roles=ROLES, workdir=Path(workdir),
                                             read_table=lambda cols=None: df[cols] if cols else df))
            m, s = result.metrics, result.summary
            runs.setdefault(algo.key, []).append({"auc": m["auc"], "logloss": m["logloss"], "speed": s["samples_per_s"],
                                                  "params": s["params_count"], "wall": time.perf_counter() - start})
            print(f"  {algo.key}: test AUC {m['auc']:.4f} logloss {m['logloss']:.4f} "
                  f"{s['samples_per_s']:,.0f} samples/s", flush=True)
    test_rows = "small_valid.parquet" if args.valid_file_as_test else "10% of small_train.parquet"
    print(f"\ncriteo_attribution_small, test = {test_rows}, epochs={args.epochs}, batch={args.batch_size}, "
          f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1}")
    print("| model | test AUC | logloss | AUC − LR (paired) | samples/s | parameters |\n|---|---|---|---|---|---|")
    base = runs.get("lr", [])
    for key, rs in runs.items():
        diff = fmt([r["auc"] - b["auc"] for r, b in zip(rs, base)]) if key not in ("lr", REFERENCE) and base else "—"
        speed = f"{np.mean([r['speed'] for r in rs]):,.0f}" if "speed" in rs[0] else "—"
        params = f"{rs[0]['params']:,}" if "params" in rs[0] else "—"
        print(f"| {key} | {fmt([r['auc'] for r in rs])} | {fmt([r['logloss'] for r in rs])} | {diff} | {speed} | {params} |")


if __name__ == "__main__":
    main()
