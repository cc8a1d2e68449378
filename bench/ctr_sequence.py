"""Train LR and the behaviour-sequence models on a sequence table cut from real Taobao UserBehavior
rows; print held-out AUC / GAUC / long-tail AUC and training samples/s, beside the untrained
references every CTR job computes (item and user training click rates) on the same split.

    python bench/ctr_sequence.py [--epochs 10] [--batch-size 256] [--lr 1e-2] [--seeds 3]
                                 [--models lr,din,qin,tin,awmoe] [--param contrastive_weight=0 ...]

The table is built the DIN/TIN way (``taobao_sequence_frame``): for every behaviour of a user
after their first, one positive row (the item actually visited next, label 1) and one negative
row (the item of a behaviour drawn at random from the whole log, so popular items are drawn as
often as they are visited and an item's own click rate says little; label 0), each with the
user's previous ``max_len`` items, categories and times as the history. Seeded random 80/10/10
split of rows (a time split would make most test positives unseen items while negatives stay
known ones, which rewards "unknown item → click" rather than interest modelling); every model gets
the same split, epochs, batch size and seed.
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

ROLES = {"click": "label", "user_id": "user_id", "item_id": "item_id", "cate_id": "categorical",
         "hist_item_id": "sequence", "hist_cate_id": "sequence", "hist_time": "sequence", "ts": "timestamp"}


def taobao_sequence_frame(path: Path | None = None, max_len: int = 50, seed: int = 0) -> pd.DataFrame:
    """One positive and one sampled-negative row per behaviour that has at least one behaviour before it."""
    path = path or shared_data_dir() / "taobao_userbehavior_sample" / "UserBehavior_sample.csv"
    log = pd.read_csv(path, header=None, names=["user_id", "item_id", "cate_id", "behaviour", "ts"])
    log = log.sort_values(["user_id", "ts"], kind="stable").reset_index(drop=True)
    all_items, all_cates = log["item_id"].astype(str).to_numpy(), log["cate_id"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    rows = []
    for user, events in log.groupby("user_id", sort=False):
        items, cates, times = (events[c].astype(str).tolist() for c in ("item_id", "cate_id", "ts"))
        for i in range(1, len(events)):
            start = max(0, i - max_len)
            hist = {"user_id": user, "hist_item_id": "|".join(items[start:i]), "hist_cate_id": "|".join(cates[start:i]),
                    "hist_time": "|".join(times[start:i]), "ts": int(times[i])}
            j = rng.integers(len(all_items))
            while all_items[j] == items[i]:
                j = rng.integers(len(all_items))
            rows.append({**hist, "item_id": items[i], "cate_id": cates[i], "click": 1})
            rows.append({**hist, "item_id": all_items[j], "cate_id": all_cates[j], "click": 0})
    return pd.DataFrame(rows)


def run(key: str, df: pd.DataFrame, workdir: Path, **params):
    algo = next(a for a in CTR_ALGORITHMS if a.key == key)
    roles = ROLES if key in {"din", "qin", "tin", "awmoe"} else {c: r for c, r in ROLES.items() if r != "sequence"}
    ctx = RunContext(params=algo.validate(params), roles=roles, read_table=lambda cols=None: df[cols] if cols else df,
                     workdir=workdir)
    return algo.run(ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyperparameter for every model that has it (repeatable)")
    parser.add_argument("--models", default="lr,din,qin,tin,awmoe")
    args = parser.parse_args()
    df = taobao_sequence_frame()
    print(f"{len(df):,} rows, {df['user_id'].nunique()} users, {df['item_id'].nunique():,} items; "
          f"epochs {args.epochs}, batch {args.batch_size}, lr {args.lr:g}, random split 80/10/10")
    print(f"{'model':8} {'seed':>4} {'AUC':>7} {'GAUC':>7} {'logloss':>8} {'AUC_lt':>7} {'n_lt':>5} {'samples/s':>10} {'epoch':>5} {'s':>6}")
    results: dict[str, list[dict]] = {}
    for key in args.models.split(","):
        for seed in range(args.seeds):
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                params = {"epochs": args.epochs, "batch_size": args.batch_size, "seed": seed, "lr": args.lr,
                          "min_count": 1, "patience": 3}
                if key != "lr":
                    params["monitor"] = "auc"
                known = {p.name for p in next(a for a in CTR_ALGORITHMS if a.key == key).params}
                params.update({n: v for n, v in (item.split("=", 1) for item in args.param) if n in known})
                r = run(key, df, Path(tmp), **params)
            m = r.metrics
            results.setdefault(key, []).append(m)
            if key == args.models.split(",")[0]:  # the references depend on the split (the seed), not the model
                for name, ref in r.summary.get("references", {}).items():
                    results.setdefault(name, []).append(ref)
            print(f"{key:8} {seed:>4} {m['auc']:7.4f} {m.get('gauc', float('nan')):7.4f} {m['logloss']:8.4f} "
                  f"{m.get('auc_longtail', float('nan')):7.4f} {int(m.get('n_longtail', 0)):5d} "
                  f"{r.summary['samples_per_s']:10,.0f} {r.summary['best_epoch']:5d} {time.perf_counter() - start:6.1f}")
    names = {"item_ctr": "Reference (untrained): item's training click rate",
             "user_like_rate": "Reference (untrained): user's training click rate"}
    print(f"\nmean ± 95 % t-interval over {args.seeds} seed(s) (each seed: its own split and initialisation)")
    print("| model | test AUC | test GAUC | logloss |\n|---|---|---|---|")
    for key in sorted(results, key=lambda k: k not in names):
        ms = results[key]
        print(f"| {names.get(key, key)} | {fmt([m['auc'] for m in ms])} | {fmt([m.get('gauc') for m in ms])} | "
              f"{fmt([m.get('logloss') for m in ms])} |")


if __name__ == "__main__":
    main()
