"""Free appointment slots: the pure scheduling core of the booking app.

This module knows nothing about Django or the database. The ORM layer loads
working hours, time off, closures and existing appointments, turns them into
the small value types below and calls :func:`free_slots`; the result is plain
data that views and forms can render. Keeping it pure means the tricky parts
(daylight-saving days, buffers, fairness) are tested quickly and exhaustively
without a database.

Conventions:

* Every instant is an aware :class:`~datetime.datetime`; every instant this
  module *returns* is in UTC (``tzinfo=timezone.utc``). Intervals are
  half-open ``[start, end)``, so back-to-back intervals touch but do not
  overlap.
* Working hours, closures and the slot grid are *wall-clock* notions in the
  clinic's time zone: "09:00-18:00" means 09:00-18:00 on the clock on the wall,
  in winter and in summer alike.
* Durations (``duration``, ``buffer``, notice, horizon) are elapsed time, so
  they are added to UTC instants, never to local wall times (adding a
  ``timedelta`` to a local aware datetime is wall-clock arithmetic in Python
  and would be an hour off across a daylight-saving change).

How a wall-clock working period becomes real time on a day when the clocks
change: the period ``[P.start, P.end)`` on local date ``d`` is turned into the
smallest span of instants that holds every instant whose local wall time lies
within it. Concretely:

* the start is the *first* instant at which the clock shows ``P.start`` or
  later (if ``P.start`` falls into the hour skipped by spring-forward, that
  is the instant the gap ends; if it is in the hour repeated by fall-back,
  its first occurrence);
* the end is the instant at which the clock, after last showing a time
  before ``P.end``, reaches ``P.end`` (if it falls into the skipped hour, the
  instant the gap begins; if it is inside the repeated hour, its second
  occurrence, since part of the repeat shows times before ``P.end``; if it
  is exactly where the repeat begins, e.g. 01:00 in London, its first
  occurrence, since nothing of the repeat does).

So a period never gains the hour that does not exist, and on fall-back day a
period spanning the repeated hour lasts as long as the clock really runs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from itertools import islice
from operator import itemgetter, le
from typing import overload
from zoneinfo import ZoneInfo

__all__ = [
    "Interval",
    "Intervals",
    "Policy",
    "RoomSchedule",
    "STRETCH_GAP",
    "SlotProblem",
    "TherapistSchedule",
    "WorkingPeriod",
    "free_slots",
    "slot_problems",
    "why_not_free",
    "day_span",
    "group_by_part_of_day",
    "merge_any",
    "nearest_starts",
    "period_span",
    "wall_instant",
    "pick_therapist",
    "pick_rooms",
    "free_pairs",
    "suitable_rooms",
]

# A break of at least this long ends a stretch of hands-on work (issue 12's
# max_continuous_minutes): shorter gaps between appointments do not rest the hands.
STRETCH_GAP = timedelta(minutes=15)

_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_MICROSECOND = timedelta(microseconds=1)
_MAX_DAYS = 366


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of real time ``[start, end)`` between two aware instants.

    An empty interval (``start == end``) is allowed and blocks nothing.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        # Naive datetimes would compare against aware ones with a TypeError deep
        # inside the slot search; fail here, where the culprit is obvious.
        if not _is_aware(self.start) or not _is_aware(self.end):
            raise ValueError(f"Interval needs aware datetimes, got {self.start!r} - {self.end!r}")
        # Compare in UTC: two datetimes sharing a tzinfo compare by wall time,
        # ignoring `fold`, which is wrong inside a repeated (fall-back) hour.
        if self.end.astimezone(UTC) < self.start.astimezone(UTC):
            raise ValueError(f"Interval ends before it starts: {self.start} - {self.end}")

    @classmethod
    def unchecked(cls, start: datetime, end: datetime) -> Interval:
        """An interval from trusted values (rows the database already checks: aware, in
        order) without the checks of ``__post_init__``, which cost more than the rest of
        loading a row."""
        interval = object.__new__(cls)
        _set_start(interval, start)
        _set_end(interval, end)
        return interval


# Setting a slot through its descriptor skips the frozen dataclass's __setattr__ guard.
_set_start = Interval.start.__set__  # type: ignore[attr-defined]
_set_end = Interval.end.__set__  # type: ignore[attr-defined]


class Intervals(Sequence[Interval]):
    """Many intervals as two parallel lists, ``starts`` and ``ends``, of aware UTC instants
    (``tzinfo`` is :data:`datetime.UTC`), each end at or after its start, in any order.

    What a loader builds from rows the database has already checked: no object per row,
    so it is cheap to build and leaves nothing for the garbage collector to walk (which,
    with an :class:`Interval` per appointment, cost more than the rest of loading). Nothing
    is checked: whoever builds one vouches for every pair. It reads as a sequence of
    :class:`Interval` wherever one is expected; the engine reads the lists directly.
    """

    __slots__ = ("starts", "ends")
    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __init__(self, starts: list[datetime] | None = None, ends: list[datetime] | None = None) -> None:
        self.starts: list[datetime] = [] if starts is None else starts
        self.ends: list[datetime] = [] if ends is None else ends
        if len(self.starts) != len(self.ends):
            raise ValueError(f"{len(self.starts)} starts but {len(self.ends)} ends")

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, index: int) -> Interval: ...
    @overload
    def __getitem__(self, index: slice) -> Intervals: ...
    def __getitem__(self, index: int | slice) -> Interval | Intervals:
        if isinstance(index, slice):
            return Intervals(self.starts[index], self.ends[index])
        return Interval.unchecked(self.starts[index], self.ends[index])

    def __iter__(self) -> Iterator[Interval]:
        return map(Interval.unchecked, self.starts, self.ends)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Intervals):
            return self.starts == other.starts and self.ends == other.ends
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Intervals({len(self)} intervals)"


@dataclass(frozen=True, slots=True)
class WorkingPeriod:
    """Regular working hours on one weekday, as wall-clock times in the clinic's zone.

    ``weekday`` follows :meth:`datetime.date.weekday` (0 = Monday ... 6 = Sunday).
    Periods do not run overnight: ``end`` must be later than ``start``.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        # The zone comes from the clinic, not from the period: a time carrying its
        # own tzinfo would silently mean something else.
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("WorkingPeriod times must be naive wall-clock times")
        if self.end <= self.start:
            raise ValueError(f"WorkingPeriod must end after it starts (no overnight periods): {self}")


