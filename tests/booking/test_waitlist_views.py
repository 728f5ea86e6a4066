"""The waitlist pages (issue 14): joining from the times page, the entry link, and the offer
link's "Book it" and "No thanks". Bad input is a clear 400/404/409, never a 500."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from booking.choices import AppointmentStatus, OfferOutcome, RuleOutcome, WaitlistStatus
from booking.client_session import SESSION_KEY
from booking.intake import Answer
from booking.models import Appointment, DoctorNote, HealthIntake, WaitlistEntry, WaitlistOffer
from booking.services import account, waitlist
from tests.conftest import LONDON
from tests.factories import (
    HEALTH_NO,
    ClientFactory,
    TherapistFactory,
    appointment_row,
    health_rule,
)
from tests.factories import (
    HEALTH_QUESTION_KEYS as KEYS,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def working_day(ahead: int = 3) -> date:
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=ahead)
    return day if day.weekday() != 6 else day + timedelta(days=1)  # the factory's hours: Mon-Sat


@pytest.fixture
def day():
    return working_day()


@pytest.fixture
def anna(swedish):
    # One therapist working 10:00-11:15: a single 60-minute time (with the 15-minute buffer).
    return TherapistFactory(
        name="Anna", slug="anna", techniques=[swedish], hours={d: [("10:00", "11:15")] for d in range(6)}
    )


@pytest.fixture
def full_day(anna, swedish, day):
    start = datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON)
    return appointment_row(anna, swedish, start, status=AppointmentStatus.CONFIRMED)


def join_url(swedish):
    return reverse("booking:waitlist-join", args=[swedish.slug])


def quick_post(day):
    return {
        "quick": "1",
        "length": "60",
        "therapist": "any",
        "first_day": day.isoformat(),
        "last_day": (day + timedelta(days=6)).isoformat(),
        "parts": ["morning", "afternoon", "evening"],
    }


def sign_in(client, record):
    session = client.session
    session[SESSION_KEY] = record.pk
    session.save()


def test_the_times_page_offers_to_tell_me_when_nothing_is_free(client, swedish, anna, full_day, day):
    page = client.get(
        reverse("booking:times", args=[swedish.slug]),
        {"length": 60, "therapist": "any", "day": day.isoformat()},
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Tell me if a time frees up" in html
    assert f'action="{join_url(swedish)}"' in html
    assert f'name="first_day" value="{day.isoformat()}"' in html
    # A day with free times, or a closed one, does not offer it.
    other = day + timedelta(days=1 if day.weekday() != 5 else 2)
    html = client.get(
        reverse("booking:times", args=[swedish.slug]),
        {"length": 60, "therapist": "any", "day": other.isoformat()},
    ).content.decode()
    assert "Tell me if a time frees up" not in html


def test_without_sign_in_the_quick_join_asks_who_to_tell_then_joins(client, swedish, anna, full_day, day):
    asked = client.post(join_url(swedish), quick_post(day))
    html = asked.content.decode()
    assert asked.status_code == 200 and 'name="email"' in html
    assert "errorlist" not in html and "is-invalid" not in html  # nothing typed yet, so no errors
    assert not WaitlistEntry.objects.exists()
    data = {
        **quick_post(day),
        "quick": "",
        "name": "Nina Park",
        "email": "nina@example.com",
        "phone": "07700 900123",
    }
    joined = client.post(join_url(swedish), data)
    assert joined.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert entry.client.email == "nina@example.com" and entry.status == WaitlistStatus.WAITING
    page = client.get(joined["Location"])
    assert page.status_code == 200 and "on the waitlist" in page.content.decode()
    left = client.post(joined["Location"])
    assert left.status_code == 200 and "You have left the waitlist" in left.content.decode()
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.LEFT


def test_a_signed_in_client_joins_in_one_tap(client, swedish, anna, full_day, day):
    record = ClientFactory(name="Sam Lee", email="sam@example.com")
    sign_in(client, record)
    response = client.post(join_url(swedish), quick_post(day))
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get()
    assert entry.client == record
    assert (entry.first_day, entry.last_day) == (day, day + timedelta(days=6))
    assert entry.parts() == {"morning", "afternoon", "evening"}


@pytest.mark.parametrize(
    "change",
    [
        {"length": "999"},
        {"length": "sixty"},
        {"therapist": "nobody"},
        {"first_day": "2026-02-31"},
        {"first_day": "not a date"},
        {"parts": ["midnight"]},
        {"parts": []},
        {"email": "not-an-email"},
        {"name": ""},
        {"phone": "abc"},
    ],
)
def test_bad_input_is_a_400_that_keeps_what_was_typed(client, swedish, anna, day, change):
    data = {
        **quick_post(day),
        "quick": "",
        "name": "Nina Park",
        "email": "nina@example.com",
        "phone": "07700 900123",
    }
    data.update(change)
    response = client.post(join_url(swedish), data)
    assert response.status_code == 400
    html = response.content.decode()
    if "name" not in change:
        assert 'value="Nina Park"' in html
    assert not WaitlistEntry.objects.exists()


def test_days_already_past_are_refused_with_a_message(client, swedish, anna):
    data = {
        "length": "60",
        "therapist": "any",
        "first_day": "2020-01-01",
        "last_day": "2020-01-02",
        "parts": ["morning"],
        "name": "Nina Park",
        "email": "nina@example.com",
        "phone": "07700 900123",
    }
    response = client.post(join_url(swedish), data)
    assert response.status_code == 400
    assert "Those days have already passed." in response.content.decode()


def test_unknown_technique_and_bad_entry_links_are_404(client, swedish):
    assert client.get(reverse("booking:waitlist-join", args=["no-such"])).status_code == 404
    assert client.get(reverse("booking:waitlist-entry", args=["1.abc:forged"])).status_code == 404
    assert client.get(reverse("booking:waitlist-offer", args=["made-up"])).status_code == 404
    assert (
        client.post(
            reverse("booking:waitlist-offer", args=["made-up"]), {"answer": "book", **HEALTH_NO}
        ).status_code
        == 404
    )


@pytest.fixture
def offer(swedish, anna, day, staff_user):
    wish = waitlist.Wish(
        swedish, swedish.lengths.get(duration_minutes=60), None, day, day, frozenset({"morning"})
    )
    entry = waitlist.entry_join(wish=wish, name="Nina Park", email="nina@example.com", phone="07700 900123")
    start = datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON)
    return WaitlistOffer.objects.filter(entry=entry).first() or waitlist.offer_create(
        entry=entry, start=start, offered_by=staff_user
    )


def test_book_it_books_the_held_time_and_shows_the_confirmation(client, offer, django_assert_max_num_queries):
    url = reverse("booking:waitlist-offer", args=[offer.token])
    with django_assert_max_num_queries(4):
        page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "Book it" in html and "We are holding it for you until" in html
    booked = client.post(url, {"answer": "book", **HEALTH_NO})
    assert booked.status_code == 302
    appointment = Appointment.objects.get(pk=offer.appointment_id)
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert booked["Location"] == reverse("booking:appointment-confirmed", args=[appointment.manage_token])
    assert client.get(booked["Location"]).status_code == 200
    # A second tap lands on the same booking.
    assert client.post(url, {"answer": "book", **HEALTH_NO})["Location"] == booked["Location"]
    assert "You have booked this time." in client.get(url).content.decode()


def test_no_thanks_gives_the_time_away_and_can_leave_the_list(client, offer):
    url = reverse("booking:waitlist-offer", args=[offer.token])
    assert "Also take me off the waitlist" in client.get(url, {"answer": "no"}).content.decode()
    response = client.post(url, {"answer": "no", "leave": "1"})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.outcome == OfferOutcome.DECLINED and offer.entry.status == WaitlistStatus.LEFT
    html = client.get(url).content.decode()
    assert "You said no thanks" in html and "no longer on the waitlist" in html
    # Too late to change one's mind.
    late = client.post(url, {"answer": "book", **HEALTH_NO})
    assert late.status_code == 409 and "went to someone else" in late.content.decode()


def test_an_offer_past_its_window_cannot_be_booked(client, offer):
    WaitlistOffer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    url = reverse("booking:waitlist-offer", args=[offer.token])
    assert "Book it" not in client.get(url).content.decode()
    response = client.post(url, {"answer": "book", **HEALTH_NO})
    assert response.status_code == 409
    assert "has gone to the next person" in response.content.decode()
    assert (
        Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.HELD
    )  # the sweeper's job


def test_an_answer_that_is_neither_is_a_400(client, offer):
    url = reverse("booking:waitlist-offer", args=[offer.token])
    assert client.post(url, {"answer": "maybe"}).status_code == 400
    assert client.post(url).status_code == 400


def test_book_it_asks_the_health_questions_and_keeps_what_was_typed(client, offer):
    url = reverse("booking:waitlist-offer", args=[offer.token])
    page = client.get(url).content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="health_pregnancy"' in page
    # One answer missing: a 400 that names it, keeps the others, and books nothing.
    partial = {**HEALTH_NO, "health_conditions": "yes", "health_conditions_details": "Mild asthma"}
    del partial["health_skin"]
    response = client.post(url, {"answer": "book", **partial})
    html = response.content.decode()
    assert response.status_code == 400 and "Please answer this question." in html
    assert "Mild asthma" in html
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.HELD
    booked = client.post(url, {"answer": "book", **partial, "health_skin": "no"})
    assert booked.status_code == 302
    record = HealthIntake.objects.get(appointment_id=offer.appointment_id)
    assert record.answers["conditions"]["details"] == "Mild asthma"


def test_answers_that_need_a_call_keep_the_hold_and_say_so(client, offer):
    health_rule("illness_or_fever", RuleOutcome.CALL)
    url = reverse("booking:waitlist-offer", args=[offer.token])
    response = client.post(url, {"answer": "book", **HEALTH_NO, "health_illness_or_fever": "yes"})
    assert response.status_code == 200
    assert "we would like to talk to you before booking" in response.content.decode()
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.HELD
    offer.refresh_from_db()
    assert offer.outcome == OfferOutcome.PENDING


def test_a_doctors_note_is_asked_for_then_books(client, offer):
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    url = reverse("booking:waitlist-offer", args=[offer.token])
    answers = {"answer": "book", **HEALTH_NO, "health_injury_or_surgery": "yes"}
    asked = client.post(url, answers)
    html = asked.content.decode()
    assert asked.status_code == 200 and 'id="doctor-note"' in html and 'name="doctor_note"' in html
    assert Appointment.objects.get(pk=offer.appointment_id).status == AppointmentStatus.HELD
    bad = client.post(
        url, {**answers, "needs_note": "1", "doctor_note": SimpleUploadedFile("scan.pdf", b"<html>")}
    )
    assert bad.status_code == 400 and 'id="doctor-note"' in bad.content.decode()
    note = SimpleUploadedFile("scan.pdf", PDF, content_type="application/pdf")
    booked = client.post(url, {**answers, "needs_note": "1", "doctor_note": note})
    assert booked.status_code == 302
    assert DoctorNote.objects.get().appointment_id == offer.appointment_id


def test_the_doctors_note_field_stays_when_an_answer_is_then_left_out(client, offer):
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    url = reverse("booking:waitlist-offer", args=[offer.token])
    answers = {"answer": "book", **HEALTH_NO, "health_injury_or_surgery": "yes", "needs_note": "1"}
    del answers["health_skin"]
    kept = client.post(url, answers)  # no file chosen yet
    html = kept.content.decode()
    assert kept.status_code == 400 and "Please answer this question." in html
    assert 'id="doctor-note"' in html and 'name="doctor_note"' in html


def test_latest_answers_are_filled_in_only_for_the_client_signed_in(client, offer):
    health_rule("conditions", RuleOutcome.FLAG)
    record = offer.entry.client
    account.health_update(
        client=record, answers={key: Answer(yes=key == "conditions", details="Old knee") for key in KEYS}
    )
    url = reverse("booking:waitlist-offer", args=[offer.token])
    assert "Old knee" not in client.get(url).content.decode()  # the link alone shows no health data
    sign_in(client, record)
    assert "Old knee" in client.get(url).content.decode()
    sign_in(client, ClientFactory())  # someone else signed in
    assert "Old knee" not in client.get(url).content.decode()


def test_the_join_page_and_entry_page_run_few_queries(
    client, swedish, anna, day, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):
        assert client.get(join_url(swedish), {"length": 60, "day": day.isoformat()}).status_code == 200
    wish = waitlist.Wish(
        swedish, swedish.lengths.get(duration_minutes=60), None, day, day, frozenset({"morning"})
    )
    entry = waitlist.entry_join(wish=wish, name="Nina Park", email="nina@example.com", phone="07700 900123")
    from booking.waitlist_views import entry_token

    with django_assert_max_num_queries(2):
        assert client.get(reverse("booking:waitlist-entry", args=[entry_token(entry)])).status_code == 200


def test_joining_without_sign_in_is_rate_limited_per_address(client, swedish, anna, day, settings):
    settings.BOOKING_RATE_LIMIT = 1
    data = {
        **quick_post(day),
        "quick": "",
        "name": "Nina Park",
        "email": "nina@example.com",
        "phone": "07700 900123",
    }
    assert client.post(join_url(swedish), data).status_code == 302
    assert client.post(join_url(swedish), {**data, "email": "other@example.com"}).status_code == 429
    assert WaitlistEntry.objects.count() == 1


def test_the_clients_open_offers_for_their_page(offer, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = waitlist.offers_open_for(offer.entry.client)
        assert [o.appointment.technique.name for o in found] == ["Swedish"]
    from django.template.loader import render_to_string

    html = render_to_string("booking/waitlist/_client_offers.html", {"waitlist_offers": found})
    assert reverse("booking:waitlist-offer", args=[offer.token]) in html
