"""Client records at scale: the client page and the client search with 10,000 clients and
100,000 appointments.

Run from the project root:

    .venv/bin/python benchmarks/clients.py
    .venv/bin/python benchmarks/clients.py --database-url postgres://postgres@127.0.0.1:5432/clinic_bench_clients

By default it uses a throwaway SQLite file in a temp dir; with ``--database-url`` it
creates that PostgreSQL database (refusing one that exists) and drops it afterwards. It
requests each page with Django's test client as a superuser, DEBUG off, and prints the
median and minimum milliseconds and the SQL queries, and, for the searches, the time of
the search query alone. The aim (issue 11): a phone search in any format under 50 ms.
Nothing is asserted about time.
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

CLIENTS = 10_000
APPOINTMENTS = 100_000
THERAPISTS = 50
BUSY_VISITS = 500  # one client with many visits, for the page


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a postgres:// URL for a database that does not exist yet")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// or postgresql:// URL")
    return args


def seed() -> dict:
    from django.db import connection, transaction

    from booking.choices import AppointmentStatus
    from booking.models import Appointment, Client, Technique, Therapist

    technique = Technique.objects.get(slug="swedish")
    surnames = ["Brown", "Green", "Smith", "Jones", "Taylor", "Patel", "Khan", "Evans", "Wilson", "Hughes"]
    with transaction.atomic():
        Appointment.objects.all().delete()
        Therapist.objects.all().delete()
        therapists = Therapist.objects.bulk_create(
            Therapist(name=f"Therapist {i:03d}", slug=f"bench-therapist-{i:03d}") for i in range(THERAPISTS)
        )
        clients = Client.objects.bulk_create(
            (
                Client(
                    name=f"Client{n:05d} {surnames[n % len(surnames)]}",
                    email=f"client{n:05d}@example.com",
                    email_key=f"client{n:05d}@example.com",
                    phone=f"+4477009{n:05d}",
                )
                for n in range(CLIENTS)
            ),
            batch_size=2000,
        )
        busy = clients[123]
        start0 = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.UTC)
        statuses = [AppointmentStatus.COMPLETED] * 7 + [
            AppointmentStatus.NO_SHOW,
            AppointmentStatus.CANCELLED,
        ]
        rows = []
        for i in range(APPOINTMENTS):
            therapist = therapists[i % THERAPISTS]
            slot = i // THERAPISTS  # each therapist's appointments follow one another, 2 hours apart
            start = start0 + dt.timedelta(hours=2 * slot)
            client = busy if i % (APPOINTMENTS // BUSY_VISITS) == 0 else clients[i % CLIENTS]
            rows.append(
                Appointment(
                    therapist=therapist,
                    technique=technique,
                    client=client,
                    duration_minutes=60,
                    price="60.00",
                    buffer_minutes=15,
                    start=start,
                    end=start + dt.timedelta(hours=1),
                    occupied_until=start + dt.timedelta(minutes=75),
                    status=statuses[i % len(statuses)],
                    client_name=client.name,
                    client_email=client.email,
                    client_phone="07700 900000",
                    reference=f"C{i:08d}",
                )  # fmt: skip
            )
        Appointment.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"busy": busy, "typical": clients[4567]}


def timed(function, runs: int) -> tuple[float, float]:
    function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def run(args) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client as Browser
    from django.test.utils import CaptureQueriesContext

    from booking import selectors
    from booking.models import Appointment, Client

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
    else:
        import sqlite3

        print(f"SQLite {sqlite3.sqlite_version}")
    started = time.perf_counter()
    seeded = seed()
    print(
        f"{Client.objects.count()} clients, {Appointment.objects.count()} appointments "
        f"(seeded in {time.perf_counter() - started:.0f} s); busy client has "
        f"{seeded['busy'].appointments.count()} visits"
    )
    browser = Browser()
    browser.force_login(User.objects.create_superuser("bench-manager", password="x"))
    pages = {
        "client page (about 10 visits)": f"/admin/booking/client/{seeded['typical'].pk}/change/",
        f"client page ({BUSY_VISITS}+ visits)": f"/admin/booking/client/{seeded['busy'].pk}/change/",
        "client list (page of 50)": "/admin/booking/client/",
    }
    searches = {
        "name 'Client04567'": "Client04567",
        "name 'brown' (1,000 hits)": "brown",
        "email 'client04567@exa'": "client04567@exa",
        "phone 07700 904567": "07700 904567",
        "phone +44 7700 904567": "+44 7700 904567",
        "phone 0044 7700 904567": "0044 7700 904567",
        "phone (07700) 904-567": "(07700) 904-567",
        "phone +447700904567": "+447700904567",
        "phone, part '904567'": "904567",
    }
    print(f"{'page':36} {'median ms':>10} {'min ms':>8} {'queries':>8} {'query ms':>9} {'hits':>6}")
    for name, url in pages.items():
        assert browser.get(url).status_code == 200, url
        with CaptureQueriesContext(connection) as queries:
            browser.get(url)
        count = len(queries)
        median, least = timed(lambda url=url: browser.get(url), args.runs)
        print(f"{name:36} {median:10.1f} {least:8.1f} {count:8}")
    for name, term in searches.items():
        url = "/admin/booking/client/?" + f"q={term}".replace("+", "%2B").replace(" ", "+")
        assert browser.get(url).status_code == 200, url
        with CaptureQueriesContext(connection) as queries:
            browser.get(url)
        count = len(queries)
        median, least = timed(lambda url=url: browser.get(url), args.runs)
        # The search alone: the matching page of 50 rows, as the list asks for it.
        match = Client.objects.filter(merged_into__isnull=True).filter(selectors.client_search_q(term))
        query_ms, _ = timed(lambda match=match: list(match.order_by("name", "id")[:50]), args.runs)
        hits = match.count()
        print(f"search {name:29} {median:10.1f} {least:8.1f} {count:8} {query_ms:9.2f} {hits:6}")


def main() -> int:
    return base.run_in_process(parse_args(), run, label="clients")


if __name__ == "__main__":
    sys.exit(main())