@dataclass(frozen=True, slots=True)
class Policy:
    """Clinic-wide booking rules.

    * ``min_notice``: a slot must start at or after ``now + min_notice``;
    * ``horizon``: ... and at or before ``now + horizon``;
    * ``step``: slots start on a wall-clock grid of this many minutes after
      local midnight (e.g. 15 minutes gives :00, :15, :30, :45); it must be a
      whole number of minutes that divides a day.
    """

    min_notice: timedelta
    horizon: timedelta
    step: timedelta


@dataclass(frozen=True, slots=True)
class TherapistSchedule:
    """Everything about one therapist that decides when they are free.

    ``busy`` holds existing appointments, each already extended by its own
    cleanup buffer (``[start, end + buffer)``), so that a new booking can never
    eat into the cleanup time of an earlier one.

    The limits (issue 12) read ``hands_on``: the same appointments without their
    buffer (``[start, end)``). ``max_daily``: the most hands-on time starting on one
    local day; ``max_continuous``: the most hands-on time in one stretch, a stretch
    being appointments separated by gaps (one's end to the next's start, buffer time
    included) shorter than :data:`STRETCH_GAP`. ``None`` means no limit.
    ``preferred_room`` is a room id the room picker favours among equals.
    """

    therapist_id: int
    periods: Sequence[WorkingPeriod]
    time_off: Sequence[Interval]
    busy: Sequence[Interval]
    hands_on: Sequence[Interval] = ()
    max_daily: timedelta | None = None
    max_continuous: timedelta | None = None
    preferred_room: int | None = None


@dataclass(frozen=True, slots=True)
class RoomSchedule:
    """One treatment room: what it holds and when it is taken.

    ``busy`` holds the sessions in it, each extended by the room's turnover as it was
    when booked (``[start, room_until)``). A new session needs the room over
    ``[start, start + duration + turnover)``. Rooms are given in the clinic's room
    order, which breaks the last ties of :func:`pick_rooms`.
    """

    room_id: int
    capacity: int
    turnover: timedelta
    features: frozenset[int]
    busy: Sequence[Interval]


class SlotProblem(StrEnum):
    """Why a start time is not free: a code for each rule of :func:`free_slots`, in the
    order they are checked. Words are chosen by whoever shows them."""

    PAST = "past"  # before now
    NOTICE = "notice"  # sooner than the minimum notice
    HORIZON = "horizon"  # further ahead than the horizon
    CLOSED = "closed"  # the clinic is closed that day
    OFF_GRID = "off_grid"  # not on the slot grid
    OVERNIGHT = "overnight"  # would end on another day (no working period runs overnight)
    DAY_OFF = "day_off"  # the therapist has no working period at all on that weekday
    OUTSIDE_HOURS = "outside_hours"  # not inside any of the therapist's working periods
    TIME_OFF = "time_off"  # meets the therapist's time off
    TAKEN = "taken"  # meets another appointment (or its cleanup)
    DAY_LIMIT = "day_limit"  # would take the therapist over their hands-on minutes for the day
    STRETCH_LIMIT = "stretch_limit"  # would make too long a stretch without a 15-minute break
    NO_ROOM = "no_room"  # no suitable room is free for the session and its turnover


# --------------------------------------------------------------------------- public functions


