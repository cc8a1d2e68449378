from django import template

register = template.Library()


@register.filter
def pm(metrics: dict, key: str) -> str:
    """``metrics[key] ± metrics[key_std]`` with three decimals, or an em dash when absent."""
    value = (metrics or {}).get(key)
    if value is None:
        return "—"
    std = metrics.get(f"{key}_std")
    return f"{value:.3f}" if std is None else f"{value:.3f} ± {std:.3f}"
