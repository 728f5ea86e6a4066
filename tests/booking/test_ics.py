from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar

from booking.ics import CalendarEvent, Method, calendar_bytes

LONDON = ZoneInfo("Europe/London")


def event(**changes) -> CalendarEvent:
    values = {
        "uid": "appointment-ABCD2345@clinic.example",
        "sequence": 0,
        "start": datetime(2026, 7, 1, 9, 0, tzinfo=UTC),  # 10:00 in London, summer time
        "end": datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
        "summary": "Swedish massage at Willow",
        "location": "Willow, 12 Orchard Lane, Canterbury",
        "description": "With Anna; reference ABCD2345",
        "url": "https://clinic.example/book/manage/x/",
        "organizer_name": "Willow",
        "organizer_email": "hello@clinic.example",
        "attendee_name": "Olivia",
        "attendee_email": "olivia@example.com",
    }
    return CalendarEvent(**{**values, **changes})


def parse(data: bytes):
    calendar = Calendar.from_ical(data)
    [vevent] = calendar.walk("VEVENT")
    return calendar, vevent


def test_event_in_the_clinics_zone_with_its_definition():
    data = calendar_bytes(event(), method=Method.PUBLISH, zone=LONDON, now=datetime(2026, 6, 1, tzinfo=UTC))
    calendar, vevent = parse(data)
    assert calendar["METHOD"] == "PUBLISH"
    assert b"DTSTART;TZID=Europe/London:20260701T100000" in data
    assert vevent.decoded("DTSTART") == datetime(2026, 7, 1, 10, 0, tzinfo=LONDON)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    assert vevent["UID"] == "appointment-ABCD2345@clinic.example"
    assert vevent["STATUS"] == "CONFIRMED"
    # A downloaded file is not an invitation: no organiser or attendee.
    assert "ORGANIZER" not in vevent and "ATTENDEE" not in vevent


def test_updates_keep_the_uid_and_raise_the_sequence():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    first = parse(calendar_bytes(event(), method=Method.REQUEST, zone=LONDON, now=now))[1]
    moved = parse(calendar_bytes(event(sequence=1), method=Method.REQUEST, zone=LONDON, now=now))[1]
    assert first["UID"] == moved["UID"]
    assert (first["SEQUENCE"], moved["SEQUENCE"]) == (0, 1)
    assert str(moved["ORGANIZER"]) == "mailto:hello@clinic.example"
    assert str(moved["ATTENDEE"]) == "mailto:olivia@example.com"


def test_cancel_message():
    data = calendar_bytes(
        event(sequence=2), method=Method.CANCEL, zone=LONDON, now=datetime(2026, 6, 1, tzinfo=UTC)
    )
    calendar, vevent = parse(data)
    assert calendar["METHOD"] == "CANCEL"
    assert vevent["STATUS"] == "CANCELLED"
    assert vevent["SEQUENCE"] == 2
