"""Emails about appointments, sent by the database task worker.

These tests commit for real (``transaction=True``) and run ``manage.py db_worker``, as
production does: a booking and its email task are saved together, the worker sends it,
and a mail server that is down gets the email retried, never lost.
"""

import smtplib
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from booking import notifications, services
from booking.choices import AppointmentSource
from booking.models import Appointment
from tests.conftest import LONDON
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = pytest.mark.django_db(transaction=True)


class DownBackend(LocmemBackend):
    """A mail server that refuses every connection."""

    def send_messages(self, messages):
        raise smtplib.SMTPConnectError(421, "Service not available")


@pytest.fixture
def swedish():
    # Made here: committing tests flush the tables, so the data migration's rows are gone.
    technique = TechniqueFactory(name="Swedish", slug="swedish")
    TechniqueLengthFactory(technique=technique, duration_minutes=60, price="55.00")
    return technique


def text(attachment_body) -> str:
    # Django keeps text/* attachments as str.
    return attachment_body if isinstance(attachment_body, str) else attachment_body.decode()


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=0)


@pytest.fixture
def appointment_start():
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=LONDON)


@pytest.fixture
def book(swedish, appointment_start):
    therapist = TherapistFactory(name="Anna Price", techniques=[swedish])

    def book(**kwargs) -> Appointment:
        return services.appointment_book(
            technique=swedish,
            length=swedish.lengths.get(duration_minutes=60),
            start=appointment_start,
            therapist=therapist,
            client=services.ClientDetails("Olivia O'Brien", "olivia@example.com", "07700 900101"),
            **kwargs,
        )

    return book


def test_online_booking_sends_confirmation_and_staff_notice(book, settings):
    settings.CLINIC_STAFF_EMAIL = "reception@clinic.example"
    appointment = book()
    assert mail.outbox == []
    run_worker()
    confirmation, notice = sorted(mail.outbox, key=lambda m: m.to[0] != "Olivia O'Brien <olivia@example.com>")
    assert confirmation.to == ["Olivia O'Brien <olivia@example.com>"]
    assert confirmation.subject.startswith("Booked: Swedish massage")
    assert "Olivia O'Brien" in confirmation.body  # plain text is not HTML-escaped
    assert appointment.reference in confirmation.subject
    assert notifications.manage_url(appointment) in confirmation.body
    html, mimetype = confirmation.alternatives[0]
    assert mimetype == "text/html"
    assert "Change or cancel" in html and "Olivia O&#x27;Brien" in html
    [(filename, ics, ics_type)] = confirmation.attachments
    assert filename == "appointment.ics" and "method=REQUEST" in ics_type
    assert "METHOD:REQUEST" in text(ics) and "SEQUENCE:0" in text(ics)
    assert notice.to == ["reception@clinic.example"]
    assert notice.subject.startswith("New online booking")
    assert notice.attachments == []
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 2


def test_staff_bookings_send_no_staff_notice(book):
    book(source=AppointmentSource.STAFF)
    run_worker()
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["Booked"]


def test_email_task_is_part_of_the_booking_transaction(book):
    # A booking that is rolled back leaves no email behind, and one that commits
    # always has its email queued: they are written together.
    with pytest.raises(RuntimeError), transaction.atomic():
        book()
        assert DBTaskResult.objects.count() == 2
        raise RuntimeError("crash after booking, before commit")
    assert not Appointment.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_mail_server_down_keeps_the_booking_and_retries_the_email(book, settings):
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.DownBackend"
    appointment = book(source=AppointmentSource.STAFF)
    run_worker()
    assert Appointment.objects.filter(pk=appointment.pk).exists()
    failed = DBTaskResult.objects.get(status=TaskResultStatus.FAILED)
    assert failed.exception_class_path == "booking.tasks.EmailRetrying"
    assert "SMTPConnectError: 421 Service not available" in failed.traceback
    retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
    assert retry.args_kwargs["kwargs"]["attempt"] == 2
    assert retry.run_after > timezone.now()  # not hammered: it waits a minute
    # The server comes back; once the wait is over, the worker sends it.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now() - timedelta(seconds=1))
    run_worker()
    [message] = mail.outbox
    assert message.subject.startswith("Booked:")
    assert DBTaskResult.objects.get(pk=retry.pk).status == TaskResultStatus.SUCCESSFUL


def test_retry_gives_up_after_the_configured_attempts(book, settings):
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.DownBackend"
    settings.EMAIL_MAX_ATTEMPTS = 2
    book(source=AppointmentSource.STAFF)
    for _ in range(3):
        DBTaskResult.objects.update(run_after=timezone.now() - timedelta(seconds=1))
        run_worker()
    assert DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).count() == 2
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()


def test_retry_delays_grow_and_stay_under_an_hour():
    delays = [notifications.retry_delay(n) for n in range(1, 10)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == timedelta(hours=1)


def test_reschedule_and_cancel_emails_update_the_same_calendar_event(book, appointment_start):
    appointment = book(source=AppointmentSource.STAFF)
    services.appointment_reschedule(appointment=appointment, new_start=appointment_start + timedelta(hours=2))
    run_worker()
    services.appointment_cancel(appointment=appointment)
    run_worker()
    subjects = [m.subject.split(":")[0] for m in mail.outbox]
    # The confirmation was superseded by the move before the worker got to it.
    assert subjects == ["Moved", "Cancelled"]
    moved, cancelled = mail.outbox
    moved_ics = text(moved.attachments[0][1])
    cancelled_ics = text(cancelled.attachments[0][1])
    uid = f"UID:appointment-{appointment.reference}@"
    assert uid in moved_ics and uid in cancelled_ics
    assert "SEQUENCE:1" in moved_ics and "METHOD:REQUEST" in moved_ics
    assert "SEQUENCE:2" in cancelled_ics and "METHOD:CANCEL" in cancelled_ics
    assert "STATUS:CANCELLED" in cancelled_ics
    assert "12:00" in moved.body


def test_email_for_a_deleted_appointment_is_skipped(book):
    appointment = book(source=AppointmentSource.STAFF)
    Appointment.objects.filter(pk=appointment.pk).delete()
    run_worker()
    assert mail.outbox == []
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL


def test_health_answers_never_go_into_emails(swedish, appointment_start):
    therapist = TherapistFactory(techniques=[swedish])
    services.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=appointment_start,
        therapist=therapist,
        client=services.ClientDetails(
            "Pat", "pat@example.com", "07700 900102", health_conditions="Takes warfarin", pregnant=True
        ),
    )
    run_worker()
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "warfarin" not in message.body and "warfarin" not in message.alternatives[0][0]


def test_a_queued_email_about_an_outdated_state_is_not_sent(book, appointment_start):
    appointment = book(source=AppointmentSource.STAFF)
    services.appointment_reschedule(appointment=appointment, new_start=appointment_start + timedelta(hours=2))
    services.appointment_cancel(appointment=appointment)
    run_worker()
    # Only the cancellation: "booked" and "moved" describe times that no longer hold.
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["Cancelled"]
