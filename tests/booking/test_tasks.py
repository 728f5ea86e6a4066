"""Emails about appointments, sent by the database task worker.

These tests commit for real (``transaction=True``) and run ``manage.py db_worker``, as
production does: a booking and its email task are saved together, the worker sends it,
and a mail server that is down gets the email retried, never lost.
"""

import smtplib
from datetime import datetime, timedelta
from email.utils import parseaddr
from io import StringIO

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.mail.message import sanitize_address
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from booking import notifications, tasks
from booking.choices import AppointmentSource
from booking.intake import Answer
from booking.models import Appointment, SentEmail, TaskWorker
from booking.services import appointments
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
        return appointments.appointment_book(
            technique=swedish,
            length=swedish.lengths.get(duration_minutes=60),
            start=appointment_start,
            therapist=therapist,
            client=appointments.ClientDetails("Olivia O'Brien", "olivia@example.com", "07700 900101"),
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
    appointments.appointment_reschedule(
        appointment=appointment, new_start=appointment_start + timedelta(hours=2)
    )
    run_worker()
    appointments.appointment_cancel(appointment=appointment)
    run_worker()
    subjects = [m.subject.split(":")[0] for m in mail.outbox]
    # The confirmation was superseded by the move before the worker got to it.
    assert subjects == ["Moved", "Cancelled"]
    moved, cancelled = mail.outbox
    # The technique keeps its own case ("swedish" was lower-cased).
    assert moved.subject.startswith("Moved: your Swedish massage is now")
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
    appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=appointment_start,
        therapist=therapist,
        client=appointments.ClientDetails(
            "Pat",
            "pat@example.com",
            "07700 900102",
            health={
                "blood_thinners": Answer(yes=True, details="Takes warfarin"),
                "pregnancy": Answer(yes=True, number=20),
            },
        ),
    )
    run_worker()
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "warfarin" not in message.body and "warfarin" not in message.alternatives[0][0]


def test_a_queued_email_about_an_outdated_state_is_not_sent(book, appointment_start):
    appointment = book(source=AppointmentSource.STAFF)
    appointments.appointment_reschedule(
        appointment=appointment, new_start=appointment_start + timedelta(hours=2)
    )
    appointments.appointment_cancel(appointment=appointment)
    run_worker()
    # Only the cancellation: "booked" and "moved" describe times that no longer hold.
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["Cancelled"]


class RefusingBackend(LocmemBackend):
    """A mail server that refuses the recipient for good, quoting the address, as they do."""

    def send_messages(self, messages):
        address = parseaddr(messages[0].to[0])[1]
        raise smtplib.SMTPRecipientsRefused({address: (550, f"5.1.1 <{address}>: user unknown".encode())})


def client_book(swedish, start, name: str, email: str = "olivia@example.com", **kwargs) -> Appointment:
    return appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=start,
        therapist=TherapistFactory(techniques=[swedish]),
        client=appointments.ClientDetails(name, email, "07700 900101"),
        **kwargs,
    )


@pytest.mark.parametrize(
    "name",
    [
        'Olivia "Liv" Brown',
        "Brown, Olivia",
        '"Olivia" <a@b.example>, "B',
        "Olivia Brown\\",
        "Olivia\r\nBrown",
    ],
)
def test_a_name_with_quotes_commas_brackets_or_line_breaks_still_gets_its_email(
    swedish, appointment_start, name
):
    appointment = client_book(swedish, appointment_start, "placeholder", source=AppointmentSource.STAFF)
    # As the admin can store it (CR/LF kept), not only as the booking form cleans it.
    Appointment.objects.filter(pk=appointment.pk).update(client_name=name)
    run_worker()
    [message] = mail.outbox
    # As Django's SMTP backend reads each recipient before sending.
    assert sanitize_address(message.to[0], "utf-8").endswith("<olivia@example.com>")
    assert message.message()["To"].endswith("<olivia@example.com>")
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL


def test_a_refused_address_is_not_retried_and_shows_as_given_up(book, settings):
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.RefusingBackend"
    appointment = book(source=AppointmentSource.STAFF)
    run_worker()
    failed = DBTaskResult.objects.get()
    assert failed.status == TaskResultStatus.FAILED
    assert failed.exception_class_path == "booking.tasks.EmailFailed"
    assert f"confirmation email for {appointment.reference} not sent" in failed.traceback
    assert "550 5.1.1 <[client]>: user unknown" in failed.traceback
    assert "olivia@example.com" not in failed.traceback


