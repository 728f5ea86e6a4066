"""Server time of the manager's reports page over a year of a 20-therapist clinic (issue 15).

Run from the project root:

    .venv/bin/python benchmarks/reports.py
    .venv/bin/python benchmarks/reports.py --database-url postgres://postgres@127.0.0.1:5432/clinic_bench_reports

By default it uses a throwaway SQLite file in a temp dir. With ``--database-url`` it uses
PostgreSQL instead: the database is created and dropped again at the end, like
``benchmarks/availability.py`` (it refuses one that already exists).

Seeds 20 therapists working Monday to Saturday 09:00-18:00, three techniques at several
prices, 4,000 clients, six rooms (one therapist each in the first six) and, for the last
13 months, about seven in eight of every working day's seven 75-minute slots booked (bulk
insert): mostly completed, some cancelled (half of them late), no-shows, online and staff
bookings made 0 to 60 days ahead, and some time off and a closure. Then, as a Manager with
Django's test client (DEBUG off), it times the reports page for the last 12 whole months
(about 40,000 appointments), and one CSV, printing median and minimum milliseconds (and
the median of this process's CPU time) and the SQL queries, then the machine's load and
the trivial view's time from the same run.
Nothing is asserted about time: the issue aims at under 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import availability as base  # noqa: E402  (database set-up shared with the availability benchmark)

THERAPISTS = 20
CLIENTS = 4000
ROOMS = 6
SLOTS = [dt.time(9, 0), dt.time(10, 15), dt.time(11, 30), dt.time(12, 45), dt.time(14, 0), dt.time(15, 15),
         dt.time(16, 30)]  # fmt: skip
FILL = 0.875
MINUTES, BUFFER, TURNOVER = 60, 15, 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a postgres:// URL for a database that does not exist yet")
    parser.add_argument("--runs", type=int, default=15, help="timed runs (default 15)")
    parser.add_argument(
        "--profile", action="store_true", help="print each query's time and where Python spends the year page"
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// or postgresql:// URL")
    return args


def seed(zone: ZoneInfo) -> int:
    """The clinic's last 13 months; returns the number of appointments written."""
    from django.db import connection, transaction

    from booking.choices import AppointmentSource, AppointmentStatus
    from booking.models import (
        Appointment,
        Client,
        Closure,
        Room,
        Technique,
        TechniqueLength,
        Therapist,
        TimeOff,
        WorkingHours,
    )

    rng = random.Random(15)
    today = dt.datetime.now(zone).date()
    first_day = today - dt.timedelta(days=400)
    with transaction.atomic():
        Appointment.objects.all().delete()
        Therapist.objects.all().delete()
        techniques = [
            Technique.objects.create(name=f"Bench technique {i}", slug=f"bench-{i}") for i in range(3)
        ]
        prices = {}
        for index, technique in enumerate(techniques):
            length = TechniqueLength.objects.create(
                technique=technique, duration_minutes=MINUTES, price=f"{50 + 10 * index}.00"
            )
            prices[technique.pk] = length.price
        therapists = Therapist.objects.bulk_create(
            Therapist(name=f"Therapist {i:02d}", slug=f"bench-therapist-{i:02d}") for i in range(THERAPISTS)
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(therapist=t, weekday=d, start=dt.time(9), end=dt.time(18))
            for t in therapists
            for d in range(6)
        )
        rooms = [Room.objects.create(name=f"Bench room {i}", turnover_minutes=TURNOVER) for i in range(ROOMS)]
        clients = Client.objects.bulk_create(
            Client(
                name=f"Client {i:05d}",
                email=f"client{i:05d}@example.com",
                email_key=f"client{i:05d}@example.com",
            )
            for i in range(CLIENTS)
        )
        # Two weeks' holiday each, and the clinic closed over Christmas.
        TimeOff.objects.bulk_create(
            TimeOff(
                therapist=t,
                start=dt.datetime.combine(
                    first_day + dt.timedelta(days=30 + 17 * i), dt.time(0), tzinfo=zone
                ),
                end=dt.datetime.combine(first_day + dt.timedelta(days=44 + 17 * i), dt.time(0), tzinfo=zone),
                reason="Holiday",
            )
            for i, t in enumerate(therapists)
        )
        christmas = dt.date(today.year - 1, 12, 25)
        Closure.objects.create(
            first_day=christmas, last_day=christmas + dt.timedelta(days=1), reason="Christmas"
        )
        # created_at is set by auto_now_add on insert; the benchmark writes its own.
        created_field = Appointment._meta.get_field("created_at")
        created_field.auto_now_add = False
        rows = []
        day = first_day
        while day < today:
            if day.weekday() < 6:
                for index, therapist in enumerate(therapists):
                    for slot in SLOTS:
                        if rng.random() > FILL:
                            continue
                        start = dt.datetime.combine(day, slot, tzinfo=zone).astimezone(dt.UTC)
                        end = start + dt.timedelta(minutes=MINUTES)
                        technique = techniques[rng.randrange(3)]
                        roll = rng.random()
                        status = (
                            AppointmentStatus.CANCELLED if roll < 0.10
                            else AppointmentStatus.NO_SHOW if roll < 0.14
                            else AppointmentStatus.COMPLETED
                        )  # fmt: skip
                        cancelled_at = None
                        if status == AppointmentStatus.CANCELLED:
                            cancelled_at = start - dt.timedelta(hours=rng.choice([2, 12, 48, 96]))
                        room = rooms[index] if index < ROOMS else None
                        client = clients[rng.randrange(CLIENTS)]
                        source = AppointmentSource.ONLINE if rng.random() < 0.6 else AppointmentSource.STAFF
                        ahead = dt.timedelta(days=rng.choice([0, 1, 2, 5, 10, 20, 45, 60]))
                        rows.append(
                            Appointment(
                                therapist=therapist, technique=technique, duration_minutes=MINUTES,
                                price=prices[technique.pk], buffer_minutes=BUFFER, start=start, end=end,
                                occupied_until=end + dt.timedelta(minutes=BUFFER), room=room,
                                room_until=end + dt.timedelta(minutes=TURNOVER) if room else None,
                                status=status, client=client, client_name=client.name,
                                client_email=client.email, client_phone="01227 000 000",
                                reference=f"BR{len(rows):08d}",
                                source=source, created_at=start - ahead, cancelled_at=cancelled_at,
                            )
                        )  # fmt: skip
            day += dt.timedelta(days=1)
        Appointment.objects.bulk_create(rows, batch_size=2000)
        created_field.auto_now_add = True
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return len(rows)


