"""LR and the behaviour-sequence models on generated long sequences with planted target- and
time-dependent interests (``modeling.synthetic_sequences``): test AUC / GAUC, mean ± 95 %
t-interval over seeds, training samples/s, and the generator's own ceilings.

    TORCH_THREADS=1 python bench/ctr_long_sequence.py [--lengths 200,1000] [--rows 200=12000,1000=6000]
        [--seeds 3] [--models references,lr,din,qin,tin,awmoe,suan,lightsuan] [--epochs 10]
        [--batch-size 64] [--lr 1e-2] [--lr-decay 1] [--patience 10] [--embedding-dim 16]
        [--categories 20] [--interests 2] [--items-per-category 5] [--json out.jsonl]

Each seed draws a new data set (seed s) and trains every model with seed s on the same rows:
users split 70/10/20 into train/valid/test (``split`` column), so test users are new and a model
must read the history. Every model gets the same epochs, batch size, learning rate and embedding
size and a constant learning rate with the epoch kept on validation (each model's own monitor);
the rest are each model's defaults. The constant rate matters: matching a target against a long
history starts slowly (validation AUC flat for ~5 epochs while the shared category embeddings
grow), and the default halving on every flat epoch had shrunk the rate to nothing by then (in a
check with the user and item-id columns left out, TIN stayed at test AUC 0.53 with the halving and
reached 0.795 with a constant rate, against a Bayes ceiling of 0.817).
Rows reported besides the models:

- ``Ceiling: Bayes`` — AUC of the generator's true click probabilities (knows current from old);
- ``Ceiling: order-blind`` — the best a model that sees the history as an unordered bag can do
  (DIN, QIN and AW-MoE read no position or time here);
- ``Reference (untrained)`` — ``modeling.references``: item popularity and the user's past
  click rate from the training rows (test users are new, so the latter is the global rate).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.intervals import fmt  # noqa: E402
from mlcore.api import RunContext  # noqa: E402
from modeling.algorithms import CTR_ALGORITHMS  # noqa: E402
from modeling.distill import SUAN_ALGORITHMS  # noqa: E402
from modeling.references import heuristic_references  # noqa: E402
from modeling.synthetic_sequences import InterestConfig, ceilings, interest_roles, make_interest_sequences  # noqa: E402

NAMES = {"lr": "LR (user, item, category ids)", "din": "DIN", "qin": "QIN", "tin": "TIN", "awmoe": "AW-MoE",
         "suan": "SUAN", "lightsuan": "LightSUAN", "item_ctr": "Reference (untrained): item popularity",
         "user_like_rate": "Reference (untrained): user's past click rate", "bayes": "Ceiling: Bayes (true p)",
         "order_blind": "Ceiling: order-blind (true p, current = old)"}


def train(key: str, frame, roles: dict[str, str], params: dict, workdir: Path):
    algo = {a.key: a for a in (*CTR_ALGORITHMS, *SUAN_ALGORITHMS)}[key]
    names = {p.name for p in algo.params}
    model_roles = dict(roles)
    if key == "lr":
        model_roles.update({c: "ignore" for c, r in roles.items() if r == "sequence"})
    ctx = RunContext(params=algo.validate({k: v for k, v in params.items() if k in names}), roles=model_roles,
                     workdir=workdir, read_table=lambda cols=None: frame[cols] if cols else frame)
    return algo.run(ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="200,1000")
    parser.add_argument("--rows", default="200=12000,1000=6000", help="rows per history length (6 per user)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--models", default="references,lr,din,qin,tin,awmoe,suan,lightsuan")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--patience", type=int, default=10, help="epochs without validation gain before stopping")
    parser.add_argument("--lr-decay", type=float, default=1.0,
                        help="learning-rate factor per epoch without validation gain (1 = constant; see the docstring)")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--embedding-dim", type=int, default=16)
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--interests", type=int, default=2, help="per phase (old, current)")
    parser.add_argument("--items-per-category", type=int, default=5)
    parser.add_argument("--json", default="", help="append every run's numbers to this JSON-lines file")
    parser.add_argument("--from-json", default="",
                        help="print the table of earlier --json files (comma-separated; one run per length, model and seed); train nothing")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    rows_for = {int(k): int(v) for k, v in (pair.split("=") for pair in args.rows.split(","))}
    roles = interest_roles()
    results: dict[tuple[int, str], list[dict]] = {}

    def record(length: int, seed: int, key: str, run: dict) -> None:
        results.setdefault((length, key), []).append(run)
        if args.json:
            with open(args.json, "a") as out:
                out.write(json.dumps({"length": length, "seed": seed, "model": key, **run}) + "\n")

    if args.from_json:
        seen = set()  # the ceilings of a seed are written by every invocation that drew its data
        for name in args.from_json.split(","):
            for line in Path(name).read_text().splitlines():
                run = json.loads(line)
                key = (run.pop("length"), run.pop("model"))
                if (*key, run.get("seed")) not in seen:
                    seen.add((*key, run.get("seed")))
                    results.setdefault(key, []).append(run)
        args.json = ""
    for length in (int(x) for x in args.lengths.split(",")) if not args.from_json else ():
        config = InterestConfig(n_users=rows_for.get(length, 6000) // 6, history_len=length,
                                n_categories=args.categories, n_interests=args.interests,
                                items_per_category=args.items_per_category)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            frame = make_interest_sequences(config, seed=seed)
            print(f"L={length} seed={seed}: {len(frame):,} rows, positive rate {frame.label.mean():.3f}, "
                  f"test ceilings {ceilings(frame)}", flush=True)
            for name, value in ceilings(frame).items():
                record(length, seed, name, {"auc": value})
            params = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": seed,
                      "max_len": length, "split_method": "column", "min_count": 1, "patience": args.patience,
                      "lr_decay": args.lr_decay, "embedding_dim": args.embedding_dim}
            for key in args.models.split(","):
                if key == "references":
                    refs = heuristic_references(frame[frame.split == "train"], frame[frame.split == "test"], roles)
                    for name, m in refs.items():
                        record(length, seed, name, m)
                    continue
                start = time.perf_counter()
                with tempfile.TemporaryDirectory() as workdir:
                    result = train(key, frame, roles, params, Path(workdir))
                wall = time.perf_counter() - start
                m, s = result.metrics, result.summary
                run = {"auc": m["auc"], "gauc": m.get("gauc"), "logloss": m["logloss"],
                       "samples_per_s": s.get("samples_per_s"), "best_epoch": s.get("best_epoch"), "wall_s": wall}
                record(length, seed, key, run)
                print(f"  L={length} seed={seed} {key}: AUC {m['auc']:.4f} GAUC {m.get('gauc', float('nan')):.4f} "
                      f"{s.get('samples_per_s', 0):,.0f} samples/s, best epoch {s.get('best_epoch')}, {wall:.0f} s",
                      flush=True)
    if args.from_json:
        print(f"from {args.from_json} (settings as that run had them)")
    else:
        print(f"\nepochs={args.epochs} batch={args.batch_size} lr={args.lr} embedding_dim={args.embedding_dim} "
              f"seeds={args.seeds} threads={torch.get_num_threads()}")
    print("| L | model | test AUC | test GAUC | samples/s | seeds |\n|---|---|---|---|---|---|")
    for (length, key), runs in results.items():
        speed = fmt([r["samples_per_s"] for r in runs if r.get("samples_per_s")], 0) if "samples_per_s" in runs[0] else "—"
        print(f"| {length} | {NAMES.get(key, key)} | {fmt([r['auc'] for r in runs])} | "
              f"{fmt([r.get('gauc') for r in runs])} | {speed} | {len(runs)} |")


if __name__ == "__main__":
    main()
