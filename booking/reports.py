"""The manager's reports (issue 15), computed from plain rows: no ORM here.

The selector (``selectors.reports_load``) reads the range's appointments in one query as
plain rows, with the hours, time off, closures and rooms, in a fixed number of queries;
``bookings_count`` counts the rows (by start time, by therapist, room, source and status,
by technique, by lead time) and ``reports_compute`` turns the counts into figures. A year
of a busy clinic is tens of thousands of appointments but only a few thousand distinct
start times: they are parsed and put into local time once per start, not per appointment,
and the counting itself runs in C (``Counter`` over ``itemgetter`` keys). They return
codes and numbers; the admin page chooses the words.

Definitions, shown to managers in the page's words:
* booked hands-on minutes: confirmed and completed appointments (not cancelled, not
  no-shows); available minutes: the weekly working hours on each day of the range, minus
  time off and closures, in the clinic's local time (a day when the clocks change has an
  hour more or less);
* revenue: confirmed and completed appointments at the price booked;
* a late cancellation: cancelled less than the policy's cutoff before the start;
* lead time: from making the booking to its start (``LEAD_BOUNDS``).
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from operator import itemgetter
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
    UNDER_A_DAY = "under-a-day"
    DAYS_1_2 = "1-2"
    DAYS_3_7 = "3-7"
    DAYS_8_14 = "8-14"
    DAYS_15_30 = "15-30"
    OVER_30 = "over-30"


# Each lead-time bucket but the last, with the time ahead it stays under: booked 2 days
# and 23 hours ahead is "1 to 2 days". The database counts the buckets (selectors).
LEAD_BOUNDS: tuple[tuple[LeadTime, timedelta], ...] = (
    (LeadTime.UNDER_A_DAY, timedelta(days=1)),
    (LeadTime.DAYS_1_2, timedelta(days=3)),
    (LeadTime.DAYS_3_7, timedelta(days=8)),
    (LeadTime.DAYS_8_14, timedelta(days=15)),
    (LeadTime.DAYS_15_30, timedelta(days=31)),
)


def lead_time(ahead: timedelta) -> LeadTime:
    """The bucket of a booking made ``ahead`` of its start (entered after the visit by
    staff, a negative time, counts as under a day)."""
    for bucket, bound in LEAD_BOUNDS:
        if ahead < bound:
            return bucket
    return LeadTime.OVER_30


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


class StartRow(NamedTuple):
    """The appointments starting at one instant with one status, counted by the database."""

    start: datetime  # aware
    status: str
    appointments: int
    minutes: int  # their lengths added up


class ShareRow(NamedTuple):
    """The appointments of one therapist, room, source and status, counted by the database."""

    therapist_id: int
    room_id: int | None
    source: str
    status: str
    appointments: int
    minutes: int


class Cancellation(NamedTuple):
    start: datetime
    cancelled_at: datetime | None  # unknown for some cancelled before it was recorded


class RevenueRow(NamedTuple):
    """Confirmed and completed appointments of one therapist and technique, summed by the
    database (prices are decimals: adding them there keeps tens of thousands of them
    from being converted one by one)."""

    therapist_id: int
    technique_id: int
    appointments: int
    amount: Decimal


# Plain strings for the loops over the rows: an enum member hashes in Python.
_CANCELLED = AppointmentStatus.CANCELLED.value
_NO_SHOW = AppointmentStatus.NO_SHOW.value
_DELIVERED = frozenset(status.value for status in DELIVERED)
_KEPT = frozenset(status.value for status in KEPT)


class BookingRow(NamedTuple):
    """One appointment of the range as the selector reads it: plain values, the times as
    naive UTC ISO text ("2026-11-23 10:00:00[.ffffff]", see ``selectors.UtcText``) and the
    price as decimal text, so that tens of thousands of rows cost the driver no conversion
    per value; :func:`bookings_count` parses each distinct start once."""

    start: str
    created_at: str
    cancelled_at: str | None
    status: str
    therapist_id: int
    room_id: int | None
    source: str
    technique_id: int
    minutes: int
    price: str
    client_id: int


@dataclass
class Counted:
    """The range's appointments counted in the ways the reports need (``ReportInput``'s
    fields of the same names)."""

    starts: list[StartRow]
    shares: list[ShareRow]
    revenue: list[RevenueRow]
    cancellations: list[Cancellation]
    lead_times: dict[str, int]
    clients_kept: set[int]


# Where each field sits in a BookingRow, for the C-level itemgetters of bookings_count().
(
    _START,
    _CREATED,
    _CANCELLED_AT,
    _STATUS,
    _THERAPIST,
    _ROOM,
    _SOURCE,
    _TECHNIQUE,
    _MINUTES,
    _PRICE,
    _CLIENT,
) = range(11)
_BY_START = itemgetter(_START, _STATUS, _MINUTES)
_BY_SHARE = itemgetter(_THERAPIST, _ROOM, _SOURCE, _STATUS, _TECHNIQUE, _MINUTES, _PRICE)
_START_OF = itemgetter(_START)
_CREATED_OF = itemgetter(_CREATED)
# A booking created after ``start - bound`` is within that bound. Longest bound first, so
# that the edges ``start - bound`` rise; a creation time after k of them (bisect_left: one
# made exactly at an edge is not within its bound) falls in the k-th code of this list.
_LEAD_LIMITS_DESC = [bound for _, bound in reversed(LEAD_BOUNDS)]
_LEAD_CODES_BY_PLACE = [LeadTime.OVER_30.value] + [bucket.value for bucket, _ in reversed(LEAD_BOUNDS)]


def bookings_count(rows: Sequence[BookingRow | tuple]) -> Counted:
    """Count the range's appointments every way the reports need, in a few passes over
    the rows that Python runs in C (``Counter`` over ``itemgetter`` keys): the database
    reads the range once, where a grouped query per report read all of its rows again
    each time. Only the few thousand distinct keys are then looked at one by one."""
    naive = {text: datetime.fromisoformat(text) for text in set(map(_START_OF, rows))}
    aware = {text: value.replace(tzinfo=UTC) for text, value in naive.items()}

    by_start: dict[tuple[str, str], list[int]] = {}
    for (start, status, minutes), count in Counter(map(_BY_START, rows)).items():
        entry = by_start.setdefault((start, status), [0, 0])
        entry[0] += count
        entry[1] += minutes * count
    starts = [
        StartRow(aware[start], status, count, minutes)
        for (start, status), (count, minutes) in by_start.items()
    ]

    shares_by: dict[tuple, list[int]] = {}
    revenue_by_key: dict[tuple[int, int], list] = {}
    prices: dict[str, Decimal] = {}
    for (therapist, room, source, status, technique, minutes, price), count in Counter(
        map(_BY_SHARE, rows)
    ).items():
        entry = shares_by.setdefault((therapist, room, source, status), [0, 0])
        entry[0] += count
        entry[1] += minutes * count
        if status in _DELIVERED:
            amount = prices.get(price)
            if amount is None:
                amount = prices[price] = Decimal(price)
            takings = revenue_by_key.setdefault((therapist, technique), [0, Decimal(0)])
            takings[0] += count
            takings[1] += amount * count
    shares = [ShareRow(*key, count, minutes) for key, (count, minutes) in shares_by.items()]
    revenue = [RevenueRow(*key, count, amount) for key, (count, amount) in revenue_by_key.items()]

    # How far ahead each was booked, exactly (``lead_time``): for each distinct start, the
    # creation instants where the buckets change, and each row's creation time placed
    # among them, all in C (every creation time differs: each is parsed once, here).
    edges = {text: [start - bound for bound in _LEAD_LIMITS_DESC] for text, start in naive.items()}
    placed = map(
        bisect_left,
        map(edges.__getitem__, map(_START_OF, rows)),
        map(datetime.fromisoformat, map(_CREATED_OF, rows)),
    )
    lead_times = {_LEAD_CODES_BY_PLACE[place]: count for place, count in Counter(placed).items()}

    cancellations = [
        Cancellation(aware[row[_START]], None if row[_CANCELLED_AT] is None else _utc(row[_CANCELLED_AT]))
        for row in rows
        if row[_STATUS] == _CANCELLED
    ]
    clients_kept = {row[_CLIENT] for row in rows if row[_STATUS] in _KEPT}
    return Counted(starts, shares, revenue, cancellations, lead_times, clients_kept)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class ReportInput:
    """Everything the reports need for one range (appointments starting on its local
    days, the waitlist's holds left out)."""

    first: date
    last: date
    zone: tzinfo
    starts: Sequence[StartRow]
    shares: Sequence[ShareRow]
    hours: dict[int, list[WorkingPeriod]]  # by therapist id
    time_off: dict[int, list[Interval]]  # by therapist id, overlapping the range
    closures: Sequence[tuple[date, date]]
    rooms: Sequence[int]  # the ids of the rooms to report on (none: no room report)
    cutoff: timedelta
    revenue: Sequence[RevenueRow] = ()
    cancellations: Sequence[Cancellation] = ()
    lead_times: dict[str, int] = field(default_factory=dict)  # by LeadTime code
    # Clients with an appointment in the range that was not cancelled, and how many of
    # them had one before the range (returning; the rest are new).
    clients_kept: int = 0
    clients_returning: int = 0


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
    *,
    first: date,
    last: date,
    zone: tzinfo,
    hours: Iterable[Sequence[WorkingPeriod]],
    closed: set[date],
    steady: dict[date, timedelta] | None = None,
) -> int:
    """The minutes the clinic is open over the range: the union of everyone's weekly hours
    on each open day (a room is there to be used whenever anyone works).

    Most therapists share their hours, so each weekday's distinct periods are merged once;
    on the days the clocks do not change (``steady``) that weekday's union is the day's
    minutes, and only the few others work out each period's real span."""
    if steady is None:
        steady = _steady_offsets(first, last, zone)
    by_weekday: list[list[WorkingPeriod]] = [[] for _ in range(7)]
    seen: set[tuple[int, time, time]] = set()
    for periods in hours:
        for period in periods:
            key = (period.weekday, period.start, period.end)
            if key not in seen:
                seen.add(key)
                by_weekday[period.weekday].append(period)
    plain = [
        _union_minutes(
            sorted(
                (datetime.combine(first, p.start, tzinfo=UTC), datetime.combine(first, p.end, tzinfo=UTC))
                for p in periods
            )
        )
        for periods in by_weekday
    ]
    total = 0
    for day in _days(first, last):
        if day in closed:
            continue
        if day in steady:
            total += plain[day.weekday()]
        else:
            total += _union_minutes(
                sorted(period_span(day, period, zone) for period in by_weekday[day.weekday()])
            )
    return total


