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
    slots = selectors.free_slots(
        data=data, length=length, buffer_minutes=15, first_day=now.date(), days=days, now=now
    )
    assert datetime(2026, 11, 23, 10, tzinfo=LONDON) not in slots[team[0].pk][now.date()]
    assert datetime(2026, 11, 23, 12, tzinfo=LONDON) in slots[team[0].pk][now.date()]


def test_only_active_therapists_who_offer_the_technique(swedish):
    offering = TherapistFactory(techniques=[swedish])
    TherapistFactory(techniques=[swedish], active=False)
    TherapistFactory()
    data = selectors.availability_load(technique=swedish, first_day=datetime(2026, 11, 23).date(), days=1)
    assert [t.pk for t in data.therapists] == [offering.pk]