def signed_in_manager():
    """A test client signed in as a Manager, second step passed (as tests/conftest.py does)."""
    from django.contrib.auth.models import Group, User
    from django.test import Client as Browser
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from clinic import staff_session

    user = User.objects.create_user("bench-manager", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Manager"))
    device = TOTPDevice.objects.create(user=user, name="Bench app", confirmed=True)
    browser = Browser()
    browser.force_login(user)
    session = browser.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[staff_session.LAST_SEEN_KEY] = int(time.time())
    session.save()
    return browser


def run(args) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from booking import reports
    from booking.models import Appointment

    zone = ZoneInfo(settings.CLINIC_TIME_ZONE)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
    else:
        import sqlite3

        print(f"SQLite {sqlite3.sqlite_version}")
    started = time.perf_counter()
    total = seed(zone)
    first, last = reports.preset_range(reports.Preset.LAST_12_MONTHS, dt.datetime.now(zone).date())
    in_range = Appointment.objects.on_local_days(first, last, zone=zone).count()
    print(
        f"{THERAPISTS} therapists, {total} appointments seeded in {time.perf_counter() - started:.0f} s; "
        f"{in_range} from {first} to {last}"
    )
    browser = signed_in_manager()
    pages = {
        "reports page, last 12 months": "/admin/booking/reports/?preset=last-12-months",
        "CSV (utilisation by week), 12 months": (
            f"/admin/booking/reports/utilisation-weeks.csv?start={first}&end={last}"
        ),
        "reports page, last month": "/admin/booking/reports/?preset=last-month",
    }
    # CPU time too: on a shared machine the wall time includes waiting for a CPU, while
    # this process's own CPU time moves much less with the other processes' share.
    print(f"{'page':40} {'median ms':>10} {'min ms':>8} {'CPU median':>11} {'queries':>8} {'bytes':>9}")
    for name, url in pages.items():
        response = browser.get(url)
        if response.status_code != 200:
            raise base.BenchError(f"{url} answered {response.status_code}")
        with CaptureQueriesContext(connection) as queries:
            browser.get(url)
        count = len(queries)
        samples, cpu = [], []
        for _ in range(args.runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            browser.get(url)
            samples.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
        print(
            f"{name:40} {statistics.median(samples):10.1f} {min(samples):8.1f} "
            f"{statistics.median(cpu):11.1f} {count:8d} {len(response.content):9d}"
        )
        if args.profile and name == "reports page, last 12 months":
            profile(browser, url, queries)


def profile(browser, url: str, queries) -> None:
    """Where the year page's time goes: the slowest queries, then Python's own time."""
    import cProfile
    import pstats

    from django.db import connection

    timed: list[tuple[float, str]] = []

    def timer(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed.append(((time.perf_counter() - began) * 1000, sql))

    with connection.execute_wrapper(timer):
        browser.get(url)
    timed.sort(reverse=True)
    print(f"  queries: {sum(ms for ms, _ in timed):.1f} ms in all (execute only); slowest:")
    for ms, sql in timed[:8]:
        print(f"  {ms:7.1f} ms  {sql[:160]}")
    profiler = cProfile.Profile()
    profiler.runcall(browser.get, url)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main() -> int:
    return base.run_in_process(parse_args(), run, label="reports")


if __name__ == "__main__":
    sys.exit(main())
