"""The health intake in a real Chromium: a first-trimester client is asked to call, a
client uploads a doctor's note and books, and a returning client books again with
"nothing has changed" through the signed link in their confirmation. axe-checked."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from booking.choices import RuleOutcome
from booking.models import Appointment, DoctorNote
from tests.browser.conftest import take_screenshot
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory, health_rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONDON = ZoneInfo("Europe/London")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def clinic(transactional_db, private_media):
    """One technique, one therapist (Monday to Saturday), and the clinic's starting rules."""
    technique = TechniqueFactory(name="Hot stone", slug="hot-stone", buffer_minutes=15)
    TechniqueLengthFactory(technique=technique, duration_minutes=60, price="55.00")
    TherapistFactory(name="Amy Clarke", slug="amy-clarke", techniques=[technique])
    health_rule("pregnancy", RuleOutcome.CALL, number_max=12)
    health_rule("pregnancy", RuleOutcome.FLAG, number_min=13)
    health_rule("blood_thinners", RuleOutcome.FLAG)
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    return SimpleNamespace(technique=technique)


def a_working_day(offset: int) -> date:
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=offset)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return day


def details_url(live_server, start: datetime) -> str:
    query = urlencode({"length": 60, "therapist": "any", "start": start.isoformat(timespec="minutes")})
    return f"{live_server.url}/book/hot-stone/details/?{query}"


def fill_contact(page) -> None:
    page.get_by_label("Your name").fill("Olivia Brown")
    page.get_by_label("Email").fill("olivia@example.com")
    page.get_by_label("Phone").fill("07700 900101")
    page.get_by_label("Type your full name to agree to the treatment consent").fill("Olivia Brown")


def answer(page, question: str, yes: bool) -> None:
    page.get_by_role("group", name=re.compile(f"^{question}")).get_by_role(
        "radio", name="Yes" if yes else "No"
    ).check()


def answer_all_no(page) -> None:
    for question in page.locator(".health-question").all():
        question.get_by_role("radio", name="No").check()


def cont(page) -> None:
    page.get_by_role("button", name="Continue to check and confirm").click()


def test_a_first_trimester_client_is_asked_to_call(desktop_page, live_server, clinic, axe):
    page = desktop_page
    page.goto(details_url(live_server, datetime.combine(a_working_day(8), time(10), tzinfo=LONDON)))
    fill_contact(page)
    answer_all_no(page)
    answer(page, "Are you pregnant", True)
    # Without JavaScript too, the "if yes" fields are on the page: no script shows them.
    page.get_by_label("How many weeks? (if yes)").fill("9")
    page.get_by_label("I agree to the cancellation policy above").check()
    take_screenshot(page, "intake-01-first-trimester-details")
    cont(page)
    expect(page.locator("h1")).to_have_text("Please call us to book")
    expect(page.locator("main")).to_contain_text(settings.CLINIC["phone"])
    expect(page.locator("main")).to_contain_text("Nothing has been booked")
    take_screenshot(page, "intake-02-please-call")
    axe(page, "please call")
    assert not Appointment.objects.exists()


def test_a_client_uploads_a_doctors_note_and_books(phone_page, live_server, clinic, axe, tmp_path):
    page = phone_page
    page.goto(details_url(live_server, datetime.combine(a_working_day(9), time(11), tzinfo=LONDON)))
    fill_contact(page)
    answer_all_no(page)
    answer(page, "Have you had an injury or surgery", True)
    page.get_by_label("What and when? (if yes)").fill("Knee surgery in May.")
    page.get_by_label("I agree to the cancellation policy above").check()
    cont(page)
    expect(page.locator("#doctor-note")).to_contain_text("we need a note from your doctor")
    expect(page.get_by_label("What and when? (if yes)")).to_have_value("Knee surgery in May.")
    axe(page, "doctor's note asked for")
    # A fake file first: a clear message, the answers kept.
    fake = tmp_path / "note.pdf"
    fake.write_bytes(b"this is not a PDF")
    page.get_by_label("Your doctor's note").set_input_files(str(fake))
    cont(page)
    expect(page.locator("#doctor-note")).to_contain_text("could not read this file as a PDF, JPEG or PNG")
    expect(page.get_by_label("What and when? (if yes)")).to_have_value("Knee surgery in May.")
    take_screenshot(page, "intake-03-fake-note-refused")
    real = tmp_path / "scan.pdf"
    real.write_bytes(PDF)
    page.get_by_label("Your doctor's note").set_input_files(str(real))
    page.get_by_label("I agree to the cancellation policy above").check()
    cont(page)
    expect(page.locator("h1")).to_have_text("Check and confirm")
    expect(page.locator("section[aria-labelledby=you-heading]")).to_contain_text("Uploaded")
    take_screenshot(page, "intake-04-review-with-note")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.locator("h1")).to_have_text("✓ You're booked")
    appointment = Appointment.objects.get()
    assert DoctorNote.objects.get().appointment == appointment
    assert appointment.intake.outcome == RuleOutcome.DOCTOR_NOTE


