"""Speed and query count of the availability lookup, with a clinic's worth of bookings.

Run from the project root:

    .venv/bin/python benchmarks/availability.py
    .venv/bin/python benchmarks/availability.py --database-url postgres://postgres@127.0.0.1:5432/clinic_bench

By default it uses a throwaway SQLite file in a temp dir. With ``--database-url`` it
uses PostgreSQL instead: the database is created (connecting to the ``postgres``
maintenance database) and dropped again at the end. It refuses to touch a database that
already exists, because seeding deletes every therapist and appointment in it.

For N = 5 and N = 50 therapists (fresh data each time) offering Swedish massage, working
Monday to Saturday 09:00-18:00, it books about 60% of every working day for the next
month with 60-minute appointments plus their 15-minute cleanup buffer, then times:

* one therapist for 1 day, one for 30 days, all therapists for 1 day, all for 30 days;
* each (a) through ``selectors.free_starts`` (load, then the engine; each half timed too) and
  (b) through the JSON endpoint ``/book/api/availability/`` with Django's test client.

Then, in the same run and on the same 50 therapists (issue 12): 20 rooms (two of them
for two, 10 minutes' turnover), with about 60% of the rooms' working time taken by
appointments given a room (the rest have none, as if booked before the clinic set up
rooms, so the diaries stay exactly as full), "any available" for 1 and 30 days. Then
(issue 13) five years of past appointments are added (four a day per therapist) and the
rooms cases are timed again: the history should change them by little.

The load average is printed before and after, with the share of the wall time this
process had the CPU, so figures from a busy machine can be judged.

It prints the median and minimum milliseconds over ``--runs`` runs (after ``--warmups``
warm-ups), the SQL query count and the number of free (therapist, start) slots found,
next to reference figures from another scheduler, and writes the same to
``benchmarks/results/availability-<database>.json``. Nothing is asserted about time:
exit status 0 means the benchmark ran.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

PROJECT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT / "benchmarks" / "results"

SIZES = (5, 50)
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

CASES = [
    # (label, one therapist?, days)
    ("one therapist, 1 day", True, 1),
    ("one therapist, 30 days", True, 30),
    ("all therapists, 1 day", False, 1),
    ("all therapists, 30 days", False, 30),
]


class BenchError(Exception):
    """Something stopped the benchmark from running; the message says what."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="a postgres:// URL for a database that does not exist yet (default: SQLite in a temp dir)",
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per measurement (default 15)")
    parser.add_argument("--warmups", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the temp dir / PostgreSQL database for inspection"
    )
    args = parser.parse_args()
    if args.runs < 1 or args.warmups < 0:
        parser.error("--runs must be at least 1 and --warmups at least 0")
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// or postgresql:// URL")
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


def seed(n: int, first_day: dt.date, zone: ZoneInfo) -> dict:
    """Replace every therapist and appointment with N busy therapists; return booking stats."""
    from django.db import connection, transaction

    from booking.choices import AppointmentSource, AppointmentStatus
    from booking.models import Appointment, Client, Technique, Therapist, TimeOff, WorkingHours, email_key

    technique = Technique.objects.get(slug="swedish")
    price = technique.lengths.get(duration_minutes=APPOINTMENT_MINUTES).price
    with transaction.atomic():
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
        # measured month. Per therapist and working day: 4 or 5 appointments (one day in
        # three gets 5), each taking 60 + 15 minutes, i.e. 300 or 375 of 540 minutes,
        # about 60% on average. The free quarter hours are scattered between them at
        # random (seeded, so every run books the same times).
        today = dt.datetime.now(zone).date()
        last_day = first_day + dt.timedelta(days=DAYS_BOOKED)  # exclusive
        rows = []
        # One client for every row: the benchmark measures the diary, not client records.
        # (Kept from the previous size: the address is unique.)
        someone = Client.objects.filter(email_key=email_key("benchmark@example.com")).first()
        someone = someone or Client.objects.create(name="Benchmark client", email="benchmark@example.com")
        booked_in_window = worked_in_window = 0
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
                        end = start + dt.timedelta(minutes=APPOINTMENT_MINUTES)
                        occupied_until = end + dt.timedelta(minutes=BUFFER_MINUTES)
                        rows.append(
                            Appointment(
                                therapist=therapist,
                                technique=technique,
                                duration_minutes=APPOINTMENT_MINUTES,
                                price=price,
                                buffer_minutes=BUFFER_MINUTES,
                                start=start,
                                end=end,
                                occupied_until=occupied_until,
                                status=AppointmentStatus.CONFIRMED,
                                client_name=f"Client {len(rows)}",
                                client_email=f"client{len(rows)}@example.com",
                                client_phone="01227 000 000",
                                client=someone,
                                reference=f"BN{len(rows):08d}",
                                source=AppointmentSource.ONLINE,
                            )
                        )
                    if day >= first_day:
                        booked_in_window += count * block
                        worked_in_window += WORK_MINUTES
                day += dt.timedelta(days=1)
        Appointment.objects.bulk_create(rows, batch_size=1000)
    # Fresh planner statistics, as autovacuum / a periodic ANALYZE would leave them.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "therapists": n,
        "appointments": len(rows),
        "booked_share_of_working_time": round(booked_in_window / worked_in_window, 3),
    }