def free_slots(
    *,
    schedules: Sequence[TherapistSchedule],
    closures: Sequence[tuple[date, date]],
    first_day: date,
    days: int,
    duration: timedelta,
    buffer: timedelta,
    policy: Policy,
    now: datetime,
    tz: ZoneInfo,
    rooms: Sequence[RoomSchedule] | None = None,
    required_features: frozenset[int] = frozenset(),
    seats: int = 1,
) -> dict[int, dict[date, list[datetime]]]:
    """Return the start times each therapist can take a new appointment at.

    The result maps ``therapist_id -> local date -> sorted start instants``
    (aware, UTC). Every date in ``[first_day, first_day + days)`` is present
    for every therapist, with an empty list when nothing is free.

    A start ``s`` is offered for therapist ``T`` on local date ``d`` when:

    1. ``d`` is in the requested range and not inside any closure
       (``closures`` are inclusive ``(first, last)`` local date ranges);
    2. one of ``T``'s working periods for ``d``'s weekday, converted to real
       time as described in the module docstring, holds the appointment
       ``[s, s + duration)`` (the cleanup ``buffer`` may run past closing);
    3. ``[s, s + duration + buffer)`` overlaps none of ``T``'s time off or
       busy intervals (touching is fine);
    4. ``now + min_notice <= s <= now + horizon``;
    5. ``s``'s local wall time is a whole multiple of ``policy.step`` after
       local midnight. Wall times skipped by spring-forward are never offered;
       on fall-back both occurrences of a repeated wall time are distinct
       instants and may both be offered;
    6. ``T``'s limits hold: the hands-on time starting on ``d`` plus ``duration``
       is at most ``max_daily``, and the stretch ``[s, s + duration)`` joins
       (gaps shorter than :data:`STRETCH_GAP`) holds at most ``max_continuous``
       of hands-on time;
    7. when ``rooms`` is given (``None``: the clinic does not use rooms), one of
       :func:`suitable_rooms` (``required_features``, ``seats``) is free over
       ``[s, s + duration + its turnover)``.

    With ``seats=2`` (a session for two) each therapist's starts are those they
    could work in a room for two; :func:`free_pairs` then finds two of them.

    Raises :class:`ValueError` for a range of days outside 1-366, a
    non-positive ``duration``, a negative ``buffer``, a ``step`` that is not a
    positive whole number of minutes dividing a day, a naive ``now``, a
    closure that ends before it starts, or two schedules for one therapist.
    """
    _validate(
        schedules=schedules,
        closures=closures,
        first_day=first_day,
        days=days,
        duration=duration,
        buffer=buffer,
        policy=policy,
        now=now,
    )
    if seats not in (1, 2):
        raise ValueError(f"seats must be 1 or 2 (a session for two), got {seats}")

    dates = [first_day + timedelta(days=i) for i in range(days)]
    closed = _closed_dates(closures, dates[0], dates[-1])

    # Notice and horizon are elapsed time: add them to the UTC instant, not to a
    # local aware datetime (which Python would treat as wall-clock arithmetic).
    now_utc = now.astimezone(UTC)
    earliest = now_utc + policy.min_notice
    latest = now_utc + policy.horizon
    # The whole appointment plus its cleanup must be clear of blocked time.
    footprint = duration + buffer

    # Grid instants and period conversions depend only on the day (and the
    # period's wall times), not on the therapist: compute each once per call and
    # share it between all therapists.
    plan = _GridPlan.for_step(policy.step)
    grids: dict[date, list[datetime]] = {}
    spans: dict[tuple[date, time, time], tuple[datetime, datetime]] = {}

    # Rooms do not depend on the therapist: whether some suitable room is free at a start
    # is worked out once per start that some therapist could take (not for every grid
    # point of the day), and shared between therapists.
    room_plans = (
        None
        if rooms is None
        else sorted(
            (
                (duration + room.turnover, *_merge_blocked(room.busy))
                for room in suitable_rooms(rooms, required_features=required_features, seats=seats)
            ),
            # Any free room will do here (which one is pick_rooms' choice, at booking):
            # the least busy first, so the search usually stops at the first room.
            key=lambda plan: len(plan[1]),
        )
    )
    room_free: dict[datetime, bool] = {}

    def windows(by_weekday: list[list[WorkingPeriod]], day: date) -> _DayWindows | None:
        """The day's grid and the runs of it (index ranges) where one of the periods
        allows a start, within notice and horizon; None when nobody with these hours
        works that day."""
        periods = by_weekday[day.weekday()]
        if not periods or day in closed:
            return None
        grid = grids.get(day)
        if grid is None:
            grid = grids[day] = _day_grid(day, tz, plan)
        runs = []
        for period in periods:
            key = (day, period.start, period.end)
            span = spans.get(key)
            if span is None:
                span = spans[key] = _period_span(day, period, tz)
            period_start, period_end = span
            low = bisect_left(grid, max(period_start, earliest))
            high = bisect_right(grid, min(period_end - duration, latest))
            if low < high:
                runs.append((low, high))
        return grid, runs

    result: dict[int, dict[date, list[datetime]]] = {}
    # What depends on the hours and the day but not on anyone's diary is worked out once
    # per distinct list of hours. Therapists often share one (a loader hands the same
    # object to all with the same hours): keyed by identity, which is safe because every
    # schedule, and so its list, lives until the end of the call.
    by_hours: dict[int, list[_DayWindows | None]] = {}
    for schedule in schedules:
        day_windows = by_hours.get(id(schedule.periods))
        if day_windows is None:
            by_weekday = _periods_by_weekday(schedule.periods)
            day_windows = by_hours[id(schedule.periods)] = [windows(by_weekday, day) for day in dates]
        block_starts, block_ends = _merge_blocked(schedule.time_off, schedule.busy)
        limits = _Limits.build(schedule, tz) if schedule.max_daily or schedule.max_continuous else None
        per_day: dict[date, list[datetime]] = {}
        for day, found in zip(dates, day_windows, strict=True):
            if found is None or (limits is not None and not limits.day_allows(day, duration)):
                per_day[day] = []
                continue
            grid, runs = found
            slots: list[datetime] = []
            for low, high in runs:
                chunk = _free_between(grid, low, high, footprint, block_starts, block_ends)
                if not chunk:
                    continue
                if not slots or chunk[0] > slots[-1]:
                    slots.extend(chunk)
                else:
                    # Overlapping periods offer some starts twice; the periods are
                    # not merged beforehand because an appointment has to fit
                    # inside a single period, not straddle two.
                    slots = sorted(set(slots).union(chunk))
            if slots and limits is not None and schedule.max_continuous is not None:
                slots = [start for start in slots if limits.stretch_allows(start, duration)]
            if slots and room_plans is not None:
                kept = []
                for start in slots:
                    free = room_free.get(start)
                    if free is None:
                        free = room_free[start] = _some_room_free(start, room_plans)
                    if free:
                        kept.append(start)
                slots = kept
            per_day[day] = slots
        result[schedule.therapist_id] = per_day
    return result


