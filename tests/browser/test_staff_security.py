"""Staff sign-in fit for health data, in a real Chromium (issue 15): a therapist on a
375 px phone sets up two-factor sign-in on the first sign-in (QR code, a code, the backup
codes once) and later signs in with the code the app shows; "Forgot your password?"; the
admin in the clinic's colours, light and dark; the appointment list at 1366 px with the
sidebar open. Every page is checked with axe and photographed (tests/browser/screenshots/)."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from clinic.models import SignInEvent
from tests.browser.axe import assert_accessible
from tests.browser.conftest import PHONE, take_screenshot
from tests.browser.test_staff import (  # noqa: F401 - clinic is a fixture
    APPOINTMENTS,
    PASSWORD,
    authenticator_code,
    clinic,
    log_in,
    staff,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"viewport": {"width": 1366, "height": 768}}


def no_sideways_scroll(page, width: int = PHONE["viewport"]["width"]) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll}px wide on a {width}px screen"


def test_therapist_sets_up_two_factor_on_a_phone_then_signs_in_with_a_code(
    new_page, live_server, axe_script, request, settings
):
    # No growing wait after the wrong code below: the right one follows at once (the wait
    # itself is django-otp's, and the lockout after repeated wrong codes has its own test).
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    day = request.getfixturevalue("clinic")  # test_staff's day of appointments
    amara = staff("Therapist", "amara", day.anna, authenticator=False)
    page = new_page(PHONE)
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()
    no_sideways_scroll(page)
    take_screenshot(page, "phone-staff-sign-in")
    assert_accessible(page, "staff sign-in on a phone")

    page.locator("#id_username").fill("amara")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()

    # First sign-in: guided setup. The QR code is drawn in the page, the key is there to type.
    expect(page).to_have_url(f"{live_server.url}/admin/two-factor/setup/")
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.locator(".qr-code svg")).to_be_visible()
    box = page.locator(".qr-code svg").bounding_box()
    assert box["width"] >= 150 and box["x"] + box["width"] <= PHONE["viewport"]["width"]
    page.get_by_text("Cannot scan? Type this key instead").click()
    device = TOTPDevice.objects.get(user=amara, confirmed=False)
    from clinic import otp

    expect(page.locator(".otp-secret")).to_have_text(otp.secret_for_typing(device))
    no_sideways_scroll(page)
    take_screenshot(page, "phone-two-factor-setup")
    assert_accessible(page, "two-factor setup on a phone")

    page.get_by_label("Type the 6-digit code the app now shows").fill(authenticator_code(device))
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_role("heading", name="Your backup codes")).to_be_visible()
    expect(page.locator(".backup-codes li")).to_have_count(10)
    no_sideways_scroll(page)
    take_screenshot(page, "phone-two-factor-backup-codes")
    assert_accessible(page, "backup codes on a phone")
    with page.expect_navigation():
        page.get_by_role("link", name="I have kept them: continue").click()
    # A therapist who asked for no page in particular starts on their own days.
    expect(page).to_have_url(f"{live_server.url}/admin/booking/my-days/")
    expect(page.get_by_role("heading", name="My days")).to_be_visible()
    expect(page.get_by_role("link", name="Two-factor sign-in")).to_be_visible()

    # Another day, another browser: the password, then the code the app shows.
    later = new_page(PHONE)
    later.goto(f"{live_server.url}/admin/login/?next=/admin/booking/appointment/")
    later.locator("#id_username").fill("amara")
    later.locator("#id_password").fill(PASSWORD)
    with later.expect_navigation():
        later.get_by_role("button", name="Log in").click()
    expect(later.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    no_sideways_scroll(later)
    take_screenshot(later, "phone-two-factor-code")
    assert_accessible(later, "two-factor code step on a phone")
    later.get_by_label("Code").fill("000000" if authenticator_code(device) != "000000" else "111111")
    with later.expect_navigation():
        later.get_by_role("button", name="Sign in").click()
    expect(later.get_by_role("alert")).to_contain_text("That code is not right")
    expect(later.get_by_label("Code")).to_have_attribute("aria-invalid", "true")
    assert_accessible(later, "a wrong two-factor code on a phone")
    later.get_by_label("Code").fill(authenticator_code(device))
    with later.expect_navigation():
        later.get_by_role("button", name="Sign in").click()
    expect(later).to_have_url(f"{live_server.url}{APPOINTMENTS}")
    no_sideways_scroll(later)
    take_screenshot(later, "phone-therapist-signed-in-with-a-code")

    assert list(SignInEvent.objects.filter(user=amara).order_by("pk").values_list("kind", flat=True)) == [
        "two_factor_set_up",
        "signed_in",
        "second_factor_failed",
        "signed_in",
    ]
    for each in (page, later):
        assert each.request_log.foreign(live_server.url) == []


def test_forgot_your_password_pages(new_page, live_server, axe_script, transactional_db):
    rita = staff("Reception", "rita")
    rita.email = "rita@clinic.example"
    rita.save()
    page = new_page(PHONE)
    page.goto(f"{live_server.url}/admin/login/")
    with page.expect_navigation():
        page.get_by_role("link", name="Forgot your password?").click()
    no_sideways_scroll(page)
    take_screenshot(page, "phone-password-reset")
    assert_accessible(page, "password reset request on a phone")
    page.get_by_label("Email address").fill("rita@clinic.example")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("reset", re.I)).click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    take_screenshot(page, "phone-password-reset-sent")
    assert_accessible(page, "password reset sent on a phone")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_admin_in_the_clinics_colours_and_the_list_fits_1366(
    new_page, live_server, axe_script, scheme, request
):
    request.getfixturevalue("clinic")  # test_staff's day of appointments, to fill the list
    staff("Reception", "desk")
    page = new_page({**LAPTOP, "color_scheme": scheme})
    page.goto(f"{live_server.url}/admin/login/")
    log_in(page, "desk")
    header = page.evaluate("getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header == {"light": "rgb(31, 66, 56)", "dark": "rgb(21, 36, 31)"}[scheme]
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("/img/logo.svg")
    # Plain words: no section a receptionist sees has a developer's name.
    index = page.locator("#content-main").inner_text()
    for words in ("Tasks Database", "Task results", "Axes", "OTP"):
        assert words not in index
    take_screenshot(page, f"admin-index-{scheme}")
    assert_accessible(page, f"admin index ({scheme})")

    page.goto(f"{live_server.url}{APPOINTMENTS}")
    expect(page.locator("#nav-sidebar")).to_be_visible()
    table = page.locator("#result_list")
    expect(table).to_be_visible()
    # No clipped columns: the table fits the content area, the page does not scroll sideways.
    fits = page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            return [results.scrollWidth, results.clientWidth];
        }"""
    )
    take_screenshot(page, f"admin-appointments-1366-{scheme}", full_page=False)
    assert fits[0] <= fits[1], f"the appointment list is {fits[0]}px wide in {fits[1]}px"
    no_sideways_scroll(page, LAPTOP["viewport"]["width"])
    assert_accessible(page, f"appointment list at 1366 px ({scheme})")