def _union_minutes(spans: Sequence[tuple[datetime, datetime]]) -> int:
    """Minutes covered by ``spans`` (sorted by start, may overlap)."""
    total = 0
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


def is_late_cancellation(cancellation: Cancellation, cutoff: timedelta) -> bool:
    """Cancelled less than ``cutoff`` before the start (by the client or by staff)."""
    return cancellation.cancelled_at is not None and cancellation.cancelled_at > cancellation.start - cutoff


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


def reports_compute(data: ReportInput) -> Reports:
    """Every report for the range, from the rows the selector read."""
    zone = data.zone
    closed = closed_days(data.closures, data.first, data.last)
    steady = _steady_offsets(data.first, data.last, zone)

    available_by_therapist: dict[int, int] = {}
    available_by_week: Counter[int] = Counter()  # by the ordinal of the week's Monday
    # Most of a clinic shares its weekly hours: each distinct pattern's days are worked out
    # once, and for each therapist only the days their time off touches are worked out again.
    by_pattern: dict[tuple, tuple[dict[date, int], int, Counter[int]]] = {}
    for therapist_id, periods in data.hours.items():
        pattern = tuple(sorted((p.weekday, p.start, p.end) for p in periods))
        found = by_pattern.get(pattern)
        if found is None:
            daily = available_minutes(
                first=data.first,
                last=data.last,
                zone=zone,
                periods=periods,
                time_off=(),
                closed=closed,
                steady=steady,
            )
            weekly: Counter[int] = Counter()
            for day, minutes in daily.items():
                weekly[day.toordinal() - day.weekday()] += minutes
            found = by_pattern[pattern] = (daily, sum(daily.values()), weekly)
        daily, total, weekly = found
        available_by_week.update(weekly)
        away = data.time_off.get(therapist_id, ())
        touched = [day for day in _local_days(away, zone) if data.first <= day <= data.last]
        if touched:
            low, high = min(touched), max(touched)
            for day in _days(low, high):
                minutes = daily.get(day, 0)
                total -= minutes
                available_by_week[day.toordinal() - day.weekday()] -= minutes
            own = available_minutes(
                first=low, last=high, zone=zone, periods=periods, time_off=away, closed=closed, steady=steady
            )
            for day, minutes in own.items():
                total += minutes
                available_by_week[day.toordinal() - day.weekday()] += minutes
        available_by_therapist[therapist_id] = total

    booked_by_therapist: Counter[int] = Counter()
    booked_by_week: Counter[int] = Counter()
    booked_by_room: Counter[int] = Counter()
    heat = [[0] * 24 for _ in range(7)]
    for row in data.starts:
        status = row.status
        if status == _CANCELLED:
            continue
        local = row.start.astimezone(zone)
        heat[local.weekday()][local.hour] += row.appointments
        if status in _DELIVERED:
            booked_by_week[local.toordinal() - local.weekday()] += row.minutes

    sources: Counter[str] = Counter()
    bookings = no_shows = cancellations = 0
    for row in data.shares:
        bookings += row.appointments
        sources[row.source] += row.appointments
        if row.status == _CANCELLED:
            cancellations += row.appointments
        elif row.status == _NO_SHOW:
            no_shows += row.appointments
        elif row.status in _DELIVERED:
            booked_by_therapist[row.therapist_id] += row.minutes
            if row.room_id is not None:
                booked_by_room[row.room_id] += row.minutes
    late = sum(1 for cancellation in data.cancellations if is_late_cancellation(cancellation, data.cutoff))
    lead_times = {bucket: data.lead_times.get(bucket.value, 0) for bucket in LeadTime}

    therapists = sorted(set(available_by_therapist) | set(booked_by_therapist))
    weeks = sorted({week_of(day).toordinal() for day in _days(data.first, data.last)})
    open_minutes = (
        opening_minutes(
            first=data.first,
            last=data.last,
            zone=zone,
            hours=data.hours.values(),
            closed=closed,
            steady=steady,
        )
        if data.rooms
        else 0
    )
    returning = min(data.clients_returning, data.clients_kept)
    return Reports(
        by_therapist=[
            Utilisation(t, booked_by_therapist[t], available_by_therapist.get(t, 0)) for t in therapists
        ],
        by_week=[Utilisation(date.fromordinal(w), booked_by_week[w], available_by_week[w]) for w in weeks],
        by_room=[Utilisation(r, booked_by_room[r], open_minutes) for r in data.rooms],
        revenue_by_technique=revenue_by(data.revenue, lambda row: row.technique_id),
        revenue_by_therapist=revenue_by(data.revenue, lambda row: row.therapist_id),
        sources=sources,
        attendance=Attendance(bookings, no_shows, cancellations, late),
        clients=ClientMix(new=data.clients_kept - returning, returning=returning),
        lead_times=lead_times,
        heat=heat,
    )


def range_instants(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The real-time span of the local days ``first`` to ``last`` inclusive."""
    return day_span(first, zone)[0], day_span(last, zone)[1]
