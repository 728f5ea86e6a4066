"""Server time of the staff pages with a busy clinic: the schedule (day and week), the
appointment list (default, filtered, searched), the CSV export and the change page, and a
therapist's "My days".

Run from the project root:

    .venv/bin/python benchmarks/staff_pages.py [--therapists 20] [--runs 30]

Seeds a throwaway SQLite database like ``benchmarks/availability.py`` (N therapists,
about 60% of every working day booked for a month), logs in as a Reception user (and as
one therapist, for My days) and requests each page with Django's test client, DEBUG off.
Prints the median and minimum milliseconds and the SQL queries of each page. Nothing is
asserted about time.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import availability as base  # noqa: E402  (the seeding helpers of the availability benchmark)


def main() -> None:
    base.run_pages_benchmark(__doc__, run)


def run(args) -> None:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from booking.models import Appointment

    zone = ZoneInfo(settings.CLINIC_TIME_ZONE)
    first_day = base.first_monday_after(dt.datetime.now(zone).date())
    base.seed(args.therapists, first_day, zone)
    busy_day = first_day + dt.timedelta(days=1)
    day_count = Appointment.objects.on_local_days(busy_day, busy_day, zone=zone).count()
    print(
        f"{args.therapists} therapists, {Appointment.objects.count()} appointments, "
        f"{day_count} on {busy_day:%a %d %b}"
    )
    user = User.objects.create_user("bench-desk", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Reception"))
    desk = Client()
    desk.force_login(user)
    sample = Appointment.objects.filter(start__date__gte=busy_day).order_by("start").first()
    therapist_id = sample.therapist_id
    schedule = f"/admin/booking/schedule/?date={busy_day}"
    pages = {
        "schedule, one day": schedule,
        "schedule, one therapist's week": f"{schedule}&therapist={therapist_id}",
        "appointment list (page of 50)": "/admin/booking/appointment/",
        "list, this week": "/admin/booking/appointment/?when=this_week",
        "list, search by phone": "/admin/booking/appointment/?q=07700",
        "CSV export, next 7 days": "/admin/booking/appointment/export.csv?when=next_7_days",
        "appointment page": f"/admin/booking/appointment/{sample.pk}/change/",
    }
    # A therapist's own week (issue 15), signed in as the therapist of the sample.
    own = User.objects.create_user("bench-therapist", password="x", is_staff=True)
    own.groups.add(Group.objects.get(name="Therapist"))
    sample.therapist.user = own
    sample.therapist.save(update_fields=["user"])
    therapist_client = Client()
    therapist_client.force_login(own)
    # Therapists see health data, so they sign in with a code: the session as after one.
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    session = therapist_client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.create(user=own, name="bench").persistent_id
    session.save()
    clients = {"My days (a therapist's 7 days)": therapist_client}
    pages["My days (a therapist's 7 days)"] = f"/admin/booking/my-days/?day={busy_day}"
    print(f"{'page':34} {'median ms':>10} {'min ms':>8} {'queries':>8} {'bytes':>9}")
    for name, url in pages.items():
        client = clients.get(name, desk)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        # Count now: every later request empties the connection's query log.
        query_count = len(queries)
        samples = []
        for _ in range(args.runs):
            started = time.perf_counter()
            client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
        print(
            f"{name:34} {statistics.median(samples):10.1f} {min(samples):8.1f} "
            f"{query_count:8d} {len(response.content):9d}"
        )


if __name__ == "__main__":
    main()
