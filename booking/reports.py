"""The manager's reports (issue 15), computed from plain rows: no ORM here.

The selector (``selectors.reports_load``) reads the range's appointments, hours, time off,
closures and rooms in a fixed number of queries; these functions turn them into figures.
They return codes and numbers; the admin page chooses the words.

Definitions, shown to managers in the page's words:
* booked hands-on minutes: confirmed and completed appointments (not cancelled, not
  no-shows); available minutes: the weekly working hours on each day of the range, minus
  time off and closures, in the clinic's local time (a day when the clocks change has an
  hour more or less);
* revenue: confirmed and completed appointments at the price booked;
* a late cancellation: cancelled less than the policy's cutoff before the start.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from .availability import Interval, WorkingPeriod, day_span, period_span
from .choices import AppointmentStatus

# The range a manager may ask for: a longer one is cut to this many days from its start,
# with a note (a decade of rows would be slow and unreadable in one chart).
MAX_DAYS = 3 * 366
EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)

# Hands-on time and revenue: the visits that happened or are still to happen.
DELIVERED = frozenset({AppointmentStatus.CONFIRMED, AppointmentStatus.COMPLETED})
# A time the client kept in the diary, whether or not they came.
KEPT = frozenset({AppointmentStatus.CONFIRMED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW})


_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_MINUTE_SPAN = timedelta(minutes=1)
_PENNY = Decimal("0.01")


class Preset(StrEnum):
    LAST_MONTH = "last-month"
    THIS_MONTH = "this-month"
    LAST_3_MONTHS = "last-3-months"
    LAST_12_MONTHS = "last-12-months"


class RangeNote(StrEnum):
    CAPPED = "capped"  # cut to MAX_DAYS
    SWAPPED = "swapped"  # the end came before the start


class LeadTime(StrEnum):
    SAME_DAY = "same-day"
    DAYS_1_2 = "1-2"
    DAYS_3_7 = "3-7"
    DAYS_8_14 = "8-14"
    DAYS_15_30 = "15-30"
    OVER_30 = "over-30"


# The upper bound in days of each lead-time bucket, in order.
_LEAD_BOUNDS = (
    (0, LeadTime.SAME_DAY),
    (2, LeadTime.DAYS_1_2),
    (7, LeadTime.DAYS_3_7),
    (14, LeadTime.DAYS_8_14),
    (30, LeadTime.DAYS_15_30),
)


def _add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def preset_range(preset: Preset, today: date) -> tuple[date, date]:
    """The first and last day of a preset, whole calendar months."""
    this_month = today.replace(day=1)
    if preset == Preset.THIS_MONTH:
        return this_month, this_month.replace(day=calendar.monthrange(today.year, today.month)[1])
    months = {Preset.LAST_MONTH: 1, Preset.LAST_3_MONTHS: 3, Preset.LAST_12_MONTHS: 12}[preset]
    return _add_months(today, -months), this_month - timedelta(days=1)


def range_clamp(first: date, last: date) -> tuple[date, date, frozenset[RangeNote]]:
    """The range to report on: in order, and at most ``MAX_DAYS`` long from its start.
    The dates must already lie between ``EARLIEST`` and ``LATEST`` (the form checks)."""
    notes: set[RangeNote] = set()
    if last < first:
        first, last = last, first
        notes.add(RangeNote.SWAPPED)
    if (last - first).days + 1 > MAX_DAYS:
        last = first + timedelta(days=MAX_DAYS - 1)
        notes.add(RangeNote.CAPPED)
    return first, last, frozenset(notes)


def in_bounds(day: date) -> bool:
    return EARLIEST <= day <= LATEST


# --------------------------------------------------------------------------- input


class Booking(NamedTuple):
    """One appointment (one seat of a session for two) as the reports need it. A named
    tuple: a year of a busy clinic is tens of thousands of them, made straight from the
    database's rows."""

    therapist_id: int
    technique_id: int
    room_id: int | None
    start: datetime  # aware
    duration_minutes: int
    status: str
    source: str
    client_id: int | None
    created_at: datetime
    cancelled_at: datetime | None


