"""Speed and query count of the availability lookup, with a clinic's worth of bookings.

Run from the project root:

    .venv/bin/python benchmarks/availability.py
    .venv/bin/python benchmarks/availability.py --database-url postgres://postgres@127.0.0.1:5432/clinic_bench
    .venv/bin/python benchmarks/availability.py --therapists 50,200 --history-years 0 --profile

By default it uses a throwaway SQLite file in a temp dir. With ``--database-url`` it
uses PostgreSQL instead: the database is created (connecting to the ``postgres``
maintenance database) and dropped again at the end. It refuses to touch a database that
already exists, because seeding deletes every therapist and appointment in it.

For each N of ``--therapists`` (default 5, 50 and 200; fresh data each time) offering
Swedish massage, working Monday to Saturday 09:00-18:00, it books about 60% of every
working day for the next month with 60-minute appointments plus their 15-minute cleanup
buffer, then times one therapist and all of them ("any available") over 1 and 30 days:

* ``load``: ``selectors.availability_load``, from the queries to the engine's input;
* ``raw``: the very same SQL statements (captured from one load) run through the DB-API
  cursor under Django's, each result fetched with ``fetchall()`` and nothing else done:
  the floor the load path is compared with (issue 13: load within 1.5x of it);
* ``engine``: ``availability.free_slots`` on data already loaded;
* ``total``: ``selectors.free_starts``, load then engine, as the pages call it;
* the JSON endpoint ``/book/api/availability/`` through Django's test client.

Then, on the ``--rooms-at`` size (default 50), measured last: ``--rooms`` rooms (default
20; two of them for two, 10 minutes' turnover) with about 60% of the rooms' working time
taken, and the same four lookups again (the engine's cost of rooms, issue 12); then
``--history-years`` years (default 5; 0 skips it) of past appointments, four a day per
therapist, some in rooms, and the same four lookups on the database with them and on a
copy made just before they were added, interleaved in one process (``compare_history``):
the change in per cent is the history's cost (issue 13: under 10%), printed next to the
work counted rather than timed (SQLite VM steps, PostgreSQL buffers).

Seeding writes rows in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL) with the
schedule-version triggers off and one bump at the end: one bump per row, all on one row,
is quadratic on PostgreSQL.

``--profile`` prints where the load and the engine spend their time (cProfile) for all
therapists over 30 days at the largest N.

It prints the median and minimum milliseconds over ``--runs`` runs (after ``--warmups``
warm-ups), the SQL query count and the number of free (therapist, start) slots found,
next to reference figures from another scheduler and the issue's aims, with the
machine's line (``common.MachineWatch``), and writes the same to
``benchmarks/results/availability-<database>.json``. Nothing is asserted about time:
exit status 0 means the benchmark ran.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

PROJECT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT / "benchmarks" / "results"

SIZES = (5, 50, 200)
DAYS_BOOKED = 30
WORK_START = dt.time(9, 0)
WORK_END = dt.time(18, 0)
WORK_MINUTES = 9 * 60
APPOINTMENT_MINUTES = 60
BUFFER_MINUTES = 15
QUARTER = 15

# A popular open-source Django scheduler, measured on this machine (milliseconds, queries).
REFERENCE = {
    "one therapist, 1 day": {"ms": 6, "queries": 17},
    "one therapist, 30 days": {"ms": 150, "queries": 420},
    "all therapists, 1 day": {"ms": 300, "queries": 830, "note": "50 staff"},
}
AIM = {"therapists": 50, "days": 30, "max_ms": 250.0, "max_queries": 6}
# Issue 13: "any" for 30 days (selector + engine), on SQLite on this machine class; the
# load within this many times the raw fetch of its rows; history's cost.
SPEED_AIMS_MS = {50: 40.0, 200: 150.0}
LOAD_RAW_AIM = 1.5
HISTORY_AIM = 0.10

CASES = [
    # (label, one therapist?, days)
    ("one therapist, 1 day", True, 1),
    ("one therapist, 30 days", True, 30),
    ("all therapists, 1 day", False, 1),
    ("all therapists, 30 days", False, 30),
]


class BenchError(Exception):
    """Something stopped the benchmark from running; the message says what."""


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from exc
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("each number of therapists must be at least 1")
    return sizes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="a postgres:// URL for a database that does not exist yet (default: SQLite in a temp dir)",
    )
    parser.add_argument(
        "--therapists",
        type=_sizes,
        default=SIZES,
        help="numbers of therapists, comma-separated (default 5,50,200)",
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per measurement (default 15)")
    parser.add_argument("--warmups", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument(
        "--rooms-at",
        type=int,
        default=50,
        help="the number of therapists the rooms and history runs use (default 50; the largest "
        "size if not among --therapists)",
    )
    parser.add_argument("--rooms", type=int, default=20, help="rooms for the rooms run (default 20; 0 skips)")
    parser.add_argument(
        "--history-years",
        type=int,
        default=5,
        help="years of past appointments added for the history run (default 5; 0 skips)",
    )
    parser.add_argument(
        "--history-rounds",
        type=int,
        default=20,
        help="rounds of the history comparison, each timing both sides, alternating (default 20)",
    )
    parser.add_argument(
        "--history-runs", type=int, default=5, help="timed runs per side and round (default 5)"
    )
    parser.add_argument(
        "--no-endpoint", action="store_true", help="skip the JSON endpoint (selector path only)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the load and the engine (all, 30 days, largest N)"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the temp dir / PostgreSQL database for inspection"
    )
    args = parser.parse_args()
    if args.runs < 1 or args.warmups < 0 or args.history_rounds < 1 or args.history_runs < 1:
        parser.error("--runs, --history-rounds and --history-runs must be at least 1, --warmups at least 0")
    if args.rooms < 0 or args.history_years < 0 or args.history_years > 50:
        parser.error("--rooms must be at least 0 and --history-years between 0 and 50")
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// or postgresql:// URL")
    if args.rooms_at not in args.therapists:
        args.rooms_at = args.therapists[-1]
    return args


# --------------------------------------------------------------------------- PostgreSQL database


def _pg_params(url: str) -> dict:
    import dj_database_url

    config = dj_database_url.parse(url)
    return {
        "name": config["NAME"],
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
    }


def _pg_admin_connection(params: dict):
    import psycopg2

    connection = psycopg2.connect(
        dbname="postgres",
        user=params["user"],
        password=params["password"],
        host=params["host"],
        port=params["port"],
    )
    connection.autocommit = True
    return connection


def pg_create(url: str) -> None:
    from psycopg2 import sql

    params = _pg_params(url)
    connection = _pg_admin_connection(params)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [params["name"]])
            if cursor.fetchone():
                raise BenchError(
                    f"database {params['name']!r} already exists. The benchmark deletes every "
                    "therapist and appointment in its database, so it only runs on one it creates: "
                    "drop it or choose another name."
                )
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(params["name"])))
    finally:
        connection.close()


def pg_drop(url: str) -> None:
    from psycopg2 import sql

    params = _pg_params(url)
    connection = _pg_admin_connection(params)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(params["name"]))
            )
    finally:
        connection.close()


# --------------------------------------------------------------------------- Django


def setup_django(database_url: str, tmp: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(tmp / "media"),
        # DEBUG off, as in production (no query log slowing every query down); it needs
        # a key other than the development one.
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        # Production settings refuse to start without the health-data encryption salt.
        FIELD_ENCRYPTION_SALT=os.environ.get("FIELD_ENCRYPTION_SALT") or secrets.token_urlsafe(16),
        ALLOWED_HOSTS="testserver,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def run_in_process(args, run, *, label: str | None = None) -> int:
    """The whole life of an in-process benchmark: a throwaway database (SQLite in a temp
    dir, or the PostgreSQL ``args.database_url``, created here and dropped after), Django
    set up on it with plain static names, then ``run(args)``, inside a
    ``common.InProcessRun(label)`` when a label is given. Returns the exit status."""
    created = False
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            if args.database_url:
                pg_create(args.database_url)
                created = True
                url = args.database_url
            else:
                url = f"sqlite:///{tmp / 'bench.sqlite3'}"
            setup_django(url, tmp)
            from django.conf import settings

            settings.STORAGES = {
                **settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            }
            if label is None:
                run(args)
            else:
                import common

                with common.InProcessRun(label):
                    run(args)
        except BenchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            if created:
                from django.db import connections

                connections.close_all()
                pg_drop(args.database_url)
    return 0


def run_pages_benchmark(doc: str, run) -> None:
    """Parse ``--therapists``/``--runs``, build a throwaway SQLite site with plain static
    names (page rendering is measured, not static files), then call ``run(args)``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--therapists", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        setup_pages_site(Path(tmp_name))
        import common

        with common.InProcessRun(Path(sys.argv[0]).stem):
            run(args)


