from datetime import datetime, timedelta

import pytest

from booking import selectors
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import TherapistFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("therapists", "days"), [(1, 1), (3, 7), (25, 31)])
def test_availability_load_runs_at_most_six_queries(swedish, django_assert_max_num_queries, therapists, days):
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
    with django_assert_max_num_queries(6):
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
