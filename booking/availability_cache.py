"""Free start times for the public pages, kept in the shared cache by schedule version.

The availability JSON, the times page and the client's reschedule page all read through
:func:`availability`; the one cached answer serves all of them. Nothing that decides
whether a booking is made reads it: the slot check before the review page and the
booking service always load the schedule live (and the service under row locks).

Correctness, part by part:

* **Changes**: the key starts with :func:`booking.schedule_version.current`, read from
  the database *before* the schedule is loaded; every committed change to what can be
  booked moves it on (see that module). A cached answer is therefore never older than
  the last committed booking, across every process and host, because the number lives
  in the one database and the answers in the one shared cache (Django's database cache
  table by default, Redis with ``REDIS_URL``).
* **Time passing**: "now" matters only as the earliest start (``now + min_notice``) and
  the horizon. The answer is computed for the start of the current minute, which is part
  of the key, and starts earlier than the real ``now + min_notice`` are dropped on the
  way out, so the minimum notice is exact; the horizon's last minute may be missing
  until the next minute's key (never an extra time).
* **Each process's copy**: the most recent answers are also kept in the process
  (``clinic.recent``), under the same key; as the key holds the version just read from
  the database, that copy is exactly as fresh as the shared one.
* **Checked queries**: the API's query string is checked (technique bookable, length
  offered, therapist taking bookings and offering it) against tables that all move the
  version too, so a query string found valid under one version stays valid under it:
  each process remembers the outcome under that version (:data:`checked_queries`) and
  a hit skips the look-ups. The view reads the version once, first, and passes it on.
* **Same key, same answer**: the key holds everything the answer is made from
  (technique, length, therapist or "any", first day, days, the appointment being moved,
  the minute), so two processes racing to fill it store the same value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache

from clinic.recent import RecentValues

from . import schedule_version, selectors
from .models import BookingPolicy, Technique

# Part of every key: a deploy that changes what is stored never reads an old shape.
FORMAT = 1
# Long enough to be useful, short enough that keys of past minutes leave a size-bounded
# cache quickly (they are never asked for again once their minute is over).
TIMEOUT_SECONDS = 120

# This process's recent answers in front of the shared cache, under the same versioned
# keys (see clinic/recent.py): a hit costs the version's query and nothing else.
recent_answers = RecentValues(size=512)


class CheckedQueries:
    """Query strings found valid, with what they were cleaned to, under a schedule version
    (this process only). For a request that read that version *before* checking: the
    look-ups behind the checks read only availability tables, so the same version means
    the same outcome. Invalid ones are not kept (a stream of junk cannot push out the
    busy ones' entries, and errors stay computed afresh)."""

    def __init__(self, size: int) -> None:
        self.values = RecentValues(size=size)

    @staticmethod
    def _key(version: int, raw: Sequence[str | None]) -> str:
        # Hashed: the values are whatever a visitor typed (any length, any characters).
        return f"{FORMAT}:{version}:{hashlib.sha256(repr(tuple(raw)).encode()).hexdigest()}"

    def get(self, *, version: int, raw: Sequence[str | None]) -> dict | None:
        found = self.values.get(self._key(version, raw))
        # A copy: the caller may add to its own dict without changing the kept one.
        return dict(found) if found is not None else None

    def put(self, *, version: int, raw: Sequence[str | None], cleaned: dict) -> None:
        self.values.put(self._key(version, raw), dict(cleaned))


checked_queries = CheckedQueries(size=256)


@dataclass(frozen=True)
class CachedAvailability:
    """Plain values only (it is pickled into a shared cache)."""

    merged: dict[date, list[tuple[datetime, tuple[int, ...]]]]  # day -> (start UTC, therapist ids)
    slugs: dict[int, str]  # therapist id -> slug
    closure_reasons: dict[date, str]
    working_weekdays: frozenset[int]
    policy: BookingPolicy
    min_notice: timedelta
    zone_name: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)

    def from_now(self, now: datetime) -> CachedAvailability:
        """The same answer without starts that are now too soon."""
        earliest = now.astimezone(UTC) + self.min_notice
        return CachedAvailability(
            # Every day stays, empty or not (the JSON lists each day asked for).
            merged={day: [e for e in entries if e[0] >= earliest] for day, entries in self.merged.items()},
            slugs=self.slugs,
            closure_reasons=self.closure_reasons,
            working_weekdays=self.working_weekdays,
            policy=self.policy,
            min_notice=self.min_notice,
            zone_name=self.zone_name,
        )


