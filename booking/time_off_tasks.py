"""The tasks that email about time-off requests, run by ``manage.py run_worker`` like the
appointment emails (``booking.tasks``): the managers' notice that a request arrived, and
the therapist's email about the decision. Each is queued in the transaction that caused
it, retried while the mail server is down, recorded as sent on the request
(``arrival_emailed_at``, ``decision_emailed_at``) as soon as the server accepts it and
checked before sending, so it goes once. Logs and results name the request by id only.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone
from django_tasks import task

from . import time_off_emails
from .choices import TimeOffRequestStatus
from .models import TimeOffRequest
from .notifications import retry_delay
from .tasks import EmailFailed, EmailRetrying, is_permanent

logger = logging.getLogger(__name__)


def _deliver(
    build, *, request: TimeOffRequest, what: str, sent_field: str, retry, attempt: int, site_url: str
) -> str:
    """Build and send one email about ``request``; on success record it in ``sent_field``.
    ``retry`` is the task, queued again (``attempt + 1``) while the failure may pass."""
    label = f"{what} of time-off request {request.pk}"
    try:
        message: EmailMultiAlternatives = build(request, site_url=site_url)
    except Exception as exc:
        logger.error("Cannot build the %s (%s)", label, type(exc).__name__)
        raise EmailFailed(f"{label} could not be made: {type(exc).__name__}") from None
    mail = get_connection()
    try:
        # Opened here so the "accepted" is recorded before the goodbye (see booking.tasks).
        mail.open()
        mail.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mail.close()
        detail = type(exc).__name__  # server replies may quote the address: not kept
        can_retry = retry.get_backend().supports_defer
        if is_permanent(exc) or attempt >= settings.EMAIL_MAX_ATTEMPTS or not can_retry:
            logger.error("Giving up on the %s (attempt %s): %s", label, attempt, detail)
            raise EmailFailed(f"{label} not sent, attempt {attempt}: {detail}") from None
        run_after = timezone.now() + retry_delay(attempt)
        retry.using(run_after=run_after).enqueue(
            request_id=request.pk, attempt=attempt + 1, site_url=site_url
        )
        logger.warning("Could not send the %s (%s); retry at %s", label, detail, run_after)
        raise EmailRetrying(f"{label}, attempt {attempt}: {detail}") from None
    TimeOffRequest.objects.filter(pk=request.pk, **{f"{sent_field}__isnull": True}).update(
        **{sent_field: timezone.now()}
    )
    with contextlib.suppress(smtplib.SMTPException, OSError):
        mail.close()
    logger.info("Sent the %s", label)
    return f"sent: Message-ID {message.extra_headers['Message-ID']}"


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
    return _deliver(
        time_off_emails.build_email,
        request=request,
        what="decision email",
        sent_field="decision_emailed_at",
        retry=send_time_off_decision_email,
        attempt=attempt,
        site_url=site_url,
    )


@task()
def send_time_off_request_notice(*, request_id: int, attempt: int = 1, site_url: str = "") -> str:
    """Tell the managers a time-off request is waiting for them (a staff notice: no
    per-recipient cap applies, as none does to staff notices in ``booking.tasks``)."""
    request = TimeOffRequest.objects.select_related("therapist").filter(pk=request_id).first()
    if request is None:
        return "skipped: the request no longer exists"
    if request.arrival_emailed_at is not None:
        return "skipped: already sent"
    if request.status != TimeOffRequestStatus.PENDING:
        return "skipped: decided or withdrawn before the notice went"
    if not time_off_emails.manager_addresses():
        return "skipped: no manager has an email address"
    return _deliver(
        time_off_emails.build_notice,
        request=request,
        what="managers' notice",
        sent_field="arrival_emailed_at",
        retry=send_time_off_request_notice,
        attempt=attempt,
        site_url=site_url,
    )
