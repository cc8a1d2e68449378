"""Train a tabular CTR network end to end for a job: split, encode, fit, test on held-out rows."""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from mlcore.api import ParamError, RunContext, RunResult
from mlcore.batching import take
from mlcore.device import select_device
from mlcore.metrics import auc, binary_report, calibration, logloss, roc_curve
from mlcore.trainer import TrainConfig, fit, predict

from .features import EncoderConfig, FeatureEncoder
from .schema import FeatureSchema
from .split import split_frame

TABULAR_ROLES = ("label", "categorical", "numeric", "user_id", "item_id", "timestamp", "split")
NetFactory = Callable[[FeatureSchema, dict[str, Any]], nn.Module]


def parse_hidden_units(text: str) -> list[int]:
    """"400,400,400" → [400, 400, 400]; raises ParamError for anything but positive integers."""
    try:
        units = [int(part) for part in str(text).replace(" ", "").split(",") if part]
    except ValueError:
        units = []
    if not units or any(u <= 0 or u > 8192 for u in units):
        raise ParamError({"hidden_units": f"expected comma-separated layer widths between 1 and 8192, e.g. 400,400,400; got {text!r}"})
    return units


def check_split(params: dict[str, Any]) -> None:
    if params["valid_frac"] + params["test_frac"] >= 0.9:
        raise ParamError({"test_frac": "valid_frac + test_frac must leave at least 10% of rows for training"})


def train_tabular(ctx: RunContext, net_factory: NetFactory) -> RunResult:
    """The shared pipeline of LR, DeepFM and DCNv2 (and any tabular net given by ``net_factory``)."""
    p = ctx.params
    check_split(p)
    if "hidden_units" in p:
        parse_hidden_units(p["hidden_units"])
    device = select_device(ctx.device)
    roles = {c: r for c, r in ctx.roles.items() if r in TABULAR_ROLES}  # tabular nets read no sequences
    used = list(roles)
    ctx.progress(0.0, "loading data")
    frame = ctx.read_table(used)
    ctx.log(f"loaded {len(frame):,} rows, {len(used)} columns")
    time_cols = [c for c, r in roles.items() if r == "timestamp"]
    split_cols = [c for c, r in roles.items() if r == "split"]
    method = p["split_method"]
    if split_cols and method == "random":
        method = "column"  # the analyst's own split column wins over the default random split
        ctx.log(f"using the split column `{split_cols[0]}`")
    train_df, valid_df, test_df = split_frame(
        frame, method=method, valid_frac=p["valid_frac"], test_frac=p["test_frac"], seed=p["seed"],
        time_column=time_cols[0] if time_cols else None, split_column=split_cols[0] if split_cols else None)
    ctx.log(f"split ({method}): train {len(train_df):,}, valid {len(valid_df):,}, test {len(test_df):,}")
    ctx.progress(0.0, "encoding features")
    encoder = FeatureEncoder.fit(train_df, roles, EncoderConfig(min_count=p["min_count"], numeric=p["numeric"]))
    train, valid, test = (encoder.transform(d) for d in (train_df, valid_df, test_df))
    schema = encoder.schema
    ctx.log(f"features: {schema.num_categorical} categorical ({sum(f.vocab_size for f in schema.categorical):,} "
            f"embedding rows), {schema.num_numeric} numeric")
    torch.manual_seed(p["seed"])
    model = net_factory(schema, p)
    n_params = sum(t.numel() for t in model.parameters())
    config = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"], weight_decay=p["weight_decay"],
                         embedding_l2=p["embedding_l2"], patience=p["patience"], seed=p["seed"], monitor="auc")

    def loss_fn(net: nn.Module, batch):
        return nn.functional.binary_cross_entropy_with_logits(net(batch).float(), batch["label"])

    def evaluate(net: nn.Module, table) -> dict[str, float]:
        prob = predict(net, table, device, config.eval_batch_size)
        y = table["label"].numpy()
        return {"auc": auc(y, prob), "logloss": logloss(y, prob)}

    result = fit(model, train, valid, loss_fn=loss_fn, evaluate=evaluate, config=config, device=device,
                 workdir=ctx.workdir, progress=ctx.progress, log=ctx.log, check_cancelled=ctx.check_cancelled)
    ctx.progress(1.0, "testing on held-out rows")
    prob = predict(model, test, device, config.eval_batch_size)
    y = test["label"].numpy()
    metrics = binary_report(y, prob, test["user"].numpy() if "user" in test else None)
    latency = inference_ms_per_1k(model, test, device)
    artifact = ctx.workdir / "model.pt"
    torch.save({"state_dict": model.state_dict(), "encoder": encoder.to_dict(), "params": dict(p)}, artifact)
    return RunResult(
        metrics=metrics,
        curves={"roc": roc_curve(y, prob), "calibration": calibration(y, prob), "history": result.history},
        artifact=artifact,
        summary={"params_count": n_params, "samples_per_s": round(result.samples_per_second, 1), "device": str(device),
                 "n_train": len(train_df), "n_valid": len(valid_df), "n_test": len(test_df),
                 "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
                 "resumed_from": result.resumed_from, "inference_ms_per_1k": round(latency, 3)},
    )


def inference_ms_per_1k(model: nn.Module, table, device: torch.device) -> float:
    """Milliseconds to score 1,000 rows in one batch (median of a few runs)."""
    n = min(1000, len(table["label"]))
    batch = take(table, torch.arange(n))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        predict(model, batch, device, n)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000 * 1000 / n
