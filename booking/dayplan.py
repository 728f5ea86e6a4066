"""The staff schedule's picture of a therapist's day: pure, like ``availability.py``.

Given one therapist's working periods, time off and appointments, and the window of the
day the page shows, :func:`plan_day` lays the window out as blocks a page can draw:

* a *background* that tiles the window: closed, off (time off), working, break (a gap
  between two working periods) or away (outside working hours);
* the *bookings*: each appointment, and its cleanup buffer after it; a cancelled one is
  its own kind, so a page can draw it aside rather than over the free time it left;
* the *free* gaps: working time that no time off and no occupying appointment takes.

Positions are percentages of the window, measured in real (elapsed) time, so on the
days the clocks change a block is as tall as the time it really lasts; the hour marks
carry the zone's abbreviation on those days so "01:00" twice is not a puzzle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from .availability import WorkingPeriod, day_span, period_span, wall_instant

__all__ = [
    "Absence",
    "Block",
    "Booking",
    "DayPlan",
    "Kind",
    "display_hours",
    "hour_marks",
    "plan_day",
    "RoomUse",
    "plan_room_day",
    "week_rows",
    "week_summary",
    "window_for",
]

_HOUR = timedelta(hours=1)


class Kind(StrEnum):
    CLOSED = "closed"
    OFF = "off"
    WORKING = "working"
    BREAK = "break"
    AWAY = "away"
    BOOKED = "booked"
    CANCELLED = "cancelled"
    CLEANUP = "cleanup"
    FREE = "free"
    TURNOVER = "turnover"  # a room being reset after a session (issue 12)


# When two background reasons cover the same minute, the first in this list wins.
_PRIORITY = (Kind.CLOSED, Kind.OFF, Kind.WORKING, Kind.BREAK, Kind.AWAY)


@dataclass(frozen=True, slots=True)
class Booking:
    """An appointment as the plan needs it. ``occupies`` is false for cancelled ones:
    they are still drawn (as ``Kind.CANCELLED``), but they leave the time free."""

    key: int
    start: datetime
    end: datetime
    occupied_until: datetime
    occupies: bool = True


@dataclass(frozen=True, slots=True)
class Absence:
    """Time off: holiday, training, sickness."""

    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Block:
    """One drawable span. ``top`` and ``height`` are percentages of the window."""

    kind: Kind
    start: datetime
    end: datetime
    top: float
    height: float
    key: int | None = None  # the appointment's id, for bookings and their cleanup
    reason: str = ""  # the closure's or the time off's reason

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class DayPlan:
    day: date
    start: datetime  # the window, in UTC
    end: datetime
    background: list[Block]
    bookings: list[Block]
    free: list[Block]

    @property
    def works(self) -> bool:
        return any(b.kind in (Kind.WORKING, Kind.BREAK) for b in self.background)

    @property
    def free_minutes(self) -> int:
        return sum(block.minutes for block in self.free)

    def timeline(self) -> list[Block]:
        """Everything worth reading aloud, in time order: the words beside the picture."""
        spoken = [b for b in self.background if b.kind in (Kind.CLOSED, Kind.OFF, Kind.BREAK)]
        appointments = [b for b in self.bookings if b.kind in (Kind.BOOKED, Kind.CANCELLED)]
        blocks = spoken + appointments + self.free
        # At the same start: what is booked, then what was cancelled, then the rest.
        rank = {Kind.BOOKED: 0, Kind.CANCELLED: 1}
        return sorted(blocks, key=lambda b: (b.start, rank.get(b.kind, 2)))


def display_hours(
    *,
    periods: Iterable[WorkingPeriod],
    spans: Iterable[tuple[datetime, datetime]],
    days: Sequence[date],
    tz: tzinfo,
    default: tuple[int, int] = (9, 18),
) -> tuple[int, int]:
    """The whole wall-clock hours a page of ``days`` should show: from the earliest
    working period or appointment to the latest, so nothing is cut off. ``spans`` are
    appointments ``(start, end)``; the part of each outside ``days`` is ignored, so one
    running past midnight does not stretch the page to the whole day. Returns
    ``(first, last)`` with ``last`` up to 24 (the midnight that ends the day)."""
    firsts: list[int] = []
    lasts: list[int] = []
    for period in periods:
        firsts.append(period.start.hour)
        lasts.append(period.end.hour + (1 if (period.end.minute or period.end.second) else 0))
    bounds = [day_span(day, tz) for day in days]
    for start, end in spans:
        for day_start, day_end in bounds:
            if start >= day_end or end <= day_start:
                continue
            first = start.astimezone(tz) if start > day_start else None
            last = end.astimezone(tz) if end < day_end else None
            firsts.append(first.hour if first else 0)
            lasts.append(last.hour + (1 if (last.minute or last.second) else 0) if last else 24)
    if not firsts:
        return default
    first, last = min(firsts), max(lasts)
    return (first, last) if first < last else (first, min(first + 1, 24))


def window_for(day: date, tz: tzinfo, hours: tuple[int, int]) -> tuple[datetime, datetime]:
    """The real-time span of the wall-clock hours ``hours`` on ``day``, in UTC."""
    first, last = hours
    day_start, day_end = day_span(day, tz)
    start = wall_instant(day, time(first), tz) if first else day_start
    end = wall_instant(day, time(last), tz, as_end=True) if last < 24 else day_end
    return start, max(end, start)


def hour_marks(start: datetime, end: datetime, tz: tzinfo) -> list[tuple[float, str]]:
    """Labels for each hour the clock shows in the window, at their positions (percent).

    On a day the clocks change the label names the zone ("01:00 BST", "01:00 GMT")."""
    span = (end - start).total_seconds()
    if span <= 0:
        return []
    offsets = {start.astimezone(tz).utcoffset(), end.astimezone(tz).utcoffset()}
    marks = []
    moment = start.astimezone(UTC)
    # Step in real time from the first whole local hour: every instant whose wall clock
    # reads a whole hour appears once, including both runs of a repeated hour.
    local = moment.astimezone(tz)
    if local.minute or local.second or local.microsecond:
        moment = moment + timedelta(minutes=60 - local.minute) - timedelta(seconds=local.second)
    while moment < end:
        local = moment.astimezone(tz)
        label = f"{local:%H:%M}" + (f" {local:%Z}" if len(offsets) > 1 else "")
        marks.append((_percent(moment - start, span), label))
        moment += _HOUR
    return marks


def plan_day(
    *,
    day: date,
    tz: tzinfo,
    window: tuple[datetime, datetime],
    periods: Sequence[WorkingPeriod],
    time_off: Sequence[Absence] = (),
    bookings: Sequence[Booking] = (),
    closed_reason: str | None = None,
) -> DayPlan:
    """Lay out one therapist's ``day`` inside ``window`` (UTC instants).

    ``periods`` are all the therapist's weekly periods (only ``day``'s weekday is used);
    ``closed_reason`` is set when the whole clinic is closed that day.
    """
    start, end = (moment.astimezone(UTC) for moment in window)
    span = (end - start).total_seconds()

    def block(kind: Kind, a: datetime, b: datetime, **extra) -> Block:
        a, b = max(a, start), min(b, end)
        return Block(kind, a, b, _percent(a - start, span), _percent(b - a, span), **extra)

    working = sorted(period_span(day, p, tz) for p in periods if p.weekday == day.weekday())
    breaks = [(a_end, b_start) for (_, a_end), (b_start, _) in zip(working, working[1:], strict=False)]
    layers: list[tuple[Kind, datetime, datetime, str]] = []
    if closed_reason is not None:
        layers.append((Kind.CLOSED, start, end, closed_reason))
    layers += [(Kind.OFF, a.start.astimezone(UTC), a.end.astimezone(UTC), a.reason) for a in time_off]
    layers += [(Kind.WORKING, a, b, "") for a, b in working]
    layers += [(Kind.BREAK, a, b, "") for a, b in breaks if a < b]

    background = [block(kind, a, b, reason=reason) for kind, a, b, reason in _tile(start, end, layers)]

    drawn: list[Block] = []
    taken: list[tuple[datetime, datetime]] = []
    for booking in sorted(bookings, key=lambda b: (b.start, b.key)):
        b_start, b_end = booking.start.astimezone(UTC), booking.end.astimezone(UTC)
        b_until = booking.occupied_until.astimezone(UTC)
        if b_end > start and b_start < end:
            kind = Kind.BOOKED if booking.occupies else Kind.CANCELLED
            drawn.append(block(kind, b_start, b_end, key=booking.key))
        if booking.occupies:
            if b_until > b_end and b_until > start and b_end < end:
                drawn.append(block(Kind.CLEANUP, b_end, b_until, key=booking.key))
            taken.append((b_start, b_until))

    free: list[Block] = []
    if closed_reason is None:
        taken += [(a.start.astimezone(UTC), a.end.astimezone(UTC)) for a in time_off]
        for a, b in working:
            for gap_start, gap_end in _subtract((max(a, start), min(b, end)), taken):
                free.append(block(Kind.FREE, gap_start, gap_end))
    return DayPlan(day=day, start=start, end=end, background=background, bookings=drawn, free=free)


@dataclass(frozen=True, slots=True)
class RoomUse:
    """One session in a room: ``key`` names it (the first seat's appointment for a
    session for two, whose seats share the room); ``until`` is the end plus the room's
    turnover."""

    key: int
    start: datetime
    end: datetime
    until: datetime
    occupies: bool = True


def plan_room_day(*, window: tuple[datetime, datetime], uses: Sequence[RoomUse]) -> list[Block]:
    """One room's sessions inside ``window`` as blocks: each session (``BOOKED``, or
    ``CANCELLED`` for one that gave the room back) and, after an occupying one, the
    room's ``TURNOVER``. In time order; those outside the window are left out."""
    start, end = (moment.astimezone(UTC) for moment in window)
    span = (end - start).total_seconds()

    def block(kind: Kind, a: datetime, b: datetime, key: int) -> Block:
        a, b = max(a, start), min(b, end)
        return Block(kind, a, b, _percent(a - start, span), _percent(b - a, span), key=key)

    blocks: list[Block] = []
    for use in sorted(uses, key=lambda u: (u.start, u.key)):
        u_start, u_end, u_until = (t.astimezone(UTC) for t in (use.start, use.end, use.until))
        if u_end > start and u_start < end:
            blocks.append(block(Kind.BOOKED if use.occupies else Kind.CANCELLED, u_start, u_end, use.key))
        if use.occupies and u_until > u_end and u_until > start and u_end < end:
            blocks.append(block(Kind.TURNOVER, u_end, u_until, use.key))
    return blocks


