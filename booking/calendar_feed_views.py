"""A therapist's calendar feed (issue 15): the secret address their phone subscribes to.

No session, no sign-in: the address is the key. Anything but a live feed's secret is the
site's 404 page, the same for a stopped, replaced, mistyped or made-up address.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, quote_etag
from django.utils.translation import gettext as _
from django.views import View

from clinic import ratelimit

from . import ics, selectors
from .choices import AppointmentStatus
from .models import Appointment
from .services import calendar_feeds

# How often phones are asked to look again (they may choose to wait longer).
REFRESH = timedelta(minutes=15)


def first_name(full_name: str) -> str:
    """The first word of the name as given for the booking: enough for the therapist to
    greet the client, too little to identify them from a lost phone."""
    parts = full_name.split()
    return parts[0] if parts else ""


def feed_event(appointment: Appointment, *, host: str) -> ics.FeedEvent:
    summary = _("%(technique)s, %(minutes)s min – %(name)s") % {
        "technique": appointment.technique.name,
        "minutes": appointment.duration_minutes,
        "name": first_name(appointment.client_name),
    }
    held = appointment.status == AppointmentStatus.HELD
    if held:
        summary = _("%(summary)s (held for the waitlist)") % {"summary": summary}
    return ics.FeedEvent(
        # The reference and seat never change, so a moved appointment updates the same
        # event on the phone (with a higher SEQUENCE).
        uid=f"appointment-{appointment.reference}-{appointment.seat}@{host}",
        sequence=appointment.sequence,
        start=appointment.start,
        end=appointment.end,
        summary=summary,
        location=appointment.room.name if appointment.room else "",
        revised=appointment.updated_at,
        tentative=held,
    )


class TherapistCalendarView(View):
    """GET /book/calendar/<secret>.ics: the therapist's own appointments as iCalendar."""

    http_method_names = ["get", "head"]

    def get(self, request, secret):
        if not ratelimit.allow(
            scope="calendar-feed",
            key=ratelimit.client_address(request),
            limit=settings.CALENDAR_FEED_RATE_LIMIT,
            window_seconds=3600,
        ):
            response = HttpResponse(
                _("Too many downloads from this address; try again in an hour."),
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = "3600"
            return response
        feed = selectors.calendar_feed_by_secret(secret)
        if feed is None:
            raise Http404
        now = timezone.now()
        # Not the request's host: the UIDs must stay the same however the feed is reached.
        host = urlsplit(settings.SITE_URL).hostname or "clinic.invalid"
        events = [
            feed_event(appointment, host=host)
            for appointment in selectors.calendar_feed_appointments(therapist=feed.therapist, now=now)
        ]
        name = _("%(clinic)s: my appointments") % {"clinic": settings.CLINIC["name"]}
        calendar_feeds.calendar_feed_touch(feed=feed, now=now)
        # The ETag comes from what the file would say, not from the file: making the file
        # costs about a millisecond an event (the icalendar library), so a phone whose copy
        # is current (If-None-Match) gets its 304 without it being made.
        etag = quote_etag(hashlib.sha256(repr((name, REFRESH, events)).encode()).hexdigest()[:32])
        response = get_conditional_response(request, etag=etag)
        if response is None:
            body = ics.feed_bytes(events, name=name, refresh=REFRESH)
            response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
            response["Content-Disposition"] = 'inline; filename="my-appointments.ics"'
        response["ETag"] = etag
        # Names of clients: never kept by a shared cache; the phone asks again each time.
        response["Cache-Control"] = "private, no-cache"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