def suitable_rooms(
    rooms: Iterable[RoomSchedule], *, required_features: frozenset[int], seats: int = 1
) -> list[RoomSchedule]:
    """The rooms, in their order, that have every required feature and table enough."""
    return [room for room in rooms if room.capacity >= seats and required_features <= room.features]


def pick_rooms(
    *,
    rooms: Sequence[RoomSchedule],
    start: datetime,
    duration: timedelta,
    required_features: frozenset[int] = frozenset(),
    seats: int = 1,
    preferred_room: int | None = None,
) -> list[int]:
    """The ids of the suitable rooms free over ``[start, start + duration + turnover)``,
    best fit first: the fewest things the session does not need (features it did not
    ask for, and a table it does not use: a single session keeps out of a couples room
    while another will do), then the therapist's preferred room, then room order."""
    start = start.astimezone(UTC)
    free = []
    for position, room in enumerate(suitable_rooms(rooms, required_features=required_features, seats=seats)):
        until = start + duration + room.turnover
        if _meets(room.busy, start, until):
            continue
        unneeded = len(room.features - required_features) + room.capacity - seats
        free.append(((unneeded, room.room_id != preferred_room, position), room.room_id))
    return [room_id for _, room_id in sorted(free)]


def free_pairs(
    slots: Mapping[int, Mapping[date, Sequence[datetime]]],
    seat_choices: tuple[Sequence[int] | None, Sequence[int] | None],
) -> dict[date, list[tuple[datetime, tuple[int, ...]]]]:
    """The starts of a session for two: where two different therapists, one allowed for
    each seat (``None``: anyone in ``slots``), are both free (``slots`` from
    :func:`free_slots` with ``seats=2``, so a room for two is free too).

    Returns ``date -> [(start, ids of the therapists free then for either seat)]`` like
    :func:`merge_any`, with only the starts where a whole pair fits."""
    merged = merge_any(slots)
    first = None if seat_choices[0] is None else frozenset(seat_choices[0])
    second = None if seat_choices[1] is None else frozenset(seat_choices[1])
    result: dict[date, list[tuple[datetime, tuple[int, ...]]]] = {}
    for day, entries in merged.items():
        kept = []
        for start, ids in entries:
            free_first = [i for i in ids if first is None or i in first]
            free_second = [i for i in ids if second is None or i in second]
            if pair_exists(free_first, free_second):
                kept.append((start, tuple(sorted(set(free_first) | set(free_second)))))
        result[day] = kept
    return result


def pair_exists(free_first: Sequence[int], free_second: Sequence[int]) -> bool:
    """Whether two different therapists can take the seats: each seat has someone, and
    they are not one and the same person."""
    if not free_first or not free_second:
        return False
    return len(free_first) > 1 or len(free_second) > 1 or free_first[0] != free_second[0]


def slot_problems(
    *,
    schedule: TherapistSchedule,
    closures: Sequence[tuple[date, date]],
    start: datetime,
    duration: timedelta,
    buffer: timedelta,
    policy: Policy,
    now: datetime,
    tz: ZoneInfo,
    rooms: Sequence[RoomSchedule] | None = None,
    required_features: frozenset[int] = frozenset(),
    seats: int = 1,
) -> list[SlotProblem]:
    """Every rule of :func:`free_slots` that rules ``start`` out for one therapist, in the
    order of :class:`SlotProblem`; empty exactly when :func:`free_slots` would offer it
    (for a range of days that holds ``start``'s local date)."""
    if not _is_aware(start) or not _is_aware(now):
        raise ValueError("slot_problems needs aware datetimes")
    problems: list[SlotProblem] = []
    start = start.astimezone(UTC)
    now_utc = now.astimezone(UTC)
    if start < now_utc + policy.min_notice:
        problems.append(SlotProblem.PAST if start < now_utc else SlotProblem.NOTICE)
    if start > now_utc + policy.horizon:
        problems.append(SlotProblem.HORIZON)
    local = start.astimezone(tz)
    day = local.date()
    if any(first <= day <= last for first, last in closures):
        problems.append(SlotProblem.CLOSED)
    since_midnight = timedelta(
        hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )
    if since_midnight % policy.step:
        problems.append(SlotProblem.OFF_GRID)
    end = start + duration
    if end.astimezone(tz).date() != day:
        problems.append(SlotProblem.OVERNIGHT)
    else:
        spans = [_period_span(day, p, tz) for p in schedule.periods if p.weekday == day.weekday()]
        if not spans:
            problems.append(SlotProblem.DAY_OFF)
        elif not any(first <= start and end <= last for first, last in spans):
            problems.append(SlotProblem.OUTSIDE_HOURS)
    until = end + buffer

    if _meets(schedule.time_off, start, until):
        problems.append(SlotProblem.TIME_OFF)
    if _meets(schedule.busy, start, until):
        problems.append(SlotProblem.TAKEN)
    if schedule.max_daily is not None or schedule.max_continuous is not None:
        limits = _Limits.build(schedule, tz)
        if not limits.day_allows(day, duration):
            problems.append(SlotProblem.DAY_LIMIT)
        if schedule.max_continuous is not None and not limits.stretch_allows(start, duration):
            problems.append(SlotProblem.STRETCH_LIMIT)
    if rooms is not None and not pick_rooms(
        rooms=rooms, start=start, duration=duration, required_features=required_features, seats=seats
    ):
        problems.append(SlotProblem.NO_ROOM)
    return problems


