"""The therapist's calendar feed address (booking.calendar_feed_views)."""

import logging
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from django.urls import reverse
from django.utils import timezone

from booking import roles
from booking.models import CalendarFeed, Room
from booking.services import appointments, calendar_feeds
from tests.factories import TherapistFactory, appointment_row, client_with_health_record, user_in_role


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://clinic.example"


def _hour(days: int, hour: int = 10) -> datetime:
    """A whole hour ``days`` from the real now (the feed reads the clock)."""
    return (
        (timezone.now() + timedelta(days=days))
        .astimezone(UTC)
        .replace(hour=hour, minute=0, second=0, microsecond=0)
    )


def _events(response) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def amara(db, swedish):
    therapist = TherapistFactory(name="Amara Osei", techniques=[swedish])
    user_in_role(roles.THERAPIST, "amara", therapist=therapist)
    return therapist


@pytest.fixture
def ben(db, swedish):
    therapist = TherapistFactory(name="Ben Hale", techniques=[swedish])
    user_in_role(roles.THERAPIST, "ben", therapist=therapist)
    return therapist


@pytest.fixture
def feed_url(amara):
    _feed, secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    return reverse("booking:therapist_calendar", args=[secret])


def test_the_address_is_namespaced():
    assert reverse("booking:therapist_calendar", args=["a" * 43]) == f"/book/calendar/{'a' * 43}.ics"


def test_the_feed_lists_own_appointments_only_with_first_names(client, amara, ben, swedish, feed_url):
    room = Room.objects.create(name="Quiet room")
    start = _hour(2)
    own = appointment_row(
        amara,
        swedish,
        start,
        client_name="Olivia Brown",
        room=room,
        room_until=start + timedelta(minutes=75),
    )
    appointment_row(ben, swedish, _hour(3), client_name="Zed Quinn", client_email="zed@example.com")

    response = client.get(feed_url)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    events = _events(response)
    assert list(events) == [f"appointment-{own.reference}-1@clinic.example"]
    event = events[f"appointment-{own.reference}-1@clinic.example"]
    assert str(event["summary"]) == "Swedish, 60 min – Olivia"
    assert str(event["location"]) == "Quiet room"
    assert event["dtstart"].dt == start and event["dtend"].dt == start + timedelta(minutes=60)
    assert event["dtstart"].to_ical() == start.strftime("%Y%m%dT%H%M%SZ").encode()
    assert event["status"] == "CONFIRMED"
    body = response.content.decode()
    for private in ("Brown", "olivia@example.com", "07700", "Zed", "Ben Hale"):
        assert private not in body
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["x-wr-calname"]).endswith(": my appointments")
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT15M" in body and "X-PUBLISHED-TTL:PT15M" in body


def test_no_contact_details_notes_or_health_data_in_the_feed(client, amara, feed_url):
    _client, visit = client_with_health_record(therapist=amara, start=_hour(-3))
    response = client.get(feed_url)
    events = _events(response)
    assert len(events) == 1
    assert str(next(iter(events.values()))["summary"]).endswith("– Ada")
    body = response.content.decode()
    for private in (
        "Lovelace",
        "ada.lovelace@example.com",
        "07911",
        "marathon",  # notes for the therapist
        "Sciatica",  # health answers and treatment notes
        "Zorbex",
        "knee",
        "piriformis",
        "DESCRIPTION",
        "ATTENDEE",
    ):
        assert private not in body


def test_cancelled_lapsed_and_far_appointments_are_left_out(client, amara, swedish, feed_url):
    kept = [
        appointment_row(amara, swedish, _hour(-29)),
        appointment_row(amara, swedish, _hour(1), status="completed"),
        appointment_row(amara, swedish, _hour(179)),
    ]
    held = appointment_row(
        amara, swedish, _hour(2), status="held", held_until=timezone.now() + timedelta(hours=1)
    )
    appointment_row(amara, swedish, _hour(3), status="cancelled")
    appointment_row(amara, swedish, _hour(4), status="held", held_until=timezone.now() - timedelta(minutes=1))
    appointment_row(amara, swedish, _hour(-32))
    appointment_row(amara, swedish, _hour(182))

    events = _events(client.get(feed_url))

    assert sorted(events) == sorted(f"appointment-{a.reference}-1@clinic.example" for a in [*kept, held])
    hold = events[f"appointment-{held.reference}-1@clinic.example"]
    assert hold["status"] == "TENTATIVE" and "held for the waitlist" in str(hold["summary"])


def test_a_moved_appointment_keeps_its_uid_with_a_higher_sequence(client, amara, swedish, feed_url):
    booked = appointment_row(amara, swedish, _hour(3))
    uid = f"appointment-{booked.reference}-1@clinic.example"
    before = client.get(feed_url)
    assert _events(before)[uid]["sequence"] == 0

    appointments.appointment_reschedule(
        appointment=booked, new_start=_hour(4, 14), allow_outside_hours=True, notify=False
    )
    after = client.get(feed_url)

    event = _events(after)[uid]
    assert event["sequence"] == 1
    assert event["dtstart"].dt == _hour(4, 14)
    assert after["ETag"] != before["ETag"]