class RevenueRow(NamedTuple):
    """Confirmed and completed appointments of one therapist and technique, summed by the
    database (prices are decimals: adding them there keeps tens of thousands of them
    from being converted one by one)."""

    therapist_id: int
    technique_id: int
    appointments: int
    amount: Decimal


@dataclass
class ReportInput:
    first: date
    last: date
    zone: tzinfo
    bookings: Sequence[Booking]  # starting on the range's local days; no waitlist holds
    hours: dict[int, list[WorkingPeriod]]  # by therapist id
    time_off: dict[int, list[Interval]]  # by therapist id, overlapping the range
    closures: Sequence[tuple[date, date]]
    rooms: Sequence[int]  # the ids of the rooms to report on (none: no room report)
    cutoff: timedelta
    revenue: Sequence[RevenueRow] = ()
    # Clients with a kept appointment before the range: the others are new.
    seen_before: frozenset[int] = frozenset()


# --------------------------------------------------------------------------- output


@dataclass(frozen=True, slots=True)
class Utilisation:
    key: object  # a therapist id, a room id or a week's Monday
    booked: int  # minutes
    available: int  # minutes

    @property
    def percent(self) -> float | None:
        return 100 * self.booked / self.available if self.available else None


@dataclass(frozen=True, slots=True)
class Revenue:
    key: int
    appointments: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Attendance:
    bookings: int
    no_shows: int
    cancellations: int
    late_cancellations: int

    def rate(self, count: int) -> float | None:
        return 100 * count / self.bookings if self.bookings else None


@dataclass(frozen=True, slots=True)
class ClientMix:
    new: int
    returning: int


@dataclass
class Reports:
    by_therapist: list[Utilisation]
    by_week: list[Utilisation]
    by_room: list[Utilisation]
    revenue_by_technique: list[Revenue]
    revenue_by_therapist: list[Revenue]
    sources: Counter[str]
    attendance: Attendance
    clients: ClientMix
    lead_times: dict[LeadTime, int]
    # heat[weekday][hour]: kept appointments starting then (local time, Monday = 0).
    heat: list[list[int]] = field(default_factory=list)


# --------------------------------------------------------------------------- computing