def why_not_free(
    *,
    schedules: Sequence[TherapistSchedule],
    closures: Sequence[tuple[date, date]],
    start: datetime,
    duration: timedelta,
    buffer: timedelta,
    policy: Policy,
    now: datetime,
    tz: ZoneInfo,
    rooms: Sequence[RoomSchedule] | None = None,
    required_features: frozenset[int] = frozenset(),
    seats: int = 1,
) -> SlotProblem | None:
    """The one reason to give for ``start`` not being free with any of ``schedules``
    ("any available therapist"), or None when someone is free then.

    Each therapist's first problem counts, and the one that got furthest through the rules
    wins: a time that was on offer but is booked is TAKEN, even if another therapist does
    not work then. With no schedules at all, nobody works: DAY_OFF (after the rules
    that do not depend on anyone's diary)."""
    firsts: list[SlotProblem] = []
    for schedule in schedules or [TherapistSchedule(0, (), (), ())]:
        problems = slot_problems(
            schedule=schedule,
            closures=closures,
            start=start,
            duration=duration,
            buffer=buffer,
            policy=policy,
            now=now,
            tz=tz,
            rooms=rooms,
            required_features=required_features,
            seats=seats,
        )
        if not problems:
            return None
        firsts.append(problems[0])
    order = list(SlotProblem)
    return max(firsts, key=order.index)


def merge_any(
    slots: Mapping[int, Mapping[date, Sequence[datetime]]],
) -> dict[date, list[tuple[datetime, tuple[int, ...]]]]:
    """Combine per-therapist slots for an "any available therapist" booking.

    Returns ``date -> [(start, therapist_ids), ...]`` with every start offered
    by at least one therapist, sorted by start, each paired with the sorted ids
    of the therapists free at that start. Every date that appears for any
    therapist is present, even when nobody is free that day.
    """
    by_date: dict[date, dict[datetime, list[int]]] = {}
    for therapist_id in sorted(slots):
        for day, starts in slots[therapist_id].items():
            free_at = by_date.setdefault(day, {})
            for start in starts:
                # Iterating therapists in id order keeps each id list sorted
                # without sorting it again.
                free_at.setdefault(start, []).append(therapist_id)
    return {
        day: [(start, tuple(free_at[start])) for start in sorted(free_at)]
        for day, free_at in sorted(by_date.items())
    }


def pick_therapist(
    *, candidates: Sequence[int], bookings_that_day: Mapping[int, int], order: Sequence[int]
) -> int:
    """Choose who gets an "any available therapist" booking, fairly.

    The candidate with the fewest bookings that day wins, so work is spread
    evenly; ties go to the candidate who comes first in ``order`` (a stable
    order such as by name then id), so the choice is predictable rather than
    random. Candidates missing from ``order`` come after those in it, by id;
    a candidate missing from ``bookings_that_day`` has no bookings.
    """
    if not candidates:
        raise ValueError("pick_therapist needs at least one candidate")
    # Built back to front so that an id listed twice keeps its first position.
    position = {therapist_id: index for index, therapist_id in reversed(list(enumerate(order)))}
    unranked = len(position)
    return min(
        candidates,
        key=lambda therapist_id: (
            bookings_that_day.get(therapist_id, 0),
            position.get(therapist_id, unranked),
            therapist_id,
        ),
    )


# Where the day's parts begin on the clock: morning until noon, evening from 17:00.
PARTS_OF_DAY = (("morning", time(0, 0)), ("afternoon", time(12, 0)), ("evening", time(17, 0)))


def group_by_part_of_day(starts: Iterable[datetime], tz: tzinfo) -> dict[str, list[datetime]]:
    """Sort start times into morning, afternoon and evening by the clinic's wall clock.

    Every part is present, empty when nothing is free then, so pages can say so.
    """
    groups: dict[str, list[datetime]] = {name: [] for name, _ in PARTS_OF_DAY}
    for start in sorted(starts):
        wall = start.astimezone(tz).time()
        name = next(name for name, begins in reversed(PARTS_OF_DAY) if wall >= begins)
        groups[name].append(start)
    return groups


