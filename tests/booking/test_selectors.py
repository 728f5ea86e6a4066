import gc
from datetime import UTC, datetime, timedelta

import pytest

from booking import selectors
from booking.availability import SlotProblem
from booking.models import Client
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import ClientFactory, TherapistFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("therapists", "days"), [(1, 1), (3, 7), (25, 31)])
def test_availability_load_runs_two_queries(swedish, django_assert_max_num_queries, therapists, days):
    team = [TherapistFactory(techniques=[swedish]) for _ in range(therapists)]
    length = swedish.lengths.get(duration_minutes=60)
    now = datetime(2026, 11, 23, 7, 0, tzinfo=LONDON)
    for offset in range(min(days, 5)):
        for therapist in team:
            appointments.appointment_book(
                technique=swedish, length=length, therapist=therapist, now=now,
                start=datetime(2026, 11, 23, 10, tzinfo=LONDON) + timedelta(days=offset),
                client=appointments.ClientDetails("A", "a@example.com", "1"),
            )  # fmt: skip
    # The therapists with the policy; their hours, time off, closures and appointments.
    with django_assert_max_num_queries(2):
        data = selectors.availability_load(technique=swedish, first_day=now.date(), days=days)
    assert len(data.schedules) == therapists
    assert all(len(s.periods) == 6 for s in data.schedules)
    slots = selectors.free_starts(
        technique=swedish, length=length, first_day=now.date(), days=days, now=now
    ).by_therapist
    assert datetime(2026, 11, 23, 10, tzinfo=LONDON) not in slots[team[0].pk][now.date()]
    assert datetime(2026, 11, 23, 12, tzinfo=LONDON) in slots[team[0].pk][now.date()]


def test_only_active_therapists_who_offer_the_technique(swedish):
    offering = TherapistFactory(techniques=[swedish])
    TherapistFactory(techniques=[swedish], active=False)
    TherapistFactory()
    data = selectors.availability_load(technique=swedish, first_day=datetime(2026, 11, 23).date(), days=1)
    assert [t.pk for t in data.therapists] == [offering.pk]


def test_free_starts_explains_what_it_does_not_offer(swedish):
    from booking.availability import SlotProblem
    from booking.models import Closure

    anna = TherapistFactory(techniques=[swedish])
    length = swedish.lengths.get(duration_minutes=60)
    now = datetime(2026, 11, 23, 7, 0, tzinfo=LONDON)
    Closure.objects.create(first_day=now.date(), last_day=now.date(), reason="Holiday")
    free = selectors.free_starts(technique=swedish, length=length, first_day=now.date(), days=2, now=now)
    assert free.by_therapist[anna.pk][now.date()] == []
    assert free.why_not(datetime(2026, 11, 23, 10, tzinfo=LONDON)) == SlotProblem.CLOSED
    assert free.closure_reason(now.date()) == "Holiday"
    tuesday_ten = datetime(2026, 11, 24, 10, tzinfo=LONDON)
    assert free.why_not(tuesday_ten) is None and free.therapists_free_at(tuesday_ten) == [anna]
    # Staff: any 5-minute mark, and with the override any hour of the day.
    staff = selectors.free_starts(
        technique=swedish,
        length=length,
        first_day=now.date(),
        days=2,
        now=now,
        staff=True,
        ignore_working_hours=True,
    )
    assert datetime(2026, 11, 24, 20, 5, tzinfo=LONDON) in staff.by_therapist[anna.pk][tuesday_ten.date()]


def test_staff_obstacles_name_what_is_in_the_way(swedish):
    from booking.availability import SlotProblem
    from booking.models import TimeOff
    from tests.factories import appointment_row

    anna = TherapistFactory(techniques=[swedish])
    start = datetime(2026, 11, 24, 10, tzinfo=LONDON)
    other = appointment_row(anna, swedish, start)
    absence = TimeOff.objects.create(therapist=anna, start=start, end=start + timedelta(hours=1))
    obstacles = selectors.staff_obstacles(
        therapist=anna, technique=swedish, start=start + timedelta(minutes=32), duration_minutes=60,
        buffer_minutes=15, allow_outside_hours=False,
    )  # fmt: skip
    assert [(o.problem, o.appointment, o.time_off) for o in obstacles] == [
        (SlotProblem.OFF_GRID, None, None),
        (SlotProblem.TAKEN, other, None),
        (SlotProblem.TIME_OFF, None, absence),
    ]
    late = selectors.staff_obstacles(
        therapist=anna, technique=swedish, start=start.replace(hour=17, minute=30), duration_minutes=60,
        buffer_minutes=15, allow_outside_hours=False,
    )  # fmt: skip
    assert [o.problem for o in late] == [SlotProblem.OUTSIDE_HOURS] and len(late[0].periods) == 1


# Rooms, sessions for two, limits and gender (issue 12) ---------------------------------

MONDAY_EARLY = datetime(2026, 11, 23, 7, 0, tzinfo=LONDON)
MONDAY = MONDAY_EARLY.date()


def ten(minute: int = 0, hour: int = 10):
    return datetime(2026, 11, 23, hour, minute, tzinfo=LONDON)


def room_make(name, *, capacity=1, turnover=0, features=(), order=0, active=True):
    from booking.models import Room

    room = Room.objects.create(
        name=name, capacity=capacity, turnover_minutes=turnover, display_order=order, active=active
    )
    room.features.set(features)
    return room


def feature(slug):
    from booking.models import RoomFeature

    return RoomFeature.objects.get_or_create(slug=slug, defaults={"name": slug.title()})[0]


def in_room(therapist, technique, start, room, minutes=60, **extra):
    from tests.factories import appointment_row

    return appointment_row(
        therapist, technique, start, minutes=minutes, room=room,
        room_until=start + timedelta(minutes=minutes + room.turnover_minutes), **extra,
    )  # fmt: skip


def free_for(technique, length=None, **kwargs):
    length = length or technique.lengths.get(duration_minutes=60)
    kwargs.setdefault("now", MONDAY_EARLY)
    return selectors.free_starts(technique=technique, length=length, first_day=MONDAY, days=1, **kwargs)


def test_without_rooms_nothing_changes_and_no_room_is_given(swedish, django_assert_max_num_queries):
    anna = TherapistFactory(techniques=[swedish])
    room_make("Closed for works", active=False)
    length = swedish.lengths.get(duration_minutes=60)
    with django_assert_max_num_queries(6):
        free = free_for(swedish, length)
    assert not free.rooms_in_use and free.data.room_schedules is None
    assert ten() in free.by_therapist[anna.pk][MONDAY]
    assert free.rooms_free_at(ten(), anna.pk) == []


