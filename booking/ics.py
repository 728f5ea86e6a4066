"""Calendar files (.ics) for appointments, made with the icalendar library.

One appointment is one event with a stable UID, so a calendar that imported the
confirmation updates the same event when a reschedule (higher SEQUENCE) or a cancellation
(METHOD:CANCEL) arrives. Times carry the clinic's TZID and the zone's definition, so the
event shows at the right wall-clock time even for a client in another zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

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