def nearest_starts(starts: Iterable[datetime], target: datetime, count: int) -> list[datetime]:
    """The ``count`` starts closest in time to ``target`` (ties to the earlier), in time order.

    Offered when the time a client wanted has just gone.
    """
    ranked = sorted(set(starts), key=lambda start: (abs(start - target), start))
    return sorted(ranked[:count])


# --------------------------------------------------------------------------- helpers


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def _validate(
    *,
    schedules: Sequence[TherapistSchedule],
    closures: Sequence[tuple[date, date]],
    first_day: date,
    days: int,
    duration: timedelta,
    buffer: timedelta,
    policy: Policy,
    now: datetime,
) -> None:
    """Reject arguments that would otherwise give silently wrong slots."""
    if isinstance(first_day, datetime):
        # datetime is a subclass of date; a datetime here is almost always a bug
        # (which zone's date would it mean?).
        raise ValueError("first_day must be a date, not a datetime")
    if not 1 <= days <= _MAX_DAYS:
        raise ValueError(f"days must be between 1 and {_MAX_DAYS}, got {days}")
    if duration <= timedelta(0):
        raise ValueError(f"duration must be positive, got {duration}")
    if buffer < timedelta(0):
        raise ValueError(f"buffer must not be negative, got {buffer}")
    step = policy.step
    if step <= timedelta(0) or step % _MINUTE or _DAY % step:
        raise ValueError(
            f"policy.step must be a positive whole number of minutes that divides a day, got {step}"
        )
    if not _is_aware(now):
        raise ValueError(f"now must be an aware datetime, got {now!r}")
    for first, last in closures:
        if last < first:
            raise ValueError(f"closure ends before it starts: {first} - {last}")
    seen: set[int] = set()
    for schedule in schedules:
        if schedule.therapist_id in seen:
            raise ValueError(f"more than one schedule for therapist {schedule.therapist_id}")
        seen.add(schedule.therapist_id)


def _meets(intervals: Iterable[Interval], start: datetime, until: datetime) -> bool:
    """Whether any non-empty interval overlaps ``[start, until)`` (``start`` in UTC)."""
    for first, last in _utc_pairs(intervals):
        if first != last and first < until and start < last:
            return True
    return False


def _some_room_free(
    start: datetime, room_plans: Sequence[tuple[timedelta, list[datetime], list[datetime]]]
) -> bool:
    """Whether one of the rooms is free for its footprint from ``start``: two comparisons
    per room (the first block ending after ``start`` is the only one that can clash, the
    blocks being sorted and disjoint), stopping at the first free room."""
    for footprint, block_starts, block_ends in room_plans:
        index = bisect_right(block_ends, start)
        if index == len(block_starts) or start + footprint <= block_starts[index]:
            return True
    return False


@dataclass(slots=True)
class _Limits:
    """One therapist's hands-on time, arranged for the limit checks: minutes per local
    day, and the stretches (runs of appointments with gaps under STRETCH_GAP) with
    running totals, so a start is checked with two bisections."""

    max_daily: timedelta | None
    max_continuous: timedelta | None
    per_day: dict[date, timedelta]
    stretch_starts: list[datetime]
    stretch_ends: list[datetime]
    totals: list[timedelta]  # totals[i]: hands-on time in stretches before i

    @classmethod
    def build(cls, schedule: TherapistSchedule, tz: tzinfo) -> _Limits:
        runs = sorted((start, end) for start, end in _utc_pairs(schedule.hands_on) if start != end)
        per_day: dict[date, timedelta] = {}
        starts: list[datetime] = []
        ends: list[datetime] = []
        sums: list[timedelta] = []
        for start, end in runs:
            day = start.astimezone(tz).date()
            per_day[day] = per_day.get(day, timedelta(0)) + (end - start)
            if ends and start - ends[-1] < STRETCH_GAP:
                ends[-1] = max(ends[-1], end)
                sums[-1] += end - start
            else:
                starts.append(start)
                ends.append(end)
                sums.append(end - start)
        totals = [timedelta(0)]
        for minutes in sums:
            totals.append(totals[-1] + minutes)
        return cls(schedule.max_daily, schedule.max_continuous, per_day, starts, ends, totals)

    def day_allows(self, day: date, duration: timedelta) -> bool:
        if self.max_daily is None:
            return True
        return self.per_day.get(day, timedelta(0)) + duration <= self.max_daily

    def stretch_allows(self, start: datetime, duration: timedelta) -> bool:
        if self.max_continuous is None:
            return True
        end = start + duration
        # The stretches this session joins: those ending less than a gap before it
        # starts and starting less than a gap after it ends (a contiguous run, since
        # stretches are at least a gap apart).
        first = bisect_right(self.stretch_ends, start - STRETCH_GAP)
        last = bisect_left(self.stretch_starts, end + STRETCH_GAP)
        joined = self.totals[last] - self.totals[first] if last > first else timedelta(0)
        return duration + joined <= self.max_continuous


def _closed_dates(closures: Iterable[tuple[date, date]], first: date, last: date) -> set[date]:
    """The dates in ``[first, last]`` that fall inside any closure."""
    closed: set[date] = set()
    for closure_first, closure_last in closures:
        # Clip to the requested range so a closure spanning years costs nothing.
        day = max(closure_first, first)
        end = min(closure_last, last)
        while day <= end:
            closed.add(day)
            day += _DAY
    return closed