def _days(first: date, last: date) -> Iterable[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def closed_days(closures: Iterable[tuple[date, date]], first: date, last: date) -> set[date]:
    closed: set[date] = set()
    for start, end in closures:
        closed.update(_days(max(start, first), min(end, last)))
    return closed


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def _subtract(start: datetime, end: datetime, away: Sequence[Interval]) -> int:
    """Minutes of ``[start, end)`` not covered by ``away`` (sorted, may overlap)."""
    free = timedelta()
    cursor = start
    for interval in away:
        if interval.end <= cursor:
            continue
        if interval.start >= end:
            break
        if interval.start > cursor:
            free += interval.start - cursor
        cursor = max(cursor, interval.end)
        if cursor >= end:
            break
    if cursor < end:
        free += end - cursor
    return _minutes(free)


def _steady_offsets(first: date, last: date, zone: tzinfo) -> dict[date, timedelta]:
    """Each day's UTC offset, for the days on which the clocks do not change (most): on
    those a wall time is that offset away from UTC and a period lasts what it says."""
    offsets: dict[date, timedelta] = {}
    midnight = datetime.combine(first, time.min)
    before = zone.utcoffset(midnight)
    for day in _days(first, last):
        midnight += _DAY
        after = zone.utcoffset(midnight)
        if after == before and before is not None:
            offsets[day] = before
        before = after
    return offsets


def _local_days(intervals: Iterable[Interval], zone: tzinfo) -> set[date]:
    """The clinic's days that the intervals touch."""
    days: set[date] = set()
    for interval in intervals:
        first = interval.start.astimezone(zone).date()
        last = (interval.end - _TICK).astimezone(zone).date()
        days.update(_days(first, last))
    return days


def available_minutes(
    *,
    first: date,
    last: date,
    zone: tzinfo,
    periods: Sequence[WorkingPeriod],
    time_off: Sequence[Interval],
    closed: set[date],
    steady: dict[date, timedelta] | None = None,
) -> dict[date, int]:
    """One therapist's available minutes on each local day: their weekly hours on that
    day (real time, so the hours a day's clocks skip or repeat count as they pass),
    minus time off and closed days. Days with none are left out.

    ``steady`` (from ``_steady_offsets``, shared by every therapist) saves working out
    each period's real span on the days the clocks do not change."""
    if steady is None:
        steady = _steady_offsets(first, last, zone)
    by_weekday: list[list[WorkingPeriod]] = [[] for _ in range(7)]
    for period in periods:
        by_weekday[period.weekday].append(period)
    plain = [
        sum(
            (datetime.combine(first, p.end) - datetime.combine(first, p.start)) // _MINUTE_SPAN
            for p in by_weekday[weekday]
        )
        for weekday in range(7)
    ]
    away = sorted(time_off, key=lambda interval: interval.start)
    away_days = _local_days(away, zone)
    minutes: dict[date, int] = {}
    for day in _days(first, last):
        weekday = day.weekday()
        if not plain[weekday] or day in closed:
            continue
        offset = steady.get(day)
        if offset is not None and day not in away_days:
            minutes[day] = plain[weekday]
            continue
        total = 0
        for period in by_weekday[weekday]:
            if offset is not None:
                start = datetime.combine(day, period.start, tzinfo=UTC) - offset
                end = datetime.combine(day, period.end, tzinfo=UTC) - offset
            else:
                start, end = period_span(day, period, zone)
            total += _subtract(start, end, away)
        if total:
            minutes[day] = total
    return minutes


def opening_minutes(
    *, first: date, last: date, zone: tzinfo, hours: Iterable[Sequence[WorkingPeriod]], closed: set[date]
) -> int:
    """The minutes the clinic is open over the range: the union of everyone's weekly hours
    on each open day (a room is there to be used whenever anyone works)."""
    by_weekday: list[list[WorkingPeriod]] = [[] for _ in range(7)]
    for periods in hours:
        for period in periods:
            by_weekday[period.weekday].append(period)
    total = 0
    for day in _days(first, last):
        if day in closed:
            continue
        spans = sorted(period_span(day, period, zone) for period in by_weekday[day.weekday()])
        cursor = None
        for start, end in spans:
            if cursor is not None and start < cursor:
                start = cursor
            if end > start:
                total += _minutes(end - start)
                cursor = end
    return total


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# Lead-time bucket by whole days ahead, 0 to 30 (more is OVER_30).
_LEAD_BY_DAYS: list[LeadTime] = [
    next(bucket for bound, bucket in _LEAD_BOUNDS if days <= bound) for days in range(_LEAD_BOUNDS[-1][0] + 1)
]


def lead_time(booking: Booking, zone: tzinfo) -> LeadTime:
    """How far ahead it was booked, in the clinic's calendar days (booked after the event,
    by staff entering it late, counts as the same day)."""
    days = booking.start.astimezone(zone).toordinal() - booking.created_at.astimezone(zone).toordinal()
    return _LEAD_BY_DAYS[max(days, 0)] if days < len(_LEAD_BY_DAYS) else LeadTime.OVER_30


def is_late_cancellation(booking: Booking, cutoff: timedelta) -> bool:
    return (
        booking.status == AppointmentStatus.CANCELLED
        and booking.cancelled_at is not None
        and booking.cancelled_at > booking.start - cutoff
    )


def revenue_by(rows: Iterable[RevenueRow], key) -> list[Revenue]:
    """Revenue per technique or per therapist (``key`` picks it from a row), largest first."""
    totals: dict[int, list] = {}
    for row in rows:
        entry = totals.setdefault(key(row), [0, Decimal(0)])
        entry[0] += row.appointments
        entry[1] += row.amount
    # In pounds and pence, whatever the database's sum came back as (SQLite: 60, not 60.00).
    found = [Revenue(k, count, amount.quantize(_PENNY)) for k, (count, amount) in totals.items()]
    return sorted(found, key=lambda r: (-r.amount, -r.appointments, r.key))


# Plain strings for the loop over every booking: an enum member hashes in Python.
_CANCELLED = AppointmentStatus.CANCELLED.value
_NO_SHOW = AppointmentStatus.NO_SHOW.value
_KEPT = frozenset(status.value for status in KEPT)
_DELIVERED = frozenset(status.value for status in DELIVERED)


def reports_compute(data: ReportInput) -> Reports:
    """Every report for the range, from the rows the selector read. One pass over the
    bookings, each converted to local time once: a year is tens of thousands of rows."""
    zone = data.zone
    closed = closed_days(data.closures, data.first, data.last)
    steady = _steady_offsets(data.first, data.last, zone)

    available_by_therapist: dict[int, int] = {}
    available_by_week: Counter[int] = Counter()  # by the ordinal of the week's Monday
    for therapist_id, periods in data.hours.items():
        daily = available_minutes(
            first=data.first,
            last=data.last,
            zone=zone,
            periods=periods,
            time_off=data.time_off.get(therapist_id, ()),
            closed=closed,
            steady=steady,
        )
        available_by_therapist[therapist_id] = sum(daily.values())
        for day, minutes in daily.items():
            available_by_week[day.toordinal() - day.weekday()] += minutes

    booked_by_therapist: Counter[int] = Counter()
    booked_by_week: Counter[int] = Counter()
    booked_by_room: Counter[int] = Counter()
    sources: Counter[str] = Counter()
    lead_counts = [0] * len(_LEAD_BY_DAYS)
    over_30 = 0
    heat = [[0] * 24 for _ in range(7)]
    no_shows = cancellations = late = 0
    kept_clients: set[int] = set()
    cutoff = data.cutoff
    lead_days = len(_LEAD_BY_DAYS)
    for booking in data.bookings:
        status = booking.status
        local = booking.start.astimezone(zone)
        ordinal = local.toordinal()
        sources[booking.source] += 1
        days = ordinal - booking.created_at.astimezone(zone).toordinal()
        if days >= lead_days:
            over_30 += 1
        else:
            lead_counts[days if days > 0 else 0] += 1
        if status == _CANCELLED:
            cancellations += 1
            if booking.cancelled_at is not None and booking.cancelled_at > booking.start - cutoff:
                late += 1
            continue
        heat[local.weekday()][local.hour] += 1
        if booking.client_id is not None:
            kept_clients.add(booking.client_id)
        if status == _NO_SHOW:
            no_shows += 1
        if status not in _DELIVERED:
            continue
        minutes = booking.duration_minutes
        booked_by_therapist[booking.therapist_id] += minutes
        booked_by_week[ordinal - local.weekday()] += minutes
        if booking.room_id is not None:
            booked_by_room[booking.room_id] += minutes

    lead_times: dict[LeadTime, int] = dict.fromkeys(LeadTime, 0)
    for days, count in enumerate(lead_counts):
        lead_times[_LEAD_BY_DAYS[days]] += count
    lead_times[LeadTime.OVER_30] += over_30
    therapists = sorted(set(available_by_therapist) | set(booked_by_therapist))
    weeks = sorted({week_of(day).toordinal() for day in _days(data.first, data.last)})
    open_minutes = (
        opening_minutes(first=data.first, last=data.last, zone=zone, hours=data.hours.values(), closed=closed)
        if data.rooms
        else 0
    )
    new = len(kept_clients - data.seen_before)
    return Reports(
        by_therapist=[
            Utilisation(t, booked_by_therapist[t], available_by_therapist.get(t, 0)) for t in therapists
        ],
        by_week=[Utilisation(date.fromordinal(w), booked_by_week[w], available_by_week[w]) for w in weeks],
        by_room=[Utilisation(r, booked_by_room[r], open_minutes) for r in data.rooms],
        revenue_by_technique=revenue_by(data.revenue, lambda row: row.technique_id),
        revenue_by_therapist=revenue_by(data.revenue, lambda row: row.therapist_id),
        sources=sources,
        attendance=Attendance(len(data.bookings), no_shows, cancellations, late),
        clients=ClientMix(new=new, returning=len(kept_clients) - new),
        lead_times=lead_times,
        heat=heat,
    )


def range_instants(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The real-time span of the local days ``first`` to ``last`` inclusive."""
    return day_span(first, zone)[0], day_span(last, zone)[1]
