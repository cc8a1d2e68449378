"""Train a CTR network end to end for a job: split, encode, fit, test on held-out rows.

One pipeline serves the tabular nets (LR, DeepFM, DCNv2: they read no sequences) and the
behaviour-sequence nets (DIN, QIN, TIN, AW-MoE: they need a column with role ``sequence``). A net
may set ``aux_loss`` during a training-mode forward (see ``modeling/nets/behaviours.py``); it is
added to the click loss here.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from mlcore.api import DataError, ParamError, RunContext, RunResult
from mlcore.batching import column, head, table_len, take, to_device
from mlcore.device import select_device
from mlcore.distributed import DEFAULT_TIMEOUT_S, check_devices, fit_distributed
from mlcore.metrics import auc, binary_report, calibration, gauc, logloss, roc_curve
from mlcore.trainer import TrainConfig, fit, predict
from modeling.references import ReferenceFit

from .checks import effective_split_method, parse_units
from .encoded import encode_splits, first_rows, remove_store, row_lengths, source_table
from .features import EncoderConfig
from .item_side import WithItemSide, attach_item_side, item_side_rows
from .schema import FeatureSchema

TABULAR_ROLES = ("label", "categorical", "numeric", "user_id", "item_id", "timestamp", "split")
SEQUENCE_ROLES = TABULAR_ROLES + ("sequence",)
SEPARATORS = ("|", "^", ",", ";")
NetFactory = Callable[[FeatureSchema, dict[str, Any]], nn.Module]


def parse_hidden_units(text: str, name: str = "hidden_units") -> list[int]:
    """"400,400,400" → [400, 400, 400] (see :func:`modeling.checks.parse_units`)."""
    return parse_units(text, name)


def check_split(params: dict[str, Any]) -> None:
    if params["valid_frac"] + params["test_frac"] >= 0.9:
        raise ParamError({"test_frac": "valid_frac + test_frac must leave at least 10% of rows for training"})


def train_tabular(ctx: RunContext, net_factory: NetFactory) -> RunResult:
    """The shared pipeline of LR, DeepFM and DCNv2 (and any tabular net given by ``net_factory``)."""
    return train_ctr(ctx, net_factory, sequence=False)


def train_sequence(ctx: RunContext, net_factory: NetFactory) -> RunResult:
    """The pipeline of the behaviour-sequence nets: like the tabular one, plus the sequence columns,
    GAUC-based model selection when asked, and metrics on the long-tail (short-history) rows."""
    if not ctx.columns_with_role("sequence"):
        raise DataError("This model reads a behaviour sequence, but no column has the role `sequence`. Give the "
                        "column of past items (e.g. `hist_item_id`, values like `a|b|c`) the role sequence, or "
                        "pick a tabular model such as DeepFM.")
    return train_ctr(ctx, net_factory, sequence=True)


def detect_separator(frame, columns: list[str]) -> str:
    """The separator of delimited-text sequence cells: the first of ``SEPARATORS`` seen in a sample."""
    for col in columns:
        sample = frame[col].dropna().head(200)
        text = sample[sample.map(type).eq(str)]
        for sep in SEPARATORS:
            if text.str.contains(sep, regex=False).any():
                return sep
    return SEPARATORS[0]


def choose_monitor(requested: str, valid, log) -> str:
    """``gauc`` needs a user column and a validation user with both clicks and non-clicks; else ``auc``."""
    if requested != "gauc":
        return requested
    if "user" in valid:
        y = column(valid, "label")
        if np.isfinite(gauc(y, np.arange(len(y), dtype=np.float64), column(valid, "user"))):
            return "gauc"
    log("model selection on validation AUC: GAUC needs a user_id column and validation users with both "
        "clicks and non-clicks")
    return "auc"


def ctr_loss(net: nn.Module, batch) -> torch.Tensor:
    """Mean click log-loss, plus the net's ``aux_loss`` when its forward set one."""
    loss = nn.functional.binary_cross_entropy_with_logits(net(batch).float(), batch["label"])
    aux = getattr(net, "aux_loss", None)
    return loss if aux is None else loss + aux.float()


def longtail_metrics(y: np.ndarray, prob: np.ndarray, lengths: np.ndarray, users: np.ndarray | None,
                     max_behaviours: int) -> dict[str, float]:
    """Held-out metrics on rows whose history has at most ``max_behaviours`` behaviours (the
    "long-tail users" of AW-MoE); AUC/GAUC are left out when the slice lacks both classes.
    ``lengths`` is each row's number of behaviours (:func:`modeling.encoded.row_lengths`)."""
    rows = lengths <= max_behaviours
    out = {"n_longtail": float(rows.sum())}
    if rows.any() and 0 < y[rows].sum() < rows.sum():
        out["auc_longtail"] = auc(y[rows], prob[rows])
        out["logloss_longtail"] = logloss(y[rows], prob[rows])
        if users is not None:
            value = gauc(y[rows], prob[rows], users[rows])
            if np.isfinite(value):
                out["gauc_longtail"] = value
    return out


