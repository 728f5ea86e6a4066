"""A manager exports everything held about a client and erases the client, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from booking.models import Client
from tests.browser.axe import assert_accessible
from tests.browser.conftest import take_screenshot
from tests.browser.test_staff import authenticator_code
from tests.factories import StaffFactory, client_with_health_record

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("private_files")]

PASSWORD = "correct horse battery staple"


def test_manager_exports_then_erases_a_client(desktop_page, live_server, transactional_db, axe_script):
    page = desktop_page
    from clinic import otp

    boss = StaffFactory(username="boss")  # a superuser: every permission
    # Superusers sign in with a code from their authenticator app too (clinic/otp.py).
    device = otp.authenticator_setup_start(user=boss)
    device.confirmed = True
    device.save()
    client, appointment = client_with_health_record()

    page.goto(f"{live_server.url}/admin/booking/healthdataaccess/client/{client.pk}/export/")
    page.locator("#id_username").fill("boss")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").fill(authenticator_code(device))
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Everything held about client #{client.pk}")).to_be_visible()
    expect(page.locator("#content-main")).to_contain_text("Sciatica and Zorbex tablets")
    expect(page.locator("#content-main")).to_contain_text(appointment.reference)
    take_screenshot(page, "privacy_export")
    assert_accessible(page, "export summary")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as JSON").click()
    assert download.value.suggested_filename == f"client-{client.pk}.json"

    page.goto(f"{live_server.url}/admin/booking/healthdataaccess/client/{client.pk}/erase/")
    expect(page.locator("#content-main")).to_contain_text("cannot be undone")
    take_screenshot(page, "privacy_erase_confirm")
    assert_accessible(page, "erase confirmation")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, erase this client").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Client #{client.pk} erased")
    assert Client.objects.get(pk=client.pk).name == f"Erased client #{client.pk}"