def _plain(value) -> str:
    """A selector argument as text for the key: a model by its primary key, collections
    item by item (the selectors take therapists, pairs of them and lists of ids)."""
    if value is None or isinstance(value, str | int | bool):
        return repr(value)
    if hasattr(value, "_meta"):
        return f"{value._meta.label}:{value.pk}"
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(item) for item in value]
        return "(" + ",".join(sorted(items) if isinstance(value, set | frozenset) else items) + ")"
    raise TypeError(f"availability cache cannot key on {type(value).__name__}")


def _key(*, version: int, minute: int, technique, first_day, days, choice: dict) -> str:
    # Every argument of the selector is in the key: the same key always means the same answer.
    # Arguments left at the selector's defaults are left out, so that the JSON (which
    # passes fewer) and the times page share the answer for the same choice.
    given = {
        name: value
        for name, value in choice.items()
        if not (value is None or value == "" or value == () or (name == "party_size" and value == 1))
    }
    arguments = ";".join(f"{name}={_plain(value)}" for name, value in sorted(given.items()))
    digest = hashlib.sha256(arguments.encode()).hexdigest()[:32]
    return (
        f"availability:{FORMAT}:{version}:{minute}:{settings.CLINIC_TIME_ZONE}:{technique.pk}:"
        f"{first_day.isoformat()}:{days}:{digest}"
    )


def _compute(*, technique, first_day, days, now, choice: dict) -> CachedAvailability:
    free = selectors.free_starts(technique=technique, first_day=first_day, days=days, now=now, **choice)
    data = free.data
    return CachedAvailability(
        merged=free.merged(),
        slugs={t.pk: t.slug for t in data.therapists},
        closure_reasons={
            day: free.closure_reason(day) for day in (first_day + timedelta(n) for n in range(days))
        },
        working_weekdays=frozenset(p.weekday for s in data.schedules for p in s.periods),
        policy=data.policy,
        min_notice=free.policy.min_notice,
        zone_name=str(data.zone),
    )


def availability(
    *,
    technique: Technique,
    first_day: date,
    days: int,
    now: datetime,
    version: int | None = None,
    **choice,
) -> CachedAvailability:
    """Free starts online (the clinic's policy) per day, from the cache when it has them.

    ``choice`` is :func:`selectors.free_starts`'s other arguments (length, therapist,
    party size, gender, appointments being moved ...), all of them part of the key.
    One query (the version) on a hit; the version and the selector's own on a miss.
    ``version``: :func:`schedule_version.current` as the caller read it, *before* it
    loaded anything it passes here (the technique, the therapist ...); then a hit makes
    no query at all."""
    if version is None:
        version = schedule_version.current()  # first: see the module's docstring
    minute = int(now.timestamp() // 60)
    key = _key(
        version=version, minute=minute, technique=technique, first_day=first_day, days=days, choice=choice
    )
    answer = recent_answers.get(key)
    if answer is None:
        answer = cache.get(key)
        if answer is not None:
            recent_answers.put(key, answer)
    if answer is None:
        answer = _compute(
            technique=technique,
            first_day=first_day,
            days=days,
            now=datetime.fromtimestamp(minute * 60, UTC),
            choice=choice,
        )
        cache.set(key, answer, TIMEOUT_SECONDS)
        recent_answers.put(key, answer)
    return answer.from_now(now)


@dataclass
class CachedWeek:
    """What the day strip and the time list need (see ``views._times_context``)."""

    days: list[selectors.DaySummary]
    therapist_ids_by_start: dict[datetime, tuple[int, ...]]
    policy: BookingPolicy
    zone: ZoneInfo
    named_therapist: bool


def week(*, technique: Technique, first_day: date, now: datetime, days: int = 7, **choice) -> CachedWeek:
    """:func:`selectors.week_availability`'s day summaries, through the cache (``choice``:
    its other arguments)."""
    answer = availability(technique=technique, first_day=first_day, days=days, now=now, **choice)
    zone = answer.zone
    today = now.astimezone(zone).date()
    last_day = (now + timedelta(days=answer.policy.horizon_days)).astimezone(zone).date()
    summaries = []
    by_start: dict[datetime, tuple[int, ...]] = {}
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        entries = answer.merged.get(day, [])
        by_start.update(entries)
        summaries.append(
            selectors.DaySummary(
                day=day,
                starts=[start for start, _ in entries],
                closed_reason=answer.closure_reasons.get(day, ""),
                bookable=today <= day <= last_day,
                working=day.weekday() in answer.working_weekdays,
            )
        )
    party_size = choice.get("party_size", 1)
    return CachedWeek(
        days=summaries,
        therapist_ids_by_start=by_start,
        policy=answer.policy,
        zone=zone,
        # As week_availability says it: one therapist chosen (for a pair, either seat).
        named_therapist=choice.get("therapist") is not None
        if party_size == 1
        else any(choice.get("therapists") or ()),
    )