def test_an_unchanged_diary_answers_not_modified_without_making_the_file(
    client, amara, swedish, feed_url, monkeypatch
):
    from booking import ics

    appointment_row(amara, swedish, _hour(3))
    first = client.get(feed_url)
    assert first["ETag"] and first["Cache-Control"] == "private, no-cache"
    assert first["X-Robots-Tag"] == "noindex, nofollow"
    assert "Set-Cookie" not in first and not first.cookies
    assert client.get(feed_url)["ETag"] == first["ETag"]

    def not_needed(*args, **kwargs):
        raise AssertionError("the file was made for a 304")

    monkeypatch.setattr(ics, "feed_bytes", not_needed)
    again = client.get(feed_url, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"] and again["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize("appointment_count", [1, 40])
def test_the_feed_runs_a_fixed_number_of_queries(
    client, amara, swedish, feed_url, appointment_count, django_assert_num_queries
):
    room = Room.objects.create(name="Garden room")
    for day in range(appointment_count):
        start = _hour(day - 10)
        appointment_row(amara, swedish, start, room=room, room_until=start + timedelta(minutes=75))
    client.get(feed_url)  # notes the first use (one write an hour at most)
    # The rate limit's count, the feed, its appointments with techniques and rooms.
    with django_assert_num_queries(3):
        response = client.get(feed_url)
    assert len(_events(response)) == appointment_count


def test_use_is_noted(client, amara, feed_url):
    client.get(feed_url)
    assert CalendarFeed.objects.get(therapist=amara).last_used_at is not None


def test_a_stopped_or_replaced_link_is_a_404(client, amara, feed_url):
    feed = CalendarFeed.objects.get(therapist=amara)
    _new, new_secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    assert client.get(feed_url).status_code == 404
    new_url = reverse("booking:therapist_calendar", args=[new_secret])
    assert client.get(new_url).status_code == 200
    calendar_feeds.calendar_feed_revoke(feed=CalendarFeed.objects.get(pk=_new.pk), by=amara.user)
    assert client.get(new_url).status_code == 404
    assert feed.pk != _new.pk


def test_a_switched_off_or_unlinked_account_stops_the_feed(client, amara, feed_url):
    user = amara.user
    user.is_active = False
    user.save()
    assert client.get(feed_url).status_code == 404
    user.is_active = True
    user.save()
    assert client.get(feed_url).status_code == 200
    amara.user = None
    amara.save()
    assert client.get(feed_url).status_code == 404


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 43,  # the right shape, no such feed
        "a" * 42,
        "a" * 44,
        "a" * 5000,
        "a" * 42 + "%00",
        "%00",
        "a" * 42 + "!",
        "a" * 42 + "%C3%A9",
        "..%2F..%2Fetc",
    ],
)
def test_unknown_tampered_or_malformed_secrets_are_404(client, feed_url, secret):
    assert client.get(f"/book/calendar/{secret}.ics").status_code == 404


def test_a_tampered_copy_of_a_real_secret_is_404(client, feed_url):
    secret = feed_url.removeprefix("/book/calendar/").removesuffix(".ics")
    flipped = ("B" if secret[0] != "B" else "C") + secret[1:]
    assert client.get(f"/book/calendar/{flipped}.ics").status_code == 404
    assert client.get(f"/book/calendar/{secret}.ics/").status_code == 404


def test_the_secret_never_reaches_the_log(client, amara, feed_url, caplog):
    calendar_feeds.calendar_feed_revoke(feed=CalendarFeed.objects.get(therapist=amara), by=amara.user)
    secret = feed_url.removeprefix("/book/calendar/").removesuffix(".ics")
    with caplog.at_level(logging.INFO):
        assert client.get(feed_url).status_code == 404
    assert "Not Found" in caplog.text and "/book/calendar/" in caplog.text
    assert secret not in caplog.text and secret[:20] not in caplog.text


def test_too_many_downloads_from_one_address_get_a_429(client, settings, feed_url):
    settings.CALENDAR_FEED_RATE_LIMIT = 2
    assert client.get(feed_url).status_code == 200
    assert client.get("/book/calendar/" + "x" * 43 + ".ics").status_code == 404
    limited = client.get(feed_url)
    assert limited.status_code == 429 and limited["Retry-After"] == "3600"
    # Another address is not held back.
    assert client.get(feed_url, REMOTE_ADDR="192.0.2.9").status_code == 200


def test_only_get_and_head(client, feed_url):
    assert client.head(feed_url).status_code == 200
    assert client.post(feed_url).status_code == 405
