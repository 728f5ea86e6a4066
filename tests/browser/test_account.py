"""A returning client on a 375 px phone (issue 14): signs in by the link read from the
test outbox, sees their visits, and books the same again in at most four taps. axe
clean on every page of the way; screenshots in tests/browser/screenshots/account-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from booking.choices import PolicyKind
from booking.intake import answers_from_dict
from booking.models import Appointment
from booking.services import account, consent
from tests.booking.account.conftest import link_from, run_link_tasks
from tests.factories import (
    HEALTH_QUESTION_KEYS,
    TechniqueFactory,
    TechniqueLengthFactory,
    TherapistFactory,
    appointment_row,
    seed_health_questions,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def returning_client(transactional_db):
    """Olivia, who had a hot stone massage with Amy two weeks ago, agreed to the current
    wording then and gave her health answers."""
    seed_health_questions()  # emptied by an earlier test's flush
    consent.policy_text_publish(kind=PolicyKind.CANCELLATION, body="Cancel 24 hours ahead, please.")
    consent.policy_text_publish(kind=PolicyKind.TREATMENT_CONSENT, body="I agree to be treated.")
    technique = TechniqueFactory(name="Hot stone", slug="hot-stone", buffer_minutes=15)
    TechniqueLengthFactory(technique=technique, duration_minutes=60, price="55.00")
    amy = TherapistFactory(name="Amy Clarke", slug="amy-clarke", techniques=[technique])
    TherapistFactory(name="Ben Hughes", slug="ben-hughes", techniques=[technique])
    start = (timezone.now() - timedelta(days=14)).replace(hour=10, minute=0, second=0, microsecond=0)
    visit = appointment_row(amy, technique, start, status="completed", source="online")
    consent.consents_record(
        client=visit.client,
        appointment=visit,
        given_name="Olivia Brown",
        policy_agreed=True,
        agreement=consent.Agreement(typed_name="Olivia Brown"),
        online=True,
    )
    account.health_update(
        client=visit.client, answers=answers_from_dict({key: {"yes": False} for key in HEALTH_QUESTION_KEYS})
    )
    return visit


def sign_in_by_link(page, live_server, email: str = "olivia@example.com") -> None:
    """Ask for a sign-in link, let the worker send it, and follow it (the first test walks
    these steps one by one, with their pages checked)."""
    page.goto(live_server.url + "/book/account/signin/")
    page.get_by_label("Your email").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    run_link_tasks()
    page.goto(live_server.url + link_from(mail.outbox[-1]))


def test_sign_in_by_link_and_book_again_in_four_taps_on_a_phone(
    phone_page, live_server, returning_client, axe, screenshot
):
    page = phone_page
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Show menu").click()
    page.get_by_role("link", name="Your bookings").click()
    expect(page.get_by_role("heading", name="Your bookings", level=1)).to_be_visible()
    axe(page, "sign-in form")
    screenshot(page, "account-signin-phone")
    page.get_by_label("Your email").fill("olivia@example.com")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    axe(page, "check your email")
    screenshot(page, "account-sent-phone")

    run_link_tasks()  # what the worker does
    assert len(mail.outbox) == 1
    page.goto(live_server.url + link_from(mail.outbox[0]))
    expect(page.get_by_text("You are signed in.")).to_be_visible()
    expect(page.get_by_text("Hot stone, 60 minutes, with Amy Clarke")).to_be_visible()
    axe(page, "the client's page")
    screenshot(page, "account-home-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    before = Appointment.objects.count()
    # Tap 1: Book again. Tap 2: a time. Tap 3: Continue (all filled in). Tap 4: Confirm.
    page.get_by_role("link", name="Book again").first.click()
    expect(page.get_by_role("heading", name="Choose a day and time")).to_be_visible()
    expect(page.get_by_text("with Amy Clarke")).to_be_visible()
    screenshot(page, "account-book-again-times-phone")
    page.locator("a.time-btn").first.click()
    expect(page.get_by_label("Your name")).to_have_value("Olivia Brown")
    axe(page, "details filled in")
    screenshot(page, "account-book-again-details-phone")
    page.get_by_role("button", name="Continue to check and confirm").click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    screenshot(page, "account-book-again-booked-phone")
    assert Appointment.objects.count() == before + 1
    new = Appointment.objects.order_by("-pk").first()
    assert (new.client_id, new.therapist.slug, new.duration_minutes) == (
        returning_client.client_id,
        "amy-clarke",
        60,
    )


def test_move_a_visit_to_another_therapist_and_length_on_a_phone(
    phone_page, live_server, returning_client, axe, screenshot
):
    from tests.factories import TechniqueLengthFactory as Length

    technique = returning_client.technique
    Length(technique=technique, duration_minutes=90, price="80.00")
    amy = returning_client.therapist
    start = (timezone.now() + timedelta(days=8)).replace(hour=10, minute=0, second=0, microsecond=0)
    upcoming = appointment_row(amy, technique, start, source="online", client=returning_client.client)
    page = phone_page
    sign_in_by_link(page, live_server)
    page.get_by_role("link", name="Change").first.click()
    page.get_by_label("Length", exact=True).select_option("90")
    page.get_by_label("Therapist", exact=True).select_option("ben-hughes")
    page.get_by_role("button", name="Show times").click()
    expect(page.get_by_role("heading", name="Change your appointment")).to_be_visible()
    axe(page, "change a visit")
    screenshot(page, "account-reschedule-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator("a.time-btn").first.click()
    expect(page.get_by_text("90 minutes with Ben Hughes")).to_be_visible()
    axe(page, "confirm the move")
    screenshot(page, "account-reschedule-confirm-phone")
    page.get_by_role("button", name="Confirm the new time").click()
    expect(page.get_by_text("Your appointment has been moved.")).to_be_visible()
    upcoming.refresh_from_db()
    assert (upcoming.therapist.slug, upcoming.duration_minutes, str(upcoming.price)) == (
        "ben-hughes",
        90,
        "80.00",
    )


def test_update_health_answers_on_a_phone_asks_the_number_a_yes_needs(
    phone_page, live_server, returning_client, axe, screenshot
):
    page = phone_page
    sign_in_by_link(page, live_server)
    page.get_by_role("link", name="Update", exact=True).click()
    expect(page.get_by_role("heading", name="Update your health answers")).to_be_visible()
    # Her answers of last time are filled in; a yes to "pregnant" needs the weeks.
    pregnancy = page.locator(".health-question").first
    expect(pregnancy.get_by_role("radio", name="No")).to_be_checked()
    pregnancy.get_by_role("radio", name="Yes").check()
    page.get_by_role("button", name="Save my answers").click()
    expect(page.get_by_text("Please give the number.")).to_be_visible()
    axe(page, "health answers, a number missing")
    screenshot(page, "account-health-update-error-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_label("How many weeks? (if yes)").fill("20")
    page.get_by_role("button", name="Save my answers").click()
    expect(page.get_by_text("Thank you: your health answers are updated.")).to_be_visible()
    latest = returning_client.client.intakes.order_by("-created_at", "-id").first()
    assert latest.answers["pregnancy"] == {"yes": True, "details": "", "number": 20}
