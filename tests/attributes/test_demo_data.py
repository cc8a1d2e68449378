"""``load_demo_data`` loads OA-Mine as an attributes catalogue when the shared folder has it."""
from __future__ import annotations

import pytest

from datasets.management.commands.load_demo_data import Command
from datasets.models import Dataset

pytestmark = pytest.mark.django_db


def test_oa_mine_is_loaded_as_a_long_attributes_table(user, shared_data, tmp_path):
    command = Command()
    command._load_oa_mine(user, shared_data)
    dataset = Dataset.objects.get(kind="attributes")
    assert dataset.status == "ready" and dataset.source == "demo" and not dataset.errors
    assert dataset.roles == {"product_id": "item_id", "title": "title", "category": "category",
                             "attribute": "attribute", "value": "value"}
    attribute = next(c for c in dataset.columns if c["name"] == "attribute")
    assert attribute["missing"] == 491  # the test titles, one empty row each, to extract for
    command._load_oa_mine(user, shared_data)  # a second run keeps the first
    command._load_oa_mine(user, tmp_path)  # no OA-Mine there: skipped, nothing raised
    assert Dataset.objects.filter(kind="attributes").count() == 1


def test_ae_110k_is_loaded_as_a_second_catalogue(user, shared_data):
    Command()._load_ae_110k(user, shared_data)
    dataset = Dataset.objects.get(kind="attributes")
    assert dataset.status == "ready" and not dataset.errors and "AE-110K" in dataset.name
    attribute = next(c for c in dataset.columns if c["name"] == "attribute")
    # the 524 test titles, left unlabelled for extraction, plus train titles whose values are all "n/a"
    assert attribute["missing"] >= 524
