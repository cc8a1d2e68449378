"""Trigram indexes for the value browser's search (``?q=``: title or value) on PostgreSQL.

The search is ``product_id = q OR title ILIKE %q% OR value ILIKE %q%``; with these indexes a rare
term reads only its rows (a bitmap OR of three indexes), however many values the job holds.
"""
from django.db import migrations

INDEXES = {
    "xv_title_trgm": ('CREATE INDEX IF NOT EXISTS xv_title_trgm ON attributes_extractedvalue '
                      'USING gin (UPPER("title"::text) gin_trgm_ops)'),
    "xv_value_trgm": ('CREATE INDEX IF NOT EXISTS xv_value_trgm ON attributes_extractedvalue '
                      'USING gin (UPPER("value"::text) gin_trgm_ops)'),
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
    dependencies = [("attributes", "0004_value_browser_keyset_indexes")]
    operations = [migrations.RunPython(create, drop)]
