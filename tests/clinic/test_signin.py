"""Staff sign-in (clinic/signin.py and the login settings): throttling with django-axes,
the lockout page, a manager's unlock, and where a sign-in lands."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.factories import StaffFactory, user_in_role

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # the factories' password
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Dozens of sign-ins per test: a fast hasher keeps them quick (the real one is slow on
    # purpose).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client, username, password, address="192.0.2.10"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(times, username, address="192.0.2.10"):
    for _ in range(times):
        response = sign_in(Client(), username, "wrong password", address)
        assert response.status_code in (200, 429)


def test_the_right_password_is_refused_after_five_wrong_ones(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    StaffFactory(username="reception")
    fail(4, "reception")
    # Four wrong tries only get the form back; the fifth locks.
    assert sign_in(Client(), "reception", "wrong password").status_code == 429
    response = sign_in(Client(), "reception", PASSWORD)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Signing in is paused for 15 minutes" in html
    assert "ask a manager to unlock your account" in html
    assert "_auth_user_id" not in Client().session


def test_a_few_wrong_passwords_then_the_right_one_signs_in():
    # Not a superuser: an account that need not use two-factor sign-in (tests/clinic/test_staff_views.py).
    StaffFactory(username="reception", is_superuser=False)
    fail(4, "reception")
    response = sign_in(Client(), "reception", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_one_address_trying_many_accounts_is_locked(settings):
    StaffFactory(username="manager")
    for name in ("admin", "root", "staff", "clinic", "test"):
        fail(1, name, address="198.51.100.7")
    assert sign_in(Client(), "manager", PASSWORD, address="198.51.100.7").status_code == 429
    # The account itself is fine from anywhere else.
    assert sign_in(Client(), "manager", PASSWORD, address="203.0.113.5").status_code == 302


def test_one_account_tried_from_many_addresses_is_locked():
    StaffFactory(username="manager")
    for n in range(5):
        fail(1, "manager", address=f"203.0.113.{n + 1}")
    assert sign_in(Client(), "manager", PASSWORD, address="203.0.113.99").status_code == 429


def test_the_lock_lifts_by_itself_after_the_pause():
    StaffFactory(username="reception")
    fail(5, "reception")
    assert sign_in(Client(), "reception", PASSWORD).status_code == 429
    # Sixteen minutes pass.
    last = AccessAttempt.objects.get().attempt_time
    AccessAttempt.objects.update(attempt_time=last - timedelta(minutes=16))
    assert sign_in(Client(), "reception", PASSWORD).status_code == 302


def test_a_manager_unlocks_an_account_from_the_admin():
    StaffFactory(username="reception")
    fail(5, "reception")
    assert sign_in(Client(), "reception", PASSWORD).status_code == 429
    manager = Client()
    manager.force_login(user_in_role("Manager", "boss"))
    listing = manager.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "reception" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="reception")
    response = manager.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in(Client(), "reception", PASSWORD).status_code == 302


def test_reception_cannot_unlock():
    reception = Client()
    reception.force_login(user_in_role("Reception", "desk"))
    assert reception.get("/admin/axes/accessattempt/").status_code == 403


def test_sign_in_without_a_request_still_works_for_tests_and_scripts(client):
    StaffFactory(username="reception")
    assert client.login(username="reception", password=PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_unsafe_next_after_sign_in_goes_to_the_admin_index(client):
    StaffFactory(username="staff", is_superuser=False)
    response = client.post(
        "/admin/login/?next=https://evil.example/",
        {"username": "staff", "password": PASSWORD, "next": "https://evil.example/"},
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get(response["Location"]).status_code == 200


def test_failures_count_against_the_address_the_proxy_saw(settings, rf):
    from clinic.signin import client_ip

    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.post(LOGIN, HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.23", REMOTE_ADDR="127.0.0.1")
    assert client_ip(request) == "198.51.100.23"
    # Anything that is not an address is stored as unknown, never a database error.
    assert client_ip(rf.post(LOGIN, HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="127.0.0.1")) is None
    settings.TRUSTED_PROXY_COUNT = 0
    request = rf.post(LOGIN, REMOTE_ADDR="")
    assert client_ip(request) is None