def test_a_room_taken_with_its_turnover_blocks_every_therapist(swedish, django_assert_max_num_queries):
    anna, ben = TherapistFactory(techniques=[swedish]), TherapistFactory(techniques=[swedish])
    blue = room_make("Blue", turnover=15)
    in_room(anna, swedish, ten(), blue)  # Blue taken 10:00-11:15 (60 min + 15 turnover)
    length = swedish.lengths.get(duration_minutes=60)
    with django_assert_max_num_queries(7):
        free = free_for(swedish, length)
    assert free.rooms_in_use
    # Ben is free at 10:00, but the only room is not; a session at 09:00 would run into it
    # (09:00-10:00 plus 15 minutes' turnover).
    merged = dict(free.merged()[MONDAY])
    assert ten() not in merged and ten(hour=9) not in merged
    assert free.therapists_free_at(ten()) == []  # Ben is free, but no room is
    assert ben.pk in dict(free_for(swedish, length).merged()[MONDAY])[ten(hour=12)]
    assert ten(15, hour=11) in merged and ten(hour=11) not in merged
    assert free.why_not(ten()) == SlotProblem.NO_ROOM
    assert free.rooms_free_at(ten()) == [] and free.rooms_free_at(ten(15, hour=11)) == [blue]
    # Moving that very appointment: its room time is free for the move.
    moved = free_for(swedish, exclude_appointment_ids=[blue.appointments.get().pk])
    assert ten() in dict(moved.merged()[MONDAY])


def test_the_technique_needs_a_room_with_its_features(swedish):
    from booking.models import Technique

    anna = TherapistFactory(techniques=[swedish])
    mat = feature("mat")
    swedish.required_features.set([mat])
    room_make("Plain")
    assert not Technique.objects.bookable().filter(pk=swedish.pk).exists()
    assert selectors.techniques_hidden_online(technique_id=swedish.pk) == [(swedish, "no_room")]
    free = free_for(swedish)
    assert free.by_therapist[anna.pk][MONDAY] == [] and free.why_not(ten()) == SlotProblem.NO_ROOM
    floor = room_make("Floor", features=[mat])
    assert Technique.objects.bookable().filter(pk=swedish.pk).exists()
    assert selectors.techniques_hidden_online(technique_id=swedish.pk) == []
    in_room(anna, swedish, ten(), floor)
    ben = TherapistFactory(techniques=[swedish])
    free = free_for(swedish)
    assert ten() not in free.by_therapist[ben.pk][MONDAY]  # the plain room does not do
    assert free.rooms_free_at(ten(hour=14)) == [floor]


def test_rooms_are_picked_best_fit_then_preferred_then_in_order(swedish):
    shower = feature("shower")
    couples = room_make("Couples", capacity=2, order=0)
    showery = room_make("Shower", features=[shower], order=1)
    plain_b = room_make("Plain B", order=3)
    plain_a = room_make("Plain A", order=2)
    anna = TherapistFactory(techniques=[swedish])
    ben = TherapistFactory(techniques=[swedish], preferred_room=plain_b)
    free = free_for(swedish)
    # A single session keeps out of the couples room and the shower room while plain ones are free.
    assert free.rooms_free_at(ten(), anna.pk) == [plain_a, plain_b, couples, showery]
    assert free.rooms_free_at(ten(), ben.pk) == [plain_b, plain_a, couples, showery]
    # Taken rooms are left out.
    in_room(anna, swedish, ten(), plain_b)
    assert free_for(swedish).rooms_free_at(ten(), ben.pk) == [plain_a, couples, showery]


def test_a_session_for_two_needs_two_therapists_and_a_room_for_two(swedish):
    anna, ben, cleo = (TherapistFactory(techniques=[swedish]) for _ in range(3))
    room_make("Single")
    double = room_make("Double", capacity=2, turnover=10)
    in_room(anna, swedish, ten(hour=12), room_make("Other single"))
    in_room(ben, swedish, ten(hour=12, minute=0) + timedelta(hours=2), double)  # 14:00-15:10
    free = free_for(swedish, party_size=2)
    merged = dict(free.merged()[MONDAY])
    assert merged[ten()] == (anna.pk, ben.pk, cleo.pk)
    # 12:00: Anna is busy, Ben and Cleo can go.
    assert merged[ten(hour=12)] == (ben.pk, cleo.pk)
    assert {(a.pk, b.pk) for a, b in free.pairs_free_at(ten(hour=12))} == {
        (ben.pk, cleo.pk),
        (cleo.pk, ben.pk),
    }
    # 14:00: the room for two is taken (a single room is free, but does not hold two).
    assert ten(hour=14) not in merged and free.why_not(ten(hour=14)) == SlotProblem.NO_ROOM
    assert free.rooms_free_at(ten()) == [double]
    # Named seats: Anna and someone else; at 12:00 Anna is busy, so no pair.
    named = free_for(swedish, party_size=2, therapists=(anna, None))
    named_merged = dict(named.merged()[MONDAY])
    assert ten() in named_merged and ten(hour=12) not in named_merged
    assert named.why_not(ten(hour=12)) == SlotProblem.TAKEN
    # Fairest first: Ben already has a booking that day, Cleo none.
    assert [(a.pk, b.pk) for a, b in named.pairs_free_at(ten())] == [(anna.pk, cleo.pk), (anna.pk, ben.pk)]
    # One therapist cannot take both seats.
    alone = free_for(swedish, party_size=2, therapists=(cleo, cleo))
    assert alone.merged()[MONDAY] == [] and alone.why_not(ten()) == SlotProblem.TAKEN


