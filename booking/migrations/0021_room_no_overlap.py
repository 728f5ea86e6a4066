"""The database's own guarantee for rooms and waitlist holds, on PostgreSQL.

- The therapist constraint of 0002 now also counts HELD appointments (a waitlist offer
  keeps its time from everyone else).
- A room is never used by two sessions at once: no two occupying appointments in one
  room may have overlapping [start, room_until) ranges (room_until includes the room's
  turnover), unless they share a reference: the two seats of one session for two are
  the one session a couples room holds at a time.

SQLite has no such constraints; there the services' immediate transactions serialise
writers instead.
"""

from django.db import migrations

OCCUPYING = "('confirmed', 'completed', 'no_show', 'held')"
OCCUPYING_BEFORE = "('confirmed', 'completed', 'no_show')"

THERAPIST_SQL = """
ALTER TABLE booking_appointment
ADD CONSTRAINT appointment_no_overlap
EXCLUDE USING gist (therapist_id WITH =, tstzrange(start, occupied_until, '[)') WITH &&)
WHERE (status IN {statuses})
"""

ROOM_SQL = f"""
ALTER TABLE booking_appointment
ADD CONSTRAINT appointment_room_no_overlap
EXCLUDE USING gist (
    room_id WITH =,
    tstzrange(start, room_until, '[)') WITH &&,
    reference WITH <>
)
WHERE (room_id IS NOT NULL AND status IN {OCCUPYING})
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE booking_appointment DROP CONSTRAINT appointment_no_overlap")
    schema_editor.execute(THERAPIST_SQL.format(statuses=OCCUPYING))
    schema_editor.execute(ROOM_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE booking_appointment DROP CONSTRAINT appointment_room_no_overlap")
    schema_editor.execute("ALTER TABLE booking_appointment DROP CONSTRAINT appointment_no_overlap")
    schema_editor.execute(THERAPIST_SQL.format(statuses=OCCUPYING_BEFORE))


class Migration(migrations.Migration):
    dependencies = [("booking", "0020_rooms_couples_holds")]

    operations = [migrations.RunPython(forwards, backwards)]
