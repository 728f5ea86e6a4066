"""The peer's side of ``peer_booking.py``: a minimal site built on django-appointment, run
by that script in the peer's own throwaway virtualenv (never the project's).

    <venv>/bin/python benchmarks/peer_site.py --workdir DIR --out peer.json \\
        [--therapists 20] [--runs 30] [--time-zone Europe/London]

It configures Django in code (SQLite in ``--workdir`` with our site's options: WAL,
``synchronous=NORMAL``, ``BEGIN IMMEDIATE``; DEBUG off, locmem email, the ``startproject``
middleware and the app's one setting, ``APPOINTMENT_WEBSITE_NAME``),
creates the tables, seeds the same busy clinic as ``availability.seed`` (N staff members
working Monday to Saturday 09:00-18:00, one 60-minute service, the same appointments from
``availability.day_schedule``, a 15-minute rest between them), then walks a new visitor's
booking the way the peer's pages do, with Django's test client:

1. the booking page of the service, then the slots of a staff member and a day (AJAX);
2. POST ``request-submit/`` (date, start and end time, service, staff member), which
   redirects to the client-information form;
3. POST that form (name, email, phone): it creates the user and emails a code, and
   redirects to the code page;
4. POST the code (read from the database, as the visitor reads it from the email): this
   creates the appointment and redirects to the thank-you page (which sends an email).

Every request's milliseconds and SQL queries go to ``--out`` as JSON. Only the standard
library and the peer's own packages are imported: this runs under the peer's virtualenv.
The peer's logger writes each request's lines to stdout as shipped; the caller sends them
to a file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import availability as base  # noqa: E402  (its day_schedule is pure: no Django, no project)

URLS_MODULE = """\
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("__bench/trivial/", lambda request: HttpResponse("ok")),
    path("admin/", admin.site.urls),
    path("appointment/", include("appointment.urls")),
]
"""

# What `startproject` writes, so the peer runs as a fresh install of it would.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def configure(workdir: Path, time_zone: str) -> None:
    import django
    from django.conf import settings

    (workdir / "peer_urls.py").write_text(URLS_MODULE)
    sys.path.insert(0, str(workdir))
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "appointment",
        ],
        MIDDLEWARE=MIDDLEWARE,
        ROOT_URLCONF="peer_urls",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(workdir / "peer.sqlite3"),
                # Our site's SQLite options (clinic/settings.py): the comparison is of the
                # two apps, not of a journal that syncs to disk on every commit.
                "OPTIONS": {
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 20,
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                },
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        TIME_ZONE=time_zone,
        LANGUAGE_CODE="en-gb",
        STATIC_URL="static/",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DEFAULT_FROM_EMAIL="clinic@example.com",
        APPOINTMENT_WEBSITE_NAME="Bench clinic",
    )
    django.setup()
    from django.core.management import call_command

    # The wheel ships no migrations (its README has you run makemigrations); syncdb makes
    # its tables without writing into site-packages.
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)


def seed(n: int, first_day: dt.date, zone) -> dict:
    """N staff members about 60% booked, like ``availability.seed``; returns what it made."""
    from appointment.models import Appointment, AppointmentRequest, Config, Service, StaffMember, WorkingHours
    from django.contrib.auth import get_user_model
    from django.db import transaction

    User = get_user_model()
    with transaction.atomic():
        # One step a quarter hour and a 15-minute rest after each appointment: our clinic's
        # grid and buffer.
        Config(
            slot_duration=base.QUARTER,
            lead_time=base.WORK_START,
            finish_time=base.WORK_END,
            appointment_buffer_time=0,
            slot_gap_time=base.BUFFER_MINUTES,
            website_name="Bench clinic",
        ).save()
        service = Service.objects.create(
            name="Swedish massage",
            duration=dt.timedelta(minutes=base.APPOINTMENT_MINUTES),
            price=Decimal("60.00"),
            currency="GBP",
        )
        users = User.objects.bulk_create(
            User(
                username=f"therapist{i:03d}",
                email=f"therapist{i:03d}@example.com",
                first_name=f"Therapist {i:03d}",
            )
            for i in range(n)
        )
        staff = StaffMember.objects.bulk_create(
            StaffMember(user=user, work_on_saturday=True) for user in users
        )
        Through = StaffMember.services_offered.through
        Through.objects.bulk_create(Through(staffmember=member, service=service) for member in staff)
        # The peer numbers weekdays from Sunday = 0: Monday to Saturday are 1 to 6.
        WorkingHours.objects.bulk_create(
            WorkingHours(
                staff_member=member, day_of_week=day, start_time=base.WORK_START, end_time=base.WORK_END
            )
            for member in staff
            for day in range(1, 7)
        )
        someone = User.objects.create_user(username="someone", email="benchmark@example.com")
        today = dt.datetime.now(zone).date()
        last_day = first_day + dt.timedelta(days=base.DAYS_BOOKED)
        requests = []
        for index, member in enumerate(staff):
            day = today
            while day < last_day:
                if day.weekday() < 6:
                    opening = dt.datetime.combine(day, base.WORK_START)
                    for offset in base.day_schedule(index, day):
                        start = opening + dt.timedelta(minutes=offset)
                        end = start + dt.timedelta(minutes=base.APPOINTMENT_MINUTES)
                        requests.append(
                            AppointmentRequest(
                                date=day,
                                start_time=start.time(),
                                end_time=end.time(),
                                service=service,
                                staff_member=member,
                                id_request=f"seed{len(requests)}",
                            )
                        )
                day += dt.timedelta(days=1)
        requests = AppointmentRequest.objects.bulk_create(requests, batch_size=500)
        Appointment.objects.bulk_create(
            (
                Appointment(
                    client=someone,
                    appointment_request=request,
                    phone="+441227000000",
                    amount_to_pay=service.price,
                    id_request=f"seed{number}",
                )
                for number, request in enumerate(requests)
            ),
            batch_size=500,
        )
    return {
        "service_id": service.pk,
        "staff_ids": [member.pk for member in staff],
        "appointments": len(requests),
    }


def walk(*, runs: int, first_day: dt.date, seeded: dict) -> dict:
    from appointment.models import Appointment, EmailVerificationCode
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    timings: dict[str, list[float]] = {}
    queries: dict[str, list[int]] = {}

    def timed(client, name: str, path: str, data: dict | None = None, expect: int = 200, **headers):
        call = client.get if data is None else client.post
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = call(path, data, **headers)
            elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != expect:
            raise SystemExit(f"{name}: {path} answered {response.status_code}, not {expect}")
        timings.setdefault(name, []).append(elapsed)
        queries.setdefault(name, []).append(len(captured))
        return response

    service_id, staff_ids = seeded["service_id"], seeded["staff_ids"]
    days = [first_day + dt.timedelta(days=k) for k in range(14)]
    days = [day for day in days if day.weekday() < 6]
    booked_before = Appointment.objects.count()
    ajax = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}

    def slots_url(staff_id: int, day: dt.date) -> str:
        query = {"selected_date": day.isoformat(), "staff_member": staff_id, "service_id": service_id}
        return f"/appointment/ajax/available_slots/?{urlencode(query)}"

    pairs = [(staff_id, day) for day in days for staff_id in staff_ids]
    for number in range(runs):
        # Spread the bookings over staff members and days, like ours over the free times.
        # A full day has no slot (as a visitor would, try the next staff member or day):
        # found untimed, so the timed AJAX call below is the one that shows the slots.
        for offset in range(len(pairs)):
            staff_id, day = pairs[(number * 7 + offset) % len(pairs)]
            if Client().get(slots_url(staff_id, day), **ajax).json().get("available_slots"):
                break
        else:
            raise SystemExit(f"no free slot for any staff member in the 14 days from {first_day}")
        client = Client()
        timed(client, "booking page", f"/appointment/request/{service_id}/")
        slots = timed(client, "slots (AJAX)", slots_url(staff_id, day), **ajax).json()["available_slots"]
        start = dt.datetime.fromisoformat(slots[number % len(slots)][0])
        end = start + dt.timedelta(minutes=base.APPOINTMENT_MINUTES)
        # What the page's script adds to the form before it submits it.
        request_form = {
            "staff_member": staff_id,
            "appointment_request_id": "",
            "date": day.isoformat(),
            "start_time": start.strftime("%H:%M"),
            "end_time": end.strftime("%H:%M"),
            "service": service_id,
            "reason_for_rescheduling": "",
        }
        sent = timed(client, "request (sent)", "/appointment/request-submit/", request_form, expect=302)
        info_url = sent["Location"]
        timed(client, "client info (shown)", info_url)
        email = f"bench{number}@example.com"
        client_form = {
            "name": "Bench Client",
            "email": email,
            "phone_0": "GB",
            "phone_1": "07400123456",
            "address": "",
            "additional_info": "",
            "payment_type": "full",
        }
        sent = timed(client, "client info (sent)", info_url, client_form, expect=302)
        code_url = sent["Location"]
        timed(client, "code page (shown)", code_url)
        code = EmailVerificationCode.objects.filter(user__email=email).latest("created_at").code
        booked = timed(client, "code (sent, books)", code_url, {"code": code}, expect=302)
        timed(client, "thank-you page", booked["Location"])
    made = Appointment.objects.count() - booked_before
    if made != runs:
        raise SystemExit(f"{runs} bookings walked but {made} appointments made")
    return {"timings": timings, "query_counts": queries}


def trivial_view_ms(runs: int = 200) -> float:
    from django.test import Client

    client = Client()
    client.get("/__bench/trivial/")
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        client.get("/__bench/trivial/")
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    from zoneinfo import ZoneInfo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--therapists", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--time-zone", default="Europe/London")
    args = parser.parse_args()
    configure(args.workdir, args.time_zone)
    from importlib.metadata import version

    zone = ZoneInfo(args.time_zone)
    first_day = base.first_monday_after(dt.datetime.now(zone).date())
    seeded = seed(args.therapists, first_day, zone)
    walked = walk(runs=args.runs, first_day=first_day, seeded=seeded)
    result = {
        "package": "django-appointment",
        "version": version("django-appointment"),
        "django": version("Django"),
        "python": platform.python_version(),
        "pid": os.getpid(),
        "therapists": args.therapists,
        "appointments_seeded": seeded["appointments"],
        "trivial_ms": trivial_view_ms(),
        **walked,
    }
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