def test_daily_and_stretch_limits(swedish):
    from tests.factories import appointment_row

    swedish.buffer_minutes = 5
    swedish.save()
    anna = TherapistFactory(techniques=[swedish], max_continuous_minutes=120, max_daily_minutes=180)
    appointment_row(anna, swedish, ten(hour=12), buffer_minutes=5)  # 12:00-13:00
    appointment_row(anna, swedish, ten(5, hour=13), buffer_minutes=5)  # 13:05-14:05, a 5-minute gap
    free = free_for(swedish, staff=True)
    starts = free.by_therapist[anna.pk][MONDAY]
    # 14:10 would make 180 minutes with gaps under 15; from 14:20 the gap is a break.
    assert ten(10, hour=14) not in starts and ten(20, hour=14) in starts
    assert free.why_not(ten(10, hour=14)) == SlotProblem.STRETCH_LIMIT
    # Before: 10:50-11:50 leaves a 10-minute gap to 12:00 (joins: too long); 10:45 is fine.
    assert ten(50, hour=10) not in starts and ten(45, hour=10) in starts
    appointment_row(anna, swedish, ten(hour=16), buffer_minutes=5)  # 180 of 180 minutes used
    free = free_for(swedish, staff=True)
    assert free.by_therapist[anna.pk][MONDAY] == []
    assert free.why_not(ten(hour=9)) == SlotProblem.DAY_LIMIT
    # The next day is a new day.
    tomorrow = ten(hour=12) + timedelta(days=1)
    length = swedish.lengths.get(duration_minutes=60)
    later = selectors.free_starts(
        technique=swedish, length=length, first_day=MONDAY, days=2, now=MONDAY_EARLY, staff=True
    )
    assert tomorrow in later.by_therapist[anna.pk][tomorrow.date()]


def test_gender_limits_any_available(swedish):
    from booking.choices import TherapistGender

    fay = TherapistFactory(techniques=[swedish], gender=TherapistGender.FEMALE)
    max_ = TherapistFactory(techniques=[swedish], gender=TherapistGender.MALE)
    TherapistFactory(techniques=[swedish])  # not stated: matches no preference only
    assert [t.pk for t in free_for(swedish, gender="female").therapists_free_at(ten())] == [fay.pk]
    assert [t.pk for t in free_for(swedish, gender="male").therapists_free_at(ten())] == [max_.pk]
    assert len(free_for(swedish, gender="none").therapists_free_at(ten())) == 3
    pair = free_for(swedish, party_size=2, gender="female")
    room_make("Double", capacity=2)
    assert pair.merged()[MONDAY] == []  # one woman cannot take both seats


def test_any_available_over_30_days_with_rooms_runs_at_most_eight_queries(
    swedish, django_assert_max_num_queries
):
    team = [TherapistFactory(techniques=[swedish]) for _ in range(5)]
    rooms = [room_make(f"Room {n}", turnover=10) for n in range(3)]
    for offset in range(5):
        for therapist, room in zip(team, rooms, strict=False):
            in_room(therapist, swedish, ten() + timedelta(days=offset), room)
    length = swedish.lengths.get(duration_minutes=60)
    with django_assert_max_num_queries(8):
        free = selectors.free_starts(
            technique=swedish, length=length, first_day=MONDAY, days=30, now=MONDAY_EARLY
        )
        free.merged()
    assert free.rooms_in_use and len(free.data.rooms) == 3


# slot_check: the chosen day first, the week only for alternatives (issue 13) -----------

TUESDAY = datetime(2026, 11, 24, tzinfo=LONDON)


def tuesday(hour: int, minute: int = 0) -> datetime:
    return TUESDAY.replace(hour=hour, minute=minute)


def slot_check_by_week(*, start, now, alternatives=6, **choice) -> selectors.SlotCheck:
    """slot_check as it was before issue 13, the week loaded for every check: the answer
    the one-day check has to give."""
    from booking.availability import nearest_starts

    day = start.astimezone(selectors.clinic_zone()).date()
    week = selectors.week_availability(first_day=day, now=now, **choice)
    problem = None if start in week.therapist_ids_by_start else week.free.why_not(start)
    taken = problem in selectors.TAKEN_LIKE
    return selectors.SlotCheck(
        problem=problem,
        alternatives=nearest_starts(week.therapist_ids_by_start, start, alternatives) if taken else [],
        therapists=week.therapists,
        policy=week.policy,
        engine_policy=week.engine_policy,
        closure_reason=week.free.closure_reason(day),
    )


def _any(*_made) -> dict:
    """The choice for "any available therapist", once ``_made`` (the team) is made."""
    return {}


def _limits(swedish):
    from tests.factories import appointment_row

    daily = TherapistFactory(techniques=[swedish], max_daily_minutes=180)
    for hour in (9, 12, 16):  # 180 of 180 minutes, no stretch too long
        appointment_row(daily, swedish, tuesday(hour))
    return daily


def _stretch(swedish):
    from tests.factories import appointment_row

    bea = TherapistFactory(techniques=[swedish], max_continuous_minutes=120)
    appointment_row(bea, swedish, tuesday(12), buffer_minutes=5)  # 12:00-13:00
    appointment_row(bea, swedish, tuesday(13, 5), buffer_minutes=5)  # 13:05-14:05: one stretch
    return bea


def _room_taken(swedish):
    anna, ben = TherapistFactory(techniques=[swedish]), TherapistFactory(techniques=[swedish])
    in_room(ben, swedish, tuesday(10), room_make("Only", turnover=10))
    return anna


def _closed(swedish):
    from booking.models import Closure

    anna = TherapistFactory(techniques=[swedish])
    Closure.objects.create(first_day=TUESDAY.date(), last_day=TUESDAY.date(), reason="Holiday")
    Closure.objects.create(
        first_day=TUESDAY.date(), last_day=TUESDAY.date() + timedelta(days=2), reason="Works"
    )
    return anna


def _time_off(swedish):
    from booking.models import TimeOff

    anna = TherapistFactory(techniques=[swedish])
    TimeOff.objects.create(therapist=anna, start=tuesday(9), end=tuesday(12))
    return anna


def _evenings(swedish):
    return TherapistFactory(techniques=[swedish], hours={1: [("18:00", "23:59")]})


def _pair(swedish, *, busy: int):
    """Anna, Ben and Cleo and a room for two; the first ``busy`` of them booked at 10:00."""
    from tests.factories import appointment_row

    team = [TherapistFactory(techniques=[swedish]) for _ in range(3)]
    room_make("Double", capacity=2, turnover=10)
    for therapist in team[:busy]:
        appointment_row(therapist, swedish, tuesday(10))
    return team


def _genders(swedish):
    from booking.choices import TherapistGender
    from tests.factories import appointment_row

    fay = TherapistFactory(techniques=[swedish], gender=TherapistGender.FEMALE)
    TherapistFactory(techniques=[swedish], gender=TherapistGender.MALE)
    appointment_row(fay, swedish, tuesday(10))


