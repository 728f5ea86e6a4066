"""The waitlist on a phone (issue 14): a full day, "Tell me if a time frees up", the details,
then a cancellation; the offer link read from the test outbox, and "Book it". axe clean
and no sideways scrolling at every step; screenshots in tests/browser/screenshots/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import expect

from booking.choices import AppointmentSource, AppointmentStatus
from booking.models import Appointment, WaitlistEntry
from booking.services import appointments
from tests.browser.test_booking import Visit, answer_all_no
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory, seed_health_questions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONDON = ZoneInfo("Europe/London")


def run_queued_tasks() -> None:
    """Do what the worker does: run every queued task (and those they queue), once."""
    done: set = set()
    while pending := [
        t
        for t in DBTaskResult.objects.filter(status=TaskResultStatus.READY).order_by("enqueued_at")
        if t.pk not in done
    ]:
        for task in pending:
            done.add(task.pk)
            DBTaskResult.objects.filter(pk=task.pk).update(status=TaskResultStatus.SUCCESSFUL)
            import_string(task.task_path).call(**task.args_kwargs["kwargs"])


def test_join_the_waitlist_and_book_the_freed_time_on_a_phone(phone_page, live_server, axe, settings):
    settings.SITE_URL = live_server.url
    seed_health_questions()  # emptied by an earlier test's flush
    technique = TechniqueFactory(name="Hot stone", slug="hot-stone", buffer_minutes=15)
    length = TechniqueLengthFactory(technique=technique, duration_minutes=60, price="55.00")
    # One therapist, one time a day (10:00), already booked on the day wanted.
    TherapistFactory(
        name="Maya Green", techniques=[technique], hours={d: [("10:00", "11:15")] for d in range(6)}
    )
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    if day.weekday() == 6:
        day += timedelta(days=1)
    booked = appointments.appointment_book(
        technique=technique,
        length=length,
        start=datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON),
        client=appointments.ClientDetails("Someone Else", "else@example.com", "07700 900999"),
        source=AppointmentSource.STAFF,
        notify=False,
    )
    page = phone_page
    visit = Visit(page, "phone-waitlist", axe)

    page.goto(f"{live_server.url}/book/hot-stone/times/?length=60&therapist=any&day={day.isoformat()}")
    expect(page.get_by_text("No free times on this day.")).to_be_visible()
    visit.check("full-day")
    page.get_by_role("button", name="Tell me if a time frees up").click()

    expect(page.get_by_role("heading", name="Tell me if a time frees up")).to_be_visible()
    page.get_by_label("Afternoon (12:00 to 17:00)").uncheck()
    page.get_by_label("Evening (from 17:00)").uncheck()
    page.get_by_label("Your name").fill("Nina Park")
    page.get_by_label("Email").fill("nina@example.com")
    page.get_by_label("Phone").fill("07700 900123")
    visit.check("join-form")
    page.get_by_role("button", name="Join the waitlist").click()

    expect(page.get_by_role("heading", name="You're on the waitlist")).to_be_visible()
    visit.check("joined")
    entry = WaitlistEntry.objects.get()
    assert entry.parts() == {"morning"} and entry.client.email == "nina@example.com"

    # Someone cancels; the worker offers the time and sends the email.
    appointments.appointment_cancel(appointment=booked, notify=False)
    run_queued_tasks()
    [offer_email] = [m for m in mail.outbox if m.subject.startswith("A time has come free")]
    link = re.search(r"https?://\S+/book/waitlist/offer/\S+/", offer_email.body).group(0)

    page.goto(link)
    expect(page.get_by_role("heading", name="A time has come free for you")).to_be_visible()
    visit.check("offer")
    # The health questions come first, as before every online booking: none answered yet.
    page.get_by_role("button", name="Book it").click()
    expect(page.get_by_text("Please see the questions marked below.")).to_be_visible()
    visit.check("offer-unanswered")
    answer_all_no(page)
    page.get_by_role("button", name="Book it").click()

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    visit.check("booked")
    held = Appointment.objects.exclude(pk=booked.pk).get()
    assert held.status == AppointmentStatus.CONFIRMED and held.client == entry.client
    assert held.start == booked.start  # the time that freed up
    assert held.intake.answers["pregnancy"]["yes"] is False  # the answers went with the visit
