"""What the emails say and how they are addressed (built here, without a worker)."""

from datetime import datetime, timedelta
from email import message_from_bytes
from email.headerregistry import HeaderRegistry
from email.policy import default

import pytest
from django.core.mail.message import sanitize_address
from django.utils import timezone

from booking import notifications
from booking.notifications import EmailKind
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row

pytestmark = pytest.mark.django_db

NASTY_NAMES = [
    'Olivia "Liv" Brown',
    "Brown, Olivia",
    "Olivia <olivia@attacker.example>",
    'Olivia" <olivia@attacker.example>, "Brown',
    "Olivia Brown\\",
    "Olivia\r\nBcc: victim@example.com",
    "Olivia\nBrown",
    "Olivia\x00Brown",
    "Olivia\u202eBrown",
    "Zoë Ünal-Ó'Brien",
]


@pytest.fixture
def appointment(swedish):
    therapist = TherapistFactory(techniques=[swedish])
    start = timezone.now().astimezone(LONDON).replace(hour=10, minute=0, second=0, microsecond=0)
    return appointment_row(therapist, swedish, start + timedelta(days=3))


def parsed(message):
    return message_from_bytes(message.message().as_bytes(), policy=default)


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_any_client_name_makes_a_valid_email_to_the_client_only(appointment, name):
    # Stored names may hold anything (older rows, the admin keeps CR/LF): the email must
    # still be built, addressed to the client alone, with no header smuggled in.
    appointment.client_name = name
    for kind in (EmailKind.CONFIRMATION, EmailKind.RESCHEDULE, EmailKind.REMINDER, EmailKind.CANCELLATION):
        message = notifications.build_email(kind, appointment)
        # What Django's SMTP backend does with each recipient before it sends.
        assert sanitize_address(message.to[0], "utf-8").endswith("<olivia@example.com>")
        email = parsed(message)
        [address] = email["To"].addresses
        assert address.addr_spec == "olivia@example.com"
        assert "\n" not in address.display_name and "\r" not in address.display_name
        assert "\x00" not in address.display_name and "\u202e" not in address.display_name
        assert email["Bcc"] is None and email["Cc"] is None


def test_the_to_header_keeps_an_ordinary_name(appointment):
    appointment.client_name = "Zoë O'Brien"
    message = notifications.build_email(EmailKind.CONFIRMATION, appointment)
    assert message.to == ["Zoë O'Brien <olivia@example.com>"]
    assert "Hello Zoë O'Brien," in message.body


def test_the_greeting_is_one_line_whatever_the_name(appointment):
    appointment.client_name = "Olivia\r\n\r\nYou have won a prize: http://attacker.example"
    message = notifications.build_email(EmailKind.CONFIRMATION, appointment)
    assert "Hello Olivia You have won a prize: http://attacker.example," in message.body


def test_each_email_has_a_stable_message_id_of_its_own(appointment):
    first = notifications.build_email(EmailKind.CONFIRMATION, appointment).message()["Message-ID"]
    again = notifications.build_email(EmailKind.CONFIRMATION, appointment).message()["Message-ID"]
    assert first == again == f"<confirmation.0.{appointment.reference}@127.0.0.1>"
    # Parses as a Message-ID.
    assert HeaderRegistry()("Message-ID", first)
    others = {
        notifications.build_email(EmailKind.STAFF_NOTICE, appointment).message()["Message-ID"],
        notifications.build_email(EmailKind.CONFIRMATION, appointment, sequence=1).message()["Message-ID"],
    }
    assert first not in others and len(others) == 2


def test_change_online_is_offered_while_the_cutoff_is_ahead(appointment):
    url = notifications.manage_url(appointment)
    for kind in (EmailKind.CONFIRMATION, EmailKind.RESCHEDULE):
        message = notifications.build_email(kind, appointment)
        assert url in message.body and url in message.alternatives[0][0]
        assert "until 24 hours before" in message.body


def test_walk_in_booked_for_earlier_today_is_told_to_call(swedish):
    therapist = TherapistFactory(techniques=[swedish])
    earlier_today = timezone.now() - timedelta(hours=1)
    walk_in = appointment_row(therapist, swedish, earlier_today)
    url = notifications.manage_url(walk_in)
    for kind in (EmailKind.CONFIRMATION, EmailKind.RESCHEDULE):
        message = notifications.build_email(kind, walk_in)
        html = message.alternatives[0][0]
        assert "24 hours" not in message.body and "24 hours" not in html
        assert url not in message.body and "Change or cancel</a>" not in html
        assert "call us on 01227 123 456" in message.body


def test_the_cutoff_is_judged_when_the_email_is_made(appointment):
    # Booked in time, but the email went out (say, after a mail outage) past the cutoff.
    late = appointment.start - timedelta(hours=2)
    message = notifications.build_email(EmailKind.CONFIRMATION, appointment, now=late)
    assert notifications.manage_url(appointment) not in message.body


@pytest.mark.parametrize("kind", [EmailKind.STAFF_NOTICE, EmailKind.STAFF_CANCELLED, EmailKind.STAFF_MOVED])
def test_staff_emails_go_to_reception_with_the_admin_link_and_no_calendar(appointment, settings, kind):
    settings.CLINIC_STAFF_EMAIL = "reception@clinic.example"
    appointment.client_name = "Olivia\r\nBrown"
    message = notifications.build_email(kind, appointment)
    assert message.to == ["reception@clinic.example"]
    assert message.reply_to == ["olivia@example.com"]
    assert message.attachments == []
    assert f"/admin/booking/appointment/{appointment.pk}/change/" in message.body
    assert "Olivia Brown, 07700 900101, olivia@example.com" in message.body
    assert appointment.reference in message.subject


def test_staff_moved_notice_says_the_time_it_had(appointment):
    before = datetime(2026, 12, 7, 15, 30, tzinfo=LONDON)
    message = notifications.build_email(EmailKind.STAFF_MOVED, appointment, previous_start=before)
    assert message.subject.startswith("Moved online: now")
    assert "It was:    Monday 7 December 2026, 15:30" in message.body
    assert "Monday 7 December 2026, 15:30" in message.alternatives[0][0]


def test_staff_cancelled_notice(appointment):
    message = notifications.build_email(EmailKind.STAFF_CANCELLED, appointment)
    assert message.subject.startswith("Cancelled online:")
    assert "A client cancelled online" in message.body


def test_recipient_is_the_bare_lower_cased_address(appointment, settings):
    settings.CLINIC_STAFF_EMAIL = "Reception <Reception@Clinic.example>"
    appointment.client_email = "Olivia@Example.com"
    assert notifications.recipient(EmailKind.CONFIRMATION, appointment) == "olivia@example.com"
    assert notifications.recipient(EmailKind.STAFF_MOVED, appointment) == "reception@clinic.example"