def setup_pages_site(tmp: Path) -> None:
    """Django set up on a migrated throwaway SQLite database in ``tmp``, with plain static
    names (page rendering is measured, not static files)."""
    setup_django(f"sqlite:///{tmp / 'bench.sqlite3'}", tmp)
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def first_monday_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=7 - day.weekday())


def day_schedule(index: int, day: dt.date) -> list[int]:
    """The booked appointments' starts, in minutes after opening, of therapist ``index`` on a
    working ``day``: 4 or 5 appointments (one day in three gets 5), each taking 60 + 15
    minutes, i.e. 300 or 375 of 540 minutes, about 60% on average. The free quarter hours
    are scattered between them at random, seeded, so every run (and the peer benchmark's
    own database) books the same times. Pure: no Django, so another interpreter can use it."""
    count = 5 if (index + day.toordinal()) % 3 == 0 else 4
    block = APPOINTMENT_MINUTES + BUFFER_MINUTES
    spare_quarters = (WORK_MINUTES - count * block) // QUARTER
    rng = random.Random(index * 1_000_003 + day.toordinal())
    # Stars and bars: `count` bars among spare_quarters + count places split the spare
    # quarters into count + 1 gaps.
    bars = sorted(rng.sample(range(spare_quarters + count), count))
    gaps = [b - a - 1 for a, b in zip([-1, *bars[:-1]], bars, strict=True)]
    starts, cursor = [], 0
    for gap in gaps:
        starts.append(cursor + gap * QUARTER)
        cursor = starts[-1] + block
    return starts


# --------------------------------------------------------------------------- seeding in bulk


@contextmanager
def schedule_version_paused():
    """One transaction without the schedule-version triggers, and one bump at its end.

    The triggers bump one row once per row written: hundreds of thousands of updates of
    one row in one transaction, each finding the row behind all its earlier versions,
    which is quadratic on PostgreSQL (five years of history took over 500 s)."""
    from django.db import connection, transaction

    from booking import schedule_version

    with transaction.atomic():
        schedule_version.drop_triggers()
        yield
        schedule_version.install_triggers()
        with connection.cursor() as cursor:
            cursor.execute(schedule_version._BUMP)  # the whole seeding is one change


NULL = r"\N"  # COPY's text format


