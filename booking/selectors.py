"""Reads for booking: everything the availability engine needs, in a fixed number of queries."""

from __future__ import annotations

import gc
import json
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import compress
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BigIntegerField,
    CharField,
    DateField,
    DateTimeField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import formats, timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from . import availability as engine
from . import intake as intake_rules
from . import reports
from .choices import OCCUPYING_STATUSES, AppointmentStatus, RuleOutcome, TherapistGender
from .models import (
    Appointment,
    BookingPolicy,
    CalendarFeed,
    Client,
    ClientChange,
    Closure,
    HealthRule,
    Room,
    RoomFeature,
    Technique,
    TechniqueLength,
    Therapist,
    TimeOff,
    WorkingHours,
    calendar_feed_hash,
    email_key,
    manage_signer,
)
from .prepared_sql import IExactSlot, Slot, SlotList, Statement


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def working_periods(therapist: Therapist) -> list[engine.WorkingPeriod]:
    """The therapist's weekly hours as the engine's values (from prefetched rows when
    ``working_hours`` was prefetched)."""
    return [engine.WorkingPeriod(h.weekday, h.start, h.end) for h in therapist.working_hours.all()]


def technique_list_active() -> QuerySet[Technique]:
    """The techniques clients can book online (see ``TechniqueQuerySet.bookable``)."""
    return Technique.objects.bookable().prefetch_related("lengths")


@lru_cache(maxsize=4)
def _bookable_lengths_statement(vendor: str) -> Statement:
    """A bookable technique's lengths, each with its technique, by slug. Compiled once
    (see booking/prepared_sql.py): building this query costs the ORM about 5 ms, and
    every step of the booking flow asks it (the database answers in a tenth of a
    millisecond)."""
    return Statement.of(
        TechniqueLength.objects.filter(
            technique__in=Technique.objects.bookable().filter(slug=Slot("slug", CharField()))
        )
        .select_related("technique")
        .order_by("duration_minutes", "pk")
    )


_LENGTH_FIELDS = [f.attname for f in TechniqueLength._meta.concrete_fields]
_TECHNIQUE_FIELDS = [f.attname for f in Technique._meta.concrete_fields]


def technique_for_booking(slug: str) -> Technique | None:
    """One bookable technique by slug with its lengths, as :func:`technique_list_active`
    gives it, in one query instead of two: the lengths joined to their technique, and put
    where ``prefetch_related("lengths")`` puts them (a bookable technique has a length)."""
    rows = _bookable_lengths_statement(connection.vendor).run({"slug": slug}, connection)
    if not rows:
        return None
    split = len(_LENGTH_FIELDS)
    # select_related's columns: the length's own, then its technique's.
    technique = Technique.from_db(connection.alias, _TECHNIQUE_FIELDS, rows[0][split:])
    lengths = []
    for row in rows:
        length = TechniqueLength.from_db(connection.alias, _LENGTH_FIELDS, row[:split])
        length.technique = technique  # one object, as the prefetch would share
        lengths.append(length)
    cached = technique.lengths.all()
    cached._result_cache = lengths
    cached._prefetch_done = True
    technique._prefetched_objects_cache = {"lengths": cached}
    return technique


# No appointment, with its cleanup or the room's turnover, lasts a day (none runs
# overnight): the lower bound on `start` that keeps the appointments query off the
# clinic's history on SQLite.
LONGEST_APPOINTMENT = timedelta(days=1)


def gender_wanted(gender: str | None) -> str | None:
    """The therapist gender a client asked for ("female" or "male"), or None for no
    preference (also for TherapistPreference's "none" and "named")."""
    return gender if gender in (TherapistGender.FEMALE, TherapistGender.MALE) else None


@dataclass
class AvailabilityData:
    """What the engine needs for some therapists (and the rooms) over some days, loaded in
    one go."""

    therapists: list[Therapist]
    schedules: list[engine.TherapistSchedule]
    closures: list[tuple[date, date]]
    closure_reasons: list[tuple[date, date, str]]
    policy: BookingPolicy
    zone: ZoneInfo
    rooms: list[Room] = field(default_factory=list)  # active rooms, in room order
    # None when the clinic uses no rooms (no active room): bookings then take none.
    room_schedules: list[engine.RoomSchedule] | None = None
    required_features: frozenset[int] = frozenset()  # the technique's needs (room feature ids)
    _bookings_per_day: Counter | None = field(default=None, repr=False)

    @property
    def rooms_in_use(self) -> bool:
        return self.room_schedules is not None

    @property
    def bookings_per_day(self) -> Counter:
        """(therapist id, local date) -> occupying appointments starting then: counted when
        first asked for (booking "any available" fairly), not by every lookup."""
        if self._bookings_per_day is None:
            counts: Counter = Counter()
            local_dates: dict[datetime, date] = {}  # starts repeat across therapists
            for schedule in self.schedules:
                hands_on = schedule.hands_on
                starts = (
                    hands_on.starts if isinstance(hands_on, engine.Intervals) else [i.start for i in hands_on]
                )
                for start in starts:
                    local_date = local_dates.get(start)
                    if local_date is None:
                        local_date = local_dates[start] = start.astimezone(self.zone).date()
                    counts[schedule.therapist_id, local_date] += 1
            self._bookings_per_day = counts
        return self._bookings_per_day

    def engine_policy(self) -> engine.Policy:
        return engine.Policy(
            min_notice=timedelta(minutes=self.policy.min_notice_minutes),
            horizon=timedelta(days=self.policy.horizon_days),
            step=timedelta(minutes=self.policy.slot_step_minutes),
        )


def _meeting_window(
    appointments: QuerySet,
    window_start: datetime | Slot,
    window_end: datetime | Slot,
    *,
    earliest_start: datetime | Slot,
    therapists: Q,
    rooms: bool,
) -> QuerySet:
    """The occupying appointments of ``therapists`` whose time (with cleanup) meets the
    window and, when ``rooms``, every session in a room whose room time (with turnover)
    meets it, in a form each database answers from an index rather than from the history.

    PostgreSQL: each part is a range overlap that one of the exclusion constraints' GiST
    indexes holds (the same expression and partial-index condition: the occupying
    statuses, and a room), so the plan scans the window in one or two indexes. One range
    condition around "these therapists or any room" read every past appointment of the
    therapists and every past session in a room from their btree indexes (issue 13).

    SQLite: the start bounded from below (``earliest_start``: the window's start less the
    longest appointment) and above for both parts, so the plan searches the start index
    between the two bounds (or the (therapist, start) index, for therapists only)."""
    meeting = therapists
    in_a_room = Q(room_id__isnull=False)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.fields import DateTimeRangeField

        def span(*bounds) -> Func:
            return Func(*bounds, Value("[)"), function="TSTZRANGE", output_field=DateTimeRangeField())

        window = span(window_start, window_end)
        meeting &= Q(occupied__overlap=window)
        if rooms:
            meeting |= in_a_room & Q(room_taken__overlap=window)
        return appointments.alias(
            occupied=span(F("start"), F("occupied_until")), room_taken=span(F("start"), F("room_until"))
        ).filter(meeting)
    meeting &= Q(occupied_until__gt=window_start)
    if rooms:
        meeting |= in_a_room & Q(room_until__gt=window_start)
    return appointments.filter(meeting, start__gte=earliest_start, start__lt=window_end)


class UtcText(Func):
    """A datetime column as naive UTC text, "2026-11-23 10:00:00" (SQLite's own form, as
    Django writes it; on PostgreSQL the timestamp at UTC as text), for reads of many rows
    whose times :func:`_utc_column` parses once per distinct value (starts repeat across
    therapists on the slot grid). Each driver's own conversion per value costs more than
    everything else about a row: the sqlite3 module's converter (and Django's after it),
    psycopg2's call of its time zone factory."""

    template = "CAST(%(expressions)s AS text)"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="((%(expressions)s) AT TIME ZONE 'UTC')::text", **extra_context
        )


def appointments_meeting(
    *,
    therapist_ids: Sequence[int] | SlotList,
    rooms: bool,
    window_start: datetime | Slot,
    window_end: datetime | Slot,
    excluded: Iterable[int] | SlotList = (),
    earliest_start: datetime | Slot | None = None,
) -> QuerySet:
    """The occupying appointments that meet the window: the therapists' and, when
    ``rooms``, every session in a room (one query for both), unordered. The values may be
    :class:`Slot` s (see :func:`_schedule_statement`, which reads them along with the
    schedule); ``earliest_start`` is then one too."""
    if earliest_start is None:
        earliest_start = window_start - LONGEST_APPOINTMENT
    appointments = _meeting_window(
        Appointment.objects.occupying(),
        window_start,
        window_end,
        earliest_start=earliest_start,
        therapists=Q(therapist_id__in=therapist_ids),
        rooms=rooms,
    )
    if not isinstance(excluded, SlotList):  # (a SlotList is never empty here)
        excluded = list(excluded)
    if excluded:
        appointments = appointments.exclude(pk__in=excluded)
    # Unordered: the engine sorts what it needs (nothing, when the rows come in start
    # order, as they do from the start index), and a sort here would cost the database.
    return appointments.order_by()


# The load's statements, compiled once per process and shape (see booking/prepared_sql.py):
# the ORM's building and compiling of them had cost several times the database's own
# work for one therapist and one day (issue 13). Each builder's arguments are the whole
# shape of its SQL; ``vendor`` keys the cache by database (the SQL is each one's own).
_ID = BigIntegerField()  # as ids are (DEFAULT_AUTO_FIELD)
_MOMENT = DateTimeField()
_DAY = DateField()
_SHAPES = 128  # per statement: the numbers of therapists asked about vary little


_KIND = itemgetter(0)  # of a row of _schedule_statement


class _ParsedUtc(dict):
    """UTC text (see :class:`UtcText`) -> aware UTC datetime, each distinct value parsed on
    its first lookup only."""

    def __missing__(self, text: str) -> datetime:
        found = self[text] = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return found


