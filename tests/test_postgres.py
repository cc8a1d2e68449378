"""Checks that only make sense on PostgreSQL (required in CI, skipped with a reason elsewhere)."""
import pytest
from django.db import connection

from datasets.models import Dataset

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_database_is_postgresql_through_psycopg3():
    assert connection.vendor == "postgresql"
    import psycopg

    assert connection.connection.__class__.__module__.startswith("psycopg") and psycopg.__version__.startswith("3")


def test_column_roles_are_queryable_as_json(user):
    Dataset.objects.create(owner=user, name="d", kind="ctr", file_path="x/d.csv", original_filename="d.csv",
                           file_format="csv", size_bytes=1, sha256="0" * 64, n_rows=1,
                           columns=[{"name": "click", "role": "label"}, {"name": "site", "role": "categorical"}])
    assert Dataset.objects.filter(columns__contains=[{"role": "label"}]).count() == 1
    assert Dataset.objects.filter(columns__contains=[{"role": "sequence"}]).count() == 0
