"""booking.time_off_tasks: the therapist's email about a decision on their time-off
request and the managers' notice of a new one, retried while the mail server is down,
sent once, skipped when there is no one to send it to."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime

import pytest
from django.core import mail
from django_tasks_db.models import DBTaskResult

from booking.models import TimeOffRequest
from booking.services import time_off_requests as service
from booking.tasks import EmailFailed, EmailRetrying
from booking.time_off_tasks import send_time_off_decision_email, send_time_off_request_notice
from tests.conftest import LONDON
from tests.factories import TherapistFactory, user_in_role

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)


@pytest.fixture
def anna(db):
    therapist = TherapistFactory(name="Anna Field", slug="anna")
    user_in_role("Therapist", "anna", therapist)
    return therapist


@pytest.fixture
def manager(db):
    return user_in_role("Manager", "maria")


def declined(anna, manager, note="Two others are away that day.") -> TimeOffRequest:
    request = service.time_off_request_create(
        therapist=anna,
        start=datetime(2026, 11, 27, 9, 0, tzinfo=LONDON),
        end=datetime(2026, 11, 27, 18, 0, tzinfo=LONDON),
        by=anna.user,
        now=NOW,
    )
    return service.time_off_request_decline(request=request, by=manager, note=note)


def queued() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path__endswith="send_time_off_decision_email").order_by(
            "enqueued_at"
        )
    )


def test_the_decision_is_emailed_to_the_therapist_once(anna, manager):
    request = declined(anna, manager)
    [task] = queued()
    assert send_time_off_decision_email.call(**task.args_kwargs["kwargs"]).startswith("sent: Message-ID")
    [message] = mail.outbox
    assert message.to == ["Anna Field <anna@example.com>"]
    assert message.subject == "Time off declined: Friday 27 November 2026, 09:00"
    assert "Two others are away that day." in message.body
    assert message.extra_headers["Message-ID"] == f"<time-off-request.{request.pk}.declined@127.0.0.1>"
    assert "Your request for time off has been declined" in message.alternatives[0][0]
    request.refresh_from_db()
    assert request.decision_emailed_at is not None
    # Run again (a worker died after the server took it): recorded, so not sent twice.
    assert send_time_off_decision_email.call(request_id=request.pk) == "skipped: already sent"
    assert len(mail.outbox) == 1


def test_the_mail_server_being_down_queues_a_retry_and_the_retry_sends_it_once(
    anna, manager, monkeypatch, caplog
):
    request = declined(anna, manager)
    real_send = mail.get_connection().__class__.send_messages

    def down(self, messages):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
    with caplog.at_level(logging.INFO, logger="booking.time_off_tasks"), pytest.raises(EmailRetrying):
        send_time_off_decision_email.call(request_id=request.pk)
    first, retry = queued()
    assert retry.args_kwargs["kwargs"] == {"request_id": request.pk, "attempt": 2, "site_url": ""}
    assert retry.run_after is not None
    request.refresh_from_db()
    assert request.decision_emailed_at is None and mail.outbox == []
    # Logs name the request by id, never the therapist.
    assert "Anna" not in caplog.text and "anna@example.com" not in caplog.text
    assert f"time-off request {request.pk}" in caplog.text

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", real_send)
    assert send_time_off_decision_email.call(**retry.args_kwargs["kwargs"]).startswith("sent")
    assert send_time_off_decision_email.call(**first.args_kwargs["kwargs"]) == "skipped: already sent"
    assert len(mail.outbox) == 1


def test_a_refusal_of_the_address_is_given_up_at_once(anna, manager, monkeypatch):
    request = declined(anna, manager)

    def refused(self, messages):
        raise smtplib.SMTPRecipientsRefused({"anna@example.com": (550, b"no such user")})

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refused)
    with pytest.raises(EmailFailed) as failed:
        send_time_off_decision_email.call(request_id=request.pk)
    assert "anna" not in str(failed.value).lower()
    assert len(queued()) == 1  # no retry


def test_no_address_no_email(anna, manager):
    request = declined(anna, manager)
    anna.user.email = ""
    anna.user.save()
    assert send_time_off_decision_email.call(request_id=request.pk) == (
        "skipped: the therapist has no email address"
    )
    anna.user = None
    anna.save()
    assert send_time_off_decision_email.call(request_id=request.pk) == (
        "skipped: the therapist has no email address"
    )
    assert mail.outbox == []


def test_nothing_to_tell_about_a_withdrawn_or_missing_request(anna):
    request = service.time_off_request_create(
        therapist=anna,
        start=datetime(2026, 11, 27, 9, 0, tzinfo=LONDON),
        end=datetime(2026, 11, 27, 18, 0, tzinfo=LONDON),
        by=anna.user,
        now=NOW,
    )
    service.time_off_request_withdraw(request=request, by=anna.user)
    assert send_time_off_decision_email.call(request_id=request.pk) == "skipped: no decision to tell"
    assert send_time_off_decision_email.call(request_id=request.pk + 100) == (
        "skipped: the request no longer exists"
    )
    assert mail.outbox == []


# --------------------------------------------------------------------------- the managers' notice


def notices() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path__endswith="send_time_off_request_notice"))


def asked(anna) -> TimeOffRequest:
    return service.time_off_request_create(
        therapist=anna,
        start=datetime(2026, 11, 27, 9, 0, tzinfo=LONDON),
        end=datetime(2026, 11, 27, 18, 0, tzinfo=LONDON),
        reason="Family wedding",
        by=anna.user,
        now=NOW,
    )


def test_a_new_request_tells_every_manager_once(anna, manager, settings):
    settings.SITE_URL = "https://clinic.example"
    second = user_in_role("Manager", "mo")
    second.email = "MO@example.com "
    second.save()
    user_in_role("Reception", "rita")  # not told: managers decide
    request = asked(anna)
    [task] = notices()
    assert task.args_kwargs["kwargs"] == {"request_id": request.pk}
    assert send_time_off_request_notice.call(request_id=request.pk).startswith("sent")
    [message] = mail.outbox
    assert sorted(message.to) == ["maria@example.com", "mo@example.com"]
    assert message.subject == "Time off asked: Anna Field, Friday 27 November 2026, 09:00"
    assert "Reason: Family wedding" in message.body
    assert f"https://clinic.example/admin/booking/timeoffrequest/{request.pk}/change/" in message.body
    request.refresh_from_db()
    assert request.arrival_emailed_at is not None
    assert send_time_off_request_notice.call(request_id=request.pk) == "skipped: already sent"
    assert len(mail.outbox) == 1


def test_the_notice_retries_while_the_mail_server_is_down(anna, manager, monkeypatch):
    request = asked(anna)

    def down(self, messages):
        raise OSError("connection refused")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
    with pytest.raises(EmailRetrying):
        send_time_off_request_notice.call(request_id=request.pk)
    assert {"request_id": request.pk, "attempt": 2, "site_url": ""} in [
        t.args_kwargs["kwargs"] for t in notices()
    ]
    request.refresh_from_db()
    assert request.arrival_emailed_at is None


def test_no_notice_once_decided_or_without_managers_to_tell(anna, manager):
    request = asked(anna)
    manager.email = ""
    manager.save()
    assert send_time_off_request_notice.call(request_id=request.pk) == (
        "skipped: no manager has an email address"
    )
    service.time_off_request_withdraw(request=request, by=anna.user)
    assert send_time_off_request_notice.call(request_id=request.pk) == (
        "skipped: decided or withdrawn before the notice went"
    )
    assert mail.outbox == []