ROOMS = 20
ROOM_TURNOVER = 10
ROOM_SHARE = 0.6  # of the rooms' working time
HISTORY_YEARS = 5
ROOM_CASES = [
    ("all therapists, 1 day", False, 1),
    ("all therapists, 30 days", False, 30),
]


def seed_rooms(first_day: dt.date, zone: ZoneInfo) -> dict:
    """20 rooms (two for two); give rooms to appointments, earliest first, until about 60%
    of the rooms' working time in the window is taken (turnover included). The others
    keep no room. Seeded, so every run gives the same rooms."""
    from django.db import connection, transaction

    from booking.models import Appointment, Room

    with transaction.atomic():
        rooms = Room.objects.bulk_create(
            Room(
                name=f"Room {i:02d}",
                capacity=2 if i < 2 else 1,
                turnover_minutes=ROOM_TURNOVER,
                display_order=i,
            )
            for i in range(ROOMS)
        )
        rows = list(Appointment.objects.order_by("start", "pk").only("pk", "start", "end"))
        # Chance of wanting a room, so that the rooms end up about ROOM_SHARE full: the
        # diaries hold ~60% of 50 therapists' time, the rooms are 20.
        rng = random.Random(12)
        therapist_minutes = sum((a.end - a.start).total_seconds() / 60 + BUFFER_MINUTES for a in rows)
        room_minutes_wanted = ROOM_SHARE * ROOMS * WORK_MINUTES * len({a.start.date() for a in rows})
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
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    working_days = sum(1 for i in range(DAYS_BOOKED) if (first_day + dt.timedelta(days=i)).weekday() < 6)
    return {
        "rooms": ROOMS,
        "appointments_with_a_room": len(changed),
        "room_share_of_working_time": round(taken_in_window / (ROOMS * WORK_MINUTES * working_days), 3),
    }


def seed_history(zone: ZoneInfo) -> dict:
    """Five years of completed appointments before today: four a day per therapist."""
    from django.db import connection, transaction

    from booking.choices import AppointmentSource, AppointmentStatus
    from booking.models import Appointment, Client, Technique, Therapist

    technique = Technique.objects.get(slug="swedish")
    someone = Client.objects.first()
    therapists = list(Therapist.objects.values_list("pk", flat=True))
    today = dt.datetime.now(zone).date()
    day = today - dt.timedelta(days=365 * HISTORY_YEARS)
    hours = [dt.time(9, 0), dt.time(10, 30), dt.time(12, 0), dt.time(14, 0)]
    minutes = dt.timedelta(minutes=APPOINTMENT_MINUTES)
    buffer = dt.timedelta(minutes=BUFFER_MINUTES)
    count = 0
    with transaction.atomic():
        batch = []
        while day < today:
            if day.weekday() < 6:
                for wall in hours:
                    start = dt.datetime.combine(day, wall, tzinfo=zone).astimezone(dt.UTC)
                    for therapist_id in therapists:
                        batch.append(
                            Appointment(
                                therapist_id=therapist_id, technique=technique, duration_minutes=60,
                                price=50, buffer_minutes=BUFFER_MINUTES, start=start, end=start + minutes,
                                occupied_until=start + minutes + buffer, status=AppointmentStatus.COMPLETED,
                                client_name="Past client", client_email="past@example.com",
                                client_phone="01227 000 000", client=someone, reference=f"H{count:010d}",
                                source=AppointmentSource.STAFF,
                            )
                        )  # fmt: skip
                        count += 1
                if len(batch) >= 20000:
                    Appointment.objects.bulk_create(batch, batch_size=5000)
                    batch = []
            day += dt.timedelta(days=1)
        Appointment.objects.bulk_create(batch, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"history_years": HISTORY_YEARS, "past_appointments": count}


