"""A therapist's "My days" on a 375 px phone (issue 15): they sign in with their
authenticator, read the card of the client who started an hour ago (preferences, the
health flag and what to do about it, the last note), mark the visit completed and see it
marked; nothing is wider than the screen and axe-core finds nothing serious.

Nothing freezes the clock: the page is opened at the clinic day of the visit that started
70 minutes ago, so the test passes at any hour.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking.choices import AppointmentStatus, RuleOutcome
from booking.models import Appointment, HealthIntake, TreatmentNote
from tests.browser.conftest import PHONE, take_screenshot
from tests.browser.test_notes import axe_clean, no_sideways_scroll, with_record_permissions
from tests.browser.test_staff import LONDON, appointment, log_in, staff
from tests.factories import (
    ClientFactory,
    TechniqueFactory,
    TechniqueLengthFactory,
    TherapistFactory,
    health_rule,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
URL = "/admin/booking/my-days/"


@pytest.fixture
def week(transactional_db):
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    TechniqueLengthFactory(technique=swedish, duration_minutes=60, price="55.00")
    anna = TherapistFactory(name="Anna Field", slug="anna-field", techniques=[swedish])
    ben = TherapistFactory(name="Ben Stone", slug="ben-stone", techniques=[swedish])
    started = (timezone.now() - timedelta(minutes=70)).astimezone(UTC).replace(second=0, microsecond=0)
    olivia = ClientFactory(
        name="Olivia Brown",
        email="olivia@example.com",
        pressure="medium",
        areas_to_avoid="Left shoulder (recent sprain)",
        preference_notes="Prefers no music",
    )
    visit = appointment(anna, swedish, started, client=olivia, client_name="Olivia Brown")
    health_rule("blood_thinners", RuleOutcome.FLAG, staff_note="Lighter pressure; watch for bruising.")
    HealthIntake.objects.create(
        client=olivia,
        appointment=visit,
        answers={"blood_thinners": {"yes": True, "details": "Warfarin", "number": None}},
        outcome=RuleOutcome.FLAG,
        flags=["blood_thinners"],
        flagged=True,
    )
    before = appointment(
        anna, swedish, started - timedelta(days=14), client=olivia, status=AppointmentStatus.COMPLETED
    )
    TreatmentNote.objects.create(
        appointment=before,
        assessment="Upper trapezius tension, improving",
        plan="Review the shoulder; gentle stretches",
        signed_at=started - timedelta(days=14),
    )
    later = appointment(
        anna,
        swedish,
        started + timedelta(days=1, hours=2),
        client_name="Priya Shah",
        client_email="priya@example.com",
    )
    appointment(ben, swedish, started, client_name="Jane Doe", client_email="jane@example.com")
    return {"anna": anna, "visit": visit, "later": later, "day": started.astimezone(LONDON).date()}


def test_a_therapist_marks_a_visit_completed_on_a_phone(new_page, live_server, week):
    anna = staff("Therapist", "anna", week["anna"])
    with_record_permissions(anna)
    page = new_page(PHONE)
    address = f"{live_server.url}{URL}?day={week['day'].isoformat()}"
    page.goto(address)
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/booking/my-days/"))
    log_in(page, "anna")
    expect(page).to_have_url(address)
    expect(page.locator("h1")).to_have_text("My days")

    card = page.locator(f"#appointment-{week['visit'].pk}")
    expect(card.locator("h3")).to_contain_text("Olivia Brown")
    expect(card).to_contain_text("Swedish · 60 min")
    expect(card).to_contain_text("Status: Confirmed")
    expect(card).to_contain_text("Left shoulder (recent sprain)")
    expect(card).to_contain_text("Health flag: blood thinners")
    expect(card).to_contain_text("Lighter pressure; watch for bruising.")
    expect(card).to_contain_text("Review the shoulder; gentle stretches")
    expect(page.get_by_text("Warfarin")).to_have_count(0)
    expect(page.get_by_text("Jane Doe")).to_have_count(0)
    # Tomorrow's visit has not started: no buttons on its card yet.
    expect(page.locator(f"#appointment-{week['later'].pk} button")).to_have_count(0)
    no_sideways_scroll(page)
    axe_clean(page, "my days")
    take_screenshot(page, "workspace-01-my-days-phone")

    with page.expect_navigation():
        card.get_by_role("button", name="Completed").click()
    expect(page).to_have_url(
        re.compile(rf"/admin/booking/my-days/(\?day=[-\d]+)?#appointment-{week['visit'].pk}$")
    )
    expect(page.locator(".messagelist")).to_contain_text("Olivia Brown: marked completed.")
    card = page.locator(f"#appointment-{week['visit'].pk}")
    expect(card).to_contain_text("Status: Completed")
    expect(card.get_by_role("button", name="Completed")).to_have_count(0)
    expect(card.get_by_role("button", name="Change to no-show")).to_be_visible()
    expect(card.get_by_role("link", name="Write note")).to_be_visible()
    assert Appointment.objects.get(pk=week["visit"].pk).status == AppointmentStatus.COMPLETED
    no_sideways_scroll(page)
    axe_clean(page, "my days, marked")
    take_screenshot(page, "workspace-02-marked-phone", full_page=False)


def test_a_manager_looks_at_a_therapists_days_and_marks_without_javascript(nojs_page, live_server, week):
    maria = staff("Manager", "maria")
    with_record_permissions(maria)
    page = nojs_page
    page.goto(f"{live_server.url}{URL}")
    log_in(page, "maria")
    # No therapist of her own: a 403 page that lets her choose one.
    expect(page.locator(".errornote")).to_contain_text("not linked to a therapist")
    with page.expect_navigation():
        page.get_by_role("link", name="Anna Field").click()
    expect(page.locator("h1")).to_have_text("Anna Field's days")
    page.goto(f"{live_server.url}{URL}?therapist={week['anna'].pk}&day={week['day'].isoformat()}")
    card = page.locator(f"#appointment-{week['visit'].pk}")
    with page.expect_navigation():
        card.get_by_role("button", name="No-show").click()
    expect(page).to_have_url(re.compile(rf"therapist={week['anna'].pk}.*#appointment-{week['visit'].pk}$"))
    expect(page.locator(f"#appointment-{week['visit'].pk}")).to_contain_text("Status: No-show")
    assert Appointment.objects.get(pk=week["visit"].pk).status == AppointmentStatus.NO_SHOW
    take_screenshot(page, "workspace-03-manager-desktop-nojs")
