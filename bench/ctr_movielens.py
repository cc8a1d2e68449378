"""Every CTR model on MovieLens sequences held out by time: test AUC, GAUC, logloss, samples/s.

    python bench/ctr_movielens.py [--models lr,lr+like_rate,deepfm,din,qin,tin,awmoe,suan,lightsuan]
        [--epochs 3] [--batch-size 512] [--max-len 50] [--item-side none|tfidf|minilm] [--threads 2]
        [--lr 1e-3] [--lr-for lr=0.01,din=0.003] [--no-feedback] [--positive-history]

One row per rating with the user's strictly earlier ratings as history (``modeling.sequences``;
label = rating >= 4; genre as item field); each user's last 10 ratings are the test rows and the 5
before them validation. Every model runs through the same registered-algorithm interface the
workers use, with the same split, epochs, batch size and seed (learning rate per model with
``--lr-for``); LR and DeepFM see the user, item and genre ids but not the history. Histories carry
the user's feedback on each past rating (``hist_label``) unless ``--no-feedback``; ``lr+like_rate``
is LR given one hand-made history feature, the share of liked movies among the history, as a
stronger reference. ``references`` adds the untrained heuristic rows every CTR job now stores
(``modeling.references``: item popularity and the user's past like-rate, scored on the same test
rows from the training rows, no learning; seconds, so ``--models references`` alone refreshes
them without re-training). Prints a table and differences against LR.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from mlcore.api import RunContext  # noqa: E402
from mlcore.paths import shared_data_dir  # noqa: E402
from modeling.algorithms import CTR_ALGORITHMS  # noqa: E402
from modeling.distill import SUAN_ALGORITHMS  # noqa: E402
from modeling.references import heuristic_references  # noqa: E402
from modeling.sequences import SequenceConfig, build_sequences, load_movielens, sequence_roles  # noqa: E402

REFERENCE_NAMES = {"item_ctr": "item popularity", "user_like_rate": "user's past like-rate"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="references,lr,lr+like_rate,deepfm,din,qin,tin,awmoe,suan,lightsuan")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--item-side", default="none", choices=("none", "tfidf", "minilm"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--positive-history", action="store_true",
                        help="histories hold only the user's earlier positive ratings (DIN's protocol)")
    parser.add_argument("--no-feedback", action="store_true",
                        help="leave out hist_label (the user's feedback on each past rating) from the histories")
    parser.add_argument("--lr-for", default="", help="per-model learning rates, e.g. lr=0.01,din=0.003")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    log = load_movielens(shared_data_dir() / "movielens_latest_small")
    table = build_sequences(log.events, fields=log.fields,
                            config=SequenceConfig(max_len=args.max_len, valid_events=5, test_events=10,
                                                          positive_history=args.positive_history,
                                                          feedback=not args.no_feedback))
    print(f"MovieLens: {len(table):,} rows {table.split.value_counts().to_dict()}, "
          f"positive rate {table.label.mean():.3f}", flush=True)
    extra = {}
    if args.item_side != "none":
        from modeling.item_side import compute_item_embeddings

        extra["item_embeddings"] = compute_item_embeddings(log.items, method=args.item_side)
    roles = sequence_roles(log.fields, feedback=not args.no_feedback)
    if not args.no_feedback:  # a hand-made history feature for a stronger LR reference ("lr+like_rate")
        feedback = table["hist_label"]
        seen = feedback.str.count("[|]") + (feedback.str.len() > 0)
        table["hist_like_rate"] = (feedback.str.count("1") / seen).where(seen > 0)
    algos = {a.key: a for a in (*CTR_ALGORITHMS, *SUAN_ALGORITHMS)}
    rates = {k: float(v) for k, v in (pair.split("=") for pair in args.lr_for.split(",") if pair)}
    rows = []
    for key in args.models.split(","):
        if key == "references":
            refs = heuristic_references(table[table["split"] == "train"], table[table["split"] == "test"], roles)
            for name, m in refs.items():
                label = f"Reference (untrained): {REFERENCE_NAMES[name]}"
                rows.append((label, m["auc"], m.get("gauc", float("nan")), m["logloss"], 0.0, 0, 0.0))
                print(f"  {label}: AUC {m['auc']:.4f} GAUC {m.get('gauc', float('nan')):.4f}", flush=True)
            continue
        if key == "lr+like_rate" and args.no_feedback:
            continue
        algo = algos["lr" if key == "lr+like_rate" else key]
        names = {p.name for p in algo.params}
        raw = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": rates.get(key, args.lr), "seed": args.seed,
               "max_len": args.max_len, "split_method": "column", "patience": args.epochs + 1}
        params = algo.validate({k: v for k, v in raw.items() if k in names})
        model_roles = dict(roles)
        if key in ("lr", "lr+like_rate", "deepfm", "dcnv2"):  # tabular models: ids only, no history
            model_roles.update({c: "ignore" for c, r in roles.items() if r == "sequence"})
        if key == "lr+like_rate":
            model_roles["hist_like_rate"] = "numeric"
        with tempfile.TemporaryDirectory() as workdir:
            start = time.perf_counter()
            result = algo.run(RunContext(params=params, roles=model_roles, workdir=Path(workdir), extra=extra,
                                         read_table=lambda cols=None: table[cols] if cols else table))
            wall = time.perf_counter() - start
        m, s = result.metrics, result.summary
        rows.append((key, m["auc"], m.get("gauc", float("nan")), m["logloss"], s.get("samples_per_s", 0.0),
                     s.get("params_count", 0), wall))
        print(f"  {key}: AUC {m['auc']:.4f} GAUC {m.get('gauc', float('nan')):.4f} ({wall:.0f} s)", flush=True)
    base = next((r[1] for r in rows if r[0] == "lr"), None)
    print(f"\nepochs={args.epochs} batch={args.batch_size} lr={args.lr} max_len={args.max_len} "
          f"item_side={args.item_side} threads={args.threads}")
    print(f"| model | test AUC | test GAUC | logloss | samples/s | params | AUC − LR |\n|---|---|---|---|---|---|---|")
    for key, auc, gauc, loss, speed, n_params, wall in rows:
        diff = f"{auc - base:+.4f}" if base is not None else ""
        speed_cell, params_cell = (f"{speed:,.0f}", f"{n_params:,}") if n_params else ("—", "—")
        print(f"| {key} | {auc:.4f} | {gauc:.4f} | {loss:.4f} | {speed_cell} | {params_cell} | {diff} |")


if __name__ == "__main__":
    main()