def _moving(swedish):
    """Anna's 10:00 and 12:00 are being moved; her 14:00 stays."""
    from tests.factories import appointment_row

    anna = TherapistFactory(techniques=[swedish])
    moved = [appointment_row(anna, swedish, tuesday(hour)).pk for hour in (10, 12)]
    appointment_row(anna, swedish, tuesday(14))
    return anna, moved


def _sunday_nights(swedish, booked: datetime):
    """A therapist who works the small hours of Sundays, booked for an hour (and its
    15 minutes' cleanup) from ``booked``, on a day the clocks change."""
    from tests.factories import appointment_row

    owl = TherapistFactory(techniques=[swedish], hours={6: [("00:00", "06:00")]})
    # In UTC: the factory adds the hour to the time it is given, on the wall clock.
    appointment_row(owl, swedish, booked.astimezone(UTC))
    return owl


SPRING = datetime(2026, 3, 29, tzinfo=LONDON)  # 01:00 GMT becomes 02:00 BST
AUTUMN = datetime(2026, 10, 25, tzinfo=LONDON)  # 02:00 BST becomes 01:00 GMT


# name: (what to make, returning the choice; the start; "now"; the problem expected)
SLOT_CASES = {
    "free, named": (lambda s: {"therapist": TherapistFactory(techniques=[s])}, tuesday(10), None, None),
    "free, any": (
        lambda s: _any(TherapistFactory(techniques=[s]), TherapistFactory(techniques=[s])),
        tuesday(10),
        None,
        None,
    ),
    "free, start in UTC": (
        lambda s: {"therapist": TherapistFactory(techniques=[s])},
        tuesday(10).astimezone(UTC),
        None,
        None,
    ),
    "taken, named": (
        lambda s: {"therapist": _moving(s)[0]},
        tuesday(10),
        None,
        SlotProblem.TAKEN,
    ),
    "day limit": (lambda s: {"therapist": _limits(s)}, tuesday(14), None, SlotProblem.DAY_LIMIT),
    "day limit, any": (lambda s: _any(_limits(s)), tuesday(14), None, SlotProblem.DAY_LIMIT),
    "stretch limit": (lambda s: {"therapist": _stretch(s)}, tuesday(14, 15), None, SlotProblem.STRETCH_LIMIT),
    "no room": (lambda s: {"therapist": _room_taken(s)}, tuesday(10), None, SlotProblem.NO_ROOM),
    "no room, any": (lambda s: _any(_room_taken(s)), tuesday(10), None, SlotProblem.NO_ROOM),
    "closed": (lambda s: {"therapist": _closed(s)}, tuesday(10), None, SlotProblem.CLOSED),
    "time off": (lambda s: {"therapist": _time_off(s)}, tuesday(10), None, SlotProblem.TIME_OFF),
    "outside hours": (
        lambda s: {"therapist": TherapistFactory(techniques=[s])},
        tuesday(17, 30),
        None,
        SlotProblem.OUTSIDE_HOURS,
    ),
    "overnight": (lambda s: {"therapist": _evenings(s)}, tuesday(23, 30), None, SlotProblem.OVERNIGHT),
    "day off": (
        lambda s: {"therapist": TherapistFactory(techniques=[s])},
        tuesday(10) + timedelta(days=5),
        None,
        SlotProblem.DAY_OFF,
    ),
    "past": (lambda s: _any(TherapistFactory(techniques=[s])), ten(hour=6), None, SlotProblem.PAST),
    "notice": (lambda s: _any(TherapistFactory(techniques=[s])), ten(hour=8), None, SlotProblem.NOTICE),
    "horizon": (
        lambda s: _any(TherapistFactory(techniques=[s])),
        tuesday(10) + timedelta(days=70),
        None,
        SlotProblem.HORIZON,
    ),
    "off grid": (
        lambda s: _any(TherapistFactory(techniques=[s])),
        tuesday(10, 7),
        None,
        SlotProblem.OFF_GRID,
    ),
    "two, any, free": (lambda s: _any(_pair(s, busy=0)) | {"party_size": 2}, tuesday(10), None, None),
    "two, any, one free": (
        lambda s: _any(_pair(s, busy=2)) | {"party_size": 2},
        tuesday(10),
        None,
        SlotProblem.TAKEN,
    ),
    "two, named, one busy": (
        lambda s: {"party_size": 2, "therapists": tuple(_pair(s, busy=1)[:2])},
        tuesday(10),
        None,
        SlotProblem.TAKEN,
    ),
    "two, one named, the other any": (
        lambda s: {"party_size": 2, "therapists": (_pair(s, busy=1)[1], None)},
        tuesday(10),
        None,
        None,
    ),
    "two, no room for two": (
        lambda s: (
            [TherapistFactory(techniques=[s]) for _ in range(2)] and room_make("Single") and {"party_size": 2}
        ),
        tuesday(10),
        None,
        SlotProblem.NO_ROOM,
    ),
    "gender, the only woman busy": (
        lambda s: _any(_genders(s)) | {"gender": "female"},
        tuesday(10),
        None,
        SlotProblem.TAKEN,
    ),
    "gender, a man free": (lambda s: _any(_genders(s)) | {"gender": "male"}, tuesday(10), None, None),
    "moving, its own time": (
        lambda s: dict(zip(("therapist", "exclude_appointment_ids"), _moving(s), strict=True)),
        tuesday(10),
        None,
        None,
    ),
    "moving, onto another booking": (
        lambda s: dict(zip(("therapist", "exclude_appointment_ids"), _moving(s), strict=True)),
        tuesday(14),
        None,
        SlotProblem.TAKEN,
    ),
    "clocks forward, taken": (
        lambda s: {"therapist": _sunday_nights(s, SPRING)},
        SPRING.replace(hour=2),  # 01:00 UTC: the cleanup of the 00:00 (GMT) booking
        datetime(2026, 3, 23, 7, tzinfo=LONDON),
        SlotProblem.TAKEN,
    ),
    "clocks forward, free": (
        lambda s: {"therapist": _sunday_nights(s, SPRING)},
        SPRING.replace(hour=2, minute=15),
        datetime(2026, 3, 23, 7, tzinfo=LONDON),
        None,
    ),
    "clocks back, the first 01:30": (
        lambda s: {"therapist": _sunday_nights(s, AUTUMN.replace(hour=1))},
        AUTUMN.replace(hour=1, minute=30),  # 00:30 UTC: inside the 01:00 (BST) booking
        datetime(2026, 10, 19, 7, tzinfo=LONDON),
        SlotProblem.TAKEN,
    ),
    "clocks back, the second 01:30": (
        lambda s: {"therapist": _sunday_nights(s, AUTUMN.replace(hour=1))},
        AUTUMN.replace(hour=1, minute=30, fold=1),  # 01:30 UTC: after it and its cleanup
        datetime(2026, 10, 19, 7, tzinfo=LONDON),
        None,
    ),
}


