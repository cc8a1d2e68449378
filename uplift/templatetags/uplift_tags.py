"""Template helpers for uplift job pages."""
from django import template

from ..selectors import metric_matrix

register = template.Library()


@register.inclusion_tag("uplift/_matrix.html")
def uplift_metric_matrix(job):
    """The task × arm × metric table with definitions."""
    return {"matrix": metric_matrix(job), "job": job}