def _periods_by_weekday(periods: Iterable[WorkingPeriod]) -> list[list[WorkingPeriod]]:
    """Distinct periods per weekday (index 0 = Monday), sorted by start then end."""
    by_weekday: list[set[WorkingPeriod]] = [set() for _ in range(7)]
    for period in periods:
        by_weekday[period.weekday].add(period)
    return [sorted(found, key=lambda p: (p.start, p.end)) for found in by_weekday]


def _merge_blocked(*groups: Iterable[Interval]) -> tuple[list[datetime], list[datetime]]:
    """Sort and merge blocked intervals into disjoint runs, once per therapist.

    Returns parallel lists of run starts and ends, both strictly increasing, so
    the slot search can bisect into them. Touching intervals are merged too
    (``[a, b)`` and ``[b, c)`` block exactly what ``[a, c)`` blocks), and empty
    intervals are dropped because they block nothing.
    """
    present = [group for group in groups if group]
    pairs: Iterable[tuple[datetime, datetime]]
    if len(present) == 1 and isinstance(present[0], Intervals) and _ascending(present[0].starts):
        # A loader's lists, already in order (as the database returned them): no sort.
        pairs = zip(present[0].starts, present[0].ends, strict=True)
    else:
        raw = [pair for group in present for pair in _utc_pairs(group)]
        # Sorting on the start alone is enough for the merge below and avoids a
        # second datetime comparison per tuple comparison.
        raw.sort(key=_first)
        pairs = raw
    starts: list[datetime] = []
    ends: list[datetime] = []
    for start, end in pairs:
        # Only compare after the conversion to UTC (see Interval.__post_init__).
        if start == end:
            continue  # an empty interval blocks nothing
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


_first = itemgetter(0)


def _ascending(values: list[datetime]) -> bool:
    """Whether the values are in order (each at least the one before); one C-level pass."""
    return all(map(le, values, islice(values, 1, None)))


def _utc_pairs(intervals: Iterable[Interval]) -> Iterable[tuple[datetime, datetime]]:
    """``(start, end)`` in UTC for each interval; an :class:`Intervals`' lists as they are."""
    if isinstance(intervals, Intervals):
        return zip(intervals.starts, intervals.ends, strict=True)
    return (_utc_pair(interval.start, interval.end) for interval in intervals)