@pytest.mark.parametrize("case", SLOT_CASES)
def test_slot_check_answers_as_the_week_did(swedish, case):
    """The one-day check (and the week, for a taken-like time) gives exactly the answer of
    the week loaded every time: problem, alternatives, therapists, policies, closure."""
    make, start, now, expected = SLOT_CASES[case]
    choice = {"therapist": None, **make(swedish)}
    now = now or MONDAY_EARLY
    length = swedish.lengths.get(duration_minutes=60)
    moved = choice.pop("exclude_appointment_ids", ())
    check = selectors.slot_check(
        technique=swedish, length=length, start=start, now=now,
        exclude_appointment_ids=iter(moved), **choice,
    )  # fmt: skip
    assert check.problem == expected
    assert check == slot_check_by_week(
        technique=swedish, length=length, start=start, now=now, exclude_appointment_ids=moved, **choice
    )
    # Taken-like times offer neighbours; others none.
    assert bool(check.alternatives) == (expected in selectors.TAKEN_LIKE and case != "two, no room for two")
    assert bool(check.closure_reason) == (expected == SlotProblem.CLOSED)


def test_the_slot_cases_cover_every_problem():
    assert {expected for *_, expected in SLOT_CASES.values()} == {None, *SlotProblem}


def test_slot_check_loads_the_week_only_for_a_taken_like_time(
    swedish, monkeypatch, django_assert_num_queries
):
    """A free time: one load and one engine pass, of the chosen day. A taken one: the week
    as well, for its alternatives, which can come from the following days."""
    from booking import availability
    from tests.factories import appointment_row

    anna = TherapistFactory(techniques=[swedish])
    for hour in range(9, 18):  # Tuesday booked from opening to closing
        appointment_row(anna, swedish, tuesday(hour), buffer_minutes=0)
    engine_days = []
    free_slots = availability.free_slots

    def counted(**kwargs):
        engine_days.append(kwargs["days"])
        return free_slots(**kwargs)

    monkeypatch.setattr(availability, "free_slots", counted)
    length = swedish.lengths.get(duration_minutes=60)
    ask = {"technique": swedish, "length": length, "therapist": None, "now": MONDAY_EARLY}
    # The therapists with the policy; their hours, time off, closures and appointments.
    with django_assert_num_queries(2):
        free = selectors.slot_check(start=tuesday(10) + timedelta(days=1), **ask)
    assert free.problem is None and free.alternatives == [] and engine_days == [1]
    engine_days.clear()
    with django_assert_num_queries(4):
        taken = selectors.slot_check(start=tuesday(17), **ask)
    assert taken.problem == SlotProblem.TAKEN and engine_days == [1, 7]
    # Nothing is free on Tuesday: the nearest times are Wednesday's first six.
    wednesday_nine = tuesday(9) + timedelta(days=1)
    assert taken.alternatives == [wednesday_nine + timedelta(minutes=15 * n) for n in range(6)]


def load_statement_plan(statement, values) -> str:
    """The database's plan for one of the load's prepared statements with these values."""
    from django.db import connection

    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(explain + statement.sql, statement.bind(values, connection))
        return "\n".join(" ".join(map(str, row)) for row in cursor.fetchall())


