"""Which client, if any, is signed in on this browser (issue 14).

A client signs in by an email link, never a password; the session then holds only the
client's id. Staff sign-in (Django's auth) is separate: a browser may be both.
"""

from __future__ import annotations

from django.http import HttpRequest

from .models import Client

SESSION_KEY = "booking_client_id"


def sign_in(request: HttpRequest, client: Client) -> None:
    # A new session key on sign-in, so a session id planted before cannot be reused.
    request.session.cycle_key()
    request.session[SESSION_KEY] = client.pk


def sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()


def signed_in_client(request: HttpRequest) -> Client | None:
    """The signed-in client, or None (also when the record was erased or merged away)."""
    client_id = request.session.get(SESSION_KEY)
    if not isinstance(client_id, int):
        return None
    return Client.objects.filter(pk=client_id, erased_at__isnull=True, merged_into__isnull=True).first()
