"""The reports' computations (booking/reports.py): plain rows in, figures out, no database."""

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest

from booking import reports
from booking.availability import Interval, WorkingPeriod, period_span
from booking.choices import AppointmentStatus as S
from tests.conftest import LONDON


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


class Booking(NamedTuple):
    """One appointment as the database holds it; ``data()`` counts them as the selector's
    queries do, so the tests read as lists of appointments."""

    start: datetime
    status: str
    minutes: int
    therapist: int
    room: int | None
    source: str
    client: int
    created: datetime
    cancelled: datetime | None


def booking(start, *, status=S.COMPLETED, minutes=60, therapist=1, room=None, source="online", client=1,
            created=None, cancelled=None) -> Booking:  # fmt: skip
    created = created or start - timedelta(days=10)
    return Booking(start, status, minutes, therapist, room, source, client, created, cancelled)


NINE_TO_FIVE = [WorkingPeriod(d, time(9), time(17)) for d in range(5)]  # Monday to Friday


def _count(bookings, key) -> list[tuple]:
    totals: dict[tuple, list[int]] = {}
    for b in bookings:
        entry = totals.setdefault(key(b), [0, 0])
        entry[0] += 1
        entry[1] += b.minutes
    return [(*k, count, minutes) for k, (count, minutes) in totals.items()]


def data(first, last, bookings=(), *, hours=None, time_off=None, closures=(), rooms=(), seen_before=()):
    kept = {b.client for b in bookings if b.status in reports.KEPT}
    return reports.ReportInput(
        first=first,
        last=last,
        zone=LONDON,
        starts=[reports.StartRow(*row) for row in _count(bookings, lambda b: (b.start, b.status))],
        shares=[
            reports.ShareRow(*row)
            for row in _count(bookings, lambda b: (b.therapist, b.room, b.source, b.status))
        ],
        cancellations=[
            reports.Cancellation(b.start, b.cancelled) for b in bookings if b.status == S.CANCELLED
        ],
        lead_times=Counter(reports.lead_time(b.start - b.created).value for b in bookings),
        clients_kept=len(kept),
        clients_returning=len(kept & set(seen_before)),
        hours={1: NINE_TO_FIVE} if hours is None else hours,
        time_off=time_off or {},
        closures=list(closures),
        rooms=list(rooms),
        cutoff=timedelta(hours=24),
    )


# Ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        (reports.Preset.LAST_MONTH, (date(2026, 11, 1), date(2026, 11, 30))),
        (reports.Preset.THIS_MONTH, (date(2026, 12, 1), date(2026, 12, 31))),
        (reports.Preset.LAST_3_MONTHS, (date(2026, 9, 1), date(2026, 11, 30))),
        (reports.Preset.LAST_12_MONTHS, (date(2025, 12, 1), date(2026, 11, 30))),
    ],
)
def test_presets_are_whole_calendar_months(preset, expected):
    assert reports.preset_range(preset, date(2026, 12, 2)) == expected


def test_last_month_in_january_is_the_previous_december():
    assert reports.preset_range(reports.Preset.LAST_MONTH, date(2027, 1, 15)) == (
        date(2026, 12, 1),
        date(2026, 12, 31),
    )


def test_a_long_range_is_capped_and_a_reversed_one_swapped():
    first, last, notes = reports.range_clamp(date(2020, 1, 1), date(2026, 1, 1))
    assert (first, (last - first).days + 1, notes) == (
        date(2020, 1, 1),
        reports.MAX_DAYS,
        {reports.RangeNote.CAPPED},
    )
    assert reports.range_clamp(date(2026, 2, 1), date(2026, 1, 1)) == (
        date(2026, 1, 1),
        date(2026, 2, 1),
        {reports.RangeNote.SWAPPED},
    )
    assert reports.range_clamp(date(2026, 1, 1), date(2026, 1, 1))[2] == frozenset()


