"""Two-factor sign-in for staff (django-otp): an authenticator app (TOTP) and single-use
backup codes.

Managers, therapists and superusers must use it (they see health data, booking/roles.py);
reception may. Signing in is two steps: the password (Django's admin form, throttled by
django-axes) and then a code. Between them the session only remembers whose password was
right, for a few minutes (``pending_*``); nobody is signed in until the code is right, so
no page, admin or not, ever sees a half-signed-in member of staff. Someone who must use it
and has no authenticator yet is guided through setting one up instead of typing a code.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import segno
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.roles import MANAGER, THERAPIST, role_names
from clinic.signin_log import Kind, signin_event_record

AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_NAME = "Backup codes"
# Backup codes: 10 characters from an alphabet without look-alikes (no 0/o, 1/l/i).
BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
BACKUP_LENGTH = 10


def two_factor_required(user) -> bool:
    """Whether the account must pass a second factor: it can see health data."""
    return bool(user.is_superuser or role_names(user) & {MANAGER, THERAPIST})


def authenticator(user) -> TOTPDevice | None:
    """The account's confirmed authenticator app, if it has one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def has_two_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --------------------------------------------------------------------------- setting up


def authenticator_setup_start(*, user) -> TOTPDevice:
    """The unconfirmed authenticator the setup page shows as a QR code: the same one on
    every reload until it is confirmed (a new secret each time would break a half-done scan)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def qr_code_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code: drawn here, so the
    secret never leaves the page for a third-party image service."""
    qr = segno.make(device.config_url, error="m")
    return qr.svg_inline(scale=5, border=2, dark="#1f4238", light="#ffffff", title="")


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app that cannot scan."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def authenticator_setup_confirm(*, user, token: str, request: HttpRequest | None) -> list[str] | None:
    """Confirm the unconfirmed authenticator with a code from the app. On success it
    replaces any earlier authenticator, new backup codes replace the old ones, the change
    is logged, and the codes are returned (to be shown once). None if the code is wrong."""
    token = normalise_code(token)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
        )
        if device is None or not token.isdigit() or not device.verify_token(token):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _backup_codes_replace(user=user)
        signin_event_record(kind=Kind.TWO_FACTOR_SET_UP, request=request, user=user)
    return codes


def backup_codes_make(*, user, request: HttpRequest | None) -> list[str]:
    """New backup codes for an account with an authenticator; the old ones stop working."""
    with transaction.atomic():
        codes = _backup_codes_replace(user=user)
        signin_event_record(kind=Kind.BACKUP_CODES_MADE, request=request, user=user)
    return codes


def _backup_codes_replace(*, user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
    codes = [
        "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_LENGTH))
        for _ in range(settings.STAFF_BACKUP_CODES)
    ]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def two_factor_remove(*, user, request: HttpRequest | None, by=None) -> None:
    """Remove the account's authenticator and backup codes (a lost phone: a manager does
    it, then the member of staff sets up again at the next sign-in)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        signin_event_record(
            kind=Kind.TWO_FACTOR_REMOVED, request=request, user=user, by=by if by != user else None
        )


# --------------------------------------------------------------------------- checking a code


def normalise_code(token: str) -> str:
    """What people type: spaces and dashes (as an app shows "123 456") dropped, any case."""
    return re.sub(r"[\s-]", "", token or "").lower()[:32]


@dataclass(frozen=True)
class CodeCheck:
    device: Device | None
    backup_code: bool = False
    throttled: bool = False


def second_factor_check(*, user, token: str) -> CodeCheck:
    """Check a code against the device its shape names: six digits are the authenticator
    app's, anything else a backup code (used up by this). django-otp's own throttling
    (a growing wait after each wrong code, per device) applies on top of the lockouts."""
    token = normalise_code(token)
    if token.isdigit() and len(token) == 6:
        model, backup = TOTPDevice, False
    elif len(token) == BACKUP_LENGTH:
        model, backup = StaticDevice, True
    else:
        return CodeCheck(device=None)
    device = model.objects.filter(user=user, confirmed=True).order_by("-pk").first()
    if device is None:
        return CodeCheck(device=None)
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return CodeCheck(device=None, throttled=True)
    return CodeCheck(device=verify_token(user, device.persistent_id, token), backup_code=backup)


# --------------------------------------------------------------------------- between the two steps

PENDING_KEY = "clinic_2fa_pending"
# Set in a session signed in with a password alone (an account that need not use two-factor
# sign-in and has not set it up), so the admin need not ask the database on every page.
PASSWORD_ONLY_KEY = "clinic_password_only"


def pending_start(request: HttpRequest, *, user, backend: str, next_url: str) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": backend,
        "next": next_url,
        "at": int(time.time()),
    }


def pending_user(request: HttpRequest):
    """The account whose password was right, while its second step is fresh; else None."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("at", 0) > settings.STAFF_TWO_FACTOR_PENDING_MINUTES * 60:
        pending_clear(request)
        return None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True, is_staff=True).first()
    if user is not None:
        user.backend = pending.get("backend")
    return user


def pending_next(request: HttpRequest) -> str:
    pending = request.session.get(PENDING_KEY) or {}
    return pending.get("next") or ""


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def session_passes(request: HttpRequest) -> bool:
    """Whether the signed-in member of staff has done what two-factor sign-in asks of
    them in this session: passed a code, or (when they need not use it and have no
    authenticator) signed in with a password alone."""
    user = request.user
    if getattr(user, "is_verified", None) and user.is_verified():
        return True
    if two_factor_required(user):
        return False
    if request.session.get(PASSWORD_ONLY_KEY):
        return True
    return not has_two_factor(user)
