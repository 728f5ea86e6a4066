"""The words for why a time cannot be booked (booking/explanations.py)."""

from datetime import datetime, time, timedelta

from booking import explanations
from booking.availability import Policy, SlotProblem, WorkingPeriod
from booking.selectors import Obstacle, TherapistProblem
from tests.conftest import LONDON

POLICY = Policy(min_notice=timedelta(minutes=90), horizon=timedelta(days=60), step=timedelta(minutes=15))
TUESDAY_TEN = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)


def test_every_client_problem_has_words():
    words = {
        problem: explanations.client_message(problem, policy=POLICY, day=TUESDAY_TEN)
        for problem in SlotProblem
    }
    assert words[SlotProblem.NOTICE].startswith("Online bookings need at least 1.5 hours' notice")
    assert words[SlotProblem.HORIZON] == "Online booking opens 60 days ahead; that time is too far away."
    assert (
        words[SlotProblem.CLOSED] == "The clinic is closed on Tuesday 24 November. Please choose another day."
    )
    assert words[SlotProblem.TAKEN].startswith("Sorry, this time was just taken")
    assert len(set(words.values())) == len(words) - 1  # overnight and outside hours share their words
    with_reason = explanations.client_message(
        SlotProblem.CLOSED, policy=POLICY, day=TUESDAY_TEN, closure_reason="Staff training"
    )
    assert (
        with_reason
        == "The clinic is closed on Tuesday 24 November: Staff training. Please choose another day."
    )


def test_staff_words_name_the_facts():
    messages = explanations.staff_messages(
        [
            Obstacle(SlotProblem.OFF_GRID),
            Obstacle(TherapistProblem.INACTIVE),
            Obstacle(SlotProblem.CLOSED, closure_reason="Flood"),
            Obstacle(
                SlotProblem.OUTSIDE_HOURS,
                periods=(WorkingPeriod(1, time(9), time(13)), WorkingPeriod(1, time(14), time(18))),
            ),
        ],
        therapist_name="Dana",
        technique_name="Swedish",
        start=TUESDAY_TEN.replace(hour=18, minute=3),
        duration=timedelta(minutes=60),
        zone=LONDON,
    )
    assert messages == [
        "Start times are on 5-minute marks (10:00, 10:05 …); 18:03 is not.",
        "Dana is not taking bookings (not active).",
        "The clinic is closed on Tuesday 24 November: Flood.",
        "18:03–19:03 is outside Dana's working hours on Tuesday (09:00–13:00, 14:00–18:00). "
        "Tick “Book outside working hours” to book it anyway.",
    ]