class AppointmentWriter:
    """Appointments written in bulk, as rows of (therapist id, start, end, occupied until,
    room id, room until, status, reference) with aware datetimes; every other column is
    the same for all of them (from one unsaved model instance, through each field's own
    conversion). SQLite: ``executemany``; PostgreSQL: ``COPY``. Nothing is validated: the
    caller writes rows the database accepts (the exclusion constraints still check)."""

    VARYING = [
        "therapist_id",
        "start",
        "end",
        "occupied_until",
        "room_id",
        "room_until",
        "status",
        "reference",
    ]
    CHUNK = 50_000

    def __init__(self, *, technique, client, price) -> None:
        from django.db import connection

        from booking.choices import AppointmentSource
        from booking.models import Appointment

        template = Appointment(
            technique=technique,
            client=client,
            duration_minutes=APPOINTMENT_MINUTES,
            price=price,
            buffer_minutes=BUFFER_MINUTES,
            client_name="Benchmark client",
            client_email="benchmark@example.com",
            client_phone="01227 000 000",
            source=AppointmentSource.ONLINE,
        )
        fields = [
            f for f in Appointment._meta.concrete_fields if not f.primary_key and f.column not in self.VARYING
        ]
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        constants = [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in fields]
        self.constants = tuple(constants)
        if self.postgres:
            self.constants_text = "\t".join(self._text(value) for value in constants)
        self.columns = [*self.VARYING, *(f.column for f in fields)]
        self.table = Appointment._meta.db_table
        self._moments: dict[dt.datetime, str] = {}

    @staticmethod
    def _text(value) -> str:
        """A value in COPY's text format (the values here hold no tab, newline or backslash)."""
        if value is None:
            return NULL
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return str(value)

    def _moment(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        found = self._moments.get(value)
        if found is None:
            utc = value.astimezone(dt.UTC)
            # As Django writes them: naive UTC text on SQLite; ISO with the offset for COPY.
            found = utc.isoformat() if self.postgres else utc.replace(tzinfo=None).isoformat(" ")
            self._moments[value] = found
        return found

    def write(self, rows) -> int:
        count = 0
        chunk: list[tuple] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= self.CHUNK:
                count += self._write(chunk)
                chunk = []
        return count + self._write(chunk)

    def _write(self, rows: list[tuple]) -> int:
        if not rows:
            return 0
        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(column) for column in self.columns)
        moment = self._moment
        with self.connection.cursor() as cursor:
            if self.postgres:
                lines = io.StringIO()
                for therapist_id, start, end, until, room_id, room_until, status, reference in rows:
                    room = NULL if room_id is None else str(room_id)
                    lines.write(
                        f"{therapist_id}\t{moment(start)}\t{moment(end)}\t{moment(until)}\t{room}\t"
                        f"{moment(room_until) or NULL}\t{status}\t{reference}\t{self.constants_text}\n"
                    )
                lines.seek(0)
                # The DB-API cursor under Django's: COPY is psycopg2's own.
                cursor.cursor.copy_expert(f"COPY {quote(self.table)} ({columns}) FROM STDIN", lines)
            else:
                placeholders = ", ".join(["%s"] * len(self.columns))
                constants = self.constants
                cursor.executemany(
                    f"INSERT INTO {quote(self.table)} ({columns}) VALUES ({placeholders})",
                    [
                        (therapist_id, moment(start), moment(end), moment(until), room_id, moment(room_until),
                         status, reference, *constants)
                        for therapist_id, start, end, until, room_id, room_until, status, reference in rows
                    ],
                )  # fmt: skip
        return len(rows)


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum / a periodic ANALYZE would leave them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def seed(n: int, first_day: dt.date, zone: ZoneInfo) -> dict:
    """Replace every therapist and appointment with N busy therapists; return booking stats."""
    from booking.choices import AppointmentStatus
    from booking.models import Appointment, Client, Technique, Therapist, TimeOff, WorkingHours, email_key

    technique = Technique.objects.get(slug="swedish")
    price = technique.lengths.get(duration_minutes=APPOINTMENT_MINUTES).price
    with schedule_version_paused():
        Appointment.objects.all().delete()
        TimeOff.objects.all().delete()
        Therapist.objects.all().delete()
        therapists = Therapist.objects.bulk_create(
            Therapist(name=f"Therapist {i:03d}", slug=f"therapist-{i:03d}") for i in range(n)
        )
        Through = Therapist.techniques.through
        Through.objects.bulk_create(Through(therapist=t, technique=technique) for t in therapists)
        WorkingHours.objects.bulk_create(
            WorkingHours(therapist=t, weekday=weekday, start=WORK_START, end=WORK_END)
            for t in therapists
            for weekday in range(6)
        )

        # Book from today (so the lookup's day of margin has data too) to the end of the
        # measured month: per therapist and working day, day_schedule()'s 4 or 5
        # appointments, about 60% of the day.
        today = dt.datetime.now(zone).date()
        last_day = first_day + dt.timedelta(days=DAYS_BOOKED)  # exclusive
        rows = []
        # One client for every row: the benchmark measures the diary, not client records.
        # (Kept from the previous size: the address is unique.)
        someone = Client.objects.filter(email_key=email_key("benchmark@example.com")).first()
        someone = someone or Client.objects.create(name="Benchmark client", email="benchmark@example.com")
        booked_in_window = worked_in_window = 0
        length = dt.timedelta(minutes=APPOINTMENT_MINUTES)
        buffer = dt.timedelta(minutes=BUFFER_MINUTES)
        for index, therapist in enumerate(therapists):
            day = today
            while day < last_day:
                if day.weekday() < 6:
                    starts = day_schedule(index, day)
                    count = len(starts)
                    block = APPOINTMENT_MINUTES + BUFFER_MINUTES
                    opening = dt.datetime.combine(day, WORK_START, tzinfo=zone).astimezone(dt.UTC)
                    for offset in starts:
                        start = opening + dt.timedelta(minutes=offset)
                        end = start + length
                        status = AppointmentStatus.CONFIRMED
                        until = end + buffer
                        rows.append(
                            (therapist.pk, start, end, until, None, None, status, f"BN{len(rows):08d}")
                        )
                    if day >= first_day:
                        booked_in_window += count * block
                        worked_in_window += WORK_MINUTES
                day += dt.timedelta(days=1)
        AppointmentWriter(technique=technique, client=someone, price=price).write(rows)
    _analyze()
    return {
        "therapists": n,
        "appointments": len(rows),
        "booked_share_of_working_time": round(booked_in_window / worked_in_window, 3),
    }


