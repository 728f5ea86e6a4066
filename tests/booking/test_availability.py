"""Tests for the pure slot-finding core in booking.availability (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.availability import (
    STRETCH_GAP,
    Interval,
    Intervals,
    Policy,
    RoomSchedule,
    SlotProblem,
    TherapistSchedule,
    WorkingPeriod,
    free_pairs,
    free_slots,
    merge_any,
    pick_rooms,
    pick_therapist,
    slot_problems,
    why_not_free,
)

ZONE_UTC = ZoneInfo("UTC")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)

MONDAY = date(2026, 6, 1)
TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
THURSDAY = MONDAY + timedelta(days=3)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
OPEN_POLICY = Policy(min_notice=timedelta(0), horizon=timedelta(days=5000), step=timedelta(minutes=15))


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = ZONE_UTC, fold: int = 0) -> datetime:
    """A local wall time as a UTC instant."""
    return datetime.combine(day, time(hour, minute, fold=fold), tzinfo=tz).astimezone(UTC)


def hm(slots: Sequence[datetime], tz: ZoneInfo = ZONE_UTC) -> list[str]:
    """Slots as local "HH:MM" strings, for readable assertions."""
    return [s.astimezone(tz).strftime("%H:%M") for s in slots]


def period(weekday: int, start: str, end: str) -> WorkingPeriod:
    return WorkingPeriod(weekday=weekday, start=time.fromisoformat(start), end=time.fromisoformat(end))


def schedule(
    therapist_id: int = 1,
    periods: Sequence[WorkingPeriod] = (),
    time_off: Sequence[Interval] = (),
    busy: Sequence[Interval] = (),
) -> TherapistSchedule:
    return TherapistSchedule(therapist_id=therapist_id, periods=periods, time_off=time_off, busy=busy)


def run(
    schedules: Sequence[TherapistSchedule],
    *,
    first_day: date = MONDAY,
    days: int = 1,
    duration: int = 60,
    buffer: int = 0,
    step: int = 15,
    closures: Sequence[tuple[date, date]] = (),
    policy: Policy | None = None,
    now: datetime = LONG_AGO,
    tz: ZoneInfo = ZONE_UTC,
    **resources,
) -> dict[int, dict[date, list[datetime]]]:
    if policy is None:
        policy = Policy(min_notice=timedelta(0), horizon=timedelta(days=5000), step=timedelta(minutes=step))
    return free_slots(
        schedules=schedules,
        closures=closures,
        first_day=first_day,
        days=days,
        duration=timedelta(minutes=duration),
        buffer=timedelta(minutes=buffer),
        policy=policy,
        now=now,
        tz=tz,
        **resources,
    )


# --------------------------------------------------------------------------- examples


def test_monday_is_a_monday():
    assert MONDAY.weekday() == 0


def test_day_with_lunch_break_offers_slots_in_both_periods_only():
    therapist = schedule(periods=[period(0, "13:00", "17:00"), period(0, "09:00", "12:00")])
    slots = run([therapist], step=30)[1][MONDAY]
    assert hm(slots) == [
        "09:00", "09:30", "10:00", "10:30", "11:00",
        "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00",
    ]  # fmt: skip
    assert all(s.tzinfo is UTC for s in slots)


def test_appointment_may_not_straddle_two_periods():
    # 09:00-12:00 and 12:00-15:00 touch, but a 90-minute appointment from 11:00
    # would need both: it has to fit inside one period.
    therapist = schedule(periods=[period(0, "09:00", "12:00"), period(0, "12:00", "15:00")])
    slots = hm(run([therapist], duration=90, step=30)[1][MONDAY])
    assert slots == ["09:00", "09:30", "10:00", "10:30", "12:00", "12:30", "13:00", "13:30"]


def test_overlapping_periods_offer_each_start_once():
    therapist = schedule(periods=[period(0, "09:00", "12:00"), period(0, "10:00", "13:00")])
    slots = run([therapist], step=60)[1][MONDAY]
    assert hm(slots) == ["09:00", "10:00", "11:00", "12:00"]


def test_busy_appointment_blocks_its_cleanup_buffer_and_the_new_one_needs_its_own():
    # An existing 10:00-11:00 appointment with 15 minutes of cleanup: busy until 11:15.
    therapist = schedule(
        periods=[period(0, "09:00", "13:00")],
        busy=[Interval(at(MONDAY, 10), at(MONDAY, 11, 15))],
    )
    slots = run([therapist], duration=60, buffer=15)[1][MONDAY]
    # 09:00 would need cleanup until 10:15, into the busy slot; from 11:15 it is free.
    assert hm(slots) == ["11:15", "11:30", "11:45", "12:00"]


def test_time_off_spanning_days():
    periods = [period(weekday, "09:00", "17:00") for weekday in range(5)]
    therapist = schedule(periods=periods, time_off=[Interval(at(MONDAY, 15), at(WEDNESDAY, 10))])
    result = run([therapist], days=3, step=60)[1]
    assert hm(result[MONDAY]) == ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00"]
    assert result[TUESDAY] == []
    assert hm(result[WEDNESDAY]) == ["10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]


def test_closures_are_inclusive_local_date_ranges():
    periods = [period(weekday, "09:00", "12:00") for weekday in range(7)]
    closures = [(TUESDAY, WEDNESDAY), (MONDAY - timedelta(days=10), MONDAY - timedelta(days=1))]
    result = run([schedule(periods=periods)], days=4, closures=closures)[1]
    assert list(result) == [MONDAY, TUESDAY, WEDNESDAY, THURSDAY]
    assert result[TUESDAY] == result[WEDNESDAY] == []
    assert len(result[MONDAY]) == len(result[THURSDAY]) == 9


def test_closure_uses_local_dates():
    # 23:30 in London in summer is 22:30 UTC: still the local Monday, so a
    # Tuesday closure must not hide it (and must hide Tuesday's 00:30 local).
    therapist = schedule(periods=[period(0, "23:00", "23:59"), period(1, "00:00", "01:00")])
    result = run([therapist], days=2, duration=30, step=30, closures=[(TUESDAY, TUESDAY)], tz=LONDON)[1]
    assert hm(result[MONDAY], LONDON) == ["23:00"]
    assert result[TUESDAY] == []


def test_minimum_notice_and_horizon_are_inclusive():
    periods = [period(weekday, "09:00", "17:00") for weekday in range(7)]
    policy = Policy(
        min_notice=timedelta(hours=2), horizon=timedelta(days=1, hours=1), step=timedelta(hours=1)
    )
    now = at(MONDAY, 9)
    result = run([schedule(periods=periods)], days=3, policy=policy, now=now)[1]
    # now + 2h = 11:00 exactly (allowed); now + 25h = Tuesday 10:00 exactly (allowed).
    assert hm(result[MONDAY]) == ["11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    assert hm(result[TUESDAY]) == ["09:00", "10:00"]
    assert result[WEDNESDAY] == []


def test_notice_rounds_up_to_the_next_grid_time():
    now = at(MONDAY, 8, 50)
    policy = Policy(min_notice=timedelta(hours=2), horizon=timedelta(days=1), step=timedelta(minutes=15))
    slots = run([schedule(periods=[period(0, "09:00", "13:00")])], policy=policy, now=now)[1][MONDAY]
    assert hm(slots)[0] == "11:00"


def test_notice_and_horizon_are_elapsed_time_even_with_a_local_now():
    # `now` given in London on the eve of spring-forward: 24 hours later the
    # clock reads one hour more than "now + 24h" in wall-clock arithmetic.
    now = datetime(2026, 3, 28, 9, 0, tzinfo=LONDON)
    policy = Policy(min_notice=timedelta(hours=24), horizon=timedelta(days=10), step=timedelta(minutes=30))
    therapist = schedule(periods=[period(6, "09:00", "12:00")])
    slots = run([therapist], first_day=date(2026, 3, 29), policy=policy, now=now, tz=LONDON)[1]
    assert hm(slots[date(2026, 3, 29)], LONDON)[0] == "10:00"


def test_off_grid_period_starts_at_the_next_grid_time():
    slots = run([schedule(periods=[period(0, "09:10", "12:00")])], duration=30)[1][MONDAY]
    assert hm(slots)[:2] == ["09:15", "09:30"]
    assert hm(slots)[-1] == "11:30"


def test_grid_counts_from_local_midnight_not_from_the_period():
    slots = run([schedule(periods=[period(0, "09:20", "11:00")])], duration=30, step=45)[1][MONDAY]
    # Multiples of 45 minutes after midnight: ... 09:00, 09:45, 10:30, ...
    assert hm(slots) == ["09:45", "10:30"]


def test_cleanup_buffer_may_run_past_closing_time():
    therapist = schedule(periods=[period(0, "09:00", "12:00")])
    slots = run([therapist], duration=60, buffer=15, step=60)[1][MONDAY]
    assert hm(slots) == ["09:00", "10:00", "11:00"]


def test_cleanup_buffer_still_may_not_run_into_time_off_after_closing():
    therapist = schedule(
        periods=[period(0, "09:00", "12:00")], time_off=[Interval(at(MONDAY, 12, 5), at(MONDAY, 13))]
    )
    slots = run([therapist], duration=60, buffer=15, step=60)[1][MONDAY]
    assert hm(slots) == ["09:00", "10:00"]


def test_touching_intervals_do_not_clash():
    therapist = schedule(
        periods=[period(0, "09:00", "13:00")],
        busy=[Interval(at(MONDAY, 10), at(MONDAY, 11))],
        time_off=[Interval(at(MONDAY, 12), at(MONDAY, 13))],
    )
    slots = run([therapist], duration=60, step=60)[1][MONDAY]
    assert hm(slots) == ["09:00", "11:00"]


def test_empty_intervals_block_nothing():
    therapist = schedule(
        periods=[period(0, "09:00", "11:00")], busy=[Interval(at(MONDAY, 9, 30), at(MONDAY, 9, 30))]
    )
    assert hm(run([therapist], step=60)[1][MONDAY]) == ["09:00", "10:00"]


def test_overlapping_and_unsorted_blocked_intervals():
    therapist = schedule(
        periods=[period(0, "08:00", "18:00")],
        busy=[
            Interval(at(MONDAY, 14), at(MONDAY, 15)),
            Interval(at(MONDAY, 9), at(MONDAY, 11)),
            Interval(at(MONDAY, 10), at(MONDAY, 12)),
        ],
        time_off=[
            Interval(at(MONDAY, 11, 30), at(MONDAY, 12, 30)),
            Interval(at(MONDAY, 16), at(MONDAY, 16, 1)),
        ],
    )
    slots = run([therapist], step=30)[1][MONDAY]
    assert hm(slots) == ["08:00", "12:30", "13:00", "15:00", "16:30", "17:00"]


def test_intervals_in_other_zones_and_a_local_now_give_utc_results():
    # A busy slot stored in New York time, 05:00-06:00 there = 09:00-10:00 UTC.
    busy = Interval(datetime(2026, 6, 1, 5, tzinfo=NEW_YORK), datetime(2026, 6, 1, 6, tzinfo=NEW_YORK))
    now = datetime(2026, 5, 1, 12, tzinfo=NEW_YORK)
    slots = run([schedule(periods=[period(0, "08:00", "11:00")], busy=[busy])], step=60, now=now)[1][MONDAY]
    assert slots == [at(MONDAY, 8), at(MONDAY, 10)]
    assert all(s.tzinfo is UTC for s in slots)


def test_every_date_in_range_is_present_even_when_empty():
    result = run([schedule(1), schedule(2, periods=[period(0, "09:00", "10:00")])], days=7)
    expected_dates = [MONDAY + timedelta(days=i) for i in range(7)]
    for therapist_id in (1, 2):
        assert list(result[therapist_id]) == expected_dates
    assert all(slots == [] for slots in result[1].values())
    assert [day for day, slots in result[2].items() if slots] == [MONDAY]


def test_no_schedules_gives_an_empty_result():
    assert run([]) == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"days": 0}, "days"),
        ({"days": 367}, "days"),
        ({"duration": timedelta(0)}, "duration"),
        ({"buffer": timedelta(minutes=-5)}, "buffer"),
        ({"policy": Policy(timedelta(0), timedelta(days=1), timedelta(0))}, "step"),
        ({"policy": Policy(timedelta(0), timedelta(days=1), timedelta(minutes=7))}, "step"),
        ({"policy": Policy(timedelta(0), timedelta(days=1), timedelta(seconds=90))}, "step"),
        ({"now": datetime(2026, 1, 1)}, "now"),
        ({"closures": [(TUESDAY, MONDAY)]}, "closure"),
        ({"first_day": datetime(2026, 6, 1, tzinfo=UTC)}, "first_day"),
        ({"schedules": [schedule(1), schedule(1)]}, "therapist 1"),
    ],
)
def test_invalid_arguments_raise_value_error(changes, message):
    arguments = {
        "schedules": [schedule()],
        "closures": [],
        "first_day": MONDAY,
        "days": 1,
        "duration": timedelta(minutes=60),
        "buffer": timedelta(0),
        "policy": OPEN_POLICY,
        "now": LONG_AGO,
        "tz": ZONE_UTC,
    } | changes
    with pytest.raises(ValueError, match=message):
        free_slots(**arguments)


def test_value_types_reject_nonsense():
    with pytest.raises(ValueError, match="weekday"):
        period(7, "09:00", "10:00")
    with pytest.raises(ValueError, match="overnight"):
        period(0, "22:00", "02:00")
    with pytest.raises(ValueError, match="naive"):
        WorkingPeriod(0, time(9, tzinfo=UTC), time(10, tzinfo=UTC))
    with pytest.raises(ValueError, match="aware"):
        Interval(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="ends before"):
        Interval(at(MONDAY, 10), at(MONDAY, 9))
    # Same wall-clock order, but the start is the second 01:00 of the London
    # fall-back night and the end the first 01:01: it ends before it starts.
    with pytest.raises(ValueError, match="ends before"):
        Interval(
            datetime(2026, 10, 25, 1, 0, fold=1, tzinfo=LONDON), datetime(2026, 10, 25, 1, 1, tzinfo=LONDON)
        )


def test_merge_any_unions_starts_with_sorted_therapist_ids():
    nine, ten, eleven = at(MONDAY, 9), at(MONDAY, 10), at(MONDAY, 11)
    slots = {
        7: {MONDAY: [ten, eleven], TUESDAY: []},
        3: {MONDAY: [nine, ten], TUESDAY: []},
        5: {MONDAY: [], TUESDAY: []},
    }
    assert merge_any(slots) == {
        MONDAY: [(nine, (3,)), (ten, (3, 7)), (eleven, (7,))],
        TUESDAY: [],
    }


def test_merge_any_of_free_slots_output():
    periods = [period(0, "09:00", "11:00")]
    result = run([schedule(2, periods=periods), schedule(1, periods=periods)], days=2, step=60)
    merged = merge_any(result)
    assert merged == {MONDAY: [(at(MONDAY, 9), (1, 2)), (at(MONDAY, 10), (1, 2))], TUESDAY: []}
    assert merge_any({}) == {}


def test_pick_therapist_prefers_fewest_bookings():
    assert pick_therapist(candidates=[1, 2, 3], bookings_that_day={1: 3, 2: 1, 3: 2}, order=[1, 2, 3]) == 2


def test_pick_therapist_counts_missing_bookings_as_zero():
    assert pick_therapist(candidates=[1, 2], bookings_that_day={1: 1}, order=[1, 2]) == 2


def test_pick_therapist_breaks_ties_by_stable_order():
    bookings = {1: 2, 2: 1, 3: 1, 4: 1}
    assert pick_therapist(candidates=[1, 2, 3, 4], bookings_that_day=bookings, order=[4, 3, 2, 1]) == 4
    assert pick_therapist(candidates=[2, 3], bookings_that_day=bookings, order=[4, 3, 2, 1]) == 3
    # The candidates' own order does not matter, only `order` does.
    assert pick_therapist(candidates=[3, 2], bookings_that_day=bookings, order=[2, 3]) == 2


def test_pick_therapist_puts_unordered_candidates_last_by_id():
    assert pick_therapist(candidates=[9, 8, 5], bookings_that_day={}, order=[5]) == 5
    assert pick_therapist(candidates=[9, 8], bookings_that_day={}, order=[5]) == 8


def test_pick_therapist_needs_a_candidate():
    with pytest.raises(ValueError, match="candidate"):
        pick_therapist(candidates=[], bookings_that_day={}, order=[1])


# --------------------------------------------------------------------------- daylight saving

# (zone, day of the change, the skipped or repeated local hour, elapsed time of 00:00-04:00 that day)
SPRING_FORWARD = [
    pytest.param(LONDON, date(2026, 3, 29), 1, timedelta(hours=3), id="london-spring"),
    pytest.param(NEW_YORK, date(2026, 3, 8), 2, timedelta(hours=3), id="new-york-spring"),
]
FALL_BACK = [
    pytest.param(LONDON, date(2026, 10, 25), 1, timedelta(hours=5), id="london-fall"),
    pytest.param(NEW_YORK, date(2026, 11, 1), 1, timedelta(hours=5), id="new-york-fall"),
]


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), SPRING_FORWARD + FALL_BACK)
def test_working_day_on_a_change_day_matches_a_normal_day(tz, change_day, hour, elapsed):
    normal_day = change_day - timedelta(days=7)
    therapist = schedule(periods=[period(change_day.weekday(), "09:00", "18:00")])
    on_change = run([therapist], first_day=change_day, duration=60, step=15, tz=tz)[1][change_day]
    on_normal = run([therapist], first_day=normal_day, duration=60, step=15, tz=tz)[1][normal_day]
    assert len(on_change) == len(on_normal) == 33
    assert hm(on_change, tz) == hm(on_normal, tz)
    assert hm(on_change, tz)[0] == "09:00" and hm(on_change, tz)[-1] == "17:00"


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), SPRING_FORWARD + FALL_BACK)
def test_working_hours_stay_wall_clock_over_a_week_across_the_change(tz, change_day, hour, elapsed):
    therapist = schedule(periods=[period(weekday, "09:00", "18:00") for weekday in range(7)])
    first_day = change_day - timedelta(days=3)
    result = run([therapist], first_day=first_day, days=7, duration=45, step=15, tz=tz)[1]
    walls = {day: hm(slots, tz) for day, slots in result.items()}
    assert len({tuple(w) for w in walls.values()}) == 1
    assert walls[change_day][0] == "09:00"


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), SPRING_FORWARD)
def test_spring_forward_never_offers_a_missing_wall_time(tz, change_day, hour, elapsed):
    therapist = schedule(periods=[period(change_day.weekday(), "00:00", "04:00")])
    slots = run([therapist], first_day=change_day, duration=30, step=15, tz=tz)[1][change_day]
    for start in slots:
        local = start.astimezone(tz)
        assert local.hour != hour, f"{local} is in the skipped hour"
        # Every offered wall time exists: reading it back gives the same instant.
        assert datetime.combine(local.date(), local.time(), tzinfo=tz).astimezone(UTC) == start
    assert len(slots) == (elapsed - timedelta(minutes=30)) // timedelta(minutes=15) + 1 == 11
    assert slots == sorted(set(slots))


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), SPRING_FORWARD)
def test_spring_forward_period_edges_in_the_gap_are_clamped_not_stretched(tz, change_day, hour, elapsed):
    weekday = change_day.weekday()
    jump = at(change_day, hour + 1, tz=tz)  # the instant the clock jumps, as seen just after it
    in_gap = f"{hour:02d}:30"
    starts_in_gap = schedule(periods=[period(weekday, in_gap, f"{hour + 2:02d}:00")])
    slots = run([starts_in_gap], first_day=change_day, duration=30, tz=tz)[1][change_day]
    assert slots[0] == jump
    assert hm(slots, tz) == [f"{hour + 1:02d}:{m:02d}" for m in (0, 15, 30)]

    ends_in_gap = schedule(periods=[period(weekday, f"{hour - 1:02d}:00", in_gap)])
    slots = run([ends_in_gap], first_day=change_day, duration=30, tz=tz)[1][change_day]
    assert slots[-1] + timedelta(minutes=30) == jump
    assert hm(slots, tz) == [f"{hour - 1:02d}:{m:02d}" for m in (0, 15, 30)]


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), FALL_BACK)
def test_fall_back_offers_each_instant_once_and_both_repeated_wall_times(tz, change_day, hour, elapsed):
    therapist = schedule(periods=[period(change_day.weekday(), "00:00", "04:00")])
    slots = run([therapist], first_day=change_day, duration=30, step=15, tz=tz)[1][change_day]
    assert all(a < b for a, b in zip(slots, slots[1:], strict=False))
    assert len(set(slots)) == len(slots)
    real_span = at(change_day, 4, tz=tz) - at(change_day, 0, tz=tz)
    assert real_span == elapsed
    assert len(slots) == (elapsed - timedelta(minutes=30)) // timedelta(minutes=15) + 1 == 19
    repeated = [s for s in slots if hm([s], tz) == [f"{hour:02d}:15"]]
    assert repeated == [at(change_day, hour, 15, tz=tz, fold=0), at(change_day, hour, 15, tz=tz, fold=1)]
    assert repeated[1] - repeated[0] == timedelta(hours=1)


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), FALL_BACK)
def test_fall_back_period_ending_in_the_repeated_hour_runs_to_its_second_occurrence(
    tz, change_day, hour, elapsed
):
    therapist = schedule(periods=[period(change_day.weekday(), f"{hour - 1:02d}:00", f"{hour:02d}:30")])
    slots = run([therapist], first_day=change_day, duration=30, step=30, tz=tz)[1][change_day]
    # The first pass through the repeated hour, then the second one up to its hour:30.
    assert slots == [
        at(change_day, hour - 1, tz=tz),
        at(change_day, hour - 1, 30, tz=tz),
        at(change_day, hour, tz=tz, fold=0),
        at(change_day, hour, 30, tz=tz, fold=0),
        at(change_day, hour, tz=tz, fold=1),
    ]


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), FALL_BACK)
def test_fall_back_period_ending_where_the_repeat_begins_stops_at_the_first_occurrence(
    tz, change_day, hour, elapsed
):
    # Nothing of the repeated hour shows a time before hour:00, so the period
    # is one real hour long, as on any other day.
    therapist = schedule(periods=[period(change_day.weekday(), f"{hour - 1:02d}:00", f"{hour:02d}:00")])
    slots = run([therapist], first_day=change_day, duration=30, step=30, tz=tz)[1][change_day]
    assert slots == [at(change_day, hour - 1, tz=tz), at(change_day, hour - 1, 30, tz=tz)]


@pytest.mark.parametrize(("tz", "change_day", "hour", "elapsed"), FALL_BACK)
def test_fall_back_period_starting_in_the_repeated_hour_starts_at_its_first_occurrence(
    tz, change_day, hour, elapsed
):
    therapist = schedule(periods=[period(change_day.weekday(), f"{hour:02d}:30", f"{hour + 1:02d}:00")])
    slots = run([therapist], first_day=change_day, duration=30, step=30, tz=tz)[1][change_day]
    assert slots[0] == at(change_day, hour, 30, tz=tz, fold=0)
    # From the first hour:30 to hour+1:00 is 1.5 real hours.
    assert slots[-1] == at(change_day, hour, 30, tz=tz, fold=1)
    assert len(slots) == 3


# --------------------------------------------------------------------------- properties

DST_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2025, 3, 30), date(2025, 10, 26)]
NEAR_DST = [day + timedelta(days=offset) for day in DST_DAYS for offset in (-2, -1, 0)]


def local_minutes(day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Every whole UTC minute whose local date is `day`, with its local time, in UTC order."""
    first = datetime.combine(day, time(), tzinfo=UTC) - timedelta(hours=15)
    found = []
    for index in range(54 * 60):
        moment = first + index * MINUTE
        local = moment.astimezone(tz)
        if local.date() == day:
            found.append((moment, local))
    return found


