"""The unfinished booking kept in the session: short-lived, and keyed per confirmation."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from django.utils import timezone

from booking import drafts

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DETAILS = {
    "name": "Olivia Brown",
    "email": "olivia@example.com",
    "health": {"injury_or_surgery": {"yes": True, "details": "Sprained ankle", "number": None}},
}


@pytest.fixture
def request_(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = AnonymousUser()
    return request


def later(monkeypatch, **delta):
    monkeypatch.setattr(timezone, "now", lambda: NOW + timedelta(**delta))


def test_a_draft_is_kept_for_two_hours_then_forgotten(request_, monkeypatch, settings):
    settings.BOOKING_DRAFT_SECONDS = 7200
    drafts.draft_save(request_, DETAILS)
    later(monkeypatch, hours=2)
    assert drafts.draft_details(request_) == DETAILS
    later(monkeypatch, hours=2, seconds=1)
    assert drafts.draft_details(request_) is None
    assert drafts.DRAFT_KEY not in request_.session


def test_a_draft_from_before_drafts_had_a_time_is_forgotten(request_):
    request_.session[drafts.DRAFT_KEY] = DETAILS  # the old shape: the details alone
    assert drafts.draft_details(request_) is None
    assert drafts.DRAFT_KEY not in request_.session


def test_the_confirmation_key_is_one_per_draft_and_time(request_):
    assert drafts.confirmation_key(request_, "swedish|60|any|10:00") is None
    drafts.draft_save(request_, DETAILS)
    key = drafts.confirmation_key(request_, "swedish|60|any|10:00")
    assert drafts.clean_key(key) == key
    # Changing the details keeps the key; another time has its own.
    drafts.draft_save(request_, {**DETAILS, "name": "Olivia B."})
    assert drafts.confirmation_key(request_, "swedish|60|any|10:00") == key
    assert drafts.confirmation_key(request_, "swedish|60|any|11:00") != key
    # Once booked, a new draft starts with new keys.
    drafts.booking_done(request_, choice="swedish|60|any|10:00", token="tok")
    drafts.draft_save(request_, DETAILS)
    assert drafts.confirmation_key(request_, "swedish|60|any|10:00") != key


def test_booking_done_keeps_no_details_and_remembers_the_booking_a_while(request_, monkeypatch):
    drafts.draft_save(request_, DETAILS)
    drafts.booking_done(request_, choice="c", token="tok")
    assert "Sprained" not in repr(dict(request_.session.items()))
    assert drafts.booked_token(request_, "c") == "tok"
    assert drafts.booked_token(request_, "another time") is None
    later(monkeypatch, hours=3)
    assert drafts.booked_token(request_, "c") is None


@pytest.mark.parametrize("value", [None, "", "x" * 40, "A" * 40, "a" * 39, "a" * 41, "a" * 40 + "\n"])
def test_clean_key_accepts_only_what_the_review_form_sends(value):
    assert drafts.clean_key(value) is None