ROOM_TURNOVER = 10
ROOM_SHARE = 0.6  # of the rooms' working time


def seed_rooms(first_day: dt.date, zone: ZoneInfo, count: int) -> dict:
    """``count`` rooms (two for two); give rooms to appointments, earliest first, until
    about 60% of the rooms' working time in the window is taken (turnover included). The
    others keep no room. Seeded, so every run gives the same rooms."""
    from booking.models import Appointment, Room

    with schedule_version_paused():
        rooms = Room.objects.bulk_create(
            Room(
                name=f"Room {i:02d}",
                capacity=2 if i < 2 else 1,
                turnover_minutes=ROOM_TURNOVER,
                display_order=i,
            )
            for i in range(count)
        )
        rows = list(Appointment.objects.order_by("start", "pk").only("pk", "start", "end"))
        # Chance of wanting a room, so that the rooms end up about ROOM_SHARE full: the
        # diaries hold ~60% of the therapists' time, the rooms are fewer.
        rng = random.Random(12)
        therapist_minutes = sum((a.end - a.start).total_seconds() / 60 + BUFFER_MINUTES for a in rows)
        room_minutes_wanted = ROOM_SHARE * count * WORK_MINUTES * len({a.start.date() for a in rows})
        chance = min(1.0, room_minutes_wanted / therapist_minutes * 1.25)
        free_at = {room.pk: dt.datetime.min.replace(tzinfo=dt.UTC) for room in rooms}
        taken_in_window = 0.0
        changed = []
        turnover = dt.timedelta(minutes=ROOM_TURNOVER)
        for appointment in rows:
            if rng.random() >= chance:
                continue
            room_id = next((pk for pk, at in free_at.items() if at <= appointment.start), None)
            if room_id is None:
                continue
            appointment.room_id = room_id
            appointment.room_until = appointment.end + turnover
            free_at[room_id] = appointment.room_until
            changed.append(appointment)
            if appointment.start.astimezone(zone).date() >= first_day:
                taken_in_window += (appointment.room_until - appointment.start).total_seconds() / 60
        Appointment.objects.bulk_update(changed, ["room", "room_until"], batch_size=1000)
    _analyze()
    working_days = sum(1 for i in range(DAYS_BOOKED) if (first_day + dt.timedelta(days=i)).weekday() < 6)
    return {
        "rooms": count,
        "appointments_with_a_room": len(changed),
        "room_share_of_working_time": round(taken_in_window / (count * WORK_MINUTES * working_days), 3),
    }


HISTORY_TIMES = (dt.time(9, 0), dt.time(10, 30), dt.time(12, 0), dt.time(14, 0))


def seed_history(zone: ZoneInfo, years: int) -> dict:
    """``years`` years of completed appointments before today: four a day per therapist,
    Monday to Saturday, at 09:00, 10:30, 12:00 and 14:00 (never overlapping, so the
    exclusion constraints accept them). With rooms, each of the first therapists has a
    single room of their own for all of theirs (the couples rooms stay empty)."""
    from booking.choices import AppointmentStatus
    from booking.models import Client, Room, Technique, Therapist

    technique = Technique.objects.get(slug="swedish")
    price = technique.lengths.get(duration_minutes=APPOINTMENT_MINUTES).price
    someone = Client.objects.first()
    therapists = list(Therapist.objects.order_by("name", "id").values_list("pk", flat=True))
    rooms = list(Room.objects.filter(active=True, capacity=1).order_by("display_order", "id"))
    room_of = {therapist_id: room for therapist_id, room in zip(therapists, rooms, strict=False)}
    today = dt.datetime.now(zone).date()
    first = today - dt.timedelta(days=365 * years)
    length = dt.timedelta(minutes=APPOINTMENT_MINUTES)
    buffer = dt.timedelta(minutes=BUFFER_MINUTES)
    completed = AppointmentStatus.COMPLETED
    in_rooms = 0

    def rows():
        nonlocal in_rooms
        count = 0
        for offset in range((today - first).days):
            day = first + dt.timedelta(days=offset)
            if day.weekday() == 6:
                continue
            for wall in HISTORY_TIMES:
                start = dt.datetime.combine(day, wall, tzinfo=zone).astimezone(dt.UTC)
                end = start + length
                until = end + buffer
                for therapist_id in therapists:
                    room = room_of.get(therapist_id)
                    room_id = room_until = None
                    if room is not None:
                        room_id, room_until = room.pk, end + dt.timedelta(minutes=room.turnover_minutes)
                        in_rooms += 1
                    yield (therapist_id, start, end, until, room_id, room_until, completed, f"H{count:010d}")
                    count += 1

    with schedule_version_paused():
        written = AppointmentWriter(technique=technique, client=someone, price=price).write(rows())
    _analyze()
    return {"history_years": years, "past_appointments": written, "past_appointments_in_rooms": in_rooms}


def machine_load() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": os.cpu_count()}


# --------------------------------------------------------------------------- measuring


class Samples(list):
    """Wall-clock milliseconds of each run, with this process's CPU milliseconds of each in
    ``cpu``: on a shared machine the CPU time is disturbed far less than the wall time
    (all of the work on SQLite; on PostgreSQL the server's share is not in it)."""

    cpu: list[float]


def _timed(fn, runs: int, warmups: int) -> Samples:
    for _ in range(warmups):
        fn()
    gc.collect()
    samples, cpu = Samples(), []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    samples.cpu = cpu
    return samples


