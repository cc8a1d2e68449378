"""The value browser and the review queue count "waiting for review" with one definition (issue 11: the
browser said 3558, the queue 2225: it counted predictions on held-out test products too)."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from attributes import selectors
from attributes.models import ExtractedValue

pytestmark = pytest.mark.django_db


def _waiting(html: str) -> int:
    return int(re.search(r'id="waiting-count">(\d+)<', html).group(1))


def test_browser_and_review_queue_show_the_same_waiting_count(client, user, stored_values):
    held_out = ExtractedValue.objects.filter(job=stored_values, status="predicted", attribute="Color",
                                             product_id__in=[f"p{i}" for i in range(10)])
    held_out.update(split="test")
    client.force_login(user)
    browser = client.get(reverse("attributes:browser", args=[stored_values.pk])).content.decode()
    queue = client.get(reverse("attributes:review", args=[stored_values.pk])).content.decode()
    expected = selectors.review_queryset(stored_values).count()
    assert expected == 31 - 10  # 30 Color predictions + 1 conflicting Brand, 10 of them held out
    assert _waiting(browser) == _waiting(queue) == expected
    assert "plus 10 on held-out labelled products" in browser
    counts = selectors.review_counts(stored_values)
    assert counts["waiting"] == expected and counts["predicted"] == 31
