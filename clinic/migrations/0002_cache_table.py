"""The table of Django's database cache, the default cache (see CACHES in settings).

Made here, not by a separate `createcachetable` step, so `migrate` alone prepares a
new install, CI and the test database. The table is made whatever CACHES says at the
time (Redis may be turned off later), and making it again is a no-op."""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

CACHE_TABLE = "clinic_cache"


def create_cache_table(apps, schema_editor):
    command = CreateCacheTable(stdout=None)
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, CACHE_TABLE, dry_run=False)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(CACHE_TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("clinic", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
