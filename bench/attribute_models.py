"""Zero-shot and inductive quality of the three attribute methods on OA-Mine and AE-110K.

Usage (from the repository root):
    .venv/bin/python bench/attribute_models.py [--datasets oa-mine ae-110k] [--seeds 3]
        [--encoder tfidf|minilm] [--threads 1] [--json results.json]

Prints one markdown table: mean ± std over seeded splits of the test metrics, with the
threshold and HyperPAVE's beta/gamma chosen on validation products only.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from attributes.algorithms import ATTRIBUTE_ALGORITHMS  # noqa: E402
from attributes.evaluation import make_split, mean_std  # noqa: E402
from attributes.features import encode_node_features  # noqa: E402
from attributes.hypergraph import encode_catalogue  # noqa: E402
from attributes.io import load_extractgpt  # noqa: E402
from attributes.pipeline import evaluate_method  # noqa: E402

COLUMNS = ("micro_f1", "macro_f1", "map", "recall@5", "hit@5", "unseen_map", "seen_map")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["oa-mine", "ae-110k"])
    parser.add_argument("--protocols", nargs="+", default=["zero_shot", "inductive"])
    parser.add_argument("--methods", nargs="+",
                        default=["text_similarity", "multilabel_classifier", "hyperpave"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--encoder", default="tfidf", choices=["tfidf", "minilm"])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 avoids contention on a shared 2-core machine")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    algorithms = {a.key: a for a in ATTRIBUTE_ALGORITHMS}
    results = []
    print(f"encoder={args.encoder} seeds={args.seeds} threads={args.threads}")
    print("| dataset | split | method | " + " | ".join(COLUMNS) + " | s/split |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for dataset in args.datasets:
        products, labels = load_extractgpt(dataset)
        catalogue = encode_catalogue(products, labels)
        features = encode_node_features(catalogue, method=args.encoder,
                                        dim=256 if args.encoder == "tfidf" else 384)
        for protocol in args.protocols:
            splits = [make_split(catalogue, protocol, seed) for seed in range(args.seeds)]
            for method in args.methods:
                params = algorithms[method].validate({"text_encoder": args.encoder})
                runs, extras, started = [], [], time.perf_counter()
                for split in splits:
                    _, threshold, metrics, _, info = evaluate_method(
                        catalogue, features, split, method, params)
                    runs.append(metrics)
                    extras.append({k: info[k] for k in ("beta", "gamma", "epochs_run")
                                   if k in info} | {"threshold": threshold})
                seconds = (time.perf_counter() - started) / len(splits)
                summary = mean_std(runs)
                cells = [f"{summary[c]:.3f} ± {summary[c + '_std']:.3f}" for c in COLUMNS]
                print(f"| {dataset} | {protocol} | {method} | " + " | ".join(cells) +
                      f" | {seconds:.0f} |", flush=True)
                results.append({"dataset": dataset, "protocol": protocol, "method": method,
                                "encoder": args.encoder, "metrics": summary, "runs": extras,
                                "split_sizes": [[len(s.train_products), len(s.valid_products),
                                                 len(s.test_products)] for s in splits]})
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
