"""Train every uplift model on generated MT-LIFT-like data and on Hillstrom; print normalised Qini with CIs.

    python bench/uplift_models.py [--rows 50000] [--arms 4] [--epochs 5] [--datasets synthetic,hillstrom]
                                  [--models ecup,s_learner,...] [--device cpu] [--threads 1] [--json out.json]

Every model gets the same seeded split (stratified by arm, test 20 %), the same epochs and batch
size. Numbers are on the test rows: the scikit-uplift Qini coefficient (normalised Qini) averaged
over treated arms for CTR and CTCVR uplift, arm 1's own value with its 95 % bootstrap interval, Spearman correlation
with the true effect (generated data only), factual AUC and training throughput.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from mlcore.api import RunContext  # noqa: E402
from mlcore.paths import shared_data_dir  # noqa: E402
from uplift.algorithms import UPLIFT_ALGORITHMS  # noqa: E402
from uplift.synthetic import make_chain_uplift, synthetic_roles  # noqa: E402

HILLSTROM = "hillstrom/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"
HILLSTROM_ROLES = {"recency": "numeric", "history_segment": "categorical", "history": "numeric",
                   "mens": "categorical", "womens": "categorical", "zip_code": "categorical",
                   "newbie": "categorical", "channel": "categorical", "segment": "treatment", "visit": "visit",
                   "conversion": "conversion", "spend": "revenue"}


def load(name: str, rows: int, arms: int) -> tuple[pd.DataFrame, dict[str, str]]:
    if name == "synthetic":
        frame = make_chain_uplift(rows, n_features=12, n_treatments=arms, seed=7)
        return frame, synthetic_roles(frame)
    return pd.read_csv(shared_data_dir() / HILLSTROM), HILLSTROM_ROLES


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
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    algorithms = {a.key: a for a in UPLIFT_ALGORITHMS}
    everything = {}
    for dataset in args.datasets.split(","):
        frame, roles = load(dataset, args.rows, args.arms)
        print(f"\n{dataset}: {len(frame):,} rows; device {args.device}, {args.epochs} epochs")
        print(f"{'model':<14}{'Qini CTR':>10}{'arm1 [95% CI]':>25}{'Qini CTCVR':>12}{'arm1 [95% CI]':>25}"
              f"{'rho CTR':>9}{'rho CTCVR':>10}{'AUC CTR':>9}{'AUC CTCVR':>10}{'samples/s':>11}{'seconds':>9}")
        for key in args.models.split(","):
            algo = algorithms[key]
            raw = {"n_bootstrap": 200}
            if key != "gbm_two_model":
                raw.update(epochs=args.epochs, batch_size=args.batch_size, patience=args.epochs)
            params = algo.validate(raw)
            with tempfile.TemporaryDirectory() as workdir:
                start = time.perf_counter()
                result = algo.run(RunContext(params=params, roles=roles, workdir=Path(workdir), device=args.device,
                                             read_table=lambda cols=None: frame[cols] if cols else frame))
                seconds = time.perf_counter() - start
            m = result.metrics
            everything[f"{dataset}/{key}"] = {"metrics": m, "summary": {k: v for k, v in result.summary.items()
                                                                        if k != "metric_definitions"}}

            def ci(task: str) -> str:
                nan = float("nan")
                return (f"{m.get(f'sklift_qini_{task}_arm1', nan):+.3f} [{m.get(f'sklift_qini_{task}_arm1_low', nan):+.3f},"
                        f" {m.get(f'sklift_qini_{task}_arm1_high', nan):+.3f}]")

            print(f"{key:<14}{m.get('sklift_qini_ctr', float('nan')):>10.4f}{ci('ctr'):>25}"
                  f"{m.get('sklift_qini_ctcvr', float('nan')):>12.4f}{ci('ctcvr'):>25}"
                  f"{m.get('spearman_true_ctr', float('nan')):>9.3f}{m.get('spearman_true_ctcvr', float('nan')):>10.3f}"
                  f"{m.get('auc_ctr', float('nan')):>9.4f}{m.get('auc_ctcvr', float('nan')):>10.4f}"
                  f"{result.summary.get('samples_per_s', 0):>11,.0f}{seconds:>9.1f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