def _percent(part: timedelta, span: float) -> float:
    return round(part.total_seconds() * 100 / span, 3) if span else 0.0


def _tile(
    start: datetime, end: datetime, layers: list[tuple[Kind, datetime, datetime, str]]
) -> list[tuple[Kind, datetime, datetime, str]]:
    """Cut ``[start, end)`` at every layer edge and give each piece its strongest kind;
    join neighbours that end up alike."""
    edges = sorted({start, end} | {t for _, a, b, _ in layers for t in (a, b) if start < t < end})
    pieces: list[tuple[Kind, datetime, datetime, str]] = []
    rank = {kind: i for i, kind in enumerate(_PRIORITY)}
    for a, b in zip(edges, edges[1:], strict=False):
        covering = [(rank[k], k, reason) for k, la, lb, reason in layers if la <= a and lb >= b]
        _, kind, reason = min(covering, default=(len(rank), Kind.AWAY, ""))
        if pieces and pieces[-1][0] == kind and pieces[-1][3] == reason:
            pieces[-1] = (kind, pieces[-1][1], b, reason)
        else:
            pieces.append((kind, a, b, reason))
    return pieces


def _subtract(
    window: tuple[datetime, datetime], taken: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of ``window`` that none of ``taken`` covers."""
    gaps = []
    cursor, stop = window
    for a, b in sorted(taken):
        if b <= cursor:
            continue
        if a >= stop:
            break
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < stop:
        gaps.append((cursor, stop))
    return gaps


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def week_rows(periods: Iterable[WorkingPeriod]) -> list[tuple[str, str]]:
    """Each weekday with its periods in words: ``("Mon", "09:00–13:00, 14:00–18:00")``,
    or an empty string for a day off."""
    by_day: list[list[WorkingPeriod]] = [[] for _ in range(7)]
    for period in periods:
        by_day[period.weekday].append(period)
    return [
        (
            _DAY_NAMES[day],
            ", ".join(f"{p.start:%H:%M}–{p.end:%H:%M}" for p in sorted(by_day[day], key=lambda p: p.start)),
        )
        for day in range(7)
    ]


def week_summary(periods: Iterable[WorkingPeriod]) -> str:
    """The week in one line, runs of alike days joined: "Mon–Fri 09:00–18:00; Sat 10:00–14:00"."""
    rows = week_rows(periods)
    parts: list[str] = []
    day = 0
    while day < 7:
        end = day
        while end + 1 < 7 and rows[end + 1][1] == rows[day][1]:
            end += 1
        if rows[day][1]:
            names = rows[day][0] if end == day else f"{rows[day][0]}–{rows[end][0]}"
            parts.append(f"{names} {rows[day][1]}")
        day = end + 1
    return "; ".join(parts)
