"""The busy clinic's day (benchmarks/availability.py), which both sides of the peer
benchmark seed from: pure, so checked without a database."""

import datetime as dt

import availability


def test_day_schedule_books_4_or_5_appointments_with_their_buffers_inside_the_working_day():
    for index in range(20):
        for offset in range(30):
            day = dt.date(2026, 12, 7) + dt.timedelta(days=offset)
            starts = availability.day_schedule(index, day)
            assert len(starts) in (4, 5)
            assert starts == sorted(starts)
            assert all(start % availability.QUARTER == 0 for start in starts)
            block = availability.APPOINTMENT_MINUTES + availability.BUFFER_MINUTES
            assert all(later - earlier >= block for earlier, later in zip(starts, starts[1:], strict=False))
            assert starts[0] >= 0 and starts[-1] + block <= availability.WORK_MINUTES


def test_day_schedule_is_the_same_on_every_call_and_differs_between_therapists():
    day = dt.date(2026, 12, 8)
    assert availability.day_schedule(3, day) == availability.day_schedule(3, day)
    assert len({tuple(availability.day_schedule(index, day)) for index in range(20)}) > 1


def test_day_schedule_books_about_60_percent_of_a_month():
    days = [dt.date(2026, 12, 7) + dt.timedelta(days=k) for k in range(30)]
    booked = sum(len(availability.day_schedule(index, day)) for index in range(20) for day in days)
    block = availability.APPOINTMENT_MINUTES + availability.BUFFER_MINUTES
    share = booked * block / (20 * len(days) * availability.WORK_MINUTES)
    assert 0.58 < share < 0.62


def test_therapists_option_reads_sizes_separated_by_commas():
    import argparse

    import pytest

    assert availability._sizes("200, 5,50,5") == (5, 50, 200)
    for bad in ("", "0,5", "five"):
        with pytest.raises(argparse.ArgumentTypeError):
            availability._sizes(bad)


def test_history_change_is_a_signed_percentage():
    assert availability._change(110.0, 100.0) == "+10%"
    assert availability._change(95.0, 100.0) == "-5%"
    assert availability._change(1.0, 0.0) == "n/a"
