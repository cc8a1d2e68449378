"""SUAN teacher vs distilled LightSUAN student (and LightSUAN alone) on MovieLens sequences.

    python bench/suan_movielens.py [--epochs 3] [--max-len 50] [--test-events 10] [--valid-events 5]
        [--item-side none|tfidf|minilm] [--runs distill,lightsuan,suan] [--threads 2] [--json out.json]

Builds one row per rating with the user's strictly earlier ratings as history
(``modeling/sequences.py``; label = rating ≥ 4), holds out each user's last ``--test-events``
ratings as test and the ``--valid-events`` before them as validation (held out by time per user),
then runs the registered algorithms through the same job interface the workers use. AUC, GAUC and
logloss are on the test rows; latency is the median time to score one batch of ``--batch-size`` rows.

Measured 2026-11-25 with the user's feedback on each past rating in the histories (``hist_label``;
CPU, 2 cores, 3 epochs, lr 1e-3, max_len 50, 91,686 train / 3,050 valid / 6,100 test rows; teacher SUAN
d=16 × 2 blocks, student LightSUAN d=8 × 1 block, window 8, dilation 4; ``--runs distill``):

| run | model | test AUC | test GAUC | logloss | latency ms / 512-row batch | params |
|---|---|---|---|---|---|---|
| suan_distill | SUAN teacher | 0.7697 | 0.6040 | 0.5703 | 81.7 | 251,689 |
| suan_distill | LightSUAN student (served) | 0.7727 | 0.6076 | 0.5721 | 36.5 | 129,577 |

(LR on the same rows: 0.7504 / GAUC 0.6577.) Before ``hist_label`` existed the same run gave teacher
0.7472 and student 0.7494. Latency varies several-fold with the load on a shared CPU; compare teacher
and student only within one run.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from mlcore.api import RunContext  # noqa: E402
from mlcore.paths import shared_data_dir  # noqa: E402
from modeling.distill import SUAN_ALGORITHMS  # noqa: E402
from modeling.item_side import compute_item_embeddings  # noqa: E402
from modeling.sequences import SequenceConfig, build_sequences, load_movielens, sequence_roles  # noqa: E402


class Progress:
    """Prints the training phase every 10% (the job system would store it instead)."""

    def __init__(self):
        self.shown = -1

    def __call__(self, fraction: float, phase: str) -> None:
        step = int(fraction * 10)
        if step != self.shown:
            self.shown = step
            print(f"    {fraction:.0%} {phase} ({time.strftime('%H:%M:%S')})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--test-events", type=int, default=10)
    parser.add_argument("--valid-events", type=int, default=5)
    parser.add_argument("--item-side", default="none", choices=("none", "tfidf", "minilm"))
    parser.add_argument("--runs", default="distill,lightsuan")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    log = load_movielens(shared_data_dir() / "movielens_latest_small")
    table = build_sequences(log.events, fields=log.fields, config=SequenceConfig(
        max_len=args.max_len, valid_events=args.valid_events, test_events=args.test_events))
    print(f"{len(table):,} rows, split {table.split.value_counts().to_dict()}, positive rate {table.label.mean():.3f}", flush=True)
    extra = {}
    if args.item_side != "none":
        start = time.perf_counter()
        extra["item_embeddings"] = compute_item_embeddings(log.items, method=args.item_side)
        print(f"item embeddings ({args.item_side}) in {time.perf_counter() - start:.1f}s", flush=True)
    roles = sequence_roles(log.fields)
    common = dict(epochs=args.epochs, batch_size=args.batch_size, max_len=args.max_len, seed=args.seed)
    runs = {
        "distill": ("suan_distill", {}),
        "lightsuan": ("lightsuan", {}),
        "suan": ("suan", {"embedding_dim": 16}),  # the teacher's grade, trained alone
    }
    results = {}
    for name in args.runs.split(","):
        key, params = runs[name]
        algo = next(a for a in SUAN_ALGORITHMS if a.key == key)
        with tempfile.TemporaryDirectory() as workdir:
            ctx = RunContext(params=algo.validate({**common, **params}), roles=roles,
                             read_table=lambda cols=None: table[cols] if cols else table, workdir=Path(workdir),
                             log=lambda m: print("   ", m, flush=True), progress=Progress(), extra=extra)
            start = time.perf_counter()
            result = algo.run(ctx)
        results[name] = {"metrics": result.metrics, "summary": result.summary, "seconds": time.perf_counter() - start}
        print(name, json.dumps({k: round(v, 4) for k, v in result.metrics.items()}), flush=True)
    print("\n| run | model | test AUC | test GAUC | logloss | latency ms / batch | params |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        m, s = r["metrics"], r["summary"]
        if name == "distill":
            for who in ("teacher", "student"):
                print(f"| distill | {who} | {m[who + '_auc']:.4f} | {m[who + '_gauc']:.4f} | {m[who + '_logloss']:.4f} "
                      f"| {m[who + '_latency_ms']:.1f} | {s[who + '_params']:,} |")
        else:
            print(f"| {name} | alone | {m['auc']:.4f} | {m['gauc']:.4f} | {m['logloss']:.4f} | {m['latency_ms']:.1f} "
                  f"| {s['params_count']:,} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