def reference_span(
    minutes: list[tuple[datetime, datetime]], wp: WorkingPeriod
) -> tuple[datetime, datetime] | None:
    """Real-time span of a period by scanning: first instant showing >= start, last showing < end."""
    starts = [m for m, local in minutes if local.time() >= wp.start]
    ends = [m for m, local in minutes if local.time() < wp.end]
    if not starts or not ends:
        return None
    return starts[0], ends[-1] + MINUTE


def overlaps(start: datetime, end: datetime, interval: Interval) -> bool:
    # In UTC: Python compares two datetimes of the same zone by wall time, ignoring fold,
    # so 01:26 BST would count as after 01:00 GMT on the day the clocks go back.
    return max(start, interval.start.astimezone(UTC)) < min(end, interval.end.astimezone(UTC))


def reference_free_slots(
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
    """Brute force: try every UTC minute of every local day and check each rule directly."""
    earliest = now.astimezone(UTC) + policy.min_notice
    latest = now.astimezone(UTC) + policy.horizon
    step = policy.step // MINUTE
    result: dict[int, dict[date, list[datetime]]] = {s.therapist_id: {} for s in schedules}
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        minutes = local_minutes(day, tz)
        closed = any(first <= day <= last for first, last in closures)
        for sched in schedules:
            spans = [reference_span(minutes, wp) for wp in sched.periods if wp.weekday == day.weekday()]
            blocked = list(sched.time_off) + list(sched.busy)
            result[sched.therapist_id][day] = [
                moment
                for moment, local in minutes
                if not closed
                and (local.hour * 60 + local.minute) % step == 0
                and earliest <= moment <= latest
                and any(span and span[0] <= moment and moment + duration <= span[1] for span in spans)
                and not any(overlaps(moment, moment + duration + buffer, interval) for interval in blocked)
                and reference_limits_allow(sched, moment, duration, tz)
                and reference_room_free(rooms, moment, duration, required_features, seats)
            ]
    return result


def utc_span(interval: Interval) -> tuple[datetime, datetime]:
    return interval.start.astimezone(UTC), interval.end.astimezone(UTC)


def reference_limits_allow(
    sched: TherapistSchedule, start: datetime, duration: timedelta, tz: ZoneInfo
) -> bool:
    """The limits by their definitions: the day's hands-on time, and the connected group of
    appointments linked by gaps under 15 minutes that the new one would belong to."""
    work = [utc_span(i) for i in sched.hands_on if utc_span(i)[0] != utc_span(i)[1]]
    day = start.astimezone(tz).date()
    if sched.max_daily is not None:
        that_day = sum((b - a for a, b in work if a.astimezone(tz).date() == day), timedelta(0))
        if that_day + duration > sched.max_daily:
            return False
    if sched.max_continuous is not None:
        new = (start, start + duration)
        group, todo, rest = [new], [new], list(work)
        while todo:
            a = todo.pop()
            linked = [b for b in rest if max(b[0] - a[1], a[0] - b[1]) < STRETCH_GAP]
            rest = [b for b in rest if b not in linked]
            group += linked
            todo += linked
        if sum((b - a for a, b in group), timedelta(0)) > sched.max_continuous:
            return False
    return True


def reference_room_free(
    rooms: Sequence[RoomSchedule] | None,
    start: datetime,
    duration: timedelta,
    required: frozenset[int],
    seats: int,
) -> bool:
    if rooms is None:
        return True
    return any(
        room.capacity >= seats
        and required <= room.features
        and not any(overlaps(start, start + duration + room.turnover, busy) for busy in room.busy)
        for room in rooms
    )


def minutes_in(*ranges: tuple[int, int]) -> st.SearchStrategy[int]:
    """An integer from one of the inclusive ranges, picking each range about equally often."""
    return st.sampled_from(ranges).flatmap(lambda bounds: st.integers(*bounds))


@st.composite
def scenarios(draw: st.DrawFn, tz: ZoneInfo, dst_focus: bool = False, resources: bool = False) -> dict:
    """Random arguments for free_slots, dense enough that most cases offer some slots.

    With `dst_focus` the range starts on or the day before a change day and the
    working periods sit in the early hours, where the clocks change. With `resources`,
    rooms (or none: not in use), required features, one or two seats, and therapists
    with daily and stretch limits over their hands-on time.
    """
    if dst_focus:
        first_day = draw(st.sampled_from([day - timedelta(days=k) for day in DST_DAYS for k in (0, 1)]))
        days = draw(st.integers(1, 2))
    else:
        first_day = draw(st.one_of(st.sampled_from(NEAR_DST), st.dates(date(2025, 1, 1), date(2027, 12, 31))))
        days = draw(st.integers(1, 3))
    dates = [first_day + timedelta(days=i) for i in range(days)]
    base = datetime.combine(first_day, time(), tzinfo=UTC)

    def interval() -> Interval:
        start = base + timedelta(minutes=draw(st.integers(-600, days * 1440 + 600)))
        if draw(st.booleans()):
            start += timedelta(seconds=draw(st.integers(0, 59)))
        # Add the length in UTC: on a local datetime it would be wall-clock arithmetic.
        end = start + timedelta(minutes=draw(minutes_in((0, 60), (0, 120), (0, 900))))
        # Sometimes expressed in the clinic's zone, as the ORM layer might pass them.
        zone = draw(st.sampled_from([UTC, tz]))
        return Interval(start.astimezone(zone), end.astimezone(zone))

    def working_period() -> WorkingPeriod:
        on_day = draw(st.one_of(st.sampled_from(dates), st.none()))
        weekday = on_day.weekday() if on_day else draw(st.integers(0, 6))
        # Early hours often (always with dst_focus), and short periods too, so
        # that both ends of a period meet the daylight-saving changes.
        start = draw(minutes_in((0, 180)) if dst_focus else minutes_in((0, 1438), (0, 180)))
        end = draw(minutes_in((start + 1, 1439), (start + 1, min(start + 240, 1439))))
        return WorkingPeriod(weekday, time(start // 60, start % 60), time(end // 60, end % 60))

    schedules = []
    for therapist_id in range(1, draw(st.integers(1, 2)) + 1):
        periods = [working_period() for _ in range(draw(st.integers(1 if therapist_id == 1 else 0, 4)))]
        time_off = [interval() for _ in range(draw(st.integers(0, 1)))]
        busy = [interval() for _ in range(draw(st.integers(0, 3)))]
        if not resources:
            schedules.append(TherapistSchedule(therapist_id, periods, time_off, busy))
            continue
        # Hands-on time: the appointments without their cleanup, plus some back to back.
        # (In UTC: taking minutes off a local datetime would be wall-clock arithmetic.)
        hands_on = [
            Interval(
                b.start,
                max(b.start.astimezone(UTC), b.end.astimezone(UTC) - MINUTE * draw(st.integers(0, 15))),
            )
            for b in busy
        ]
        hands_on += [interval() for _ in range(draw(st.integers(0, 2)))]
        schedules.append(
            TherapistSchedule(
                therapist_id, periods, time_off, busy, hands_on,
                max_daily=draw(st.sampled_from([None, timedelta(minutes=60), timedelta(minutes=150)])),
                max_continuous=draw(st.sampled_from([None, timedelta(minutes=60), timedelta(minutes=120)])),
            )
        )  # fmt: skip
    extra: dict = {}
    if resources:
        rooms = None
        if draw(st.integers(0, 3)):
            # Few rooms, often busy, with long turnovers: so the room is often what decides.
            rooms = [
                RoomSchedule(
                    room_id,
                    capacity=draw(st.sampled_from([1, 2])),
                    turnover=timedelta(minutes=draw(st.sampled_from([0, 15, 60]))),
                    features=frozenset(draw(st.sets(st.sampled_from([1, 2])))),
                    busy=[interval() for _ in range(draw(st.integers(0, 4)))],
                )  # fmt: skip
                for room_id in range(1, draw(st.sampled_from([0, 1, 1, 2, 3])) + 1)
            ]
        extra = {
            "rooms": rooms,
            "required_features": frozenset(draw(st.sets(st.sampled_from([1, 2]), max_size=1))),
            "seats": draw(st.sampled_from([1, 1, 2])),
        }

    closures = []
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        closure_first = first_day + timedelta(days=draw(st.integers(-2, days + 1)))
        closures.append((closure_first, closure_first + timedelta(days=draw(st.integers(0, 2)))))

    # Mostly a `now` before the range with short notice and a long horizon, so
    # that notice and horizon cut into the range only some of the time.
    now = base + timedelta(
        minutes=draw(minutes_in((-3 * 1440, 0), (-3 * 1440, 0), (-3 * 1440, days * 1440))),
        seconds=draw(st.integers(0, 59)),
    )
    policy = Policy(
        min_notice=timedelta(minutes=draw(minutes_in((0, 120), (0, 120), (0, 48 * 60)))),
        horizon=timedelta(minutes=draw(minutes_in((10 * 1440, 10 * 1440), (0, 6 * 1440)))),
        step=timedelta(minutes=draw(st.sampled_from([5, 10, 15, 30]))),
    )
    return {
        "schedules": schedules,
        "closures": closures,
        "first_day": first_day,
        "days": days,
        "duration": timedelta(minutes=draw(st.sampled_from([30, 45, 60, 90]))),
        "buffer": timedelta(minutes=draw(st.sampled_from([0, 10, 15]))),
        "policy": policy,
        "now": now.astimezone(draw(st.sampled_from([UTC, tz]))),
        "tz": tz,
        **extra,
    }


ZONES = [pytest.param(ZONE_UTC, id="UTC"), pytest.param(LONDON, id="London")]
# Each property runs in UTC, in London on random dates (a third of them near a
# change) and in London on the change days with early-hours periods.
SCENARIO_KINDS = [
    pytest.param(ZONE_UTC, False, id="UTC"),
    pytest.param(LONDON, False, id="London"),
    pytest.param(LONDON, True, id="London-change-days"),
]
# The same with rooms, sessions for two and therapists' limits (issue 12).
RESOURCE_KINDS = [
    pytest.param(ZONE_UTC, False, id="UTC-rooms"),
    pytest.param(LONDON, False, id="London-rooms"),
    pytest.param(LONDON, True, id="London-change-days-rooms"),
]
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("tz", "dst_focus"), SCENARIO_KINDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_offered_slots_obey_every_rule(tz, dst_focus, data):
    case = data.draw(scenarios(tz, dst_focus))
    result = free_slots(**case)
    dates = [case["first_day"] + timedelta(days=i) for i in range(case["days"])]
    assert set(result) == {s.therapist_id for s in case["schedules"]}
    now = case["now"].astimezone(UTC)
    policy = case["policy"]
    step_minutes = policy.step // MINUTE
    for sched in case["schedules"]:
        per_day = result[sched.therapist_id]
        assert list(per_day) == dates
        for day, slots in per_day.items():
            assert all(a < b for a, b in zip(slots, slots[1:], strict=False)), "sorted and unique"
            if not slots:
                continue
            assert not any(first <= day <= last for first, last in case["closures"])
            minutes = local_minutes(day, tz)
            spans = [reference_span(minutes, wp) for wp in sched.periods if wp.weekday == day.weekday()]
            for start in slots:
                assert start.tzinfo is UTC
                local = start.astimezone(tz)
                assert local.date() == day
                assert local.second == local.microsecond == 0
                assert (local.hour * 60 + local.minute) % step_minutes == 0, "on the grid"
                assert now + policy.min_notice <= start <= now + policy.horizon
                end = start + case["duration"]
                assert any(span and span[0] <= start and end <= span[1] for span in spans), "inside a period"
                for interval in [*sched.time_off, *sched.busy]:
                    assert not overlaps(start, end + case["buffer"], interval), "clear of blocked time"


@pytest.mark.parametrize(("tz", "dst_focus"), SCENARIO_KINDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_offered_slots_equal_brute_force_reference(tz, dst_focus, data):
    case = data.draw(scenarios(tz, dst_focus))
    assert free_slots(**case) == reference_free_slots(**case)


@pytest.mark.parametrize(("tz", "dst_focus"), RESOURCE_KINDS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_with_rooms_pairs_and_limits_slots_equal_brute_force_reference(tz, dst_focus, data):
    case = data.draw(scenarios(tz, dst_focus, resources=True))
    result = free_slots(**case)
    expected = reference_free_slots(**case)
    assert result == expected
    if case["seats"] == 2:
        # A pair: two different therapists, one from each seat's choice, free at once.
        ids = [s.therapist_id for s in case["schedules"]]
        choices = data.draw(
            st.tuples(*[st.one_of(st.none(), st.lists(st.sampled_from(ids), min_size=1))] * 2)
        )
        allowed = [set(ids) if choice is None else set(choice) for choice in choices]
        want = {}
        for day in expected[ids[0]]:
            starts = sorted({start for i in ids for start in expected[i][day]})
            want[day] = [
                (start, tuple(sorted({i for pair in pairs for i in pair})))
                for start in starts
                if (
                    pairs := [
                        (a, b)
                        for a in allowed[0]
                        for b in allowed[1]
                        if a != b and start in expected[a][day] and start in expected[b][day]
                    ]
                )
            ]
        assert free_pairs(result, choices) == want


def as_intervals(intervals: Sequence[Interval], ordered: bool) -> Intervals:
    """The same intervals as a loader hands them over: two lists of UTC instants, in start
    order as from an index, or in the order given (as from an unordered query)."""
    pairs = [(i.start.astimezone(UTC), i.end.astimezone(UTC)) for i in intervals]
    if ordered:
        pairs.sort()
    return Intervals([start for start, _ in pairs], [end for _, end in pairs])


@pytest.mark.parametrize(("tz", "dst_focus"), RESOURCE_KINDS)
@PROPERTY_SETTINGS
@given(data=st.data(), ordered=st.booleans())
def test_intervals_lists_give_the_same_slots_and_reasons_as_interval_objects(tz, dst_focus, data, ordered):
    case = data.draw(scenarios(tz, dst_focus, resources=True))
    schedules = [
        replace(
            s,
            time_off=as_intervals(s.time_off, ordered),
            busy=as_intervals(s.busy, ordered),
            hands_on=as_intervals(s.hands_on, ordered),
        )
        for s in case["schedules"]
    ]
    rooms = case["rooms"] and [replace(r, busy=as_intervals(r.busy, ordered)) for r in case["rooms"]]
    lists = {**case, "schedules": schedules, "rooms": rooms}
    expected = free_slots(**case)
    assert free_slots(**lists) == expected == reference_free_slots(**lists)
    # And the reasons given for a time that is not free are the same.
    explain = {k: v for k, v in case.items() if k not in ("schedules", "first_day", "days")}
    for hour in range(0, 24, 3):
        start = datetime.combine(case["first_day"], time(hour), tzinfo=tz)
        for plain, listed in zip(case["schedules"], schedules, strict=True):
            assert slot_problems(
                schedule=listed, start=start, **{**explain, "rooms": rooms}
            ) == slot_problems(schedule=plain, start=start, **explain)


def test_intervals_read_as_a_sequence_of_interval():
    nine, ten, eleven = at(MONDAY, 9), at(MONDAY, 10), at(MONDAY, 11)
    both = Intervals([ten, nine], [eleven, ten])
    assert len(both) == 2 and bool(both) and not Intervals()
    assert list(both) == [Interval(ten, eleven), Interval(nine, ten)]
    assert both[1] == Interval(nine, ten) and both[-1] == Interval(nine, ten)
    assert both[:1] == Intervals([ten], [eleven]) == [Interval(ten, eleven)]
    assert Interval(nine, ten) in both and Interval(nine, eleven) not in both
    assert both != Intervals([nine, ten], [ten, eleven]) and both != "not intervals"
    with pytest.raises(ValueError, match="2 starts but 1 ends"):
        Intervals([nine, ten], [eleven])
    with pytest.raises(TypeError):
        hash(both)


def test_therapists_sharing_one_list_of_hours_are_each_worked_out_on_their_own():
    hours = (period(0, "09:00", "12:00"), period(0, "13:00", "17:00"))
    morning = Intervals([at(MONDAY, 9)], [at(MONDAY, 11)])
    afternoon = [Interval(at(MONDAY, 14), at(MONDAY, 16))]
    shared = run([TherapistSchedule(1, hours, [], morning), TherapistSchedule(2, hours, afternoon, [])])
    assert shared[1] == run([TherapistSchedule(1, list(hours), [], morning)])[1]
    assert shared[2] == run([TherapistSchedule(2, list(hours), afternoon, [])])[2]
    assert hm(shared[1][MONDAY]) == ["11:00", "13:00", "13:15", "13:30", "13:45", "14:00", "14:15", "14:30",
                                     "14:45", "15:00", "15:15", "15:30", "15:45", "16:00"]  # fmt: skip
    assert hm(shared[2][MONDAY])[-1] == "16:00" and "14:00" not in hm(shared[2][MONDAY])


def test_a_start_is_free_when_any_suitable_room_is_whichever_is_busiest():
    hours = [period(0, "09:00", "12:00")]
    # Room 1 is taken all morning but 10:00-11:00; room 2 at 10:00 only.
    rooms = [
        RoomSchedule(1, 1, timedelta(0), frozenset(), [Interval(at(MONDAY, 9), at(MONDAY, 10)),
                                                       Interval(at(MONDAY, 11), at(MONDAY, 12))]),
        RoomSchedule(2, 1, timedelta(0), frozenset(), Intervals([at(MONDAY, 10)], [at(MONDAY, 11)])),
    ]  # fmt: skip
    starts = hm(run([schedule(periods=hours)], rooms=rooms)[1][MONDAY])
    # 09:xx and 11:00 in room 2; 10:00 in room 1; 10:15-10:45 in neither.
    assert starts == ["09:00", "10:00", "11:00"]


@pytest.mark.parametrize("tz", [*ZONES, pytest.param(NEW_YORK, id="New_York")])
@settings(max_examples=50, deadline=None)
@given(
    day=st.sampled_from([*NEAR_DST, date(2026, 3, 8), date(2026, 11, 1)]),
    start=st.integers(0, 1438),
    length=st.integers(1, 600),
)
def test_period_spans_match_minute_scan(tz, day, start, length):
    """Focused check of the wall-clock -> real-time conversion of period edges."""
    end = min(start + length, 1439)
    wp = WorkingPeriod(day.weekday(), time(start // 60, start % 60), time(end // 60, end % 60))
    policy = Policy(min_notice=timedelta(0), horizon=timedelta(days=5000), step=timedelta(minutes=5))
    slots = free_slots(
        schedules=[schedule(periods=[wp])],
        closures=[],
        first_day=day,
        days=1,
        duration=timedelta(minutes=5),
        buffer=timedelta(0),
        policy=policy,
        now=LONG_AGO,
        tz=tz,
    )[1][day]
    span = reference_span(local_minutes(day, tz), wp)
    assert span is not None
    expected = [
        m
        for m, local in local_minutes(day, tz)
        if local.minute % 5 == 0 and span[0] <= m <= span[1] - 5 * MINUTE
    ]
    assert slots == expected


# --------------------------------------------------------------------------- page helpers


def test_group_by_part_of_day_uses_the_wall_clock_and_keeps_empty_parts():
    from booking.availability import group_by_part_of_day

    london = ZoneInfo("Europe/London")
    starts = [
        datetime(2026, 7, 1, h, m, tzinfo=london).astimezone(UTC)
        for h, m in [(17, 0), (9, 0), (11, 45), (12, 0)]
    ]
    groups = group_by_part_of_day(starts, london)
    as_text = {
        name: [s.astimezone(london).strftime("%H:%M") for s in times] for name, times in groups.items()
    }
    # 11:45 BST is 10:45 UTC; the clinic's clock decides, not UTC.
    assert as_text == {"morning": ["09:00", "11:45"], "afternoon": ["12:00"], "evening": ["17:00"]}
    assert group_by_part_of_day([], london) == {"morning": [], "afternoon": [], "evening": []}


def test_nearest_starts_prefers_the_closest_then_the_earlier():
    from booking.availability import nearest_starts

    base = datetime(2026, 11, 24, 10, tzinfo=UTC)
    starts = [base + timedelta(minutes=m) for m in (-120, -30, 30, 45, 240)]
    assert nearest_starts(starts, base, 3) == [
        base - timedelta(minutes=30),
        base + timedelta(minutes=30),
        base + timedelta(minutes=45),
    ]
    assert nearest_starts(starts, base, 0) == []
    assert nearest_starts([], base, 3) == []


# --------------------------------------------------------------------------- why a time is not free


@pytest.mark.parametrize("resources", [False, True], ids=["therapists", "rooms"])
@pytest.mark.parametrize(("tz", "dst_focus"), SCENARIO_KINDS)
# Fewer examples than the other properties: each checks hundreds of starts.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_start_has_no_problem_exactly_when_it_is_offered(tz, dst_focus, resources, data):
    """slot_problems applies the very rules of free_slots: on and off the grid, every
    5 minutes (and at odd seconds) of the range, for every therapist."""
    case = data.draw(scenarios(tz, dst_focus, resources))
    result = free_slots(**case)
    dates = set(result[case["schedules"][0].therapist_id])
    base = datetime.combine(case["first_day"], time(), tzinfo=UTC) - timedelta(hours=2)
    odd = timedelta(seconds=data.draw(st.sampled_from([0, 0, 30])))
    candidates = [base + timedelta(minutes=5 * k) + odd for k in range((case["days"] + 1) * 288)]
    keys = ("closures", "duration", "buffer", "policy", "now", "tz", "rooms", "required_features", "seats")
    arguments = {key: case[key] for key in keys if key in case}
    for sched in case["schedules"]:
        offered = {start for starts in result[sched.therapist_id].values() for start in starts}
        for start in candidates:
            if start.astimezone(tz).date() not in dates:
                continue
            problems = slot_problems(schedule=sched, start=start, **arguments)
            assert (not problems) == (start in offered), (start, problems)
            assert problems == sorted(problems, key=list(SlotProblem).index)
    for start in candidates[::7]:
        if start.astimezone(tz).date() in dates:
            free = any(
                start in result[s.therapist_id][start.astimezone(tz).date()] for s in case["schedules"]
            )
            reason = why_not_free(schedules=case["schedules"], start=start, **arguments)
            assert (reason is None) == free


def _why(start: datetime, schedules, **overrides) -> SlotProblem | None:
    arguments = {
        "closures": [],
        "duration": timedelta(minutes=60),
        "buffer": timedelta(minutes=15),
        "policy": Policy(
            min_notice=timedelta(hours=2), horizon=timedelta(days=30), step=timedelta(minutes=15)
        ),
        "now": at(MONDAY, 8),
        "tz": ZONE_UTC,
    }
    arguments.update(overrides)
    return why_not_free(schedules=schedules, start=start, **arguments)


def test_why_not_free_names_the_rule_that_applies():
    anna = schedule(
        1, [period(d, "09:00", "17:00") for d in range(5)], busy=[Interval(at(TUESDAY, 10), at(TUESDAY, 11))]
    )
    ben = schedule(2, [period(d, "13:00", "17:00") for d in range(5)])
    assert _why(at(TUESDAY, 12), [anna, ben]) is None
    assert _why(at(MONDAY, 7), [anna]) == SlotProblem.PAST
    assert _why(at(MONDAY, 9), [anna]) == SlotProblem.NOTICE
    assert _why(at(MONDAY, 9) + timedelta(days=40), [anna]) == SlotProblem.HORIZON
    assert _why(at(TUESDAY, 12), [anna], closures=[(TUESDAY, TUESDAY)]) == SlotProblem.CLOSED
    assert _why(at(TUESDAY, 12, 5), [anna]) == SlotProblem.OFF_GRID
    assert _why(at(TUESDAY, 23, 30), [anna]) == SlotProblem.OVERNIGHT
    assert _why(at(TUESDAY, 16, 30), [anna]) == SlotProblem.OUTSIDE_HOURS
    assert _why(at(MONDAY, 12) + timedelta(days=5), [anna, ben]) == SlotProblem.DAY_OFF  # Saturday
    assert _why(at(TUESDAY, 12), []) == SlotProblem.DAY_OFF  # nobody at all
    off = schedule(1, anna.periods, time_off=[Interval(at(TUESDAY, 12), at(TUESDAY, 13))])
    assert _why(at(TUESDAY, 11, 30), [off]) == SlotProblem.TIME_OFF
    # Booked with Anna while Ben does not work yet: it was a real time, now taken.
    assert _why(at(TUESDAY, 10), [anna, ben]) == SlotProblem.TAKEN
    # Cleanup counts: 09:00-10:00 plus 15 minutes meets the 10:00 booking.
    assert _why(at(TUESDAY, 9), [anna]) == SlotProblem.TAKEN
    assert _why(at(TUESDAY, 8, 45), [anna], buffer=timedelta(0)) == SlotProblem.OUTSIDE_HOURS


def test_slot_problems_lists_every_rule_broken():
    anna = schedule(1, [period(1, "09:00", "17:00")], time_off=[Interval(at(TUESDAY, 12), at(TUESDAY, 14))])
    problems = slot_problems(
        schedule=anna,
        closures=[(TUESDAY, TUESDAY)],
        start=at(TUESDAY, 16, 5),
        duration=timedelta(minutes=60),
        buffer=timedelta(0),
        policy=OPEN_POLICY,
        now=LONG_AGO,
        tz=ZONE_UTC,
    )
    assert problems == [SlotProblem.CLOSED, SlotProblem.OFF_GRID, SlotProblem.OUTSIDE_HOURS]


# --------------------------------------------------------------------------- rooms, pairs, limits


def room(room_id, capacity=1, turnover=0, features=(), busy=()):
    return RoomSchedule(room_id, capacity, timedelta(minutes=turnover), frozenset(features), list(busy))


def test_pick_rooms_best_fit_then_preferred_then_order():
    rooms = [room(1, capacity=2), room(2, features=[7]), room(3), room(4), room(5, features=[8])]
    start, hour = at(MONDAY, 10), timedelta(hours=1)
    assert pick_rooms(rooms=rooms, start=start, duration=hour) == [3, 4, 1, 2, 5]
    assert pick_rooms(rooms=rooms, start=start, duration=hour, preferred_room=4) == [4, 3, 1, 2, 5]
    assert pick_rooms(rooms=rooms, start=start, duration=hour, required_features=frozenset([7])) == [2]
    assert pick_rooms(rooms=rooms, start=start, duration=hour, seats=2) == [1]
    # The turnover counts: a session ending at 11:00 needs room 6 until 11:30.
    later = [room(6, turnover=30, busy=[Interval(at(MONDAY, 11, 15), at(MONDAY, 12))]), room(7, features=[1])]
    assert pick_rooms(rooms=later, start=start, duration=hour) == [7]
    assert pick_rooms(rooms=later, start=start, duration=hour - 30 * MINUTE) == [6, 7]


def test_rooms_in_use_but_none_suitable_offers_nothing_and_says_so():
    anna = schedule(periods=[period(0, "09:00", "12:00")])
    assert run([anna])[1][MONDAY]  # rooms not in use: as before
    none_suit = {"rooms": [room(1, features=[2])], "required_features": frozenset([1])}
    assert run([anna], **none_suit)[1][MONDAY] == []
    assert run([anna], rooms=[])[1][MONDAY] == []
    assert slot_problems(
        schedule=anna, closures=[], start=at(MONDAY, 10), duration=timedelta(hours=1), buffer=timedelta(0),
        policy=OPEN_POLICY, now=LONG_AGO, tz=ZONE_UTC, **none_suit,
    ) == [SlotProblem.NO_ROOM]  # fmt: skip


def test_limits_count_hands_on_time_not_the_buffer():
    hands_on = [Interval(at(MONDAY, 9), at(MONDAY, 10))]
    busy = [Interval(at(MONDAY, 9), at(MONDAY, 10, 5))]  # with a 5-minute cleanup
    hours = [period(0, "09:00", "18:00")]
    tired = TherapistSchedule(1, hours, [], busy, hands_on, max_continuous=timedelta(minutes=90))
    starts = hm(run([tired], step=5, buffer=5)[1][MONDAY])
    # 10:05 and 10:10 join the 09:00 session (gaps of 5 and 10 minutes): 120 minutes in one
    # stretch. From 10:15 the gap is a break (the cleanup time counts toward it).
    assert "10:05" not in starts and "10:10" not in starts and starts[0] == "10:15"
    fresh = TherapistSchedule(1, hours, [], busy, hands_on, max_continuous=timedelta(minutes=120))
    assert hm(run([fresh], step=5, buffer=5)[1][MONDAY])[0] == "10:05"
    # The day's limit counts the 60 hands-on minutes, not the 65 with cleanup.
    daily = TherapistSchedule(1, hours, [], busy, hands_on, max_daily=timedelta(minutes=120))
    assert run([daily], buffer=5)[1][MONDAY]
    assert run([daily], duration=61, step=5, buffer=5)[1][MONDAY] == []


def test_free_pairs_needs_two_different_therapists():
    slots = {1: {MONDAY: [at(MONDAY, 9), at(MONDAY, 10)]}, 2: {MONDAY: [at(MONDAY, 10)]}}
    assert free_pairs(slots, (None, None)) == {MONDAY: [(at(MONDAY, 10), (1, 2))]}
    assert free_pairs(slots, ([1], [1])) == {MONDAY: []}
    assert free_pairs(slots, ([2], None)) == {MONDAY: [(at(MONDAY, 10), (1, 2))]}


def test_seats_must_be_one_or_two():
    with pytest.raises(ValueError, match="seats"):
        run([schedule(periods=[period(0, "09:00", "12:00")])], seats=3)
