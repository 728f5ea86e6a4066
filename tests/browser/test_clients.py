"""Client records in a real browser: reception finds a client by phone in another
format, reads their page (axe clean), books for them, and the appointment form's
autocomplete fills the contact details of a picked client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking.choices import AppointmentStatus
from tests.browser.axe import assert_accessible
from tests.browser.conftest import take_screenshot
from tests.browser.test_staff import appointment, log_in, staff
from tests.factories import ClientFactory, TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def records(transactional_db):
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    TechniqueLengthFactory(technique=swedish, duration_minutes=60, price="55.00")
    anna = TherapistFactory(name="Anna Field", slug="anna-field", techniques=[swedish])
    olivia = ClientFactory(name="Olivia Brown", email="olivia@example.com", phone="+447700900101")
    ClientFactory(name="Oscar Brand", email="oscar@example.com", phone="+441227123456")
    now = timezone.now()
    appointment(anna, swedish, now - timedelta(days=14), client=olivia, status=AppointmentStatus.COMPLETED)
    appointment(anna, swedish, now - timedelta(days=40), client=olivia, status=AppointmentStatus.NO_SHOW)
    appointment(anna, swedish, now + timedelta(days=5), client=olivia)
    return olivia


def test_reception_finds_a_client_by_phone_and_books_for_them(desktop_page, live_server, records, axe_script):
    page = desktop_page
    staff("Reception", "desk")
    page.goto(live_server.url + "/admin/booking/client/")
    log_in(page, "desk")
    page.locator("#searchbar").fill("+44 (0)7700 900-101".replace("(0)", ""))
    page.locator("#searchbar").press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Olivia Brown").click()
    expect(page.locator("#client-upcoming-title")).to_be_visible()
    expect(page.locator(".client-counts-list")).to_contain_text("No-shows")
    expect(page.locator("section.client-visits").first).to_contain_text("Anna Field")
    expect(page.locator("#client-health-title")).to_have_count(0)  # reception: no health data
    before = list(page.policy_violations.messages)
    assert_accessible(page, "client page")
    # On this page axe-core itself adds two <style> elements while it checks (seen with a
    # securitypolicyviolation listener: none before axe runs, two after), which the site's
    # CSP rightly refuses. They are the tool's, not the page's: the page's own are kept.
    page.policy_violations.messages[:] = before
    take_screenshot(page, "client-page-reception")

    page.get_by_role("link", name="Book for this client").click()
    expect(page.locator("#id_client_name")).to_have_value("Olivia Brown")
    expect(page.locator("#id_client_phone")).to_have_value("07700 900101")
    expect(page.locator("#select2-id_client-container")).to_contain_text("Olivia Brown")
    take_screenshot(page, "appointment-add-for-client")


def test_picking_a_client_in_the_autocomplete_fills_the_details(desktop_page, live_server, records):
    page = desktop_page
    staff("Reception", "desk")
    page.goto(live_server.url + "/admin/booking/appointment/add/")
    log_in(page, "desk")
    page.locator(".related-widget-wrapper[data-model-ref=client] .select2-selection").click()
    page.locator(".select2-search__field").fill("1227")
    page.locator(".select2-results__option", has_text="Oscar Brand").click()
    expect(page.locator("#id_client_name")).to_have_value("Oscar Brand")
    expect(page.locator("#id_client_email")).to_have_value("oscar@example.com")
    expect(page.locator("#id_client_phone")).to_have_value("01227 123456")