def test_bounds():
    assert reports.in_bounds(date(1900, 1, 1)) and reports.in_bounds(date(2200, 12, 31))
    assert not reports.in_bounds(date(1899, 12, 31)) and not reports.in_bounds(date(2201, 1, 1))


# Available minutes ---------------------------------------------------------------------


def test_available_minutes_on_the_days_the_clocks_change():
    """Europe/London: 29 March 2026 loses 01:00-02:00, 25 October 2026 repeats it. Hours of
    00:00-04:00 on those Sundays last three and five hours of real time."""
    night = [WorkingPeriod(6, time(0), time(4))]
    spring, autumn, ordinary = date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 22)
    for day, expected in ((spring, 180), (autumn, 300), (ordinary, 240)):
        minutes = reports.available_minutes(
            first=day, last=day, zone=LONDON, periods=night, time_off=[], closed=set()
        )
        assert minutes == {day: expected}


def test_ordinary_hours_on_a_dst_day_are_not_changed():
    sunday = [WorkingPeriod(6, time(9), time(17))]
    minutes = reports.available_minutes(
        first=date(2026, 3, 29),
        last=date(2026, 3, 29),
        zone=LONDON,
        periods=sunday,
        time_off=[],
        closed=set(),
    )
    assert minutes == {date(2026, 3, 29): 480}


def test_time_off_and_closures_are_taken_off():
    monday, tuesday, wednesday = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
    away = [
        Interval(at(monday, 12), at(monday, 14)),
        Interval(at(monday, 13), at(monday, 15)),  # overlapping: counted once
        Interval(at(tuesday, 16), at(wednesday, 10)),  # over the night into Wednesday
    ]
    closed = reports.closed_days([(date(2026, 11, 26), date(2026, 11, 27))], monday, date(2026, 11, 29))
    minutes = reports.available_minutes(
        first=monday, last=date(2026, 11, 29), zone=LONDON, periods=NINE_TO_FIVE, time_off=away, closed=closed
    )
    assert minutes == {monday: 480 - 180, tuesday: 480 - 60, wednesday: 480 - 60}


def test_opening_minutes_is_the_union_of_everyones_hours():
    anna = [WorkingPeriod(0, time(9), time(13))]
    ben = [WorkingPeriod(0, time(11), time(17)), WorkingPeriod(0, time(18), time(19))]
    monday = date(2026, 11, 23)
    assert reports.opening_minutes(
        first=monday, last=monday, zone=LONDON, hours=[anna, ben], closed=set()
    ) == (8 * 60 + 60)