@pytest.mark.parametrize("rooms", [False, True])
def test_the_appointments_query_reads_an_index_not_the_history(swedish, rooms):
    """Five years of past appointments (in a room, with rooms): the query for a few days
    must not read them all.
    PostgreSQL: the plan scans the exclusion constraints' GiST indexes (range overlap):
    the therapists' with their ids, and the rooms' for the sessions in a room; no
    sequential scan of booking_appointment and none of the btree indexes on therapist or
    room, which hold the history. SQLite: the plan searches the start index with both
    bounds."""
    from django.db import connection

    from booking.models import Appointment
    from tests.factories import appointment_row

    anna = TherapistFactory(techniques=[swedish])
    blue = room_make("Blue", turnover=10)
    first = appointment_row(anna, swedish, datetime(2021, 11, 23, 10, tzinfo=LONDON))
    history = []
    for n in range(1, 5 * 366 * 4):  # four a day, every day, for five years and more
        start = first.start + timedelta(hours=6 * n)
        history.append(
            Appointment(
                therapist=anna, technique=swedish, client=first.client, duration_minutes=60, price=55,
                buffer_minutes=15, start=start, end=start + timedelta(minutes=60),
                occupied_until=start + timedelta(minutes=75), client_name="A", client_email="a@example.com",
                client_phone="1", reference=f"H{n:08d}",
                **({"room": blue, "room_until": start + timedelta(minutes=70)} if rooms else {}),
            )
        )  # fmt: skip
    Appointment.objects.bulk_create(history, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE booking_appointment" if connection.vendor == "postgresql" else "ANALYZE")
    window_start = datetime(2026, 11, 22, tzinfo=LONDON)
    window_end = window_start + timedelta(days=3)
    query = selectors.appointments_meeting(
        therapist_ids=[anna.pk], rooms=rooms, window_start=window_start, window_end=window_end
    ).values_list(
        "therapist_id",
        selectors.UtcText("start"),
        selectors.UtcText("end"),
        selectors.UtcText("occupied_until"),
        "room_id",
        selectors.UtcText("room_until"),
    )
    rows = list(query)
    assert len(rows) == 12  # the 3 days' rows, no more
    # The statement the load runs (compiled once, see booking/prepared_sql.py) finds the
    # same rows, by the same plan.
    # The load reads them with the schedule, in one statement.
    statement = selectors._schedule_statement(connection.vendor, 1, rooms, 0)
    values = {
        "ids": [anna.pk],
        "window_start": window_start,
        "window_end": window_end,
        "earliest_start": window_start - selectors.LONGEST_APPOINTMENT,
        "excluded": [],
        "first_day": window_start.date(),
        "days_end": window_end.date(),
    }
    found = [row for row in statement.run(values, connection) if row[0] == selectors._APPOINTMENT]
    as_in_window = [(row[1], row[3], row[4], row[5], row[2], row[6]) for row in found]
    assert sorted(as_in_window) == sorted(rows)
    for plan in (query.explain(), load_statement_plan(statement, values)):
        if connection.vendor == "postgresql":
            assert "Seq Scan on booking_appointment" not in plan, plan
            # Both the therapist and the window in the GiST index's condition.
            assert "Index Scan on appointment_no_overlap" in plan and "therapist_id = " in plan, plan
            assert ("Index Scan on appointment_room_no_overlap" in plan) is rooms, plan
            assert "booking_appointment_therapist_id" not in plan, plan
            assert "booking_appointment_room_id" not in plan, plan
        else:
            assert "SCAN booking_appointment" not in plan, plan
            assert "SEARCH booking_appointment USING INDEX" in plan and "start>? AND start<?" in plan, plan
    if connection.vendor == "postgresql":
        # The history is large enough to matter: bounded by the end alone (as before),
        # the planner reads the whole table.
        naive = (
            Appointment.objects.occupying()
            .filter(therapist_id=anna.pk, start__lt=window_end, occupied_until__gt=window_start)
            .values_list("start", "occupied_until")
        )
        assert "Seq Scan on booking_appointment" in naive.explain()


def test_past_time_off_is_not_read(swedish):
    """Years of past time off: the load's schedule query reads the time off that ends after
    its window starts from the (therapist, end) index, not all of the therapist's."""
    from django.db import connection

    from booking.models import TimeOff

    anna = TherapistFactory(techniques=[swedish])
    long_ago = datetime(2016, 11, 23, 9, tzinfo=LONDON)
    TimeOff.objects.bulk_create(
        [
            TimeOff(
                therapist=anna, start=long_ago + timedelta(days=n), end=long_ago + timedelta(days=n, hours=2)
            )
            for n in range(0, 3650, 2)  # an afternoon off every other day for ten years
        ]
    )
    TimeOff.objects.create(therapist=anna, start=ten(hour=14), end=ten(hour=16))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE booking_timeoff" if connection.vendor == "postgresql" else "ANALYZE")
    statement = selectors._schedule_statement(connection.vendor, 1, False, 0)
    values = {
        "ids": [anna.pk],
        "earliest_start": datetime(2026, 11, 22, tzinfo=LONDON) - selectors.LONGEST_APPOINTMENT,
        "excluded": [],
        "window_start": datetime(2026, 11, 22, tzinfo=LONDON),
        "window_end": datetime(2026, 11, 25, tzinfo=LONDON),
        "first_day": MONDAY,
        "days_end": MONDAY + timedelta(days=1),
    }
    assert [row[0] for row in statement.run(values, connection)].count(2) == 1  # the one time off
    plan = load_statement_plan(statement, values)
    if connection.vendor == "postgresql":
        assert "Seq Scan on booking_timeoff" not in plan and "time_off_therapist_end" in plan, plan
    else:
        assert (
            "SEARCH booking_timeoff USING INDEX time_off_therapist_end (therapist_id=? AND end>?)" in plan
        ), plan
    data = selectors.availability_load(technique=swedish, first_day=MONDAY, days=1)
    assert data.schedules[0].time_off == [
        engine_interval(ten(hour=14), ten(hour=16)),
    ]


def engine_interval(start, end):
    from datetime import UTC

    from booking import availability as engine

    return engine.Interval(start.astimezone(UTC), end.astimezone(UTC))


def test_the_load_compiles_its_sql_once_per_shape(swedish, monkeypatch, django_assert_num_queries):
    """The second lookup of the same shape (any number of days, other values) builds and
    compiles no query: only the database's work and the rows' are left (issue 13)."""
    from django.db.models.sql.compiler import SQLCompiler

    anna, ben = TherapistFactory(techniques=[swedish]), TherapistFactory(techniques=[swedish])
    room_make("Blue")
    for builder in (
        selectors._therapists_statement,
        selectors._schedule_statement,
        selectors._rooms_statement,
    ):
        builder.cache_clear()  # as in a new process: earlier tests compiled some shapes
    selectors.free_starts(technique=swedish, length=swedish.lengths.first(), first_day=MONDAY, days=1)
    compiled = []
    original = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append(self) or original(self, *a, **k)
    )
    counts = []
    for days, therapist in [(1, None), (30, None), (7, anna), (1, ben)]:
        with django_assert_num_queries(3):  # therapists, schedule with appointments, rooms
            data = selectors.availability_load(
                technique=swedish, first_day=MONDAY, days=days, therapist=therapist
            )
        assert [t.pk for t in data.therapists] == ([therapist.pk] if therapist else [anna.pk, ben.pk])
        counts.append(len(compiled))
    # Everyone's statements were compiled by the first lookup; one therapist's by Anna's.
    assert counts[:2] == [0, 0] and counts[2] > 0 and counts[3] == counts[2]
    assert data.therapists[0] == ben and data.therapists[0].name == ben.name and data.policy.pk == 1


def test_the_garbage_collector_is_paused_only_while_loading(swedish):
    import gc

    TherapistFactory(techniques=[swedish])
    assert gc.isenabled()
    selectors.availability_load(technique=swedish, first_day=MONDAY, days=1)
    assert gc.isenabled()
    gc.disable()
    try:
        selectors.availability_load(technique=swedish, first_day=MONDAY, days=1)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_parsed_instants_are_kept_for_the_process_within_a_bound(monkeypatch):
    from datetime import UTC

    monkeypatch.setattr(selectors, "_PARSED_LIMIT", 3)
    parsed = selectors._instants()
    parsed.clear()
    parsed[None] = None
    for hour in range(4):
        assert parsed[f"2026-11-23 0{hour}:00:00"] == datetime(2026, 11, 23, hour, tzinfo=UTC)
    assert selectors._instants() is parsed and len(parsed) == 1 and parsed[None] is None  # emptied


@pytest.mark.parametrize("shuffled", [False, True])
def test_appointment_columns_group_by_therapist_in_the_databases_order(shuffled):
    """The schedule's appointment rows as columns, grouped by therapist with each one's
    rows in the order the database gave (start order): whether the appointments come
    last, as a UNION ALL's parts do in practice, or mixed with the other kinds."""
    hours, closure = (1, 7, 0, "09:00:00", "18:00:00", None, None), (3, None, None, "a", "b", "c", None)
    appointments = [
        (4, 9, None, "10:00", "11:00", "11:15", None),
        (4, 7, 2, "10:30", "11:30", "11:45", "11:40"),
        (4, 9, 1, "12:00", "13:00", "13:15", "13:10"),
        (4, 7, None, "09:00", "10:00", "10:15", None),
    ]
    schedule = [hours, *appointments, closure] if shuffled else [hours, closure, *appointments]
    columns, first = selectors._appointment_columns(schedule)
    assert schedule[:first] == [hours, closure]
    assert [list(column) for column in columns] == [
        [4, 4, 4, 4],
        [7, 7, 9, 9],
        [2, None, None, 1],
        ["10:30", "09:00", "10:00", "12:00"],
        ["11:30", "10:00", "11:00", "13:00"],
        ["11:45", "10:15", "11:15", "13:15"],
        ["11:40", None, None, "13:10"],
    ]


