"""Waitlist races (issue 14), with real threads and connections, on whichever database the
suite uses (SQLite as a file, and PostgreSQL): two freed times offered at once, and online
bookings racing a held time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from booking.choices import AppointmentSource, AppointmentStatus, OfferOutcome
from booking.models import Appointment, WaitlistOffer
from booking.services import appointments, waitlist
from tests.booking.test_concurrency import client, make_technique, race
from tests.conftest import LONDON
from tests.factories import TherapistFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)
TUESDAY = date(2026, 11, 24)
TEN = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
ELEVEN_FIFTEEN = datetime(2026, 11, 24, 11, 15, tzinfo=LONDON)


@pytest.fixture
def setup():
    technique = make_technique()
    length = technique.lengths.get(duration_minutes=60)
    # Tuesdays 10:00-12:30: two times, 10:00 and 11:15.
    therapist = TherapistFactory(techniques=[technique], hours={1: [("10:00", "12:30")]})
    return technique, length, therapist


def join(technique, length, n):
    wish = waitlist.Wish(technique, length, None, TUESDAY, TUESDAY, frozenset({"morning"}))
    return waitlist.entry_join(
        wish=wish, name=f"Waiting {n}", email=f"w{n}@example.com", phone="07700 900200", now=NOW
    )


def book_staff(technique, length, therapist, start, n):
    return appointments.appointment_book(
        technique=technique,
        length=length,
        start=start,
        client=client(n),
        therapist=therapist,
        source=AppointmentSource.STAFF,
        now=NOW,
    )


def occupying_at(start):
    return Appointment.objects.occupying().filter(start=start).count()


def test_two_cancellations_at_once_offer_each_time_once_to_the_first_two(setup):
    technique, length, therapist = setup
    booked = [
        book_staff(technique, length, therapist, start, n) for n, start in enumerate((TEN, ELEVEN_FIFTEEN))
    ]
    entries = [join(technique, length, n) for n in range(3)]
    # Both cancelled at the same moment, each then running its match at the same moment.
    race([lambda a=a: appointments.appointment_cancel(appointment=a, now=NOW) for a in booked])
    outcomes = race([lambda: waitlist.offers_make(first_day=TUESDAY, last_day=TUESDAY, now=NOW)] * 4)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    offers = list(WaitlistOffer.objects.select_related("appointment").order_by("start"))
    assert [(o.entry_id, o.start) for o in offers] == [(entries[0].pk, TEN), (entries[1].pk, ELEVEN_FIFTEEN)]
    assert occupying_at(TEN) == 1 and occupying_at(ELEVEN_FIFTEEN) == 1
    assert {o.appointment.status for o in offers} == {AppointmentStatus.HELD}


def test_online_bookings_racing_the_offer_of_a_freed_time_never_overlap_it(setup):
    technique, length, therapist = setup
    booked = book_staff(technique, length, therapist, TEN, 0)
    join(technique, length, 1)
    appointments.appointment_cancel(appointment=booked, now=NOW)

    def online(n):
        return lambda: appointments.appointment_book(
            technique=technique, length=length, start=TEN, client=client(100 + n), now=NOW
        )

    outcomes = race(
        [lambda: waitlist.offers_make(first_day=TUESDAY, last_day=TUESDAY, now=NOW)]
        + [online(n) for n in range(5)]
    )
    # The freed 10:00 goes to exactly one: a booking, or the waitlist's offer of it. When a
    # booking wins, the sweep may offer the entry another free time that day (11:15):
    # that is no competitor for 10:00.
    offers = [offer for o in outcomes if isinstance(o, list) for offer in o]
    booked_online = [o for o in outcomes if isinstance(o, Appointment)]
    won = booked_online + [offer for offer in offers if offer.start == TEN]
    assert len(won) == 1, outcomes
    assert occupying_at(TEN) == 1
    assert len(offers) <= 1, outcomes
    assert all(isinstance(o, (appointments.SlotUnavailable, list, Appointment)) for o in outcomes), outcomes


def test_a_held_time_is_kept_for_the_client_while_online_bookings_race_their_book_it(setup):
    """The hold wins: while the client taps "Book it", bookings of the same time all fail."""
    technique, length, therapist = setup
    booked = book_staff(technique, length, therapist, TEN, 0)
    join(technique, length, 1)
    appointments.appointment_cancel(appointment=booked, now=NOW)
    [offer] = waitlist.offers_make(first_day=TUESDAY, last_day=TUESDAY, now=NOW)

    def online(n):
        return lambda: appointments.appointment_book(
            technique=technique, length=length, start=TEN, client=client(200 + n), now=NOW
        )

    accept = lambda: waitlist.offer_accept(token=offer.token, answers={}, now=NOW + timedelta(minutes=5))  # noqa: E731
    outcomes = race([accept] + [online(n) for n in range(5)])
    assert isinstance(outcomes[0], WaitlistOffer) and outcomes[0].outcome == OfferOutcome.ACCEPTED, outcomes
    assert all(isinstance(o, appointments.SlotUnavailable) for o in outcomes[1:]), outcomes
    held = Appointment.objects.get(pk=offer.appointment_id)
    assert held.status == AppointmentStatus.CONFIRMED
    assert occupying_at(TEN) == 1


def test_sweepers_run_at_once_release_a_lapsed_hold_once_and_offer_it_onward_once(setup):
    technique, length, therapist = setup
    booked = book_staff(technique, length, therapist, TEN, 0)
    book_staff(technique, length, therapist, ELEVEN_FIFTEEN, 1)
    first, second = join(technique, length, 1), join(technique, length, 2)
    appointments.appointment_cancel(appointment=booked, now=NOW)
    [offer] = waitlist.offers_make(first_day=TUESDAY, last_day=TUESDAY, now=NOW)
    later = NOW + timedelta(hours=1)
    outcomes = race([lambda: waitlist.holds_release_lapsed(now=later)] * 4)
    assert sum(o.released for o in outcomes) == 1, outcomes
    onward = race([lambda: waitlist.offers_make(first_day=TUESDAY, last_day=TUESDAY, now=later)] * 3)
    assert sum(len(o) for o in onward) == 1, onward
    offers = list(WaitlistOffer.objects.order_by("offered_at", "pk"))
    assert [(o.entry_id, o.outcome) for o in offers] == [(first.pk, "lapsed"), (second.pk, "")]
    assert occupying_at(TEN) == 1
