"""Emails about appointments: what they say, and how they are queued.

Services call :func:`notify` inside the transaction that changes the appointment. With
the database task backend the task row is written in that same transaction, so the
booking and its email are saved together or not at all; the worker (``manage.py
run_worker``) sends it later and tries again while the mail server is down.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic import site
from clinic.text import single_line

from . import ics, selectors
from .models import Appointment


class EmailKind(StrEnum):
    CONFIRMATION = "confirmation"
    RESCHEDULE = "reschedule"
    CANCELLATION = "cancellation"
    STAFF_NOTICE = "staff_notice"
    REMINDER = "reminder"
    # Reception is told when a client cancels or moves online.
    STAFF_CANCELLED = "staff_cancelled"
    STAFF_MOVED = "staff_moved"
    # Issue 14: a freed time held for a waitlisted client, with "Book it" and "No thanks".
    WAITLIST_OFFER = "waitlist_offer"


# Kinds that describe the appointment as it is now: a newer change makes them stale.
SUPERSEDABLE = {EmailKind.CONFIRMATION, EmailKind.RESCHEDULE, EmailKind.REMINDER, EmailKind.WAITLIST_OFFER}
# Kinds sent without a calendar file (nothing is booked yet).
NO_CALENDAR_KINDS = {EmailKind.WAITLIST_OFFER}
# Kinds that go to the clinic's staff address, not to the client (and are not capped).
STAFF_KINDS = {EmailKind.STAFF_NOTICE, EmailKind.STAFF_CANCELLED, EmailKind.STAFF_MOVED}


def manage_url(appointment: Appointment, *, site_url: str = "") -> str:
    """The client's manage link; ``site_url`` is the address stored with a queued email."""
    return site.base_url(site_url) + reverse("booking:appointment-manage", args=[appointment.manage_token])


def calendar_event(appointment: Appointment, *, site_url: str = "") -> ics.CalendarEvent:
    clinic = settings.CLINIC
    # Not the request's host: the UID must stay the same for every email about it.
    host = urlsplit(settings.SITE_URL).hostname or "clinic.invalid"
    url = manage_url(appointment, site_url=site_url)
    return ics.CalendarEvent(
        # Stable for the life of the appointment: updates replace the same calendar entry.
        uid=f"appointment-{appointment.reference}@{host}",
        sequence=appointment.sequence,
        start=appointment.start,
        end=appointment.end,
        summary=f"{appointment.technique.name} massage at {clinic['name']}",
        location=f"{clinic['name']}, {clinic['address']}",
        description=(
            f"{appointment.technique.name}, {appointment.duration_minutes} minutes, "
            f"with {appointment.therapist.name}.\n"
            f"Reference {appointment.reference}.\n"
            f"Change or cancel: {url}\n"
            f"Phone: {clinic['phone']}"
        ),
        url=url,
        organizer_name=clinic["name"],
        organizer_email=parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or clinic["email"],
        attendee_name=single_line(appointment.client_name),
        attendee_email=appointment.client_email,
        cancelled=not appointment.occupies_time,
    )


def calendar_file(
    appointment: Appointment, *, method: ics.Method, now: datetime | None = None, site_url: str = ""
) -> bytes:
    return ics.calendar_bytes(
        calendar_event(appointment, site_url=site_url),
        method=method,
        zone=selectors.clinic_zone(),
        now=now or timezone.now(),
    )


def _context(
    appointment: Appointment, *, now: datetime, previous_start: datetime | None, site_url: str = ""
) -> dict:
    zone = selectors.clinic_zone()
    policy = selectors.policy_load()
    deadline = selectors.client_change_deadline(appointment=appointment, policy=policy)
    base = site.base_url(site_url)
    # A session for two: one email, to the booker, names the guest and their therapist.
    party = selectors.appointment_party(appointment)
    guest = next((seat for seat in party if seat.pk != appointment.pk), None)
    return {
        "appointment": appointment,
        "guest": guest,
        "guest_name": single_line(guest.client_name) if guest else "",
        # Names reach the greeting and the staff notice as one plain line, whatever was typed.
        "client_name": single_line(appointment.client_name),
        "start_local": appointment.start.astimezone(zone),
        "end_local": appointment.end.astimezone(zone),
        "previous_start_local": previous_start.astimezone(zone) if previous_start else None,
        "manage_url": manage_url(appointment, site_url=site_url),
        "clinic": settings.CLINIC,
        "site_url": base,
        "cutoff_hours": policy.cancellation_cutoff_hours,
        # Offer the online change or cancel only while the client can still use it (a
        # walk-in booked for earlier today is already past the cutoff).
        "can_change_online": appointment.occupies_time and now < deadline,
        "admin_url": base + reverse("admin:booking_appointment_change", args=[appointment.pk]),
    }


def recipient(kind: EmailKind, appointment: Appointment) -> str:
    """The bare address an email of ``kind`` goes to, lower-cased (for the daily cap)."""
    address = settings.CLINIC_STAFF_EMAIL if kind in STAFF_KINDS else appointment.client_email
    return parseaddr(address)[1].strip().lower()