def test_a_returning_client_books_with_nothing_has_changed(new_page, live_server, clinic, axe):
    first = new_page()
    first.goto(details_url(live_server, datetime.combine(a_working_day(8), time(14), tzinfo=LONDON)))
    fill_contact(first)
    answer_all_no(first)
    answer(first, "Do you take blood thinners", True)
    first.get_by_label("Which medication? (if yes)").fill("Apixaban")
    first.get_by_label("I agree to the cancellation policy above").check()
    cont(first)
    first.get_by_role("button", name="Confirm booking").click()
    expect(first.locator("h1")).to_have_text("✓ You're booked")
    book_again = first.get_by_role("link", name="Book again")
    href = book_again.get_attribute("href")
    assert href and href.startswith("/book/again/")

    # Days later, in another browser: the link from the confirmation.
    later = new_page()
    later.goto(live_server.url + href)
    expect(later).to_have_url(re.compile(r"/book/$"))
    later.goto(details_url(live_server, datetime.combine(a_working_day(10), time(10), tzinfo=LONDON)))
    expect(later.get_by_label("Email")).to_have_value("olivia@example.com")
    expect(later.get_by_label("Which medication? (if yes)")).to_have_value("Apixaban")
    later.get_by_label("Nothing has changed since my last visit").check()
    later.get_by_label("Type your full name to agree to the treatment consent").fill("Olivia Brown")
    later.get_by_label("I agree to the cancellation policy above").check()
    take_screenshot(later, "intake-05-returning-nothing-changed")
    axe(later, "returning client's details")
    cont(later)
    expect(later.locator("h1")).to_have_text("Check and confirm")
    later.get_by_role("button", name="Confirm booking").click()
    expect(later.locator("h1")).to_have_text("✓ You're booked")
    one, two = Appointment.objects.order_by("created_at")
    assert two.intake.unchanged_since == one.intake
    assert two.intake.answers["blood_thinners"]["details"] == "Apixaban"


def test_reception_sees_the_flag_on_the_schedule_in_words(desktop_page, live_server, clinic, axe):
    from booking.intake import Answer
    from booking.services import appointments
    from tests.browser.test_staff import log_in, staff

    day = a_working_day(3)
    appointments.appointment_book(
        technique=clinic.technique,
        length=clinic.technique.lengths.get(),
        start=datetime.combine(day, time(10), tzinfo=LONDON),
        client=appointments.ClientDetails(
            "Pat Lee",
            "pat@example.com",
            "07700 900102",
            health={"blood_thinners": Answer(yes=True, details="Warfarin")},
        ),
        source="staff",
        notify=False,
    )
    staff("Reception", "desk")
    page = desktop_page
    page.goto(f"{live_server.url}/admin/booking/schedule/?date={day.isoformat()}")
    log_in(page, "desk")
    flag = page.locator(".schedule-flag")
    expect(flag).to_have_text("⚠ Health flag: blood thinners")
    expect(page.locator("main, #content").first).not_to_contain_text("Warfarin")
    flag.scroll_into_view_if_needed()
    take_screenshot(page, "intake-06-schedule-flag", full_page=False)
    axe(page, "schedule with a health flag")