class CtrEvaluate:
    """Validation metrics of a net (AUC, log-loss, and GAUC when it is the monitor), on the net's device.

    A class rather than a closure so a multi-device run can hand it to its processes."""

    def __init__(self, monitor: str, batch_size: int):
        self.monitor, self.batch_size = monitor, batch_size

    def __call__(self, net: nn.Module, table) -> dict[str, float]:
        prob = predict(net, table, next(net.parameters()).device, self.batch_size)
        y = column(table, "label")
        metrics = {"auc": auc(y, prob), "logloss": logloss(y, prob)}
        if self.monitor == "gauc":
            metrics["gauc"] = gauc(y, prob, column(table, "user"))
        return metrics


def train_ctr(ctx: RunContext, net_factory: NetFactory, *, sequence: bool) -> RunResult:
    p = ctx.params
    check_split(p)
    for name in ("hidden_units", "attention_units", "expert_units", "gate_units"):
        if name in p:
            parse_hidden_units(p[name], name)
    device = select_device(ctx.device)
    devices = int(p.get("devices", 1))
    try:
        check_devices(devices, device.type)
    except ValueError as exc:
        raise ParamError({"devices": str(exc)}) from None
    allowed = SEQUENCE_ROLES if sequence else TABULAR_ROLES  # tabular nets read no sequences
    roles = {c: r for c, r in ctx.roles.items() if r in allowed}
    used = list(roles)
    split_cols = [c for c, r in roles.items() if r == "split"]
    method = effective_split_method(p, roles)  # the analyst's own split column wins over the default random split
    if method != p["split_method"]:
        ctx.log(f"using the split column `{split_cols[0]}` (split_method {p['split_method']} asked)")
    table = source_table(ctx, used)
    ctx.log(f"reading {table.n_rows:,} rows, {len(used)} columns")
    enc_config = EncoderConfig(min_count=p["min_count"], numeric=p["numeric"])
    if sequence:
        enc_config.max_len = p["max_len"]
        seq_cols = [c for c, r in roles.items() if r == "sequence"]
        enc_config.seq_sep = detect_separator(first_rows(table, seq_cols), seq_cols)
    item_table = ctx.extra.get("item_embeddings") if sequence else None
    side: dict = {}

    def extras(encoder):
        side["embeddings"], add = item_side_rows(item_table, encoder, p["max_len"])
        return add

    data = encode_splits(ctx, roles, method=method, valid_frac=p["valid_frac"], test_frac=p["test_frac"],
                         seed=p["seed"], config=enc_config, extras=extras if item_table is not None else None,
                         extras_key=str(item_table) if item_table is not None else None,
                         references=ReferenceFit(roles, sep=enc_config.seq_sep))  # untrained, same rows
    encoder, train, valid, test = data.encoder, data.train, data.valid, data.test
    references = data.references
    schema = encoder.schema
    lookup, item_info = None, {}
    if item_table is not None:  # multimodal item vectors (an item table) when the job context carries them
        embeddings = side.get("embeddings") or item_side_rows(item_table, encoder, p["max_len"])[0]
        schema, lookup, item_info = attach_item_side(embeddings, column(train, "item_row"), schema, ctx.log)
    ctx.log(f"features: {schema.num_categorical} categorical ({sum(f.vocab_size for f in schema.categorical):,} "
            f"embedding rows), {schema.num_numeric} numeric"
            + (f", sequences {', '.join(schema.sequence.fields)} (max_len {schema.sequence.max_len})" if sequence else ""))
    if sequence:
        lengths = row_lengths(train)
        ctx.log(f"behaviours per training row: mean {float(lengths.mean()):.1f}, empty {float((lengths == 0).mean()):.1%}")
    monitor = choose_monitor(p.get("monitor", "auc"), valid, ctx.log)
    torch.manual_seed(p["seed"])
    model = net_factory(schema, p)
    if lookup is not None:
        model = WithItemSide(model, lookup)
    n_params = sum(t.numel() for t in model.parameters())
    config = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"], weight_decay=p["weight_decay"],
                         embedding_l2=p["embedding_l2"], patience=p["patience"], seed=p["seed"], monitor=monitor,
                         reduce_lr_factor=p.get("lr_decay", 0.5),
                         monitor_mode="min" if monitor == "logloss" else "max")

    evaluate = CtrEvaluate(monitor, config.eval_batch_size)
    callbacks = {"progress": ctx.progress, "log": ctx.log, "check_cancelled": ctx.check_cancelled}
    if devices > 1:  # one process per device (mlcore/distributed.py); devices=1 trains right here
        shards = train if data.path == "stream" else data.store["train"]  # each rank reads only its pieces
        if data.path == "memory":
            ctx.log("each device reads its own pieces of the training split from the encoded store (shuffled "
                    "fully within its share), not the in-memory copy")
        run = fit_distributed(model, shards, valid, loss_fn=ctr_loss, evaluate=evaluate, config=config, devices=devices,
                              device_type=device.type, workdir=ctx.workdir,
                              timeout_s=ctx.extra.get("ddp_timeout_s", DEFAULT_TIMEOUT_S), **callbacks)
        result, per_device = run.result, float(np.mean(run.samples_per_s_per_rank))
        model.to(device)
        ctx.log(f"{devices} devices: {per_device:,.0f} samples/s per device, {result.samples_per_second:,.0f} in all")
    else:
        result = fit(model, train, valid, loss_fn=ctr_loss, evaluate=evaluate, config=config, device=device,
                     workdir=ctx.workdir, **callbacks)
        per_device = result.samples_per_second
    ctx.progress(1.0, "testing on held-out rows")
    prob = predict(model, test, device, config.eval_batch_size)
    y = column(test, "label")
    users = column(test, "user") if "user" in test else None
    metrics = binary_report(y, prob, users)
    if sequence:
        metrics.update(longtail_metrics(y, prob, row_lengths(test), users, p["longtail_max_behaviours"]))
    latency = inference_latency(model, test, device, config.batch_size)
    diagnostics = {}
    net = model.net if isinstance(model, WithItemSide) else model
    if hasattr(net, "diagnostics"):  # e.g. AW-MoE's gate entropy and expert load on the test rows
        model.eval()
        batch = to_device(head(test, 8192), device)
        diagnostics = net.diagnostics(model.lookup(batch) if net is not model else batch)
    artifact = ctx.workdir / "model.pt"
    torch.save({"state_dict": model.state_dict(), "encoder": encoder.to_dict(), "params": dict(p)}, artifact)
    remove_store(ctx, data)
    return RunResult(
        metrics=metrics,
        curves={"roc": roc_curve(y, prob), "calibration": calibration(y, prob), "history": result.history},
        artifact=artifact,
        summary={"split_method": method, "params_count": n_params, "samples_per_s": round(result.samples_per_second, 1),
                 "device": str(device), "devices": devices, "samples_per_s_per_device": round(per_device, 1),
                 **data.sizes, "train_data_path": data.path,
                 "best_epoch": result.best_epoch, "stopped_early": result.stopped_early, "monitor": monitor,
                 "resumed_from": result.resumed_from, "references": references, **item_info, **latency, **diagnostics},
    )


