"""Human labels, units and number formats for every key a job stores (metrics, run summary, params).

One registry for every kind's job page, the comparison table and the new-job form, so an analyst
reads "Training rows 92,306" instead of ``n_train 92306``. Django-free: the template filters in
``jobs.templatetags.jobtags`` call :func:`label` and :func:`display`.

A key is looked up in :data:`KEYS` as it is, then with a known prefix or suffix taken off
(``valid_``/``teacher_``/``student_``, ``_std``, ``_low``/``_high``, uplift ``_ctr_arm1``), and
otherwise spelt out from its ``snake_case`` with acronyms kept (AUC, CTR, F1, …).
"""
from __future__ import annotations

import math
import re
from typing import Any

# Formats: metric (4 decimals), count (thousands separators), seconds, ms, rate (per second),
# share (0..1 shown as %), ratio (plain number), text, bool (Yes/No), hidden (never shown as a fact).
KEYS: dict[str, tuple[str, str]] = {
    # held-out metrics
    "auc": ("AUC", "metric"), "gauc": ("GAUC (per-user AUC)", "metric"), "logloss": ("Log loss", "metric"),
    "positive_rate": ("Positive rate", "share"), "n": ("Test rows", "count"),
    "latency_ms": ("Latency per batch (ms)", "num2"),
    "micro_f1": ("Micro-F1", "metric"), "macro_f1": ("Macro-F1", "metric"), "precision": ("Precision", "metric"),
    "recall": ("Recall", "metric"), "map": ("mAP", "metric"), "loss": ("Loss", "metric"),
    "train_loss": ("Training loss", "metric"),
    "sklift_auuc": ("Normalised AUUC (scikit-uplift)", "metric"),
    "sklift_qini": ("Qini coefficient (scikit-uplift)", "metric"),
    "causalml_auuc": ("AUUC (causalml)", "metric"), "causalml_qini": ("Qini score (causalml)", "metric"),
    "causalml_auuc_revenue": ("AUUC on revenue (causalml)", "metric"),
    "spearman_true": ("Spearman with the true effect", "metric"),
    # run summary
    "params_count": ("Parameters", "count"), "samples_per_s": ("Training speed", "rate:samples"),
    "n_train": ("Training rows", "count"), "n_valid": ("Validation rows", "count"), "n_test": ("Test rows", "count"),
    "rows": ("Rows", "count"), "users": ("Users", "count"), "best_epoch": ("Best epoch", "count"),
    "stopped_early": ("Stopped early", "bool"), "monitor": ("Early-stopping metric", "key"),
    "resumed_from": ("Resumed from epoch", "count"), "device": ("Device", "text"),
    "inference_batch_size": ("Inference batch size", "count:rows"),
    "inference_ms_per_batch": ("Inference latency per batch", "ms"),
    "inference_rows_per_s": ("Inference speed", "rate:rows"), "inference_ms_per_1k": ("Inference per 1,000 rows", "ms"),
    "multimodal_dim": ("Item vector size", "count"), "item_table_items": ("Items with a vector", "count"),
    "item_table_coverage": ("Training targets with a vector", "share"),
    "gate_entropy": ("Gate entropy (share of log K)", "metric"), "expert_load": ("Mean weight per expert", "metric"),
    "served_model": ("Served model", "text"), "teacher_params": ("Teacher parameters", "count"),
    "student_params": ("Student parameters", "count"), "latency_batch_rows": ("Latency batch size", "count:rows"),
    "item_side": ("Item vectors used", "bool"), "mean_history": ("Mean history length", "ratio:events"),
    "empty_history_share": ("Rows with an empty history", "share"), "item_fields": ("Item fields", "text"),
    "event_fields": ("Event fields", "text"), "feedback": ("Feedback column", "text"),
    "built_dataset_id": ("Built dataset", "hidden"), "built_dataset_name": ("Built dataset", "text"),
    "control": ("Control arm", "text"), "arms": ("Arms", "values"), "test_rows_per_arm": ("Test rows per arm", "count"),
    "exposure_rate_per_arm": ("Exposure rate per arm", "share"),
    "auc_longtail": ("AUC on long-tail items", "metric"), "gauc_longtail": ("GAUC on long-tail items", "metric"),
    "train_seconds": ("Training time", "seconds"),
    "has_true_effects": ("True effects known (generated data)", "bool"), "warnings": ("Warnings", "text"),
    "method": ("Method", "text"), "text_encoder": ("Text encoder", "text"), "split": ("Split", "text"),
    "n_splits": ("Splits", "count"), "threshold": ("Decision threshold", "metric"), "products": ("Products", "count"),
    "categories": ("Categories", "count"), "candidate_values": ("Candidate values", "count"),
    "labels": ("Labelled values", "count"), "train_products": ("Training products", "count"),
    "valid_products": ("Validation products", "count"), "test_products": ("Test products", "count"),
    "unlabelled_products": ("Unlabelled products", "count"), "predicted_values": ("Predicted values", "count"),
    "extracted_rows": ("Values stored", "count"), "seconds": ("Run time", "seconds"),
    "epochs_run": ("Epochs run", "count"),
    "beta": ("β (hyperedge weight)", "metric"), "gamma": ("γ (mixing)", "metric"),
    "mixing_weights": ("Mixing weights", "metric"),
    "center_embeddings": ("Centre embeddings", ""), "centring_kept": ("Centring kept (on validation mAP)", ""),
    "centring_valid_map": ("Validation mAP by centring", "metric"),
    # files the pages link to by name, never shown as text
    "predictions_file": ("Predictions file", "hidden"), "scores_file": ("Held-out scores file", "hidden"),
    "plan_file": ("Planner file", "hidden"), "table_file": ("Table file", "hidden"),
    # hyperparameters whose spelt-out name would read badly
    "lr": ("Learning rate", "ratio"), "l2": ("L2 penalty", "ratio"), "dnn_dropout": ("DNN dropout", "ratio"),
    "test_frac": ("Test share", "ratio"), "valid_frac": ("Validation share", "ratio"),
    "n_bootstrap": ("Bootstrap resamples", "count"), "max_len": ("Max history length", "count"),
    "min_count": ("Min count", "count"), "embed_dim": ("Embedding size", "count"),
}

