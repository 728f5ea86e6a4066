import dataclasses
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from booking.choices import AppointmentSource, AppointmentStatus
from booking.models import Appointment, BookingPolicy, Closure, TimeOff
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = pytest.mark.django_db


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A London wall-clock time in the week of Monday 23 November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


def book(technique, length, start, client, therapist=None, now=None, **kwargs):
    return appointments.appointment_book(
        technique=technique, length=length, start=start, client=client, therapist=therapist, now=now, **kwargs
    )


def test_book_copies_length_price_and_buffer(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    appointment.refresh_from_db()
    assert appointment.therapist == therapist
    assert appointment.duration_minutes == 60 and appointment.price == swedish_60.price
    assert appointment.end - appointment.start == timedelta(minutes=60)
    assert appointment.occupied_until - appointment.end == timedelta(minutes=15)
    assert appointment.start.utcoffset() == timedelta(0)
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert len(appointment.reference) == 8 and len(appointment.manage_secret) >= 32


def test_overlap_including_buffer_is_refused(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    for start in (at(24, 10), at(24, 10, 30), at(24, 9, 15), at(24, 11, 0)):
        with pytest.raises(appointments.SlotUnavailable) as info:
            book(swedish, swedish_60, start, client_details, therapist, monday_morning)
        assert info.value.code == "slot_taken"
    # Right after the buffer is free again.
    book(swedish, swedish_60, at(24, 11, 15), client_details, therapist, monday_morning)
    assert Appointment.objects.count() == 2


def test_cancelled_appointments_free_their_time(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    first = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    appointments.appointment_cancel(appointment=first, now=monday_morning)
    second = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    assert second.pk != first.pk


def test_any_therapist_is_assigned_fairly(swedish, swedish_60, client_details, monday_morning):
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    ben = TherapistFactory(name="Ben", techniques=[swedish])
    # Tie: stable order by name.
    assert book(swedish, swedish_60, at(24, 9), client_details, None, monday_morning).therapist == anna
    # Anna has one booking that day, Ben none: Ben gets the next.
    assert book(swedish, swedish_60, at(24, 14), client_details, None, monday_morning).therapist == ben
    # Only Anna is free at 14:00 now.
    assert book(swedish, swedish_60, at(24, 14), client_details, None, monday_morning).therapist == anna
    with pytest.raises(appointments.SlotUnavailable):
        book(swedish, swedish_60, at(24, 14), client_details, None, monday_morning)


def test_online_rules_notice_horizon_grid_hours_closure_time_off(
    swedish, swedish_60, client_details, monday_morning
):
    therapist = TherapistFactory(techniques=[swedish])
    cases = {
        "past": monday_morning - timedelta(hours=1),
        "notice": monday_morning + timedelta(hours=1),
        "horizon": monday_morning + timedelta(days=90),
        "off_grid": at(24, 10, 7),
    }
    for code, start in cases.items():
        with pytest.raises(ValidationError) as info:
            book(swedish, swedish_60, start, client_details, therapist, monday_morning)
        assert info.value.code == code, code
    # Outside working hours (the factory's week ends at 18:00 and has no Sundays): each
    # refusal carries the reason that applies, not "just taken".
    with pytest.raises(appointments.SlotUnavailable) as info:
        book(swedish, swedish_60, at(24, 17, 30), client_details, therapist, monday_morning)
    assert info.value.code == "outside_hours"
    with pytest.raises(appointments.SlotUnavailable) as info:
        book(swedish, swedish_60, at(29, 10), client_details, therapist, monday_morning)
    assert info.value.code == "day_off"
    Closure.objects.create(first_day=at(25, 0).date(), last_day=at(25, 0).date(), reason="Holiday")
    with pytest.raises(appointments.SlotUnavailable) as info:
        book(swedish, swedish_60, at(25, 10), client_details, therapist, monday_morning)
    assert info.value.code == "closed"
    assert info.value.messages == [
        "The clinic is closed on Wednesday 25 November: Holiday. Please choose another day."
    ]
    TimeOff.objects.create(therapist=therapist, start=at(26, 12), end=at(26, 15), reason="Dentist")
    with pytest.raises(appointments.SlotUnavailable) as info:
        book(swedish, swedish_60, at(26, 11, 30), client_details, therapist, monday_morning)
    assert info.value.code == "time_off"
    book(swedish, swedish_60, at(26, 15), client_details, therapist, monday_morning)


def test_staff_may_book_inside_notice_and_outside_hours_with_override(
    swedish, swedish_60, client_details, monday_morning
):
    therapist = TherapistFactory(techniques=[swedish])
    soon = monday_morning + timedelta(minutes=90)  # 09:30: inside the online notice window
    staff = {"source": AppointmentSource.STAFF}
    assert book(swedish, swedish_60, soon, client_details, therapist, monday_morning, **staff)
    with pytest.raises(appointments.SlotUnavailable):
        book(swedish, swedish_60, at(24, 19), client_details, therapist, monday_morning, **staff)
    late = book(
        swedish,
        swedish_60,
        at(24, 19),
        client_details,
        therapist,
        monday_morning,
        allow_outside_hours=True,
        **staff,
    )
    assert late.source == AppointmentSource.STAFF
    # Never over another appointment, even with the override.
    with pytest.raises(appointments.SlotUnavailable):
        book(
            swedish,
            swedish_60,
            at(24, 19, 30),
            client_details,
            therapist,
            monday_morning,
            allow_outside_hours=True,
            **staff,
        )


def test_therapist_must_offer_the_technique_and_length_must_match(
    swedish, swedish_60, client_details, monday_morning
):
    shiatsu_only = TherapistFactory(techniques=[TechniqueFactory(slug="other")])
    with pytest.raises(ValidationError) as info:
        book(swedish, swedish_60, at(24, 10), client_details, shiatsu_only, monday_morning)
    assert info.value.code == "not_offered"
    foreign_length = TechniqueLengthFactory(technique=TechniqueFactory(slug="elsewhere"))
    with pytest.raises(ValidationError) as info:
        book(swedish, foreign_length, at(24, 10), client_details, None, monday_morning)
    assert info.value.code == "bad_length"


def test_client_cancel_respects_cutoff(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    with pytest.raises(ValidationError) as info:
        appointments.appointment_cancel(appointment=appointment, by_client=True, now=at(23, 10, 30))
    assert info.value.code == "cutoff"
    cancelled = appointments.appointment_cancel(appointment=appointment, by_client=True, now=at(23, 9, 30))
    assert cancelled.status == AppointmentStatus.CANCELLED and cancelled.sequence == 1
    with pytest.raises(ValidationError):
        appointments.appointment_cancel(appointment=appointment, now=at(23, 9, 30))


def test_reschedule_moves_atomically_and_keeps_old_time_when_new_is_taken(
    swedish, swedish_60, client_details, monday_morning
):
    therapist = TherapistFactory(techniques=[swedish])
    moving = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    blocker = book(swedish, swedish_60, at(24, 14), client_details, therapist, monday_morning)
    with pytest.raises(appointments.SlotUnavailable):
        appointments.appointment_reschedule(
            appointment=moving, new_start=at(24, 14, 30), by_client=True, now=monday_morning
        )
    moving.refresh_from_db()
    assert moving.start == at(24, 10)
    # Moving by half an hour overlaps only itself, which is fine.
    moved = appointments.appointment_reschedule(
        appointment=moving, new_start=at(24, 10, 30), by_client=True, now=monday_morning
    )
    assert moved.start == at(24, 10, 30) and moved.end == at(24, 11, 30) and moved.sequence == 1
    # The old time is free for others.
    book(swedish, swedish_60, at(24, 9), client_details, therapist, monday_morning)
    assert blocker.start == at(24, 14)


def test_moving_an_appointment_to_its_own_time_is_refused(
    swedish, swedish_60, client_details, monday_morning, django_capture_on_commit_callbacks
):
    therapist = TherapistFactory(techniques=[swedish])
    moving = book(swedish, swedish_60, at(24, 12), client_details, therapist, monday_morning)
    for by_client, other in ((True, None), (False, None), (False, therapist)):
        with pytest.raises(ValidationError) as info:
            appointments.appointment_reschedule(
                appointment=moving,
                new_start=at(24, 12),
                therapist=other,
                by_client=by_client,
                now=monday_morning,
            )
        assert info.value.code == "same_time"
        assert "already at that time" in info.value.messages[0]
    moving.refresh_from_db()
    assert moving.sequence == 0
    # The same time with another therapist is a real move.
    other_therapist = TherapistFactory(techniques=[swedish])
    moved = appointments.appointment_reschedule(
        appointment=moving, new_start=at(24, 12), therapist=other_therapist, now=monday_morning
    )
    assert moved.therapist == other_therapist and moved.sequence == 1


def test_policy_changes_apply(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    policy = BookingPolicy.load()
    policy.min_notice_minutes = 24 * 60
    policy.save()
    with pytest.raises(ValidationError) as info:
        book(swedish, swedish_60, at(23, 16), client_details, therapist, monday_morning)
    assert info.value.code == "notice"


# --------------------------------------------------------------------------- reminders


def _reminder_tasks():
    from django_tasks_db.models import DBTaskResult

    return [
        t.args_kwargs["kwargs"]["appointment_id"]
        for t in DBTaskResult.objects.all()
        if t.args_kwargs["kwargs"]["kind"] == "reminder"
    ]


def test_reminders_go_once_to_confirmed_appointments_within_the_window(swedish, swedish_60, settings):
    settings.REMINDER_HOURS_BEFORE = 24
    anna = TherapistFactory(techniques=[swedish])
    now = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)

    def book(start, email):
        return appointments.appointment_book(
            technique=swedish,
            length=swedish_60,
            start=start,
            therapist=anna,
            client=appointments.ClientDetails("C", email, "07700 900000"),
            source=AppointmentSource.STAFF,
            allow_outside_hours=True,
            now=now - timedelta(days=5),
            notify=False,
        )

    soon = book(datetime(2026, 11, 23, 15, 0, tzinfo=LONDON), "soon@example.com")
    tomorrow = book(datetime(2026, 11, 24, 8, 0, tzinfo=LONDON), "edge@example.com")  # exactly 24 h
    later = book(datetime(2026, 11, 24, 10, 0, tzinfo=LONDON), "later@example.com")
    cancelled = book(datetime(2026, 11, 23, 12, 0, tzinfo=LONDON), "gone@example.com")
    appointments.appointment_cancel(appointment=cancelled, notify=False)
    past = book(datetime(2026, 11, 23, 7, 0, tzinfo=LONDON), "past@example.com")

    assert appointments.reminders_queue(now=now) == 2
    assert sorted(_reminder_tasks()) == sorted([soon.pk, tomorrow.pk])
    # Run again, as cron will: nothing more.
    assert appointments.reminders_queue(now=now) == 0
    assert appointments.reminders_queue(now=now + timedelta(minutes=5)) == 0
    assert later.pk not in _reminder_tasks() and cancelled.pk not in _reminder_tasks()
    assert past.pk not in _reminder_tasks()
    # The later one comes into the window.
    assert appointments.reminders_queue(now=now + timedelta(hours=2)) == 1


def test_moving_an_appointment_gives_it_a_new_reminder(swedish, swedish_60):
    anna = TherapistFactory(techniques=[swedish])
    now = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)
    appointment = appointments.appointment_book(
        technique=swedish,
        length=swedish_60,
        start=datetime(2026, 11, 23, 15, 0, tzinfo=LONDON),
        therapist=anna,
        client=appointments.ClientDetails("C", "c@example.com", "07700 900000"),
        source=AppointmentSource.STAFF,
        notify=False,
    )
    assert appointments.reminders_queue(now=now) == 1
    appointments.appointment_reschedule(
        appointment=appointment, new_start=datetime(2026, 11, 23, 17, 0, tzinfo=LONDON), notify=False
    )
    appointment.refresh_from_db()
    assert appointment.reminder_queued_at is None
    assert appointments.reminders_queue(now=now) == 1


# --------------------------------------------------------------------------- staff changes


def _update(appointment, **changes):
    values = {
        "appointment": appointment,
        "therapist": appointment.therapist,
        "technique": appointment.technique,
        "start": appointment.start,
        "status": appointment.status,
        "client": appointments.ClientDetails(
            appointment.client_name, appointment.client_email, appointment.client_phone
        ),
    }
    values.update(changes)
    return appointments.appointment_update(**values)


def test_new_appointments_start_confirmed(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    with pytest.raises(ValidationError) as info:
        book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning, status="completed")
    assert info.value.code == "new_not_confirmed"
    assert not Appointment.objects.exists()


def test_update_refuses_a_new_technique(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    with pytest.raises(ValidationError) as info:
        _update(appointment, technique=TechniqueFactory(slug="hot-stones"))
    assert info.value.code == "technique_fixed"


def test_update_moves_through_the_reschedule_path(swedish, swedish_60, client_details, monday_morning):
    from django_tasks_db.models import DBTaskResult

    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(
        swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning, notify=False
    )
    moved = _update(appointment, start=at(24, 19), allow_outside_hours=True, now=monday_morning)
    assert moved.start == at(24, 19) and moved.sequence == 1
    assert [t.args_kwargs["kwargs"]["kind"] for t in DBTaskResult.objects.all()] == ["reschedule"]
    other = book(swedish, swedish_60, at(25, 10), client_details, therapist, monday_morning)
    with pytest.raises(appointments.SlotUnavailable):
        _update(other, start=at(24, 19, 30), allow_outside_hours=True, now=monday_morning)


def test_a_cancelled_appointment_cannot_be_revived(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    cancelled = _update(appointment, status=AppointmentStatus.CANCELLED)
    assert cancelled.status == AppointmentStatus.CANCELLED
    with pytest.raises(ValidationError) as info:
        _update(cancelled, status=AppointmentStatus.CONFIRMED)
    assert info.value.code == "cancelled_final"


def test_a_refused_step_undoes_the_earlier_ones(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    # Moved, then marked completed before it has started: the mark is refused, so the move is too.
    with pytest.raises(ValidationError) as info:
        _update(appointment, start=at(24, 14), status=AppointmentStatus.COMPLETED, now=monday_morning)
    assert info.value.code == "future"
    appointment.refresh_from_db()
    assert appointment.start == at(24, 10) and appointment.status == AppointmentStatus.CONFIRMED


def test_update_marks_corrects_and_edits_the_client(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    later = at(24, 12)
    marked = _update(appointment, status=AppointmentStatus.NO_SHOW, now=later)
    assert marked.status == AppointmentStatus.NO_SHOW
    corrected = _update(
        marked,
        status=AppointmentStatus.CONFIRMED,
        client=appointments.ClientDetails(
            "Olivia Green", "olivia@example.com", "07700 900101", notes="Left knee"
        ),
        now=later,
    )
    corrected.refresh_from_db()
    assert corrected.status == AppointmentStatus.CONFIRMED
    assert corrected.client_name == "Olivia Green" and corrected.client_notes == "Left knee"


def test_book_stores_the_client_name_as_one_plain_line(swedish, swedish_60, monday_morning):
    # Every path in (the admin, imports, the shell) comes through here, not only the form.
    therapist = TherapistFactory(techniques=[swedish])
    client = appointments.ClientDetails("  Olivia\r\nBrown\x00\u202e ", "olivia@example.com", "07700 900101")
    appointment = book(
        swedish, swedish_60, at(24, 10), client, therapist, monday_morning, source=AppointmentSource.STAFF
    )
    appointment.refresh_from_db()
    assert appointment.client_name == "Olivia Brown"


# --------------------------------------------------------------------------- rooms (issue 12)


def room(name, *, capacity=1, turnover=10, order=0, features=()):
    from booking.models import Room

    made = Room.objects.create(name=name, capacity=capacity, turnover_minutes=turnover, display_order=order)
    made.features.set(features)
    return made


def feature(name):
    from booking.models import RoomFeature

    return RoomFeature.objects.get_or_create(slug=name.lower().replace(" ", "-"), defaults={"name": name})[0]


def staff_book(technique, length, start, client, therapist=None, now=None, **kwargs):
    return book(technique, length, start, client, therapist, now, source=AppointmentSource.STAFF, **kwargs)


def test_without_rooms_bookings_have_no_room(swedish, swedish_60, client_details, monday_morning):
    therapist = TherapistFactory(techniques=[swedish])
    appointment = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    appointment.refresh_from_db()
    assert appointment.room is None and appointment.room_until is None
    # Inactive rooms are not "rooms in use" either.
    quiet = room("Quiet room")
    quiet.active = False
    quiet.save()
    later = book(swedish, swedish_60, at(24, 14), client_details, therapist, monday_morning)
    assert later.room is None


def test_a_booking_gets_the_best_fitting_free_room_with_its_turnover(
    swedish, swedish_60, client_details, monday_morning
):
    shower = feature("Shower")
    # Order alone would pick the room with the shower; the best fit has nothing unneeded.
    room("Shower room", order=0, features=[shower])
    plain = room("Plain room", order=1, turnover=20)
    anna, ben = (TherapistFactory(techniques=[swedish]) for _ in range(2))
    first = book(swedish, swedish_60, at(24, 10), client_details, anna, monday_morning)
    first.refresh_from_db()
    assert first.room == plain
    assert first.room_until == first.end + timedelta(minutes=20)
    # The plain room is taken until 11:20: the next one at 10:00 gets the other room.
    second = book(swedish, swedish_60, at(24, 10), client_details, ben, monday_morning)
    assert second.room.name == "Shower room"


def test_the_last_room_goes_to_one_booking_only(swedish, swedish_60, client_details, monday_morning):
    only = room("Only room", turnover=15)
    team = [TherapistFactory(techniques=[swedish]) for _ in range(3)]
    won = book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning)
    assert won.room == only and won.therapist in team
    # Two therapists are still free at 10:00 and at 11:00 (after the 15-minute buffer the
    # therapist is free at 11:15), but the room is taken until 11:15.
    for start in (at(24, 10), at(24, 11)):
        with pytest.raises(appointments.SlotUnavailable):
            book(swedish, swedish_60, start, client_details, None, monday_morning)
    assert book(swedish, swedish_60, at(24, 11, 15), client_details, None, monday_morning).room == only
    assert Appointment.objects.count() == 2


def test_a_technique_needing_a_feature_goes_only_to_a_room_that_has_it(
    swedish, swedish_60, client_details, monday_morning
):
    mat = feature("Floor mat")
    swedish.required_features.set([mat])
    room("Plain room", order=0)
    mat_room = room("Mat room", order=1, features=[mat])
    therapists = [TherapistFactory(techniques=[swedish]) for _ in range(2)]
    assert (
        book(swedish, swedish_60, at(24, 10), client_details, therapists[0], monday_morning).room == mat_room
    )
    with pytest.raises(appointments.SlotUnavailable):
        book(swedish, swedish_60, at(24, 10), client_details, therapists[1], monday_morning)


def test_staff_may_choose_the_room_and_a_taken_room_is_named_with_its_holder(
    swedish, swedish_60, client_details, monday_morning
):
    garden = room("Garden room", order=0, turnover=15)
    room("Quiet room", order=1)
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    ben = TherapistFactory(name="Ben", techniques=[swedish])
    held = staff_book(swedish, swedish_60, at(24, 10), client_details, anna, monday_morning, room=garden)
    assert held.room == garden
    with pytest.raises(appointments.SlotUnavailable) as info:
        staff_book(swedish, swedish_60, at(24, 10, 30), client_details, ben, monday_morning, room=garden)
    assert info.value.messages == [
        f"Garden room is taken 10:00–11:15 by {held.reference} (Swedish, Olivia Brown)."
    ]
    # Without a choice, Ben gets the other room.
    assert staff_book(swedish, swedish_60, at(24, 10, 30), client_details, ben, monday_morning).room.name == (
        "Quiet room"
    )


def test_every_room_taken_is_named_to_staff(swedish, swedish_60, client_details, monday_morning):
    garden = room("Garden room", order=0)
    quiet = room("Quiet room", order=1)
    team = [TherapistFactory(techniques=[swedish]) for _ in range(3)]
    one = staff_book(swedish, swedish_60, at(24, 10), client_details, team[0], monday_morning)
    two = staff_book(swedish, swedish_60, at(24, 10), client_details, team[1], monday_morning)
    assert {one.room, two.room} == {garden, quiet}
    with pytest.raises(appointments.SlotUnavailable) as info:
        staff_book(swedish, swedish_60, at(24, 10), client_details, team[2], monday_morning)
    text = " ".join(info.value.messages)
    assert "Garden room is taken 10:00–11:10" in text and "Quiet room is taken 10:00–11:10" in text
    assert one.reference in text and two.reference in text
    # The same for "any available", and for a session for two in a room for two.
    with pytest.raises(appointments.SlotUnavailable) as info:
        staff_book(swedish, swedish_60, at(24, 10, 30), client_details, None, monday_morning)
    assert len(info.value.messages) == 2 and "Garden room is taken 10:00–11:10" in info.value.messages[0]
    swedish.for_two = True
    swedish.save()
    suite = room("Couples suite", capacity=2, order=2)
    TherapistFactory(techniques=[swedish])
    pair = book_pair(swedish, swedish_60, at(24, 14), monday_morning, source=AppointmentSource.STAFF)
    assert {seat.room for seat in pair} == {suite}
    with pytest.raises(appointments.SlotUnavailable) as info:
        book_pair(swedish, swedish_60, at(24, 14, 30), monday_morning, source=AppointmentSource.STAFF)
    assert info.value.messages == [
        f"Couples suite is taken 14:00–15:10 by {pair[0].reference} (Swedish, Olivia Brown)."
    ]


def test_a_move_keeps_the_room_when_free_else_takes_another(
    swedish, swedish_60, client_details, monday_morning
):
    garden = room("Garden room", order=0)
    quiet = room("Quiet room", order=1)
    anna, ben = (TherapistFactory(techniques=[swedish]) for _ in range(2))
    moving = staff_book(swedish, swedish_60, at(24, 10), client_details, anna, monday_morning, room=quiet)
    moved = appointments.appointment_reschedule(appointment=moving, new_start=at(24, 12), now=monday_morning)
    moved.refresh_from_db()
    assert moved.room == quiet and moved.room_until == at(24, 13, 10)
    # The quiet room is taken at 15:00: the move takes the garden room.
    staff_book(swedish, swedish_60, at(24, 15), client_details, ben, monday_morning, room=quiet)
    moved = appointments.appointment_reschedule(appointment=moved, new_start=at(24, 15), now=monday_morning)
    moved.refresh_from_db()
    assert moved.room == garden and moved.room_until == at(24, 16, 10)


def test_staff_move_the_room_alone_and_a_form_showing_the_room_does_not_pin_it(
    swedish, swedish_60, client_details, monday_morning
):
    garden = room("Garden room", order=0)
    quiet = room("Quiet room", order=1)
    anna, ben = (TherapistFactory(techniques=[swedish]) for _ in range(2))
    appointment = staff_book(swedish, swedish_60, at(24, 10), client_details, anna, monday_morning)
    assert appointment.room == garden
    # Only the room changes.
    changed = _update(appointment, room=quiet, now=monday_morning)
    assert changed.room == quiet and changed.start == at(24, 10) and changed.sequence == 1
    # A new time, with the form still showing the current room, keeps it if free, else
    # picks another instead of refusing.
    staff_book(swedish, swedish_60, at(24, 14), client_details, ben, monday_morning, room=quiet)
    moved = _update(changed, start=at(24, 14), room=quiet, now=monday_morning)
    assert moved.room == garden and moved.start == at(24, 14)


def test_gender_narrows_any_available(swedish, swedish_60, client_details, monday_morning):
    anna = TherapistFactory(name="Anna", gender="female", techniques=[swedish])
    ben = TherapistFactory(name="Ben", gender="male", techniques=[swedish])
    assert (
        book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning, gender="male").therapist
        == ben
    )
    assert (
        book(swedish, swedish_60, at(24, 12), client_details, None, monday_morning, gender="male").therapist
        == ben
    )
    # Ben is busy at 10:00; Anna is free but not what was asked for.
    with pytest.raises(appointments.SlotUnavailable):
        book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning, gender="male")
    assert book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning).therapist == anna


def test_daily_limit_refuses_online_and_staff_unless_booking_outside_hours(
    swedish, swedish_60, client_details, monday_morning
):
    therapist = TherapistFactory(name="Anna", techniques=[swedish], max_daily_minutes=120)
    book(swedish, swedish_60, at(24, 9), client_details, therapist, monday_morning)
    book(swedish, swedish_60, at(24, 11), client_details, therapist, monday_morning)
    with pytest.raises(appointments.SlotUnavailable):
        book(swedish, swedish_60, at(24, 14), client_details, therapist, monday_morning)
    with pytest.raises(appointments.SlotUnavailable) as info:
        staff_book(swedish, swedish_60, at(24, 14), client_details, therapist, monday_morning)
    assert "past 120 hands-on minutes" in info.value.messages[0]
    assert "Book outside working hours" in info.value.messages[0]
    extra = staff_book(
        swedish, swedish_60, at(24, 14), client_details, therapist, monday_morning, allow_outside_hours=True
    )
    assert extra.start == at(24, 14)
    # Another day is a new day.
    book(swedish, swedish_60, at(25, 14), client_details, therapist, monday_morning)


def test_back_to_back_limit_needs_a_fifteen_minute_gap(swedish, swedish_60, client_details, monday_morning):
    swedish.buffer_minutes = 0
    swedish.save()
    therapist = TherapistFactory(techniques=[swedish], max_continuous_minutes=120)
    book(swedish, swedish_60, at(24, 9), client_details, therapist, monday_morning)
    book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    # 11:00 would make three hands-on hours without a break; 11:10 (staff may book any
    # 5-minute mark) leaves only a 10-minute one.
    with pytest.raises(appointments.SlotUnavailable):
        book(swedish, swedish_60, at(24, 11), client_details, therapist, monday_morning)
    with pytest.raises(appointments.SlotUnavailable) as info:
        staff_book(swedish, swedish_60, at(24, 11, 10), client_details, therapist, monday_morning)
    assert "without a 15-minute break" in info.value.messages[0]
    book(swedish, swedish_60, at(24, 11, 15), client_details, therapist, monday_morning)


# --------------------------------------------------------------------------- sessions for two


@pytest.fixture
def for_two(swedish):
    swedish.for_two = True
    swedish.save()
    return swedish


GUEST = appointments.ClientDetails(name="Sam Green", email="", phone="")


def book_pair(technique, length, start, now, *, clients=None, **kwargs):
    booker = appointments.ClientDetails(name="Olivia Brown", email="olivia@example.com", phone="07700 900101")
    return appointments.appointment_book_pair(
        technique=technique, length=length, start=start, clients=clients or (booker, GUEST), now=now, **kwargs
    )


def test_a_session_for_two_books_two_seats_in_one_room_for_two(for_two, swedish_60, monday_morning):
    from django_tasks_db.models import DBTaskResult

    from booking import notifications, selectors

    room("Single room", order=0)
    suite = room("Couples suite", capacity=2, order=1, turnover=20)
    anna = TherapistFactory(name="Anna", techniques=[for_two])
    ben = TherapistFactory(name="Ben", techniques=[for_two])
    first, second = book_pair(for_two, swedish_60, at(24, 10), monday_morning, idempotency_key="k" * 40)
    assert (first.seat, second.seat) == (1, 2)
    assert first.reference == second.reference and first.manage_secret == second.manage_secret
    assert {first.therapist, second.therapist} == {anna, ben}
    assert first.room == second.room == suite
    assert first.room_until == second.room_until == first.end + timedelta(minutes=20)
    assert first.start == second.start and first.end == second.end
    # Each guest has a record of their own; the guest without an email still gets one.
    assert first.client != second.client
    assert second.client.name == "Sam Green" and second.client.email == ""
    # The manage link is the booker's.
    assert selectors.appointment_by_token(second.manage_token) == first
    assert appointments.appointment_party(second) == [first, second]
    # One confirmation (to the booker, naming both) and one staff notice.
    tasks = [t.args_kwargs["kwargs"] for t in DBTaskResult.objects.all()]
    assert sorted((t["kind"], t["appointment_id"]) for t in tasks) == [
        ("confirmation", first.pk),
        ("staff_notice", first.pk),
    ]
    email = notifications.build_email(notifications.EmailKind.CONFIRMATION, first)
    assert email.to == ["Olivia Brown <olivia@example.com>"]
    assert f"Sam Green, with {second.therapist.name}" in email.body
    # The same confirmation again returns the same pair.
    again = book_pair(for_two, swedish_60, at(24, 10), monday_morning, idempotency_key="k" * 40)
    assert again == (first, second) and Appointment.objects.count() == 2


def test_a_session_for_two_is_all_or_nothing(for_two, swedish_60, client_details, monday_morning):
    room("Single room", order=0)
    suite = room("Couples suite", capacity=2, order=1)
    anna = TherapistFactory(name="Anna", techniques=[for_two])
    ben = TherapistFactory(name="Ben", techniques=[for_two])
    busy = staff_book(for_two, swedish_60, at(24, 10), client_details, ben, monday_morning)
    assert busy.room != suite
    with pytest.raises(appointments.SlotUnavailable):
        book_pair(for_two, swedish_60, at(24, 10), monday_morning, therapists=(anna, ben))
    assert Appointment.objects.count() == 1
    # Staff hear why: Ben's appointment.
    with pytest.raises(appointments.SlotUnavailable) as info:
        book_pair(
            for_two,
            swedish_60,
            at(24, 10),
            monday_morning,
            therapists=(anna, ben),
            source=AppointmentSource.STAFF,
        )
    assert busy.reference in info.value.messages[0]
    assert Appointment.objects.count() == 1


def test_a_session_for_two_needs_a_room_for_two(for_two, swedish_60, monday_morning):
    room("Single room")
    TherapistFactory(techniques=[for_two])
    TherapistFactory(techniques=[for_two])
    with pytest.raises(appointments.SlotUnavailable):
        book_pair(for_two, swedish_60, at(24, 10), monday_morning)
    assert not Appointment.objects.exists()


def test_a_session_for_two_refuses_one_therapist_twice_and_a_technique_not_for_two(
    swedish, swedish_60, monday_morning
):
    anna = TherapistFactory(techniques=[swedish])
    with pytest.raises(ValidationError) as info:
        book_pair(swedish, swedish_60, at(24, 10), monday_morning)
    assert info.value.code == "not_for_two"
    swedish.for_two = True
    swedish.save()
    with pytest.raises(ValidationError) as info:
        book_pair(swedish, swedish_60, at(24, 10), monday_morning, therapists=(anna, anna))
    assert info.value.code == "same_therapist"
    same_address = appointments.ClientDetails("Sam Green", " Olivia@Example.com", "")
    booker = appointments.ClientDetails("Olivia Brown", "olivia@example.com", "07700 900101")
    with pytest.raises(ValidationError) as info:
        book_pair(swedish, swedish_60, at(24, 10), monday_morning, clients=(booker, same_address))
    assert info.value.code == "guest_same_email"
    assert not Appointment.objects.exists()


def test_each_guest_of_a_pair_gets_their_own_health_intake(for_two, swedish_60, monday_morning):
    from booking.models import HealthIntake
    from tests.factories import seed_health_questions

    seed_health_questions()
    TherapistFactory(techniques=[for_two])
    TherapistFactory(techniques=[for_two])
    from booking.intake import Answer

    no = Answer(yes=False)
    answers = {"pregnancy": no, "conditions": Answer(yes=True, details="Asthma")}
    booker = appointments.ClientDetails(
        "Olivia Brown", "olivia@example.com", "07700 900101", health={"pregnancy": no}
    )
    guest = appointments.ClientDetails("Sam Green", "sam@example.com", "", health=answers)
    first, second = book_pair(for_two, swedish_60, at(24, 10), monday_morning, clients=(booker, guest))
    mine, theirs = (HealthIntake.objects.get(appointment=a) for a in (first, second))
    assert mine.client == first.client and theirs.client == second.client
    assert theirs.answers["conditions"]["details"] == "Asthma" and "conditions" not in mine.answers


def test_the_party_is_cancelled_moved_and_marked_together(for_two, swedish_60, monday_morning):
    from django_tasks_db.models import DBTaskResult

    suite = room("Couples suite", capacity=2)
    for _ in range(3):
        TherapistFactory(techniques=[for_two])
    first, second = book_pair(for_two, swedish_60, at(24, 10), monday_morning, notify=False)
    moved = appointments.appointment_reschedule(appointment=second, new_start=at(24, 14), now=monday_morning)
    assert moved.pk == second.pk
    for seat in (first, second):
        seat.refresh_from_db()
        assert seat.start == at(24, 14) and seat.room == suite and seat.sequence == 1
    assert [t.args_kwargs["kwargs"]["appointment_id"] for t in DBTaskResult.objects.all()] == [first.pk]
    # The booker moves both online, from the manage link (seat 1).
    appointments.appointment_reschedule(
        appointment=first, new_start=at(24, 15), by_client=True, now=monday_morning
    )
    assert set(Appointment.objects.filter(reference=first.reference).values_list("start", flat=True)) == {
        at(24, 15)
    }
    # The 10:00 room is free again for another pair.
    book_pair(for_two, swedish_60, at(24, 10), monday_morning, notify=False)
    appointments.appointment_cancel(appointment=first, by_client=True, now=monday_morning)
    assert set(Appointment.objects.filter(reference=first.reference).values_list("status", flat=True)) == {
        AppointmentStatus.CANCELLED
    }
    other_first, other_second = Appointment.objects.exclude(reference=first.reference).order_by("seat")
    appointments.appointment_mark(
        appointment=other_second, status=AppointmentStatus.COMPLETED, now=at(24, 12)
    )
    other_first.refresh_from_db()
    assert other_first.status == AppointmentStatus.COMPLETED


def test_moving_one_seat_to_a_busy_therapist_moves_neither(
    for_two, swedish_60, client_details, monday_morning
):
    room("Couples suite", capacity=2)
    room("Single room")
    anna, ben, cleo = (TherapistFactory(techniques=[for_two]) for _ in range(3))
    first, second = book_pair(for_two, swedish_60, at(24, 10), monday_morning, therapists=(anna, ben))
    staff_book(for_two, swedish_60, at(24, 14), client_details, cleo, monday_morning)
    with pytest.raises(appointments.SlotUnavailable):
        appointments.appointment_reschedule(
            appointment=second, new_start=at(24, 14), therapist=cleo, now=monday_morning
        )
    for seat in (first, second):
        seat.refresh_from_db()
        assert seat.start == at(24, 10)
    # The guest's seat can change therapist at the same time.
    appointments.appointment_reschedule(
        appointment=second, new_start=at(24, 10), therapist=cleo, now=monday_morning
    )
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.therapist == cleo and first.therapist == anna


def test_reminders_go_to_the_booker_only(for_two, swedish_60, settings):
    settings.REMINDER_HOURS_BEFORE = 24
    TherapistFactory(techniques=[for_two])
    TherapistFactory(techniques=[for_two])
    first, _second = appointments.appointment_book_pair(
        technique=for_two,
        length=swedish_60,
        start=at(24, 10),
        clients=(appointments.ClientDetails("Olivia", "olivia@example.com", "1"), GUEST),
        source=AppointmentSource.STAFF,
        now=at(23, 8),
        notify=False,
    )
    assert appointments.reminders_queue(now=at(23, 12)) == 1
    assert _reminder_tasks() == [first.pk]


def test_locks_are_taken_on_therapists_then_rooms_each_in_id_order(
    swedish, swedish_60, client_details, monday_morning
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    room("Garden room", order=1)
    room("Quiet room", order=0)
    for _ in range(3):
        TherapistFactory(techniques=[swedish])
    with CaptureQueriesContext(connection) as queries:
        book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning)
    sql = [q["sql"] for q in queries.captured_queries]

    if not connection.features.has_select_for_update:
        # SQLite has no row locks (the immediate transaction lets one writer in at a
        # time): no statements are spent on them, only the availability load's reads.
        locks = ('SELECT "booking_therapist"."id" AS "pk"', 'SELECT "booking_room"."id" AS "pk"')
        assert not [text for text in sql if text.startswith(locks)]
        return

    def lock_query(ending):
        [index] = [i for i, text in enumerate(sql) if ending in text]
        return index

    # A booking for one locks the therapists it may take in the availability load's own
    # read of them (a subquery in id order); the rooms in a statement of their own.
    therapists = lock_query('FROM "booking_therapist" U0')
    rooms = lock_query('FOR UPDATE OF "booking_room"')
    # One global order: every therapist a booking might take, then every room.
    assert therapists < rooms
    # Both before the diaries are read (the availability the booking is checked against).
    diaries = [i for i, text in enumerate(sql) if 'FROM "booking_workinghours"' in text]
    assert diaries and rooms < diaries[0]
    # In id order each (the id is the first column selected).
    locking = sql[therapists].split(" IN (")[1]
    assert locking.startswith('SELECT U0."id"') and "ORDER BY 1 ASC FOR UPDATE OF U0)" in locking
    assert sql[rooms].startswith('SELECT "booking_room"."id"')
    assert sql[rooms].split("ORDER BY")[-1].startswith(" 1 ASC")


def test_a_room_staff_choose_must_be_in_use_big_enough_and_suitable(
    for_two, swedish_60, client_details, monday_morning
):
    closed = room("Closed room")
    closed.active = False
    closed.save()
    single = room("Single room")
    room("Couples suite", capacity=2)
    anna, ben = (TherapistFactory(techniques=[for_two]) for _ in range(2))
    with pytest.raises(ValidationError) as info:
        staff_book(for_two, swedish_60, at(24, 10), client_details, anna, monday_morning, room=closed)
    assert info.value.code == "room_inactive"
    with pytest.raises(ValidationError) as info:
        book_pair(
            for_two, swedish_60, at(24, 10), monday_morning, source=AppointmentSource.STAFF, room=single
        )
    assert info.value.code == "room_too_small"
    for_two.required_features.set([feature("Floor mat")])
    with pytest.raises(ValidationError) as info:
        staff_book(for_two, swedish_60, at(24, 10), client_details, anna, monday_morning, room=single)
    assert (
        info.value.code == "room_unsuitable" and "does not have what Swedish needs" in info.value.messages[0]
    )
    assert not Appointment.objects.exists()


def test_the_one_person_lookup_other_services_use_sees_rooms(
    swedish, swedish_60, client_details, monday_morning
):
    # services.waitlist holds a time through this path: it must see the rooms too.
    only = room("Only room")
    anna, ben = (TherapistFactory(techniques=[swedish]) for _ in range(2))
    free, found, day = appointments._free_therapists(
        technique=swedish, length=swedish_60, start=at(24, 10), therapist=None, staff=False,
        allow_outside_hours=False, now=monday_morning,
    )  # fmt: skip
    assert {t.pk for t in free} == {anna.pk, ben.pk} and day == at(24, 10).date()
    assert appointments._pick_room(found, at(24, 10), anna) == only
    book(swedish, swedish_60, at(24, 10), client_details, anna, monday_morning)
    free, found, _day = appointments._free_therapists(
        technique=swedish, length=swedish_60, start=at(24, 10), therapist=ben, staff=False,
        allow_outside_hours=False, now=monday_morning,
    )  # fmt: skip
    assert free == [] and found.why_not(at(24, 10)) == "no_room"


# ----------------------------------------------- a move with another length or therapist (issue 14)


def test_a_move_to_any_available_stays_with_the_same_therapist_when_free(
    swedish, swedish_60, client_details, monday_morning
):
    first = TherapistFactory(techniques=[swedish])
    TherapistFactory(techniques=[swedish])
    moving = book(swedish, swedish_60, at(24, 10), client_details, first, monday_morning)
    moved = appointments.appointment_reschedule(
        appointment=moving, new_start=at(24, 15), any_therapist=True, by_client=True, now=monday_morning
    )
    assert (moved.therapist, moved.start) == (first, at(24, 15))


def test_a_move_to_any_available_takes_whoever_is_free_and_releases_the_old_time_together(
    swedish, swedish_60, client_details, monday_morning
):
    first = TherapistFactory(techniques=[swedish])
    second = TherapistFactory(techniques=[swedish])
    moving = book(swedish, swedish_60, at(24, 10), client_details, first, monday_morning)
    book(swedish, swedish_60, at(24, 15), client_details, first, monday_morning)
    moved = appointments.appointment_reschedule(
        appointment=moving, new_start=at(24, 15), any_therapist=True, by_client=True, now=monday_morning
    )
    assert (moved.therapist, moved.start) == (second, at(24, 15))
    # Nobody free at all: refused, and the old time is still held.
    book(swedish, swedish_60, at(24, 16, 30), client_details, first, monday_morning)
    book(swedish, swedish_60, at(24, 16, 30), client_details, second, monday_morning)
    with pytest.raises(appointments.SlotUnavailable):
        appointments.appointment_reschedule(
            appointment=moved,
            new_start=at(24, 16, 30),
            any_therapist=True,
            by_client=True,
            now=monday_morning,
        )
    moved.refresh_from_db()
    assert (moved.therapist, moved.start) == (second, at(24, 15))


def test_a_move_to_another_length_takes_its_price_and_checks_the_longer_time(
    swedish, swedish_60, client_details, monday_morning
):
    therapist = TherapistFactory(techniques=[swedish])
    swedish_90 = swedish.lengths.get(duration_minutes=90)
    moving = book(swedish, swedish_60, at(24, 10), client_details, therapist, monday_morning)
    book(swedish, swedish_60, at(24, 12), client_details, therapist, monday_morning)
    # 10:00 for 90 minutes plus the 15-minute cleanup would run into 12:00: refused.
    with pytest.raises(appointments.SlotUnavailable):
        appointments.appointment_reschedule(
            appointment=moving,
            new_start=at(24, 10, 30),
            length=swedish_90,
            by_client=True,
            now=monday_morning,
        )
    # The same start with the longer length is a real change.
    moved = appointments.appointment_reschedule(
        appointment=moving, new_start=at(24, 10), length=swedish_90, by_client=True, now=monday_morning
    )
    assert (moved.duration_minutes, moved.price, moved.end) == (90, swedish_90.price, at(24, 11, 30))
    assert moved.occupied_until == at(24, 11, 45)
    other = TechniqueFactory(name="Reflexology", slug="reflexology")
    foreign = TechniqueLengthFactory(technique=other, duration_minutes=45, price="40.00")
    with pytest.raises(ValidationError) as info:
        appointments.appointment_reschedule(
            appointment=moved, new_start=at(24, 15), length=foreign, now=monday_morning
        )
    assert info.value.code == "bad_length"


# ---------------------------------------------------------------------- a cheap confirmation (issue 13)


def test_a_repeat_past_the_key_check_is_refused_by_the_database_and_gets_the_first_booking(
    swedish, swedish_60, client_details, monday_morning, monkeypatch
):
    # The insert has no savepoint of its own: the unique key's refusal ends the whole
    # transaction (nothing of the repeat is kept), then the first booking is the answer.
    from booking import selectors
    from booking.models import Client, Consent, HealthIntake

    TherapistFactory(techniques=[swedish])
    TherapistFactory(techniques=[swedish])
    key = "c" * 40
    first = book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning, idempotency_key=key)
    # The check under the lock fooled: no upcoming booking, no booking with this key.
    checks = selectors.online_booking_checks
    monkeypatch.setattr(
        selectors,
        "online_booking_checks",
        lambda **kwargs: dataclasses.replace(checks(**kwargs), upcoming=0, existing_id=None),
    )
    other = appointments.ClientDetails(name="Someone New", email="new@example.com", phone="07700 900102")
    again = book(swedish, swedish_60, at(24, 10), other, None, monday_morning, idempotency_key=key)
    assert again.pk == first.pk
    assert Appointment.objects.count() == 1
    # The repeat's client record went with its transaction.
    assert not Client.objects.filter(email="new@example.com").exists()
    assert HealthIntake.objects.count() == 0 and Consent.objects.filter(appointment__isnull=True).count() == 0


def test_an_overlap_refused_by_the_database_is_just_taken(
    swedish, swedish_60, client_details, monday_morning, monkeypatch
):
    # Were the check fooled (another writer between it and the insert), the database's
    # refusal is "just taken", and nothing of the attempt is kept.
    from django.db import IntegrityError

    from booking.models import Client

    TherapistFactory(techniques=[swedish])

    def refuse(self, *args, **kwargs):
        raise IntegrityError("overlap")

    monkeypatch.setattr(Appointment, "save", refuse)
    with pytest.raises(appointments.SlotUnavailable) as refused:
        book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning, idempotency_key="d" * 40)
    assert refused.value.code == "slot_taken"
    assert not Client.objects.exists()


def test_a_new_client_made_by_staff_at_the_same_moment_is_found_on_the_second_try(
    swedish, swedish_60, client_details, monday_morning, monkeypatch
):
    # Online bookings of one address queue on its lock, so only a staff booking can make
    # the same new client meanwhile: the unique index refuses ours, the whole booking is
    # tried again and takes that record.
    from booking.models import Client
    from booking.services import clients

    TherapistFactory(techniques=[swedish])
    staff_made = Client.objects.create(name="Olivia Brown", email="olivia@example.com", phone="+447700900101")
    real = clients._by_email_key
    misses = []

    def first_miss(key):
        if not misses:
            misses.append(key)
            return None  # as if looked up just before staff saved theirs
        return real(key)

    monkeypatch.setattr(clients, "_by_email_key", first_miss)
    booked = book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning)
    assert misses and booked.client == staff_made
    assert Client.objects.count() == 1 and Appointment.objects.count() == 1


