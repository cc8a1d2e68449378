"""A trigram index for the dataset list's name search (``?q=``) on PostgreSQL (see jobs 0003)."""
from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute('CREATE INDEX IF NOT EXISTS dataset_name_trgm ON datasets_dataset '
                          'USING gin (UPPER("name"::text) gin_trgm_ops)')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS dataset_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("datasets", "0003_dataset_list_indexes")]
    operations = [migrations.RunPython(create, drop)]
