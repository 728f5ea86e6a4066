"""Time-off requests in a real Chromium (issue 15): a therapist on a 375 px phone signs in
(password and authenticator code) and asks for a day off; a manager signs in, is told the
approval would cover a booked appointment (named), keeps it and approves; the time off
exists and the therapist's email is sent. axe clean and no sideways scrolling on the
phone (axe-core's own <style> elements excepted, as in test_notes); screenshots in
tests/browser/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from booking.choices import TimeOffRequestStatus
from booking.models import TimeOff, TimeOffRequest
from tests.browser.test_notes import axe_clean
from tests.browser.test_staff import LONDON, appointment, at, log_in, staff
from tests.browser.test_waitlist import run_queued_tasks
from tests.factories import TechniqueFactory, TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIST = "/admin/booking/timeoffrequest/"
WIDTH = """() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"""


def grant_time_off_request_permissions() -> None:
    """What booking 0030 grants; ``staff()`` resets the groups to the older roles' lists."""
    from django.contrib.auth.models import Group, Permission

    from booking.roles import TIME_OFF_REQUEST_PERMISSIONS

    for role, grants in TIME_OFF_REQUEST_PERMISSIONS.items():
        for label, actions in grants.items():
            app_label, model = label.split(".")
            Group.objects.get(name=role).permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=[f"{a}_{model}" for a in actions]
                )
            )


def test_a_therapist_asks_on_a_phone_and_a_manager_approves(
    phone_page, new_page, live_server, axe_script, screenshot, settings
):
    settings.SITE_URL = live_server.url
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    anna = TherapistFactory(name="Anna Field", slug="anna-field", techniques=[swedish])
    staff("Therapist", "anna", anna)
    staff("Manager", "maria")
    grant_time_off_request_permissions()
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=10)
    booked = appointment(
        anna, swedish, at(day, "15:00"), client_name="Jane Doe", client_email="jane@example.com"
    )

    # The therapist, on a phone: sign in (landing on their own days), ask for the day.
    page = phone_page
    page.goto(live_server.url + "/admin/login/")
    log_in(page, "anna")
    expect(page.locator("h1")).to_have_text("My days")
    page.get_by_role("link", name="Ask for time off").click()
    expect(page.locator("h1")).to_have_text("Ask for time off")
    expect(page.locator("#id_therapist")).to_have_count(0)  # always themself
    page.get_by_label("From: date").fill(day.isoformat())
    page.get_by_label("From: time").fill("09:00")
    page.get_by_label("Until: date").fill(day.isoformat())
    page.get_by_label("Until: time").fill("18:00")
    page.get_by_label("Reason").fill("Family wedding")
    assert page.evaluate(WIDTH) <= 375, "the add page scrolls sideways on a phone"
    screenshot(page, "timeoff-01-phone-ask")
    axe_clean(page, "time-off request, add, phone")
    page.get_by_role("button", name="Ask for time off").click()
    expect(page).to_have_url(live_server.url + LIST)
    expect(page.locator(".messagelist .success")).to_contain_text("A manager will approve or decline it")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Waiting for a manager")
    assert page.evaluate(WIDTH) <= 375, "the list scrolls sideways on a phone"
    screenshot(page, "timeoff-02-phone-list")
    axe_clean(page, "time-off requests, list, phone")
    request = TimeOffRequest.objects.get()
    assert (request.therapist, request.start, request.end) == (anna, at(day, "09:00"), at(day, "18:00"))
    # The worker tells the managers, with a link to the request.
    run_queued_tasks()
    [notice] = mail.outbox
    assert notice.subject.startswith("Time off asked: Anna Field") and notice.to == ["maria@example.com"]
    assert f"/admin/booking/timeoffrequest/{request.pk}/change/" in notice.body

    # The manager, at a desk: the request is first in the list; approving is refused over
    # Jane's 15:00 massage, named; ticking "Keep booked appointments" approves it.
    desk = new_page()
    desk.goto(live_server.url + "/admin/login/")
    log_in(desk, "maria")
    desk.goto(live_server.url + LIST)
    desk.locator("#result_list tbody tr").first.get_by_role("link", name="Anna Field").click()
    expect(desk.locator(".field-booked_during")).to_contain_text(booked.reference)
    screenshot(desk, "timeoff-03-manager-request")
    axe_clean(desk, "time-off request, manager")
    desk.get_by_label("Note to the therapist").fill("Enjoy the wedding.")
    desk.get_by_role("button", name="Approve").click()
    expect(desk.locator("ul.errorlist")).to_contain_text(
        re.compile(rf"overlaps 1 booked appointment: {booked.reference} \(Jane Doe, .* 15:00–16:00\)")
    )
    assert TimeOff.objects.count() == 0
    screenshot(desk, "timeoff-04-manager-refused-over-booking")
    axe_clean(desk, "time-off request, refused over a booking")
    desk.get_by_label("Keep booked appointments").check()
    desk.get_by_role("button", name="Approve").click()
    expect(desk).to_have_url(live_server.url + LIST)
    expect(desk.locator(".messagelist .success")).to_contain_text("Approved")
    expect(desk.locator(".messagelist .warning")).to_contain_text(booked.reference)
    screenshot(desk, "timeoff-05-manager-approved")

    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.APPROVED
    time_off = TimeOff.objects.get()
    assert request.time_off == time_off and (time_off.therapist, time_off.reason) == (anna, "Family wedding")

    # The worker sends the therapist's email, once.
    run_queued_tasks()
    [message] = [m for m in mail.outbox if m.subject.startswith("Time off approved")]
    assert message.to == ["Anna Field <anna@example.com>"] and "Enjoy the wedding." in message.body
    request.refresh_from_db()
    assert request.decision_emailed_at is not None

    # Back on the phone, the therapist sees it approved.
    page.reload()
    expect(page.locator("#result_list tbody tr")).to_contain_text("Approved")
    page.locator("#result_list tbody tr").get_by_role("link", name="Anna Field").click()
    expect(page.locator(".field-decision_note")).to_contain_text("Enjoy the wedding.")
    assert page.evaluate(WIDTH) <= 375, "the request page scrolls sideways on a phone"
    screenshot(page, "timeoff-06-phone-approved")
    axe_clean(page, "time-off request, approved, phone")
