"""The schedule's day layout: pure, no database."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.availability import WorkingPeriod
from booking.dayplan import (
    Absence,
    Booking,
    Kind,
    RoomUse,
    display_hours,
    hour_marks,
    plan_day,
    plan_room_day,
    window_for,
)

LONDON = ZoneInfo("Europe/London")
TUESDAY = date(2026, 11, 24)  # GMT, so London wall time equals UTC
SPLIT_DAY = [WorkingPeriod(1, time(9), time(13)), WorkingPeriod(1, time(14), time(18))]


def at(day: date, hour: int, minute: int = 0, tz=LONDON) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def spans(blocks, kind=None):
    return [
        (b.kind, f"{b.start.astimezone(LONDON):%H:%M}", f"{b.end.astimezone(LONDON):%H:%M}")
        for b in blocks
        if kind is None or b.kind == kind
    ]


def test_working_periods_breaks_bookings_cleanup_and_free_gaps():
    booking = Booking(key=7, start=at(TUESDAY, 10), end=at(TUESDAY, 11), occupied_until=at(TUESDAY, 11, 15))
    plan = plan_day(
        day=TUESDAY,
        tz=LONDON,
        window=window_for(TUESDAY, LONDON, (8, 19)),
        periods=SPLIT_DAY + [WorkingPeriod(2, time(7), time(22))],  # Wednesday is ignored
        bookings=[booking],
    )
    assert spans(plan.background) == [
        (Kind.AWAY, "08:00", "09:00"),
        (Kind.WORKING, "09:00", "13:00"),
        (Kind.BREAK, "13:00", "14:00"),
        (Kind.WORKING, "14:00", "18:00"),
        (Kind.AWAY, "18:00", "19:00"),
    ]
    assert spans(plan.bookings) == [(Kind.BOOKED, "10:00", "11:00"), (Kind.CLEANUP, "11:00", "11:15")]
    assert plan.bookings[0].key == 7
    assert spans(plan.free) == [
        (Kind.FREE, "09:00", "10:00"),
        (Kind.FREE, "11:15", "13:00"),
        (Kind.FREE, "14:00", "18:00"),
    ]
    assert plan.free_minutes == 60 + 105 + 240
    assert plan.works
    # Positions are shares of the 11-hour window.
    booked = plan.bookings[0]
    assert booked.top == pytest.approx(200 / 11, abs=0.001)
    assert booked.height == pytest.approx(100 / 11, abs=0.001)
    assert sum(b.height for b in plan.background) == pytest.approx(100, abs=0.01)


def test_time_off_covers_working_time_and_leaves_no_free_gap_under_it():
    plan = plan_day(
        day=TUESDAY,
        tz=LONDON,
        window=window_for(TUESDAY, LONDON, (9, 18)),
        periods=SPLIT_DAY,
        time_off=[Absence(at(TUESDAY, 15), at(TUESDAY, 17), "Dentist")],
    )
    assert (Kind.OFF, "15:00", "17:00") in spans(plan.background)
    assert next(b for b in plan.background if b.kind == Kind.OFF).reason == "Dentist"
    assert spans(plan.free) == [
        (Kind.FREE, "09:00", "13:00"),
        (Kind.FREE, "14:00", "15:00"),
        (Kind.FREE, "17:00", "18:00"),
    ]
    # The words beside the picture read in time order.
    assert [b.kind for b in plan.timeline()] == [Kind.FREE, Kind.BREAK, Kind.FREE, Kind.OFF, Kind.FREE]


def test_a_closure_covers_the_whole_window_and_offers_nothing():
    plan = plan_day(
        day=TUESDAY,
        tz=LONDON,
        window=window_for(TUESDAY, LONDON, (9, 18)),
        periods=SPLIT_DAY,
        closed_reason="Staff training",
    )
    assert spans(plan.background) == [(Kind.CLOSED, "09:00", "18:00")]
    assert plan.background[0].reason == "Staff training"
    assert plan.free == []
    assert not plan.works


def test_cancelled_appointments_are_drawn_but_leave_the_time_free():
    cancelled = Booking(
        key=1, start=at(TUESDAY, 9), end=at(TUESDAY, 10), occupied_until=at(TUESDAY, 10, 15), occupies=False
    )
    plan = plan_day(
        day=TUESDAY,
        tz=LONDON,
        window=window_for(TUESDAY, LONDON, (9, 18)),
        periods=SPLIT_DAY,
        bookings=[cancelled],
    )
    # Its own kind, so a page can draw it aside rather than over the free time it left.
    assert spans(plan.bookings) == [(Kind.CANCELLED, "09:00", "10:00")]
    assert spans(plan.free)[0] == (Kind.FREE, "09:00", "13:00")
    # Read aloud after what is booked at the same time, before the free gap.
    assert [b.kind for b in plan.timeline()][:2] == [Kind.CANCELLED, Kind.FREE]


def test_a_booking_outside_working_hours_is_shown_over_away_time():
    late = Booking(
        key=2, start=at(TUESDAY, 18, 30), end=at(TUESDAY, 19, 30), occupied_until=at(TUESDAY, 19, 45)
    )
    hours = display_hours(
        periods=SPLIT_DAY, spans=[(late.start, late.occupied_until)], days=[TUESDAY], tz=LONDON
    )
    assert hours == (9, 20)
    plan = plan_day(
        day=TUESDAY, tz=LONDON, window=window_for(TUESDAY, LONDON, hours), periods=SPLIT_DAY, bookings=[late]
    )
    assert spans(plan.bookings) == [(Kind.BOOKED, "18:30", "19:30"), (Kind.CLEANUP, "19:30", "19:45")]
    assert spans(plan.free)[-1] == (Kind.FREE, "14:00", "18:00")


def test_display_hours_defaults_and_rounds_outwards():
    assert display_hours(periods=[], spans=[], days=[TUESDAY], tz=LONDON) == (9, 18)
    periods = [WorkingPeriod(0, time(8, 30), time(17, 30))]
    assert display_hours(periods=periods, spans=[], days=[TUESDAY], tz=LONDON) == (8, 18)
    late = (at(TUESDAY, 22, 45), at(TUESDAY + timedelta(days=1), 0))  # ends at midnight exactly
    assert display_hours(periods=periods, spans=[late], days=[TUESDAY], tz=LONDON) == (8, 24)
    # Crossing midnight: the evening stretches Tuesday to 24:00, the small hours start
    # Wednesday at 00:00, and neither day becomes 00:00 to 24:00.
    night = (at(TUESDAY, 23, 30), at(TUESDAY + timedelta(days=1), 0, 45))
    assert display_hours(periods=periods, spans=[night], days=[TUESDAY], tz=LONDON) == (8, 24)
    assert display_hours(periods=periods, spans=[night], days=[TUESDAY + timedelta(days=1)], tz=LONDON) == (
        0,
        18,
    )
    # Spans on other days are ignored.
    assert display_hours(periods=periods, spans=[night], days=[TUESDAY - timedelta(days=1)], tz=LONDON) == (
        8,
        18,
    )


def test_spring_forward_day_is_drawn_in_real_time_with_the_zone_named():
    day = date(2027, 3, 28)  # 01:00 GMT becomes 02:00 BST
    window = window_for(day, LONDON, (0, 4))
    assert window[1] - window[0] == timedelta(hours=3)
    marks = hour_marks(*window, LONDON)
    assert [label for _, label in marks] == ["00:00 GMT", "02:00 BST", "03:00 BST"]
    assert [round(top, 1) for top, _ in marks] == [0.0, 33.3, 66.7]
    plan = plan_day(day=day, tz=LONDON, window=window, periods=[WorkingPeriod(6, time(0), time(4))])
    assert spans(plan.free) == [(Kind.FREE, "00:00", "04:00")]
    assert plan.free_minutes == 180


def test_fall_back_day_shows_the_repeated_hour_twice():
    day = date(2026, 10, 25)  # 02:00 BST becomes 01:00 GMT
    window = window_for(day, LONDON, (0, 3))
    assert window[1] - window[0] == timedelta(hours=4)
    assert [label for _, label in hour_marks(*window, LONDON)] == [
        "00:00 BST",
        "01:00 BST",
        "01:00 GMT",
        "02:00 GMT",
    ]
    second_run = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT
    booking = Booking(
        key=3,
        start=second_run,
        end=second_run + timedelta(hours=1),
        occupied_until=second_run + timedelta(hours=1),
    )
    plan = plan_day(day=day, tz=LONDON, window=window, periods=[], bookings=[booking])
    assert plan.bookings[0].top == pytest.approx(62.5)
    assert plan.bookings[0].height == pytest.approx(25)


def test_ordinary_days_have_plain_hour_labels():
    marks = hour_marks(*window_for(TUESDAY, LONDON, (9, 12)), LONDON)
    assert marks == [(0.0, "09:00"), (pytest.approx(33.333), "10:00"), (pytest.approx(66.667), "11:00")]


def test_week_in_words():
    from booking.dayplan import week_rows, week_summary

    periods = [WorkingPeriod(d, time(9), time(18)) for d in range(5)] + [
        WorkingPeriod(5, time(14), time(16)),
        WorkingPeriod(5, time(10), time(13)),
    ]
    assert week_rows(periods)[5] == ("Sat", "10:00–13:00, 14:00–16:00")
    assert week_rows(periods)[6] == ("Sun", "")
    assert week_summary(periods) == "Mon–Fri 09:00–18:00; Sat 10:00–13:00, 14:00–16:00"
    assert week_summary([WorkingPeriod(2, time(9), time(12))]) == "Wed 09:00–12:00"
    assert week_summary([]) == ""


def test_a_room_day_shows_sessions_and_turnover_and_clips_to_the_window():
    window = (at(TUESDAY, 9), at(TUESDAY, 13))
    uses = [
        RoomUse(key=2, start=at(TUESDAY, 11), end=at(TUESDAY, 12), until=at(TUESDAY, 12, 20)),
        RoomUse(key=1, start=at(TUESDAY, 8), end=at(TUESDAY, 10), until=at(TUESDAY, 10, 10)),
        # Cancelled: drawn, but it gives the room back (no turnover).
        RoomUse(
            key=3,
            start=at(TUESDAY, 12, 30),
            end=at(TUESDAY, 13, 30),
            until=at(TUESDAY, 13, 40),
            occupies=False,
        ),
        RoomUse(key=4, start=at(TUESDAY, 14), end=at(TUESDAY, 15), until=at(TUESDAY, 15, 10)),  # outside
    ]
    blocks = plan_room_day(window=window, uses=uses)
    assert [(b.key, *span) for b, span in zip(blocks, spans(blocks), strict=True)] == [
        (1, Kind.BOOKED, "09:00", "10:00"),
        (1, Kind.TURNOVER, "10:00", "10:10"),
        (2, Kind.BOOKED, "11:00", "12:00"),
        (2, Kind.TURNOVER, "12:00", "12:20"),
        (3, Kind.CANCELLED, "12:30", "13:00"),
    ]
    booked = blocks[2]
    assert (booked.top, booked.height) == (50.0, 25.0)


def test_a_room_without_turnover_has_no_turnover_block():
    window = (at(TUESDAY, 9), at(TUESDAY, 12))
    use = RoomUse(key=1, start=at(TUESDAY, 10), end=at(TUESDAY, 11), until=at(TUESDAY, 11))
    assert [b.kind for b in plan_room_day(window=window, uses=[use])] == [Kind.BOOKED]
