"""This engine against FuxiCTR on the same rows: test AUC/logloss, training samples/s and the ratio.

    pip install -e '.[bench]'          # FuxiCTR 2.3 and its data stack (polars, ray[data])
    python bench/fuxictr_compare.py [--task criteo|movielens|both] [--epochs 3] [--batch-size 2048] [--threads 2]

Tasks:

- ``criteo``: DeepFM on ``criteo_attribution_small/small_train.parquet`` (5 categorical fields),
  one seeded 80/10/10 split written out once and read by both engines.
- ``movielens``: DIN on MovieLens sequences (label = rating >= 4; history = the user's earlier
  ratings, most recent 20; genre as item field; held out by time) from
  :mod:`modeling.sequences`, the same rows for both engines.

Same embedding size, MLP widths, batch size, epochs, optimiser (Adam, same learning rate), no
regularisation, no early stopping on either side. FuxiCTR runs its own pipeline end to end:
``FeatureProcessor`` + ``build_dataset`` (parquet), ``RankDataLoader``, ``BaseModel.fit``. Its
``DeepFM`` and ``DIN`` live in FuxiCTR's model zoo, not in the pip package, so this script assembles
them from FuxiCTR's own layers (``FeatureEmbedding``, ``FactorizationMachine``, ``MLP_Block``,
``DIN_Attention``) the way its zoo does.

samples/s counts training steps only on both sides (validation passes are timed and removed); AUC
and logloss are on the test rows, which neither engine sees while training.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from mlcore.api import RunContext  # noqa: E402
from mlcore.paths import shared_data_dir  # noqa: E402

CRITEO_CATS = ["cat1", "cat4", "cat6", "cat8", "cat9"]


# --------------------------------------------------------------------------------------- data
def criteo_parts(seed: int = 2024) -> tuple[dict[str, pd.DataFrame], dict]:
    """The Criteo sample split 80/10/10 with a seed; returns the parts and the task description."""
    df = pd.read_parquet(shared_data_dir() / "criteo_attribution_small" / "small_train.parquet")
    df = df[CRITEO_CATS + ["click"]].copy()
    for c in CRITEO_CATS:
        df[c] = df[c].astype(str)
    u = np.random.default_rng(seed).random(len(df))
    parts = {"train": df[u < 0.8], "valid": df[(u >= 0.8) & (u < 0.9)], "test": df[u >= 0.9]}
    task = {"label": "click", "categorical": CRITEO_CATS, "sequences": {}, "item": None, "user": None}
    return {k: v.reset_index(drop=True) for k, v in parts.items()}, task


def movielens_parts(max_len: int = 20) -> tuple[dict[str, pd.DataFrame], dict]:
    """MovieLens events with their time-ordered histories, each user's last 10 ratings as test and
    the 5 before them as validation (see modeling.sequences)."""
    from modeling.sequences import SEP, SequenceConfig, build_sequences, load_movielens

    log = load_movielens(shared_data_dir() / "movielens_latest_small")
    table = build_sequences(log.events, fields=log.fields,
                            config=SequenceConfig(max_len=max_len, valid_events=5, test_events=10))
    keep = ["label", "user_id", "item_id", "genre", "hist_item_id", "hist_genre"]
    parts = {}
    for k in ("train", "valid", "test"):
        part = table.loc[table["split"] == k, keep].reset_index(drop=True)
        for c in ("hist_item_id", "hist_genre"):  # FuxiCTR splits on "^"; an empty history stays empty
            part[c] = part[c].fillna("").astype(str).str.replace(SEP, "^", regex=False)
        parts[k] = part
    task = {"label": "label", "categorical": ["user_id", "item_id", "genre"],
            "sequences": {"hist_item_id": "item_id", "hist_genre": "genre"}, "item": "item_id", "user": "user_id",
            "max_len": max_len}
    return parts, task


# --------------------------------------------------------------------------------------- ours
def run_ours(model: str, parts: dict[str, pd.DataFrame], task: dict, args) -> dict:
    """Train with this engine through the registered algorithm, on the given split."""
    from modeling.algorithms import CTR_ALGORITHMS

    algo = {a.key: a for a in CTR_ALGORITHMS}[model]
    df = pd.concat([p.assign(_part=k) for k, p in parts.items()], ignore_index=True)
    roles = {c: "categorical" for c in task["categorical"]}
    roles.update({c: "sequence" for c in task["sequences"]})
    if task["user"]:
        roles[task["user"]] = "user_id"
    if task["item"]:
        roles[task["item"]] = "item_id"
    roles[task["label"]] = "label"
    roles["_part"] = "split"
    for c in df.columns:
        roles.setdefault(c, "ignore")
    raw = {"epochs": args.epochs, "batch_size": args.batch_size, "patience": args.epochs + 1, "lr": args.lr,
           "split_method": "column", "min_count": 1, "embedding_dim": args.embedding_dim,
           "hidden_units": args.hidden_units, "seed": args.seed}
    raw = {k: v for k, v in raw.items() if k in {p.name for p in algo.params}}
    if "max_len" in {p.name for p in algo.params} and task.get("max_len"):
        raw["max_len"] = task["max_len"]
    params = algo.validate(raw)
    with tempfile.TemporaryDirectory() as workdir:
        result = algo.run(RunContext(params=params, roles=roles, workdir=Path(workdir),
                                     read_table=lambda cols=None: df[cols] if cols else df))
    return {"auc": result.metrics["auc"], "logloss": result.metrics["logloss"],
            "samples_per_s": result.summary["samples_per_s"], "params": result.summary.get("params_count")}


# --------------------------------------------------------------------------------------- FuxiCTR
def _fuxictr_models():
    from fuxictr.pytorch.layers import (DIN_Attention, FactorizationMachine, FeatureEmbedding, FeatureEmbeddingDict,
                                       MLP_Block)
    from fuxictr.pytorch.models import BaseModel

    class TimedModel(BaseModel):
        """BaseModel that times its validation passes so they can be removed from throughput."""

        eval_seconds = 0.0

        def eval_step(self):
            t0 = time.perf_counter()
            super().eval_step()
            self.eval_seconds += time.perf_counter() - t0

    class FxDeepFM(TimedModel):
        def __init__(self, feature_map, embedding_dim, hidden_units, lr, **kwargs):
            super().__init__(feature_map, model_id="DeepFM", **kwargs)
            self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
            self.fm = FactorizationMachine(feature_map)
            self.mlp = MLP_Block(input_dim=feature_map.sum_emb_out_dim(), output_dim=1, hidden_units=hidden_units,
                                 hidden_activations="ReLU", output_activation=None, dropout_rates=0.0, batch_norm=False)
            self.compile("adam", "binary_crossentropy", lr)
            self.reset_parameters()
            self.model_to_device()

        def forward(self, inputs):
            X = self.get_inputs(inputs)
            emb = self.embedding_layer(X)
            y = self.fm(X, emb) + self.mlp(emb.flatten(start_dim=1))
            return {"y_pred": self.output_activation(y)}

    class FxDIN(TimedModel):
        def __init__(self, feature_map, embedding_dim, hidden_units, lr, target_fields, sequence_fields, **kwargs):
            super().__init__(feature_map, model_id="DIN", **kwargs)
            self.target_fields, self.sequence_fields = target_fields, sequence_fields
            self.embedding_layer = FeatureEmbeddingDict(feature_map, embedding_dim)
            width = embedding_dim * len(target_fields)
            self.attention = DIN_Attention(width, attention_units=[64], hidden_activations="Dice",
                                           use_softmax=False)
            self.mlp = MLP_Block(input_dim=feature_map.sum_emb_out_dim(), output_dim=1, hidden_units=hidden_units,
                                 hidden_activations="ReLU", output_activation=None, dropout_rates=0.0, batch_norm=False)
            self.compile("adam", "binary_crossentropy", lr)
            self.reset_parameters()
            self.model_to_device()

        def forward(self, inputs):
            X = self.get_inputs(inputs)
            emb = self.embedding_layer(X)  # field -> (B, D), sequences -> (B, L, D)
            target = torch.cat([emb[f] for f in self.target_fields], dim=-1)
            seq = torch.cat([emb[f] for f in self.sequence_fields], dim=-1)
            mask = X[self.sequence_fields[0]].long() != 0
            pooled = self.attention(target, seq, mask)
            for f, value in zip(self.sequence_fields, pooled.split(emb[self.target_fields[0]].shape[-1], dim=-1)):
                emb[f] = value
            flat = self.embedding_layer.dict2tensor(emb, flatten_emb=True)
            return {"y_pred": self.output_activation(self.mlp(flat))}

    return FxDeepFM, FxDIN


def run_fuxictr(model: str, parts: dict[str, pd.DataFrame], task: dict, args) -> dict:
    """Train with FuxiCTR's own preprocessing, loader and training loop on the same parts."""
    from fuxictr.features import FeatureMap
    from fuxictr.preprocess import FeatureProcessor, build_dataset
    from fuxictr.pytorch.dataloaders import RankDataLoader
    from fuxictr.pytorch.torch_utils import seed_everything

    FxDeepFM, FxDIN = _fuxictr_models()
    seed_everything(args.seed)
    with tempfile.TemporaryDirectory() as root:
        root_path = Path(root)
        paths = {}
        for name, part in parts.items():
            paths[name] = str(root_path / f"{name}.csv")
            part.to_csv(paths[name], index=False)
        cols = [{"name": c, "active": True, "dtype": "str", "type": "categorical"} for c in task["categorical"]]
        for seq, shared in task["sequences"].items():
            cols.append({"name": seq, "active": True, "dtype": "str", "type": "sequence", "splitter": "^",
                         "max_len": task["max_len"], "padding": "pre", "share_embedding": shared,
                         "feature_encoder": None})
        processor = FeatureProcessor(feature_cols=cols, label_col={"name": task["label"], "dtype": "float"},
                                     dataset_id="bench", data_root=str(root_path / "data"))
        train, valid, test = build_dataset(processor, train_data=paths["train"], valid_data=paths["valid"],
                                           test_data=paths["test"], min_categr_count=1, data_format="csv")
        feature_map = FeatureMap("bench", processor.data_dir)
        feature_map.load(str(Path(processor.data_dir) / "feature_map.json"), {"embedding_dim": args.embedding_dim})
        common = dict(gpu=-1, monitor="AUC", monitor_mode="max", early_stop_patience=args.epochs + 1,
                      reduce_lr_on_plateau=False, model_root=str(root_path / "models"), metrics=["logloss", "AUC"],
                      verbose=0)
        hidden = [int(h) for h in args.hidden_units.split(",")]
        if model == "deepfm":
            net = FxDeepFM(feature_map, args.embedding_dim, hidden, args.lr, **common)
        else:
            targets = list(task["sequences"].values())
            net = FxDIN(feature_map, args.embedding_dim, hidden, args.lr, targets, list(task["sequences"]), **common)
        Path(net.model_dir).mkdir(parents=True, exist_ok=True)
        train_gen, valid_gen = RankDataLoader(feature_map, stage="train", train_data=train, valid_data=valid,
                                              batch_size=args.batch_size, shuffle=True, data_format="parquet")
        t0 = time.perf_counter()
        net.fit(train_gen, epochs=args.epochs, validation_data=valid_gen)
        train_seconds = time.perf_counter() - t0 - net.eval_seconds
        test_gen = RankDataLoader(feature_map, stage="test", test_data=test, batch_size=args.batch_size,
                                  shuffle=False, data_format="parquet")
        y_pred = net.predict(test_gen)
        y_true = parts["test"][task["label"]].to_numpy()
        n_params = sum(p.numel() for p in net.parameters())
    return {"auc": roc_auc_score(y_true, y_pred), "logloss": log_loss(y_true, np.clip(y_pred, 1e-7, 1 - 1e-7)),
            "samples_per_s": len(parts["train"]) * args.epochs / train_seconds, "params": n_params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("criteo", "movielens", "both"), default="both")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--embedding-dim", type=int, default=16)
    parser.add_argument("--hidden-units", default="400,400,400")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both engines (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    jobs = []
    if args.task in ("criteo", "both"):
        jobs.append(("criteo", "deepfm", *criteo_parts(args.seed)))
    if args.task in ("movielens", "both"):
        jobs.append(("movielens", "din", *movielens_parts()))
    rows = []
    for data, model, parts, task in jobs:
        ours = run_ours(model, parts, task, args)
        peer = run_fuxictr(model, parts, task, args)
        rows.append((data, model, len(parts["train"]), ours, peer))
    print(f"epochs={args.epochs} batch={args.batch_size} embedding={args.embedding_dim} mlp={args.hidden_units} "
          f"lr={args.lr} torch threads={torch.get_num_threads()}")
    print(f"{'data':10} {'model':7} {'engine':8} {'test AUC':>9} {'logloss':>8} {'samples/s':>10} {'params':>10}")
    for data, model, n_train, ours, peer in rows:
        for name, r in (("ours", ours), ("FuxiCTR", peer)):
            print(f"{data:10} {model:7} {name:8} {r['auc']:9.4f} {r['logloss']:8.4f} {r['samples_per_s']:10,.0f} "
                  f"{(r['params'] or 0):10,}")
        print(f"{data:10} {model:7} {'ratio':8} {ours['auc'] - peer['auc']:+9.4f} {'':8} "
              f"{ours['samples_per_s'] / peer['samples_per_s']:9.2f}x   (AUC difference, speed ours/FuxiCTR)")


if __name__ == "__main__":
    main()