# The load's parsed instants, kept for the process: lookups ask about the same days again
# and again, so nearly every instant read was parsed by an earlier one (parsing had been
# the largest part of the load after the fetch). Bounded: emptied when it passes the limit,
# well above what a month for 200 therapists holds (about 5,000 distinct values).
_PARSED_LIMIT = 50_000
_parsed_instants = _ParsedUtc({None: None})


def _instants() -> _ParsedUtc:
    if len(_parsed_instants) > _PARSED_LIMIT:
        _parsed_instants.clear()
        _parsed_instants[None] = None
    return _parsed_instants


def _utc_column(values: Sequence[str | None], parsed: _ParsedUtc) -> list[datetime | None]:
    """A column of :class:`UtcText` values as aware UTC datetimes (None stays None), in one
    C-level pass."""
    return list(map(parsed.__getitem__, values))


class _HandsOn(engine.Intervals):
    """A therapist's hands-on time as the load reads it: the starts as instants, the ends
    as UTC text (see :class:`UtcText`) parsed when ``ends`` is first read. Only the limits
    (max daily, max continuous) read them, and few therapists have one: parsing every
    end up front had been a fifth of the load beyond the fetch for 50 therapists over 30
    days (issue 13). Reads as any :class:`engine.Intervals` does."""

    __slots__ = ("_end_texts", "_parsed", "_ends")

    def __init__(self, starts: list[datetime], end_texts: Sequence[str], parsed: _ParsedUtc) -> None:
        # Trusted rows (each end after its start, as many ends as starts): not checked.
        self.starts = starts
        self._end_texts: Sequence[str] | None = end_texts
        self._parsed = parsed
        self._ends: list[datetime] | None = None

    @property  # type: ignore[override]
    def ends(self) -> list[datetime]:
        if self._ends is None:
            self._ends = _utc_column(self._end_texts, self._parsed)
            self._end_texts = None
        return self._ends

    @ends.setter
    def ends(self, value: list[datetime]) -> None:
        self._ends, self._end_texts = value, None


def _wall_time(value: time | str) -> time:
    """A TimeField's value, from SQLite's text ("09:00:00") when read as text."""
    return value if isinstance(value, time) else time.fromisoformat(value)


ROOM_FIELDS = ["id", "name", "capacity", "turnover_minutes", "active", "display_order"]
# Stands for a required feature no active room has: no room can be suitable then.
MISSING_FEATURE = -1


@lru_cache(maxsize=_SHAPES)
def _rooms_statement(vendor: str) -> Statement:
    """Active rooms (in room order) with their feature ids, and the technique's required
    feature ids, in one query: a row per (room, feature), each saying whether the
    technique needs that feature and whether it needs one no active room has."""
    needs = Technique.required_features.through.objects.filter(technique_id=Slot("technique", _ID))
    has = Room.features.through.objects.filter(room__active=True)
    return Statement.of(
        Room.objects.active().values_list(
            *ROOM_FIELDS,
            "features",
            Exists(needs.filter(roomfeature_id=OuterRef("features"))),
            Exists(needs.exclude(roomfeature_id__in=has.values("roomfeature_id"))),
        )
    )


def _rooms_load(
    technique: Technique, db: BaseDatabaseWrapper
) -> tuple[list[Room], dict[int, set[int]], frozenset[int]]:
    """Active rooms (in room order) with their feature ids, and the technique's required
    feature ids (see :func:`_rooms_statement`)."""
    rooms: dict[int, Room] = {}
    features: dict[int, set[int]] = {}
    required: set[int] = set()
    for *values, feature_id, needed, needs_missing in _rooms_statement(db.vendor).run(
        {"technique": technique.pk}, db
    ):
        room_id = values[0]
        if room_id not in rooms:
            # Trusted rows: model instances without the per-row ORM work of a queryset.
            rooms[room_id] = Room.from_db(db.alias, ROOM_FIELDS, values)
            features[room_id] = set()
        if feature_id is not None:
            features[room_id].add(feature_id)
            if needed:
                required.add(feature_id)
        if needs_missing:
            required.add(MISSING_FEATURE)
    return list(rooms.values()), features, frozenset(required)


# The therapists query's columns: the model's own (what Therapist.from_db takes), then
# whether the clinic uses rooms, then the booking policy's values.
THERAPIST_FIELDS = [field.attname for field in Therapist._meta.concrete_fields]
_POLICY_PREFIX = "policy_"
_POLICY_FIELDS = ("min_notice_minutes", "horizon_days", "slot_step_minutes", "cancellation_cutoff_hours")


@lru_cache(maxsize=_SHAPES)
def _therapists_statement(vendor: str, chosen: str, count: int, lock: bool) -> Statement | None:
    """The active therapists offering the technique, in name order: all of them
    (``chosen="all"``), ``"one"``, ``"only"`` ``count`` ids, or those of a ``"gender"``
    plus ``count`` ids; None when nobody can match (no id to ask about). Whether the
    clinic uses rooms and the booking policy ride along (each evaluated once, not per
    row): one round trip fewer, under the booking's lock too.

    ``lock``: the rows locked in id order, in a subquery (the locks are taken in its
    order, the rows read in name order): the order every booking takes them in, with no
    statement of its own. Compiled inside a transaction (Django refuses FOR UPDATE
    outside one), as the locking bookings are."""
    therapists = Therapist.objects.active().offering(Slot("technique", _ID))
    if chosen == "one":
        therapists = therapists.filter(pk=Slot("therapist", _ID))
    elif chosen == "only":
        therapists = therapists.filter(pk__in=SlotList("ids", _ID, count))
    elif chosen == "gender":
        therapists = therapists.filter(
            Q(gender=Slot("gender", CharField())) | Q(pk__in=SlotList("also", _ID, count))
        )
    if lock:
        therapists = Therapist.objects.filter(
            pk__in=therapists.order_by("pk").select_for_update(of=("self",)).values("pk")
        )
    policy_row = BookingPolicy.objects.filter(pk=1)
    try:
        return Statement.of(
            therapists.annotate(
                rooms_in_use=Exists(Room.objects.active()),
                **{
                    f"{_POLICY_PREFIX}{name}": Subquery(policy_row.values(name)[:1])
                    for name in _POLICY_FIELDS
                },
            ).order_by("name", "id")
        )
    except EmptyResultSet:  # e.g. only_therapist_ids=[]: no query, as the ORM does
        return None


def _policy_from(values: Sequence) -> BookingPolicy | None:
    """The booking policy read along with the therapists (see _therapists_statement);
    None when no policy row is saved yet."""
    if any(value is None for value in values):
        return None
    return BookingPolicy(pk=1, **dict(zip(_POLICY_FIELDS, values, strict=True)))


_HOURS, _TIME_OFF, _CLOSURE, _APPOINTMENT = 1, 2, 3, 4


def _appointment_columns(schedule: list[Sequence]) -> tuple[list[tuple], int]:
    """The appointment rows of a :func:`_schedule_statement` result as its seven columns,
    grouped by therapist (each one's rows in the database's order: start order, from the
    index), and where they begin in ``schedule``, which is left with the other rows in
    front of them. Column by column, each pass in C: the appointments are nearly all the
    rows, so the splitting into kinds, the transposing and the grouping had been a fifth
    of the load beyond the fetch for 50 therapists over 30 days (issue 13)."""
    if not schedule:
        return [()] * 7, 0
    columns = list(zip(*schedule, strict=True))
    kinds = columns[0]
    count = kinds.count(_APPOINTMENT)
    first = len(kinds) - count
    if count and kinds.index(_APPOINTMENT) != first:
        # Both databases return a UNION ALL's parts in their order, appointments last,
        # but neither promises it: otherwise the kinds in order (a stable sort).
        schedule.sort(key=_KIND)
        columns = list(zip(*schedule, strict=True))
    columns = [column[first:] for column in columns]
    therapist_col = columns[1]
    ordered = sorted(therapist_col)
    if ordered != list(therapist_col):
        # The database's order within each therapist kept (a stable sort).
        order = sorted(range(count), key=therapist_col.__getitem__)
        columns = [tuple(map(column.__getitem__, order)) for column in columns]
    return columns, first