def _count_queries(fn) -> tuple[int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        result = fn()
    return len(captured.captured_queries), result


def _statements(fn) -> list[tuple[str, object]]:
    """The SQL statements ``fn`` runs, with their parameters, as Django hands them to the
    DB-API cursor."""
    from django.db import connection

    captured: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        fn()
    return captured


def _raw_fetch(statements: list[tuple[str, object]]) -> None:
    """Run the statements through the DB-API cursor under Django's (psycopg2's, or
    Django's thin sqlite3 one that only turns %s into ?) and fetch every row, as the
    database driver returns it: nothing converted, nothing built."""
    from django.db import connection

    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        for sql, params in statements:
            cursor.execute(sql, params)
            cursor.fetchall()


def _summary(samples: Samples) -> dict:
    return {
        "median_ms": round(statistics.median(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "cpu_median_ms": round(statistics.median(samples.cpu), 3),
        "cpu_min_ms": round(min(samples.cpu), 3),
    }


class Lookups:
    """The lookups of one case: the load, its raw fetch, the engine, both together, and
    the JSON endpoint."""

    def __init__(self, *, first_day: dt.date, zone: ZoneInfo, days: int, single: bool) -> None:
        from booking.models import Technique, Therapist

        self.technique = Technique.objects.get(slug="swedish")
        self.length = self.technique.lengths.get(duration_minutes=APPOINTMENT_MINUTES)
        self.therapist = Therapist.objects.order_by("name", "id").first() if single else None
        self.first_day = first_day
        self.days = days
        # The fixed "now": 07:00 on the first (Monday) morning. The endpoint uses the real
        # clock, but first_day is in the future and within the horizon, so both see the
        # same free slots (checked).
        self.now = dt.datetime.combine(first_day, dt.time(7, 0), tzinfo=zone)

    def load(self):
        from booking import selectors

        return selectors.availability_load(
            technique=self.technique, first_day=self.first_day, days=self.days, therapist=self.therapist
        )

    def engine(self, data):
        """The engine's half of ``selectors.free_starts``, on data already loaded."""
        from booking import availability

        return availability.free_slots(
            schedules=data.schedules,
            closures=data.closures,
            first_day=self.first_day,
            days=self.days,
            duration=dt.timedelta(minutes=self.length.duration_minutes),
            buffer=dt.timedelta(minutes=self.technique.buffer_minutes),
            policy=data.engine_policy(),
            now=self.now,
            tz=data.zone,
            rooms=data.room_schedules,
            required_features=data.required_features,
        )

    def total(self):
        from booking import selectors

        return selectors.free_starts(
            technique=self.technique,
            length=self.length,
            first_day=self.first_day,
            days=self.days,
            therapist=self.therapist,
            now=self.now,
        ).by_therapist

    def query(self) -> str:
        return urlencode(
            {
                "technique": self.technique.slug,
                "length": self.length.duration_minutes,
                "therapist": self.therapist.slug if self.therapist else "any",
                "start": self.first_day.isoformat(),
                "days": self.days,
            }
        )


def measure(
    n: int,
    first_day: dt.date,
    zone: ZoneInfo,
    args: argparse.Namespace,
    *,
    suffix: str = "",
    endpoint: bool = True,
) -> list[dict]:
    """Time every case on the data now in the database (the machine watched meanwhile)."""
    import common
    from django.test import Client

    client = Client()
    results = []
    with common.MachineWatch(f"N={n}{suffix}") as watch:
        for label, single, days in CASES:
            lookups = Lookups(first_day=first_day, zone=zone, days=days, single=single)
            queries, slots = _count_queries(lookups.total)
            slot_count = sum(len(starts) for per_day in slots.values() for starts in per_day.values())
            if slot_count == 0:
                raise BenchError(f"N={n}, {label}{suffix}: no free slots found; the seeding is wrong")
            statements = _statements(lookups.load)
            if len(statements) != queries:
                raise BenchError(f"N={n}, {label}{suffix}: the load ran {len(statements)} statements")
            data = lookups.load()
            total = _timed(lookups.total, args.runs, args.warmups)
            load = _timed(lookups.load, args.runs, args.warmups)
            raw = _timed(lambda statements=statements: _raw_fetch(statements), args.runs, args.warmups)
            engine = _timed(lambda lookups=lookups, data=data: lookups.engine(data), args.runs, args.warmups)
            row = {
                "therapists": n,
                "case": label + suffix,
                "days": days,
                "queries": queries,
                "slots": slot_count,
                "total": _summary(total),
                "load": _summary(load),
                "raw": _summary(raw),
                "engine": _summary(engine),
                "load_over_raw": round(statistics.median(load) / statistics.median(raw), 2),
            }
            if endpoint:
                path = f"/book/api/availability/?{lookups.query()}"

                def get(path=path):
                    response = client.get(path, secure=True)
                    if response.status_code != 200:
                        raise BenchError(f"{path} gave {response.status_code}")
                    return response

                endpoint_queries, response = _count_queries(get)
                body = json.loads(response.content)
                endpoint_slots = sum(len(t["therapists"]) for d in body["days"] for t in d["times"])
                if endpoint_slots != slot_count:
                    print(f"  warning: {path} found {endpoint_slots} slots, the selector {slot_count}")
                row["endpoint"] = {
                    **_summary(_timed(get, args.runs, args.warmups)),
                    "queries": endpoint_queries,
                    "slots": endpoint_slots,
                    "response_bytes": len(response.content),
                }
            results.append(row)
            print(
                f"  N={n:>3} {label + suffix:<44} load {row['load']['median_ms']:7.2f} "
                f"(raw {row['raw']['median_ms']:6.2f}, x{row['load_over_raw']:.2f}) "
                f"engine {row['engine']['median_ms']:7.2f} total {row['total']['median_ms']:7.2f} ms",
                flush=True,
            )
    print(f"  {watch.line()}", flush=True)
    for row in results:
        row["machine"] = watch.result
    return results


def profile(n: int, first_day: dt.date, zone: ZoneInfo, runs: int) -> str:
    """Where the load and the engine spend their time, for all therapists over 30 days."""
    lookups = Lookups(first_day=first_day, zone=zone, days=30, single=False)
    data = lookups.load()
    out = io.StringIO()
    for name, fn in (("load", lookups.load), ("engine", lambda: lookups.engine(data))):
        fn()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(runs):
            fn()
        profiler.disable()
        out.write(f"\n--- {name}, all {n} therapists, 30 days, {runs} runs (cProfile, by own time)\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    return out.getvalue()


# --------------------------------------------------------------------------- history's cost


@contextmanager
def _using(wrapper):
    """Django's default connection swapped for ``wrapper`` (the selectors look it up
    per call), and back."""
    from django.db import DEFAULT_DB_ALIAS, connections

    previous = connections[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = wrapper
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = previous


def twin_create(database_url: str | None) -> dict:
    """A copy of the database as it is now, before the history is added to the original:
    the "without history" side of the comparison, with the very same rows and planner
    statistics. SQLite: a copy of the file; PostgreSQL: a database made from it as a
    template (``<name>_nohistory``, which must not exist). Returns the copy's settings."""
    from django.db import DEFAULT_DB_ALIAS, connections

    settings = dict(connections[DEFAULT_DB_ALIAS].settings_dict)
    connections.close_all()  # a file copied whole; a template database nobody uses
    if database_url:
        from psycopg2 import sql

        params = _pg_params(database_url)
        name = f"{params['name']}_nohistory"
        admin = _pg_admin_connection(params)
        try:
            with admin.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone():
                    raise BenchError(f"database {name!r} already exists: drop it or choose another name")
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(params["name"])
                    )
                )
        finally:
            admin.close()
    else:
        name = str(Path(settings["NAME"]).with_name("bench-nohistory.sqlite3"))
        shutil.copyfile(settings["NAME"], name)
    settings["NAME"] = name
    return settings


def twin_drop(settings: dict, database_url: str | None) -> None:
    if database_url:
        pg_drop(database_url.rsplit("/", 1)[0] + "/" + settings["NAME"])
    # (The SQLite copy goes with the temp dir.)


def _work(statements: list[tuple[str, object]]) -> dict:
    """The database's own work for the statements, counted rather than timed, so that it
    shows a plan that reads the history whatever the machine is doing: SQLite's virtual
    machine steps (a progress handler called at every step), PostgreSQL's shared buffers
    hit and read (EXPLAIN (ANALYZE, BUFFERS)), and the rows returned."""
    from django.db import connection

    rows = 0
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        if connection.vendor == "postgresql":
            buffers = 0
            for sql, params in statements:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
                plan = cursor.fetchone()[0][0]["Plan"]
                buffers += plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
                rows += plan.get("Actual Rows", 0)
            return {"pg_buffers": buffers, "rows": rows}
        steps = 0

        def step() -> int:
            nonlocal steps
            steps += 1
            return 0

        raw = connection.connection
        raw.set_progress_handler(step, 1)
        try:
            for sql, params in statements:
                cursor.execute(sql, params)
                rows += len(cursor.fetchall())
        finally:
            raw.set_progress_handler(None, 1)
        return {"sqlite_vm_steps": steps, "rows": rows}


HISTORY_SIDES = ("without", "with")
KINDS = ("total", "load", "raw")


def compare_history(
    first_day: dt.date, zone: ZoneInfo, args: argparse.Namespace, without_settings: dict
) -> list[dict]:
    """Each case's lookups on the database without the history and on the one with it,
    in the same process, interleaved: ``--history-rounds`` rounds, each timing one side
    then the other (which side goes first alternates), after one untimed run on each, so
    that the process's caches (compiled statements, parsed instants), the garbage
    collector (collected before every side's turn) and the machine's load fall on both
    sides alike. Both connections stay open (SQLite's page cache is per connection), both
    databases hold the same current rows and were analysed the same way. Returns, per
    case, both sides' samples summed up and their counted work (:func:`_work`)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    with_history = connections[DEFAULT_DB_ALIAS]
    without_history = type(with_history)(without_settings, alias=DEFAULT_DB_ALIAS)
    wrappers = {"without": without_history, "with": with_history}
    results = []
    try:
        for label, single, days in CASES:
            with _using(without_history):
                # The same therapist and technique (the same ids in both databases).
                lookups = Lookups(first_day=first_day, zone=zone, days=days, single=single)
            slots, statements, work = {}, {}, {}
            for side, wrapper in wrappers.items():
                with _using(wrapper):
                    found = lookups.total()
                    slots[side] = sum(
                        len(starts) for per_day in found.values() for starts in per_day.values()
                    )
                    statements[side] = _statements(lookups.load)
                    work[side] = _work(statements[side])
            if slots["with"] != slots["without"]:
                raise BenchError(
                    f"{label}: {slots['without']} free slots without history, {slots['with']} with it"
                )
            samples = {side: {kind: Samples() for kind in KINDS} for side in wrappers}
            for side in samples:
                for kind in samples[side].values():
                    kind.cpu = []
            # Per round and kind, with over without (medians of the round's runs): a pair
            # timed within milliseconds of each other, which a machine whose load comes
            # and goes disturbs far less than it does either side's own figures.
            paired: dict[str, dict[str, list[float]]] = {kind: {"wall": [], "cpu": []} for kind in KINDS}
            for round_ in range(args.history_rounds):
                order = HISTORY_SIDES if round_ % 2 == 0 else HISTORY_SIDES[::-1]
                this_round: dict[str, dict[str, Samples]] = {}
                for side in order:
                    with _using(wrappers[side]):
                        for kind, fn in (
                            ("total", lookups.total),
                            ("load", lookups.load),
                            ("raw", lambda mine=statements[side]: _raw_fetch(mine)),
                        ):
                            timed = _timed(fn, runs=args.history_runs, warmups=1)
                            this_round.setdefault(side, {})[kind] = timed
                            samples[side][kind].extend(timed)
                            samples[side][kind].cpu.extend(timed.cpu)
                for kind in KINDS:
                    was, now = this_round["without"][kind], this_round["with"][kind]
                    paired[kind]["wall"].append(statistics.median(now) / statistics.median(was))
                    paired[kind]["cpu"].append(
                        statistics.median(now.cpu) / max(statistics.median(was.cpu), 1e-6)
                    )
            row = {"case": label, "days": days, "slots": slots["with"]}
            for side in HISTORY_SIDES:
                row[side] = {kind: _summary(found) for kind, found in samples[side].items()}
                row[side]["work"] = work[side]
            row["paired_change"] = {
                kind: {clock: round(statistics.median(ratios) - 1, 4) for clock, ratios in found.items()}
                for kind, found in paired.items()
            }
            results.append(row)
            print(f"  {label:<24} {_history_line(row)}", flush=True)
    finally:
        without_history.close()
    return results


def _history_line(row: dict) -> str:
    was, now = row["without"], row["with"]
    work = "; ".join(
        f"{name.replace('_', ' ')} {was['work'][name]} -> {now['work'][name]} "
        f"({_change(now['work'][name], was['work'][name])})"
        for name in was["work"]
    )
    paired = row["paired_change"]
    return (
        f"total {was['total']['median_ms']:7.2f} -> {now['total']['median_ms']:7.2f}; paired "
        + "; ".join(
            f"{kind} {paired[kind]['wall']:+.1%} (CPU {paired[kind]['cpu']:+.1%}, "
            f"min {_change(now[kind]['min_ms'], was[kind]['min_ms'])})"
            for kind in KINDS
        )
        + f"; {work}"
    )


# --------------------------------------------------------------------------- report


def _plural_days(days: int) -> str:
    return f"{days} day{'s' if days > 1 else ''}"


def _change(after: float, before: float) -> str:
    return f"{after / before - 1:+.0%}" if before else "n/a"


def print_report(report: dict) -> None:
    header = (
        f"{'N':>4}  {'case':<44} {'load':>7} {'raw':>7} {'ld/raw':>6} {'engine':>7} {'total':>7} "
        f"{'min':>7} {'cpu':>7} {'q':>2} {'slots':>6} {'endpoint':>8} {'q':>2}"
    )
    print()
    print(f"Availability benchmark on {report['database']['label']}")
    print(
        f"first day {report['first_day']} (a Monday), now = {report['now']} for the selector path; "
        f"milliseconds, median of {report['runs']} runs after {report['warmups']} warm-ups (min: of total; "
        "cpu: this process's CPU time, median, of total)"
    )
    for seeded in report["seeded"]:
        print(
            f"  N={seeded['therapists']}: {seeded['appointments']} appointments, "
            f"{seeded['booked_share_of_working_time']:.0%} of working time booked"
        )
    print()
    print(header)
    print("-" * len(header))
    for row in sorted(report["results"], key=lambda r: r["therapists"]):
        endpoint = row.get("endpoint")
        print(
            f"{row['therapists']:>4}  {row['case']:<44} {row['load']['median_ms']:>7.2f} "
            f"{row['raw']['median_ms']:>7.2f} {row['load_over_raw']:>6.2f} "
            f"{row['engine']['median_ms']:>7.2f} "
            f"{row['total']['median_ms']:>7.2f} {row['total']['min_ms']:>7.2f} "
            f"{row['total']['cpu_median_ms']:>7.2f} {row['queries']:>2} "
            f"{row['slots']:>6} "
            + (f"{endpoint['median_ms']:>8.2f} {endpoint['queries']:>2}" if endpoint else f"{'':>8} {'':>2}")
        )
    by_case = {(row["therapists"], row["case"]): row for row in report["results"]}
    rooms, history, n = report.get("rooms_seeded"), report.get("history_seeded"), report["rooms_at"]
    if rooms:
        print()
        print(
            f"Rooms (N={n}): {rooms['rooms']}, {rooms['appointments_with_a_room']} appointments in a room, "
            f"{rooms['room_share_of_working_time']:.0%} of room working time taken. Engine ms "
            "without -> with rooms (median; min):"
        )
        for label, _, _ in CASES:
            plain, roomed = by_case.get((n, label)), by_case.get((n, f"{label}{ROOMS_SUFFIX}"))
            if plain and roomed:
                without, with_rooms = plain["engine"]["median_ms"], roomed["engine"]["median_ms"]
                print(
                    f"  {label:<24} engine {without:7.2f} -> {with_rooms:7.2f} "
                    f"({_change(with_rooms, without)}; "
                    f"min {plain['engine']['min_ms']:.2f} -> {roomed['engine']['min_ms']:.2f}); "
                    f"load {plain['load']['median_ms']:.2f} -> {roomed['load']['median_ms']:.2f}; "
                    f"queries {plain['queries']} -> {roomed['queries']}"
                )
    if history:
        print()
        print(
            f"History (N={n}{', rooms' if rooms else ''}): {history['past_appointments']} past appointments "
            f"over {history['history_years']} years ({history['past_appointments_in_rooms']} in rooms). "
            f"Without -> with it (aim: under {HISTORY_AIM:.0%}), the two databases interleaved in "
            f"{report['history_rounds']} rounds of {report['history_runs']} runs a side: total median ms, "
            "then the change per lookup as the median of each round's with/without ratio (wall; CPU; "
            "and the change of the minimum), then the counted work (the same on a quiet or a busy machine):"
        )
        for row in report["history"]:
            print(f"  {row['case']:<24} {_history_line(row)}")
    print()
    print("Reference (a popular open-source Django scheduler, this machine):")
    for label, ref in REFERENCE.items():
        note = f" ({ref['note']})" if "note" in ref else ""
        print(f"  {label + note:<36} ~{ref['ms']:>4} ms  {ref['queries']:>4} queries")
    print()
    aim = report["aim"]
    if aim:
        print(
            f"Aim (issue 11): all {AIM['therapists']} therapists for {AIM['days']} days via selector + "
            f"engine in < {AIM['max_ms']:.0f} ms with <= {AIM['max_queries']} queries: "
            f"{aim['median_ms']:.2f} ms, {aim['queries']} queries -> {'MET' if aim['met'] else 'NOT MET'}"
        )
    for n, limit in SPEED_AIMS_MS.items():
        row = by_case.get((n, "all therapists, 30 days"))
        if row:
            print(
                f"Aim (issue 13, SQLite): all {n} therapists for 30 days in < {limit:.0f} ms: "
                f"{row['total']['median_ms']:.2f} ms median, {row['total']['min_ms']:.2f} min, "
                f"{row['total']['cpu_median_ms']:.2f} CPU "
                f"(load {row['load']['median_ms']:.2f}, engine {row['engine']['median_ms']:.2f}); "
                f"load {row['load_over_raw']:.2f}x the raw fetch (aim <= {LOAD_RAW_AIM})"
            )
    print("\nMachine, per phase:\n  " + "\n  ".join(report["machine_lines"]))


ROOMS_SUFFIX = ", rooms"


def main() -> int:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-availability-"))
    created_pg = False
    try:
        if args.database_url:
            pg_create(args.database_url)
            created_pg = True
            database_url = args.database_url
        else:
            database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        print(f"Database: {database_url}", flush=True)
        setup_django(database_url, tmp)

        import django
        from django.db import connection

        from booking.selectors import clinic_zone

        zone = clinic_zone()
        first_day = first_monday_after(dt.datetime.now(zone).date())
        now = dt.datetime.combine(first_day, dt.time(7, 0), tzinfo=zone)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                version = cursor.fetchone()[0]
            label = f"PostgreSQL {version}"
        else:
            import sqlite3

            version = sqlite3.sqlite_version
            label = f"SQLite {version} (file in a temp dir)"

        import common

        endpoint = not args.no_endpoint
        # The rooms and history runs add to the data of their size: that size goes last.
        sizes = [n for n in args.therapists if n != args.rooms_at] + [args.rooms_at]
        seeded, results = [], []
        rooms_seeded = history_seeded = twin = None
        history, history_machine = [], None
        profile_text = ""
        with common.InProcessRun("availability, whole run") as machine:
            for n in sizes:
                print(f"Seeding {n} therapists...", flush=True)
                began = time.perf_counter()
                seeded.append({**seed(n, first_day, zone), "seconds": round(time.perf_counter() - began, 1)})
                print(f"  {seeded[-1]}", flush=True)
                results.extend(measure(n, first_day, zone, args, endpoint=endpoint))
                if args.profile and n == max(sizes):
                    profile_text = profile(n, first_day, zone, args.runs)
                if n != args.rooms_at:
                    continue
                suffix = ""
                if args.rooms:
                    print(f"Adding {args.rooms} rooms...", flush=True)
                    rooms_seeded = seed_rooms(first_day, zone, args.rooms)
                    print(f"  {rooms_seeded}", flush=True)
                    suffix = ROOMS_SUFFIX
                    results.extend(measure(n, first_day, zone, args, suffix=suffix, endpoint=False))
                if args.history_years:
                    twin = twin_create(args.database_url)
                    print(f"Adding {args.history_years} years of past appointments...", flush=True)
                    began = time.perf_counter()
                    history_seeded = seed_history(zone, args.history_years)
                    history_seeded["seconds"] = round(time.perf_counter() - began, 1)
                    print(f"  {history_seeded}", flush=True)
                    print(
                        f"Without -> with history, {args.history_rounds} interleaved rounds of "
                        f"{args.history_runs} runs a side:",
                        flush=True,
                    )
                    with common.MachineWatch(f"N={n}{suffix}, history compared") as watch:
                        history = compare_history(first_day, zone, args, twin)
                    print(f"  {watch.line()}", flush=True)
                    history_machine = watch.result

        target = next(
            (
                r
                for r in results
                if r["therapists"] == AIM["therapists"] and r["case"] == "all therapists, 30 days"
            ),
            None,
        )
        aim = (
            {
                **AIM,
                "median_ms": target["total"]["median_ms"],
                "queries": target["queries"],
                "met": target["total"]["median_ms"] < AIM["max_ms"]
                and target["queries"] <= AIM["max_queries"],
            }
            if target
            else None
        )
        machine_lines = []
        for row in results:
            line = common.MachineWatch(**{"label": row["machine"]["label"], "result": row["machine"]}).line()
            if line not in machine_lines:
                machine_lines.append(line)
        if history_machine:
            machine_lines.append(
                common.MachineWatch(label=history_machine["label"], result=history_machine).line()
            )
        machine_lines.append(machine.watch.line())
        report = {
            "benchmark": "availability",
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": common.git_commit(),
            "database": {"vendor": connection.vendor, "version": version, "label": label},
            "python": platform.python_version(),
            "django": django.get_version(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "first_day": first_day.isoformat(),
            "now": now.isoformat(),
            "runs": args.runs,
            "warmups": args.warmups,
            "history_rounds": args.history_rounds,
            "history_runs": args.history_runs,
            "rooms_at": args.rooms_at,
            "seeded": seeded,
            "rooms_seeded": rooms_seeded,
            "history_seeded": history_seeded,
            "results": results,
            "history": history,
            "reference": REFERENCE,
            "aim": aim,
            "trivial_view_ms": machine.trivial_ms,
            "machine_load": machine.watch.result,
            "machine_lines": machine_lines,
        }
        if profile_text:
            print(profile_text)
        print_report(report)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / f"availability-{connection.vendor}.json"
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nResults written to {out.relative_to(PROJECT)}")
        return 0
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if created_pg and not args.keep_db:
            if twin:
                twin_drop(twin, args.database_url)
            pg_drop(args.database_url)
        if args.keep_db:
            kept = f" and {args.database_url}" if created_pg else ""
            if created_pg and twin:
                kept += f" and its copy without the history, {twin['NAME']}"
            print(f"Kept {tmp}{kept}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
