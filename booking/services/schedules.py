"""Writes for therapists' schedules: weekly working hours and time off.

Each rule has one entry point that validates and writes; the validators are also called on
their own by forms that want to show a problem before saving (the HackSoft pattern of
``roster_validate_period()`` called by ``roster_create()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import availability as engine
from .. import selectors
from ..choices import Weekday
from ..models import Appointment, Therapist, TimeOff, WorkingHours

# ----------------------------------------------------------------------------- working hours


def working_hours_validate(periods: Iterable[engine.WorkingPeriod | tuple]) -> list[engine.WorkingPeriod]:
    """The periods as the engine's values, or a ValidationError: each must end after it
    starts, and two periods on one day must not overlap (a break is the gap between two)."""
    checked: list[engine.WorkingPeriod] = []
    for period in periods:
        weekday, start, end = (
            (period.weekday, period.start, period.end) if isinstance(period, engine.WorkingPeriod) else period
        )
        if end <= start:
            raise ValidationError(
                _("A period on %(day)s ends before it starts (%(start)s–%(end)s).")
                % {"day": Weekday(weekday).label, "start": _clock(start), "end": _clock(end)},
                code="end_before_start",
            )
        checked.append(engine.WorkingPeriod(weekday, start, end))
    ordered = sorted(checked, key=lambda p: (p.weekday, p.start, p.end))
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if earlier.weekday == later.weekday and later.start < earlier.end:
            raise ValidationError(
                _("Two periods on %(day)s overlap (%(start)s starts before the other ends).")
                % {"day": Weekday(later.weekday).label, "start": _clock(later.start)},
                code="overlap",
            )
    return ordered


@dataclass(frozen=True)
class WorkingHoursChange:
    """What :func:`working_hours_set` did, for the admin's log."""

    added: list[WorkingHours]
    removed: list[WorkingHours]


def working_hours_set(
    *, therapist: Therapist, periods: Iterable[engine.WorkingPeriod | tuple]
) -> WorkingHoursChange:
    """Make the therapist's weekly hours exactly ``periods`` (validated first): rows that
    stay are left alone, the others removed, the new ones added."""
    wanted = working_hours_validate(periods)
    with transaction.atomic():
        # Serialise edits of one therapist's week, as bookings do.
        Therapist.objects.select_for_update().filter(pk=therapist.pk).exists()
        existing = list(WorkingHours.objects.filter(therapist=therapist))
        keep = {(p.weekday, p.start, p.end) for p in wanted}
        removed = [row for row in existing if (row.weekday, row.start, row.end) not in keep]
        have = {(row.weekday, row.start, row.end) for row in existing}
        added = [
            WorkingHours.objects.create(therapist=therapist, weekday=p.weekday, start=p.start, end=p.end)
            for p in wanted
            if (p.weekday, p.start, p.end) not in have
        ]
        if removed:
            WorkingHours.objects.filter(pk__in=[row.pk for row in removed]).delete()
        if added:
            # Waitlist (issue 14): new hours may suit someone waiting; offered on commit.
            _waitlist().time_freed_ahead(therapist_id=therapist.pk)
    return WorkingHoursChange(added=added, removed=removed)


# ----------------------------------------------------------------------------- time off


def time_off_clashes(
    *, therapist: Therapist, start: datetime, end: datetime, keep_booked: bool = False
) -> list[Appointment]:
    """The confirmed appointments the time off ``[start, end)`` would cover.

    Time off over booked appointments is the staff's call, but never a silent one: unless
    ``keep_booked`` is set, a ValidationError names each appointment. With it, the
    clashing appointments are returned so staff can be reminded to move or cancel them.
    """
    if start >= end:
        raise ValidationError(_("Time off must end after it starts."), code="end_before_start")
    clashes = selectors.appointments_during(therapist=therapist, start=start, end=end)
    if clashes and not keep_booked:
        raise ValidationError(
            ngettext(
                "This time off overlaps %(n)s booked appointment: %(list)s. Move or cancel it, "
                "or tick “Keep booked appointments” to save the time off anyway.",
                "This time off overlaps %(n)s booked appointments: %(list)s. Move or cancel them, "
                "or tick “Keep booked appointments” to save the time off anyway.",
                len(clashes),
            )
            % {"n": len(clashes), "list": appointments_listed(clashes)},
            code="over_appointments",
        )
    return clashes


def time_off_add(
    *, therapist: Therapist, start: datetime, end: datetime, reason: str = "", keep_booked: bool = False
) -> tuple[TimeOff, list[Appointment]]:
    """Record time off; refused over booked appointments unless ``keep_booked``. Returns
    the time off and the appointments it covers (which still stand)."""
    with transaction.atomic():
        Therapist.objects.select_for_update().filter(pk=therapist.pk).exists()
        clashes = time_off_clashes(therapist=therapist, start=start, end=end, keep_booked=keep_booked)
        time_off = TimeOff.objects.create(therapist=therapist, start=start, end=end, reason=reason.strip())
    return time_off, clashes


def time_off_update(
    *, time_off: TimeOff, start: datetime, end: datetime, reason: str = "", keep_booked: bool = False
) -> tuple[TimeOff, list[Appointment]]:
    """Change time off, by the same rule as :func:`time_off_add`."""
    with transaction.atomic():
        Therapist.objects.select_for_update().filter(pk=time_off.therapist_id).exists()
        time_off = TimeOff.objects.select_for_update().get(pk=time_off.pk)
        clashes = time_off_clashes(
            therapist=time_off.therapist, start=start, end=end, keep_booked=keep_booked
        )
        # Waitlist (issue 14): time the old dates covered may be free now.
        _waitlist().time_freed_span(
            start=time_off.start, end=time_off.end, therapist_id=time_off.therapist_id
        )
        time_off.start, time_off.end, time_off.reason = start, end, reason.strip()
        time_off.save()
    return time_off, clashes


def time_off_delete(*, time_off: TimeOff) -> None:
    with transaction.atomic():
        time_off.delete()
        # Waitlist (issue 14): the days it covered may have free time now.
        _waitlist().time_freed_span(
            start=time_off.start, end=time_off.end, therapist_id=time_off.therapist_id
        )


def _waitlist():
    # Imported late: the waitlist service imports the booking services.
    from . import waitlist

    return waitlist


def appointments_listed(booked: Sequence[Appointment]) -> str:
    """Appointments in words staff can act on: "ABCD2345 (Jane Doe, Tue 24 Nov 10:00–11:00)"."""
    zone = selectors.clinic_zone()
    return "; ".join(
        f"{a.reference} ({a.client_name}, {formats.date_format(a.start.astimezone(zone), 'D d M H:i')}–"
        f"{_clock(a.end.astimezone(zone))})"
        for a in booked
    )


def _clock(moment) -> str:
    """A wall time as 24-hour hours and minutes, through Django's formatting."""
    return formats.time_format(moment, "H:i")