def test_an_email_that_cannot_be_made_fails_for_good_and_names_no_client(book, settings):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": []}]
    appointment = book(source=AppointmentSource.STAFF)
    settings.SITE_URL = "http://[bad"
    run_worker()
    failed = DBTaskResult.objects.get()
    assert failed.exception_class_path == "booking.tasks.EmailFailed"
    assert f"confirmation email for {appointment.reference} could not be made" in failed.traceback
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()


def test_worker_logs_name_appointments_by_reference_never_the_client(
    swedish, appointment_start, settings, caplog
):
    name, address = "Zebedee Quintrell", "zebedee.q@example.com"
    caplog.set_level("DEBUG")
    settings.EMAIL_MAX_ATTEMPTS = 2
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.RefusingBackend"
    refused = client_book(swedish, appointment_start, name, address)
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=2)
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.DownBackend"
    down = client_book(swedish, appointment_start + timedelta(hours=2), name, address)
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=2)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    DBTaskResult.objects.update(run_after=timezone.now() - timedelta(seconds=1))
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=2)
    assert mail.outbox  # some were sent in the end
    logged = caplog.text.lower()
    assert refused.reference.lower() in logged and down.reference.lower() in logged
    for secret in (name, "zebedee", "quintrell", address):
        assert secret.lower() not in logged
    # Nor in what the task results show as the outcome.
    for result in DBTaskResult.objects.all():
        assert "zebedee" not in str(result.return_value).lower()


def test_emails_to_one_address_are_capped_per_day_but_staff_notices_are_not(
    swedish, appointment_start, settings
):
    settings.EMAIL_MAX_PER_RECIPIENT_PER_DAY = 2
    settings.CLINIC_STAFF_EMAIL = "reception@clinic.example"
    booked = [
        client_book(swedish, appointment_start + timedelta(hours=h), "Victim", "Victim@Example.com")
        for h in range(3)
    ]
    run_worker()
    to_client = [m for m in mail.outbox if m.to != ["reception@clinic.example"]]
    to_staff = [m for m in mail.outbox if m.to == ["reception@clinic.example"]]
    assert len(to_client) == 2 and len(to_staff) == 3
    [refused] = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED)
    assert refused.exception_class_path == "booking.tasks.EmailFailed"
    assert "already had 2 emails from us in the last 24 hours" in refused.traceback
    assert refused.args_kwargs["kwargs"]["appointment_id"] in {a.pk for a in booked}
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()


def test_an_email_already_sent_is_not_sent_again_when_its_task_runs_again(book):
    appointment = book(source=AppointmentSource.STAFF)
    run_worker()
    [sent] = mail.outbox
    # As after a worker died between the server's "accepted" and the task's end.
    task_result = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=task_result.pk).update(status=TaskResultStatus.READY)
    run_worker()
    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.get().return_value == "skipped: already sent"
    record = SentEmail.objects.get()
    assert (record.appointment, record.kind, record.sequence) == (appointment, "confirmation", 0)
    assert record.message_id == sent.extra_headers["Message-ID"] == sent.message()["Message-ID"]


def test_a_retry_sends_the_same_message_id(book, settings):
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.DownBackend"
    appointment = book(source=AppointmentSource.STAFF)
    run_worker()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    DBTaskResult.objects.update(run_after=timezone.now() - timedelta(seconds=1))
    run_worker()
    [message] = mail.outbox
    assert message.message()["Message-ID"] == f"<confirmation.0.{appointment.reference}@127.0.0.1>"


def test_reception_is_told_when_a_client_cancels_or_moves_online(book, appointment_start, settings):
    settings.CLINIC_STAFF_EMAIL = "reception@clinic.example"
    appointment = book(source=AppointmentSource.STAFF)
    run_worker()
    mail.outbox.clear()
    appointments.appointment_reschedule(
        appointment=appointment, new_start=appointment_start + timedelta(hours=2), by_client=True
    )
    run_worker()
    moved = {m.to[0]: m for m in mail.outbox}
    assert moved["reception@clinic.example"].subject.startswith("Moved online: now")
    assert (
        "It was:" in moved["reception@clinic.example"].body
        and "10:00" in moved["reception@clinic.example"].body
    )
    assert moved["Olivia O'Brien <olivia@example.com>"].subject.startswith("Moved:")
    mail.outbox.clear()
    appointments.appointment_cancel(appointment=appointment, by_client=True)
    run_worker()
    assert sorted(m.subject.split(":")[0] for m in mail.outbox) == ["Cancelled", "Cancelled online"]


