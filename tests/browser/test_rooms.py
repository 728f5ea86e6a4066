"""Rooms in the staff schedule, in a real Chromium (issue 12, and issue 15's week view):
reception opens the day by room (a column per room, a session for two drawn once, the
room's turnover), everyone's week as a table, and books into a chosen room from a free
gap, coming back to the day with the new booking marked; on a phone the room view says
it scrolls sideways. Axe-clean, screenshots under tests/browser/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from booking.models import Appointment, Room, RoomFeature
from booking.roles import ROOM_PERMISSIONS
from tests.browser.axe import assert_accessible
from tests.browser.conftest import take_screenshot
from tests.browser.test_staff import SCHEDULE, appointment, at, clinic, log_in, staff  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def reception_with_rooms(username: str):
    """A Reception account; its group also gets the rooms' permissions (migration 0022),
    which a transactional test's flush took away."""
    from django.contrib.auth.models import Group, Permission

    user = staff("Reception", username)
    group = Group.objects.get(name="Reception")
    for label, actions in ROOM_PERMISSIONS["Reception"].items():
        model = label.split(".")[1]
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="booking", codename__in=[f"{a}_{model}" for a in actions]
            )
        )
    return user


@pytest.fixture
def rooms(clinic):  # noqa: F811
    """Three rooms; today's appointments placed in them, and a session for two tomorrow.
    Gives the clinic and the rooms."""
    mat = RoomFeature.objects.create(name="Floor mat", slug="floor-mat")
    garden = Room.objects.create(name="Garden room", turnover_minutes=10, display_order=1)
    quiet = Room.objects.create(name="Quiet room", turnover_minutes=10, display_order=2)
    quiet.features.set([mat])
    suite = Room.objects.create(name="Couples suite", capacity=2, turnover_minutes=15, display_order=3)
    placed = {
        clinic.jane: garden,
        clinic.sam: garden,
        clinic.olivia: quiet,
        clinic.tom: quiet,
        clinic.lena: garden,
    }
    for booked, room in placed.items():
        Appointment.objects.filter(pk=booked.pk).update(
            room=room, room_until=booked.end + timedelta(minutes=room.turnover_minutes)
        )
    start = at(clinic.tomorrow, "14:00")
    first = appointment(
        clinic.cleo, clinic.swedish, start, client_name="Pat Pair", room=suite,
        room_until=start + timedelta(minutes=75),
    )  # fmt: skip
    appointment(
        clinic.dev, clinic.swedish, start, client_name="Guest Pair", room=suite,
        room_until=start + timedelta(minutes=75), reference=first.reference, seat=2,
    )  # fmt: skip
    return clinic, (garden, quiet, suite)


def room_column(page, heading: str):
    return page.locator("section.schedule-column").filter(
        has=page.locator("h2", has_text=re.compile(rf"^{re.escape(heading)}$"))
    )


