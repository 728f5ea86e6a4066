"""Calendar files (.ics) for appointments, made with the icalendar library.

One appointment is one event with a stable UID, so a calendar that imported the
confirmation updates the same event when a reschedule (higher SEQUENCE) or a cancellation
(METHOD:CANCEL) arrives. Times carry the clinic's TZID and the zone's definition, so the
event shows at the right wall-clock time even for a client in another zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vDuration, vText

PRODID = "-//Willow Massage Clinic//Booking//EN"


class Method(StrEnum):
    # PUBLISH for a file the client downloads; REQUEST and CANCEL for email attachments,
    # which calendar programs treat as updates to the event with the same UID.
    PUBLISH = "PUBLISH"
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str
    url: str
    organizer_name: str
    organizer_email: str
    attendee_name: str
    attendee_email: str
    cancelled: bool = False


def calendar_bytes(event: CalendarEvent, *, method: Method, zone: ZoneInfo, now: datetime) -> bytes:
    """The .ics file for one event, in the clinic's zone."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method.value)

    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", now.astimezone(UTC))
    vevent.add("dtstart", event.start.astimezone(zone))
    vevent.add("dtend", event.end.astimezone(zone))
    vevent.add("summary", event.summary)
    vevent.add("location", event.location)
    vevent.add("description", event.description)
    if event.url:
        vevent.add("url", event.url)
    vevent.add("status", "CANCELLED" if event.cancelled or method == Method.CANCEL else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    if method != Method.PUBLISH:
        # iTIP messages name who sends them and to whom; calendar programs need both.
        organizer = vCalAddress(f"mailto:{event.organizer_email}")
        organizer.params["cn"] = vText(event.organizer_name)
        vevent.add("organizer", organizer)
        attendee = vCalAddress(f"mailto:{event.attendee_email}")
        attendee.params["cn"] = vText(event.attendee_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        vevent.add("attendee", attendee)
    calendar.add_component(vevent)
    # The zone's rules for the years around the event: enough for any calendar program,
    # and a small file.
    year = event.start.year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return calendar.to_ical()


@dataclass(frozen=True)
class FeedEvent:
    """One appointment in a therapist's calendar feed: nothing but what the therapist's
    phone should show (no contact details, no health data)."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    location: str
    revised: datetime  # when the appointment last changed
    tentative: bool = False  # a time held for a waitlisted client, not yet booked


def feed_bytes(events: Iterable[FeedEvent], *, name: str, refresh: timedelta) -> bytes:
    """A subscribed calendar (``webcal://``): every event the feed holds now. A phone
    replaces its copy with each download, so an event left out disappears from it."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    # No METHOD: a subscription is not an invitation, and with no METHOD the DTSTAMP of
    # each event is when it last changed (RFC 5545), so an unchanged diary gives the same
    # bytes and the same ETag.
    calendar.add("x-wr-calname", name)
    # How often the phone should look again: RFC 7986, and the older name Outlook reads.
    calendar.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    for event in events:
        vevent = Event()
        vevent.add("uid", event.uid)
        vevent.add("sequence", event.sequence)
        vevent.add("dtstamp", event.revised.astimezone(UTC))
        # UTC: no zone definitions needed, and the phone shows its own wall-clock time.
        vevent.add("dtstart", event.start.astimezone(UTC))
        vevent.add("dtend", event.end.astimezone(UTC))
        vevent.add("summary", event.summary)
        if event.location:
            vevent.add("location", event.location)
        vevent.add("status", "TENTATIVE" if event.tentative else "CONFIRMED")
        vevent.add("transp", "OPAQUE")
        calendar.add_component(vevent)
    return calendar.to_ical()
