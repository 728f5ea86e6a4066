"""The task that sends a client's link email, run by ``manage.py run_worker`` like the
appointment emails (``booking.tasks``): queued in the transaction that made the link,
retried while the mail server is down, recorded as sent (``ClientLink.sent_at``) as soon
as the server accepts it and checked before sending, so it goes once.

For a sign-in link this is where the typed address is looked up: no client, no email,
and the row (with the address) is deleted. Logs name links and clients by id only.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib

from django.core.mail import get_connection
from django.utils import timezone
from django_tasks import task

from ..models import Client, ClientLink
from ..notifications import retry_delay
from ..services import signin
from ..tasks import EmailFailed, EmailRetrying, is_permanent
from . import emails

logger = logging.getLogger(__name__)


@task()
def send_client_link_email(*, link_id: int, attempt: int = 1, site_url: str = "") -> str:
    """Send the email of one :class:`ClientLink`; returns what happened (the task result
    staff see), or raises :class:`EmailRetrying` / :class:`EmailFailed`."""
    now = timezone.now()
    signin.links_purge(now=now)
    link = ClientLink.objects.select_related("client").filter(pk=link_id).first()
    if link is None:
        return "skipped: the link no longer exists"
    if link.sent_at is not None:
        return "skipped: already sent"
    if link.used_at is not None or link.expires_at <= now:
        return "skipped: the link has expired"
    if link.client_id is None:
        client = Client.objects.current().filter(email_key=link.email).first() if link.email else None
        if client is None:
            # Nobody with this address: no email, and the address is not kept.
            link.delete()
            return "skipped: no client has this address"
        link.client = client
        link.email = ""
        link.save(update_fields=["client", "email"])
    if link.client.erased_at is not None or not link.client.email:
        return "skipped: the client has no address"
    try:
        message = emails.build_email(link, site_url=site_url)
    except Exception as exc:
        logger.error("Cannot build the email of link %s (%s)", link.pk, type(exc).__name__)
        raise EmailFailed(f"email of link {link.pk} could not be made: {type(exc).__name__}") from None
    mail = get_connection()
    try:
        mail.open()
        mail.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mail.close()
        detail = type(exc).__name__  # server replies may quote the address: not kept
        can_retry = send_client_link_email.get_backend().supports_defer
        run_after = timezone.now() + retry_delay(attempt)
        # A retry after the link expires would only send a dead link.
        if is_permanent(exc) or not can_retry or run_after >= link.expires_at:
            logger.error("Giving up on the email of link %s (attempt %s): %s", link.pk, attempt, detail)
            raise EmailFailed(f"email of link {link.pk} not sent, attempt {attempt}: {detail}") from None
        send_client_link_email.using(run_after=run_after).enqueue(
            link_id=link_id, attempt=attempt + 1, site_url=site_url
        )
        logger.warning("Could not send the email of link %s (%s); retry at %s", link.pk, detail, run_after)
        raise EmailRetrying(f"email of link {link.pk}, attempt {attempt}: {detail}") from None
    ClientLink.objects.filter(pk=link.pk, sent_at__isnull=True).update(sent_at=timezone.now())
    with contextlib.suppress(smtplib.SMTPException, OSError):
        mail.close()
    logger.info("Sent the email of link %s", link.pk)
    return f"sent: Message-ID {message.extra_headers['Message-ID']}"
