"""What the email telling a therapist about their time-off request says (approved or
declined), in plain text and HTML like the clinic's other emails."""

from __future__ import annotations

from email.headerregistry import Address
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats

from clinic import site
from clinic.text import single_line

from . import selectors
from .choices import TimeOffRequestStatus
from .models import TimeOffRequest

# The decisions that are emailed; a withdrawal is the therapist's own doing.
EMAILED = (TimeOffRequestStatus.APPROVED, TimeOffRequestStatus.DECLINED)


def message_id(request: TimeOffRequest) -> str:
    """The same Message-ID every time this email is sent (a repeat after a crash is
    recognisably the same message)."""
    host = urlsplit(settings.SITE_URL).hostname or "clinic.invalid"
    return f"<time-off-request.{request.pk}.{request.status}@{host}>"


def _when(moment) -> str:
    return formats.date_format(moment.astimezone(selectors.clinic_zone()), "l j F Y, H:i")


def build_email(request: TimeOffRequest, *, site_url: str = "") -> EmailMultiAlternatives:
    user = request.therapist.user
    base = site.base_url(site_url)
    context = {
        "therapist_name": single_line(request.therapist.name),
        "approved": request.status == TimeOffRequestStatus.APPROVED,
        "start": _when(request.start),
        "end": _when(request.end),
        "reason": single_line(request.reason),
        "note": request.decision_note,
        "url": base + reverse("admin:booking_timeoffrequest_change", args=[request.pk]),
        "clinic": settings.CLINIC,
        "site_url": base,
    }
    folder = "booking/email/time_off_decision"
    subject = " ".join(render_to_string(f"{folder}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{folder}.txt", context),
        to=[str(Address(display_name=single_line(request.therapist.name), addr_spec=user.email))],
        headers={"Message-ID": message_id(request)},
    )
    message.attach_alternative(render_to_string(f"{folder}.html", context), "text/html")
    return message
