"""SUAN, LightSUAN and online distillation (a SUAN teacher and a LightSUAN student trained together).

The sequence pipeline here reads every column role the analyst set (sequences, timestamps, the
split column), encodes with :class:`modeling.features.FeatureEncoder` and trains with the shared
loop :func:`mlcore.trainer.fit` (epoch checkpoints and resume, a cancellation check per batch,
progress callbacks). Distillation is one ``nn.Module`` holding both networks, so the same loop
trains, checkpoints and resumes teacher and student together; the student is what it serves.

Loss of the distilled pair (spec section 3.3, [R]):
    L = w_T·BCE(y, σ(z_T)) + w_S·BCE(y, σ(z_S)) + λ·T²·BCE(σ(z_T / T) detached, σ(z_S / T))
so the KD term only moves the student. Early stopping and the kept epoch follow the student's
validation AUC.

An item side table (content embeddings, ``modeling/item_side.py``) is used when the job context
carries ``extra["item_embeddings"]`` (an :class:`~modeling.item_side.ItemEmbeddings` or a path).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mlcore.api import Algorithm, DataError, Param, ParamError, RunContext, RunResult
from mlcore.batching import column, head
from mlcore.device import select_device
from mlcore.metrics import auc, binary_report, calibration, logloss, roc_curve
from mlcore.trainer import TrainConfig, fit, predict

from .checks import check_sequence_table_request, effective_split_method
from .encoded import encode_splits, remove_store
from .features import EncoderConfig, FeatureEncoder
from .item_side import ITEM_TABLE_PARAM, ItemEmbeddingLookup, WithItemSide, attach_item_side, item_side_rows
from .nets.suan import SUAN, LightSUAN
from .pipeline import inference_latency, parse_hidden_units
from .schema import FeatureSchema
from .references import ReferenceFit

SEQUENCE_ROLES = ("label", "categorical", "numeric", "user_id", "item_id", "timestamp", "split", "sequence")


class OnlineDistillation(nn.Module):
    """A teacher and a student trained on the same batches; ``forward`` is the student (what is served)."""

    def __init__(self, teacher: nn.Module, student: nn.Module, lookup: ItemEmbeddingLookup | None = None,
                 teacher_weight: float = 1.0, student_weight: float = 1.0, kd_weight: float = 0.5,
                 temperature: float = 2.0):
        super().__init__()
        self.teacher, self.student, self.lookup = teacher, student, lookup
        self.teacher_weight, self.student_weight = teacher_weight, student_weight
        self.kd_weight, self.temperature = kd_weight, temperature

    def expand(self, batch):
        return self.lookup(batch) if self.lookup is not None else batch

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.student(self.expand(batch))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = self.expand(batch)
        z_t, z_s = self.teacher(batch).float(), self.student(batch).float()  # (B,), (B,)
        y = batch["label"]
        t = self.temperature
        kd = F.binary_cross_entropy_with_logits(z_s / t, torch.sigmoid(z_t.detach() / t)) * t * t
        return (self.teacher_weight * F.binary_cross_entropy_with_logits(z_t, y)
                + self.student_weight * F.binary_cross_entropy_with_logits(z_s, y) + self.kd_weight * kd)


# ---------------------------------------------------------------------------------------------
# Data


@dataclasses.dataclass
class SequenceData:
    encoder: FeatureEncoder
    schema: FeatureSchema
    train: Any  # tensors (in-memory path) or a mlcore.store.StoreSplit
    valid: Any
    test: Any
    lookup: ItemEmbeddingLookup | None
    sizes: dict[str, Any]  # split_method, row counts, item-side facts and the untrained references: all go to the summary
    encoded: Any = None  # the modeling.encoded.EncodedData behind the splits


def prepare_sequence_data(ctx: RunContext) -> SequenceData:
    """Split (the split column, else by time, else as asked), encode, and attach item-side rows."""
    p = ctx.params
    roles = {c: r for c, r in ctx.roles.items() if r in SEQUENCE_ROLES}
    if "sequence" not in roles.values():
        raise DataError("SUAN needs a behaviour sequence: give the history column (e.g. `hist_item_id`) the role "
                        "`sequence`, or build one with `manage.py build_sequence_dataset`.")
    split_cols = [c for c, r in roles.items() if r == "split"]
    method = effective_split_method(p, roles, column_always_wins=True)
    if method != p["split_method"]:
        ctx.log(f"using the split column `{split_cols[0]}` (it was built held out by time)")
    item_table = ctx.extra.get("item_embeddings")
    side: dict = {}

    def extras(encoder):
        side["embeddings"], add = item_side_rows(item_table, encoder, p["max_len"])
        return add

    data = encode_splits(ctx, roles, method=method, valid_frac=p["valid_frac"], test_frac=p["test_frac"],
                         seed=p["seed"], config=EncoderConfig(min_count=p["min_count"], max_len=p["max_len"]),
                         extras=extras if item_table is not None else None,
                         extras_key=str(item_table) if item_table is not None else None,
                         references=ReferenceFit(roles))
    embeddings = None
    if item_table is not None:
        embeddings = side.get("embeddings") or item_side_rows(item_table, data.encoder, p["max_len"])[0]
    schema, lookup, item_info = attach_item_side(
        embeddings, column(data.train, "item_row") if embeddings is not None else None, data.encoder.schema, ctx.log)
    return SequenceData(data.encoder, schema, data.train, data.valid, data.test, lookup,
                        {"split_method": method, **data.sizes, **item_info, "train_data_path": data.path,
                         "references": data.references}, data)


def batch_latency_ms(model: nn.Module, table, device: torch.device, batch_size: int, repeats: int = 7) -> float:
    """Median milliseconds to score one batch of ``batch_size`` rows (after one warm-up run)."""
    batch = head(table, batch_size)
    n = len(batch["label"])
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        predict(model, batch, device, n)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:])) * 1000


def _report(prefix: str, y: np.ndarray, prob: np.ndarray, users) -> dict[str, float]:
    report = binary_report(y, prob, users)
    return {f"{prefix}{k}": v for k, v in report.items() if k in ("auc", "logloss", "gauc")}


def _train_config(p: dict[str, Any]) -> TrainConfig:
    return TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"], weight_decay=p["weight_decay"],
                       patience=p["patience"], seed=p["seed"], monitor="auc", reduce_lr_factor=p.get("lr_decay", 0.5))


def _evaluate(config: TrainConfig, device, forward=None) -> Callable:
    def evaluate(net: nn.Module, table) -> dict[str, float]:
        prob = predict(net, table, device, config.eval_batch_size, forward=forward)
        y = column(table, "label")
        return {"auc": auc(y, prob), "logloss": logloss(y, prob)}
    return evaluate


# ---------------------------------------------------------------------------------------------
# Algorithms


def _suan_kwargs(p: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    return {"embedding_dim": p[f"{prefix}embedding_dim"], "n_layers": p[f"{prefix}n_layers"],
            "n_heads": p[f"{prefix}n_heads"], "num_buckets": p["num_buckets"], "dropout": p["dropout"],
            "hidden_units": parse_hidden_units(p["hidden_units"]), "batch_norm": p["batch_norm"]}


def check_params(p: dict[str, Any], prefixes=("",)) -> None:
    errors = {}
    for prefix in prefixes:
        if p[f"{prefix}embedding_dim"] % p[f"{prefix}n_heads"]:
            errors[f"{prefix}embedding_dim"] = f"must be a multiple of {prefix}n_heads ({p[prefix + 'n_heads']})"
    if "window" in p and p["window"] > p["max_len"] + 1:
        errors["window"] = f"must not exceed max_len + 1 ({p['max_len'] + 1}); a wider window is full attention"
    if p["valid_frac"] + p["test_frac"] >= 0.9:
        errors["test_frac"] = "valid_frac + test_frac must leave at least 10% of rows for training"
    parse_hidden_units(p["hidden_units"])
    if errors:
        raise ParamError(errors)


def train_sequence_net(ctx: RunContext, build: Callable[[FeatureSchema, dict[str, Any]], nn.Module]) -> RunResult:
    """Train one sequence network (SUAN or LightSUAN) and test it on held-out rows."""
    p = ctx.params
    device = select_device(ctx.device)
    data = prepare_sequence_data(ctx)
    torch.manual_seed(p["seed"])
    model = WithItemSide(build(data.schema, p), data.lookup)
    config = _train_config(p)

    def loss_fn(net, batch):
        return F.binary_cross_entropy_with_logits(net(batch).float(), batch["label"])

    result = fit(model, data.train, data.valid, loss_fn=loss_fn, evaluate=_evaluate(config, device), config=config,
                 device=device, workdir=ctx.workdir, progress=ctx.progress, log=ctx.log, check_cancelled=ctx.check_cancelled)
    ctx.progress(1.0, "testing on held-out rows")
    prob = predict(model, data.test, device, config.eval_batch_size)
    y = column(data.test, "label")
    users = column(data.test, "user") if "user" in data.test else None
    metrics = binary_report(y, prob, users)
    latency = batch_latency_ms(model, data.test, device, p["batch_size"])
    artifact = ctx.workdir / "model.pt"
    torch.save({"state_dict": model.state_dict(), "encoder": data.encoder.to_dict(), "params": dict(p)}, artifact)
    served = inference_latency(model, data.test, device, p["batch_size"])
    remove_store(ctx, data.encoded)
    return RunResult(
        metrics={**metrics, "latency_ms": latency},
        curves={"roc": roc_curve(y, prob), "calibration": calibration(y, prob), "history": result.history},
        artifact=artifact,
        summary={"params_count": sum(t.numel() for t in model.parameters() if t.requires_grad), "device": str(device),
                 "samples_per_s": round(result.samples_per_second, 1), **data.sizes, "best_epoch": result.best_epoch,
                 "stopped_early": result.stopped_early, "resumed_from": result.resumed_from,
                 "latency_batch_rows": min(p["batch_size"], data.sizes.get("n_test", 0)),
                 "item_side": data.lookup is not None, **served},
    )


def _run_suan(ctx: RunContext) -> RunResult:
    check_params(ctx.params)
    return train_sequence_net(ctx, lambda schema, p: SUAN(schema, **_suan_kwargs(p)))


def _run_lightsuan(ctx: RunContext) -> RunResult:
    check_params(ctx.params)
    return train_sequence_net(ctx, lambda schema, p: LightSUAN(
        schema, window=p["window"], dilation=p["dilation"], **_suan_kwargs(p)))


def _run_distill(ctx: RunContext) -> RunResult:
    """Train the SUAN teacher and the LightSUAN student together; report both on held-out rows."""
    p = ctx.params
    check_params(p, prefixes=("teacher_", "student_"))
    device = select_device(ctx.device)
    data = prepare_sequence_data(ctx)
    torch.manual_seed(p["seed"])
    teacher = SUAN(data.schema, **_suan_kwargs(p, "teacher_"))
    student = LightSUAN(data.schema, window=p["window"], dilation=p["dilation"], **_suan_kwargs(p, "student_"))
    pair = OnlineDistillation(teacher, student, data.lookup, p["teacher_weight"], p["student_weight"],
                              p["kd_weight"], p["temperature"])
    config = _train_config(p)
    teacher_forward = lambda m, b: m.teacher(m.expand(b))  # noqa: E731

    def evaluate(net, table):
        student_scores = _evaluate(config, device)(net, table)
        teacher_scores = _evaluate(config, device, teacher_forward)(net, table)
        return {**student_scores, "teacher_auc": teacher_scores["auc"]}

    result = fit(pair, data.train, data.valid, loss_fn=lambda net, batch: net.loss(batch), evaluate=evaluate,
                 config=config, device=device, workdir=ctx.workdir, progress=ctx.progress, log=ctx.log,
                 check_cancelled=ctx.check_cancelled)
    ctx.progress(1.0, "testing on held-out rows")
    y = column(data.test, "label")
    users = column(data.test, "user") if "user" in data.test else None
    prob_s = predict(pair, data.test, device, config.eval_batch_size)
    prob_t = predict(pair, data.test, device, config.eval_batch_size, forward=teacher_forward)
    served_teacher = WithItemSide(pair.teacher, pair.lookup)
    served_student = WithItemSide(pair.student, pair.lookup)
    latency = {"teacher_latency_ms": batch_latency_ms(served_teacher, data.test, device, p["batch_size"]),
               "student_latency_ms": batch_latency_ms(served_student, data.test, device, p["batch_size"])}
    metrics = {**binary_report(y, prob_s, users), **_report("student_", y, prob_s, users),
               **_report("teacher_", y, prob_t, users), **latency}
    artifact = ctx.workdir / "model.pt"
    torch.save({"state_dict": pair.student.state_dict(), "teacher_state_dict": pair.teacher.state_dict(),
                "item_vectors": pair.lookup.vectors if pair.lookup is not None else None,
                "encoder": data.encoder.to_dict(), "params": dict(p)}, artifact)
    served = inference_latency(served_student, data.test, device, p["batch_size"])  # the served model
    remove_store(ctx, data.encoded)
    count = lambda m: sum(t.numel() for t in m.parameters() if t.requires_grad)  # noqa: E731
    return RunResult(
        metrics=metrics,
        curves={"roc": roc_curve(y, prob_s), "teacher_roc": roc_curve(y, prob_t), "calibration": calibration(y, prob_s),
                "history": result.history},
        artifact=artifact,
        summary={"served_model": "student (LightSUAN)", "teacher_params": count(pair.teacher),
                 "student_params": count(pair.student), "device": str(device),
                 "samples_per_s": round(result.samples_per_second, 1), **data.sizes, "best_epoch": result.best_epoch,
                 "stopped_early": result.stopped_early, "resumed_from": result.resumed_from,
                 "latency_batch_rows": min(p["batch_size"], data.sizes.get("n_test", 0)),
                 "item_side": data.lookup is not None,
                 **{k: round(v, 3) for k, v in latency.items()},
                 **served},
    )


# ---------------------------------------------------------------------------------------------
# Hyperparameters


SEQUENCE_COMMON = (
    Param("epochs", "int", 5, "Passes over the training rows (early stopping may end sooner).", min=1, max=200),
    Param("batch_size", "int", 512, "Rows per gradient step (also the batch whose latency is reported).", min=8, max=65536),
    Param("lr", "float", 1e-3, "Adam learning rate.", min=1e-5, max=1.0, log=True),
    Param("weight_decay", "float", 0.0, "L2 penalty on all weights.", min=0.0, max=1.0),
    Param("patience", "int", 2, "Epochs without validation-AUC gain before stopping.", min=1, max=200),
    Param("min_count", "int", 2, "Categories rarer than this in training go to the out-of-vocabulary bucket.", min=1, max=1000),
    Param("max_len", "int", 50, "Most recent behaviours kept per row (50 in the paper's Ele.me config).", min=1, max=1000),
    Param("split_method", "choice", "time", "A split column wins when there is one; else by time (needs a timestamp) or random.",
          choices=("time", "random", "column")),
    Param("valid_frac", "float", 0.1, "Share of rows for validation when there is no split column.", min=0.01, max=0.5),
    Param("test_frac", "float", 0.1, "Share of rows held out when there is no split column.", min=0.01, max=0.5),
    Param("seed", "int", 2024, "Random seed for the split, initialisation and shuffling.", min=0, max=2**31 - 1),
    Param("num_buckets", "int", 128, "Time-gap buckets of the relative-time attention bias.", min=1, max=512),
    Param("dropout", "float", 0.0, "Dropout after each sub-layer and in the MLP (0 in the paper).", min=0.0, max=0.9),
    Param("hidden_units", "str", "256,128", "Prediction MLP widths, comma separated (the paper: 1024,512,256)."),
    Param("batch_norm", "bool", False, "BatchNorm in the prediction MLP."),
    ITEM_TABLE_PARAM,
)


def _grade(prefix: str, dim: int, layers: int, who: str) -> tuple[Param, ...]:
    return (
        Param(f"{prefix}embedding_dim", "int", dim, f"{who}: size of each field embedding (token width = fields × this).", min=2, max=256),
        Param(f"{prefix}n_layers", "int", layers, f"{who}: unified attention blocks.", min=1, max=12),
        Param(f"{prefix}n_heads", "int", 2, f"{who}: attention heads (must divide the embedding size).", min=1, max=16),
    )


SPARSE = (
    Param("window", "int", 8, "LightSUAN local window: each token sees this many most recent tokens (itself included).", min=1, max=1001),
    Param("dilation", "int", 4, "LightSUAN dilation: further back, every this-many-th token is visible.", min=1, max=1000),
)
DISTILL = (
    Param("kd_weight", "float", 0.5, "Weight λ of the distillation term on the student.", min=0.0, max=10.0),
    Param("temperature", "float", 2.0, "Temperature T on both logits in the distillation term (scaled by T²).", min=0.1, max=20.0),
    Param("teacher_weight", "float", 1.0, "Weight of the teacher's own click loss.", min=0.0, max=10.0),
    Param("student_weight", "float", 1.0, "Weight of the student's own click loss.", min=0.0, max=10.0),
)

SUAN_ALGORITHMS = tuple(dataclasses.replace(a, precheck=check_sequence_table_request) for a in (
    Algorithm("suan", "ctr", "SUAN", "Stacked unified attention blocks over the behaviour sequence with time and position "
              "biases and user-profile cross-attention (Lai et al., RecSys 2025). Needs a sequence column.",
              SEQUENCE_COMMON + _grade("", 8, 2, "SUAN"), _run_suan, required_roles=("label", "sequence")),
    Algorithm("lightsuan", "ctr", "LightSUAN", "SUAN with local + dilated sparse self-attention, trained on its own "
              "(Lai et al., RecSys 2025). Needs a sequence column.",
              SEQUENCE_COMMON + _grade("", 8, 1, "LightSUAN") + SPARSE, _run_lightsuan, required_roles=("label", "sequence")),
    Algorithm("suan_distill", "ctr", "SUAN → LightSUAN (online distillation)",
              "A SUAN teacher and a LightSUAN student trained together; the student learns the clicks and the teacher's "
              "softened predictions and is the model served. Reports AUC, GAUC and latency of both.",
              SEQUENCE_COMMON + _grade("teacher_", 16, 2, "Teacher (SUAN)") + _grade("student_", 8, 1, "Student (LightSUAN)")
              + SPARSE + DISTILL, _run_distill, required_roles=("label", "sequence")),
))
