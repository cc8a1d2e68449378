"""Train an uplift model end to end for a job: validate, split by arm, encode, fit, evaluate on held-out rows.

Evaluation follows spec §2.4: for each task (CTR: y = click; CTCVR: y = click ∧ conversion) and each
treated arm k (rows of control and arm k, w = 1[t = k], score = predicted uplift of arm k) it reports
the scikit-uplift normalised AUUC and Qini coefficient with bootstrap CIs, the causalml AUUC and Qini
score, uplift@10/20/30 % and the decile table, a pointwise bootstrap band of each uplift curve, plus per-task AUC on the factual outcome, and, when the
data carries true effects, the true-effect curve and the Spearman correlation with them.

How the data is read (bounded memory, the CTR path of ``modeling/encoded.py``): one streamed pass
checks the table (:class:`uplift.data.UpliftCheck`: arms, binary outcomes, randomisation warnings);
the split is a seeded hash of the row position stratified by arm (every arm split in the same
proportions, ``modeling/split.py``); one pass fits the encoder on the training rows
(:class:`uplift.data.UpliftStreamingFit`) and one writes the encoded splits (features, arm, click,
conversion, exposure, revenue, the row's position) to the job folder, reused by a resumed job. The
deep nets train from memory or stream from disk by the CTR rules (``CTRSTUDIO_TRAIN_IN_MEMORY_MB``,
``CTRSTUDIO_TRAIN_DATA_PATH``; the job log says which); validation and test are scored in chunks.
The GBM two-model baseline (scikit-learn) needs its rows in memory: it is fitted on a seeded sample
of at most ``CTRSTUDIO_UPLIFT_GBM_MAX_ROWS`` training (and as many validation) rows, logged when it
applies. Held-out scores are a few floats per test row per arm and stay in memory for the report.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from mlcore.api import ParamError, RunContext, RunResult
from mlcore.batching import BatchSource, TensorTable, as_source, column, sample_rows, to_device
from mlcore.metrics import auc, logloss
from mlcore.trainer import TrainConfig, fit
from modeling.encoded import CHUNK_ROWS, encode_splits, remove_store, source_table
from modeling.features import EncoderConfig

from . import metrics as M
from .data import (TRUE_EFFECT_PREFIXES, UpliftCheck, UpliftColumns, UpliftEncoder, UpliftStreamingFit, choose_control,
                   ordered_arms, true_effect_columns)
from .gbm import GBMTwoModel
from .nets import ECUP, DragonNet, SLearner, TARNet, TLearner, UpliftNet
from .planner import build_plan, uplift_curve_band

DEEP_MODELS = ("ecup", "s_learner", "t_learner", "tarnet", "dragonnet")
DEFAULT_GBM_MAX_ROWS = 1_000_000
# Rows per scoring batch; every row is scored under all K+1 arms, so a net sees (K+1)·2048 rows at once
# (at 8192, ECUP's forward over 5 arms allocated ~0.5 GB of temporaries per batch).
SCORING_BATCH_ROWS = 2048
TASKS = ("ctr", "ctcvr")
TOP_FRACTIONS = (0.1, 0.2, 0.3)
SCORES_FILE = "heldout_scores.parquet"
PLAN_FILE = "planner.json"
METRIC_DEFINITIONS = {
    "sklift_auuc": "Normalised AUUC as scikit-uplift 0.5.1 uplift_auc_score: (model − random) / (perfect − random) "
                   "area under the uplift curve; 1 = oracle, 0 = random or constant.",
    "sklift_qini": "Qini coefficient as scikit-uplift 0.5.1 qini_auc_score (negative_effect=True); 1 = oracle, 0 = random.",
    "causalml_auuc": "AUUC as causalml 0.18 auuc_score(normalize=True): mean of the gain curve scaled to end at 1; "
                     "random ≈ 0.5.",
    "causalml_qini": "Qini score as causalml 0.18 qini_score(normalize=True): mean height above the random chord; "
                     "random ≈ 0.",
    "uplift_at_k": "Treated minus control response rate among the top k % by predicted uplift (sklift uplift_at_k, "
                   "strategy overall).",
    "auc": "ROC AUC of the predicted probability for each row's own arm against the observed outcome.",
    "spearman_true": "Spearman correlation between predicted and true per-row uplift (generated data only).",
    "causalml_auuc_revenue": "causalml AUUC with revenue as the (continuous) outcome, when a revenue column exists.",
    "naming": "<metric>_<task>_arm<k> compares arm k with control on the test rows of those two arms; <metric>_<task> "
              "is the mean over treated arms; _low/_high are the 2.5 % and 97.5 % bootstrap percentiles.",
}


def parse_widths(text: str, name: str) -> tuple[int, ...]:
    """"128,128" → (128, 128); raises ParamError for anything but 1-8 positive widths."""
    try:
        widths = tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        widths = ()
    if not widths or len(widths) > 8 or any(w <= 0 or w > 4096 for w in widths):
        raise ParamError({name: f"expected 1 to 8 comma-separated layer widths between 1 and 4096, e.g. 128,128; got {text!r}"})
    return widths


def check_params(key: str, p: dict[str, Any]) -> None:
    """Rules that involve more than one hyperparameter (bounds are checked by ``Param``)."""
    if p["valid_frac"] + p["test_frac"] >= 0.9:
        raise ParamError({"test_frac": "valid_frac + test_frac must leave at least 10% of rows for training"})
    if key == "ecup" and p["embedding_dim"] % p["attention_heads"]:
        raise ParamError({"attention_heads": f"must divide embedding_dim ({p['embedding_dim']}); "
                                             f"got {p['attention_heads']}"})
    for name in ("tower_hidden", "representation_hidden", "head_hidden"):
        if name in p:
            parse_widths(p[name], name)


def build_model(key: str, schema, n_treatments: int, p: dict[str, Any]) -> UpliftNet | GBMTwoModel:
    if key == "ecup":
        return ECUP(schema, n_treatments, p["embedding_dim"], p["attention_heads"], p["attention_dim"],
                    parse_widths(p["tower_hidden"], "tower_hidden"), p["gate_hidden"], p["gate_gamma"], p["dropout"],
                    p["interaction"], p["task_stop_gradient"])
    if key in ("s_learner", "t_learner"):
        cls = SLearner if key == "s_learner" else TLearner
        return cls(schema, n_treatments, p["embedding_dim"], parse_widths(p["tower_hidden"], "tower_hidden"), p["dropout"])
    if key in ("tarnet", "dragonnet"):
        args = (schema, n_treatments, p["embedding_dim"], parse_widths(p["representation_hidden"], "representation_hidden"),
                parse_widths(p["head_hidden"], "head_hidden"), p["dropout"])
        return TARNet(*args) if key == "tarnet" else DragonNet(*args, propensity_weight=p["propensity_weight"])
    if key == "gbm_two_model":
        return GBMTwoModel(schema, n_treatments, p["max_iter"], p["learning_rate"], p["max_leaf_nodes"],
                           p["min_samples_leaf"], p["l2_regularization"], p["seed"], p["n_threads"])
    raise ValueError(f"unknown uplift model {key!r}")


@torch.no_grad()
def predict_uplift(model: UpliftNet | GBMTwoModel, data: TensorTable | BatchSource, device: torch.device,
                   batch_size: int = SCORING_BATCH_ROWS) -> dict[str, np.ndarray]:
    """Every arm's p_ctr, p_ctcvr and uplift for every row, (N, K+1) NumPy arrays, in row order.

    ``data`` is tensors or a :class:`mlcore.batching.BatchSource` (a split of the encoded store), read
    batch by batch. The outputs are allocated once and filled in place: keeping each batch's small
    outputs between the forward passes' large temporaries fragmented the heap so that glibc never gave
    it back (resident memory grew by ~4.5 KB per scored row: 0.9 GiB for 200k rows).
    """
    source = as_source(data)
    out: dict[str, np.ndarray] = {}
    gbm = isinstance(model, GBMTwoModel)
    if not gbm:
        model.eval()
    start = 0
    for batch in source.iter_batches(max(batch_size, CHUNK_ROWS) if gbm else batch_size, shuffle=False):
        scores = model.uplift(batch) if gbm else model.uplift(to_device(batch, device))
        for k, v in scores.items():
            v = v if gbm else v.float().cpu().numpy()
            if k not in out:
                out[k] = np.empty((len(source), *v.shape[1:]), dtype=np.float64)
            out[k][start:start + len(v)] = v
        start += len(next(iter(scores.values())))
    return out


def _outcome(click: np.ndarray, conversion: np.ndarray, task: str) -> np.ndarray:
    return click if task == "ctr" else click * conversion


def arm_qini_scores(scores: dict[str, np.ndarray], click: np.ndarray, conversion: np.ndarray,
                    treatment: np.ndarray, task: str) -> list[float]:
    """sklift Qini coefficient of each treated arm against control (the early-stopping signal)."""
    y = _outcome(click, conversion, task)
    out = []
    for k in range(1, scores[f"uplift_{task}"].shape[1]):
        rows = (treatment == 0) | (treatment == k)
        out.append(M.sklift_qini_auc_score(y[rows], scores[f"uplift_{task}"][rows, k], treatment[rows] == k))
    return out


def uplift_report(scores: dict[str, np.ndarray], click: np.ndarray, conversion: np.ndarray, treatment: np.ndarray,
                  arms: list[str], true_effects: dict[str, dict[int, np.ndarray]] | None = None,
                  revenue: np.ndarray | None = None, n_bootstrap: int = 200, seed: int = 0,
                  max_points: int = 200) -> tuple[dict[str, float], dict[str, Any]]:
    """Held-out metrics (flat, arm k named ``arm<k>``) and chart-ready curves per task and arm."""
    metrics: dict[str, float] = {}
    curves: dict[str, Any] = {}
    true_effects = true_effects or {}
    rows_all = np.arange(len(treatment))
    for task in TASKS:
        y = _outcome(click, conversion, task)
        observed = scores[f"p_{task}"][rows_all, treatment]
        if 0 < y.sum() < len(y):
            metrics[f"auc_{task}"] = auc(y, observed)
        per_arm: dict[str, Any] = {}
        for k in range(1, len(arms)):
            rows = (treatment == 0) | (treatment == k)
            yk, wk, sk = y[rows], (treatment[rows] == k).astype(np.float64), scores[f"uplift_{task}"][rows, k]
            name = f"{task}_arm{k}"
            boot = M.bootstrap_sklift_scores(yk, sk, wk, n_boot=n_bootstrap, seed=seed + k)
            for short, key in (("sklift_auuc", "uplift_auc"), ("sklift_qini", "qini_auc")):
                metrics[f"{short}_{name}"] = boot[key]["score"]
                metrics[f"{short}_{name}_low"] = boot[key]["low"]
                metrics[f"{short}_{name}_high"] = boot[key]["high"]
            metrics[f"causalml_auuc_{name}"] = M.causalml_auuc_score(yk, sk, wk)
            metrics[f"causalml_qini_{name}"] = M.causalml_qini_score(yk, sk, wk)
            for frac in TOP_FRACTIONS:
                metrics[f"uplift_at_{round(frac * 100)}_{name}"] = M.uplift_at_k(yk, sk, wk, frac, "overall")
            if revenue is not None:
                metrics[f"causalml_auuc_revenue_arm{k}"] = M.causalml_auuc_score(revenue[rows], sk, wk)
            ux, uy = M.uplift_curve(yk, sk, wk)
            qx, qy = M.qini_curve(yk, sk, wk)
            perfect_u, perfect_q = M.perfect_uplift_curve(yk, wk), M.perfect_qini_curve(yk, wk)
            arm_curves = {
                "arm": arms[k], "n_treated": int(wk.sum()), "n_control": int(len(wk) - wk.sum()),
                "uplift": M.downsample_curve(ux, uy, max_points),
                "uplift_perfect": M.downsample_curve(*perfect_u, max_points),
                "uplift_random": M.downsample_curve(*M.random_curve(perfect_u), max_points),
                "qini": M.downsample_curve(qx, qy, max_points),
                "qini_perfect": M.downsample_curve(*perfect_q, max_points),
                "qini_random": M.downsample_curve(*M.random_curve(perfect_q), max_points),
                "deciles": M.uplift_by_percentile(yk, sk, wk, bins=min(10, len(yk))),
                "uplift_band": uplift_curve_band(yk, sk, wk, n_boot=n_bootstrap, seed=seed + k),
            }
            tau = true_effects.get(task, {}).get(k)
            if tau is not None:
                tau_k = tau[rows]
                arm_curves["true_effect"] = M.downsample_curve(*M.true_uplift_curve(tau_k, sk), max_points)
                arm_curves["true_effect_oracle"] = M.downsample_curve(*M.true_uplift_curve(tau_k, tau_k), max_points)
                metrics[f"spearman_true_{name}"] = float(spearmanr(sk, tau_k).statistic)
            per_arm[str(k)] = arm_curves
        curves[task] = per_arm
        for short in ("sklift_auuc", "sklift_qini", "causalml_auuc", "causalml_qini", "spearman_true"):
            values = [metrics[f"{short}_{task}_arm{k}"] for k in range(1, len(arms)) if f"{short}_{task}_arm{k}" in metrics]
            if values:
                metrics[f"{short}_{task}"] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return {k: float(v) for k, v in metrics.items() if math.isfinite(v)}, _json_safe(curves)


def heldout_score_frame(scores: dict[str, np.ndarray], rows: np.ndarray, arms: list[str], treatment: np.ndarray,
                        click: np.ndarray, conversion: np.ndarray, revenue: np.ndarray | None = None,
                        user_ids: np.ndarray | None = None,
                        true_effects: dict[str, dict[int, np.ndarray]] | None = None) -> pd.DataFrame:
    """One row per held-out row: its position in the dataset, user id, arm, outcomes and uplift per arm and task.

    ``row`` is the 0-based position of the row in the uploaded table; ``user_id`` is copied when a
    column has that role. ``uplift_<task>_<k>`` is the predicted uplift of arm k (``arms[k]``) over
    control; ``true_uplift_<task>_<k>`` the known effect on generated data.
    """
    out = pd.DataFrame({"row": np.asarray(rows, dtype=np.int64)})
    if user_ids is not None:
        out["user_id"] = user_ids
    out["arm"] = np.asarray(arms, dtype=object)[treatment]
    out["arm_index"] = treatment.astype(np.int64)
    out["click"] = click.astype(np.int64)
    out["conversion"] = (click * conversion).astype(np.int64)
    if revenue is not None:
        out["revenue"] = revenue.astype(np.float64)
    for task in TASKS:
        for k in range(1, len(arms)):
            out[f"uplift_{task}_{k}"] = scores[f"uplift_{task}"][:, k]
    for task, per_arm in (true_effects or {}).items():
        for k, values in per_arm.items():
            out[f"true_uplift_{task}_{k}"] = values
    return out


def gather_rows(table, columns: list[str], rows: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """``columns`` at the sorted positions ``rows`` of ``table``, streamed: memory is the gathered rows."""
    if not columns:
        return pd.DataFrame(index=range(len(rows)))
    parts, start = [], 0
    for chunk in table.iter_frames(columns, chunk_rows):
        lo, hi = np.searchsorted(rows, [start, start + len(chunk)])
        parts.append(chunk.iloc[rows[lo:hi] - start])
        start += len(chunk)
    return pd.concat(parts, ignore_index=True)


def write_plan(path: Path, heldout: pd.DataFrame, arms: list[str], population: float, n_boot: int, seed: int) -> dict:
    """Targeting-planner curves (:func:`uplift.planner.build_plan`) as JSON in the job folder, written atomically."""
    plan = build_plan(heldout, arms, population=population, n_boot=n_boot, seed=seed)
    plan["n_heldout"] = int(len(heldout))
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
    partial.write_text(json.dumps(_json_safe(_rounded(plan))))
    partial.replace(path)
    return plan


def _rounded(obj: Any, digits: int = 6) -> Any:
    """Floats to ``digits`` significant digits: the planner JSON is embedded in a page, half the size this way."""
    if isinstance(obj, dict):
        return {k: _rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v, digits) for v in obj]
    if isinstance(obj, float) and math.isfinite(obj):
        return float(f"{obj:.{digits}g}")
    return obj


def _json_safe(obj: Any) -> Any:
    """NaN and infinities become None so curves survive JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def gbm_max_rows() -> int:
    """``CTRSTUDIO_UPLIFT_GBM_MAX_ROWS``: most training (and validation) rows the GBM baseline is fitted on."""
    return int(os.environ.get("CTRSTUDIO_UPLIFT_GBM_MAX_ROWS") or DEFAULT_GBM_MAX_ROWS)