def test_opening_minutes_over_a_year_match_each_days_real_spans():
    """Shared hours merged once per weekday give what every period's real span, day by day,
    gives: over a year with both clock changes, night hours that cross them and closures."""
    hours = [
        [WorkingPeriod(d, time(9), time(17)) for d in range(5)],
        [WorkingPeriod(d, time(9), time(17)) for d in range(5)],  # the same as the first
        [
            WorkingPeriod(6, time(0), time(4)),
            WorkingPeriod(6, time(3), time(5)),
            WorkingPeriod(5, time(8), time(9)),
        ],
        [WorkingPeriod(2, time(16, 30), time(20)), WorkingPeriod(2, time(21), time(22))],
    ]
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    closed = reports.closed_days(
        [(date(2026, 3, 29), date(2026, 3, 29)), (date(2026, 8, 3), date(2026, 8, 9))], first, last
    )
    expected = 0
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        if day in closed:
            continue
        spans = sorted(
            period_span(day, p, LONDON) for periods in hours for p in periods if p.weekday == day.weekday()
        )
        covered: set[datetime] = set()  # every minute any span covers, counted once
        for start, end in spans:
            covered.update(
                start + timedelta(minutes=m) for m in range(int((end - start).total_seconds()) // 60)
            )
        expected += len(covered)
    assert (
        reports.opening_minutes(first=first, last=last, zone=LONDON, hours=hours, closed=closed) == expected
    )
    assert expected > 0


# The reports ----------------------------------------------------------------------------


MONDAY = date(2026, 11, 23)


def test_shared_hours_give_each_therapist_the_figures_worked_out_alone():
    """Therapists with the same hours (in any order) and no time off share one working-out;
    each one's available minutes, and each week's, are still what they are alone."""
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    weekend = [WorkingPeriod(6, time(0), time(4)), WorkingPeriod(5, time(10), time(14))]
    hours = {
        1: NINE_TO_FIVE,
        2: list(reversed(NINE_TO_FIVE)),  # the same hours listed the other way round
        3: NINE_TO_FIVE,  # the same hours, but time off below
        4: weekend,
        5: NINE_TO_FIVE + weekend,
    }
    time_off = {
        3: [Interval(at(date(2026, 6, 1), 12), at(date(2026, 6, 3), 10))],
        5: [  # from before the range, and months later on the night the clocks go forward
            Interval(at(date(2025, 12, 29), 0), at(date(2026, 1, 2), 12)),
            Interval(at(date(2026, 3, 29), 0), at(date(2026, 3, 29), 3)),
        ],
    }
    closures = [(date(2026, 12, 24), date(2026, 12, 28))]
    result = reports.reports_compute(data(first, last, hours=hours, time_off=time_off, closures=closures))

    closed = reports.closed_days(closures, first, last)
    by_week: Counter[date] = Counter()
    alone = {}
    for therapist, periods in hours.items():
        daily = reports.available_minutes(
            first=first,
            last=last,
            zone=LONDON,
            periods=periods,
            time_off=time_off.get(therapist, ()),
            closed=closed,
        )
        alone[therapist] = sum(daily.values())
        for day, minutes in daily.items():
            by_week[reports.week_of(day)] += minutes
    assert {u.key: u.available for u in result.by_therapist} == alone
    assert alone[3] == alone[1] - 300 - 480 - 60  # Monday afternoon, all Tuesday, Wednesday morning
    assert {u.key: u.available for u in result.by_week} == {
        week: by_week[week] for week in {u.key for u in result.by_week}
    }
    assert sum(u.available for u in result.by_week) == sum(alone.values())


def test_utilisation_by_therapist_and_week_counts_confirmed_and_completed_only():
    rows = [
        booking(at(MONDAY, 10), minutes=60, status=S.COMPLETED),
        booking(at(MONDAY, 12), minutes=90, status=S.CONFIRMED),
        booking(at(MONDAY, 14), minutes=60, status=S.NO_SHOW),
        booking(at(MONDAY, 15), minutes=60, status=S.CANCELLED),
        booking(at(date(2026, 11, 30), 10), minutes=30, therapist=2),  # the next week
    ]
    result = reports.reports_compute(
        data(MONDAY, date(2026, 11, 30), rows, hours={1: NINE_TO_FIVE, 2: NINE_TO_FIVE})
    )
    assert result.by_therapist == [
        reports.Utilisation(1, 150, 6 * 480),
        reports.Utilisation(2, 30, 6 * 480),
    ]
    assert result.by_week == [
        reports.Utilisation(MONDAY, 150, 2 * 5 * 480),
        reports.Utilisation(date(2026, 11, 30), 30, 2 * 480),
    ]
    assert result.by_therapist[0].percent == pytest.approx(100 * 150 / 2880)
    assert reports.Utilisation(3, 10, 0).percent is None


def test_room_utilisation_against_opening_time():
    rows = [booking(at(MONDAY, 10), room=7), booking(at(MONDAY, 11), room=7, status=S.CANCELLED)]
    result = reports.reports_compute(data(MONDAY, MONDAY, rows, rooms=[7, 8]))
    assert result.by_room == [reports.Utilisation(7, 60, 480), reports.Utilisation(8, 0, 480)]
    assert reports.reports_compute(data(MONDAY, MONDAY, rows)).by_room == []


def test_revenue_by_technique_and_by_therapist_largest_first():
    rows = [
        reports.RevenueRow(therapist_id=1, technique_id=1, appointments=1, amount=Decimal("60.00")),
        reports.RevenueRow(therapist_id=1, technique_id=2, appointments=1, amount=Decimal("45.50")),
        reports.RevenueRow(therapist_id=2, technique_id=2, appointments=1, amount=Decimal("45.50")),
    ]
    result = reports.reports_compute(replace(data(MONDAY, MONDAY), revenue=rows))
    assert result.revenue_by_technique == [
        reports.Revenue(2, 2, Decimal("91.00")),
        reports.Revenue(1, 1, Decimal("60.00")),
    ]
    assert result.revenue_by_therapist == [
        reports.Revenue(1, 2, Decimal("105.50")),
        reports.Revenue(2, 1, Decimal("45.50")),
    ]


def test_sources_attendance_and_late_cancellations():
    start = at(MONDAY, 10)
    rows = [
        booking(start, source="online"),
        booking(start, source="staff", status=S.NO_SHOW),
        # Cancelled two days ahead: on time. Three hours ahead: late (cutoff 24 hours).
        booking(start, source="online", status=S.CANCELLED, cancelled=start - timedelta(days=2)),
        booking(start, source="staff", status=S.CANCELLED, cancelled=start - timedelta(hours=3)),
        # Exactly at the cutoff is still in time; no time recorded is not late.
        booking(start, source="online", status=S.CANCELLED, cancelled=start - timedelta(hours=24)),
        booking(start, source="online", status=S.CANCELLED),
    ]
    result = reports.reports_compute(data(MONDAY, MONDAY, rows))
    assert result.sources == {"online": 4, "staff": 2}
    assert result.attendance == reports.Attendance(
        bookings=6, no_shows=1, cancellations=4, late_cancellations=1
    )
    assert result.attendance.rate(1) == pytest.approx(100 / 6)
    assert reports.Attendance(0, 0, 0, 0).rate(0) is None


def test_new_and_returning_clients():
    rows = [
        booking(at(MONDAY, 10), client=1),
        booking(at(MONDAY, 11), client=1),  # twice in the range: one client
        booking(at(MONDAY, 12), client=2),
        booking(at(MONDAY, 13), client=3, status=S.CANCELLED),  # only cancelled: not counted
        booking(at(MONDAY, 14), client=4, status=S.NO_SHOW),
    ]
    result = reports.reports_compute(data(MONDAY, MONDAY, rows, seen_before={2}))
    assert result.clients == reports.ClientMix(new=2, returning=1)


@pytest.mark.parametrize(
    ("ahead", "bucket"),
    [
        (timedelta(hours=2), reports.LeadTime.UNDER_A_DAY),
        (timedelta(hours=-1), reports.LeadTime.UNDER_A_DAY),  # entered after the visit
        (timedelta(hours=23, minutes=59), reports.LeadTime.UNDER_A_DAY),
        (timedelta(days=1), reports.LeadTime.DAYS_1_2),
        (timedelta(days=2, hours=23), reports.LeadTime.DAYS_1_2),
        (timedelta(days=3), reports.LeadTime.DAYS_3_7),
        (timedelta(days=8), reports.LeadTime.DAYS_8_14),
        (timedelta(days=30, hours=23), reports.LeadTime.DAYS_15_30),
        (timedelta(days=31), reports.LeadTime.OVER_30),
    ],
)
def test_lead_time_buckets(ahead, bucket):
    assert reports.lead_time(ahead) == bucket


def test_lead_times_counted_by_the_database_come_through_with_every_bucket():
    result = reports.reports_compute(replace(data(MONDAY, MONDAY), lead_times={"3-7": 4, "over-30": 1}))
    assert result.lead_times == {
        reports.LeadTime.UNDER_A_DAY: 0, reports.LeadTime.DAYS_1_2: 0, reports.LeadTime.DAYS_3_7: 4,
        reports.LeadTime.DAYS_8_14: 0, reports.LeadTime.DAYS_15_30: 0, reports.LeadTime.OVER_30: 1,
    }  # fmt: skip


def test_heat_map_counts_kept_starts_in_local_hours():
    summer_monday = date(2026, 6, 1)
    rows = [
        booking(at(summer_monday, 9, 30)),
        booking(at(summer_monday, 9, 45), status=S.NO_SHOW),
        booking(at(summer_monday, 10), status=S.CANCELLED),
        booking(at(summer_monday + timedelta(days=5), 14)),  # Saturday
    ]
    result = reports.reports_compute(data(summer_monday, summer_monday + timedelta(days=6), rows))
    assert result.heat[0][9] == 2
    assert result.heat[0][10] == 0
    assert result.heat[5][14] == 1
    assert sum(map(sum, result.heat)) == 3
    assert result.lead_times[reports.LeadTime.DAYS_8_14] == 4


def test_empty_range():
    result = reports.reports_compute(data(MONDAY, MONDAY, hours={}))
    assert result.by_therapist == [] and result.revenue_by_technique == []
    assert result.by_week == [reports.Utilisation(MONDAY, 0, 0)]
    assert result.attendance == reports.Attendance(0, 0, 0, 0)


# Counting the range's rows (bookings_count) ----------------------------------------------


def _utc_text(moment: datetime | None) -> str | None:
    """A time as the selector reads it (see selectors.UtcText): naive UTC ISO text."""
    return None if moment is None else str(moment.astimezone(UTC).replace(tzinfo=None))


def row_of(b: Booking, *, technique: int = 1, price: str = "60.00") -> reports.BookingRow:
    return reports.BookingRow(
        start=_utc_text(b.start), created_at=_utc_text(b.created), cancelled_at=_utc_text(b.cancelled),
        status=b.status, therapist_id=b.therapist, room_id=b.room, source=b.source, technique_id=technique,
        minutes=b.minutes, price=price, client_id=b.client,
    )  # fmt: skip


MIXED = [
    booking(at(MONDAY, 9), therapist=1, room=7, client=1, created=at(MONDAY, 8)),
    booking(at(MONDAY, 9), therapist=2, minutes=90, source="staff", client=2),
    booking(at(MONDAY, 9), therapist=3, status=S.CONFIRMED, client=1),
    booking(at(MONDAY, 10), therapist=1, room=7, status=S.NO_SHOW, client=3),
    booking(at(MONDAY, 10), therapist=2, status=S.CANCELLED, client=4, cancelled=at(MONDAY, 7)),
    booking(at(MONDAY, 11), therapist=2, status=S.CANCELLED, client=5),  # no time recorded
    booking(at(MONDAY, 11), therapist=1, minutes=30, client=6, created=at(MONDAY, 11) - timedelta(days=45)),
    booking(
        at(date(2026, 6, 1), 9), therapist=1, client=2, created=at(date(2026, 6, 1), 9) - timedelta(days=3)
    ),
]


def test_bookings_count_gives_what_the_grouped_counts_gave():
    counted = reports.bookings_count([row_of(b) for b in MIXED])
    expected = data(MONDAY, MONDAY, MIXED)
    assert sorted(counted.starts) == sorted(expected.starts)
    assert all(row.start.utcoffset() == timedelta(0) for row in counted.starts)
    assert sorted(counted.shares, key=repr) == sorted(expected.shares, key=repr)
    assert sorted(counted.cancellations, key=repr) == sorted(expected.cancellations, key=repr)
    assert counted.lead_times == expected.lead_times
    assert counted.clients_kept == {1, 2, 3, 6}
    # Every figure comes out the same through reports_compute.
    first, last = date(2026, 6, 1), MONDAY
    by_rows = replace(
        data(first, last, MIXED),
        starts=counted.starts, shares=counted.shares, cancellations=counted.cancellations,
        lead_times=counted.lead_times,
    )  # fmt: skip
    assert reports.reports_compute(by_rows) == reports.reports_compute(data(first, last, MIXED))


@pytest.mark.parametrize(
    ("ahead", "bucket"),
    [
        (timedelta(days=1), reports.LeadTime.DAYS_1_2),  # exactly at an edge: not within it
        (timedelta(days=1) - timedelta(microseconds=1), reports.LeadTime.UNDER_A_DAY),
        (timedelta(hours=-3), reports.LeadTime.UNDER_A_DAY),  # entered after the visit
        (timedelta(days=3), reports.LeadTime.DAYS_3_7),
        (timedelta(days=14, hours=23), reports.LeadTime.DAYS_8_14),
        (timedelta(days=31) - timedelta(microseconds=1), reports.LeadTime.DAYS_15_30),
        (timedelta(days=31), reports.LeadTime.OVER_30),
        (timedelta(days=400), reports.LeadTime.OVER_30),
    ],
)
def test_bookings_count_places_lead_times_exactly_as_lead_time(ahead, bucket):
    start = at(MONDAY, 10).astimezone(UTC)  # real time: a month back crosses October's change
    counted = reports.bookings_count([row_of(booking(start, created=start - ahead))])
    assert reports.lead_time(ahead) == bucket
    assert counted.lead_times == {bucket.value: 1}


def test_bookings_count_reads_trimmed_fractions_of_a_second():
    """PostgreSQL writes 10:00:00.5 where SQLite writes 10:00:00.500000."""
    row = row_of(booking(at(MONDAY, 10)))._replace(
        start="2026-11-23 10:00:00", created_at="2026-11-22 10:00:00.5", cancelled_at="2026-11-23 09:00:00.25"
    )
    counted = reports.bookings_count([row, row._replace(status=S.CANCELLED)])
    assert counted.lead_times == {reports.LeadTime.UNDER_A_DAY.value: 2}
    assert counted.cancellations == [
        reports.Cancellation(
            datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 23, 9, 0, 0, 250000, tzinfo=UTC)
        )
    ]


