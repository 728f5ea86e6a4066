"""Staff sessions end after ``STAFF_IDLE_MINUTES`` without a request: a workstation left
signed in at the front desk, or a therapist's lost phone, stops showing health data.

Visitors' sessions are not touched (their booking drafts have their own limit,
BOOKING_DRAFT_SECONDS)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.utils.translation import gettext as _

from clinic.signin_log import Kind, signin_event_record

LAST_SEEN_KEY = "clinic_staff_seen"
# The time seen is written at most this often, so a busy page does not save the session
# on every request; the idle limit is exact to within it.
WRITE_EVERY_SECONDS = 60


def stamp(request) -> None:
    """Start the idle clock at sign-in (so the first page after it writes nothing more)."""
    request.session[LAST_SEEN_KEY] = int(time.time())
    request.session.set_expiry(settings.STAFF_IDLE_MINUTES * 60 + WRITE_EVERY_SECONDS)


class StaffIdleTimeoutMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        self.check(request)
        return self.get_response(request)

    def check(self, request) -> None:
        session = getattr(request, "session", None)
        # Only a session that is signed in (no query for visitors: the session says so).
        if session is None or "_auth_user_id" not in session:
            return
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            return
        idle = settings.STAFF_IDLE_MINUTES * 60
        now = int(time.time())
        last = session.get(LAST_SEEN_KEY)
        if isinstance(last, int) and now - last > idle:
            logout(request)
            signin_event_record(kind=Kind.SESSION_EXPIRED, request=request, user=user)
            messages.info(
                request,
                _("You were signed out after %(minutes)d minutes without activity. Please sign in again.")
                % {"minutes": settings.STAFF_IDLE_MINUTES},
            )
            return
        if not isinstance(last, int) or now - last >= WRITE_EVERY_SECONDS:
            # The stored session and its cookie expire too, so an idle session is gone
            # from the database without waiting for a request.
            stamp(request)
