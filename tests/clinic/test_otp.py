"""Two-factor sign-in rules (clinic/otp.py)."""

import logging

import pytest
from django_otp.oath import totp

from clinic import otp
from tests.factories import StaffFactory, user_in_role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("role", "required"), [("Manager", True), ("Therapist", True), ("Reception", False)])
def test_who_must_use_two_factor_sign_in(role, required):
    assert otp.two_factor_required(user_in_role(role, "someone")) is required


def test_superusers_must_use_it():
    assert otp.two_factor_required(StaffFactory(username="root"))


@pytest.mark.parametrize(
    ("typed", "read"),
    [("123 456", "123456"), ("123-456", "123456"), (" ABCD efgh 23 ", "abcdefgh23"), ("", "")],
)
def test_codes_are_read_as_people_type_them(typed, read):
    assert otp.normalise_code(typed) == read


def test_the_qr_code_is_an_svg_drawn_here_and_the_secret_is_typeable():
    user = user_in_role("Therapist", "amara")
    device = otp.authenticator_setup_start(user=user)
    svg = otp.qr_code_svg(device)
    assert svg.startswith("<svg") and "<image" not in svg and "href" not in svg
    secret = otp.secret_for_typing(device).replace(" ", "")
    assert len(secret) == 32 and secret.isalnum()
    # The same unconfirmed device on every visit of the setup page.
    assert otp.authenticator_setup_start(user=user) == device


def test_a_code_is_checked_against_the_device_its_shape_names():
    user = user_in_role("Manager", "mia")
    device = otp.authenticator_setup_start(user=user)
    codes = otp.authenticator_setup_confirm(user=user, token=f"{totp(device.bin_key):06d}", request=None)
    assert otp.second_factor_check(user=user, token="12345").device is None  # neither shape
    check = otp.second_factor_check(user=user, token=codes[0])
    assert check.backup_code and check.device is not None
    assert otp.backup_codes_left(user) == 9


def test_a_wrong_setup_code_confirms_nothing():
    user = user_in_role("Therapist", "amara")
    device = otp.authenticator_setup_start(user=user)
    right = f"{totp(device.bin_key):06d}"
    assert otp.authenticator_setup_confirm(user=user, token="abcdef", request=None) is None
    assert (
        otp.authenticator_setup_confirm(user=user, token=str((int(right) + 1) % 10**6).zfill(6), request=None)
        is None
    )
    assert not otp.has_two_factor(user)


def test_logs_name_the_event_and_the_account_id_never_a_code_or_the_username(caplog):
    user = user_in_role("Reception", "olivia.brown@example.com")
    device = otp.authenticator_setup_start(user=user)
    token = f"{totp(device.bin_key):06d}"
    with caplog.at_level(logging.DEBUG):
        codes = otp.authenticator_setup_confirm(user=user, token=token, request=None)
        otp.backup_codes_make(user=user, request=None)
        otp.two_factor_remove(user=user, request=None)
    text = caplog.text
    assert "two_factor_set_up" in text and f"user={user.pk}" in text
    assert "olivia" not in text and token not in text and not any(code in text for code in codes)
