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


# Therapists' calendar feeds (issue 15) ------------------------------------------------


def feed_event(**changes):
    from booking.ics import FeedEvent

    values = {
        "uid": "appointment-ABCD2345-1@clinic.example",
        "sequence": 2,
        "start": datetime(2026, 7, 1, 10, 0, tzinfo=LONDON),
        "end": datetime(2026, 7, 1, 11, 0, tzinfo=LONDON),
        "summary": "Swedish, 60 min – Olivia",
        "location": "Quiet room",
        "revised": datetime(2026, 6, 20, 8, 30, tzinfo=UTC),
    }
    return FeedEvent(**{**values, **changes})


def test_a_feed_is_a_subscription_in_utc_that_changes_only_with_the_diary():
    from datetime import timedelta

    from booking.ics import feed_bytes

    events = [
        feed_event(),
        feed_event(uid="appointment-ZZZZ2345-2@clinic.example", location="", tentative=True),
    ]
    data = feed_bytes(events, name="Willow: my appointments", refresh=timedelta(minutes=15))
    text = data.decode()
    calendar = Calendar.from_ical(data)
    assert "METHOD" not in calendar and "VTIMEZONE" not in text
    assert str(calendar["x-wr-calname"]) == "Willow: my appointments"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT15M" in text and "X-PUBLISHED-TTL:PT15M" in text
    first, second = calendar.walk("VEVENT")
    # 10:00 in London in summer is 09:00 UTC.
    assert (
        first["dtstart"].to_ical() == b"20260701T090000Z" and first["dtend"].to_ical() == b"20260701T100000Z"
    )
    assert first["dtstamp"].to_ical() == b"20260620T083000Z"
    assert (
        first["sequence"] == 2 and first["status"] == "CONFIRMED" and str(first["location"]) == "Quiet room"
    )
    assert "location" not in second and second["status"] == "TENTATIVE"
    # Nothing in it depends on the moment it is made: the same diary gives the same bytes.
    assert feed_bytes(events, name="Willow: my appointments", refresh=timedelta(minutes=15)) == data
