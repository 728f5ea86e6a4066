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
