"""Server time of each page of the online booking flow, with a busy clinic.

Run from the project root:

    .venv/bin/python benchmarks/booking_flow.py [--therapists 20] [--runs 30]

Seeds a throwaway SQLite database like ``benchmarks/availability.py`` (N therapists,
about 60% of every working day booked for a month), then walks the flow a client takes
with Django's test client, DEBUG off: technique page, times (this week and a later week),
details (shown, then sent), review, confirm, confirmation, manage link, calendar file. It
prints the median and minimum milliseconds and the SQL queries of each page, and the
server time for a whole booking. Each booking run uses a fresh client and a fresh free
time, so every confirm really books. Nothing is asserted about time.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import availability as base  # noqa: E402  (the seeding helpers of the availability benchmark)


def main() -> None:
    base.run_pages_benchmark(__doc__, run)


def run(args) -> None:
    walked = walk(therapists=args.therapists, runs=args.runs)
    timings, queries, totals = walked["timings"], walked["queries"], walked["totals"]
    print(f"\n{'page':<22}{'median ms':>11}{'min ms':>9}{'queries':>9}")
    for name, values in timings.items():
        print(f"{name:<22}{statistics.median(values):>11.1f}{min(values):>9.1f}{queries[name]:>9}")
    median_total = statistics.median(totals)
    print(f"\nwhole booking, server time: median {median_total:.0f} ms over {len(totals)} bookings")
    posts = [statistics.median(timings[name]) for name in ("details (sent)", "confirm (books)")]
    print(
        f"the two POSTs (details sent + confirm): {sum(posts):.0f} ms median, "
        f"{queries['details (sent)'] + queries['confirm (books)']} queries"
    )
    print("\nwhere the confirmation's queries go (the last run's, in order):")
    for kind, count in _query_kinds(walked["confirm_sql"]):
        print(f"{count:4}  {kind}")


def walk(*, therapists: int, runs: int, new_visitors: bool = False) -> dict:
    """Seed N busy therapists, then book ``runs`` times; each page's milliseconds (one per
    run), its most queries, each booking's total and the last confirmation's statements.
    ``new_visitors`` gives every booking its own email address (a client record is
    created each time) instead of one address booking again and again."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from booking import selectors
    from booking.models import Appointment, HealthQuestion, Technique

    settings.BOOKING_RATE_LIMIT = 10**6
    settings.BOOKING_MAX_UPCOMING_PER_EMAIL = 10**6
    zone = ZoneInfo(settings.CLINIC_TIME_ZONE)
    first_day = base.first_monday_after(dt.datetime.now(zone).date())
    stats = base.seed(therapists, first_day, zone)
    technique = Technique.objects.get(slug="swedish")
    length = technique.lengths.get(duration_minutes=60)
    week = selectors.week_availability(
        technique=technique, length=length, therapist=None, first_day=first_day, days=14
    )
    free = sorted(week.therapist_ids_by_start)
    if len(free) < runs:
        sys.exit(f"only {len(free)} free times; use fewer --runs")
    print(
        f"{therapists} therapists, {Appointment.objects.count()} appointments "
        f"({stats['booked_share_of_working_time']:.0%} of working time booked), "
        f"{len(free)} free times in 14 days"
    )

    timings: dict[str, list[float]] = {}
    queries: dict[str, int] = {}  # the most any run took
    query_counts: dict[str, list[int]] = {}  # each run's
    confirm_sql: list[str] = []  # the last confirmation's statements, for the breakdown

    def timed(client, name: str, path: str, data: dict | None = None):
        call = client.get if data is None else client.post
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = call(path, data)
            elapsed = (time.perf_counter() - began) * 1000
        assert response.status_code in (200, 302), (name, response.status_code)
        timings.setdefault(name, []).append(elapsed)
        queries[name] = max(queries.get(name, 0), len(captured))
        query_counts.setdefault(name, []).append(len(captured))
        if name == "confirm (books)":
            confirm_sql[:] = [q["sql"] for q in captured.captured_queries]
        return response

    details = {
        "name": "Bench Client",
        "email": "bench@example.com",
        "phone": "07700 900000",
        # Every health question the clinic asks, answered no.
        **{
            f"health_{key}": "no"
            for key in HealthQuestion.objects.filter(active=True).values_list("key", flat=True)
        },
        "agree_policy": "on",
        "consent_name": "Bench Client",
    }
    totals = []
    # Spread the runs over the free times so each confirm books a different one.
    for number, start in enumerate(free[:: max(1, len(free) // runs)][:runs]):
        client = Client()
        if new_visitors:
            details["email"] = f"bench{number}@example.com"
        query = urlencode({"length": 60, "therapist": "any", "start": start.astimezone(zone).isoformat()})
        choice = urlencode({"length": 60, "therapist": "any"})
        timed(client, "technique page", "/book/swedish/")
        timed(client, "times, this week", f"/book/swedish/times/?{choice}")
        timed(client, "times, a later week", f"/book/swedish/times/?{choice}&week={first_day}")
        timed(client, "details (shown)", f"/book/swedish/details/?{query}")
        timed(client, "details (sent)", f"/book/swedish/details/?{query}", details)
        timed(client, "review", f"/book/swedish/review/?{query}")
        confirmed = timed(client, "confirm (books)", f"/book/swedish/review/?{query}", {})
        token = confirmed["Location"].rstrip("/").split("/")[-1]
        timed(client, "confirmation page", f"/book/confirmed/{token}/")
        timed(client, "manage page", f"/book/manage/{token}/")
        timed(client, "calendar file", f"/book/manage/{token}/calendar.ics")
        totals.append(sum(values[-1] for values in timings.values()))
    return {
        "timings": timings,
        "queries": queries,
        "query_counts": query_counts,
        "totals": totals,
        "confirm_sql": confirm_sql,
    }


def _query_kinds(statements: list[str]) -> list[tuple[str, int]]:
    """Each statement as its verb and first table, counted, in the order first seen."""
    import re
    from collections import Counter

    kinds = []
    for sql in statements:
        verb = sql.split(None, 1)[0].upper()
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
        kinds.append(f"{verb} {table.group(1) if table else ''}".strip())
    counts = Counter(kinds)
    return [(kind, counts[kind]) for kind in dict.fromkeys(kinds)]


if __name__ == "__main__":
    main()
