"""The database's own guarantee against double booking, on PostgreSQL.

An exclusion constraint: for one therapist, no two appointments that occupy time
(confirmed, completed, no-show) may have overlapping [start, occupied_until) ranges,
where occupied_until includes the cleanup buffer. It holds even for code that bypasses
the booking services. SQLite has no such constraint; there the services' immediate
transactions serialise writers instead.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

CONSTRAINT_SQL = """
ALTER TABLE booking_appointment
ADD CONSTRAINT appointment_no_overlap
EXCLUDE USING gist (therapist_id WITH =, tstzrange(start, occupied_until, '[)') WITH &&)
WHERE (status IN ('confirmed', 'completed', 'no_show'))
"""


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CONSTRAINT_SQL)


def remove_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE booking_appointment DROP CONSTRAINT appointment_no_overlap")


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]

    operations = [
        # Lets a gist index compare therapist ids with "=" (skipped on other databases).
        BtreeGistExtension(),
        migrations.RunPython(add_constraint, remove_constraint),
    ]