PREFIXES = {"valid_": "Validation", "teacher_": "Teacher", "student_": "Student", "seen_": "Seen values:",
            "unseen_": "Unseen values:"}
ACRONYMS = {"auc": "AUC", "gauc": "GAUC", "ctr": "CTR", "ctcvr": "CTCVR", "id": "ID", "ids": "IDs", "ms": "ms",
            "f1": "F1", "map": "mAP", "auuc": "AUUC", "qini": "Qini", "l2": "L2", "dnn": "DNN", "cin": "CIN",
            "gbm": "GBM", "mlp": "MLP", "kd": "KD", "lr": "LR", "cpu": "CPU", "gpu": "GPU", "k": "K", "1k": "1,000"}
UPLIFT_TAIL = re.compile(r"^(?P<head>.+)_(?P<task>ctr|ctcvr)(?:_arm(?P<arm>\d+))?$")
UPLIFT_AT = re.compile(r"^uplift_at_(?P<pct>\d+)$")
FILE_KEY = re.compile(r"_(file|path)$")


def spell(key: str) -> str:
    """``batch_size`` → "Batch size", ``hidden_units`` → "Hidden units", ``auc_ctr`` → "AUC CTR"."""
    words = [ACRONYMS.get(w.lower(), w) for w in re.split(r"[_\s]+", str(key)) if w]
    if not words:
        return str(key)
    first = words[0]
    words[0] = first if first in ACRONYMS.values() or first[:1].isupper() else first[:1].upper() + first[1:]
    return " ".join(words)


def _entry(key: str) -> tuple[str, str] | None:
    """``(label, format)`` for ``key``, from the registry or a registered key with a prefix/suffix."""
    key = str(key)
    if key in KEYS:
        return KEYS[key]
    if key.endswith("_std") and (base := _entry(key[:-4])):
        return f"{base[0]} (std)", base[1]
    for suffix, word in (("_low", "lower bound"), ("_high", "upper bound")):
        if key.endswith(suffix) and (base := _entry(key[:-len(suffix)])):
            return f"{base[0]}, 95 % {word}", base[1]
    for prefix, word in PREFIXES.items():
        if key.startswith(prefix) and (base := _entry(key[len(prefix):])):
            return f"{word} {_lower_first(base[0])}", base[1]
    if key.startswith("hit@"):
        return f"Hit@{key[4:]}", "metric"
    if m := UPLIFT_AT.match(key):
        return f"Uplift@{m['pct']} %", "metric"
    if m := UPLIFT_TAIL.match(key):
        base = _entry(m["head"]) or (spell(m["head"]), "metric")
        arm = f", arm {m['arm']}" if m["arm"] else ""
        return f"{base[0]} · {m['task'].upper()}{arm}", base[1]
    if m := re.match(r"^(?P<head>.+)_arm(?P<arm>\d+)$", key):
        if base := _entry(m["head"]):
            return f"{base[0]} · arm {m['arm']}", base[1]
    return None