def test_the_confirmation_and_staff_notice_are_queued_in_one_insert(
    swedish, swedish_60, client_details, monday_morning
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    TherapistFactory(techniques=[swedish])
    with CaptureQueriesContext(connection) as queries:
        booked = book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning)
    inserts = [q["sql"] for q in queries.captured_queries if 'INSERT INTO "django_tasks' in q["sql"]]
    assert len(inserts) == 1
    rows = DBTaskResult.objects.order_by("args_kwargs__kwargs__kind")
    assert [r.args_kwargs["kwargs"] for r in rows] == [
        {"appointment_id": booked.pk, "kind": "confirmation", "sequence": booked.sequence},
        {"appointment_id": booked.pk, "kind": "staff_notice", "sequence": booked.sequence},
    ]
    # The rows the task backend's own enqueue writes: ready now, for the same task.
    assert {(r.status, r.task_path, r.queue_name, r.task.run_after) for r in rows} == {
        ("READY", "booking.tasks.send_appointment_email", "default", None)
    }
    assert DBTaskResult.objects.ready().count() == 2


def test_the_details_check_refuses_at_the_cap_and_otherwise_gives_the_rules(
    swedish, swedish_60, client_details, monday_morning, settings, django_assert_num_queries
):
    # The details page's early checks in one query: the cap's refusal (the words of the
    # booking service's own), else the health rules to weigh the answers with.
    from booking.choices import RuleOutcome
    from booking.services import intake
    from tests.factories import health_rule

    settings.BOOKING_MAX_UPCOMING_PER_EMAIL = 2
    TherapistFactory(techniques=[swedish])
    health_rule("skin", RuleOutcome.FLAG)
    health_rule("skin", RuleOutcome.DOCTOR_NOTE, technique=swedish)
    health_rule("skin", RuleOutcome.CALL, technique=TechniqueFactory())
    book(swedish, swedish_60, at(24, 10), client_details, None, monday_morning)
    with django_assert_num_queries(1):
        rules = appointments.online_details_check(
            email=" OLIVIA@example.com", technique=swedish, now=monday_morning
        )
    assert sorted(rules, key=repr) == sorted(intake.rules_for(swedish), key=repr) and len(rules) == 2
    book(swedish, swedish_60, at(24, 14), client_details, None, monday_morning)
    with pytest.raises(ValidationError) as refused:
        appointments.online_details_check(email="olivia@example.com", technique=swedish, now=monday_morning)
    assert (
        refused.value.code == "too_many"
        and "already has 2 upcoming appointments" in refused.value.messages[0]
    )
    # Past the last of them, the address may book again.
    later = at(24, 15)
    assert (
        len(appointments.online_details_check(email="olivia@example.com", technique=swedish, now=later)) == 2
    )
