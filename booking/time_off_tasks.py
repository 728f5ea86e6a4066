"""The task that tells a therapist a manager approved or declined their time-off request,
run by ``manage.py run_worker`` like the appointment emails (``booking.tasks``): queued
with the decision, retried while the mail server is down, recorded as sent
(``TimeOffRequest.decision_emailed_at``) as soon as the server accepts it and checked
before sending, so it goes once. Logs and results name the request by id only.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib

from django.conf import settings
from django.core.mail import get_connection
from django.utils import timezone
from django_tasks import task

from . import time_off_emails
from .models import TimeOffRequest
from .notifications import retry_delay
from .tasks import EmailFailed, EmailRetrying, is_permanent

logger = logging.getLogger(__name__)


@task()
def send_time_off_decision_email(*, request_id: int, attempt: int = 1, site_url: str = "") -> str:
    """Email the therapist the decision on one :class:`TimeOffRequest`; returns what
    happened (the task result staff see), or raises :class:`EmailRetrying` /
    :class:`EmailFailed`."""
    request = TimeOffRequest.objects.select_related("therapist__user").filter(pk=request_id).first()
    if request is None:
        return "skipped: the request no longer exists"
    if request.decision_emailed_at is not None:
        return "skipped: already sent"
    if request.status not in time_off_emails.EMAILED:
        return "skipped: no decision to tell"
    user = request.therapist.user
    if user is None or not user.email:
        return "skipped: the therapist has no email address"
    try:
        message = time_off_emails.build_email(request, site_url=site_url)
    except Exception as exc:
        logger.error("Cannot build the email of time-off request %s (%s)", request.pk, type(exc).__name__)
        raise EmailFailed(
            f"email of time-off request {request.pk} could not be made: {type(exc).__name__}"
        ) from None
    mail = get_connection()
    try:
        # Opened here so the "accepted" is recorded before the goodbye (see booking.tasks).
        mail.open()
        mail.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mail.close()
        detail = type(exc).__name__  # server replies may quote the address: not kept
        can_retry = send_time_off_decision_email.get_backend().supports_defer
        if is_permanent(exc) or attempt >= settings.EMAIL_MAX_ATTEMPTS or not can_retry:
            logger.error(
                "Giving up on the email of time-off request %s (attempt %s): %s", request.pk, attempt, detail
            )
            raise EmailFailed(
                f"email of time-off request {request.pk} not sent, attempt {attempt}: {detail}"
            ) from None
        run_after = timezone.now() + retry_delay(attempt)
        send_time_off_decision_email.using(run_after=run_after).enqueue(
            request_id=request_id, attempt=attempt + 1, site_url=site_url
        )
        logger.warning(
            "Could not send the email of time-off request %s (%s); retry at %s", request.pk, detail, run_after
        )
        raise EmailRetrying(f"email of time-off request {request.pk}, attempt {attempt}: {detail}") from None
    TimeOffRequest.objects.filter(pk=request.pk, decision_emailed_at__isnull=True).update(
        decision_emailed_at=timezone.now()
    )
    with contextlib.suppress(smtplib.SMTPException, OSError):
        mail.close()
    logger.info("Sent the email of time-off request %s", request.pk)
    return f"sent: Message-ID {message.extra_headers['Message-ID']}"