def message_id(kind: EmailKind, appointment: Appointment, sequence: int) -> str:
    """The same Message-ID every time this email is sent, so a copy sent again after a
    crash is recognisably the same message (mail clients and servers drop the repeat)."""
    host = urlsplit(settings.SITE_URL).hostname or "clinic.invalid"
    return f"<{kind.value}.{sequence}.{appointment.reference}@{host}>"


def client_address(appointment: Appointment) -> str:
    """The client's To address: the name cleaned to one line and quoted as the standard
    says, so quotes, commas, angle brackets or backslashes in it cannot break it."""
    return str(Address(display_name=single_line(appointment.client_name), addr_spec=appointment.client_email))


def build_email(
    kind: EmailKind,
    appointment: Appointment,
    *,
    sequence: int | None = None,
    previous_start: datetime | None = None,
    now: datetime | None = None,
    site_url: str = "",
) -> EmailMultiAlternatives:
    """The message for one kind of email, with plain text, HTML and (for clients) the .ics.
    ``site_url`` is the address stored with the queued email (see ``notify``)."""
    context = _context(
        appointment, now=now or timezone.now(), previous_start=previous_start, site_url=site_url
    )
    if kind == EmailKind.WAITLIST_OFFER:
        from .services.waitlist import offer_email_context  # which imports this module

        context.update(offer_email_context(appointment, site_url=site_url))
    folder = f"booking/email/{kind.value}"
    subject = " ".join(render_to_string(f"{folder}_subject.txt", context).split())
    text = render_to_string(f"{folder}.txt", context)
    html = render_to_string(f"{folder}.html", context)
    if kind in STAFF_KINDS:
        to = [settings.CLINIC_STAFF_EMAIL]
        reply_to = [appointment.client_email]
    else:
        to = [client_address(appointment)]
        reply_to = [settings.CLINIC["email"]]
    revision = appointment.sequence if sequence is None else sequence
    headers = {"Message-ID": message_id(kind, appointment, revision)}
    message = EmailMultiAlternatives(subject=subject, body=text, to=to, reply_to=reply_to, headers=headers)
    message.attach_alternative(html, "text/html")
    if kind not in STAFF_KINDS and kind not in NO_CALENDAR_KINDS:
        method = ics.Method.CANCEL if kind == EmailKind.CANCELLATION else ics.Method.REQUEST
        message.attach(
            "appointment.ics",
            calendar_file(appointment, method=method, site_url=site_url),
            f"text/calendar; charset=utf-8; method={method.value}",
        )
    return message


def retry_delay(attempt: int) -> timedelta:
    """1, 2, 4 ... minutes after each failure, never more than an hour."""
    return timedelta(minutes=min(2 ** (attempt - 1), 60))


def _task_kwargs(kind: EmailKind, appointment: Appointment, previous_start: datetime | None) -> dict:
    args = {"appointment_id": appointment.pk, "kind": kind.value, "sequence": appointment.sequence}
    if previous_start is not None:
        args["previous_start"] = previous_start.isoformat()
    if not settings.SITE_URL and site.request_base_url():
        # Development without SITE_URL: the worker has no request to take the address
        # from, so the email carries the one this request came in on.
        args["site_url"] = site.request_base_url()
    return args


def notify_many(kinds: list[EmailKind], appointment: Appointment) -> None:
    """Queue several emails about ``appointment`` (a new booking's confirmation and staff
    notice), like :func:`notify` each, in one insert when the tasks live in the database:
    the same rows the database backend's ``enqueue`` writes (django-tasks-db is pinned in
    requirements.txt; tests/booking/test_notifications.py runs them through the worker),
    so the worker sees no difference."""
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.compat import normalize_json, task_enqueued
    from django_tasks_db.models import DBTaskResult, get_date_max

    from .tasks import send_appointment_email  # tasks import this module

    backend = send_appointment_email.get_backend()
    if len(kinds) < 2 or type(backend) is not DatabaseBackend:
        for kind in kinds:
            notify(kind, appointment)
        return
    task = send_appointment_email
    rows = DBTaskResult.objects.bulk_create(
        DBTaskResult(
            id=backend._get_id(),
            args_kwargs=normalize_json({"args": [], "kwargs": _task_kwargs(kind, appointment, None)}),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            # What the package's pre_save handler fills in (bulk_create sends no signal).
            run_after=task.run_after or get_date_max(),
            backend_name=backend.alias,
        )
        for kind in kinds
    )
    for row in rows:
        task_enqueued.send(type(backend), task_result=row.task_result)


def notify(kind: EmailKind, appointment: Appointment, *, previous_start: datetime | None = None) -> None:
    """Queue one email about ``appointment``; call it inside the transaction that changed it.

    ``previous_start``: for a move, the time it had before (told to staff)."""
    from .tasks import send_appointment_email  # tasks import this module

    args = _task_kwargs(kind, appointment, previous_start)
    if send_appointment_email.get_backend().supports_defer:
        # The database backend: the task row joins the caller's transaction.
        send_appointment_email.enqueue(**args)
    else:
        # The immediate backend (development) runs the task as it is queued, so wait
        # until the booking is committed and visible.
        transaction.on_commit(lambda: send_appointment_email.enqueue(**args))
