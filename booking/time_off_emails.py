"""What the emails about time-off requests say, in plain text and HTML like the clinic's
other emails: to the therapist, the decision (approved or declined); to the managers, that
a request is waiting."""

from __future__ import annotations

from email.headerregistry import Address
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats

from clinic import site
from clinic.text import single_line

from . import roles, selectors
from .choices import TimeOffRequestStatus
from .models import TimeOffRequest

# The decisions that are emailed; a withdrawal is the therapist's own doing.
EMAILED = (TimeOffRequestStatus.APPROVED, TimeOffRequestStatus.DECLINED)


def message_id(request: TimeOffRequest, kind: str) -> str:
    """The same Message-ID every time this email is sent (a repeat after a crash is
    recognisably the same message)."""
    host = urlsplit(settings.SITE_URL).hostname or "clinic.invalid"
    return f"<time-off-request.{request.pk}.{kind}@{host}>"


def manager_addresses() -> list[str]:
    """The addresses of the managers' active accounts, each once."""
    users = get_user_model().objects.filter(is_active=True, groups__name=roles.MANAGER).exclude(email="")
    return sorted({email.strip().lower() for email in users.values_list("email", flat=True) if email.strip()})


def _when(moment) -> str:
    return formats.date_format(moment.astimezone(selectors.clinic_zone()), "l j F Y, H:i")


def _context(request: TimeOffRequest, site_url: str) -> dict:
    base = site.base_url(site_url)
    return {
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


def _message(folder: str, context: dict, *, to: list[str], message_id: str) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"{folder}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{folder}.txt", context),
        to=to,
        headers={"Message-ID": message_id},
    )
    message.attach_alternative(render_to_string(f"{folder}.html", context), "text/html")
    return message


def build_email(request: TimeOffRequest, *, site_url: str = "") -> EmailMultiAlternatives:
    """To the therapist: their request approved or declined, with the manager's note."""
    user = request.therapist.user
    return _message(
        "booking/email/time_off_decision",
        _context(request, site_url),
        to=[str(Address(display_name=single_line(request.therapist.name), addr_spec=user.email))],
        message_id=message_id(request, request.status),
    )


def build_notice(request: TimeOffRequest, *, site_url: str = "") -> EmailMultiAlternatives:
    """To the managers: a therapist asked for time off; the link opens it to decide."""
    return _message(
        "booking/email/time_off_request_notice",
        _context(request, site_url),
        to=manager_addresses(),
        message_id=message_id(request, "asked"),
    )