@pytest.mark.parametrize("schedule", [[], [(1, 7, 0, "09:00:00", "18:00:00", None, None)]])
def test_appointment_columns_with_no_appointment(schedule):
    columns, first = selectors._appointment_columns(list(schedule))
    assert first == len(schedule) and [list(column) for column in columns] == [[]] * 7


def test_hands_on_ends_are_parsed_when_first_read():
    """Only the limits read the hands-on ends: the load leaves them as text until then,
    and they read as any Intervals' do (and can be replaced)."""
    from datetime import UTC

    from booking import availability as engine

    nine, ten, eleven = (datetime(2026, 11, 23, hour, tzinfo=UTC) for hour in (9, 10, 11))
    hands_on = selectors._HandsOn(
        [nine, ten], ("2026-11-23 10:00:00", "2026-11-23 11:00:00"), selectors._ParsedUtc()
    )
    assert hands_on._ends is None and len(hands_on) == 2
    assert hands_on == engine.Intervals([nine, ten], [ten, eleven])
    assert hands_on.ends == [ten, eleven] and hands_on._end_texts is None
    hands_on.ends = [ten, ten]
    assert list(hands_on) == [engine.Interval(nine, ten), engine.Interval(ten, ten)]


def test_appointments_load_as_lists_of_utc_instants_per_therapist_and_room(swedish):
    """The load path reads rows column by column into engine.Intervals: each therapist's
    own appointments (busy with cleanup, hands-on without) and each room's sessions (with
    turnover), as aware UTC instants, whatever order the rows come in."""
    from datetime import UTC
    from operator import attrgetter

    from booking import availability as engine
    from booking.choices import AppointmentStatus
    from tests.factories import appointment_row

    anna, ben, cleo = (TherapistFactory(techniques=[swedish]) for _ in range(3))
    blue = room_make("Blue", turnover=10)
    # Written out of time order, and with some appointments that do not occupy time.
    appointment_row(anna, swedish, ten(hour=14))
    in_room(ben, swedish, ten(hour=15), blue)
    appointment_row(anna, swedish, ten(hour=9), minutes=90)
    in_room(anna, swedish, ten(hour=11), blue)
    appointment_row(cleo, swedish, ten(hour=12), status=AppointmentStatus.CANCELLED)
    outsider = TherapistFactory()  # offers no Swedish: not loaded, but their room session counts
    in_room(outsider, swedish, ten(hour=17), blue)

    data = selectors.availability_load(technique=swedish, first_day=MONDAY, days=1)
    by_id = {s.therapist_id: s for s in data.schedules}
    assert set(by_id) == {anna.pk, ben.pk, cleo.pk}

    def utc(*hours_minutes):
        return [ten(minute, hour=hour).astimezone(UTC) for hour, minute in hours_minutes]

    by_start = attrgetter("start")
    anna_busy = by_id[anna.pk].busy
    assert isinstance(anna_busy, engine.Intervals)
    assert sorted(anna_busy, key=by_start) == [
        engine.Interval(*utc((9, 0), (10, 45))),
        engine.Interval(*utc((11, 0), (12, 15))),
        engine.Interval(*utc((14, 0), (15, 15))),
    ]
    assert sorted(by_id[anna.pk].hands_on, key=by_start) == [
        engine.Interval(*utc((9, 0), (10, 30))),
        engine.Interval(*utc((11, 0), (12, 0))),
        engine.Interval(*utc((14, 0), (15, 0))),
    ]
    assert all(moment.tzinfo is UTC for moment in [*anna_busy.starts, *anna_busy.ends])
    assert list(by_id[ben.pk].busy) == [engine.Interval(*utc((15, 0), (16, 15)))]
    assert list(by_id[cleo.pk].busy) == [] and list(by_id[cleo.pk].hands_on) == []
    (blue_schedule,) = data.room_schedules
    assert sorted(blue_schedule.busy, key=by_start) == [
        engine.Interval(*utc((11, 0), (12, 10))),
        engine.Interval(*utc((15, 0), (16, 10))),
        engine.Interval(*utc((17, 0), (18, 10))),
    ]
    assert all(moment.tzinfo is UTC for moment in [*blue_schedule.busy.starts, *blue_schedule.busy.ends])
    # Counted from the loaded rows when a booking first asks (fair "any available").
    assert data.bookings_per_day[anna.pk, MONDAY] == 3
    assert data.bookings_per_day[ben.pk, MONDAY] == 1 and data.bookings_per_day[cleo.pk, MONDAY] == 0


def test_therapists_with_the_same_hours_share_one_tuple_of_periods(swedish):
    from datetime import time

    from booking import availability as engine

    anna, ben = TherapistFactory(techniques=[swedish]), TherapistFactory(techniques=[swedish])
    cleo = TherapistFactory(techniques=[swedish], hours={0: [("08:00", "12:00"), ("13:00", "16:30")]})
    nobody = TherapistFactory(techniques=[swedish], hours={})
    data = selectors.availability_load(technique=swedish, first_day=MONDAY, days=1)
    periods = {s.therapist_id: s.periods for s in data.schedules}
    assert periods[anna.pk] is periods[ben.pk]
    assert periods[anna.pk] == tuple(engine.WorkingPeriod(d, time(9), time(18)) for d in range(6))
    assert periods[cleo.pk] == (
        engine.WorkingPeriod(0, time(8), time(12)),
        engine.WorkingPeriod(0, time(13), time(16, 30)),
    )
    assert periods[nobody.pk] == ()


def test_no_therapist_offering_the_technique_loads_nothing_without_error(
    swedish, django_assert_max_num_queries
):
    TherapistFactory()  # offers no Swedish
    with django_assert_max_num_queries(4):
        data = selectors.availability_load(technique=swedish, first_day=MONDAY, days=30)
    assert data.therapists == [] and data.schedules == [] and data.bookings_per_day == {}
    assert free_for(swedish).by_therapist == {}


