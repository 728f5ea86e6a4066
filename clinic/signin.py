"""Staff sign-in throttling with django-axes: repeated failures for one account, or from
one address, lock signing in for a while; a manager can unlock from the admin by
deleting the account's "Access attempts"."""

from __future__ import annotations

import ipaddress

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from django.contrib import admin
from django.shortcuts import render

from clinic.ratelimit import client_address


class LockoutBackend(AxesStandaloneBackend):
    """Refuses sign-in while the account or address is locked out (it authenticates no
    one itself; ModelBackend after it does).

    Every sign-in over the web passes the request. Code with no request (a test client's
    ``login()``, a shell) has no address to count, so it is not throttled here, rather
    than refused with an error."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    """The address sign-in failures are counted against: the booking rate limit's (it
    honours TRUSTED_PROXY_COUNT), or None when that is not an IP address (no REMOTE_ADDR,
    a garbled header), which axes stores as unknown."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def lockout_response(request, original_response=None, credentials=None):
    """The page shown instead of the sign-in form while locked out (429), in the admin's
    look, saying for how long and who can unlock it."""
    from clinic.signin_log import Kind, signin_event_record

    cool_off = get_cool_off(request)
    username = get_client_username(request, credentials) or ""
    signin_event_record(kind=Kind.LOCKED_OUT, request=request, username=username)
    context = {
        **admin.site.each_context(request),
        "title": "Signing in is paused",
        "username": username,
        "minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
    }
    # Rendered now: axes swaps it in after the view, past the point where Django renders
    # template responses.
    return render(request, "admin/login_locked_out.html", context, status=429)
