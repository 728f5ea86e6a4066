"""A therapist's calendar link page on a phone (issue 15): sign in, make the link, read the
webcal and https addresses, stop it; a manager's list of live links. axe clean and no
sideways scrolling at 375 px; screenshots in tests/browser/screenshots/."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from booking.models import CalendarFeed
from booking.roles import CALENDAR_FEED_PERMISSIONS
from tests.browser.test_booking import Visit
from tests.browser.test_staff import log_in, staff
from tests.factories import TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def grant_feed_permissions() -> None:
    # A transactional test's flush empties the groups' permissions; staff() restores the
    # first roles migration's, this adds booking 0028's.
    for role, codenames in CALENDAR_FEED_PERMISSIONS.items():
        Group.objects.get(name=role).permissions.add(
            *Permission.objects.filter(content_type__app_label="booking", codename__in=codenames)
        )


def test_a_therapist_makes_and_stops_their_calendar_link_on_a_phone(phone_page, live_server, axe, settings):
    settings.SITE_URL = live_server.url
    amara = TherapistFactory(name="Amara Osei")
    staff("Therapist", "amara", amara)
    grant_feed_permissions()
    page = phone_page
    visit = Visit(page, "phone-calendar-feed", axe)

    page.goto(f"{live_server.url}/admin/booking/calendar-feed/")
    log_in(page, "amara")
    expect(page.get_by_role("heading", name="Your calendar link")).to_be_visible()
    visit.check("none-yet")

    page.get_by_role("button", name="Make my calendar link").click()
    expect(page.get_by_role("heading", name="Your new calendar link")).to_be_visible()
    subscribe = page.get_by_role("link", name="Add to my phone's calendar")
    expect(subscribe).to_have_attribute(
        "href", re.compile(r"^webcal://.+/book/calendar/[A-Za-z0-9_-]{43}\.ics$")
    )
    address = page.get_by_label("Or copy this address:")
    https_url = address.input_value()
    assert https_url.startswith(live_server.url + "/book/calendar/")
    visit.check("link-made")

    # The address works, as a phone's calendar would read it.
    feed = page.request.get(https_url)
    assert feed.status == 200 and feed.headers["content-type"] == "text/calendar; charset=utf-8"

    page.get_by_role("button", name="Stop my calendar link").click()
    expect(page.get_by_text("is stopped")).to_be_visible()
    visit.check("stopped")
    assert page.request.get(https_url).status == 404
    assert not CalendarFeed.objects.filter(revoked_at__isnull=True).exists()


def test_a_manager_sees_and_stops_live_links_on_a_phone(phone_page, live_server, axe):
    from booking.services import calendar_feeds

    for name in ("Amara Osei", "Bartholomew Featherstonehaugh-Smythe"):
        therapist = TherapistFactory(name=name)
        user = staff("Therapist", name.split()[0].lower(), therapist)
        grant_feed_permissions()
        calendar_feeds.calendar_feed_create(therapist=therapist, by=user)
    staff("Manager", "boss")
    grant_feed_permissions()
    page = phone_page
    visit = Visit(page, "phone-calendar-feed-manager", axe)

    page.goto(f"{live_server.url}/admin/booking/calendar-feed/")
    log_in(page, "boss")
    expect(page.get_by_role("heading", name="Therapists' live calendar links")).to_be_visible()
    visit.check("list")
    page.get_by_role("button", name="Stop the calendar link of Amara Osei").click()
    expect(page.get_by_text("The calendar link for Amara Osei is stopped")).to_be_visible()
    visit.check("stopped")
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1
