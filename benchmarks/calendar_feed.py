"""A therapist's calendar feed (issue 15) with 1 and with about 1,000 appointments in its
window: server time, SQL queries and size.

Run from the project root:

    .venv/bin/python benchmarks/calendar_feed.py
    .venv/bin/python benchmarks/calendar_feed.py --database-url postgres://postgres@127.0.0.1:5432/clinic_bench_feed

By default it uses a throwaway SQLite file in a temp dir; with ``--database-url`` it
creates that PostgreSQL database (refusing one that exists) and drops it afterwards. Two
therapists with a live feed each: one with a single appointment, one booked six times a
day from 30 days ago to 180 days ahead; 20,000 appointments of other therapists around
them. Each feed is requested with Django's test client, DEBUG off, as a phone would (no
session), and once more with the ETag it was given (a 304). Prints the median and
minimum milliseconds, the queries and the bytes. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import availability as base  # noqa: E402  (database and Django set-up helpers)

OTHERS = 20_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a postgres:// URL for a database that does not exist yet")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// or postgresql:// URL")
    return args


def seed() -> dict[str, str]:
    """Feed addresses by label."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.urls import reverse
    from django.utils import timezone

    from booking.models import Appointment, CalendarFeed, Client, Technique, Therapist, calendar_feed_hash
    from booking.services import calendar_feeds

    technique = Technique.objects.get(slug="swedish")
    today = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    with transaction.atomic():
        therapists = Therapist.objects.bulk_create(
            Therapist(name=f"Therapist {i}", slug=f"bench-feed-{i}") for i in range(12)
        )
        client = Client.objects.create(name="Olivia Brown", email="olivia@example.com")
        rows = []

        def add(therapist, start):
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
                    status="confirmed",
                    client_name="Olivia Brown",
                    client_email="olivia@example.com",
                    client_phone="07700 900000",
                    client_notes="Prefers a firm pressure",
                )
            )

        add(therapists[0], today + dt.timedelta(days=1))
        for day in range(-29, 180):
            for slot in range(6):
                add(therapists[1], today + dt.timedelta(days=day, minutes=90 * slot))
        for n in range(OTHERS):
            add(therapists[2 + n % 10], today + dt.timedelta(days=-400 + n // 30, minutes=90 * (n % 3)))
        Appointment.objects.bulk_create(rows, batch_size=2000)
        urls = {}
        for label, therapist in (("1 appointment", therapists[0]), ("busy diary", therapists[1])):
            therapist.user = get_user_model().objects.create_user(
                username=therapist.slug, password=None, is_staff=True
            )
            therapist.save()
            # Straight to the table: these accounts have no role for the service to check.
            secret = secrets.token_urlsafe(calendar_feeds.SECRET_BYTES)
            CalendarFeed.objects.create(therapist=therapist, token_hash=calendar_feed_hash(secret))
            urls[label] = reverse("booking:therapist_calendar", args=[secret])
    return urls


def timed(function, runs: int) -> tuple[float, float]:
    function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def run(args) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client as Browser

    from booking.models import Appointment

    settings.CALENDAR_FEED_RATE_LIMIT = 1_000_000
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
    else:
        import sqlite3

        print(f"SQLite {sqlite3.sqlite_version}")
    urls = seed()
    print(f"{Appointment.objects.count()} appointments in the table")
    print(f"{'feed':28} {'events':>6} {'median ms':>10} {'min ms':>8} {'queries':>8} {'bytes':>8}")
    browser = Browser()
    for label, url in urls.items():
        first = browser.get(url)
        assert first.status_code == 200, url
        events = first.content.count(b"BEGIN:VEVENT")
        queries = []
        with connection.execute_wrapper(
            lambda execute, sql, *rest, queries=queries: queries.append(sql) or execute(sql, *rest)
        ):
            browser.get(url)
        median, least = timed(lambda url=url: browser.get(url), args.runs)
        print(f"{label:28} {events:6} {median:10.1f} {least:8.1f} {len(queries):8} {len(first.content):8}")
        etag = first["ETag"]
        assert browser.get(url, headers={"If-None-Match": etag}).status_code == 304
        median, least = timed(
            lambda url=url, etag=etag: browser.get(url, headers={"If-None-Match": etag}), args.runs
        )
        print(
            f"{label + ', unchanged (304)':28} {events:6} {median:10.1f} {least:8.1f} {len(queries):8} {0:8}"
        )


def main() -> int:
    return base.run_in_process(parse_args(), run, label="calendar feed")


if __name__ == "__main__":
    sys.exit(main())
