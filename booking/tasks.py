"""Background tasks for booking, run by ``manage.py db_worker``."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from .models import Appointment
from .notifications import SUPERSEDABLE, EmailKind, build_email, retry_delay

logger = logging.getLogger(__name__)


@task()
def send_appointment_email(
    *, appointment_id: int, kind: str, sequence: int, attempt: int = 1, site_url: str = ""
) -> str:
    """Send one email about an appointment; if the mail server fails, queue a retry.
    ``site_url``: the site's address for links, stored when ``SITE_URL`` is unset.

    Returns what happened, which the task result records for staff to see.
    """
    email_kind = EmailKind(kind)
    appointment = (
        Appointment.objects.select_related("technique", "therapist").filter(pk=appointment_id).first()
    )
    if appointment is None:
        return "skipped: the appointment no longer exists"
    if email_kind in SUPERSEDABLE and appointment.sequence != sequence:
        # The appointment changed again after this email was queued; the email queued by
        # that change tells the client the current state instead.
        return "skipped: superseded by a later change"
    message = build_email(email_kind, appointment, site_url=site_url)
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        if attempt >= settings.EMAIL_MAX_ATTEMPTS:
            logger.error("Giving up on %s email for %s after %s attempts", kind, appointment, attempt)
            raise
        run_after = timezone.now() + retry_delay(attempt)
        send_appointment_email.using(run_after=run_after).enqueue(
            appointment_id=appointment_id,
            kind=kind,
            sequence=sequence,
            attempt=attempt + 1,
            site_url=site_url,
        )
        logger.warning(
            "Could not send %s email for %s (%s); retrying at %s", kind, appointment, exc, run_after
        )
        # Raise so this attempt shows as failed, with its error, in the task results.
        raise
    return f"sent to {', '.join(message.to)}"
