"""The waitlist service (issue 14): joining, offers made once in joining order, answers,
lapses, and holds that take part in the no-double-booking guarantee."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from booking import exports, notifications, selectors
from booking.choices import AppointmentSource, AppointmentStatus, OfferOutcome, RuleOutcome, WaitlistStatus
from booking.intake import Answer
from booking.models import Appointment, HealthIntake, WaitlistEntry, WaitlistOffer
from booking.services import appointments, intake, schedules, waitlist
from booking.tasks import send_appointment_email
from tests.conftest import LONDON
from tests.factories import HEALTH_QUESTION_KEYS, ClientFactory, TherapistFactory, health_rule

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)  # Monday
TUESDAY = date(2026, 11, 24)
# Every seeded health question answered no, as the offer page sends them.
ALL_NO = {key: Answer(yes=False) for key in HEALTH_QUESTION_KEYS}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def at(hhmm: str, day: date = TUESDAY) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def anna(swedish):
    # Tuesdays 10:00-12:30: two 60-minute times with the 15-minute buffer (10:00, 11:15).
    return TherapistFactory(name="Anna", slug="anna", techniques=[swedish], hours={1: [("10:00", "12:30")]})


def book(swedish_60, therapist, start, n=0):
    return appointments.appointment_book(
        technique=swedish_60.technique,
        length=swedish_60,
        start=start,
        therapist=therapist,
        client=appointments.ClientDetails(f"Booked {n}", f"booked{n}@example.com", "07700 900100"),
        source=AppointmentSource.STAFF,
        now=NOW,
    )


def join(swedish_60, n, *, therapist=None, parts=("morning", "afternoon", "evening"), now=NOW):
    wish = waitlist.Wish(
        technique=swedish_60.technique,
        length=swedish_60,
        therapist=therapist,
        first_day=TUESDAY,
        last_day=TUESDAY,
        parts=frozenset(parts),
    )
    return waitlist.entry_join(
        wish=wish, name=f"Waiting {n}", email=f"wait{n}@example.com", phone="07700 900200", now=now
    )


def offers_for(entry):
    return list(WaitlistOffer.objects.filter(entry=entry).select_related("appointment"))


def match(now=NOW):
    return waitlist.offers_make(first_day=TUESDAY, last_day=TUESDAY, now=now)


@pytest.fixture
def full_tuesday(swedish_60, anna):
    return [book(swedish_60, anna, at("10:00"), 1), book(swedish_60, anna, at("11:15"), 2)]


def test_a_full_day_offers_nothing_and_a_cancellation_queues_the_match_in_its_transaction(
    swedish_60, anna, full_tuesday
):
    first = join(swedish_60, 1)
    assert match() == []
    assert first.status == WaitlistStatus.WAITING
    DBTaskResult.objects.all().delete()
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    kinds = [t.task_path.rsplit(".", 1)[1] for t in DBTaskResult.objects.order_by("enqueued_at")]
    assert "waitlist_match" in kinds
    task = DBTaskResult.objects.get(task_path__endswith="waitlist_match")
    assert task.args_kwargs["kwargs"]["first_day"] == TUESDAY.isoformat()


def test_offer_accepted_turns_the_same_row_into_a_booking(swedish_60, anna, full_tuesday, settings):
    settings.WAITLIST_HOLD_MINUTES = 30
    entry = join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    hold = offer.appointment
    assert hold.status == AppointmentStatus.HELD
    assert hold.start == at("10:00") and hold.client == entry.client
    assert offer.expires_at == NOW + timedelta(minutes=30) == hold.held_until
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
    # The offer email, not a confirmation: nothing is booked yet.
    queued = DBTaskResult.objects.filter(args_kwargs__kwargs__appointment_id=hold.pk)
    assert [t.args_kwargs["kwargs"]["kind"] for t in queued] == ["waitlist_offer"]
    send_appointment_email.call(**queued.get().args_kwargs["kwargs"])
    [email] = mail.outbox
    assert email.to == ["Waiting 1 <wait1@example.com>"]
    assert f"/book/waitlist/offer/{offer.token}/" in email.body
    assert not email.attachments  # no calendar file for a time not yet booked

    accepted = waitlist.offer_accept(token=offer.token, answers=ALL_NO, now=NOW + timedelta(minutes=10))
    hold.refresh_from_db()
    assert accepted.pk == offer.pk and accepted.outcome == OfferOutcome.ACCEPTED
    assert hold.status == AppointmentStatus.CONFIRMED and hold.held_until is None
    assert Appointment.objects.filter(start=at("10:00")).occupying().count() == 1
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.BOOKED
    kinds = [t.args_kwargs["kwargs"]["kind"] for t in queued.order_by("enqueued_at")]
    assert kinds == ["waitlist_offer", "confirmation", "staff_notice"]
    # A second click (or a double submit) changes nothing and is not an error.
    assert (
        waitlist.offer_accept(token=offer.token, answers=ALL_NO, now=NOW + timedelta(minutes=11)).outcome
        == "accepted"
    )
    assert queued.all().count() == 3
    # The offer email still queued would now be stale: the worker skips it.
    stale = queued.all().filter(args_kwargs__kwargs__kind="waitlist_offer").get().args_kwargs["kwargs"]
    assert send_appointment_email.call(**stale) == "skipped: superseded by a later change"


def test_offer_declined_goes_to_the_next_in_line_and_never_back(swedish_60, anna, full_tuesday):
    first, second = join(swedish_60, 1), join(swedish_60, 2)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    assert offer.entry == first
    DBTaskResult.objects.all().delete()
    waitlist.offer_decline(token=offer.token, now=NOW + timedelta(minutes=5))
    offer.refresh_from_db()
    offer.appointment.refresh_from_db()
    assert offer.outcome == OfferOutcome.DECLINED
    assert offer.appointment.status == AppointmentStatus.CANCELLED
    # The release queued the match for that day.
    assert DBTaskResult.objects.filter(task_path__endswith="waitlist_match").count() == 1
    [next_offer] = match(NOW + timedelta(minutes=5))
    assert next_offer.entry == second and next_offer.start == at("10:00")
    first.refresh_from_db()
    assert first.status == WaitlistStatus.WAITING  # still waiting for other times
    # Second says no too: the time is free, but first already let it go.
    waitlist.offer_decline(token=next_offer.token, leave=True, now=NOW + timedelta(minutes=6))
    assert match(NOW + timedelta(minutes=6)) == []
    second.refresh_from_db()
    assert second.status == WaitlistStatus.LEFT
    # A declined offer cannot be accepted afterwards.
    with pytest.raises(ValidationError) as refused:
        waitlist.offer_accept(token=offer.token, answers=ALL_NO, now=NOW + timedelta(minutes=7))
    assert refused.value.code == "declined"


def test_offer_lapsed_is_released_by_the_sweeper_once_and_offered_onward(
    swedish_60, anna, full_tuesday, settings
):
    settings.WAITLIST_HOLD_MINUTES = 30
    first, second = join(swedish_60, 1), join(swedish_60, 2)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    # Not yet: nothing released.
    assert waitlist.holds_release_lapsed(now=NOW + timedelta(minutes=29)).released == 0
    later = NOW + timedelta(minutes=31)
    # Too late to accept, even before the sweeper ran.
    with pytest.raises(ValidationError) as refused:
        waitlist.offer_accept(token=offer.token, answers=ALL_NO, now=later)
    assert refused.value.code == "lapsed"
    assert waitlist.holds_release_lapsed(now=later).released == 1
    assert waitlist.holds_release_lapsed(now=later).released == 0  # idempotent
    offer.refresh_from_db()
    first.refresh_from_db()
    assert offer.outcome == OfferOutcome.LAPSED and first.status == WaitlistStatus.LAPSED
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.CANCELLED
    [onward] = match(later)
    assert onward.entry == second


def test_release_lapsed_holds_command_is_safe_to_rerun(swedish_60, anna, full_tuesday):
    join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    WaitlistOffer.objects.filter(pk=offer.pk).update(expires_at=NOW)  # long past by the real clock
    out = []
    for _ in range(2):
        from io import StringIO

        buffer = StringIO()
        call_command("release_lapsed_holds", stdout=buffer)
        out.append(buffer.getvalue())
    assert "Holds released: 1" in out[0] and "Holds released: 0" in out[1]


def test_offers_go_once_per_entry_and_time_however_often_the_match_runs(swedish_60, anna, full_tuesday):
    join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    assert len(match()) == 1
    assert match() == [] and match() == []
    assert WaitlistOffer.objects.count() == 1
    assert DBTaskResult.objects.filter(args_kwargs__kwargs__kind="waitlist_offer").count() == 1


def test_two_cancellations_offer_one_time_each_to_the_first_two(swedish_60, anna, full_tuesday):
    first, second, third = join(swedish_60, 1), join(swedish_60, 2), join(swedish_60, 3)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    appointments.appointment_cancel(appointment=full_tuesday[1], now=NOW)
    # The two queued tasks run one after the other (or at once: tests/booking/test_waitlist_races.py).
    made = match() + match()
    assert sorted((o.entry.pk, o.start) for o in made) == [(first.pk, at("10:00")), (second.pk, at("11:15"))]
    assert not WaitlistOffer.objects.filter(entry=third).exists()


def test_parts_of_day_and_therapist_limit_what_is_offered(swedish, swedish_60, anna, full_tuesday):
    ben = TherapistFactory(name="Ben", slug="ben", techniques=[swedish], hours={1: [("14:00", "15:15")]})
    book(swedish_60, ben, at("14:00"), 3)
    mornings_with_ben = join(swedish_60, 1, therapist=ben, parts=("morning",))
    afternoons = join(swedish_60, 2, parts=("afternoon",))
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    assert match() == []  # 10:00 with Anna suits neither
    appointments.appointment_cancel(appointment=Appointment.objects.get(therapist=ben), now=NOW)
    [offer] = match()
    assert offer.entry == afternoons and offer.appointment.therapist == ben
    assert not offers_for(mornings_with_ben)


def test_an_online_booking_of_a_held_time_is_refused_the_hold_wins(
    swedish_60, anna, full_tuesday, client_details
):
    join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    with pytest.raises(appointments.SlotUnavailable):
        appointments.appointment_book(
            technique=swedish_60.technique,
            length=swedish_60,
            start=at("10:00"),
            client=client_details,
            now=NOW,
        )
    # Nor does the times page list it.
    free = selectors.free_starts(
        technique=swedish_60.technique, length=swedish_60, first_day=TUESDAY, days=1, now=NOW
    )
    assert at("10:00") not in [s for s, _ids in free.merged().get(TUESDAY, [])]
    offer.appointment.refresh_from_db()
    assert offer.appointment.status == AppointmentStatus.HELD


def test_holds_are_not_bookings_in_visits_counts_or_exports(swedish_60, anna, full_tuesday):
    entry = join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    visits = selectors.client_visits(client=entry.client, now=NOW)
    assert visits.upcoming == [] and visits.cancellations == 0
    assert offer.appointment not in Appointment.objects.bookings()
    text = exports.csv_text(Appointment.objects.bookings(), LONDON)
    assert offer.appointment.reference not in text
    assert selectors.upcoming_online_count(email=entry.client.email, now=NOW) == 0
    # Lapsed: a cancelled hold is not a cancellation by the client either.
    waitlist.holds_release_lapsed(now=NOW + timedelta(hours=1))
    visits = selectors.client_visits(client=entry.client, now=NOW)
    assert visits.cancellations == 0 and visits.upcoming == []


def test_the_hold_never_outlives_the_time_it_holds(swedish_60, anna, full_tuesday, settings):
    settings.WAITLIST_HOLD_MINUTES = 3 * 24 * 60
    join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    assert offer.expires_at == at("10:00")


def test_joining_again_updates_the_entry_and_keeps_its_place(swedish_60, anna):
    entry = join(swedish_60, 1)
    again = join(swedish_60, 1, parts=("evening",))
    assert again.pk == entry.pk and again.parts() == {"evening"}
    assert WaitlistEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"first_day": TUESDAY, "last_day": TUESDAY - timedelta(days=1)}, "order"),
        ({"first_day": date(2026, 11, 1), "last_day": date(2026, 11, 2)}, "past"),
        ({"first_day": date(2027, 6, 1), "last_day": date(2027, 6, 2)}, "horizon"),
        ({"parts": frozenset()}, "no_part"),
        ({"parts": frozenset({"night"})}, "no_part"),
    ],
)
def test_a_wish_that_cannot_be_met_is_refused_with_its_code(swedish_60, anna, change, code):
    wish = waitlist.Wish(
        **{
            "technique": swedish_60.technique,
            "length": swedish_60,
            "therapist": None,
            "first_day": TUESDAY,
            "last_day": TUESDAY,
            "parts": frozenset({"morning"}),
            **change,
        }
    )
    with pytest.raises(ValidationError) as refused:
        waitlist.entry_join(wish=wish, name="A", email="a@example.com", phone="07700 900300", now=NOW)
    assert refused.value.code == code
    assert not WaitlistEntry.objects.exists()


def test_a_signed_in_client_without_email_cannot_wait(swedish_60, anna):
    client = ClientFactory(email="")
    wish = waitlist.Wish(swedish_60.technique, swedish_60, None, TUESDAY, TUESDAY, frozenset({"morning"}))
    with pytest.raises(ValidationError) as refused:
        waitlist.entry_join(wish=wish, client=client, now=NOW)
    assert refused.value.code == "no_email"


def test_staff_offer_by_hand_and_leaving_releases_the_hold(swedish_60, anna, staff_user):
    entry = join(swedish_60, 1)
    offer = waitlist.offer_create(entry=entry, start=at("11:15"), offered_by=staff_user, now=NOW)
    assert offer.offered_by == staff_user and offer.appointment.therapist == anna
    # Only one live offer per entry.
    with pytest.raises(ValidationError) as refused:
        waitlist.offer_create(entry=entry, start=at("10:00"), offered_by=staff_user, now=NOW)
    assert refused.value.code == "not_waiting"
    waitlist.entry_leave(entry=entry, now=NOW)
    offer.refresh_from_db()
    offer.appointment.refresh_from_db()
    assert offer.outcome == OfferOutcome.DECLINED
    assert offer.appointment.status == AppointmentStatus.CANCELLED


def test_removed_time_off_and_new_hours_queue_the_match_only_when_someone_waits(swedish_60, anna):
    time_off, _ = schedules.time_off_add(therapist=anna, start=at("09:00"), end=at("13:00"))
    schedules.time_off_delete(time_off=time_off)
    assert not DBTaskResult.objects.exists()  # nobody waits: no task
    # Someone waits for that Tuesday, and (new hours count from the real today) for the
    # days ahead: each change queues one match for Anna's time.
    join(swedish_60, 1)
    ahead = timezone.now().astimezone(LONDON).date() + timedelta(days=2)
    wish = waitlist.Wish(swedish_60.technique, swedish_60, None, ahead, ahead, frozenset({"morning"}))
    waitlist.entry_join(wish=wish, name="Later", email="later@example.com", phone="07700 900300")
    DBTaskResult.objects.all().delete()
    time_off, _ = schedules.time_off_add(therapist=anna, start=at("09:00"), end=at("13:00"))
    schedules.time_off_delete(time_off=time_off)
    schedules.working_hours_set(therapist=anna, periods=[(1, at("10:00").time(), at("16:00").time())])
    tasks = DBTaskResult.objects.filter(task_path__endswith="waitlist_match")
    assert tasks.count() == 2
    assert {t.args_kwargs["kwargs"].get("therapist_id") for t in tasks} == {anna.pk}


def test_the_offer_email_names_the_time_and_the_deadline(swedish_60, anna, full_tuesday):
    join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    message = notifications.build_email(notifications.EmailKind.WAITLIST_OFFER, offer.appointment, now=NOW)
    assert "Tuesday 24 November 2026, 10:00" in message.body
    assert "until 08:30" in message.body
    assert message.subject.startswith("A time has come free")


def test_erasing_a_client_takes_them_off_the_waitlist_and_releases_their_hold(
    swedish_60, anna, full_tuesday, staff_user
):
    from booking.services import privacy

    entry = join(swedish_60, 1)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    privacy.client_erase(client=entry.client, by=staff_user)
    entry.refresh_from_db()
    offer.appointment.refresh_from_db()
    assert entry.status == WaitlistStatus.LEFT
    assert offer.appointment.status == AppointmentStatus.CANCELLED
    assert offer.appointment.client_email == ""


def test_the_catch_up_offers_time_freed_without_a_hook(swedish_60, anna, full_tuesday):
    entry = join(swedish_60, 1)
    # Freed behind the services' back (a data fix): no task was queued.
    Appointment.objects.filter(pk=full_tuesday[0].pk).update(status=AppointmentStatus.CANCELLED)
    [offer] = waitlist.offers_catch_up(now=NOW)
    assert offer.entry == entry and offer.start == at("10:00")
    assert waitlist.offers_catch_up(now=NOW) == []


# --------------------------------------------------------------------------- health answers at "Book it"


def offered(swedish_60, full_tuesday, n=1):
    entry = join(swedish_60, n)
    appointments.appointment_cancel(appointment=full_tuesday[0], now=NOW)
    [offer] = match()
    return entry, offer


def test_accepting_records_the_answers_with_the_visit(swedish_60, anna, full_tuesday):
    entry, offer = offered(swedish_60, full_tuesday)
    answers = {**ALL_NO, "conditions": Answer(yes=True, details="Mild asthma")}
    waitlist.offer_accept(token=offer.token, answers=answers, now=NOW + timedelta(minutes=5))
    [record] = HealthIntake.objects.filter(appointment_id=offer.appointment_id)
    assert record.client == entry.client
    assert record.answers["conditions"] == {"yes": True, "details": "Mild asthma", "number": None}
    assert record.answers["pregnancy"]["yes"] is False


def test_answers_that_call_for_a_call_refuse_and_keep_the_hold(swedish_60, anna, full_tuesday):
    health_rule("illness_or_fever", RuleOutcome.CALL)
    _, offer = offered(swedish_60, full_tuesday)
    with pytest.raises(ValidationError) as refused:
        waitlist.offer_accept(
            token=offer.token,
            answers={**ALL_NO, "illness_or_fever": Answer(yes=True)},
            now=NOW + timedelta(minutes=5),
        )
    assert refused.value.code == "intake_call"
    offer.refresh_from_db()
    assert offer.outcome == OfferOutcome.PENDING
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.HELD
    assert not HealthIntake.objects.filter(appointment_id=offer.appointment_id).exists()
    # Answered no (say they had ticked the wrong box), the same offer books.
    waitlist.offer_accept(token=offer.token, answers=ALL_NO, now=NOW + timedelta(minutes=6))
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.CONFIRMED


def test_a_doctors_note_is_needed_when_the_rules_say_so(swedish_60, anna, full_tuesday):
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    _, offer = offered(swedish_60, full_tuesday)
    answers = {**ALL_NO, "injury_or_surgery": Answer(yes=True, details="Knee, in June")}
    with pytest.raises(ValidationError) as refused:
        waitlist.offer_accept(token=offer.token, answers=answers, now=NOW + timedelta(minutes=5))
    assert refused.value.code == "intake_doctor_note"
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.HELD
    note = intake.doctor_note_upload(
        upload=SimpleUploadedFile("scan.pdf", PDF, content_type="application/pdf")
    )
    waitlist.offer_accept(
        token=offer.token, answers=answers, doctor_note_token=note.draft_token, now=NOW + timedelta(minutes=6)
    )
    note.refresh_from_db()
    assert note.appointment_id == offer.appointment_id and note.draft_token == ""
    assert HealthIntake.objects.get(appointment_id=offer.appointment_id).outcome == RuleOutcome.DOCTOR_NOTE
