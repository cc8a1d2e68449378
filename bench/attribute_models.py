"""Zero-shot and inductive quality of the three attribute methods on OA-Mine and AE-110K.

Usage (from the repository root):
    .venv/bin/python bench/attribute_models.py [--datasets oa-mine ae-110k] [--seeds 3]
        [--candidates vocabulary|training|oracle] [--encoder tfidf|minilm] [--threads 1]
        [--json results.json]

Prints one markdown table: mean ± 95 % t-interval over seeded splits of the test metrics, with
the thresholds and HyperPAVE's beta/gamma chosen on validation products only, then each
method's paired margin over text similarity (the untrained reference) per split.

Candidate values (``--candidates``):

- ``vocabulary`` (default, honest): the training products' values plus an analyst vocabulary
  that lists every value of each attribute *without* saying in which category or on which
  product it occurs (a held-out value is a candidate wherever its attribute occurs);
- ``training``: the training products' values only (no vocabulary: zero-shot values cannot
  be found at all);
- ``oracle``: every labelled (category, value) pair, test products' included: the old,
  optimistic protocol ("oracle candidates"), kept only for comparison.
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
from bench.intervals import fmt  # noqa: E402

COLUMNS = ("micro_f1", "macro_f1", "map", "recall@5", "hit@5", "unseen_map", "seen_map")
MARGINS = ("map", "micro_f1", "unseen_map")


def cell(values) -> str:
    """``0.812 ± 0.004``: mean ± 95 % t-interval over seeds (``bench.intervals``)."""
    return fmt(list(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["oa-mine", "ae-110k"])
    parser.add_argument("--protocols", nargs="+", default=["zero_shot", "inductive"])
    parser.add_argument("--methods", nargs="+",
                        default=["text_similarity", "multilabel_classifier", "hyperpave"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--candidates", default="vocabulary",
                        choices=["vocabulary", "training", "oracle"])
    parser.add_argument("--encoder", default="tfidf", choices=["tfidf", "minilm"])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 avoids contention on a shared 2-core machine")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    algorithms = {a.key: a for a in ATTRIBUTE_ALGORITHMS}
    results, margin_rows = [], []
    print(f"encoder={args.encoder} seeds={args.seeds} candidates={args.candidates} "
          f"threads={args.threads}")
    print("| dataset | split | method | " + " | ".join(COLUMNS) + " | s/split |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for dataset in args.datasets:
        products, labels = load_extractgpt(dataset)
        vocabulary = labels[["attribute", "value"]].drop_duplicates() \
            if args.candidates == "vocabulary" else None
        catalogue = encode_catalogue(products, labels, vocabulary,
                                     oracle_candidates=args.candidates == "oracle")
        features = encode_node_features(catalogue, method=args.encoder,
                                        dim=256 if args.encoder == "tfidf" else 384)
        for protocol in args.protocols:
            splits = [make_split(catalogue, protocol, seed) for seed in range(args.seeds)]
            per_method = {}
            for method in args.methods:
                params = algorithms[method].validate({"text_encoder": args.encoder})
                runs, extras, started = [], [], time.perf_counter()
                for split in splits:
                    _, threshold, metrics, _, info = evaluate_method(
                        catalogue, features, split, method, params)
                    runs.append(metrics)
                    extras.append({k: info[k] for k in ("beta", "gamma", "epochs_run", "centring_kept",
                                                        "centring_valid_map")
                                   if k in info} | {"thresholds": threshold})
                seconds = (time.perf_counter() - started) / len(splits)
                summary = mean_std(runs)
                per_method[method] = runs
                cells = [cell(run.get(c, 0.0) for run in runs) for c in COLUMNS]
                label = f"{method} (reference, untrained)" if method == "text_similarity" \
                    else method
                print(f"| {dataset} | {protocol} | {label} | " + " | ".join(cells) +
                      f" | {seconds:.0f} |", flush=True)
                kept = [e["centring_kept"] for e in extras if "centring_kept" in e]
                if kept:  # center_embeddings=auto: what validation chose on each split
                    print(f"  ({dataset}, {method}: centring kept on validation, per split: {', '.join(kept)})",
                          flush=True)
                results.append({"dataset": dataset, "protocol": protocol, "method": method,
                                "encoder": args.encoder, "candidates": args.candidates,
                                "metrics": summary, "per_split": runs,
                                "runs": [{k: (v.tolist() if hasattr(v, "tolist") else v)
                                          for k, v in e.items()} for e in extras],
                                "split_sizes": [[len(s.train_products), len(s.valid_products),
                                                 len(s.test_products)] for s in splits]})
            if "text_similarity" in per_method:
                base = per_method["text_similarity"]
                for method, runs in per_method.items():
                    if method == "text_similarity":
                        continue
                    margins = {m: cell(r.get(m, 0.0) - b.get(m, 0.0) for r, b in zip(runs, base))
                               for m in MARGINS}
                    margin_rows.append(f"| {dataset} | {protocol} | {method} | " +
                                       " | ".join(margins[m] for m in MARGINS) + " |")
    if margin_rows:
        print("\nPaired margin over text similarity (mean ± 95 % t-interval over splits):")
        print("| dataset | split | method | " + " | ".join(MARGINS) + " |")
        print("|---" * (len(MARGINS) + 3) + "|")
        print("\n".join(margin_rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
