"""Human labels for the metric keys the registry and scoring pages show."""
from __future__ import annotations

from django import template

register = template.Library()

LABELS = {
    "auc": "Test AUC", "logloss": "Log-loss", "gauc": "GAUC",
    "sklift_qini_ctr": "Qini, CTR uplift", "sklift_qini_ctcvr": "Qini, CTCVR uplift",
    "sklift_auuc_ctr": "Normalised AUUC, CTR uplift", "sklift_auuc_ctcvr": "Normalised AUUC, CTCVR uplift",
    "micro_f1": "Micro-F1", "map": "mAP",
}


@register.filter
def metric_label(key: str) -> str:
    """``sklift_qini_ctr`` -> "Qini, CTR uplift"; unknown keys are shown as they are stored."""
    return LABELS.get(key, key)
