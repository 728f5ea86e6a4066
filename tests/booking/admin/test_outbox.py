"""The email outbox (the task results in the admin): what staff see of every email."""

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from booking.choices import AppointmentSource
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory, user_in_role

pytestmark = pytest.mark.django_db

OUTBOX = reverse("admin:django_tasks_database_dbtaskresult_changelist")


@pytest.fixture
def book():
    # Made here: committing tests flush the tables, so the data migration's rows are gone.
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    swedish_60 = TechniqueLengthFactory(technique=swedish, duration_minutes=60)
    therapist = TherapistFactory(techniques=[swedish])
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    start = datetime(day.year, day.month, day.day, 8, tzinfo=LONDON)

    def book(hours: int, email: str = "olivia@example.com"):
        return appointments.appointment_book(
            technique=swedish,
            length=swedish_60,
            start=start + timedelta(hours=hours),
            therapist=therapist,
            client=appointments.ClientDetails("Olivia Brown", email, "07700 900101"),
            source=AppointmentSource.STAFF,
            allow_outside_hours=True,
        )

    return book


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=0)


@pytest.fixture
def manager(client):
    # The outbox is for managers (reception no longer sees it: booking.roles, issue 15).
    client.force_login(user_in_role("Manager", "maria"))
    return client


def test_reception_cannot_open_the_outbox(client):
    client.force_login(user_in_role("Reception", "reception"))
    assert client.get(OUTBOX).status_code == 403


@pytest.mark.django_db(transaction=True)  # the worker needs committed data
def test_an_email_given_up_is_listed_with_its_appointment_for_staff(book, staff_client, settings):
    # A superuser here: committing tests flush the roles the data migration made.
    sent = book(0)
    run_worker()
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.RefusingBackend"
    refused = book(2, email="nobody@example.com")
    run_worker()
    assert len(mail.outbox) == 1

    page = staff_client.get(OUTBOX, {"outcome": "given_up"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Email outbox" in html
    change_url = reverse("admin:booking_appointment_change", args=[refused.pk])
    assert f'<a href="{change_url}">{refused.reference}</a>' in html
    assert "Confirmation" in html
    assert f"confirmation email for {refused.reference} not sent" in html
    assert sent.reference not in html

    everything = staff_client.get(OUTBOX).content.decode()
    assert sent.reference in everything and "sent: Message-ID" in everything


def test_the_outbox_finds_an_appointment_by_reference(book, manager):
    first, second = book(0), book(2)
    html = manager.get(OUTBOX, {"q": second.reference}).content.decode()
    assert second.reference in html and first.reference not in html
    # A NUL cannot be searched for: the staff site refuses it in any address (clinic/admin.py).
    assert manager.get(OUTBOX, {"q": "\x00"}).status_code == 400


def test_the_outbox_query_count_does_not_grow_with_its_rows(book, manager):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager.get(OUTBOX).status_code == 200
        return len(captured)

    book(0)
    few = queries()
    for hours in range(2, 12, 2):
        book(hours)
    assert queries() == few


def test_a_time_off_decision_email_is_named_in_plain_words(manager):
    from booking.services import time_off_requests

    anna = TherapistFactory(name="Anna Field")
    user_in_role("Therapist", "anna", anna)
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    request = time_off_requests.time_off_request_create(
        therapist=anna,
        start=datetime(day.year, day.month, day.day, 9, tzinfo=LONDON),
        end=datetime(day.year, day.month, day.day, 18, tzinfo=LONDON),
        by=anna.user,
    )
    time_off_requests.time_off_request_decline(request=request, by=user_in_role("Manager", "boss"))
    html = manager.get(OUTBOX).content.decode()
    assert "Time off: decision to the therapist" in html and "send_time_off_decision_email" not in html
