"""The schedules services: weekly working hours and time off. Each rule is tested here
directly; tests/booking/admin/test_core.py drives the same rules through the admin."""

from datetime import datetime, time

import pytest
from django.core.exceptions import ValidationError

from booking.availability import WorkingPeriod
from booking.choices import AppointmentStatus
from booking.models import TimeOff, WorkingHours
from booking.services import schedules
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row

pytestmark = pytest.mark.django_db


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


def test_working_hours_set_replaces_the_week_and_says_what_changed(swedish):
    therapist = TherapistFactory(
        techniques=[swedish], hours={0: [("09:00", "13:00")], 1: [("09:00", "17:00")]}
    )
    kept = WorkingHours.objects.get(therapist=therapist, weekday=0)
    done = schedules.working_hours_set(
        therapist=therapist,
        periods=[(0, time(9), time(13)), (0, time(14), time(18)), WorkingPeriod(2, time(10), time(16))],
    )
    rows = list(WorkingHours.objects.filter(therapist=therapist).order_by("weekday", "start"))
    assert [(r.weekday, r.start, r.end) for r in rows] == [
        (0, time(9), time(13)),
        (0, time(14), time(18)),
        (2, time(10), time(16)),
    ]
    assert rows[0].pk == kept.pk  # unchanged rows stay as they are
    assert sorted((r.weekday, r.start) for r in done.added) == [(0, time(14)), (2, time(10))]
    assert [(r.weekday, r.start) for r in done.removed] == [(1, time(9))]


@pytest.mark.parametrize(
    ("periods", "code"),
    [
        ([(0, time(9), time(13)), (0, time(12), time(17))], "overlap"),
        ([(3, time(13), time(12))], "end_before_start"),
        ([(3, time(13), time(13))], "end_before_start"),
    ],
)
def test_working_hours_set_refuses_overlaps_and_backwards_periods(swedish, periods, code):
    therapist = TherapistFactory(techniques=[swedish], hours={5: [("10:00", "12:00")]})
    with pytest.raises(ValidationError) as info:
        schedules.working_hours_set(therapist=therapist, periods=periods)
    assert info.value.code == code
    # Nothing changed.
    assert [(r.weekday, r.start) for r in WorkingHours.objects.filter(therapist=therapist)] == [(5, time(10))]


def test_touching_periods_are_a_break_not_an_overlap():
    assert len(schedules.working_hours_validate([(0, time(9), time(13)), (0, time(13), time(17))])) == 2


def test_time_off_over_booked_appointments_is_refused_unless_kept(swedish):
    therapist = TherapistFactory(techniques=[swedish])
    booked = appointment_row(therapist, swedish, at(24, 10), client_name="Gus Grant")
    appointment_row(therapist, swedish, at(24, 12), status=AppointmentStatus.CANCELLED)
    with pytest.raises(ValidationError) as info:
        schedules.time_off_add(therapist=therapist, start=at(24, 9), end=at(24, 17), reason="Course")
    assert info.value.code == "over_appointments"
    assert (
        f"overlaps 1 booked appointment: {booked.reference} (Gus Grant, Tue 24 Nov 10:00–11:00)"
        in (info.value.messages[0])
    )
    assert not TimeOff.objects.exists()
    time_off, clashes = schedules.time_off_add(
        therapist=therapist, start=at(24, 9), end=at(24, 17), reason=" Course ", keep_booked=True
    )
    assert clashes == [booked]
    assert time_off.reason == "Course" and TimeOff.objects.count() == 1


def test_time_off_clear_of_appointments_needs_no_tick(swedish):
    therapist = TherapistFactory(techniques=[swedish])
    appointment_row(therapist, swedish, at(24, 10))
    time_off, clashes = schedules.time_off_add(therapist=therapist, start=at(24, 13), end=at(24, 17))
    assert clashes == [] and time_off.pk


def test_time_off_update_follows_the_same_rule(swedish):
    therapist = TherapistFactory(techniques=[swedish])
    booked = appointment_row(therapist, swedish, at(24, 10))
    time_off, _ = schedules.time_off_add(therapist=therapist, start=at(24, 13), end=at(24, 17))
    with pytest.raises(ValidationError) as info:
        schedules.time_off_update(time_off=time_off, start=at(24, 9), end=at(24, 17))
    assert info.value.code == "over_appointments"
    time_off.refresh_from_db()
    assert time_off.start == at(24, 13)
    moved, clashes = schedules.time_off_update(
        time_off=time_off, start=at(24, 9), end=at(24, 17), reason="Dentist", keep_booked=True
    )
    assert clashes == [booked] and moved.start == at(24, 9) and moved.reason == "Dentist"


def test_time_off_must_end_after_it_starts(swedish):
    therapist = TherapistFactory(techniques=[swedish])
    with pytest.raises(ValidationError) as info:
        schedules.time_off_add(therapist=therapist, start=at(24, 13), end=at(24, 13))
    assert info.value.code == "end_before_start"