def machine_load() -> dict:
    """The load average, and this process's share of the wall time on a CPU since start."""
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": os.cpu_count()}


# --------------------------------------------------------------------------- measuring


def _timed(fn, runs: int, warmups: int) -> list[float]:
    for _ in range(warmups):
        fn()
    gc.collect()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _count_queries(fn) -> tuple[int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        result = fn()
    return len(captured.captured_queries), result


def _summary(samples: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
        "samples_ms": [round(s, 3) for s in samples],
    }


def measure(
    n: int,
    first_day: dt.date,
    zone: ZoneInfo,
    args: argparse.Namespace,
    cases=CASES,
    suffix: str = "",
    endpoint: bool = True,
) -> list[dict]:
    from django.test import Client

    from booking import availability, selectors
    from booking.models import Technique, Therapist

    technique = Technique.objects.get(slug="swedish")
    length = technique.lengths.get(duration_minutes=APPOINTMENT_MINUTES)
    one = Therapist.objects.order_by("name", "id").first()
    # The fixed "now": 07:00 on the first (Monday) morning. The endpoint uses the real
    # clock, but first_day is in the future and within the horizon, so both see the same
    # free slots (checked below).
    now = dt.datetime.combine(first_day, dt.time(7, 0), tzinfo=zone)
    client = Client()
    results = []
    for label, single, days in cases:
        therapist = one if single else None
        label += suffix

        def load(therapist=therapist, days=days):
            return selectors.availability_load(
                technique=technique, first_day=first_day, days=days, therapist=therapist
            )

        def engine(data, days=days):
            # The engine's half of selectors.free_starts, on data already loaded.
            return availability.free_slots(
                schedules=data.schedules,
                closures=data.closures,
                first_day=first_day,
                days=days,
                duration=dt.timedelta(minutes=length.duration_minutes),
                buffer=dt.timedelta(minutes=technique.buffer_minutes),
                policy=data.engine_policy(),
                now=now,
                tz=data.zone,
                rooms=data.room_schedules,
                required_features=data.required_features,
            )

        def selector_path(therapist=therapist, days=days):
            return selectors.free_starts(
                technique=technique,
                length=length,
                first_day=first_day,
                days=days,
                therapist=therapist,
                now=now,
            ).by_therapist

        query = urlencode(
            {
                "technique": technique.slug,
                "length": length.duration_minutes,
                "therapist": therapist.slug if therapist else "any",
                "start": first_day.isoformat(),
                "days": days,
            }
        )

        def endpoint_path(query=query):
            response = client.get(f"/book/api/availability/?{query}", secure=True)
            if response.status_code != 200:
                raise BenchError(f"/book/api/availability/?{query} gave {response.status_code}")
            return response

        # (a) selector + engine, and its two halves on their own.
        selector_queries, slots = _count_queries(selector_path)
        selector_slots = sum(len(starts) for per_day in slots.values() for starts in per_day.values())
        selector_samples = _timed(selector_path, args.runs, args.warmups)
        load_samples = _timed(load, args.runs, args.warmups)
        data = load()
        engine_samples = _timed(lambda engine=engine, data=data: engine(data), args.runs, args.warmups)

        # (b) the JSON endpoint through the test client (full middleware stack).
        if endpoint:
            endpoint_queries, response = _count_queries(endpoint_path)
            body = json.loads(response.content)
            endpoint_slots = sum(len(t["therapists"]) for d in body["days"] for t in d["times"])
            endpoint_starts = sum(len(d["times"]) for d in body["days"])
            endpoint_samples = _timed(endpoint_path, args.runs, args.warmups)
        else:
            endpoint_queries, endpoint_slots, endpoint_starts, endpoint_samples = 0, selector_slots, 0, [0.0]
            response = None

        if selector_slots == 0:
            raise BenchError(f"N={n}, {label}: no free slots found; the seeding is wrong")
        if endpoint_slots != selector_slots:
            print(
                f"  warning: N={n}, {label}: endpoint found {endpoint_slots} slots, "
                f"selector {selector_slots}",
                flush=True,
            )
        results.append(
            {
                "therapists": n,
                "case": label,
                "days": days,
                "selector": {
                    **_summary(selector_samples),
                    "queries": selector_queries,
                    "slots": selector_slots,
                    "load_median_ms": round(statistics.median(load_samples), 2),
                    "engine_median_ms": round(statistics.median(engine_samples), 2),
                },
                "endpoint": {
                    **_summary(endpoint_samples),
                    "queries": endpoint_queries,
                    "slots": endpoint_slots,
                    "distinct_starts": endpoint_starts,
                    "response_bytes": len(response.content) if response else 0,
                },
            }
        )
        print(
            f"  N={n:>2} {label:<24} selector {statistics.median(selector_samples):8.2f} ms "
            f"endpoint {statistics.median(endpoint_samples):8.2f} ms",
            flush=True,
        )
    return results


# --------------------------------------------------------------------------- report


def print_report(report: dict) -> None:
    header = (
        f"{'N':>3}  {'case':<24} {'path':<9} {'median ms':>10} {'min ms':>8} "
        f"{'load ms':>8} {'engine ms':>9} {'queries':>7} {'slots':>7}"
    )
    print()
    print(f"Availability benchmark on {report['database']['label']}")
    print(
        f"first day {report['first_day']} (a Monday), now = {report['now']} for the selector path; "
        f"median of {report['runs']} runs after {report['warmups']} warm-ups"
    )
    for seeded in report["seeded"]:
        print(
            f"  N={seeded['therapists']}: {seeded['appointments']} appointments, "
            f"{seeded['booked_share_of_working_time']:.0%} of working time booked"
        )
    print()
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        s, e = row["selector"], row["endpoint"]
        print(
            f"{row['therapists']:>3}  {row['case']:<24} {'selector':<9} {s['median_ms']:>10.2f} "
            f"{s['min_ms']:>8.2f} {s['load_median_ms']:>8.2f} {s['engine_median_ms']:>9.2f} "
            f"{s['queries']:>7} {s['slots']:>7}"
        )
        print(
            f"{'':>3}  {'':<24} {'endpoint':<9} {e['median_ms']:>10.2f} {e['min_ms']:>8.2f} "
            f"{'':>8} {'':>9} {e['queries']:>7} {e['slots']:>7}"
        )
    rooms, history = report["rooms_seeded"], report["history_seeded"]
    print()
    print(
        f"Rooms: {rooms['rooms']}, {rooms['appointments_with_a_room']} appointments in a room, "
        f"{rooms['room_share_of_working_time']:.0%} of room working time taken; history: "
        f"{history['past_appointments']} past appointments over {history['history_years']} years"
    )
    by_case = {row["case"]: row["selector"] for row in report["results"] if row["therapists"] == 50}
    base = by_case.get("all therapists, 30 days")
    for days in (1, 30):
        plain = by_case.get(f"all therapists, {days} day{'s' if days > 1 else ''}")
        roomed = by_case.get(f"all therapists, {days} day{'s' if days > 1 else ''}, 20 rooms")
        old = by_case.get(f"all therapists, {days} day{'s' if days > 1 else ''}, 20 rooms, history")
        if plain and roomed and old:
            change = old["median_ms"] / roomed["median_ms"] - 1
            print(
                f"  50 therapists, {days:>2} days, any: therapists only {plain['median_ms']:.2f} ms "
                f"({plain['queries']} q); with rooms {roomed['median_ms']:.2f} ms ({roomed['queries']} q, "
                f"x{roomed['median_ms'] / plain['median_ms']:.2f}); with 5 years of history "
                f"{old['median_ms']:.2f} ms ({old['queries']} q, {change:+.0%})"
            )
    if base:
        print(f"  (therapist-only 50 x 30 days in this run: {base['median_ms']:.2f} ms)")
    print(
        f"Load average before {report['load_before']['loadavg']}, after {report['load_after']['loadavg']} "
        f"on {report['load_after']['cpus']} CPUs; this process had the CPU "
        f"{report['process_cpu_share']:.0%} of the wall time"
    )
    print()
    print("Reference (a popular open-source Django scheduler, this machine):")
    for label, ref in REFERENCE.items():
        note = f" ({ref['note']})" if "note" in ref else ""
        print(f"  {label + note:<36} ~{ref['ms']:>4} ms  {ref['queries']:>4} queries")
    aim = report["aim"]
    print()
    print(
        f"Aim: all {AIM['therapists']} therapists for {AIM['days']} days via selector + engine "
        f"in < {AIM['max_ms']:.0f} ms with <= {AIM['max_queries']} queries: "
        f"{aim['median_ms']:.2f} ms, {aim['queries']} queries -> {'MET' if aim['met'] else 'NOT MET'}"
    )


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

        with common.InProcessRun("availability") as machine:
            load_before = machine_load()
            print(f"Load average before: {load_before['loadavg']} on {load_before['cpus']} CPUs", flush=True)
            wall_started, cpu_started = time.perf_counter(), time.process_time()
            seeded, results = [], []
            for n in SIZES:
                print(f"Seeding {n} therapists...", flush=True)
                seeded.append(seed(n, first_day, zone))
                print(f"Measuring {n} therapists...", flush=True)
                results.extend(measure(n, first_day, zone, args))
            # Issue 12: the same 50 therapists, now with rooms.
            n = SIZES[-1]
            print(f"Adding {ROOMS} rooms...", flush=True)
            rooms_seeded = seed_rooms(first_day, zone)
            print(f"  {rooms_seeded}", flush=True)
            results.extend(
                measure(n, first_day, zone, args, cases=ROOM_CASES, suffix=", 20 rooms", endpoint=False)
            )
            # Issue 13: five years of history under the same lookups.
            print(f"Adding {HISTORY_YEARS} years of past appointments...", flush=True)
            history_seeded = seed_history(zone)
            print(f"  {history_seeded}", flush=True)
            results.extend(
                measure(
                    n, first_day, zone, args, cases=ROOM_CASES, suffix=", 20 rooms, history", endpoint=False
                )
            )
            wall, cpu = time.perf_counter() - wall_started, time.process_time() - cpu_started
            load_after = machine_load()

        target = next(
            r
            for r in results
            if r["therapists"] == AIM["therapists"] and r["case"] == "all therapists, 30 days"
        )["selector"]
        aim = {
            **AIM,
            "median_ms": target["median_ms"],
            "queries": target["queries"],
            "met": target["median_ms"] < AIM["max_ms"] and target["queries"] <= AIM["max_queries"],
        }
        report = {
            "benchmark": "availability",
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "database": {"vendor": connection.vendor, "version": version, "label": label},
            "python": platform.python_version(),
            "django": django.get_version(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "first_day": first_day.isoformat(),
            "now": now.isoformat(),
            "runs": args.runs,
            "warmups": args.warmups,
            "seeded": seeded,
            "rooms_seeded": rooms_seeded,
            "history_seeded": history_seeded,
            "load_before": load_before,
            "load_after": load_after,
            # This process's CPU time over wall time (the database server's own work on
            # PostgreSQL is not in it): well under 1 on SQLite means others had the CPU.
            "process_cpu_share": round(cpu / wall, 3),
            "results": results,
            "reference": REFERENCE,
            "aim": aim,
            "trivial_view_ms": machine.trivial_ms,
            "machine_load": machine.watch.result,
        }
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
            pg_drop(args.database_url)
        if args.keep_db:
            print(f"Kept {tmp}" + (f" and {args.database_url}" if created_pg else ""))
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