def _utc_pair(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    # ORM datetimes already carry timezone.utc, so skip the conversion for them. Having
    # every instant on the very same tzinfo object also keeps comparisons on CPython's
    # fast path (no utcoffset() calls).
    if start.tzinfo is not UTC:
        start = start.astimezone(UTC)
    if end.tzinfo is not UTC:
        end = end.astimezone(UTC)
    return start, end


def _offsets(tz: tzinfo, wall: datetime) -> tuple[timedelta, timedelta]:
    """UTC offsets of a naive wall time for ``fold=0`` and ``fold=1``.

    Per PEP 495 the two differ only around a transition: if the ``fold=0``
    offset is the smaller one the wall time was skipped (spring-forward gap),
    if it is the larger one the wall time happens twice (fall-back fold).
    """
    first = tz.utcoffset(wall)
    second = tz.utcoffset(wall.replace(fold=1))
    if first is None or second is None:
        raise ValueError(f"time zone {tz!r} gives no UTC offset for {wall}")
    return first, second


# A day's grid of start instants, and the index ranges of it where a start is allowed.
_DayWindows = tuple[list[datetime], list[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class _GridPlan:
    """The wall-clock slot grid of a day, worked out once per call.

    ``since_midnight[i]`` is the i-th grid time as a distance from local
    midnight and ``folded_walls[i]`` the same wall time with ``fold=1``.
    Building the ``fold=1`` datetimes with ``datetime.combine`` from these
    prepared times is several times faster than ``datetime.replace(fold=1)``
    per grid point.
    """

    since_midnight: list[timedelta]
    folded_walls: list[time]

    @classmethod
    def for_step(cls, step: timedelta) -> _GridPlan:
        since_midnight = [index * step for index in range(_DAY // step)]
        folded_walls = [(datetime.min + delta).time().replace(fold=1) for delta in since_midnight]
        return cls(since_midnight, folded_walls)


def _day_grid(day: date, tz: tzinfo, plan: _GridPlan) -> list[datetime]:
    """Every instant of local date ``day`` whose wall time is on the slot grid, in UTC order.

    Walks the wall-clock grid and converts each wall time to all the instants
    it names: none in a spring-forward gap, two in a fall-back fold, one
    otherwise (see :func:`_offsets`). Each grid time is checked on its own
    rather than assuming a day has at most one, well-placed clock change.
    Sorting afterwards puts the repeated hour in real-time order.
    """
    midnight = datetime.combine(day, time())
    # Adding (distance from midnight - UTC offset) to midnight-as-if-UTC gives
    # the instant directly, without a replace(tzinfo=...) per grid point.
    utc_midnight = datetime.combine(day, time(), tzinfo=UTC)
    utcoffset = tz.utcoffset
    combine = datetime.combine
    grid: list[datetime] = []
    folded = False
    for delta, folded_wall in zip(plan.since_midnight, plan.folded_walls, strict=True):
        first = utcoffset(midnight + delta)
        second = utcoffset(combine(day, folded_wall))
        if first is None or second is None:
            raise ValueError(f"time zone {tz!r} gives no UTC offset on {day}")
        if first == second:
            grid.append(utc_midnight + (delta - first))
        elif first > second:
            # Fall-back: the wall time happens twice, once with each offset.
            grid.append(utc_midnight + (delta - first))
            grid.append(utc_midnight + (delta - second))
            folded = True
        # else: spring-forward; the wall time does not exist today.
    if folded:
        grid.sort()
    return grid


def period_span(day: date, period: WorkingPeriod, tz: tzinfo) -> tuple[datetime, datetime]:
    """The real-time span ``[start, end)`` of a wall-clock period on ``day``, in UTC,
    following the daylight-saving rules in the module docstring."""
    return _period_span(day, period, tz)


def day_span(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The real-time span of the local date ``day``, in UTC: 23, 24 or 25 hours long."""
    return wall_instant(day, time.min, tz), wall_instant(day + _DAY, time.min, tz)


def wall_instant(day: date, wall_time: time, tz: tzinfo, *, as_end: bool = False) -> datetime:
    """The UTC instant the clock shows ``wall_time`` on ``day``, read as a period's start
    or (``as_end``) its end, by the rules in the module docstring."""
    return _wall_to_utc(day, wall_time, tz, as_end=as_end)


def _period_span(day: date, period: WorkingPeriod, tz: tzinfo) -> tuple[datetime, datetime]:
    """The real-time span ``[start, end)`` of a wall-clock period on ``day``, in UTC."""
    return (
        _wall_to_utc(day, period.start, tz, as_end=False),
        _wall_to_utc(day, period.end, tz, as_end=True),
    )


def _wall_to_utc(day: date, wall_time: time, tz: tzinfo, *, as_end: bool) -> datetime:
    """Convert a period edge, a wall time on ``day``, to one UTC instant.

    See the module docstring for the rules. As a start, a repeated wall time
    gives its first occurrence. As an end it gives its second occurrence, so
    a period keeps the part of the repeated hour whose wall times lie before
    its end, unless there is no such part (the end is the very first wall
    time of the repeat). A skipped wall time gives the instant of the jump
    itself, which is both where the gap begins and where it ends; that way a
    period starting or ending inside the gap is clamped instead of stretched.
    """
    wall = datetime.combine(day, wall_time)
    first, second = _offsets(tz, wall)
    if first == second:
        return (wall - first).replace(tzinfo=UTC)
    earlier = (wall - first).replace(tzinfo=UTC)
    later = (wall - second).replace(tzinfo=UTC)
    if first > second:
        if not as_end:
            return earlier
        # If the second occurrence is the very instant the clocks went back,
        # nothing of the repeat shows a time before the end: stop at the first.
        just_before = (later - _MICROSECOND).astimezone(tz).utcoffset()
        return later if just_before == second else earlier
    # Spring-forward gap: reading the wall time with the later offset lands
    # before the jump and with the earlier offset after it.
    return _transition_between(later, earlier, tz)


def _transition_between(before: datetime, after: datetime, tz: tzinfo) -> datetime:
    """The first instant in ``(before, after]`` whose UTC offset is that of ``after``.

    zoneinfo does not expose its transition table, so bisect on the offset
    (to the microsecond: at most ~32 steps, and only for periods whose ends
    fall into a skipped hour).
    """
    target = after.astimezone(tz).utcoffset()
    low, high = 0, (after - before) // _MICROSECOND
    while high - low > 1:
        middle = (low + high) // 2
        if (before + middle * _MICROSECOND).astimezone(tz).utcoffset() == target:
            high = middle
        else:
            low = middle
    return before + high * _MICROSECOND


def _free_between(
    grid: list[datetime],
    low: int,
    high: int,
    footprint: timedelta,
    block_starts: list[datetime],
    block_ends: list[datetime],
) -> list[datetime]:
    """Grid instants ``s`` in ``grid[low:high]`` with ``[s, s + footprint)`` clear of every block.

    One left-to-right pass over the blocks that meet the window: between two
    blocks the free starts form a contiguous run of the grid, which is copied
    as a slice, so the cost is O(blocks in the window + slots returned) plus a
    few bisections, never slots x blocks.
    """
    free: list[datetime] = []
    count = len(block_starts)
    # Invariant at the top of the loop: every block before `block` ends at or
    # before grid[low], so it cannot clash with grid[low] or any later start.
    block = bisect_right(block_ends, grid[low])
    while low < high:
        if block == count:
            free.extend(grid[low:high])
            break
        # Blocks are disjoint and sorted, so starts that finish (with cleanup)
        # by the time this block begins are clear of it and of all later ones.
        clear = bisect_right(grid, block_starts[block] - footprint, low, high)
        free.extend(grid[low:clear])
        if clear == high:
            break
        # The rest clash with this block until it ends; resume after it.
        low = bisect_left(grid, block_ends[block], clear, high)
        if low == high:
            break
        block = bisect_right(block_ends, grid[low], block + 1)
    return free