def test_bookings_count_adds_up_revenue_at_the_price_booked():
    start = at(MONDAY, 10)
    rows = [
        # The same price as each database writes it: SQLite "45.5", PostgreSQL "45.50".
        row_of(booking(start, therapist=1), technique=1, price="45.5"),
        row_of(booking(start, therapist=2), technique=1, price="45.50"),
        row_of(booking(start, therapist=1, status=S.CONFIRMED), technique=2, price="60"),
        row_of(booking(start, therapist=1, status=S.CONFIRMED), technique=2, price="62.25"),
        row_of(booking(start, therapist=1, status=S.CANCELLED), technique=2, price="60.00"),
        row_of(booking(start, therapist=1, status=S.NO_SHOW), technique=2, price="60.00"),
    ]
    counted = reports.bookings_count(rows)
    assert sorted(counted.revenue) == [
        reports.RevenueRow(therapist_id=1, technique_id=1, appointments=1, amount=Decimal("45.5")),
        reports.RevenueRow(therapist_id=1, technique_id=2, appointments=2, amount=Decimal("122.25")),
        reports.RevenueRow(therapist_id=2, technique_id=1, appointments=1, amount=Decimal("45.50")),
    ]
    result = reports.reports_compute(replace(data(MONDAY, MONDAY), revenue=counted.revenue))
    assert result.revenue_by_technique == [
        reports.Revenue(2, 2, Decimal("122.25")),
        reports.Revenue(1, 2, Decimal("91.00")),
    ]


def test_bookings_count_of_nothing():
    counted = reports.bookings_count([])
    assert counted == reports.Counted([], [], [], [], {}, set())
