"""A manager opens last month's reports in a real Chromium and downloads one as a CSV;
reception may open neither the reports nor the email outbox.

Nothing freezes the clock: last month's appointments are made relative to today.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from booking import reports
from booking.choices import AppointmentSource, AppointmentStatus
from tests.browser.axe import assert_accessible
from tests.browser.conftest import take_screenshot
from tests.browser.test_staff import appointment, at, log_in, london_today, staff
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORTS = "/admin/booking/reports/"
OUTBOX = "/admin/django_tasks_database/dbtaskresult/"


@pytest.fixture
def last_month(transactional_db):
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    TechniqueLengthFactory(technique=swedish, duration_minutes=60, price="55.00")
    weekdays = {d: [("09:00", "17:00")] for d in range(5)}
    anna = TherapistFactory(name="Anna Field", slug="anna-field", techniques=[swedish], hours=weekdays)
    ben = TherapistFactory(name="Ben Stone", slug="ben-stone", techniques=[swedish], hours=weekdays)
    first, last = reports.preset_range(reports.Preset.LAST_MONTH, london_today())
    day = first
    while day <= last:
        if day.weekday() < 5:
            appointment(anna, swedish, at(day, "10:00"), status=AppointmentStatus.COMPLETED)
            appointment(ben, swedish, at(day, "14:00"), source=AppointmentSource.ONLINE, price="70.00")
        day += timedelta(days=1)
    appointment(ben, swedish, at(first, "16:00"), status=AppointmentStatus.NO_SHOW)
    return first, last


def _grant_reports() -> None:
    # A transactional test's flush removes the groups; ensure_roles (tests/browser/test_staff.py)
    # makes them again from booking.roles.PERMISSIONS, which the reports permission is not in.
    from django.contrib.auth.models import Group, Permission

    Group.objects.get(name="Manager").permissions.add(
        Permission.objects.get(content_type__app_label="booking", codename="view_reports")
    )


def test_manager_downloads_last_months_report(desktop_page, live_server, last_month, axe_script):
    first, last = last_month
    staff("Manager", "maria")
    _grant_reports()
    page = desktop_page
    page.goto(f"{live_server.url}/admin/")
    log_in(page, "maria")
    page.get_by_role("link", name="Reports", exact=True).first.click()
    page.get_by_role("link", name="Last month").click()
    heading = f"Reports: {first.day} {first:%B %Y} to {last.day} {last:%B %Y}"
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("#id_start")).to_have_value(first.isoformat())
    revenue = page.locator("section#revenue-therapists")
    expect(revenue.locator("svg[role=img] title")).to_have_text("Revenue by therapist")
    expect(revenue.locator("tbody tr")).to_have_count(2)
    expect(revenue.locator("tbody tr").first.locator("th")).to_have_text("Ben Stone")
    take_screenshot(page, "reports-01-last-month")
    assert_accessible(page, "reports, last month")

    with page.expect_download() as info:
        revenue.get_by_role("link", name="Download “Revenue by therapist” as CSV").click()
    download = info.value
    assert download.suggested_filename == f"revenue-therapists-{first.isoformat()}-to-{last.isoformat()}.csv"
    text = open(download.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Therapist", "Appointments", "Revenue (£)"]
    assert [row[0] for row in rows[1:]] == ["Ben Stone", "Anna Field"]


def test_reception_may_not_open_reports_or_outbox(desktop_page, live_server):
    staff("Reception", "rita")
    page = desktop_page
    page.goto(f"{live_server.url}/admin/")
    log_in(page, "rita")
    expect(page.get_by_role("link", name="Reports", exact=True)).to_have_count(0)
    assert OUTBOX == reverse("admin:django_tasks_database_dbtaskresult_changelist")
    for url in (REPORTS, REPORTS + "sources.csv", OUTBOX):
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 403, url


WIDER_THAN_SCREEN = """(width) => [...document.querySelectorAll('#content-main *')]
    .filter((el) => el.getBoundingClientRect().right > width + 0.5 && !el.closest('.report-table'))
    .map((el) => el.outerHTML.slice(0, 100)).slice(0, 4)"""


def test_reports_on_a_phone(phone_page, live_server, last_month):
    staff("Manager", "maria")
    _grant_reports()
    page = phone_page
    page.goto(f"{live_server.url}{REPORTS}")
    log_in(page, "maria")
    expect(page.locator("h1")).to_contain_text("Reports:")
    # Charts shrink to the screen; only the wide tables scroll, inside themselves.
    assert page.evaluate(WIDER_THAN_SCREEN, page.viewport_size["width"]) == []
    take_screenshot(page, "reports-02-phone", full_page=False)
