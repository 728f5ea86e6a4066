"""The schedule version: one number that moves on whenever what can be booked changes.

Cached availability (``booking.availability_cache``) is keyed by it. Database triggers on
every table the free times are made from bump it, so the bump happens in the same
transaction, and the same statement, as the write itself: whatever path wrote (a
service, the admin, a ``QuerySet.update()``, a bulk insert, a data migration or another
helper's new code), the change and the new version commit together or not at all.

Why that keeps a cached answer no staler than the last committed change: a reader reads
the version *first*, then the schedule. Under PostgreSQL's READ COMMITTED each statement
sees everything committed before it started, and SQLite readers see one snapshot, so a
reader that saw version V loaded a schedule at least as new as V. A transaction that
commits a change also commits V+1, so from that moment every reader asks for a key with
V+1 and can never be given an answer computed before the change. (A reader that saw V
but loaded data newer than V stores a fresher answer under an old key nobody asks for
again.) The number lives in the database, not in any process, so every gunicorn worker
and host agrees on it; the cached answers live in the shared cache (the database cache
table or Redis), and a process-local cache would still be correct, only less useful.

The triggers are (re)installed after every ``migrate`` (a ``post_migrate`` handler, see
``BookingConfig.ready``), not by one migration: SQLite drops a table's triggers whenever
a later migration rebuilds that table, and a table added later only needs adding to
:data:`availability_tables`.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from django.db import connection as default_connection

VERSION_TABLE = "booking_scheduleversion"


def availability_tables() -> list[str]:
    """The tables whose rows change the free times. A new model that does must be added
    here (tests/booking/test_schedule_version.py checks each has its triggers)."""
    from .models import (
        Appointment,
        BookingPolicy,
        Closure,
        Room,
        RoomFeature,
        Technique,
        TechniqueLength,
        Therapist,
        TimeOff,
        WorkingHours,
    )

    models = [
        Appointment,
        WorkingHours,
        TimeOff,
        Closure,
        BookingPolicy,
        Therapist,
        Therapist.techniques.through,
        Technique,
        Technique.required_features.through,
        TechniqueLength,
        Room,
        Room.features.through,
        RoomFeature,
    ]
    return [model._meta.db_table for model in models]


# An upsert, so a missing row (a flushed test database) comes back by itself.
_BUMP = (
    f"INSERT INTO {VERSION_TABLE} (id, value) VALUES (1, 1) "
    f"ON CONFLICT (id) DO UPDATE SET value = {VERSION_TABLE}.value + 1"
)
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION booking_schedule_version_bump() RETURNS trigger AS $$
BEGIN
    {_BUMP};
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def trigger_name(table: str, operation: str = "") -> str:
    return f"{table}_schedule_version{'_' + operation.lower() if operation else ''}"


def install_triggers(connection=None) -> None:
    """Create the bump triggers on every availability table; safe to run again."""
    connection = connection or default_connection
    # A table added to the list by a later migration gets its triggers after that one.
    existing = set(connection.introspection.table_names())
    tables = [table for table in availability_tables() if table in existing]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for table in tables:
                # Row-level: a statement that changes nothing (a claim that lost its
                # race) bumps nothing, so the hot row is locked only by real changes.
                cursor.execute(
                    f"CREATE OR REPLACE TRIGGER {trigger_name(table)} "
                    f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION booking_schedule_version_bump()"
                )
        elif connection.vendor == "sqlite":
            for table in tables:
                for operation in ("INSERT", "UPDATE", "DELETE"):
                    cursor.execute(
                        f"CREATE TRIGGER IF NOT EXISTS {trigger_name(table, operation)} "
                        f"AFTER {operation} ON {table} BEGIN {_BUMP}; END"
                    )
        else:  # pragma: no cover - the project runs on these two only
            raise NotImplementedError(f"No schedule version triggers for {connection.vendor}")


def drop_triggers(connection=None) -> None:
    """Remove the triggers (migrating back past the version table)."""
    connection = connection or default_connection
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in (table for table in availability_tables() if table in existing):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table}")
            else:
                for operation in ("INSERT", "UPDATE", "DELETE"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table, operation)}")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS booking_schedule_version_bump()")


def installed_trigger_tables(connection=None) -> set[str]:
    """The tables that have the bump triggers (for the test and for checks)."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT event_object_table FROM information_schema.triggers "
                "WHERE trigger_name LIKE %s",
                ["%_schedule_version"],
            )
            return {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT tbl_name, count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s "
            "GROUP BY tbl_name",
            ["%_schedule_version_%"],
        )
        return {table for table, count in cursor.fetchall() if count == 3}


def on_post_migrate(sender, using="default", **kwargs) -> None:
    from django.db import connections

    connection = connections[using]
    # Not when the database was migrated back to before the version table.
    if VERSION_TABLE in connection.introspection.table_names():
        install_triggers(connection)


_READ = f"SELECT value FROM {VERSION_TABLE} WHERE id = 1"


def _read(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_READ)
        row = cursor.fetchone()
    return row[0] if row else 0


def current() -> int:
    """The version now: one primary-key read. Read it *before* loading the schedule.

    On a cached availability request it is the first query, so it also stands in for the
    connection's health check (``CONN_HEALTH_CHECKS``): Django would otherwise send a
    ``SELECT 1`` before it, a second round trip to the database on every cache hit. A
    kept connection the server has dropped (a restart, an idle timeout) fails this read
    instead, and it is read again on a new connection, as Django's check would have done."""
    connection = default_connection
    if (
        connection.connection is None
        or not connection.health_check_enabled
        or connection.health_check_done
        or connection.in_atomic_block
    ):
        return _read(connection)
    connection.health_check_done = True  # this read is the check: Django's is skipped
    try:
        return _read(connection)
    except (InterfaceError, OperationalError):
        # Only a statement outside any transaction, so nothing is lost by starting over.
        connection.close()
        return _read(connection)
