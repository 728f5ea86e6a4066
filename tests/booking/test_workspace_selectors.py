"""Reads for a therapist's "My days" (booking/workspace_selectors.py)."""

from datetime import date, datetime, time, timedelta

import pytest

from booking import workspace_selectors
from booking.choices import AppointmentStatus, RuleOutcome
from booking.models import Closure, HealthIntake, TimeOff, TreatmentNote
from tests.conftest import LONDON
from tests.factories import (
    ClientFactory,
    TechniqueFactory,
    TherapistFactory,
    appointment_row,
    health_rule,
    user_in_role,
)

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 11, 23)


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=LONDON)


@pytest.fixture
def anna(swedish):
    return TherapistFactory(name="Anna Field", techniques=[swedish], hours={0: [("09:00", "17:00")]})


@pytest.fixture
def anna_user(anna):
    return user_in_role("Therapist", "anna", anna)


def load(anna, reader, **extra):
    return workspace_selectors.therapist_days(therapist=anna, first_day=MONDAY, reader=reader, **extra)


def test_seven_local_days_with_hours_time_off_closures_and_their_appointments(anna, anna_user, swedish):
    ben = TherapistFactory(techniques=[swedish])
    monday = appointment_row(anna, swedish, at(MONDAY, "10:00"), client_name="Monday")
    # 00:30 on Wednesday in London is Tuesday in UTC: it is Wednesday's.
    late = appointment_row(anna, swedish, at(MONDAY + timedelta(days=2), "00:30"), client_name="Small hours")
    appointment_row(anna, swedish, at(MONDAY + timedelta(days=7), "10:00"), client_name="Next week")
    appointment_row(ben, swedish, at(MONDAY, "10:00"), client_name="Not Anna's")
    # A time held for the waitlist is not a booking (yet).
    appointment_row(
        anna,
        swedish,
        at(MONDAY, "14:00"),
        status=AppointmentStatus.HELD,
        held_until=at(MONDAY, "13:00"),
        client_name="Held",
    )
    TimeOff.objects.create(
        therapist=anna, start=at(MONDAY, "15:00"), end=at(MONDAY, "17:00"), reason="Course"
    )
    Closure.objects.create(
        first_day=MONDAY + timedelta(days=4), last_day=MONDAY + timedelta(days=9), reason="Works"
    )

    data = load(anna, anna_user)
    assert [d.day for d in data.days] == [MONDAY + timedelta(days=n) for n in range(7)]
    assert [[v.appointment for v in d.visits] for d in data.days] == [[monday], [], [late], [], [], [], []]
    first = data.days[0]
    assert first.hours == [(time(9), time(17))]
    assert [o.reason for o in first.time_off] == ["Course"]
    assert [d.closed for d in data.days] == [None, None, None, None, "Works", "Works", "Works"]
    assert data.days[1].hours == []


def test_rule_notes_are_those_of_the_rules_the_answers_match(anna, anna_user, swedish):
    stones = TechniqueFactory(name="Hot stones", slug="hot-stones")
    health_rule("pregnancy", RuleOutcome.FLAG, number_max=12, staff_note="First trimester: no stones.")
    health_rule("pregnancy", RuleOutcome.FLAG, number_min=13, staff_note="Side-lying position.")
    health_rule("pregnancy", RuleOutcome.CALL, technique=stones, staff_note="Never hot stones.")
    health_rule("skin", RuleOutcome.FLAG, staff_note="Not answered yes: not shown.")
    health_rule("pregnancy", RuleOutcome.ALLOW, staff_note="An allowing rule is no flag.")
    visit = appointment_row(anna, swedish, at(MONDAY, "10:00"))
    HealthIntake.objects.create(
        client=visit.client,
        appointment=visit,
        answers={
            "pregnancy": {"yes": True, "details": "", "number": 20},
            "skin": {"yes": False, "details": "", "number": None},
        },
        outcome=RuleOutcome.FLAG,
        flags=["pregnancy"],
        flagged=True,
    )
    [shown] = load(anna, anna_user).visits
    assert shown.flags == ["pregnancy"]
    assert shown.rule_notes == ["Side-lying position."]
    # Without health data, neither flags nor notes are read.
    [plain] = load(anna, anna_user, with_health=False).visits
    assert (plain.flags, plain.rule_notes) == ([], [])


def test_the_last_note_is_the_latest_signed_one_from_before_each_visit(anna, anna_user, swedish):
    person = ClientFactory()
    signed = at(MONDAY, "08:00")
    weeks_ago = appointment_row(anna, swedish, at(MONDAY - timedelta(days=21), "10:00"), client=person)
    old = TreatmentNote.objects.create(appointment=weeks_ago, plan="Old", signed_at=signed)
    monday = appointment_row(anna, swedish, at(MONDAY, "10:00"), client=person)
    friday = appointment_row(anna, swedish, at(MONDAY + timedelta(days=4), "10:00"), client=person)
    monday_note = TreatmentNote.objects.create(appointment=monday, plan="Monday's", signed_at=signed)
    TreatmentNote.objects.create(appointment=friday, plan="Friday's own, later", signed_at=signed)
    visits = {v.appointment.pk: v for v in load(anna, anna_user).visits}
    assert visits[monday.pk].last_note == old  # not its own, nor Friday's
    assert visits[friday.pk].last_note == monday_note
    assert visits[monday.pk].note == monday_note
    # A manager reads every therapist's notes; another therapist reads none of Anna's.
    manager = user_in_role("Manager", "maria")
    assert {v.last_note for v in load(anna, manager).visits} == {old, monday_note}
    ben_user = user_in_role("Therapist", "ben", TherapistFactory())
    assert {v.last_note for v in load(anna, ben_user).visits} == {None}


def test_six_queries_however_many_visits(anna, anna_user, swedish, django_assert_num_queries):
    health_rule("skin", RuleOutcome.FLAG, staff_note="Avoid the rash.")
    for n in range(12):
        start = at(MONDAY + timedelta(days=n % 6), ["09:00", "11:00"][n // 6])
        person = ClientFactory()
        visit = appointment_row(anna, swedish, start, client=person)
        HealthIntake.objects.create(
            client=person,
            appointment=visit,
            answers={"skin": {"yes": True}},
            flags=["skin"],
            flagged=True,
            outcome=RuleOutcome.FLAG,
        )
        earlier = appointment_row(anna, swedish, start - timedelta(days=30), client=person)
        TreatmentNote.objects.create(appointment=earlier, plan="Plan", signed_at=start)
    # As on a page: the account's therapist and permissions are already loaded.
    anna_user = type(anna_user).objects.get(pk=anna_user.pk)
    assert anna_user.therapist == anna and anna_user.has_perm("booking.view_treatmentnote")
    with django_assert_num_queries(6):
        data = load(anna, anna_user)
        assert all(v.last_note.plan == "Plan" and v.rule_notes == ["Avoid the rash."] for v in data.visits)
        assert len(data.visits) == 12