def test_reception_is_not_emailed_about_its_own_changes(book, appointment_start):
    appointment = book(source=AppointmentSource.STAFF)
    appointments.appointment_reschedule(
        appointment=appointment, new_start=appointment_start + timedelta(hours=2)
    )
    appointments.appointment_cancel(appointment=appointment)
    kinds = sorted(t.args_kwargs["kwargs"]["kind"] for t in DBTaskResult.objects.all())
    assert kinds == ["cancellation", "confirmation", "reschedule"]


# Recovery of tasks whose worker died.


def running_task(book, *, started_ago: timedelta, worker_ids: list[str]) -> DBTaskResult:
    book(source=AppointmentSource.STAFF)
    result = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=result.pk).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - started_ago, worker_ids=worker_ids
    )
    return result


def test_a_task_left_running_by_a_dead_worker_is_queued_again_and_sent(book, settings):
    settings.TASK_WORKER_TIMEOUT = 60
    tasks.worker_beat("dead", now=timezone.now() - timedelta(minutes=5))
    result = running_task(book, started_ago=timedelta(minutes=5), worker_ids=["dead"])
    run_worker()
    assert mail.outbox == []  # a plain worker does not know it is stuck
    assert tasks.tasks_recover() == tasks.Recovery(requeued=1, given_up=0)
    run_worker()
    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.get(pk=result.pk).status == TaskResultStatus.SUCCESSFUL


def test_a_slow_task_of_a_live_worker_is_left_alone(book, settings):
    settings.TASK_WORKER_TIMEOUT = 60
    tasks.worker_beat("alive")
    running_task(book, started_ago=timedelta(minutes=5), worker_ids=["alive"])
    assert tasks.tasks_recover() == tasks.Recovery(requeued=0, given_up=0)
    assert DBTaskResult.objects.get().status == TaskResultStatus.RUNNING


def test_a_task_just_started_by_a_worker_without_heartbeat_is_left_alone(book, settings):
    # A plain db_worker writes no heartbeat: its task counts as lost only once it has
    # run longer than the timeout.
    settings.TASK_WORKER_TIMEOUT = 60
    running_task(book, started_ago=timedelta(seconds=10), worker_ids=["plain"])
    assert tasks.tasks_recover() == tasks.Recovery(requeued=0, given_up=0)
    running_task_result = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=running_task_result.pk).update(
        started_at=timezone.now() - timedelta(seconds=61)
    )
    assert tasks.tasks_recover() == tasks.Recovery(requeued=1, given_up=0)


def test_a_task_that_kills_worker_after_worker_is_given_up_for_staff_to_see(book, settings):
    settings.TASK_MAX_WORKER_LOSSES = 3
    result = running_task(book, started_ago=timedelta(hours=1), worker_ids=["a", "b", "c"])
    out = StringIO()
    call_command("recover_tasks", stdout=out)
    assert out.getvalue() == "Queued again: 0; given up: 1\n"
    result.refresh_from_db()
    assert result.status == TaskResultStatus.FAILED
    assert result.exception_class_path == "booking.tasks.WorkerLost"
    assert "stopped without finishing it 3 times" in result.traceback


def test_recovery_forgets_workers_silent_for_a_day(db):
    tasks.worker_beat("old", now=timezone.now() - timedelta(days=2))
    tasks.worker_beat("new")
    tasks.tasks_recover()
    assert list(TaskWorker.objects.values_list("worker_id", flat=True)) == ["new"]


def test_run_worker_beats_and_runs_tasks(book):
    book(source=AppointmentSource.STAFF)
    call_command(
        "run_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", "--worker-id", "w1"
    )
    assert len(mail.outbox) == 1
    assert TaskWorker.objects.get().worker_id == "w1"


def test_a_worker_restarted_under_the_same_id_runs_its_own_lost_task_at_once(book):
    # systemd restarts "run_worker --worker-id web1": its heartbeat is fresh at once, so
    # the task its previous life left running must not look alive.
    result = running_task(book, started_ago=timedelta(seconds=5), worker_ids=["web1"])
    tasks.worker_beat("web1")
    assert tasks.tasks_recover() == tasks.Recovery(requeued=0, given_up=0)
    call_command(
        "run_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", "--worker-id", "web1"
    )
    result.refresh_from_db()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.worker_ids == ["web1", "web1"]
    assert len(mail.outbox) == 1


def test_without_a_worker_a_failed_email_is_given_up_not_crashed(book, settings, caplog):
    # Development runs emails at once (immediate backend): there is nobody to retry later.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.EMAIL_BACKEND = "tests.booking.test_tasks.DownBackend"
    appointment = book(source=AppointmentSource.STAFF)
    assert f"Giving up on confirmation email for {appointment.reference}" in caplog.text
    assert "InvalidTask" not in caplog.text
