"""Staff sessions end after STAFF_IDLE_MINUTES without a request (clinic/staff_session.py)."""

import time

import pytest

from clinic import staff_session
from clinic.models import SignInEvent
from tests.factories import user_in_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    now = [time.time()]
    monkeypatch.setattr(staff_session.time, "time", lambda: now[0])
    return now


def test_a_staff_session_ends_after_the_idle_time(client, clock, settings):
    settings.STAFF_IDLE_MINUTES = 30
    desk = user_in_role("Reception", "desk")
    client.force_login(desk)
    assert client.get("/admin/").status_code == 200

    clock[0] += 29 * 60
    assert client.get("/admin/").status_code == 200  # still there, and the clock restarts
    # The stored session expires with the idle time too (plus the write interval).
    assert client.session[staff_session.LAST_SEEN_KEY] == int(clock[0])
    assert client.session.get_expiry_age() == 30 * 60 + staff_session.WRITE_EVERY_SECONDS
    clock[0] += 29 * 60
    assert client.get("/admin/").status_code == 200

    clock[0] += 31 * 60
    response = client.get("/admin/booking/appointment/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "You were signed out after 30 minutes without activity" in page
    assert SignInEvent.objects.filter(user=desk, kind=SignInEvent.Kind.SESSION_EXPIRED).count() == 1


def test_the_idle_time_is_a_setting(client, clock, settings):
    settings.STAFF_IDLE_MINUTES = 5
    manager = user_in_role("Manager", "mia")
    client.force_login(manager)
    assert client.get("/admin/").status_code == 200
    clock[0] += 6 * 60
    assert client.get("/admin/").status_code == 302


def test_visitors_sessions_are_left_alone(client, clock, settings):
    settings.STAFF_IDLE_MINUTES = 5
    session = client.session
    session["booking_draft"] = {"anything": 1}
    session.save()
    client.get("/")
    clock[0] += 60 * 60
    client.get("/")
    assert client.session.get("booking_draft") == {"anything": 1}
    assert staff_session.LAST_SEEN_KEY not in client.session
    assert not SignInEvent.objects.exists()