# Therapists' calendar feeds (issue 15) ------------------------------------------------


@pytest.mark.parametrize(
    "secret", ["", "a" * 42, "a" * 44, "a" * 42 + "\x00", "a" * 42 + "é", "a" * 42 + "="]
)
def test_a_malformed_feed_secret_is_not_even_looked_up(secret, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.calendar_feed_by_secret(secret) is None


def test_a_feed_is_found_by_its_secret_only_while_live_and_its_account_active():
    from django.utils import timezone

    from booking import roles
    from booking.services import calendar_feeds
    from tests.factories import user_in_role

    therapist = TherapistFactory()
    user = user_in_role(roles.THERAPIST, "amara", therapist=therapist)
    feed, secret = calendar_feeds.calendar_feed_create(therapist=therapist, by=user)
    assert selectors.calendar_feed_by_secret(secret) == feed
    assert selectors.calendar_feed_live(therapist=therapist) == feed
    assert list(selectors.calendar_feeds_live()) == [feed]
    user.is_active = False
    user.save()
    assert selectors.calendar_feed_by_secret(secret) is None
    user.is_active = True
    user.save()
    feed.revoked_at = timezone.now()
    feed.save()
    assert selectors.calendar_feed_by_secret(secret) is None
    assert selectors.calendar_feed_live(therapist=therapist) is None
    assert list(selectors.calendar_feeds_live()) == []


# Reports (issue 15) ----------------------------------------------------------------------


def test_id_values_passes_any_number_of_ids_as_one_parameter(django_assert_num_queries):
    clients = [ClientFactory() for _ in range(3)]
    # Far more than SQLite allows as separate parameters in one statement (32,766).
    ids = [*range(10**6, 10**6 + 40_000), clients[0].pk, clients[2].pk]
    with django_assert_num_queries(1):
        found = set(Client.objects.filter(pk__in=selectors._id_values(ids)).values_list("pk", flat=True))
    assert found == {clients[0].pk, clients[2].pk}


@pytest.mark.django_db(False)
def test_gc_paused_turns_collection_back_on_only_if_it_was_on():
    assert gc.isenabled()
    with selectors._gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), selectors._gc_paused():
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with selectors._gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's choice is left as it was
    finally:
        gc.enable()


def _checks_by_the_orm(*, email, now, key, technique):
    """What online_booking_checks answers, asked of the ORM one question at a time."""
    from booking.choices import AppointmentStatus
    from booking.models import Appointment, email_key
    from booking.services import intake

    upcoming = Appointment.objects.filter(
        client_email__iexact=email.strip(), status=AppointmentStatus.CONFIRMED, start__gte=now
    ).count()
    existing = (
        Appointment.objects.filter(idempotency_key=key).values_list("pk", flat=True).first() if key else None
    )
    known = Client.objects.filter(email_key=email_key(email.strip())).exists()
    return upcoming, existing, known, intake.rules_for(technique)


@pytest.mark.parametrize("key", [None, "k" * 40])
@pytest.mark.parametrize("rules", [False, True])
@pytest.mark.parametrize("known", [False, True])
def test_online_booking_checks_answer_as_the_orm_and_compile_once_per_shape(
    swedish, monkeypatch, django_assert_num_queries, key, rules, known
):
    """Every shape of the statement (a key or not, the rules or not, the client record or
    not) answers as the ORM's own queries do, and its second run compiles no SQL (issue 13)."""
    from django.db.models.sql.compiler import SQLCompiler

    from booking.choices import AppointmentStatus, RuleOutcome
    from booking.models import HealthRule
    from tests.factories import TechniqueFactory, appointment_row, health_rule

    anna = TherapistFactory(techniques=[swedish])
    now = datetime(2026, 11, 20, 9, tzinfo=LONDON)
    start = datetime(2026, 11, 23, 9, tzinfo=LONDON)
    for hours, email, extra in [
        (0, "Olivia@Example.com", {}),
        (2, "olivia@example.com", {"idempotency_key": "k" * 40}),
        (4, "olivia@example.com", {"status": AppointmentStatus.CANCELLED}),
        (-24 * 7, "olivia@example.com", {}),  # past
        (6, "oxivia@example.com", {}),
    ]:
        appointment_row(anna, swedish, start + timedelta(hours=hours), client_email=email, **extra)
    other = TechniqueFactory()
    health_rule("skin", RuleOutcome.FLAG)
    health_rule("skin", RuleOutcome.DOCTOR_NOTE, technique=swedish, number_min=2, number_max=5)
    health_rule("skin", RuleOutcome.CALL, technique=other)
    HealthRule.objects.filter(question__key="skin", technique=None).update(staff_note="Ask about it")
    inactive = health_rule("oil_allergy", RuleOutcome.CALL)
    inactive.active = False
    inactive.save()
    selectors._online_checks_statement.cache_clear()
    compiled = []
    original = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append(self) or original(self, *a, **k)
    )
    compiles = []
    for email in [" OLIVIA@example.com ", "o_ivia@example.com", "nobody@example.com"]:
        before = len(compiled)
        with django_assert_num_queries(1):
            checks = selectors.online_booking_checks(
                email=email, now=now, idempotency_key=key, technique=swedish, rules=rules, client_known=known
            )
        compiles.append(len(compiled) - before)
        upcoming, existing, is_known, found_rules = _checks_by_the_orm(
            email=email, now=now, key=key, technique=swedish
        )
        expected = (upcoming, existing, is_known if known else None)
        assert (checks.upcoming, checks.existing_id, checks.client_known) == expected, email
        # The same rules (the rules' order among one question's does not change an evaluation).
        assert (sorted(checks.rules, key=repr) if rules else None) == (
            sorted(found_rules, key=repr) if rules else None
        )
    assert compiles[0] > 0 and compiles[1:] == [0, 0]  # compiled by the first run only
    # The figures themselves, lest the ORM's side be wrong too.
    first = selectors.online_booking_checks(
        email="olivia@example.com", now=now, idempotency_key=key, technique=swedish, rules=True
    )
    assert first.upcoming == 2 and first.client_known is True
    assert (first.existing_id is not None) is (key is not None)
    assert [(rule.outcome, rule.technique_id) for rule in first.rules] == [
        (RuleOutcome.FLAG, None),
        (RuleOutcome.DOCTOR_NOTE, swedish.pk),
    ]
