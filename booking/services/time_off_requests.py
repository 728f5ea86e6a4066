"""Writes for time-off requests (issue 15): a therapist asks, a manager approves (which
records the time off through :func:`schedules.time_off_add`, by the same rule as the
time-off form: refused over booked appointments unless staff keep them) or declines, and
the therapist may withdraw a request still waiting. A new request emails the managers, and
approvals and declines the therapist (``booking.time_off_tasks``), queued with the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import site

from ..choices import TimeOffRequestStatus
from ..models import Appointment, Therapist, TimeOffRequest
from . import schedules

# A request longer than this is almost surely a typo in the year or month; longer leave
# is arranged with a manager and recorded by them as time off.
MAX_DAYS = 90
REASON_LIMIT = 200
NOTE_LIMIT = 1000
DECIDE_PERMISSION = "booking.change_timeoffrequest"


def time_off_request_validate(*, therapist: Therapist, start: datetime, end: datetime, now: datetime) -> None:
    """The request's dates, checked: they must be in order, not in the past, not too long,
    and not already asked for (a request with the same dates still waiting)."""
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValueError("time-off request times must be aware")
    if end <= start:
        raise ValidationError(_("The time off must end after it starts."), code="end_before_start")
    if start < now:
        raise ValidationError(_("The time off cannot start in the past."), code="in_the_past")
    if end - start > timedelta(days=MAX_DAYS):
        raise ValidationError(
            _("Ask for at most %(days)s days at a time; for longer, speak to a manager.")
            % {"days": MAX_DAYS},
            code="too_long",
        )
    if TimeOffRequest.objects.filter(
        therapist=therapist, start=start, end=end, status=TimeOffRequestStatus.PENDING
    ).exists():
        raise ValidationError(
            _("You have already asked for exactly this time off; it is waiting for a manager."),
            code="duplicate",
        )


def time_off_request_create(
    *, therapist: Therapist, start: datetime, end: datetime, reason: str = "", by, now: datetime | None = None
) -> TimeOffRequest:
    """Record a therapist's request for time off ``[start, end)``, waiting for a manager."""
    now = now or timezone.now()
    reason = " ".join(reason.split())[:REASON_LIMIT]
    time_off_request_validate(therapist=therapist, start=start, end=end, now=now)
    try:
        # A savepoint: the admin's own transaction must survive a refused duplicate.
        with transaction.atomic():
            request = TimeOffRequest.objects.create(
                therapist=therapist, start=start, end=end, reason=reason, requested_by=by
            )
            _queue("send_time_off_request_notice", request)
            return request
    except IntegrityError:
        # The same dates sent twice at once (a double click): the database kept one.
        raise ValidationError(
            _("You have already asked for exactly this time off; it is waiting for a manager."),
            code="duplicate",
        ) from None


def _locked_pending(request: TimeOffRequest) -> TimeOffRequest:
    """The request's row, locked until the caller's transaction ends, if still waiting."""
    locked = TimeOffRequest.objects.select_for_update().select_related("therapist").get(pk=request.pk)
    if locked.status != TimeOffRequestStatus.PENDING:
        raise ValidationError(
            _("This request was already dealt with (%(status)s).") % {"status": locked.get_status_display()},
            code="not_pending",
        )
    return locked


def _check_decider(by) -> None:
    if not by.has_perm(DECIDE_PERMISSION):
        raise PermissionDenied("only managers approve or decline time off")


def time_off_request_approve(
    *, request: TimeOffRequest, by, keep_booked: bool = False, note: str = "", now: datetime | None = None
) -> tuple[TimeOffRequest, list[Appointment]]:
    """Approve a waiting request: the time off is recorded (refused, naming them, over
    booked appointments unless ``keep_booked``) and the therapist emailed. Returns the
    request and the appointments the time off covers, which still stand."""
    _check_decider(by)
    with transaction.atomic():
        locked = _locked_pending(request)
        time_off, clashes = schedules.time_off_add(
            therapist=locked.therapist,
            start=locked.start,
            end=locked.end,
            reason=locked.reason,
            keep_booked=keep_booked,
        )
        _decide(locked, status=TimeOffRequestStatus.APPROVED, by=by, note=note, now=now)
        locked.time_off = time_off
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "time_off"])
        _queue("send_time_off_decision_email", locked)
    return locked, clashes


def time_off_request_decline(
    *, request: TimeOffRequest, by, note: str = "", now: datetime | None = None
) -> TimeOffRequest:
    """Decline a waiting request, with an optional note saying why; the therapist is emailed."""
    _check_decider(by)
    with transaction.atomic():
        locked = _locked_pending(request)
        _decide(locked, status=TimeOffRequestStatus.DECLINED, by=by, note=note, now=now)
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        _queue("send_time_off_decision_email", locked)
    return locked


def time_off_request_withdraw(*, request: TimeOffRequest, by, now: datetime | None = None) -> TimeOffRequest:
    """The therapist takes back a request still waiting (plans changed). No email."""
    with transaction.atomic():
        locked = _locked_pending(request)
        if locked.therapist.user_id is None or locked.therapist.user_id != by.pk:
            raise PermissionDenied("only the therapist withdraws their own request")
        _decide(locked, status=TimeOffRequestStatus.WITHDRAWN, by=by, note="", now=now)
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked


def _decide(locked: TimeOffRequest, *, status: str, by, note: str, now: datetime | None) -> None:
    locked.status = status
    locked.decided_by = by
    locked.decided_at = now or timezone.now()
    locked.decision_note = note.strip()[:NOTE_LIMIT]


def _queue(task_name: str, request: TimeOffRequest) -> None:
    """Queue an email task in the caller's transaction (the durable task backend), or after
    the commit (the immediate backend, development), as notifications.notify does."""
    from .. import time_off_tasks  # imported late: the tasks import the models only

    send = getattr(time_off_tasks, task_name)
    args: dict = {"request_id": request.pk}
    if not settings.SITE_URL and site.request_base_url():
        args["site_url"] = site.request_base_url()
    if send.get_backend().supports_defer:
        send.enqueue(**args)
    else:
        transaction.on_commit(lambda: send.enqueue(**args))
