"""Cached availability: shared by the JSON and the times page, never staler than the last
committed booking, whichever thread (connection) made it."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from booking import availability_cache
from booking.models import Therapist
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

API = "/book/api/availability/"


def next_tuesday():
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return day


def make_technique():
    # Transactional tests empty the database between tests, migration data included.
    technique = TechniqueFactory(name="Cache Swedish", slug="cache-swedish", buffer_minutes=15)
    TechniqueLengthFactory(technique=technique, duration_minutes=60)
    return technique


def starts_for(response, therapist_slug) -> set[str]:
    return {
        entry["start"]
        for day in response.json()["days"]
        for entry in day["times"]
        if therapist_slug in entry["therapists"]
    }


def in_another_thread(action):
    """Run ``action`` on its own connection, committed before this returns."""
    errors = []

    def run():
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not errors, errors


def book(technique, therapist, start):
    return appointments.appointment_book(
        technique=technique,
        length=technique.lengths.get(),
        start=start,
        client=appointments.ClientDetails("Olivia Brown", "olivia@example.com", "07700 900101"),
        therapist=therapist,
        notify=False,
    )


@pytest.fixture
def one_minute(monkeypatch):
    """The clock stopped within one minute: the minute is part of the key, so two requests
    either side of a minute's end would rightly be two answers (and two loads)."""
    now = timezone.now().replace(second=30, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


@pytest.mark.django_db
@pytest.mark.usefixtures("one_minute")
def test_a_repeat_is_served_from_the_cache_with_one_query(client, django_assert_max_num_queries):
    technique = make_technique()
    TherapistFactory(slug="anna", techniques=[technique])
    params = {"technique": technique.slug, "length": 60, "start": next_tuesday().isoformat(), "days": 7}
    first = client.get(API, params)
    # The schedule version only: the query string was checked under it, and the answer
    # stored under it; no look-ups, no schedule load.
    with django_assert_max_num_queries(1):
        again = client.get(API, params)
    assert again.json() == first.json()
    assert starts_for(first, "anna")


@pytest.mark.django_db
@pytest.mark.usefixtures("one_minute")
def test_a_repeat_in_the_same_process_skips_the_shared_cache(client, settings, django_assert_num_queries):
    # The site's own shared cache, in the database: a hit there is a query of its own.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "clinic_cache"}
    }
    technique = make_technique()
    TherapistFactory(slug="anna", techniques=[technique])
    params = {"technique": technique.slug, "length": 60, "start": next_tuesday().isoformat(), "days": 7}
    first = client.get(API, params)
    # The version only: the answer is this process's copy, not the cache table's.
    with django_assert_num_queries(1):
        assert client.get(API, params).json() == first.json()


@pytest.mark.django_db
@pytest.mark.usefixtures("one_minute")
def test_the_times_page_uses_the_answer_the_json_stored(client, django_assert_max_num_queries):
    technique = make_technique()
    TherapistFactory(slug="anna", techniques=[technique])
    tuesday = next_tuesday()
    client.get(API, {"technique": technique.slug, "length": 60, "start": tuesday.isoformat(), "days": 7})
    # Technique, length, policy and the version: the schedule comes from the cache.
    with django_assert_max_num_queries(4):
        page = client.get(
            reverse("booking:times", args=[technique.slug]), {"length": 60, "week": tuesday.isoformat()}
        )
    assert page.status_code == 200
    assert "10:00" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_booking_committed_by_another_connection_is_seen_at_once(client):
    technique = make_technique()
    anna = TherapistFactory(slug="anna", techniques=[technique])
    tuesday = next_tuesday()
    ten = datetime.combine(tuesday, datetime.min.time(), tzinfo=LONDON).replace(hour=10)
    params = {"technique": technique.slug, "length": 60, "start": tuesday.isoformat(), "days": 1}
    assert ten.isoformat() in starts_for(client.get(API, params), "anna")
    assert ten.isoformat() in starts_for(client.get(API, params), "anna")  # now cached

    in_another_thread(lambda: book(technique, anna, ten))

    assert ten.isoformat() not in starts_for(client.get(API, params), "anna")


@pytest.mark.django_db(transaction=True)
def test_a_checked_query_is_checked_again_after_any_change(client):
    """The API remembers a query string it found valid only under the version it read,
    so a therapist who stops taking bookings is refused at once."""
    technique = make_technique()
    anna = TherapistFactory(slug="anna", techniques=[technique])
    params = {"technique": technique.slug, "length": 60, "therapist": "anna", "start": next_tuesday()}
    assert client.get(API, params).status_code == 200
    assert client.get(API, params).status_code == 200  # now remembered

    in_another_thread(lambda: Therapist.objects.filter(pk=anna.pk).update(active=False))

    refused = client.get(API, params)
    assert refused.status_code == 400
    assert "therapist" in refused.json()["error"]


