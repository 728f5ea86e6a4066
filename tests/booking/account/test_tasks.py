"""booking.account.tasks: the link emails, sent once, retried while the link lives."""

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django_tasks_db.models import DBTaskResult

from booking.account.tasks import send_client_link_email
from booking.models import ClientLink
from booking.services import signin
from booking.tasks import EmailFailed, EmailRetrying

pytestmark = pytest.mark.django_db


def queued(olivia) -> ClientLink:
    return signin.signin_link_request(email=olivia.email, browser_key="k" * 32)


def test_the_email_names_no_one_else_and_carries_a_working_link(olivia, now):
    link = queued(olivia)
    assert send_client_link_email.call(link_id=link.pk).startswith("sent")
    message = mail.outbox[0]
    assert message.to == ["Olivia Brown <olivia@example.com>"]
    assert message.extra_headers["Message-ID"] == f"<link.sign_in.{link.pk}@127.0.0.1>"
    assert "15 minutes" in message.body
    assert "/book/account/signin/" in message.alternatives[0][0]


def test_a_mail_server_failure_retries_while_the_link_lives(olivia, now, monkeypatch):
    link = queued(olivia)

    def refuse(self, messages):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    with pytest.raises(EmailRetrying):
        send_client_link_email.call(link_id=link.pk)
    assert DBTaskResult.objects.count() == 2  # the request's task and the retry
    # A retry that would come after the link expires is not queued.
    ClientLink.objects.filter(pk=link.pk).update(expires_at=link.created_at + timedelta(seconds=30))
    with pytest.raises(EmailFailed):
        send_client_link_email.call(link_id=link.pk, attempt=2)
    assert ClientLink.objects.get(pk=link.pk).sent_at is None


def test_an_expired_link_is_not_sent(olivia, now):
    link = queued(olivia)
    now.move(20)
    assert send_client_link_email.call(link_id=link.pk) == "skipped: the link has expired"
    assert mail.outbox == []
