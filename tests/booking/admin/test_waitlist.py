"""The waitlist in the admin (issue 14): who, what, since when, offers and outcome; adding
a client and offering a time by hand, through the service; managers and reception only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.choices import AppointmentSource, AppointmentStatus, WaitlistStatus
from booking.models import WaitlistEntry, WaitlistOffer
from booking.services import waitlist
from tests.conftest import LONDON
from tests.factories import ClientFactory, TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def day():
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    return day if day.weekday() != 6 else day + timedelta(days=1)


@pytest.fixture
def anna(swedish):
    return TherapistFactory(name="Anna", slug="anna", techniques=[swedish])


def entry_for(swedish_60, day, n=1):
    wish = waitlist.Wish(
        swedish_60.technique, swedish_60, None, day, day + timedelta(days=2), frozenset({"morning"})
    )
    return waitlist.entry_join(
        wish=wish, name=f"Nina {n}", email=f"nina{n}@example.com", phone="07700 900123"
    )


def test_roles_manager_and_reception_manage_the_waitlist_therapists_do_not(client, swedish_60, anna, day):
    entry_for(swedish_60, day)
    url = reverse("admin:booking_waitlistentry_changelist")
    for role in ("Manager", "Reception"):
        client.force_login(user_in_role(role, role.lower()))
        assert client.get(url).status_code == 200
        assert client.get(reverse("admin:booking_waitlistentry_add")).status_code == 200
    client.force_login(user_in_role("Therapist", "tess", anna))
    assert client.get(url).status_code == 403


def test_the_list_shows_who_what_since_when_and_offers_in_fixed_queries(
    staff_client, swedish_60, anna, day, django_assert_max_num_queries
):
    url = reverse("admin:booking_waitlistentry_changelist")
    entry = entry_for(swedish_60, day)
    waitlist.offer_create(
        entry=entry, start=datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON), offered_by=None
    )
    staff_client.get(url)  # warm the session and content types
    with django_assert_max_num_queries(12) as one:
        html = staff_client.get(url).content.decode()
    assert "Nina 1" in html and "Offered a time" in html and "Any" in html
    for n in range(2, 12):
        entry_for(swedish_60, day, n)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert staff_client.get(url).status_code == 200


def test_staff_add_a_client_to_the_waitlist_through_the_service(staff_client, swedish, swedish_60, anna, day):
    record = ClientFactory(name="Phone Client", email="phone@example.com")
    data = {
        "client": record.pk,
        "technique": swedish.pk,
        "length": swedish_60.pk,
        "therapist": anna.pk,
        "first_day": day.isoformat(),
        "last_day": day.isoformat(),
        "parts": ["morning", "evening"],
    }
    response = staff_client.post(reverse("admin:booking_waitlistentry_add"), data)
    assert response.status_code == 302, re.findall(r"errorlist[^<]*<li>[^<]*", response.content.decode())
    entry = WaitlistEntry.objects.get()
    assert entry.client == record and entry.source == AppointmentSource.STAFF
    assert entry.parts() == {"morning", "evening"} and entry.therapist == anna
    # A wish the service refuses is a form error, not a 500.
    refused = staff_client.post(
        reverse("admin:booking_waitlistentry_add"),
        {**data, "first_day": "2020-01-01", "last_day": "2020-01-02"},
    )
    assert refused.status_code == 200 and "Those days have already passed." in refused.content.decode()


def test_staff_offer_a_time_by_hand_and_a_clash_is_a_form_error(
    staff_client, staff_user, swedish, swedish_60, anna, day
):
    entry = entry_for(swedish_60, day)
    url = reverse("admin:booking_waitlistentry_offer", args=[entry.pk])
    assert staff_client.get(url).status_code == 200
    busy = datetime(day.year, day.month, day.day, 14, 0, tzinfo=LONDON)
    appointment_row(anna, swedish, busy, status=AppointmentStatus.CONFIRMED, client_name="Other Person")
    clash = staff_client.post(url, {"start": busy.isoformat(), "therapist": anna.pk})
    assert clash.status_code == 400 and "Other Person" in clash.content.decode()
    start = datetime(day.year, day.month, day.day, 16, 0, tzinfo=LONDON)
    done = staff_client.post(url, {"start": start.isoformat(), "therapist": anna.pk})
    assert done.status_code == 302
    offer = WaitlistOffer.objects.get(entry=entry)
    assert offer.offered_by == staff_user and offer.appointment.status == AppointmentStatus.HELD
    page = staff_client.get(reverse("admin:booking_waitlistentry_change", args=[entry.pk])).content.decode()
    assert "Waiting for an answer" in page
    assert staff_client.post(url, {"start": "nonsense"}).status_code == 400


def test_taking_an_entry_off_the_list_releases_its_hold(staff_client, swedish_60, anna, day):
    entry = entry_for(swedish_60, day)
    offer = waitlist.offer_create(
        entry=entry, start=datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON)
    )
    response = staff_client.post(
        reverse("admin:booking_waitlistentry_changelist"),
        {"action": "take_off_list", "_selected_action": [entry.pk]},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    offer.appointment.refresh_from_db()
    assert entry.status == WaitlistStatus.LEFT
    assert offer.appointment.status == AppointmentStatus.CANCELLED
