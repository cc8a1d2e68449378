"""Attribute lists stay bounded: 50 values a page with a next link, cached counts that follow reviews."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from attributes import selectors
from attributes.services import review_value
from jobs.models import Job

pytestmark = pytest.mark.django_db


def test_value_browser_shows_one_page_and_a_next_link(client, user, stored_values):
    client.force_login(user)
    page = client.get(reverse("attributes:browser", args=[stored_values.pk])).content.decode()
    assert len(re.findall(r'<tr data-value-id="', page)) == selectors.PAGE_SIZE == 50  # 61 values stored
    assert 'id="next-page"' in page


def test_review_counts_follow_each_decision_despite_the_cache(user, stored_values):
    before = selectors.review_counts(stored_values)
    waiting = selectors.waiting_count(stored_values)
    item = selectors.next_to_review(stored_values)
    review_value(item, user=user, decision="reject")
    after = selectors.review_counts(stored_values)
    assert after["rejected"] == before["rejected"] + 1 and after["predicted"] == before["predicted"] - 1
    assert selectors.waiting_count(stored_values) == waiting - 1


def test_attribute_index_is_paged(client, user, stored_values):
    client.force_login(user)
    Job.objects.bulk_create([Job(owner=user, dataset=stored_values.dataset, kind="attributes", algorithm="x",
                                 status="succeeded", curves={"big": [0.5] * 1000}) for _ in range(55)])
    page = client.get(reverse("attributes:index")).content.decode()
    assert page.count("attributes/jobs/") >= 50 and len(re.findall(r"<tr>\s*<td><a href=\"/attributes/jobs/", page)) == 50
    assert 'id="older-page"' in page