def test_reception_sees_the_day_by_room_and_everyones_week(desktop_page, live_server, rooms, axe_script):
    page = desktop_page
    diary, (garden, quiet, suite) = rooms
    reception_with_rooms("desk")
    page.goto(live_server.url + SCHEDULE)
    log_in(page, "desk")
    expect(page.locator(".schedule-views a[aria-current=page]")).to_have_text("Day, by therapist")
    # The therapist columns name each appointment's room.
    expect(page.locator("li.item-booked", has_text="Sam Patel")).to_contain_text(
        "Swedish, 60 min · Garden room"
    )

    page.get_by_role("link", name="Day, by room").click()
    expect(page.locator(".schedule-views a[aria-current=page]")).to_have_text("Day, by room")
    expect(page.locator("section.schedule-column h2")).to_have_text(
        ["Garden room", "Quiet room", "Couples suite"]
    )
    garden_col = room_column(page, "Garden room")
    expect(garden_col.locator("li.item-booked", has_text="Sam Patel")).to_contain_text(
        "Swedish, 60 min · Ben Stone"
    )
    expect(garden_col.locator("li.item-turnover")).to_have_count(3)
    expect(room_column(page, "Quiet room").locator("li.item-booked")).to_have_count(2)
    expect(room_column(page, "Couples suite").locator(".schedule-summary")).to_have_text("0 sessions")
    take_screenshot(page, "rooms-01-day-by-room")
    assert_accessible(page, "schedule, day by room")

    # Tomorrow: the session for two, once, with both guests and both therapists.
    page.get_by_role("link", name="Next day").click()
    pair = room_column(page, "Couples suite").locator("li.item-booked")
    expect(pair).to_have_count(1)
    expect(pair).to_contain_text(
        re.compile(r"14:00–15:00\s+Pat Pair & Guest Pair\s+Swedish, 60 min · Cleo Marsh & Dev Patel")
    )
    take_screenshot(page, "rooms-02-session-for-two")

    page.get_by_role("link", name="Week, everyone").click()
    table = page.locator("table.schedule-team-week")
    expect(table.locator("tbody th")).to_have_text(["Anna Field", "Ben Stone", "Cleo Marsh", "Dev Patel"])
    expect(table.locator("tbody tr", has_text="Ben Stone")).to_contain_text("Sam Patel")
    expect(table.locator("tbody tr", has_text="Cleo Marsh")).to_contain_text("Pat Pair")
    take_screenshot(page, "rooms-03-week-everyone")
    assert_accessible(page, "schedule, everyone's week")
    # A day's heading opens that day; a name opens their week.
    table.locator("thead a").first.click()
    expect(page.locator(".schedule-views a[aria-current=page]")).to_have_text("Day, by therapist")


def test_booking_a_free_gap_into_a_room_comes_back_marked(desktop_page, live_server, rooms, axe_script):
    page = desktop_page
    diary, (garden, quiet, suite) = rooms
    reception_with_rooms("desk")
    page.goto(live_server.url + SCHEDULE)
    log_in(page, "desk")
    anna = page.locator("section.schedule-column").filter(has=page.locator("h2", has_text="Anna Field"))
    anna.locator("li.item-free a").first.click()
    expect(page.locator("#id_room_choice option:checked")).to_have_text("Best free room (chosen for you)")
    page.locator("#id_technique").select_option(label="Swedish")
    page.locator("#id_length").select_option(label="Swedish, 60 min")
    page.locator("#id_room_choice").select_option(label="Couples suite")
    page.locator("#id_client_name").fill("Maya Green")
    page.locator("#id_client_email").fill("maya@example.com")
    page.locator("#id_client_phone").fill("07700 900303")
    page.locator("input[name=_save]").click()
    maya = Appointment.objects.get(client_name="Maya Green")
    assert maya.room == suite
    expect(page).to_have_url(re.compile(rf"{SCHEDULE}\?date=.*&new={maya.pk}#appointment-{maya.pk}$"))
    marked = page.locator(f"#appointment-{maya.pk}")
    expect(marked).to_have_class(re.compile(r"\bis-new\b"))
    expect(marked).to_contain_text(
        re.compile(r"Just booked\s+08:00–09:00\s+Maya Green\s+Swedish, 60 min · Couples suite")
    )
    take_screenshot(page, "rooms-04-just-booked")
    assert_accessible(page, "schedule with the new booking marked")


def test_on_a_phone_the_room_view_says_it_scrolls_sideways(phone_page, live_server, rooms, axe_script):
    page = phone_page
    reception_with_rooms("desk")
    page.goto(live_server.url + SCHEDULE + "?view=rooms")
    log_in(page, "desk")
    expect(page.locator(".schedule-scroll-hint").first).to_be_visible()
    expect(page.locator(".schedule-scroll-hint").first).to_contain_text("Swipe sideways")
    sizes = page.locator(".schedule-scroll").evaluate("(el) => [el.clientWidth, el.scrollWidth]")
    assert sizes[1] > sizes[0], sizes  # there is more to the side, as the hint says
    # The page itself does not scroll sideways: only the grid does.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    take_screenshot(page, "rooms-05-phone-by-room", full_page=False)
    assert_accessible(page, "schedule by room on a phone")
    page.goto(live_server.url + SCHEDULE + "?view=week")
    expect(page.locator(".schedule-scroll-hint").first).to_be_visible()
    take_screenshot(page, "rooms-06-phone-week", full_page=False)
    assert_accessible(page, "everyone's week on a phone")
