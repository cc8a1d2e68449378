"""``{% leaderboard_panel dataset %}``: the jobs app's leaderboard on the dataset page.

The dataset page belongs to ``datasets``, which does not import ``jobs``; the panel is contributed
here, reading the top runs from the headline index (``jobs.selectors.leaderboard_page``).
"""
from django import template

from ..selectors import leaderboard_top

register = template.Library()


@register.inclusion_tag("jobs/_leaderboard.html", takes_context=True)
def leaderboard_panel(context, dataset):
    request = context["request"]
    board = leaderboard_top(request.user, dataset.pk, request.GET.get("metric", ""))
    return {"board": board, "dataset": dataset, "request": request, "full_page": False}
