"""The client's own page (issue 14) with 1 and with 200 visits: server time and queries.

Run from the project root:

    .venv/bin/python benchmarks/client_account.py
    .venv/bin/python benchmarks/client_account.py --database-url postgres://postgres@127.0.0.1:5432/clinic_bench_account

By default it uses a throwaway SQLite file in a temp dir; with ``--database-url`` it
creates that PostgreSQL database (refusing one that exists) and drops it afterwards. Two
clients, one with a single visit and one with 200 (and 2,000 other appointments in the
table), each with health answers, signed in as a client is; each page is requested with
Django's test client, DEBUG off. Prints the median and minimum milliseconds and the SQL
queries. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import availability as base  # noqa: E402  (database and Django set-up helpers)

OTHERS = 2_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a postgres:// URL for a database that does not exist yet")
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--profile", action="store_true", help="print a profile of the 200-visit page")
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// or postgresql:// URL")
    return args


def seed() -> dict:
    from django.db import transaction

    from booking.choices import AppointmentStatus
    from booking.intake import Answer
    from booking.models import Appointment, Client, HealthQuestion, Technique, Therapist
    from booking.services import account

    technique = Technique.objects.get(slug="swedish")
    start0 = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
    with transaction.atomic():
        therapists = Therapist.objects.bulk_create(
            Therapist(name=f"Therapist {i}", slug=f"bench-account-{i}") for i in range(10)
        )
        one = Client.objects.create(name="One Visit", email="one@example.com")
        many = Client.objects.create(name="Many Visits", email="many@example.com")
        others = Client.objects.bulk_create(
            Client(name=f"Other {n}", email=f"other{n}@example.com", email_key=f"other{n}@example.com")
            for n in range(200)
        )
        rows = []

        def add(client, therapist, start, status):
            rows.append(
                Appointment(
                    client=client,
                    therapist=therapist,
                    technique=technique,
                    duration_minutes=60,
                    price="60.00",
                    buffer_minutes=15,
                    start=start,
                    end=start + dt.timedelta(hours=1),
                    occupied_until=start + dt.timedelta(minutes=75),
                    status=status,
                    client_name=client.name,
                    client_email=client.email,
                    client_phone="07700 900000",
                )
            )

        add(one, therapists[0], start0, AppointmentStatus.COMPLETED)
        for n in range(200):
            status = AppointmentStatus.CONFIRMED if n >= 190 else AppointmentStatus.COMPLETED
            add(many, therapists[1], start0 + dt.timedelta(days=3 * n), status)
        for n in range(OTHERS):
            add(
                others[n % 200], therapists[2 + n % 8], start0 + dt.timedelta(hours=2 * (n // 8)), "completed"
            )
        Appointment.objects.bulk_create(rows, batch_size=1000)
        keys = list(HealthQuestion.objects.values_list("key", flat=True)) or ["pregnancy"]
        for client in (one, many):
            account.health_update(client=client, answers={key: Answer(yes=False) for key in keys})
    return {"one": one, "many": many}


def timed(function, runs: int) -> tuple[float, float]:
    function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def signed_in(client):
    from django.test import Client as Browser

    from booking import client_session

    browser = Browser()
    session = browser.session
    session[client_session.SESSION_KEY] = client.pk
    session.save()
    return browser


def run(args) -> None:
    from django.db import connection

    from booking.models import Appointment

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
    else:
        import sqlite3

        print(f"SQLite {sqlite3.sqlite_version}")
    seeded = seed()
    print(f"{Appointment.objects.count()} appointments in the table")
    if args.profile:
        import cProfile
        import pstats

        browser = signed_in(seeded["many"])
        browser.get("/book/account/")
        profiler = cProfile.Profile()
        profiler.enable()
        browser.get("/book/account/")
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    print(f"{'page':34} {'median ms':>10} {'min ms':>8} {'queries':>8}")
    for label, key in (("client page, 1 visit", "one"), ("client page, 200 visits", "many")):
        browser = signed_in(seeded[key])
        url = "/book/account/"
        assert browser.get(url).status_code == 200, url
        queries = []
        with connection.execute_wrapper(
            lambda execute, sql, *rest, queries=queries: queries.append(sql) or execute(sql, *rest)
        ):
            browser.get(url)
        median, least = timed(lambda browser=browser, url=url: browser.get(url), args.runs)
        print(f"{label:34} {median:10.1f} {least:8.1f} {len(queries):8}")


def main() -> int:
    return base.run_in_process(parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