def _lower_first(text: str) -> str:
    """"Log loss" → "log loss" after a prefix word; acronyms ("AUC", "mAP") stay as they are."""
    return text if text[1:2].isupper() or text in ACRONYMS.values() else text[:1].lower() + text[1:]


def label(key: str) -> str:
    """The analyst's name for a stored key, e.g. ``n_train`` → "Training rows"."""
    entry = _entry(key)
    return entry[0] if entry else spell(key)


def is_hidden(key: str) -> bool:
    """Whether a key names a file or an id that a page links to instead of printing."""
    entry = _entry(key)
    return (entry is not None and entry[1] == "hidden") or bool(FILE_KEY.search(str(key)))


def _guess(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "count"
    if isinstance(value, float):
        return "metric"
    return "text"


def display(key: str, value: Any) -> str:
    """``value`` as text in the unit and precision that ``key`` calls for."""
    entry = _entry(key)
    return format_value(value, entry[1] if entry else _guess(value))


def format_value(value: Any, fmt: str) -> str:
    """Format one value: ``count`` 92,306 · ``metric`` 0.5368 · ``seconds`` 12.4 s · ``ms`` 3.21 ms ·
    ``rate:rows`` 12,345 rows/s · ``share`` 12.3 % · ``bool`` Yes/No · lists item by item."""
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, fmt) for v in value) or "—"
    if isinstance(value, dict) and fmt == "values":
        return ", ".join(str(v) for v in value.values()) or "—"
    if isinstance(value, dict):
        return " · ".join(f"{k}: {format_value(v, fmt)}" for k, v in value.items()) or "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    kind, _, unit = fmt.partition(":")
    if kind == "key":
        return label(value)
    if not isinstance(value, (int, float)):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return "—" if math.isnan(number) else ("∞" if number > 0 else "−∞")
    if kind == "count":
        text = f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"
    elif kind == "metric":
        text = _metric(number)
    elif kind == "seconds":
        return _seconds(number)
    elif kind == "ms":
        return f"{number:,.2f} ms"
    elif kind == "num2":  # a metric whose unit is in its label, e.g. "Latency per batch (ms)"
        text = f"{number:,.2f}"
    elif kind == "rate":
        return f"{number:,.0f} {unit or 'rows'}/s"
    elif kind == "share":
        return f"{number * 100:.1f} %" if 0 <= number <= 1 else _metric(number)
    elif kind == "ratio":
        if isinstance(value, int):
            text = f"{number:,.0f}"
        else:
            text = f"{number:g}" if abs(number) < 1e-3 else _metric(number, 4, strip=True)
    else:
        text = f"{number:,.0f}" if isinstance(value, int) else _metric(number)
    return f"{text} {unit}" if unit else text


def _metric(number: float, digits: int = 4, strip: bool = False) -> str:
    if number != 0 and abs(number) < 10 ** -digits:
        return f"{number:.3g}"
    text = f"{number:,.{digits if abs(number) < 1000 else 1}f}"
    return text.rstrip("0").rstrip(".") if strip and "." in text else text


def _seconds(number: float) -> str:
    if number < 60:
        return f"{number:,.1f} s"
    minutes, seconds = divmod(round(number), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def display_param(key: str, value: Any) -> str:
    """A hyperparameter as the analyst typed it: Yes/No, 1,024, 0.001, 1e-06; seeds without separators."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return str(value) if "seed" in str(key) else f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None or value == "":
        return "—"
    return str(value)


def bounds(low: float | None, high: float | None, integer: bool) -> str:
    """A parameter's range for its help text: "(1 to 1,024)", "(at least 0)", "" when unbounded.

    Upper bounds at the 32-bit limit (e.g. a seed's) say nothing to an analyst and are left out.
    """
    if high is not None and high >= 2 ** 31 - 1:
        high = None
    fmt = (lambda b: f"{int(b):,}") if integer else (lambda b: f"{b:g}")
    if low is not None and high is not None:
        return f"({fmt(low)} to {fmt(high)})"
    if low is not None:
        return f"(at least {fmt(low)})"
    if high is not None:
        return f"(at most {fmt(high)})"
    return ""
