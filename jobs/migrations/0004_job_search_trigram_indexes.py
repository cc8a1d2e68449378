"""Trigram indexes for the job list's search (``?q=``: part of a name or algorithm) on PostgreSQL.

Django's ``icontains`` is ``UPPER(col::text) LIKE UPPER('%q%')``; a GIN trigram index on that same
expression lets PostgreSQL find a rare term's few rows without reading the table (a common term is
found faster by walking the list's own index). SQLite has no such index: nothing to do there.
"""
from django.db import migrations

INDEXES = {
    "job_name_trgm": 'CREATE INDEX IF NOT EXISTS job_name_trgm ON jobs_job USING gin (UPPER("name"::text) gin_trgm_ops)',
    "job_algorithm_trgm": ('CREATE INDEX IF NOT EXISTS job_algorithm_trgm ON jobs_job '
                           'USING gin (UPPER("algorithm"::text) gin_trgm_ops)'),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for sql in INDEXES.values():
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_job_headline_metric_and_list_indexes")]
    operations = [migrations.RunPython(create, drop)]
