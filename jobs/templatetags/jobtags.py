"""Small template helpers for the job pages."""
from django import template

register = template.Library()


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
    rows += [(k, k, "—" if v is None else str(v)) for k, v in summary.items()
             if k not in FACT_KEYS and _short(v)]
    return rows


def _short(value) -> bool:
    """Whether a summary entry reads well as one table cell (mappings and long lists belong to a
    kind's own panel, e.g. the uplift metric definitions)."""
    if isinstance(value, dict):
        return False
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
