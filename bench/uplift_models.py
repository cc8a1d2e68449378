"""Train every uplift model on generated MT-LIFT-like data and on Hillstrom; print normalised Qini with CIs.

    python bench/uplift_models.py [--rows 50000] [--arms 4] [--epochs 5] [--datasets synthetic,hillstrom]
                                  [--models ecup,s_learner,...] [--device cpu] [--threads 1] [--json out.json]
                                  [--seeds 3] [--effect-on both|cvr] [--param monitor=loss ...]

Every model gets the same seeded split (stratified by arm, test 20 %), the same epochs and batch
size. Numbers are on the test rows: the scikit-uplift Qini coefficient (normalised Qini) averaged
over treated arms for CTR and CTCVR uplift, arm 1's own value with its 95 % bootstrap interval, Spearman correlation
with the true effect (generated data only), factual AUC and training throughput.

With ``--seeds N`` every dataset is run N times (seed s: the generated data is drawn with seed
7 + s, and the split, initialisation and bootstrap use seed s), and a summary table gives the
mean ± 95 % t-interval over seeds. ``--effect-on cvr`` generates data where the treatment changes
only P(conversion | click) (``uplift.synthetic``: the true CTR effect is zero). Reference rows, on
each seed's own test rows: ``random`` (uniform random uplift scores: the metrics' noise level) and,
on generated data, ``oracle`` (the true per-row effect as the score: the ceiling).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from bench.intervals import fmt  # noqa: E402
from uplift import metrics as M  # noqa: E402

from mlcore.api import RunContext  # noqa: E402
from mlcore.paths import shared_data_dir  # noqa: E402
from uplift.algorithms import UPLIFT_ALGORITHMS  # noqa: E402
from uplift.pipeline import SCORES_FILE  # noqa: E402
from uplift.synthetic import make_chain_uplift, synthetic_roles  # noqa: E402

HILLSTROM = "hillstrom/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"
HILLSTROM_ROLES = {"recency": "numeric", "history_segment": "categorical", "history": "numeric",
                   "mens": "categorical", "womens": "categorical", "zip_code": "categorical",
                   "newbie": "categorical", "channel": "categorical", "segment": "treatment", "visit": "visit",
                   "conversion": "conversion", "spend": "revenue"}


def load(name: str, rows: int, arms: int, seed: int = 0, effect_on: str = "both") -> tuple[pd.DataFrame, dict[str, str]]:
    if name == "synthetic":
        frame = make_chain_uplift(rows, n_features=12, n_treatments=arms, seed=7 + seed, effect_on=effect_on)
        return frame, synthetic_roles(frame)
    return pd.read_csv(shared_data_dir() / HILLSTROM), HILLSTROM_ROLES


def reference_metrics(heldout: pd.DataFrame, scorer: str, seed: int) -> dict[str, float]:
    """Mean-over-arms Qini (and Spearman with the true effect) of ``random`` or ``oracle`` scores on
    a run's held-out rows (``heldout_scores.parquet``)."""
    rng = np.random.default_rng(seed)
    t = heldout["arm_index"].to_numpy()
    out: dict[str, float] = {}
    for task, y in (("ctr", heldout["click"].to_numpy()), ("ctcvr", heldout["conversion"].to_numpy())):
        qini, rho = [], []
        for k in range(1, int(t.max()) + 1):
            rows = (t == 0) | (t == k)
            truth = heldout.get(f"true_uplift_{task}_{k}")
            if scorer == "oracle":
                if truth is None:
                    return {}
                s = truth.to_numpy()[rows]
            else:
                s = rng.random(int(rows.sum()))
            qini.append(M.sklift_qini_auc_score(y[rows], s, t[rows] == k))
            if truth is not None and np.ptp(truth.to_numpy()[rows]) > 0:
                rho.append(float(spearmanr(s, truth.to_numpy()[rows]).statistic))
        out[f"sklift_qini_{task}"] = float(np.mean(qini))
        if rho:
            out[f"spearman_true_{task}"] = float(np.mean(rho))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--arms", type=int, default=4, help="treated arms in the generated data")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--datasets", default="synthetic,hillstrom")
    parser.add_argument("--models", default=",".join(a.key for a in UPLIFT_ALGORITHMS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--json", default="", help="also write every metric to this file")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyperparameter for every model that has it (repeatable), e.g. monitor=loss")
    parser.add_argument("--seeds", type=int, default=1, help="repeat each dataset with seeds 0..N-1 (see above)")
    parser.add_argument("--effect-on", default="both", choices=("both", "cvr"),
                        help="generated data: treatment acts on clicks and conversions, or on conversions only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    algorithms = {a.key: a for a in UPLIFT_ALGORITHMS}
    everything = {}
    runs: dict[tuple[str, str], list[dict]] = {}
    for dataset in args.datasets.split(","):
        for seed in range(args.seeds):
            frame, roles = load(dataset, args.rows, args.arms, seed, args.effect_on)
            print(f"\n{dataset} (seed {seed}, effect on {args.effect_on}): {len(frame):,} rows; device {args.device}, "
                  f"{args.epochs} epochs")
            print(f"{'model':<14}{'Qini CTR':>10}{'arm1 [95% CI]':>25}{'Qini CTCVR':>12}{'arm1 [95% CI]':>25}"
                  f"{'rho CTR':>9}{'rho CTCVR':>10}{'AUC CTR':>9}{'AUC CTCVR':>10}{'samples/s':>11}{'seconds':>9}")
            for i, key in enumerate(args.models.split(",")):
                algo = algorithms[key]
                raw = {"n_bootstrap": 200, "seed": seed}
                if key != "gbm_two_model":
                    raw.update(epochs=args.epochs, batch_size=args.batch_size, patience=args.epochs)
                known = {p.name for p in algo.params}
                raw.update({n: v for n, v in (item.split("=", 1) for item in args.param) if n in known})
                params = algo.validate(raw)
                with tempfile.TemporaryDirectory() as workdir:
                    start = time.perf_counter()
                    result = algo.run(RunContext(params=params, roles=roles, workdir=Path(workdir), device=args.device,
                                                 read_table=lambda cols=None: frame[cols] if cols else frame))
                    seconds = time.perf_counter() - start
                    if i == 0:  # the reference rows, on this seed's held-out rows (the same for every model)
                        heldout = pd.read_parquet(Path(workdir) / SCORES_FILE)
                        for scorer in ("random", "oracle"):
                            ref = reference_metrics(heldout, scorer, seed)
                            if ref:
                                runs.setdefault((dataset, scorer), []).append(ref)
                m = result.metrics
                runs.setdefault((dataset, key), []).append({**m, "samples_per_s": result.summary.get("samples_per_s")})
                everything[f"{dataset}/{seed}/{key}"] = {"metrics": m, "summary": {
                    k: v for k, v in result.summary.items() if k != "metric_definitions"}}

                def ci(task: str) -> str:
                    nan = float("nan")
                    return (f"{m.get(f'sklift_qini_{task}_arm1', nan):+.3f} [{m.get(f'sklift_qini_{task}_arm1_low', nan):+.3f},"
                            f" {m.get(f'sklift_qini_{task}_arm1_high', nan):+.3f}]")

                print(f"{key:<14}{m.get('sklift_qini_ctr', float('nan')):>10.4f}{ci('ctr'):>25}"
                      f"{m.get('sklift_qini_ctcvr', float('nan')):>12.4f}{ci('ctcvr'):>25}"
                      f"{m.get('spearman_true_ctr', float('nan')):>9.3f}{m.get('spearman_true_ctcvr', float('nan')):>10.3f}"
                      f"{m.get('auc_ctr', float('nan')):>9.4f}{m.get('auc_ctcvr', float('nan')):>10.4f}"
                      f"{result.summary.get('samples_per_s', 0):>11,.0f}{seconds:>9.1f}", flush=True)
    print(f"\nmean ± 95 % t-interval over {args.seeds} seed(s); rows={args.rows} arms={args.arms} epochs={args.epochs} "
          f"batch={args.batch_size} effect_on={args.effect_on}")
    print("| data | model | Qini CTR | Qini CTCVR | ρ CTR | ρ CTCVR | samples/s |\n|---|---|---|---|---|---|---|")
    for (dataset, key), ms in runs.items():
        cells = [fmt([m.get(name, float("nan")) for m in ms], 3)
                 for name in ("sklift_qini_ctr", "sklift_qini_ctcvr", "spearman_true_ctr", "spearman_true_ctcvr")]
        speed = fmt([m["samples_per_s"] for m in ms], 0) if ms[0].get("samples_per_s") else "—"
        print(f"| {dataset} | {key} | {' | '.join(cells)} | {speed} |")
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
