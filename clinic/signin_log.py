"""The staff sign-in log: every sign-in, failure, lockout and two-factor change, one row
each (clinic.models.SignInEvent), listed read-only for managers in the admin.

Rows and log lines carry the event, the account's id and the address; never a password,
a code or a secret, and log lines never the username typed (it may be someone's email)."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from clinic.models import SignInEvent
from clinic.signin import client_ip

logger = logging.getLogger("clinic.signin")

Kind = SignInEvent.Kind


def signin_event_record(
    *,
    kind: SignInEvent.Kind,
    request: HttpRequest | None,
    user=None,
    username: str = "",
    by=None,
) -> SignInEvent:
    """Store one event and log it (kind, account id, address)."""
    if user is not None and not username:
        username = user.get_username()
    event = SignInEvent.objects.create(
        kind=kind,
        user=user if user is not None and user.pk else None,
        username=(username or "")[:150],
        ip_address=client_ip(request) if request is not None else None,
        by=by,
    )
    logger.info(
        "staff sign-in event %s user=%s by=%s ip=%s",
        kind.value,
        getattr(user, "pk", None),
        getattr(by, "pk", None),
        event.ip_address,
    )
    return event
