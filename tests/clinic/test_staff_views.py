"""The staff sign-in pages (clinic/staff_views.py): the password step, the two-factor code
step, guided setup on the first sign-in, backup codes, the account's two-factor page and
"Forgot your password?"."""

import re
import time

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import otp
from clinic.models import SignInEvent
from tests.factories import StaffFactory, TherapistFactory, UserFactory, user_in_role

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # the factories' password
LOGIN = "/admin/login/?next=/admin/"
Kind = SignInEvent.Kind


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def password_step(client, username, password=PASSWORD, next_url="/admin/"):
    return client.post(
        f"/admin/login/?next={next_url}",
        {"username": username, "password": password, "next": next_url},
        REMOTE_ADDR="192.0.2.10",
    )


def code_step(client, code, url="/admin/two-factor/code/"):
    return client.post(url, {"code": code}, REMOTE_ADDR="192.0.2.10")


def code_now(device, steps_ahead=0) -> str:
    """The code the authenticator app shows now (or ``steps_ahead`` periods later)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0 - steps_ahead * device.step, device.digits):06d}"


def set_up(user) -> tuple[TOTPDevice, list[str]]:
    device = otp.authenticator_setup_start(user=user)
    codes = otp.authenticator_setup_confirm(user=user, token=code_now(device), request=None)
    assert codes is not None
    device.refresh_from_db()
    # The setup used this period's code; a sign-in in the same period needs the next one.
    return device, codes


def kinds(user=None):
    events = SignInEvent.objects.all() if user is None else SignInEvent.objects.filter(user=user)
    return list(events.order_by("pk").values_list("kind", flat=True))


# --------------------------------------------------------------------------- who must use it


@pytest.mark.parametrize("role", ["Manager", "Therapist"])
def test_health_data_roles_must_set_up_two_factor_on_their_first_sign_in(client, role):
    user_in_role(role, "amara")
    response = password_step(client, "amara")
    assert response.status_code == 302 and response["Location"] == "/admin/two-factor/setup/"
    # The password alone signs nobody in: every admin page still sends them to sign in.
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/booking/appointment/").status_code == 302


def test_a_superuser_must_use_it_too(client):
    StaffFactory(username="boss")
    assert password_step(client, "boss")["Location"] == "/admin/two-factor/setup/"


def test_reception_may_sign_in_with_a_password_alone(client):
    desk = user_in_role("Reception", "desk")
    response = password_step(client, "desk")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert kinds(desk) == [Kind.SIGNED_IN]


def test_reception_with_two_factor_set_up_is_asked_for_a_code(client):
    desk = user_in_role("Reception", "desk")
    device, _ = set_up(desk)
    assert password_step(client, "desk")["Location"] == "/admin/two-factor/code/"
    assert client.get("/admin/").status_code == 302
    response = code_step(client, code_now(device, steps_ahead=1))
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_manager_session_without_the_second_step_is_refused_everywhere(client):
    manager = user_in_role("Manager", "mia")
    client.force_login(manager)
    assert client.get("/admin/").status_code == 200
    session = client.session
    del session["otp_device_id"]
    session.save()
    response = client.get("/admin/booking/appointment/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    # The sign-in page does not bounce them to the index either.
    assert client.get("/admin/login/").status_code == 200


# --------------------------------------------------------------------------- guided setup


def test_first_sign_in_setup_scan_confirm_and_see_the_backup_codes_once(client, settings):
    # No wait after the wrong code below (django-otp's throttling is its own).
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    amara = user_in_role("Therapist", "amara")
    password_step(client, "amara", next_url="/admin/booking/appointment/")
    page = client.get("/admin/two-factor/setup/")
    assert page.status_code == 200
    html = page.content.decode()
    # The QR code is drawn in the page (no image from anywhere else), the key typed as a fallback.
    svg = html.split("<svg")[1].split("</svg>")[0]
    assert "otpauth" not in html and "http" not in re.sub(r'xmlns="[^"]+"', "", svg)
    device = TOTPDevice.objects.get(user=amara, confirmed=False)
    assert otp.secret_for_typing(device) in html
    # Reloading shows the same secret (a half-done scan still works).
    client.get("/admin/two-factor/setup/")
    assert TOTPDevice.objects.filter(user=amara).count() == 1

    wrong = code_step(
        client, "000000" if code_now(device) != "000000" else "111111", "/admin/two-factor/setup/"
    )
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    assert "_auth_user_id" not in client.session

    response = code_step(client, code_now(device), "/admin/two-factor/setup/")
    assert response.status_code == 302 and response["Location"] == "/admin/two-factor/backup-codes/"
    assert int(client.session["_auth_user_id"]) == amara.pk
    codes_page = client.get("/admin/two-factor/backup-codes/")
    assert codes_page.status_code == 200 and "no-store" in codes_page["Cache-Control"]
    tokens = set(StaticToken.objects.filter(device__user=amara).values_list("token", flat=True))
    assert len(tokens) == 10 and all(token in codes_page.content.decode() for token in tokens)
    # The "continue" link goes where the sign-in was headed.
    assert 'href="/admin/booking/appointment/"' in codes_page.content.decode()
    # Shown once: the page does not show them again.
    again = client.get("/admin/two-factor/backup-codes/")
    assert again.status_code == 302 and not any(token in again.content.decode() for token in tokens)
    assert client.get("/admin/booking/appointment/").status_code == 200
    assert kinds(amara) == [Kind.SECOND_FACTOR_FAILED, Kind.TWO_FACTOR_SET_UP, Kind.SIGNED_IN]


def test_a_password_alone_never_replaces_an_authenticator(client):
    amara = user_in_role("Therapist", "amara")
    device, _ = set_up(amara)
    password_step(client, "amara")
    response = client.get("/admin/two-factor/setup/")
    assert response.status_code == 302 and response["Location"] == "/admin/two-factor/code/"
    assert client.post("/admin/two-factor/setup/", {"code": "123456"}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=amara)) == [device]


def test_the_setup_page_without_a_password_step_goes_to_sign_in(client):
    response = client.get("/admin/two-factor/setup/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client.get("/admin/two-factor/code/").status_code == 302


def test_the_second_step_waits_only_a_few_minutes(client, settings, monkeypatch):
    amara = user_in_role("Therapist", "amara")
    device, _ = set_up(amara)
    password_step(client, "amara")
    later = time.time() + settings.STAFF_TWO_FACTOR_PENDING_MINUTES * 60 + 1
    monkeypatch.setattr(otp.time, "time", lambda: later)
    response = code_step(client, code_now(device, steps_ahead=1))
    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session


# --------------------------------------------------------------------------- codes


def test_a_right_code_signs_in_and_is_logged(client):
    mia = user_in_role("Manager", "mia")
    device, _ = set_up(mia)
    password_step(client, "mia", next_url="/admin/booking/appointment/")
    response = code_step(client, code_now(device, steps_ahead=1))
    assert response.status_code == 302 and response["Location"] == "/admin/booking/appointment/"
    assert client.get("/admin/booking/appointment/").status_code == 200
    assert kinds(mia)[-1] == Kind.SIGNED_IN


def test_a_therapist_signing_in_lands_on_their_own_days(client):
    amara = user_in_role("Therapist", "amara", therapist=TherapistFactory(name="Amara Obi"))
    device, _ = set_up(amara)
    password_step(client, "amara")
    response = code_step(client, code_now(device, steps_ahead=1))
    assert response.status_code == 302 and response["Location"] == "/admin/booking/my-days/"
    assert client.get(response["Location"]).status_code == 200


def test_a_therapist_following_a_link_lands_on_it(client):
    amara = user_in_role("Therapist", "amara", therapist=TherapistFactory(name="Amara Obi"))
    device, _ = set_up(amara)
    password_step(client, "amara", next_url="/admin/booking/appointment/")
    response = code_step(client, code_now(device, steps_ahead=1))
    assert response["Location"] == "/admin/booking/appointment/"


def test_a_manager_without_a_therapist_record_lands_on_the_index(client):
    mia = user_in_role("Manager", "mia")
    device, _ = set_up(mia)
    password_step(client, "mia")
    assert code_step(client, code_now(device, steps_ahead=1))["Location"] == "/admin/"


def test_a_wrong_code_is_refused_logged_and_counted_like_a_wrong_password(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    mia = user_in_role("Manager", "mia")
    device, _ = set_up(mia)
    password_step(client, "mia")
    right = code_now(device, steps_ahead=1)
    response = code_step(client, "999999" if right != "999999" else "888888")
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert kinds(mia)[-1] == Kind.SECOND_FACTOR_FAILED
    assert AccessAttempt.objects.get(username="mia").failures_since_start == 1
    # Nothing in the log or the page repeats the code typed.
    assert not SignInEvent.objects.filter(username__contains="999999").exists()
    assert code_step(client, right)["Location"] == "/admin/"


def test_enough_wrong_codes_pause_signing_in_even_with_the_right_code(client, settings):
    mia = user_in_role("Manager", "mia")
    device, _ = set_up(mia)
    password_step(client, "mia")
    right = code_now(device, steps_ahead=1)
    wrong = "999999" if right != "999999" else "888888"
    statuses = [code_step(client, wrong).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1) and statuses[-1] == 429
    response = code_step(client, right)
    assert response.status_code == 429 and "Signing in is paused" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert SignInEvent.objects.filter(kind=Kind.LOCKED_OUT, username="mia").exists()
    # The password step is locked for the account too.
    assert password_step(Client(), "mia").status_code == 429


def test_a_backup_code_works_once(client, settings):
    # No growing wait after the refused reuse (django-otp's throttling has its own test).
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    mia = user_in_role("Manager", "mia")
    _, codes = set_up(mia)
    password_step(client, "mia")
    response = code_step(client, codes[0].upper()[:5] + " " + codes[0][5:])  # as typed from paper
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert kinds(mia)[-1] == Kind.BACKUP_CODE_USED
    assert StaticToken.objects.filter(device__user=mia).count() == 9

    other = Client()
    password_step(other, "mia")
    again = code_step(other, codes[0])
    assert again.status_code == 200 and "_auth_user_id" not in other.session
    assert code_step(other, codes[1]).status_code == 302


def test_the_last_few_backup_codes_are_announced(client, settings):
    settings.STAFF_BACKUP_CODES = 3
    mia = user_in_role("Manager", "mia")
    _, codes = set_up(mia)
    password_step(client, "mia")
    response = code_step(client, codes[0])
    page = client.get(response["Location"])
    assert "You have 2 backup codes left" in page.content.decode()


# --------------------------------------------------------------------------- the account's page


def test_new_backup_codes_replace_the_old_ones(client):
    mia = user_in_role("Manager", "mia")
    _, old = set_up(mia)
    client.force_login(mia)
    page = client.get("/admin/two-factor/")
    assert "You have 10 backup codes left" in page.content.decode()
    assert "Turn two-factor sign-in off" not in page.content.decode()
    response = client.post("/admin/two-factor/", {"action": "backup-codes"})
    assert response["Location"] == "/admin/two-factor/backup-codes/"
    new = set(StaticToken.objects.filter(device__user=mia).values_list("token", flat=True))
    assert new and not new & set(old)
    shown = client.get("/admin/two-factor/backup-codes/").content.decode()
    assert all(code in shown for code in new)
    assert kinds(mia)[-1] == Kind.BACKUP_CODES_MADE


def test_a_manager_cannot_turn_it_off_but_reception_can(client):
    mia = user_in_role("Manager", "mia")
    client.force_login(mia)
    client.post("/admin/two-factor/", {"action": "turn-off"})
    assert otp.has_two_factor(mia)

    desk = user_in_role("Reception", "desk")
    desk_client = Client()
    password_step(desk_client, "desk")
    desk_client.get("/admin/two-factor/setup/")
    device = TOTPDevice.objects.get(user=desk)
    response = code_step(desk_client, code_now(device), "/admin/two-factor/setup/")
    assert response["Location"] == "/admin/two-factor/backup-codes/"
    assert otp.has_two_factor(desk)
    desk_client.post("/admin/two-factor/", {"action": "turn-off"})
    assert not otp.has_two_factor(desk)
    assert desk_client.get("/admin/").status_code == 200
    assert kinds(desk) == [Kind.SIGNED_IN, Kind.TWO_FACTOR_SET_UP, Kind.TWO_FACTOR_REMOVED]


# --------------------------------------------------------------------------- forgot your password


def test_the_sign_in_page_offers_forgot_your_password(client):
    html = client.get("/admin/login/").content.decode()
    assert 'href="/admin/password-reset/"' in html and "Forgot your password?" in html


def test_a_password_reset_by_email_for_a_staff_account(client):
    desk = user_in_role("Reception", "desk")
    desk.email = "desk@clinic.example"
    desk.save()
    response = client.post("/admin/password-reset/", {"email": "DESK@clinic.example"})
    assert response.status_code == 302 and response["Location"] == "/admin/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["desk@clinic.example"]
    link = re.search(r"https?://[^/]+(/admin/password-reset/[^\s]+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "a new long passphrase 42", "new_password2": "a new long passphrase 42"}
    )
    assert done.status_code == 302 and done["Location"] == "/admin/password-reset/done/"
    assert client.get(done["Location"]).status_code == 200
    desk.refresh_from_db()
    assert desk.check_password("a new long passphrase 42")
    # Resetting a password does not sign in; two-factor sign-in still applies afterwards.
    assert "_auth_user_id" not in client.session
    assert kinds(desk) == [Kind.PASSWORD_RESET_REQUESTED, Kind.PASSWORD_RESET]


@pytest.mark.parametrize("email", ["nobody@clinic.example", "client@example.com"])
def test_a_reset_for_an_unknown_or_non_staff_address_looks_the_same_and_sends_nothing(client, email):
    UserFactory(username="client", email="client@example.com")
    response = client.post("/admin/password-reset/", {"email": email})
    assert response.status_code == 302 and response["Location"] == "/admin/password-reset/sent/"
    assert mail.outbox == []


def test_password_resets_are_rate_limited(client, settings):
    settings.PASSWORD_RESET_RATE_LIMIT = 2
    settings.PASSWORD_RESET_EMAILS_PER_ACCOUNT = 1
    desk = user_in_role("Reception", "desk")
    desk.email = "desk@clinic.example"
    desk.save()
    assert client.post("/admin/password-reset/", {"email": "desk@clinic.example"}).status_code == 302
    # Past the account's limit: the same page, no second email.
    assert client.post("/admin/password-reset/", {"email": "desk@clinic.example"}).status_code == 302
    assert len(mail.outbox) == 1
    limited = client.post("/admin/password-reset/", {"email": "desk@clinic.example"})
    assert limited.status_code == 429 and "paused them" in limited.content.decode()


def test_a_bad_reset_link_is_a_page_not_an_error(client):
    response = client.get("/admin/password-reset/MQ/not-a-token/")
    assert response.status_code == 200
    assert "invalid" in response.content.decode().lower()
