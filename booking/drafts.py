"""An unfinished online booking in the visitor's session, and the booking it became.

The draft holds the client's details and health answers between the details page and
"Confirm booking". It is kept for ``BOOKING_DRAFT_SECONDS`` (two hours) and no longer:
health answers wait in the session only while the booking needs them, and go as soon
as it is made. A visitor's session ends as soon (staff keep theirs), so
``manage.py clearsessions`` removes it from the database too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.utils import timezone

DRAFT_KEY = "booking_details"
BOOKED_KEY = "booking_booked"
# A confirmation key as the review form sends it back: 40 hex digits.
KEY_RE = re.compile(r"[0-9a-f]{40}")


def _now() -> float:
    return timezone.now().timestamp()


def _fresh(entry) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("saved_at"), int | float)
        and 0 <= _now() - entry["saved_at"] <= settings.BOOKING_DRAFT_SECONDS
    )


def _keep_visitor_session_short(request: HttpRequest) -> None:
    if not request.user.is_authenticated:
        request.session.set_expiry(settings.BOOKING_DRAFT_SECONDS)


def draft_save(request: HttpRequest, details: dict) -> None:
    """Keep the details typed on the details page, for the review and the confirmation."""
    previous = request.session.get(DRAFT_KEY)
    nonce = previous["nonce"] if _fresh(previous) and previous.get("nonce") else secrets.token_hex(16)
    request.session[DRAFT_KEY] = {"saved_at": _now(), "nonce": nonce, "details": details}
    _keep_visitor_session_short(request)


def _draft(request: HttpRequest) -> dict | None:
    draft = request.session.get(DRAFT_KEY)
    if draft is None:
        return None
    if not _fresh(draft) or not isinstance(draft.get("details"), dict):
        # Too old (or from before drafts had a time): forget it, health answers and all.
        del request.session[DRAFT_KEY]
        return None
    return draft


def draft_details(request: HttpRequest) -> dict | None:
    """The saved details, or None when there are none or they are too old."""
    draft = _draft(request)
    return draft["details"] if draft else None


def confirmation_key(request: HttpRequest, choice: str) -> str | None:
    """The one-time key of confirming ``choice`` (technique, length, therapist, start)
    with this draft: the same for every submit of the same review page, different for
    another time or a new draft. Unguessable without the session's secret nonce."""
    draft = _draft(request)
    if draft is None:
        return None
    return hmac.new(draft["nonce"].encode(), choice.encode(), hashlib.sha256).hexdigest()[:40]


def clean_key(value: str | None) -> str | None:
    """A confirmation key sent back by the review form, or None if it is not one."""
    return value if value and KEY_RE.fullmatch(value) else None


def booking_done(request: HttpRequest, *, choice: str, token: str) -> None:
    """Drop the draft (health answers included) and remember, for a short while, which
    booking ``choice`` became: the browser's Back button then leads to it."""
    request.session.pop(DRAFT_KEY, None)
    request.session.pop(RETURNING_KEY, None)
    request.session[BOOKED_KEY] = {"saved_at": _now(), "choice": choice, "token": token}
    _keep_visitor_session_short(request)


def booked_token(request: HttpRequest, choice: str) -> str | None:
    """The manage token of the booking this session just made for ``choice``, if any."""
    booked = request.session.get(BOOKED_KEY)
    if booked is None:
        return None
    if not _fresh(booked):
        del request.session[BOOKED_KEY]
        return None
    return booked["token"] if booked.get("choice") == choice else None


def restore_session_length(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """On signing in: back to the site's usual session length (SESSION_COOKIE_AGE)."""
    if request is not None and hasattr(request, "session"):
        request.session.set_expiry(None)


# --------------------------------------------------------------------------- returning clients

RETURNING_KEY = "booking_returning"
REBOOK_SALT = "booking.client-rebook"
# How long a "Book again" link identifies its client.
REBOOK_MAX_AGE_SECONDS = 60 * 24 * 3600


def rebook_token(appointment_id: int) -> str:
    """The signed, expiring key of a "Book again" link from one booking's own pages.

    It names the booking, not the client: what it offers back is what was given for that
    booking (its contact details and health answers), so someone who booked with another
    person's address gets back only what they typed themselves, and no typed address ever
    reveals whether the clinic knows it. A salt of its own: no other signed value is valid.
    """
    return signing.dumps({"appointment": appointment_id}, salt=REBOOK_SALT, compress=True)


def rebook_appointment_id(token: str) -> int | None:
    """The booking a "Book again" token names, or None if it is tampered or too old."""
    try:
        data = signing.loads(token, salt=REBOOK_SALT, max_age=REBOOK_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    found = data.get("appointment") if isinstance(data, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def returning_save(request: HttpRequest, appointment_id: int) -> None:
    """Remember, for this booking only, that the visitor came by a "Book again" link."""
    request.session[RETURNING_KEY] = {"saved_at": _now(), "appointment": appointment_id}
    _keep_visitor_session_short(request)


def returning_appointment_id(request: HttpRequest) -> int | None:
    entry = request.session.get(RETURNING_KEY)
    if entry is None:
        return None
    if not _fresh(entry):
        del request.session[RETURNING_KEY]
        return None
    return entry.get("appointment")


def draft_forget(request: HttpRequest) -> None:
    """Drop the draft, health answers and all (a booking that cannot go ahead online)."""
    request.session.pop(DRAFT_KEY, None)