def check_table(ctx: RunContext, table, columns: UpliftColumns, control: str,
                chunk_rows: int = CHUNK_ROWS) -> tuple[UpliftCheck, list[str]]:
    """One streamed pass of :class:`UpliftCheck` over the table; its warnings go to the job log."""
    check = UpliftCheck(columns)
    for chunk in table.iter_frames(columns.used, chunk_rows):
        ctx.check_cancelled()
        check.update(chunk)
    warnings = check.finish(control)
    for message in warnings:
        ctx.log(f"warning: {message}")
    return check, warnings


def train_uplift(ctx: RunContext, model_key: str) -> RunResult:
    """The shared pipeline of every uplift algorithm (deep nets through the shared trainer, or the GBM)."""
    p = ctx.params
    check_params(model_key, p)
    device = torch.device(ctx.device)
    columns = UpliftColumns.from_roles(ctx.roles)
    effect_candidates = [c for c in ctx.roles if c.startswith(tuple(TRUE_EFFECT_PREFIXES.values()))]
    ctx.progress(0.0, "checking the table")
    wanted = columns.used + effect_candidates + ([columns.user_id] if columns.user_id else [])
    table = source_table(ctx, list(dict.fromkeys(wanted)))
    ctx.log(f"reading {table.n_rows:,} rows")
    chunk_rows = int(ctx.extra.get("encode_chunk_rows") or CHUNK_ROWS)
    check, warnings = check_table(ctx, table, columns, p["control"], chunk_rows)
    arms = ordered_arms(list(check.counts), choose_control(list(check.counts), p["control"]))
    enc_config = EncoderConfig(min_count=p["min_count"], numeric=p["numeric"])

    def positions(encoder):
        return lambda chunk: {"row": chunk.index.to_numpy(dtype=np.int64)}  # the chunk's rows are indexed by position

    data = encode_splits(ctx, {c: ctx.roles[c] for c in columns.used}, method="random", valid_frac=p["valid_frac"],
                         test_frac=p["test_frac"], seed=p["seed"], config=enc_config, extras=positions,
                         extras_key="row", strata_column=columns.treatment, strata=check.counts,
                         fitter=UpliftStreamingFit(columns, arms, enc_config, seed=p["seed"], warnings=warnings),
                         load_encoder=UpliftEncoder.from_dict)
    encoder, train, valid, test = data.encoder, data.train, data.valid, data.test
    ctx.log(f"arms: control {encoder.arms[0]!r}, treated {encoder.arms[1:]}")
    torch.manual_seed(p["seed"])
    model = build_model(model_key, encoder.schema, encoder.n_treatments, p)
    started = time.perf_counter()
    summary: dict[str, Any] = {"train_data_path": data.path}
    history: list[dict] = []
    if isinstance(model, GBMTwoModel):
        limit = gbm_max_rows()
        train_rows, valid_rows = (sample_rows(d, limit, p["seed"] + i) for i, d in enumerate((train, valid)))
        for name, full, kept in (("training", train, train_rows), ("validation", valid, valid_rows)):
            if len(as_source(full)) > len(kept["treatment"]):
                ctx.log(f"GBM two-model: fitted on a seeded sample of {len(kept['treatment']):,} of the "
                        f"{len(as_source(full)):,} {name} rows (CTRSTUDIO_UPLIFT_GBM_MAX_ROWS = {limit:,}); "
                        "scikit-learn's GBM holds its rows in memory")
        model.fit(train_rows, valid_rows, ctx.check_cancelled, lambda f, phase: ctx.progress(0.9 * f, phase))
        summary["samples_per_s"] = round(2 * len(train_rows["treatment"]) / max(time.perf_counter() - started, 1e-9), 1)
        summary["gbm_train_rows"] = len(train_rows["treatment"])
        del train_rows, valid_rows
    else:
        result = _fit_deep(ctx, model, train, valid, device)
        history = result.history
        summary.update(params_count=sum(t.numel() for t in model.parameters()),
                       samples_per_s=round(result.samples_per_second, 1), best_epoch=result.best_epoch,
                       stopped_early=result.stopped_early, resumed_from=result.resumed_from)
    ctx.progress(0.95, "evaluating on held-out rows")
    scores = predict_uplift(model, test, device)
    t_test = column(test, "treatment").astype(np.int64)
    click, conversion = (column(test, k).astype(np.float64) for k in ("click", "conversion"))
    revenue = column(test, "revenue").astype(np.float64) if "revenue" in test else None
    rows = column(test, "row").astype(np.int64)
    effects = true_effect_columns(effect_candidates, encoder.arms)
    extra = gather_rows(table, ([columns.user_id] if columns.user_id else []) + [c for cols in effects.values()
                                                                                for c in cols.values()], rows)
    true_effects = {task: {k: extra[col].to_numpy(dtype=np.float64) for k, col in cols.items()}
                    for task, cols in effects.items()}
    heldout = heldout_score_frame(scores, rows, encoder.arms, t_test, click, conversion, revenue,
                                  extra[columns.user_id].to_numpy() if columns.user_id else None, true_effects)
    heldout.to_parquet(ctx.workdir / SCORES_FILE, index=False)
    ctx.progress(0.97, "targeting planner curves")
    write_plan(ctx.workdir / PLAN_FILE, heldout, encoder.arms, population=table.n_rows, n_boot=p["n_bootstrap"],
               seed=p["seed"])
    metrics, curves = uplift_report(scores, click, conversion, t_test, encoder.arms, true_effects, revenue,
                                    n_bootstrap=p["n_bootstrap"], seed=p["seed"])
    curves["history"] = _json_safe(history)
    artifact = ctx.workdir / ("model.pkl" if isinstance(model, GBMTwoModel) else "model.pt")
    payload = {"model_key": model_key, "encoder": encoder.to_dict(), "params": dict(p)}
    if isinstance(model, GBMTwoModel):
        with open(artifact, "wb") as fh:
            pickle.dump({**payload, "model": model}, fh)
    else:
        torch.save({**payload, "state_dict": model.state_dict()}, artifact)
    summary.update(
        device=str(device), **data.sizes,
        arms={str(k): arm for k, arm in enumerate(encoder.arms)}, control=encoder.arms[0],
        test_rows_per_arm={arm: int((t_test == k).sum()) for k, arm in enumerate(encoder.arms)},
        warnings=warnings, metric_definitions=METRIC_DEFINITIONS, train_seconds=round(time.perf_counter() - started, 2),
        has_true_effects=bool(true_effects), scores_file=SCORES_FILE, plan_file=PLAN_FILE)
    if "exposure" in test:
        exposure = column(test, "exposure")
        summary["exposure_rate_per_arm"] = {arm: float(exposure[t_test == k].mean()) if (t_test == k).any() else None
                                            for k, arm in enumerate(encoder.arms)}
    remove_store(ctx, data)
    return RunResult(metrics=metrics, curves=curves, artifact=artifact, summary=summary)