@pytest.mark.django_db
def test_a_remembered_query_answers_only_itself(client):
    technique = make_technique()
    TherapistFactory(slug="anna", techniques=[technique])
    TherapistFactory(slug="ben", techniques=[TechniqueFactory(name="Shiatsu", slug="shiatsu")])
    params = {"technique": technique.slug, "length": 60, "therapist": "anna", "start": next_tuesday()}
    assert client.get(API, params).json()["therapist"] == "anna"
    assert client.get(API, {**params, "days": 1}).json()["therapist"] == "anna"
    assert client.get(API, {**params, "therapist": "ben"}).status_code == 400
    assert client.get(API, {**params, "length": 45}).status_code == 400
    assert client.get(API, {**params, "therapist": ""}).json()["therapist"] == "any"
    # Only what the form reads counts: an unknown parameter does not make another entry.
    assert client.get(API, {**params, "utm_source": "x"}).json()["therapist"] == "anna"


@pytest.mark.django_db(transaction=True)
def test_an_answer_stored_after_a_booking_committed_is_never_served(client, monkeypatch):
    """The worst interleaving: a reader loads the schedule, a booking commits, then the
    reader stores its (now stale) answer. The next reader must not get it."""
    technique = make_technique()
    anna = TherapistFactory(slug="anna", techniques=[technique])
    tuesday = next_tuesday()
    ten = datetime.combine(tuesday, datetime.min.time(), tzinfo=LONDON).replace(hour=10)
    params = {"technique": technique.slug, "length": 60, "start": tuesday.isoformat(), "days": 1}
    raced = []

    class SetAfterABooking:
        def get(self, key):
            return cache.get(key)

        def set(self, key, value, timeout=None):
            if not raced:
                raced.append(True)
                in_another_thread(lambda: book(technique, anna, ten))
            cache.set(key, value, timeout)

    monkeypatch.setattr(availability_cache, "cache", SetAfterABooking())
    stale = client.get(API, params)
    assert ten.isoformat() in starts_for(stale, "anna")  # loaded before the booking
    assert raced

    assert ten.isoformat() not in starts_for(client.get(API, params), "anna")


@pytest.mark.django_db(transaction=True)
def test_a_booking_committed_before_the_load_is_in_the_answer(client, monkeypatch):
    """A booking that commits between the version read and the load: the answer stored
    under the old version already has it, and later readers use the new version."""
    technique = make_technique()
    anna = TherapistFactory(slug="anna", techniques=[technique])
    tuesday = next_tuesday()
    ten = datetime.combine(tuesday, datetime.min.time(), tzinfo=LONDON).replace(hour=10)
    params = {"technique": technique.slug, "length": 60, "start": tuesday.isoformat(), "days": 1}
    real_compute = availability_cache._compute

    def compute_after_a_booking(**kwargs):
        in_another_thread(lambda: book(technique, anna, ten))
        return real_compute(**kwargs)

    monkeypatch.setattr(availability_cache, "_compute", compute_after_a_booking)
    assert ten.isoformat() not in starts_for(client.get(API, params), "anna")
    monkeypatch.setattr(availability_cache, "_compute", real_compute)
    assert ten.isoformat() not in starts_for(client.get(API, params), "anna")


@pytest.mark.django_db
def test_the_minimum_notice_is_exact_within_the_cached_minute(swedish, swedish_60):
    TherapistFactory(slug="anna", techniques=[swedish])
    tuesday = next_tuesday()
    ten = datetime.combine(tuesday, datetime.min.time(), tzinfo=LONDON).replace(hour=10).astimezone(UTC)
    notice = timedelta(minutes=120)  # the policy's default
    at_minute = ten - notice  # a whole minute: 10:00 is exactly the earliest start

    def starts(now):
        answer = availability_cache.availability(
            technique=swedish, length=swedish_60, therapist=None, first_day=tuesday, days=1, now=now
        )
        return [start for start, _ in answer.merged[tuesday]]

    assert ten in starts(at_minute)
    # Thirty seconds later the same cached answer is used, but 10:00 is too soon now.
    later = starts(at_minute + timedelta(seconds=30))
    assert ten not in later
    assert ten + timedelta(minutes=15) in later
