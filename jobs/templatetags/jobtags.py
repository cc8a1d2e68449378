"""Small template helpers for the job pages; labels, units and formats come from ``jobs.labels``."""
from django import template

from .. import labels

register = template.Library()


@register.filter
def human_label(key) -> str:
    """``{{ key|human_label }}``: ``n_train`` → "Training rows"."""
    return labels.label(key)


@register.filter
def human_value(value, key) -> str:
    """``{{ value|human_value:key }}``: the value in the unit and precision its key calls for."""
    return labels.display(key, value)


@register.filter
def metric_rows(metrics) -> list[tuple[str, str, str, str]]:
    """Held-out metrics as ``(key, label, text, raw)`` rows: formatted for reading, raw for scripts."""
    if not hasattr(metrics, "items"):
        return []
    return [(k, labels.label(k), labels.display(k, v), "" if v is None else f"{v:.10g}" if isinstance(v, float) else str(v))
            for k, v in metrics.items()]


@register.filter
def param_rows(params) -> list[tuple[str, str, str]]:
    """Hyperparameters as ``(key, label, text)`` rows."""
    if not hasattr(params, "items"):
        return []
    return [(k, labels.label(k), labels.display_param(k, v)) for k, v in params.items()]


@register.filter
def dict_get(mapping, key):
    """``{{ mapping|dict_get:key }}``: look up a key that is held in a variable."""
    return mapping.get(key) if hasattr(mapping, "get") else None


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(n: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n:,.0f} ({n / size:.3g} {unit})"
    return f"{n:,.0f}"


FACT_KEYS = ("params_count", "samples_per_s", "inference_ms_per_batch", "inference_rows_per_s",
             "inference_ms_per_1k", "inference_batch_size", "devices", "samples_per_s_per_device")


@register.filter
def run_facts(summary) -> list[tuple[str, str, str]]:
    """A run summary as ``(key, label, text)`` rows: model size, training speed and inference latency
    first, with units; every other entry after them as it is."""
    if not hasattr(summary, "get"):
        return []
    rows = []
    params = _number(summary.get("params_count"))
    if params is not None:
        rows.append(("params_count", "Parameters", _count(params)))
    speed, devices = _number(summary.get("samples_per_s")), _number(summary.get("devices"))
    per_device = _number(summary.get("samples_per_s_per_device"))
    if devices is not None:
        rows.append(("devices", "Devices", f"{devices:,.0f}" + (" (one process each, DistributedDataParallel)" if devices > 1 else "")))
    if speed is not None:
        text = f"{speed:,.0f} samples/s"
        if devices is not None and devices > 1 and per_device is not None:
            text += f" in all · {per_device:,.0f} per device"
        rows.append(("samples_per_s", "Training speed", text))
    per_batch = _number(summary.get("inference_ms_per_batch"))
    if per_batch is not None:
        size = _number(summary.get("inference_batch_size"))
        text = f"{per_batch:,.2f} ms per batch" + (f" of {size:,.0f} rows" if size else "")
        per_1k, rows_s = _number(summary.get("inference_ms_per_1k")), _number(summary.get("inference_rows_per_s"))
        if per_1k is not None:
            text += f" · {per_1k:,.2f} ms per 1,000 rows"
        if rows_s is not None:
            text += f" · {rows_s:,.0f} rows/s"
        rows.append(("inference_ms_per_batch", "Inference latency", text))
    elif _number(summary.get("inference_ms_per_1k")) is not None:  # runs from before per-batch timing
        rows.append(("inference_ms_per_1k", "Inference latency", f"{summary['inference_ms_per_1k']:,.2f} ms per 1,000 rows"))
    rows += [(k, labels.label(k), labels.display(k, v)) for k, v in summary.items()
             if k not in FACT_KEYS and _short(v) and not labels.is_hidden(k)]
    return rows


def _short(value) -> bool:
    """Whether a summary entry reads well as one table cell (mappings and long lists belong to a
    kind's own panel, e.g. the uplift metric definitions)."""
    if isinstance(value, dict):
        return (len(value) <= 6 and len(str(value)) <= 200  # e.g. test rows per arm
                and all(not isinstance(v, (dict, list)) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return len(value) <= 12 and len(str(value)) <= 200
    return len(str(value)) <= 200


DISTILL_ROWS = (("Test AUC", "auc", "{:.4f}"), ("Test GAUC", "gauc", "{:.4f}"), ("Test logloss", "logloss", "{:.4f}"))


@register.filter
def teacher_student(job) -> list[tuple[str, str, str]]:
    """For a distillation run, ``(label, teacher, student)`` rows: held-out AUC, GAUC, logloss,
    parameters and per-batch latency of both models; empty for any other run."""
    metrics, summary = job.metrics or {}, job.summary or {}
    if _number(metrics.get("teacher_auc")) is None:
        return []
    rows = []
    for label, key, fmt in DISTILL_ROWS:
        t, s = _number(metrics.get(f"teacher_{key}")), _number(metrics.get(f"student_{key}"))
        if t is not None and s is not None:
            rows.append((label, fmt.format(t), fmt.format(s)))
    t, s = _number(summary.get("teacher_params")), _number(summary.get("student_params"))
    if t and s:
        rows.append(("Parameters", _count(t), f"{_count(s)} ({s / t:.0%} of the teacher)"))
    t, s = _number(metrics.get("teacher_latency_ms")), _number(metrics.get("student_latency_ms"))
    if t and s:
        rows.append((f"Latency per batch of {summary.get('latency_batch_rows', '?')} rows",
                     f"{t:.2f} ms", f"{s:.2f} ms ({t / s:.2f}× faster)" if s < t else f"{s:.2f} ms"))
    return rows


@register.filter
def hyperparameters(job) -> list[tuple[str, str, str]]:
    """The job's hyperparameters as ``(name, label, text)``; where the run used another value than the one asked
    (a split column replaces the random split), the value used, with what was asked beside it."""
    used = job.summary or {}
    rows = []
    for name, value in (job.params or {}).items():
        if name in used and used[name] != value and name in EFFECTIVE_PARAMS:
            rows.append((name, labels.label(name), f"{used[name]} (asked: {value}; {EFFECTIVE_PARAMS[name]})"))
        else:
            rows.append((name, labels.label(name), labels.display_param(name, value)))
    return rows


EFFECTIVE_PARAMS = {"split_method": "the dataset's split column wins"}