def _fit_deep(ctx: RunContext, model: UpliftNet, train: TensorTable | BatchSource, valid: BatchSource,
              device: torch.device):
    p = ctx.params
    config = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], lr=p["lr"], weight_decay=p["weight_decay"],
                         embedding_l2=p["embedding_l2"], patience=p["patience"], seed=p["seed"], monitor=p["monitor"],
                         monitor_mode="min" if p["monitor"] == "loss" else "max")
    click_v = column(valid, "click").astype(np.float64)
    conv_v = column(valid, "conversion").astype(np.float64)
    t_v = column(valid, "treatment").astype(np.int64)

    def loss_fn(net: nn.Module, batch: TensorTable) -> torch.Tensor:
        return net.loss(batch)

    def evaluate(net: nn.Module, table: TensorTable | BatchSource) -> dict[str, float]:
        scores = predict_uplift(net, table, device)
        out = {"loss": 0.0}
        for task in TASKS:
            qini = np.asarray(arm_qini_scores(scores, click_v, conv_v, t_v, task))
            out[f"qini_{task}"] = float(np.nanmean(qini)) if np.isfinite(qini).any() else float("-inf")
            y = _outcome(click_v, conv_v, task)
            observed = scores[f"p_{task}"][np.arange(len(t_v)), t_v]
            out[f"auc_{task}"] = auc(y, observed) if 0 < y.sum() < len(y) else 0.5
            out["loss"] += logloss(y, observed)
        return out

    return fit(model, train, valid, loss_fn=loss_fn, evaluate=evaluate, config=config, device=device,
               workdir=ctx.workdir, progress=lambda f, phase: ctx.progress(0.9 * f, phase), log=ctx.log,
               check_cancelled=ctx.check_cancelled)



def load_model(artifact) -> tuple[UpliftNet | GBMTwoModel, UpliftEncoder]:
    """The trained model (in eval mode) and its encoder from a job's artifact, to score new rows."""
    if str(artifact).endswith(".pkl"):
        with open(artifact, "rb") as fh:
            saved = pickle.load(fh)
        return saved["model"], UpliftEncoder.from_dict(saved["encoder"])
    saved = torch.load(artifact, map_location="cpu", weights_only=False)
    encoder = UpliftEncoder.from_dict(saved["encoder"])
    model = build_model(saved["model_key"], encoder.schema, encoder.n_treatments, saved["params"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), encoder