def inference_latency(model: nn.Module, table, device: torch.device, batch_size: int, *, warmup: int = 2,
                      min_timed: int = 5, max_timed: int = 20) -> dict[str, float]:
    """Scoring speed of the trained model on held-out rows, data already on the device.

    The rows are cut into batches of ``batch_size`` (the training batch size; fewer rows make one
    smaller batch); ``warmup`` forward passes are run and discarded, then between ``min_timed`` and
    ``max_timed`` batches are timed one by one (cycling over the batches when there are few).
    Returns ``inference_ms_per_batch`` (median), ``inference_rows_per_s`` and ``inference_ms_per_1k``
    (both from the summed timed batches) and the ``inference_batch_size`` used.
    """
    table = head(table, max(1, batch_size) * max_timed)  # only the timed rows come off the disk
    n = table_len(table)
    size = max(1, min(batch_size, n))
    starts = list(range(0, max(n - size, 0) + 1, size))[:max_timed]  # whole batches only
    batches = [to_device(take(table, torch.arange(s, s + size)), device) for s in starts]
    model.eval()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: list[float] = []
    with torch.no_grad():
        for i in range(warmup):
            torch.sigmoid(model(batches[i % len(batches)]).float())
        sync()
        for i in range(max(min_timed, min(len(batches), max_timed))):
            start = time.perf_counter()
            torch.sigmoid(model(batches[i % len(batches)]).float())
            sync()
            times.append(time.perf_counter() - start)
    total = sum(times)
    rows_per_s = size * len(times) / total if total > 0 else float("inf")
    return {"inference_batch_size": size, "inference_ms_per_batch": round(float(np.median(times)) * 1000, 3),
            "inference_rows_per_s": round(rows_per_s, 1), "inference_ms_per_1k": round(1e6 / rows_per_s, 3)}