@lru_cache(maxsize=_SHAPES)
def _schedule_statement(vendor: str, therapists: int, rooms: bool, excluded: int) -> Statement:
    """The therapists' working hours, their time off meeting the window, the closures
    meeting the days and the occupying appointments meeting the window (those of
    :func:`appointments_meeting`, less ``excluded`` ids), as one UNION ALL query (one
    round trip instead of four, which matters most under the booking's lock): rows (kind,
    therapist id, weekday or room id, first, last, reason or occupied until, room until),
    every value in a column of one type on both databases, so times, UTC instants (see
    :class:`UtcText`) and days come as text, parsed by the caller.

    Time off is bounded by its end from the (therapist, end) index, so past time off is
    never read (it has no longest length to bound its start with, as appointments do);
    appointments as :func:`_meeting_window` bounds them."""
    text = TextField()
    # Typed NULLs: PostgreSQL takes a bare NULL in a subquery for text.
    none_int = Cast(Value(None), IntegerField())
    none_text = Cast(Value(None), text)
    ids = SlotList("ids", _ID, therapists)
    parts = [
        WorkingHours.objects.filter(therapist_id__in=ids).values_list(
            Value(_HOURS),
            "therapist_id",
            "weekday",
            Cast("start", text),
            Cast("end", text),
            none_text,
            none_text,
        ),
        TimeOff.objects.filter(
            therapist_id__in=ids, end__gt=Slot("window_start", _MOMENT), start__lt=Slot("window_end", _MOMENT)
        ).values_list(
            Value(_TIME_OFF), "therapist_id", none_int, UtcText("start"), UtcText("end"), none_text, none_text
        ),
        Closure.objects.filter(
            first_day__lt=Slot("days_end", _DAY), last_day__gte=Slot("first_day", _DAY)
        ).values_list(
            Value(_CLOSURE),
            none_int,
            none_int,
            Cast("first_day", text),
            Cast("last_day", text),
            "reason",
            none_text,
        ),
        appointments_meeting(
            therapist_ids=ids,
            rooms=rooms,
            window_start=Slot("window_start", _MOMENT),
            window_end=Slot("window_end", _MOMENT),
            earliest_start=Slot("earliest_start", _MOMENT),
            excluded=SlotList("excluded", _ID, excluded) if excluded else (),
        ).values_list(
            Value(_APPOINTMENT),
            "therapist_id",
            "room_id",
            UtcText("start"),
            UtcText("end"),
            UtcText("occupied_until"),
            UtcText("room_until"),
        ),
    ]
    statements: list[str] = []
    params: list = []
    for part in parts:
        try:
            found = Statement.of(part.order_by())
        except EmptyResultSet:  # no therapist to ask about: leave their rows out
            continue
        # A subquery each: SQLite allows no parentheses around a compound's members.
        statements.append(f"SELECT * FROM ({found.sql}) AS part{len(statements)}")
        params.extend(found.params)
    return Statement(sql=" UNION ALL ".join(statements), params=tuple(params))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The garbage collector paused while a load (availability; a reports range) makes its
    objects (re-enabled after, if it was on). Every object a load makes is kept until the
    load ends or freed by its reference count: a collection can find no garbage, yet the
    tens of thousands of row tuples fetched set collections off (several young ones, and
    now and then a full one over the whole process's objects), which had been a third of
    the load for all therapists over 30 days (issue 13) and 30 to 80 ms of a year's reports
    page. Paused, those tuples are freed before any collection sees them. Process-wide, so
    another thread's allocations meanwhile wait for the next collection too: a delay of
    milliseconds, never a leak."""
    if not gc.isenabled():  # paused by a caller already
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@_gc_paused()
def availability_load(
    *,
    technique: Technique,
    first_day: date,
    days: int,
    therapist: Therapist | None = None,
    exclude_appointment_id: int | None = None,
    exclude_appointment_ids: Iterable[int] = (),
    gender: str | None = None,
    also_therapist_ids: Iterable[int] = (),
    only_therapist_ids: Iterable[int] | None = None,
    room: Room | None = None,
    lock: bool = False,
) -> AvailabilityData:
    """Load therapists, hours, time off, rooms, appointments, closures and policy: three
    queries whatever the number of therapists, rooms, days or appointments; two when the
    clinic uses no rooms; one more (the policy's) when no therapist is loaded or no policy
    was ever saved (and, with ``lock`` and rooms, the rooms' lock). Each statement is
    compiled once per process and shape (see :mod:`booking.prepared_sql`), not per call.

    ``therapist=None`` means every active therapist who offers the technique (of the
    ``gender`` asked for, if any, plus ``also_therapist_ids``: a named seat of a session
    for two; or just ``only_therapist_ids``). ``exclude_appointment_id(s)`` leave
    appointments out (those being moved).
    ``room`` restricts the rooms to that one (staff's choice).
    ``lock`` (inside a booking's transaction, on a database with row locks) locks the
    therapists loaded, and the rooms when the clinic uses them, in the booking's one
    order (see services.appointments._lock_resources): no statement of its own.
    """
    db = connections[DEFAULT_DB_ALIAS]  # looked up once (see Statement.run)
    vendor = db.vendor
    zone = clinic_zone()
    # A day of margin either side: a local day can start or end on the neighbouring UTC day.
    window_start = datetime.combine(first_day - timedelta(days=1), time.min, tzinfo=zone)
    window_end = datetime.combine(first_day + timedelta(days=days + 1), time.min, tzinfo=zone)
    excluded = [*{*exclude_appointment_ids, *([exclude_appointment_id] if exclude_appointment_id else [])}]

    chosen, asked = "all", {"technique": technique.pk}
    if therapist is not None:
        chosen, asked["therapist"] = "one", therapist.pk
    elif only_therapist_ids is not None:
        chosen, asked["ids"] = "only", list(only_therapist_ids)
    elif wanted := gender_wanted(gender):
        chosen, asked["gender"], asked["also"] = "gender", wanted, list(also_therapist_ids)
    lock = lock and db.features.has_select_for_update
    statement = _therapists_statement(vendor, chosen, len(asked.get("ids", asked.get("also", ()))), lock)
    rows = statement.run(asked, db) if statement is not None else []  # query 1
    own = len(THERAPIST_FIELDS)
    policy_values = rows[0][own + 1 :] if rows else None
    therapists = [Therapist.from_db(db.alias, THERAPIST_FIELDS, row[:own]) for row in rows]
    ids = [t.pk for t in therapists]
    # Hours, time off and closures in one query (see _schedule_statement), as plain values.
    # Therapists with the same hours share one tuple of periods (the engine arranges each
    # distinct one once), and each distinct period is made once, without the checks: the
    # database holds valid rows.
    hours: dict[int, list[tuple[int, str, str]]] = {pk: [] for pk in ids}
    time_off_rows: list[tuple[int, str, str]] = []
    closure_rows: list[tuple[date, date, str]] = []
    # With no therapist loaded nothing is free anyway, rooms or not.
    rooms_in_use = room is not None or any(row[own] for row in rows[:1])
    if lock and rooms_in_use:
        # After the therapists, as every booking takes them, and before any diary is read.
        lockable = Room.objects.filter(pk=room.pk) if room else rooms_suitable(technique=technique)
        list(lockable.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))
    schedule = _schedule_statement(vendor, len(ids), rooms_in_use, len(excluded)).run(
        {
            "ids": ids,
            "window_start": window_start,
            "window_end": window_end,
            "earliest_start": window_start - LONGEST_APPOINTMENT,
            "excluded": excluded,
            "first_day": first_day,
            "days_end": first_day + timedelta(days=days),
        },
        db,
    )  # query 2
    # The rows column by column (one pass in C); the appointments are the tail of them
    # (see _appointment_columns), the few other rows are read one by one.
    columns, first_appointment = _appointment_columns(schedule)
    for kind, therapist_id, weekday, first, last, reason, _unused in schedule[:first_appointment]:
        if kind == _HOURS:
            hours[therapist_id].append((weekday, first, last))
        elif kind == _TIME_OFF:
            time_off_rows.append((therapist_id, first, last))
        else:
            closure_rows.append((date.fromisoformat(first), date.fromisoformat(last), reason))
    closure_rows.sort()
    shared: dict[tuple, tuple[engine.WorkingPeriod, ...]] = {}
    periods: dict[int, tuple[engine.WorkingPeriod, ...]] = {}
    for therapist_id, own_hours in hours.items():
        own_hours.sort()
        key = tuple(own_hours)
        found = shared.get(key)
        if found is None:
            found = shared[key] = tuple(
                engine.WorkingPeriod(weekday, _wall_time(start), _wall_time(end))
                for weekday, start, end in own_hours
            )
        periods[therapist_id] = found
    unchecked = engine.Interval.unchecked
    time_off: dict[int, list[engine.Interval]] = {pk: [] for pk in ids}
    parsed_off = _instants()
    for therapist_id, start, end in time_off_rows:
        time_off[therapist_id].append(unchecked(parsed_off[start], parsed_off[end]))

    rooms: list[Room] = []
    room_features: dict[int, set[int]] = {}
    required: frozenset[int] = frozenset()
    if rooms_in_use:
        rooms, room_features, required = _rooms_load(technique, db)  # query 3, only when rooms are in use
    if room is not None:
        rooms = [r for r in rooms if r.pk == room.pk]

    # The appointments (read with the schedule, above) into per-therapist (and per-room)
    # lists of instants, column by column (each pass in C): no object and no Python-level
    # work per row (see engine.Intervals). A therapist's busy and hands-on time share the
    # starts; the hands-on ends are parsed when read (see _HandsOn).
    _kinds, therapist_col, room_col, start_col, end_col, until_col, room_until_col = columns
    parsed = _instants()
    starts, untils = _utc_column(start_col, parsed), _utc_column(until_col, parsed)
    busy: dict[int, engine.Intervals] = {}
    hands_on: dict[int, engine.Intervals] = {}
    for pk in ids:
        low = bisect_left(therapist_col, pk)
        high = bisect_right(therapist_col, pk, low)
        own_starts = starts[low:high]
        busy[pk] = engine.Intervals(own_starts, untils[low:high])
        hands_on[pk] = _HandsOn(own_starts, end_col[low:high], parsed)
    room_busy: dict[int, engine.Intervals] = {r.pk: engine.Intervals() for r in rooms}
    if room_busy:
        room_untils = _utc_column(room_until_col, parsed)
        for index in compress(range(len(room_col)), room_col):  # the rows with a room
            found = room_busy.get(room_col[index])
            if found is not None:
                found.starts.append(starts[index])
                found.ends.append(room_untils[index])
    policy = _policy_from(policy_values) if policy_values else None
    if policy is None:  # no therapist, or no policy saved yet: as ever
        policy = BookingPolicy.load()  # only then: query 3 (4 with rooms)
    schedules = [
        engine.TherapistSchedule(
            therapist_id=t.pk,
            periods=periods[t.pk],
            # The engine sorts (if the rows were not in order) and merges blocked time
            # once per therapist.
            time_off=time_off[t.pk],
            busy=busy[t.pk],
            hands_on=hands_on[t.pk],
            max_daily=timedelta(minutes=t.max_daily_minutes) if t.max_daily_minutes else None,
            max_continuous=timedelta(minutes=t.max_continuous_minutes) if t.max_continuous_minutes else None,
            preferred_room=t.preferred_room_id,
        )
        for t in therapists
    ]
    room_schedules = (
        [
            engine.RoomSchedule(
                room_id=r.pk,
                capacity=r.capacity,
                turnover=timedelta(minutes=r.turnover_minutes),
                features=frozenset(room_features.get(r.pk, ())),
                busy=room_busy[r.pk],
            )
            for r in rooms
        ]
        if rooms_in_use
        else None
    )
    return AvailabilityData(
        therapists=therapists,
        schedules=schedules,
        closures=[(first, last) for first, last, _ in closure_rows],
        closure_reasons=closure_rows,
        policy=policy,
        zone=zone,
        rooms=rooms,
        room_schedules=room_schedules,
        required_features=required,
    )


# Staff may book any 5-minute mark, at any notice, as far ahead as they like.
STAFF_POLICY = engine.Policy(
    min_notice=timedelta(days=-3650), horizon=timedelta(days=3650), step=timedelta(minutes=5)
)
# "Book outside working hours": every therapist works the whole of every day.
WHOLE_DAY = [engine.WorkingPeriod(weekday, time.min, time.max) for weekday in range(7)]


@dataclass
class FreeStarts:
    """Free start times for some therapists over some days (room- and limit-aware), and why
    any other time is not free. ``party_size=2``: a session for two, where
    ``seat_choices`` are the therapist ids allowed for seat 1 and seat 2."""

    data: AvailabilityData
    by_therapist: dict[int, dict[date, list[datetime]]]  # therapist id -> local date -> starts (UTC)
    policy: engine.Policy
    duration: timedelta
    buffer: timedelta
    now: datetime
    party_size: int = 1
    seat_choices: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    _merged: dict[date, list[tuple[datetime, tuple[int, ...]]]] | None = field(default=None, repr=False)
    _free_sets: dict[tuple[int, date], frozenset[datetime]] = field(default_factory=dict, repr=False)

    @property
    def rooms_in_use(self) -> bool:
        return self.data.rooms_in_use

    def merged(self) -> dict[date, list[tuple[datetime, tuple[int, ...]]]]:
        """For "any available therapist": each start with the ids of those free then. For a
        session for two, only the starts where a whole pair (and a room for two) fits,
        with the ids of everyone free then for either seat."""
        if self._merged is None:
            if self.party_size == 2:
                self._merged = engine.free_pairs(self.by_therapist, self.seat_choices or (None, None))
            else:
                self._merged = engine.merge_any(self.by_therapist)
        return self._merged

    def _free(self, therapist_id: int, day: date) -> frozenset[datetime]:
        key = (therapist_id, day)
        found = self._free_sets.get(key)
        if found is None:
            found = self._free_sets[key] = frozenset(self.by_therapist.get(therapist_id, {}).get(day, ()))
        return found

    def therapists_free_at(self, start: datetime) -> list[Therapist]:
        """Who can take a booking at ``start`` (for a session for two: who can take either
        seat, in a room for two), in name order."""
        day = start.astimezone(self.data.zone).date()
        start_utc = start.astimezone(UTC)
        return [t for t in self.data.therapists if start_utc in self._free(t.pk, day)]

    def rooms_free_at(self, start: datetime, therapist_id: int | None = None) -> list[Room]:
        """The suitable rooms free at ``start`` (with their turnover), best fit first
        (``therapist_id``'s preferred room counts); [] when the clinic uses no rooms."""
        if self.data.room_schedules is None:
            return []
        preferred = next(
            (s.preferred_room for s in self.data.schedules if s.therapist_id == therapist_id), None
        )
        ids = engine.pick_rooms(
            rooms=self.data.room_schedules,
            start=start,
            duration=self.duration,
            required_features=self.data.required_features,
            seats=self.party_size,
            preferred_room=preferred,
        )
        by_id = {r.pk: r for r in self.data.rooms}
        return [by_id[room_id] for room_id in ids]

    def pairs_free_at(self, start: datetime) -> list[tuple[Therapist, Therapist]]:
        """The (seat 1, seat 2) pairs of different therapists free at ``start`` in a room
        for two, fairest first: the fewest bookings between them that day, then name order."""
        if self.party_size != 2:
            return []
        free = self.therapists_free_at(start)
        first_ids, second_ids = self.seat_choices or ((), ())
        day = start.astimezone(self.data.zone).date()
        position = {t.pk: index for index, t in enumerate(self.data.therapists)}
        load = self.data.bookings_per_day
        pairs = [
            (a, b) for a in free if a.pk in first_ids for b in free if b.pk in second_ids and b.pk != a.pk
        ]
        pairs.sort(
            key=lambda p: (load[p[0].pk, day] + load[p[1].pk, day], position[p[0].pk], position[p[1].pk])
        )
        return pairs

    def why_not(self, start: datetime) -> engine.SlotProblem | None:
        """Why nobody loaded is free at ``start`` (a code), or None when someone is (for a
        session for two: when a pair is; TAKEN when only one of them is free then)."""
        problem = engine.why_not_free(
            schedules=self.data.schedules,
            closures=self.data.closures,
            start=start,
            duration=self.duration,
            buffer=self.buffer,
            policy=self.policy,
            now=self.now,
            tz=self.data.zone,
            rooms=self.data.room_schedules,
            required_features=self.data.required_features,
            seats=self.party_size,
        )
        if self.party_size == 2 and problem is None:
            day = start.astimezone(self.data.zone).date()
            start_utc = start.astimezone(UTC)
            if not any(s == start_utc for s, _ in self.merged().get(day, [])):
                return engine.SlotProblem.TAKEN
        return problem

    def closure_reason(self, day: date) -> str:
        return next((reason for first, last, reason in self.data.closure_reasons if first <= day <= last), "")


def free_starts(
    *,
    technique: Technique,
    length: TechniqueLength,
    first_day: date,
    days: int,
    therapist: Therapist | None = None,
    now: datetime | None = None,
    staff: bool = False,
    ignore_working_hours: bool = False,
    exclude_appointment_id: int | None = None,
    exclude_appointment_ids: Iterable[int] = (),
    party_size: int = 1,
    therapists: tuple[Therapist | None, Therapist | None] | None = None,
    gender: str | None = None,
    room: Room | None = None,
    lock: bool = False,
) -> FreeStarts:
    """The one pipeline from the database to free start times: load (at most seven
    queries), then one pass of the engine. Online bookings follow the clinic's policy;
    ``staff`` ones :data:`STAFF_POLICY`, and with ``ignore_working_hours`` any time of
    the day.

    ``party_size=2`` asks for a session for two: ``therapists`` names seat 1 and seat 2
    (None: any available, of ``gender`` if given; ``therapist`` alone names seat 1).
    ``gender`` ("female"/"male"; anything else is no preference) limits "any available".
    ``room`` restricts the rooms to that one (staff's choice). ``lock``: see
    :func:`availability_load`."""
    now = now or timezone.now()
    if party_size not in (1, 2):
        raise ValueError(f"party_size must be 1 or 2, got {party_size}")
    named: tuple[Therapist | None, Therapist | None] = (None, None)
    if party_size == 2:
        named = therapists or (therapist, None)
    named_ids = [t.pk for t in named if t is not None]
    data = availability_load(
        technique=technique,
        first_day=first_day,
        days=days,
        therapist=therapist if party_size == 1 else None,
        only_therapist_ids=named_ids if len(named_ids) == 2 else None,
        also_therapist_ids=named_ids,
        exclude_appointment_id=exclude_appointment_id,
        exclude_appointment_ids=exclude_appointment_ids,
        gender=gender,
        room=room,
        lock=lock,
    )
    if ignore_working_hours:
        # Staff booking "outside working hours" also decide past the therapist's own
        # daily and back-to-back limits (a decision about the same person's day).
        data.schedules = [
            replace(s, periods=WHOLE_DAY, max_daily=None, max_continuous=None) for s in data.schedules
        ]
    seat_choices = None
    if party_size == 2:
        wanted = gender_wanted(gender)
        anyone = tuple(t.pk for t in data.therapists if wanted is None or t.gender == wanted)
        first, second = named
        seat_choices = (
            (first.pk,) if first is not None else anyone,
            (second.pk,) if second is not None else anyone,
        )
    policy = STAFF_POLICY if staff else data.engine_policy()
    duration = timedelta(minutes=length.duration_minutes)
    buffer = timedelta(minutes=technique.buffer_minutes)
    by_therapist = engine.free_slots(
        schedules=data.schedules,
        closures=data.closures,
        first_day=first_day,
        days=days,
        duration=duration,
        buffer=buffer,
        policy=policy,
        now=now,
        tz=data.zone,
        rooms=data.room_schedules,
        required_features=data.required_features,
        seats=party_size,
    )
    return FreeStarts(
        data=data,
        by_therapist=by_therapist,
        policy=policy,
        duration=duration,
        buffer=buffer,
        now=now,
        party_size=party_size,
        seat_choices=seat_choices,
    )


def policy_load() -> BookingPolicy:
    return BookingPolicy.load()


def therapist_for_booking(*, technique: Technique, slug: str) -> Therapist | None:
    """An active therapist who offers ``technique``, by slug."""
    return Therapist.objects.active().offering(technique).filter(slug=slug).first()


def therapist_cards(*, technique: Technique) -> list[Therapist]:
    """The therapists a client can choose for ``technique``, with what each offers."""
    return list(
        Therapist.objects.active()
        .offering(technique)
        .order_by("name", "id")
        .prefetch_related(Prefetch("techniques", queryset=Technique.objects.active()))
    )


@dataclass(frozen=True)
class DaySummary:
    """One day of the booking page's day strip."""

    day: date
    starts: list[datetime]
    closed_reason: str  # the closure's reason when the clinic is shut
    bookable: bool  # inside the online window (not past, not beyond the horizon)
    working: bool = True  # someone (the chosen therapist) works on this weekday


@dataclass
class WeekAvailability:
    days: list[DaySummary]
    therapist_ids_by_start: dict[datetime, tuple[int, ...]]
    therapists: list[Therapist]
    policy: BookingPolicy
    engine_policy: engine.Policy
    zone: ZoneInfo
    free: FreeStarts
    named_therapist: bool  # one therapist chosen, rather than "any available"


def week_availability(
    *,
    technique: Technique,
    length: TechniqueLength,
    therapist: Therapist | None,
    first_day: date,
    days: int = 7,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
    exclude_appointment_ids: Iterable[int] = (),
    party_size: int = 1,
    therapists: tuple[Therapist | None, Therapist | None] | None = None,
    gender: str | None = None,
) -> WeekAvailability:
    """Free start times for each of ``days`` days from ``first_day``: the queries of
    :func:`availability_load` and one pass of the engine. The arguments after ``now`` are
    those of :func:`free_starts`."""
    now = now or timezone.now()
    free = free_starts(
        technique=technique,
        length=length,
        first_day=first_day,
        days=days,
        therapist=therapist,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
        exclude_appointment_ids=exclude_appointment_ids,
        party_size=party_size,
        therapists=therapists,
        gender=gender,
    )
    data, policy, merged = free.data, free.policy, free.merged()
    today = now.astimezone(data.zone).date()
    last_day = (now + policy.horizon).astimezone(data.zone).date()
    working_weekdays = {period.weekday for schedule in data.schedules for period in schedule.periods}
    summaries = []
    by_start: dict[datetime, tuple[int, ...]] = {}
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        entries = merged.get(day, [])
        by_start.update(entries)
        summaries.append(
            DaySummary(
                day=day,
                starts=[start for start, _ in entries],
                closed_reason=free.closure_reason(day),
                bookable=today <= day <= last_day,
                working=day.weekday() in working_weekdays,
            )
        )
    return WeekAvailability(
        days=summaries,
        therapist_ids_by_start=by_start,
        therapists=data.therapists,
        policy=data.policy,
        engine_policy=policy,
        zone=data.zone,
        free=free,
        named_therapist=therapist is not None if party_size == 1 else any(therapists or ()),
    )


def appointment_by_token(token: str) -> Appointment | None:
    """The appointment a client's manage link points to, or None for a wrong or tampered link."""
    try:
        value = manage_signer().unsign(token)
    except signing.BadSignature:
        return None
    reference, _, secret = value.partition(".")
    # Seat 1: a session for two shares one link, and it belongs to the booker.
    appointment = (
        Appointment.objects.select_related("technique", "therapist", "room")
        .filter(reference=reference)
        .order_by("seat")
        .first()
    )
    # The secret can be replaced to revoke a link; compare it in constant time anyway.
    if appointment is None or not constant_time_compare(appointment.manage_secret, secret):
        return None
    return appointment


def client_change_deadline(*, appointment: Appointment, policy: BookingPolicy) -> datetime:
    """Until when the client may cancel or reschedule online."""
    return appointment.start - timedelta(hours=policy.cancellation_cutoff_hours)


def upcoming_online_count(*, email: str, now: datetime) -> int:
    """Confirmed appointments still to come for one email address (any letter case)."""
    return Appointment.objects.filter(
        client_email__iexact=email.strip(), status=AppointmentStatus.CONFIRMED, start__gte=now
    ).count()


@dataclass(frozen=True)
class OnlineBookingChecks:
    """What an online booking reads first, under the address's lock (see
    :func:`online_booking_checks`)."""

    upcoming: int  # confirmed appointments still to come for the address
    existing_id: int | None  # the booking this confirmation's key already made
    client_known: bool | None  # a client record (current, merged or not) has the address (None: not asked)
    rules: list[intake_rules.Rule] | None  # the health rules for the technique, if asked


_CHECKS, _RULE = 0, 1


@lru_cache(maxsize=_SHAPES)
def _online_checks_statement(vendor: str, key: bool, known: bool, rules: bool) -> Statement:
    """:func:`online_booking_checks`' query, compiled once per process and shape (see
    booking/prepared_sql.py): building and compiling it had been about a third of the
    confirmation's time (issue 13). ``key``: the booking an idempotency key made is asked;
    ``known``: whether a client record has the address; ``rules``: the health rules."""
    upcoming = Appointment.objects.filter(
        IExactSlot(F("client_email"), Slot("email", CharField())),
        status=AppointmentStatus.CONFIRMED,
        start__gte=Slot("now", _MOMENT),
    ).order_by()
    count = Func(F("pk"), function="COUNT", output_field=IntegerField())
    none_int = Cast(Value(None), IntegerField())
    none_text = Cast(Value(None), TextField())
    existing = (
        Subquery(
            Appointment.objects.filter(idempotency_key=Slot("key", CharField())).order_by().values("pk")[:1]
        )
        if key
        else none_int
    )
    client_known = (
        Cast(Exists(Client.objects.filter(email_key=Slot("email_key", CharField()))), IntegerField())
        if known
        else none_int
    )
    technique = Slot("technique", _ID)
    parts = [
        # Over the technique's own row: one row whatever else exists.
        Technique.objects.filter(pk=technique).values_list(
            Value(_CHECKS),
            Subquery(upcoming.annotate(n=count).values("n")[:1]),
            existing,
            client_known,
            none_text,
            none_text,
            none_int,
            none_int,
            none_text,
            none_int,
        )
    ]
    if rules:
        parts.append(
            HealthRule.objects.filter(active=True, question__active=True)
            .filter(Q(technique__isnull=True) | Q(technique=technique))
            .values_list(
                Value(_RULE),
                "question__display_order",
                "question_id",
                "technique_id",
                Cast("question__key", TextField()),
                Cast("outcome", TextField()),
                "number_min",
                "number_max",
                Cast("staff_note", TextField()),
                none_int,
            )
        )
    statements = [Statement.of(part.order_by()) for part in parts]
    return Statement(
        sql=" UNION ALL ".join(
            f"SELECT * FROM ({statement.sql}) AS part{number}" for number, statement in enumerate(statements)
        ),
        params=tuple(param for statement in statements for param in statement.params),
    )


def online_booking_checks(
    *,
    email: str,
    now: datetime,
    idempotency_key: str | None,
    technique: Technique,
    rules: bool,
    client_known: bool = True,
) -> OnlineBookingChecks:
    """:func:`upcoming_online_count`, the id of the booking an online confirmation with
    ``idempotency_key`` already made (None if none), whether a client record has the address
    (unless ``client_known`` is false: the details page has no use for it), and
    (``rules``) the health rules in use for ``technique``: one UNION ALL query, as the
    booking service asks them all under the address's lock. Rows (kind, a, b, c, d, e, f,
    g, h): one row of checks (count, key's booking, address known) and a row per rule
    (technique, question key, outcome, number range, note, the question's order).
    Compiled once per shape (see :func:`_online_checks_statement`)."""
    email = email.strip()
    statement = _online_checks_statement(connection.vendor, bool(idempotency_key), client_known, rules)
    rows = statement.run(
        {
            "email": email,
            "now": now,
            "key": idempotency_key,
            "email_key": email_key(email),
            "technique": technique.pk,
        },
        connection,
    )
    checks = next(row for row in rows if row[0] == _CHECKS)
    found_rules = None
    if rules:
        # HealthRule's own order (question, technique, number_min; empty ones first).
        rule_rows = sorted(
            (row for row in rows if row[0] == _RULE),
            key=lambda r: (r[1], r[2], r[3] is not None, r[3] or 0, r[6] is not None, r[6] or 0),
        )
        found_rules = [
            intake_rules.Rule(
                question_key=key,
                outcome=RuleOutcome(outcome),
                technique_id=technique_id,
                number_min=number_min,
                number_max=number_max,
                staff_note=staff_note or "",
            )
            for _, _, _, technique_id, key, outcome, number_min, number_max, staff_note, _ in rule_rows
        ]
    return OnlineBookingChecks(
        upcoming=checks[1] or 0,
        existing_id=checks[2],
        client_known=bool(checks[3]) if client_known else None,
        rules=found_rules,
    )


TAKEN_LIKE = {
    engine.SlotProblem.TAKEN,
    engine.SlotProblem.DAY_LIMIT,
    engine.SlotProblem.STRETCH_LIMIT,
    engine.SlotProblem.NO_ROOM,
}


ALTERNATIVE_DAYS = 7  # the chosen day and the six after


@dataclass
class SlotCheck:
    """Whether a chosen time can still be booked online, and what else is near it."""

    problem: engine.SlotProblem | None  # None when free
    alternatives: list[datetime]  # the nearest free starts, in time order (when taken)
    therapists: list[Therapist]  # who could take the booking (for names on the page)
    policy: BookingPolicy
    engine_policy: engine.Policy
    closure_reason: str = ""  # when the problem is CLOSED


def slot_check(
    *,
    technique: Technique,
    length: TechniqueLength,
    therapist: Therapist | None,
    start: datetime,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
    alternatives: int = 6,
    exclude_appointment_ids: Iterable[int] = (),
    party_size: int = 1,
    therapists: tuple[Therapist | None, Therapist | None] | None = None,
    gender: str | None = None,
) -> SlotCheck:
    """Check one start time against the policy and the diaries (read only: the booking
    service checks again under lock). Alternatives come from that day and the six after.

    The chosen day alone answers most checks: the load and engine pass of that one day
    (the booking service's own check is the same), with no engine work for the other six.
    Only a taken-like time, which shows alternatives, loads the week as well, and then
    everything is the week's answer (issue 13: the details step with a free time, the
    common case, does a seventh of the engine work)."""
    now = now or timezone.now()
    day = start.astimezone(clinic_zone()).date()
    choice = {
        "technique": technique,
        "length": length,
        "therapist": therapist,
        "first_day": day,
        "now": now,
        "exclude_appointment_id": exclude_appointment_id,
        # Read twice when the week is loaded too: an iterator would be spent by the first.
        "exclude_appointment_ids": tuple(exclude_appointment_ids),
        "party_size": party_size,
        "therapists": therapists,
        "gender": gender,
    }
    free = free_starts(**choice, days=1)
    problem = _problem_at(free, day, start)
    starts: Collection[datetime] = ()
    # Booked-up time of any kind (a therapist's, their limits, the rooms) has neighbours
    # worth offering.
    if problem in TAKEN_LIKE:
        free = free_starts(**choice, days=ALTERNATIVE_DAYS)
        problem = _problem_at(free, day, start)
        starts = [offer for entries in free.merged().values() for offer, _ in entries]
    return SlotCheck(
        problem=problem,
        alternatives=engine.nearest_starts(starts, start, alternatives) if problem in TAKEN_LIKE else [],
        therapists=free.data.therapists,
        policy=free.data.policy,
        engine_policy=free.policy,
        closure_reason=free.closure_reason(day),
    )


def _problem_at(free: FreeStarts, day: date, start: datetime) -> engine.SlotProblem | None:
    """Why ``start`` (on local ``day``) cannot be booked, None when it can: free when the
    engine offers it that day, otherwise the first rule it breaks."""
    offered = any(offer == start for offer, _ in free.merged().get(day, ()))
    return None if offered else free.why_not(start)


@dataclass
class ScheduleData:
    """Everything the staff schedule draws for some days: five queries in all."""

    therapists: list[Therapist]  # with working_hours prefetched
    appointments: dict[int, list[Appointment]]  # therapist id -> appointments, by start
    time_off: dict[int, list[TimeOff]]  # therapist id -> time off touching the days
    closures: dict[date, str]  # local date -> reason
    zone: ZoneInfo

    def periods(self, therapist: Therapist) -> list[engine.WorkingPeriod]:
        return working_periods(therapist)


def schedule_load(*, first_day: date, days: int = 1, therapist: Therapist | None = None) -> ScheduleData:
    """Load the schedule of ``days`` days from ``first_day``: active therapists (and any
    inactive one still holding an appointment in those days), their hours, time off,
    appointments of every status, and closures. Five queries, whatever the numbers.

    ``therapist`` limits it to one therapist (a therapist's own view, or a week view).
    """
    zone = clinic_zone()
    window_start = engine.day_span(first_day, zone)[0]
    window_end = engine.day_span(first_day + timedelta(days=days - 1), zone)[1]
    appointments_qs = Appointment.objects.filter(start__lt=window_end, end__gt=window_start)
    therapists_qs = Therapist.objects.all()
    if therapist is not None:
        appointments_qs = appointments_qs.filter(therapist=therapist)
        therapists_qs = therapists_qs.filter(pk=therapist.pk)
    appointments: dict[int, list[Appointment]] = {}
    # With each visit's health intake (its flags; the answers are not needed), in the same query.
    # The room too (issue 12): every block names it, and the room view groups by it.
    appointments_qs = appointments_qs.select_related("technique", "intake", "room").defer("intake__answers")
    for appointment in appointments_qs.order_by("start", "pk"):  # query 1
        appointments.setdefault(appointment.therapist_id, []).append(appointment)
    if therapist is None:
        therapists_qs = therapists_qs.filter(Q(active=True) | Q(pk__in=list(appointments)))
    therapists = list(
        therapists_qs.order_by("name", "id").prefetch_related(
            Prefetch("working_hours", queryset=WorkingHours.objects.order_by("weekday", "start"))
        )
    )  # queries 2 and 3
    time_off: dict[int, list[TimeOff]] = {}
    for absence in TimeOff.objects.filter(
        therapist_id__in=[t.pk for t in therapists], start__lt=window_end, end__gt=window_start
    ):  # query 4
        time_off.setdefault(absence.therapist_id, []).append(absence)
    closures: dict[date, str] = {}
    last_day = first_day + timedelta(days=days - 1)
    for first, last, reason in Closure.objects.filter(
        first_day__lte=last_day, last_day__gte=first_day
    ).values_list("first_day", "last_day", "reason"):  # query 5
        for offset in range((last - first).days + 1):
            closures.setdefault(first + timedelta(days=offset), reason)
    return ScheduleData(
        therapists=therapists, appointments=appointments, time_off=time_off, closures=closures, zone=zone
    )


def clinic_has_rooms() -> bool:
    """Whether the clinic has set rooms up (any in use). One query."""
    return Room.objects.active().exists()


def schedule_rooms(data: ScheduleData) -> list[Room]:
    """The rooms the schedule's "by room" view has a column for: those in use, and any
    inactive one still holding an appointment in the days loaded. One query."""
    held = {a.room_id for items in data.appointments.values() for a in items if a.room_id}
    return list(Room.objects.filter(Q(active=True) | Q(pk__in=held)).order_by("display_order", "name", "id"))


@dataclass(frozen=True)
class RoomHoldings:
    """The appointments that keep a room from being deleted."""

    upcoming: list[Appointment]  # the first few occupying ones from now on, by start
    upcoming_count: int
    past_count: int  # before now, or cancelled: the record still names the room


def room_holdings(*, room: Room, now: datetime | None = None, limit: int = 50) -> RoomHoldings:
    """What points at ``room``: upcoming appointments (to list, with links) and how many
    others. Three queries."""
    now = now or timezone.now()
    on_room = Appointment.objects.filter(room=room)
    upcoming = on_room.filter(start__gte=now, status__in=OCCUPYING_STATUSES)
    return RoomHoldings(
        upcoming=list(upcoming.select_related("therapist", "technique").order_by("start", "pk")[:limit]),
        upcoming_count=upcoming.count(),
        past_count=on_room.exclude(pk__in=upcoming.values("pk")).count(),
    )


@dataclass(frozen=True)
class RoomlessTechnique:
    """An offered technique no room in use can host (so it is not offered online)."""

    technique: Technique
    missing: list[RoomFeature]  # what no single room has, of what it needs
    for_two_only: bool = False  # a room suits one client, but none suits a session for two


def techniques_without_room(*, technique_id: int | None = None) -> list[RoomlessTechnique]:
    """Offered techniques that no active room can host: every room lacks one of the
    features they need (or, for "also for two", no room for two has them all). Empty
    while the clinic has no active rooms, since then rooms are not used at all. Four
    queries at most."""
    rooms = list(Room.objects.active().prefetch_related("features"))
    if not rooms:
        return []
    techniques = Technique.objects.active().prefetch_related("required_features")
    if technique_id is not None:
        techniques = techniques.filter(pk=technique_id)
    found = []
    for technique in techniques.order_by("display_order", "name"):
        needs = {f.pk: f for f in technique.required_features.all()}
        suits = [r for r in rooms if set(needs) <= {f.pk for f in r.features.all()}]
        if not suits:
            # Name what the best room still lacks, so the manager knows what to add.
            best = min(rooms, key=lambda r: len(set(needs) - {f.pk for f in r.features.all()}))
            missing = [needs[pk] for pk in sorted(set(needs) - {f.pk for f in best.features.all()})]
            found.append(RoomlessTechnique(technique, sorted(missing, key=lambda f: f.name)))
        elif technique.for_two and not any(r.capacity >= 2 for r in suits):
            found.append(RoomlessTechnique(technique, [], for_two_only=True))
    return found


class TherapistProblem(StrEnum):
    """What about the therapist, rather than the time, stands in the way of a booking."""

    INACTIVE = "inactive"
    NOT_OFFERED = "not_offered"


@dataclass(frozen=True)
class Obstacle:
    """One thing in the way of a staff booking: a code and the facts to word it with."""

    problem: engine.SlotProblem | TherapistProblem
    appointment: Appointment | None = None  # TAKEN: the appointment in the way
    time_off: TimeOff | None = None  # TIME_OFF: the absence
    closure_reason: str = ""  # CLOSED
    periods: tuple[engine.WorkingPeriod, ...] = ()  # OUTSIDE_HOURS: that day's hours


# The order staff read them in: the time itself, then the therapist, then what is in the way.
OBSTACLE_ORDER = [
    engine.SlotProblem.PAST,
    engine.SlotProblem.NOTICE,
    engine.SlotProblem.HORIZON,
    engine.SlotProblem.OFF_GRID,
    engine.SlotProblem.OVERNIGHT,
    TherapistProblem.INACTIVE,
    TherapistProblem.NOT_OFFERED,
    engine.SlotProblem.TAKEN,
    engine.SlotProblem.TIME_OFF,
    engine.SlotProblem.CLOSED,
    engine.SlotProblem.DAY_OFF,
    engine.SlotProblem.OUTSIDE_HOURS,
]


def staff_obstacles(
    *,
    therapist: Therapist,
    technique: Technique,
    start: datetime,
    duration_minutes: int,
    buffer_minutes: int,
    allow_outside_hours: bool,
    exclude_appointment_id: int | None = None,
    now: datetime | None = None,
) -> list[Obstacle]:
    """What stands in the way of staff booking ``therapist`` at ``start``, by the engine's
    rules under :data:`STAFF_POLICY`, each with the facts that name it: the clashing
    appointment, the time off, the closure or the working hours."""
    zone = clinic_zone()
    duration, buffer = timedelta(minutes=duration_minutes), timedelta(minutes=buffer_minutes)
    until = start + duration + buffer
    local_day = start.astimezone(zone).date()
    clashes = list(
        Appointment.objects.occupying()
        .filter(therapist=therapist)
        .overlapping(start, until)
        .exclude(pk=exclude_appointment_id)
        .select_related("technique")
        .order_by("start")
    )
    absences = list(
        TimeOff.objects.filter(therapist=therapist, start__lt=until, end__gt=start).order_by("start")
    )
    closures = list(
        Closure.objects.filter(first_day__lte=local_day, last_day__gte=local_day).values_list(
            "first_day", "last_day", "reason"
        )
    )
    periods = (
        WHOLE_DAY
        if allow_outside_hours
        else [engine.WorkingPeriod(h.weekday, h.start, h.end) for h in therapist.working_hours.all()]
    )
    schedule = engine.TherapistSchedule(
        therapist.pk,
        periods,
        [engine.Interval(a.start, a.end) for a in absences],
        [engine.Interval(a.start, a.occupied_until) for a in clashes],
    )
    problems = engine.slot_problems(
        schedule=schedule,
        closures=[(first, last) for first, last, _ in closures],
        start=start,
        duration=duration,
        buffer=buffer,
        policy=STAFF_POLICY,
        now=now or timezone.now(),
        tz=zone,
    )
    if not therapist.active:
        problems.append(TherapistProblem.INACTIVE)
    if not therapist.techniques.filter(pk=technique.pk).exists():
        problems.append(TherapistProblem.NOT_OFFERED)
    obstacles: list[Obstacle] = []
    for problem in sorted(set(problems), key=OBSTACLE_ORDER.index):
        if problem == engine.SlotProblem.TAKEN:
            obstacles += [Obstacle(problem, appointment=other) for other in clashes]
        elif problem == engine.SlotProblem.TIME_OFF:
            obstacles += [Obstacle(problem, time_off=absence) for absence in absences]
        elif problem == engine.SlotProblem.CLOSED:
            obstacles.append(Obstacle(problem, closure_reason=closures[0][2]))
        elif problem in (engine.SlotProblem.DAY_OFF, engine.SlotProblem.OUTSIDE_HOURS):
            # For staff both read as the day's hours ("not working" when there are none).
            todays = tuple(
                sorted((p for p in periods if p.weekday == local_day.weekday()), key=lambda p: p.start)
            )
            obstacles.append(Obstacle(engine.SlotProblem.OUTSIDE_HOURS, periods=todays))
        else:
            obstacles.append(Obstacle(problem))
    return obstacles


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    what: str


def client_change_words(change: ClientChange) -> str:
    """A client's online change in words: "Moved online by the client: Tue 24 Nov 2026
    10:00 → Tue 24 Nov 2026 14:00", in the clinic's time."""
    if change.kind == ClientChange.Kind.MOVED and change.previous_start and change.new_start:
        zone = clinic_zone()
        return _("Moved online by the client: %(before)s → %(after)s") % {
            "before": formats.date_format(change.previous_start.astimezone(zone), "D d M Y H:i"),
            "after": formats.date_format(change.new_start.astimezone(zone), "D d M Y H:i"),
        }
    return str(change.get_kind_display())


def appointment_history(*, appointment: Appointment) -> list[HistoryEntry]:
    """Who changed an appointment, when, and what, oldest first: the booking itself,
    Django's admin log for staff, and the client's own online changes (two queries)."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    entries = (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Appointment), object_id=str(appointment.pk)
        )
        .select_related("user")
        .order_by("action_time", "pk")
    )
    history = [
        HistoryEntry(
            when=entry.action_time,
            who=entry.user.get_full_name() or entry.user.get_username(),
            what=_("Booked") if entry.is_addition() else (entry.get_change_message() or str(entry)),
        )
        for entry in entries
    ]
    if not any(entry.what == _("Booked") for entry in history):
        # Booked online, or by staff outside the admin (an import, the demo data).
        online = appointment.source == "online"
        history.append(
            HistoryEntry(
                when=appointment.created_at,
                who=_("The client, online") if online else _("Staff"),
                what=_("Booked"),
            )
        )
    history += [
        HistoryEntry(when=change.at, who=_("The client, online"), what=client_change_words(change))
        for change in ClientChange.objects.filter(appointment=appointment)
    ]
    return sorted(history, key=lambda entry: entry.when)


def appointments_during(*, therapist: Therapist, start: datetime, end: datetime) -> list[Appointment]:
    """The therapist's confirmed appointments that meet ``[start, end)``."""
    return list(
        Appointment.objects.filter(therapist=therapist, status=AppointmentStatus.CONFIRMED)
        .overlapping(start, end)
        .order_by("start")
    )


def techniques_hidden_online(*, technique_id: int | None = None) -> list[tuple[Technique, str]]:
    """Techniques marked offered that clients still cannot book online, each with why:
    ``"no_length"``, ``"no_therapist"`` (nobody taking bookings offers it) or
    ``"no_room"`` (the clinic uses rooms and none has what it needs). One query."""
    techniques = Technique.objects.active().exclude(pk__in=Technique.objects.bookable().values("pk"))
    if technique_id is not None:
        techniques = techniques.filter(pk=technique_id)
    techniques = techniques.annotate(
        has_length=Exists(TechniqueLength.objects.filter(technique=OuterRef("pk"))),
        has_therapist=Exists(Therapist.objects.filter(active=True, techniques=OuterRef("pk"))),
    ).order_by("display_order", "name")
    return [
        (t, "no_length" if not t.has_length else "no_therapist" if not t.has_therapist else "no_room")
        for t in techniques
    ]


def appointment_by_idempotency_key(key: str) -> Appointment | None:
    """The booking an online confirmation with this one-time key made, if any."""
    return Appointment.objects.filter(idempotency_key=key).first()


# Clients (issue 11) -------------------------------------------------------------------


def clients_visible_to(user, queryset: QuerySet | None = None) -> QuerySet:
    """The client records ``user`` may see: all of them, except for a therapist's own
    account, which sees only clients who have or had an appointment with them."""
    from . import roles
    from .models import Client

    queryset = Client.objects.all() if queryset is None else queryset
    if not roles.sees_only_own_appointments(user):
        return queryset
    therapist = getattr(user, "therapist", None)
    if therapist is None:
        return queryset.none()
    return queryset.filter(Exists(Appointment.objects.filter(client=OuterRef("pk"), therapist=therapist)))


def client_search_q(term: str) -> Q:
    """What a staff search for ``term`` matches: part of the name or email, or the phone
    number in any format (typed in full, it is read as a number and matched exactly, on
    the index; four or more digits also match inside stored numbers)."""
    from .phones import phone_e164, search_digits

    term = term.strip()
    digits = search_digits(term)
    if digits:
        # Only digits and phone punctuation: a phone number (no name or address holds
        # "07700 900123"), so the name and email columns are not scanned for it.
        number = phone_e164(term)
        match = Q(phone__contains=digits)
        return match | Q(phone=number) if number else match
    return Q(name__icontains=term) | Q(email_key__contains=term.lower())


# The client page lists this many upcoming and past visits; the counts cover them all.
CLIENT_VISITS_SHOWN = 50


@dataclass
class ClientVisits:
    """A client's appointments for their page: upcoming (soonest first), past (latest
    first), and the counts staff ask about."""

    upcoming: list[Appointment]
    past: list[Appointment]
    upcoming_total: int
    past_total: int
    visits: int
    no_shows: int
    late_cancellations: int
    cancellations: int


def client_visits(*, client, therapist: Therapist | None = None, now: datetime | None = None) -> ClientVisits:
    """Two queries whatever the number of visits; the soonest upcoming and the latest past
    visits are listed (CLIENT_VISITS_SHOWN of each; the appointment list filtered by client
    has them all). ``therapist`` limits them to that
    therapist's (a therapist's own account). A late cancellation is one made within the
    cancellation cutoff before the start (when it was cancelled: the row's last change)."""
    now = now or timezone.now()
    cutoff = timedelta(hours=policy_load().cancellation_cutoff_hours)
    # Waitlist holds (issue 14) are not visits: neither held nor lapsed ones count.
    rows = Appointment.objects.bookings().filter(client=client).select_related("technique", "therapist")
    if therapist is not None:
        rows = rows.filter(therapist=therapist)
    rows = list(rows.order_by("start", "pk"))
    upcoming = [a for a in rows if a.start >= now]
    past = [a for a in reversed(rows) if a.start < now]
    cancelled = [a for a in rows if a.status == AppointmentStatus.CANCELLED]
    return ClientVisits(
        upcoming=upcoming[:CLIENT_VISITS_SHOWN],
        past=past[:CLIENT_VISITS_SHOWN],
        upcoming_total=len(upcoming),
        past_total=len(past),
        visits=sum(a.status == AppointmentStatus.COMPLETED for a in rows),
        no_shows=sum(a.status == AppointmentStatus.NO_SHOW for a in rows),
        late_cancellations=sum(a.updated_at >= a.start - cutoff for a in cancelled),
        cancellations=len(cancelled),
    )


# Rooms and sessions for two (issue 12) ------------------------------------------------


def appointment_party(appointment: Appointment) -> list[Appointment]:
    """Every seat of the appointment's session, seat 1 (the booker) first: both guests of
    a session for two, or just the appointment itself. One query."""
    return list(
        Appointment.objects.select_related("technique", "therapist", "room")
        .filter(reference=appointment.reference)
        .order_by("seat", "pk")
    )


def rooms_suitable(*, technique: Technique, party_size: int = 1) -> QuerySet[Room]:
    """The active rooms with every feature ``technique`` needs (and two tables for a
    session for two), as one query: no feature the technique needs is missing from the
    room. Empty when the clinic has no rooms in use."""
    has_it = Room.features.through.objects.filter(
        room_id=OuterRef(OuterRef("pk")), roomfeature_id=OuterRef("roomfeature_id")
    )
    missing = Technique.required_features.through.objects.filter(technique_id=technique.pk).exclude(
        Exists(has_it)
    )
    rooms = Room.objects.active().exclude(Exists(missing))
    if party_size == 2:
        rooms = rooms.filter(capacity=2)
    return rooms


def rooms_for_technique(*, technique: Technique, party_size: int = 1) -> list[Room]:
    """:func:`rooms_suitable` in the rooms' order. One query."""
    return list(
        rooms_suitable(technique=technique, party_size=party_size).order_by("display_order", "name", "pk")
    )


def room_clashes(
    *, rooms: Sequence[Room], start: datetime, end: datetime, exclude_appointment_ids: Iterable[int] = ()
) -> list[tuple[Room, Appointment]]:
    """What holds each of ``rooms`` when a session ``[start, end)`` (plus the room's own
    turnover) would need it: (room, appointment) pairs, in the rooms' order then by time.
    One query."""
    if not rooms:
        return []
    longest = max(timedelta(minutes=room.turnover_minutes) for room in rooms)
    holders = (
        Appointment.objects.occupying()
        .filter(room__in=list(rooms), start__lt=end + longest, room_until__gt=start)
        .exclude(pk__in=list(exclude_appointment_ids))
        .select_related("technique", "therapist")
        .order_by("start", "seat", "pk")
    )
    by_room: dict[int, list[Appointment]] = {}
    for other in holders:
        by_room.setdefault(other.room_id, []).append(other)
    clashes: list[tuple[Room, Appointment]] = []
    for room in rooms:
        until = end + timedelta(minutes=room.turnover_minutes)
        seen: set[str] = set()
        for other in by_room.get(room.pk, []):
            # The two seats of one session for two hold the room once.
            if other.start < until and other.reference not in seen:
                seen.add(other.reference)
                clashes.append((room, other))
    return clashes


# --------------------------------------------------------------------------- the client's own page (issue 14)


@dataclass
class OwnVisit:
    """One of a signed-in client's visits, with what they may do with it now."""

    appointment: Appointment
    start_local: datetime
    end_local: datetime
    can_change: bool
    upcoming: bool


@dataclass
class OwnVisits:
    upcoming: list[OwnVisit]
    past: list[OwnVisit]
    upcoming_total: int
    past_total: int
    policy: BookingPolicy


# The client's own page lists this many past visits, latest first (their data download
# has them all): a page that stays quick to read, and to make, on a phone.
OWN_PAST_VISITS_SHOWN = 20


def client_own_visits(*, client, now: datetime | None = None) -> OwnVisits:
    """A signed-in client's visits for their page: upcoming (soonest first,
    CLIENT_VISITS_SHOWN) and past (latest first, OWN_PAST_VISITS_SHOWN). Two queries (the
    policy, the visits with technique, therapist and room) whatever the number of
    visits. Held waitlist times are not visits."""
    now = now or timezone.now()
    policy = policy_load()
    zone = clinic_zone()
    rows = list(
        Appointment.objects.filter(client=client)
        .exclude(status=AppointmentStatus.HELD)
        .select_related("technique", "therapist", "room")
        .order_by("start", "pk")
    )

    def visit(appointment: Appointment) -> OwnVisit:
        deadline = client_change_deadline(appointment=appointment, policy=policy)
        return OwnVisit(
            appointment=appointment,
            start_local=appointment.start.astimezone(zone),
            end_local=appointment.end.astimezone(zone),
            can_change=appointment.status == AppointmentStatus.CONFIRMED and now <= deadline,
            upcoming=appointment.start >= now,
        )

    upcoming = [a for a in rows if a.start >= now]
    past = [a for a in reversed(rows) if a.start < now]
    return OwnVisits(
        upcoming=[visit(a) for a in upcoming[:CLIENT_VISITS_SHOWN]],
        past=[visit(a) for a in past[:OWN_PAST_VISITS_SHOWN]],
        upcoming_total=len(upcoming),
        past_total=len(past),
        policy=policy,
    )


def client_own_appointment(*, client, appointment_id: int) -> Appointment | None:
    """One of the signed-in client's own appointments, or None (someone else's is the
    same as none: the pages answer 404)."""
    return (
        Appointment.objects.filter(pk=appointment_id, client=client)
        .exclude(status=AppointmentStatus.HELD)
        .select_related("technique", "therapist", "room")
        .first()
    )


def _fetch_all(query: QuerySet) -> list[tuple]:
    """The rows of a values_list() query as the database driver returns them, with none of
    the ORM's per-row work (for rows whose values need no conversion, or get their own)."""
    try:
        sql, params = query.query.sql_with_params()
    except EmptyResultSet:  # e.g. no therapist to ask about: no query, as the ORM does
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _id_values(ids: Collection[int]) -> RawSQL:
    """A subquery of ``ids`` passed as one parameter (a JSON array that SQLite's json_each
    reads, an array on PostgreSQL): a year's thousands of clients would be as many
    parameters in ``pk__in=[...]``, past what SQLite allows in one statement."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(ids))])


@dataclass
class ReportData:
    """What the manager's reports read for a range (issue 15): the pure input, and the
    names to put on its keys."""

    input: reports.ReportInput
    therapists: dict[int, str]
    techniques: dict[int, str]
    rooms: dict[int, str]


def reports_load(*, first: date, last: date) -> ReportData:
    """The range's appointments (no waitlist holds) read in one scan and counted by
    ``reports.bookings_count``, the returning clients, everyone's weekly hours, time off,
    closures, rooms and the policy: nine queries, whatever the range."""
    zone = clinic_zone()
    start, end = reports.range_instants(first, last, zone)
    in_range = Appointment.objects.bookings().filter(start__gte=start, start__lt=end).order_by()
    # One read of the range's rows, as the driver gives them (times and prices as text:
    # the drivers' own per-value conversion cost more than the counting, see UtcText),
    # counted in Python: each grouped query read every row of the range again.
    rows = in_range.values_list(
        UtcText("start"),
        UtcText("created_at"),
        UtcText("cancelled_at"),
        "status",
        "therapist_id",
        "room_id",
        "source",
        "technique_id",
        "duration_minutes",
        Cast("price", output_field=TextField()),
        "client_id",
    )
    with _gc_paused():
        counted = reports.bookings_count(_fetch_all(rows))
    # Clients with a kept appointment in the range (from the rows above); returning if
    # they had one before it: one look-up per client of the range, on the (client, start)
    # index, not per client of the clinic nor per appointment.
    kept_before = Appointment.objects.bookings().filter(
        client_id=OuterRef("pk"), status__in=reports.KEPT, start__lt=start
    )
    returning = (
        Client.objects.filter(pk__in=_id_values(counted.clients_kept)).filter(Exists(kept_before)).count()
        if counted.clients_kept
        else 0
    )
    hours: dict[int, list[engine.WorkingPeriod]] = {}
    for therapist_id, weekday, from_, until in WorkingHours.objects.order_by().values_list(
        "therapist_id", "weekday", "start", "end"
    ):
        hours.setdefault(therapist_id, []).append(engine.WorkingPeriod(weekday, from_, until))
    time_off: dict[int, list[engine.Interval]] = {}
    for therapist_id, off_start, off_end in (
        TimeOff.objects.filter(start__lt=end, end__gt=start)
        .order_by("start")
        .values_list("therapist_id", "start", "end")
    ):
        time_off.setdefault(therapist_id, []).append(engine.Interval.unchecked(off_start, off_end))
    closures = list(
        Closure.objects.filter(first_day__lte=last, last_day__gte=first).values_list("first_day", "last_day")
    )
    therapists = dict(Therapist.objects.order_by("name", "id").values_list("id", "name"))
    techniques = dict(Technique.objects.values_list("id", "name"))
    used_rooms = {row.room_id for row in counted.shares if row.room_id is not None}
    rooms = {
        pk: name
        for pk, name, active in Room.objects.values_list("id", "name", "active")
        if active or pk in used_rooms
    }
    data = reports.ReportInput(
        first=first,
        last=last,
        zone=zone,
        starts=counted.starts,
        shares=counted.shares,
        hours=hours,
        time_off=time_off,
        closures=closures,
        rooms=list(rooms),
        cutoff=timedelta(hours=policy_load().cancellation_cutoff_hours),
        revenue=counted.revenue,
        cancellations=counted.cancellations,
        lead_times=counted.lead_times,
        clients_kept=len(counted.clients_kept),
        clients_returning=returning,
    )
    return ReportData(input=data, therapists=therapists, techniques=techniques, rooms=rooms)


# Therapists' calendar feeds (issue 15) -----------------------------------------------

# What a feed's secret looks like (secrets.token_urlsafe(32)): anything else is not looked up.
FEED_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# The stretch of the diary a feed holds: recent visits (for notes) and the months ahead.
FEED_DAYS_BACK = 30
FEED_DAYS_AHEAD = 180


def calendar_feed_by_secret(secret: str) -> CalendarFeed | None:
    """The live feed with this secret, while its therapist's staff account is linked and
    active (switching the account off stops the feed too); None for anything else."""
    if not FEED_SECRET_SHAPE.fullmatch(secret):
        return None
    return (
        CalendarFeed.objects.select_related("therapist")
        .filter(
            token_hash=calendar_feed_hash(secret),
            revoked_at__isnull=True,
            therapist__user__is_active=True,
        )
        .first()
    )


def calendar_feed_appointments(*, therapist: Therapist, now: datetime) -> list[Appointment]:
    """The therapist's own appointments that take their time, from FEED_DAYS_BACK days ago
    to FEED_DAYS_AHEAD days ahead, in one query. Cancelled ones and lapsed waitlist holds
    are left out: every calendar drops an event the feed no longer lists, while some keep
    showing one marked STATUS:CANCELLED in a subscription. Only the columns the
    feed shows are read: the client's contact details and notes never leave the database."""
    return list(
        Appointment.objects.occupying()
        .filter(
            therapist=therapist,
            start__gte=now - timedelta(days=FEED_DAYS_BACK),
            start__lt=now + timedelta(days=FEED_DAYS_AHEAD),
        )
        .exclude(status=AppointmentStatus.HELD, held_until__lte=now)
        .select_related("technique", "room")
        .only(
            "reference",
            "seat",
            "sequence",
            "start",
            "end",
            "duration_minutes",
            "client_name",
            "status",
            "updated_at",
            "technique__name",
            "room__name",
        )
        .order_by("start", "seat", "pk")
    )


def calendar_feed_live(*, therapist: Therapist) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(therapist=therapist, revoked_at__isnull=True).first()


def calendar_feeds_live() -> QuerySet[CalendarFeed]:
    """Every live feed, for managers, with who made it (one query)."""
    return (
        CalendarFeed.objects.filter(revoked_at__isnull=True)
        .select_related("therapist", "created_by")
        .order_by("therapist__name", "therapist_id")
    )
