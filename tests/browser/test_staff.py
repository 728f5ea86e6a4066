"""Staff run the clinic from the Django admin in a real Chromium: reception books a phone
client into a free gap of the schedule, is told exactly what an overlapping booking clashes
with and marks the morning's massage completed; a therapist sees only their own day; the
schedule prints on one A4 landscape page and scrolls inside itself on a phone.

Nothing freezes the clock: the data is made relative to "now" in London. The therapists
work 08:00 to 20:00 every day of the week; one appointment started two hours ago (a row
put straight into the table, so it may be in the past or outside working hours), the others
are later today or tomorrow.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking.choices import AppointmentSource, AppointmentStatus
from booking.models import Appointment, TimeOff
from tests.browser.axe import assert_accessible
from tests.browser.conftest import PHONE, SCREENSHOT_DIR, take_screenshot
from tests.factories import (
    TechniqueFactory,
    TechniqueLengthFactory,
    TherapistFactory,
    client_for,
    user_in_role,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONDON = ZoneInfo("Europe/London")
SCHEDULE = "/admin/booking/schedule/"
APPOINTMENTS = "/admin/booking/appointment/"
PASSWORD = "a long staff passphrase 4 tests"
EVERY_DAY = {d: [("08:00", "20:00")] for d in range(7)}
# A4 landscape is 297 x 210 mm; the schedule's @page rule leaves 10 mm margins: 277 x 190 mm
# printable, at 96 CSS pixels to the inch.
A4_PRINTABLE_PX = (round(277 / 25.4 * 96), round(190 / 25.4 * 96))  # (1047, 718)


# --------------------------------------------------------------------------- dates and words


def london_now() -> datetime:
    return timezone.now().astimezone(LONDON)


def london_today() -> date:
    return london_now().date()


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=LONDON)


def day_heading(day: date) -> str:
    """The schedule's heading: Tuesday 24 November 2026."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def overlaps(a_start: datetime, a_minutes: int, b_start: datetime, b_minutes: int) -> bool:
    return a_start < b_start + timedelta(minutes=b_minutes) and b_start < a_start + timedelta(
        minutes=a_minutes
    )


# --------------------------------------------------------------------------- data


def ensure_roles() -> None:
    """The Manager/Reception/Therapist groups as the roles migration makes them. A
    transactional test's flush empties the tables after each test (permissions come back
    with post_migrate, groups do not), so recreate them when a test needs them."""
    from django.contrib.auth.models import Group, Permission

    from booking.roles import CLIENT_RECORD_PERMISSIONS, PERMISSIONS

    for role, grants in PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = [
            Permission.objects.get(content_type__app_label=label.split(".")[0], codename=f"{action}_{model}")
            for label, actions in grants.items()
            for model in [label.split(".")[1]]
            for action in actions
        ]
        # Client records (issue 11): their permissions by codename (some are custom).
        wanted += Permission.objects.filter(
            content_type__app_label="booking", codename__in=CLIENT_RECORD_PERMISSIONS.get(role, ())
        )
        group.permissions.set(wanted)


def staff(role: str, username: str, therapist=None, *, authenticator: bool = True):
    """A staff account that logs in with a real password, through the login form. Roles
    that must use two-factor sign-in get an authenticator app already set up (``log_in``
    types its code), unless ``authenticator=False`` (to set it up in the test)."""
    from clinic import otp

    ensure_roles()
    user = user_in_role(role, username, therapist)
    user.set_password(PASSWORD)
    user.save()
    if authenticator and otp.two_factor_required(user):
        device = otp.authenticator_setup_start(user=user)
        device.confirmed = True
        device.save()
    return user


def authenticator_code(device) -> str:
    """What the authenticator app shows: the code for now, or for the next period when this
    one's code was used already (a code works once; the next is accepted a period early)."""
    from django_otp.oath import TOTP

    device.refresh_from_db()
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits)
    clock.drift = max(0, device.last_t + 1 - clock.t())
    return f"{clock.token():0{device.digits}d}"


def appointment(therapist, technique, start: datetime, minutes: int = 60, **extra) -> Appointment:
    """A row straight into the table (as in tests/booking/admin/test_schedule.py): it may
    start in the past, which no booking form allows a client to do."""
    fields = {
        "therapist": therapist,
        "technique": technique,
        "duration_minutes": minutes,
        "price": "55.00",
        "buffer_minutes": 15,
        "start": start,
        "end": start + timedelta(minutes=minutes),
        "occupied_until": start + timedelta(minutes=minutes + 15),
        "client_name": "Olivia Brown",
        "client_email": "olivia@example.com",
        "client_phone": "07700 900101",
        "source": AppointmentSource.STAFF,
    }
    fields.update(extra)
    fields.setdefault("client", client_for(fields["client_name"], fields["client_email"]))
    return Appointment.objects.create(**fields)


@pytest.fixture
def clinic(transactional_db):
    """Four therapists working 08:00-20:00 every day (Dev with a lunch break), and today's
    and tomorrow's appointments around the real "now"."""
    # The data migration's Swedish technique may have been flushed by an earlier test.
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    swedish.buffer_minutes = 15
    swedish.active = True
    swedish.save()
    TechniqueLengthFactory(technique=swedish, duration_minutes=60, price="55.00")
    TechniqueLengthFactory(technique=swedish, duration_minutes=90, price="78.00")

    anna = TherapistFactory(name="Anna Field", slug="anna-field", techniques=[swedish], hours=EVERY_DAY)
    ben = TherapistFactory(name="Ben Stone", slug="ben-stone", techniques=[swedish], hours=EVERY_DAY)
    cleo = TherapistFactory(name="Cleo Marsh", slug="cleo-marsh", techniques=[swedish], hours=EVERY_DAY)
    dev = TherapistFactory(
        name="Dev Patel",
        slug="dev-patel",
        techniques=[swedish],
        hours={d: [("08:00", "13:00"), ("14:00", "20:00")] for d in range(7)},
    )

    today = london_today()
    tomorrow = today + timedelta(days=1)
    # Started two hours ago, on a five-minute mark (whole-hour offsets: UTC floors alike).
    two_hours_ago = timezone.now().astimezone(UTC) - timedelta(hours=2)
    started = two_hours_ago.replace(
        minute=two_hours_ago.minute - two_hours_ago.minute % 5, second=0, microsecond=0
    )
    jane = appointment(ben, swedish, started, client_name="Jane Doe", client_email="jane@example.com")
    # Ben's second client today: in the evening, or at noon if Jane's massage is in the way.
    later = next(
        start for start in (at(today, "18:00"), at(today, "12:00")) if not overlaps(start, 75, started, 75)
    )
    sam = appointment(ben, swedish, later, client_name="Sam Patel", client_email="sam@example.com")
    olivia = appointment(anna, swedish, at(today, "19:00"))
    priya = appointment(anna, swedish, at(tomorrow, "10:00"), minutes=90, client_name="Priya Shah")
    tom = appointment(cleo, swedish, at(today, "09:00"), client_name="Tom Reed")
    TimeOff.objects.create(therapist=cleo, start=at(today, "14:00"), end=at(today, "16:00"), reason="Dentist")
    lena = appointment(dev, swedish, at(today, "15:00"), minutes=90, client_name="Lena Park")
    return SimpleNamespace(
        swedish=swedish,
        anna=anna,
        ben=ben,
        cleo=cleo,
        dev=dev,
        today=today,
        tomorrow=tomorrow,
        jane=jane,
        sam=sam,
        olivia=olivia,
        priya=priya,
        tom=tom,
        lena=lena,
    )


# --------------------------------------------------------------------------- page helpers


def log_in(page, username: str) -> None:
    """Fill in the admin's login form (the page must be showing it), and the two-factor
    code after it for the roles that must use it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    expect(page.locator("#id_username")).to_be_visible()
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():  # to the "load" event: stylesheets in, layout settled
        page.get_by_role("button", name="Log in").click()
    if "/admin/two-factor/code/" in page.url:
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        page.get_by_label("Code").fill(authenticator_code(device))
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()


def column(page, heading: str):
    return page.locator("section.schedule-column").filter(
        has=page.locator("h2", has_text=re.compile(rf"^{re.escape(heading)}$"))
    )


def assert_day_schedule(page, day: date, headings: list[str]) -> None:
    expect(page.locator("h1")).to_have_text(f"Schedule: {day_heading(day)}")
    expect(page.locator("section.schedule-column h2")).to_have_text(headings)
    expect(page.locator("#schedule-date")).to_have_value(day.isoformat())


SIDEWAYS = """(width) => {
    const doc = document.documentElement;
    const scroll = document.querySelector('.schedule-scroll');
    return {
        screen: width,
        page: Math.max(doc.scrollWidth, document.body.scrollWidth),
        scrollClient: scroll.clientWidth,
        scrollWidth: scroll.scrollWidth,
        grid: document.querySelector('.schedule-grid').scrollWidth,
        wider: [...document.querySelectorAll('body *')]
            .filter((el) => el.getBoundingClientRect().right > width + 0.5 && !el.closest('.schedule-scroll'))
            .map((el) => el.outerHTML.slice(0, 120)).slice(0, 4),
    };
}"""


# --------------------------------------------------------------------------- tests


def test_receptionist_runs_the_day(desktop_page, live_server, clinic, axe_script):
    page = desktop_page
    staff("Reception", "desk")
    today = clinic.today

    # Log in through the form, then the index's first booking link: the schedule.
    page.goto(live_server.url + "/admin/login/")
    log_in(page, "desk")
    expect(page).to_have_url(live_server.url + "/admin/")
    page.locator("#content-main").get_by_role("link", name="Schedule (day view)").click()
    expect(page).to_have_url(live_server.url + SCHEDULE)
    assert_day_schedule(page, today, ["Anna Field", "Ben Stone", "Cleo Marsh", "Dev Patel"])
    ben = column(page, "Ben Stone")
    expect(ben.locator("li.item-booked", has_text="Sam Patel")).to_contain_text("Swedish, 60 min")
    expect(column(page, "Anna Field").locator("li.item-booked")).to_have_text(
        [re.compile(r"19:00–20:00\s+Olivia Brown\s+Swedish, 60 min\s+Confirmed")]
    )
    expect(column(page, "Cleo Marsh").locator("li.item-off")).to_contain_text(
        re.compile(r"14:00–16:00\s+Time off\s+Dentist")
    )
    expect(column(page, "Dev Patel").locator("li.item-break")).to_contain_text(
        re.compile(r"13:00–14:00\s+Break")
    )
    expect(column(page, "Dev Patel").locator(".schedule-summary")).to_have_text("1 booked · 9 h 15 min free")
    # Booked blocks open the appointment.
    expect(ben.locator("li.item-booked", has_text="Sam Patel").get_by_role("link")).to_have_attribute(
        "href", f"{APPOINTMENTS}{clinic.sam.pk}/change/"
    )
    take_screenshot(page, "staff-01-schedule-day")
    assert_accessible(page, "schedule, day view")

    # The day navigation: next day, back with "Today", and a day typed in the picker.
    page.get_by_role("link", name="Next day").click()
    assert_day_schedule(page, clinic.tomorrow, ["Anna Field", "Ben Stone", "Cleo Marsh", "Dev Patel"])
    expect(column(page, "Anna Field").locator("li.item-booked")).to_contain_text(["Priya Shah"])
    expect(page.locator("li.item-booked", has_text="Sam Patel")).to_have_count(0)
    page.get_by_role("link", name="Previous day").click()
    assert_day_schedule(page, today, ["Anna Field", "Ben Stone", "Cleo Marsh", "Dev Patel"])
    page.locator("#schedule-date").fill(clinic.tomorrow.isoformat())
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page).to_have_url(re.compile(rf"[?&]date={clinic.tomorrow.isoformat()}(&|$)"))
    assert_day_schedule(page, clinic.tomorrow, ["Anna Field", "Ben Stone", "Cleo Marsh", "Dev Patel"])
    page.get_by_role("link", name="Today", exact=True).click()
    assert_day_schedule(page, today, ["Anna Field", "Ben Stone", "Cleo Marsh", "Dev Patel"])

    # Anna is free from 08:00 until her 19:00 client: one gap, which starts a booking.
    free = column(page, "Anna Field").locator("li.item-free")
    expect(free).to_have_count(1)
    expect(free).to_contain_text(re.compile(r"08:00–19:00\s+Free\s+11 h"))
    gap_start = at(today, "08:00")
    query = parse_qs(urlsplit(free.get_by_role("link").get_attribute("href")).query)
    assert query == {
        "therapist": [str(clinic.anna.pk)],
        "start": [gap_start.isoformat()],
        "from": ["schedule"],
    }
    free.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/admin/booking/appointment/add/\?"))
    expect(page.locator("#id_therapist")).to_have_value(str(clinic.anna.pk))
    expect(page.locator("#id_therapist option:checked")).to_have_text("Anna Field")
    expect(page.locator("#id_start_0")).to_have_value(f"{today:%d/%m/%Y}")
    expect(page.locator("#id_start_1")).to_have_value(re.compile(r"^08:00(:00)?$"))

    page.locator("#id_technique").select_option(label="Swedish")
    page.locator("#id_length").select_option(label="Swedish, 60 min")
    page.locator("#id_client_name").fill("Maya Green")
    page.locator("#id_client_email").fill("maya@example.com")
    page.locator("#id_client_phone").fill("07700 900303")
    page.locator("input[name=_save]").click()
    # Booked from the schedule: back to that day, the new booking marked (issue 15).
    maya = Appointment.objects.select_related("therapist").get(client_name="Maya Green")
    expect(page).to_have_url(
        f"{live_server.url}{SCHEDULE}?date={today.isoformat()}&new={maya.pk}#appointment-{maya.pk}"
    )
    assert (maya.therapist, maya.start, maya.duration_minutes) == (clinic.anna, gap_start, 60)
    assert maya.source == AppointmentSource.STAFF and maya.status == AppointmentStatus.CONFIRMED
    expect(page.locator(".messagelist .success")).to_contain_text(f"Booked {maya.reference}: Maya Green")
    anna = column(page, "Anna Field")
    expect(anna.locator("li.item-booked.is-new")).to_contain_text(
        re.compile(r"Just booked\s+08:00–09:00\s+Maya Green\s+Swedish, 60 min")
    )
    expect(anna.locator("li.item-free")).to_contain_text([re.compile(r"09:15–19:00\s+Free")])

    # A second booking half an hour into Maya's is refused, and the page says what is in the way.
    page.goto(live_server.url + APPOINTMENTS + "add/")
    page.locator("#id_therapist").select_option(label="Anna Field")
    page.locator("#id_technique").select_option(label="Swedish")
    page.locator("#id_length").select_option(label="Swedish, 90 min")
    page.locator("#id_start_0").fill(f"{today:%d/%m/%Y}")
    page.locator("#id_start_1").fill("08:30")
    page.locator("#id_client_name").fill("Noah Clash")
    page.locator("#id_client_email").fill("noah@example.com")
    page.locator("#id_client_phone").fill("07700 900404")
    page.locator("input[name=_save]").click()
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator("ul.errorlist.nonfield")).to_have_text(
        f"Overlaps {maya.reference}: Maya Green, Swedish 08:00–09:00 "
        "(room free again at 09:15, after cleanup)."
    )
    # What was typed survives, so it can be corrected rather than retyped.
    expect(page.locator("#id_client_name")).to_have_value("Noah Clash")
    expect(page.locator("#id_start_1")).to_have_value("08:30")
    assert not Appointment.objects.filter(client_name="Noah Clash").exists()
    take_screenshot(page, "staff-02-overlap-explained")

    # Jane's massage started two hours ago: mark it completed from the list.
    page.goto(live_server.url + APPOINTMENTS)
    jane_row = page.locator("#result_list tbody tr", has_text="Jane Doe")
    expect(jane_row).to_have_count(1)
    expect(jane_row.locator("td.field-status")).to_have_text("Confirmed")
    jane_row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Mark as completed")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist .success")).to_have_text("1 appointment marked completed.")
    expect(jane_row.locator("td.field-status")).to_have_text("Completed")
    # Only the ticked one changed.
    expect(
        page.locator("#result_list tbody tr", has_text="Sam Patel").locator("td.field-status")
    ).to_have_text("Confirmed")
    clinic.jane.refresh_from_db()
    assert clinic.jane.status == AppointmentStatus.COMPLETED
    take_screenshot(page, "staff-03-marked-completed")

    # One therapist's week, from their column heading on the day view.
    page.goto(f"{live_server.url}{SCHEDULE}?date={today.isoformat()}")
    column(page, "Anna Field").get_by_role("link", name="Anna Field").click()
    expect(page).to_have_url(re.compile(rf"[?&]therapist={clinic.anna.pk}(&|$)"))
    monday = today - timedelta(days=today.weekday())
    expect(page.locator("h1")).to_have_text(f"Schedule: Anna Field, week of {monday.day} {monday:%B %Y}")
    days = [monday + timedelta(days=n) for n in range(7)]
    expect(page.locator("section.schedule-column h2")).to_have_text([f"{d:%a} {d.day} {d:%b}" for d in days])
    expect(page.locator("section.schedule-column.is-today h2")).to_have_text(
        f"{today:%a} {today.day} {today:%b}"
    )
    week_clients = ["Maya Green", "Olivia Brown"] + (["Priya Shah"] if clinic.tomorrow.weekday() != 0 else [])
    expect(page.locator("li.item-booked .schedule-title")).to_have_text(week_clients)
    expect(page.locator("li.item-booked", has_text="Sam Patel")).to_have_count(0)
    take_screenshot(page, "staff-04-schedule-week")
    assert_accessible(page, "schedule, week view")


def test_therapist_sees_only_their_own_day(desktop_page, live_server, clinic):
    page = desktop_page
    staff("Therapist", "anna", clinic.anna)

    page.goto(live_server.url + SCHEDULE)
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/booking/schedule/$"))
    log_in(page, "anna")
    expect(page).to_have_url(live_server.url + SCHEDULE)
    assert_day_schedule(page, clinic.today, ["Anna Field"])
    own = column(page, "Anna Field")
    expect(own.locator("li.item-booked .schedule-title")).to_have_text(["Olivia Brown"])
    for other in ("Jane Doe", "Sam Patel", "Tom Reed", "Lena Park", "Ben Stone", "Cleo Marsh"):
        expect(page.get_by_text(other)).to_have_count(0)
    # Read only: a free gap is not a booking link, and there is no hint to click one.
    expect(own.locator("li.item-free")).to_have_count(1)
    expect(own.locator("li.item-free a")).to_have_count(0)
    expect(page.locator(".schedule-hint")).to_have_count(0)
    # No one else's week either, not even by typing the address.
    response = page.goto(f"{live_server.url}{SCHEDULE}?therapist={clinic.ben.pk}")
    assert response.status == 404

    page.goto(live_server.url + APPOINTMENTS)
    rows = page.locator("#result_list tbody tr")
    expect(rows.locator("td.field-client_name, th.field-client_name")).to_have_text(
        ["Olivia Brown", "Priya Shah"]
    )
    expect(page.locator("#result_list")).not_to_contain_text("Jane Doe")
    expect(page.get_by_role("link", name=re.compile("^Add appointment"))).to_have_count(0)
    page.goto(live_server.url + SCHEDULE)
    take_screenshot(page, "staff-05-therapist-day")


def test_schedule_prints_on_a4(new_page, live_server, clinic):
    # Seven therapists are more than fit across the screen at this width, so the grid
    # overflows (and scrolls) on screen; printed, it must fit the page.
    for name in ("Eve Stone", "Finn Hale", "Gus Reid"):
        TherapistFactory(name=name, techniques=[clinic.swedish], hours=EVERY_DAY)
    # And one who does not work today: named under the grid, one more line to fit.
    TherapistFactory(name="Hana Moss", hours={(clinic.today.weekday() + 1) % 7: [("09:00", "17:00")]})
    staff("Reception", "desk")
    page = new_page({"viewport": {"width": A4_PRINTABLE_PX[0], "height": A4_PRINTABLE_PX[1]}})
    page.goto(f"{live_server.url}{SCHEDULE}?date={clinic.today.isoformat()}")
    log_in(page, "desk")
    expect(page.locator("section.schedule-column")).to_have_count(7)

    chrome = ["#header", ".breadcrumbs", "#nav-sidebar", ".schedule-tools"]
    for selector in chrome:
        expect(page.locator(selector)).to_be_visible()
    on_screen = page.evaluate(SIDEWAYS, page.viewport_size["width"])
    assert on_screen["grid"] > on_screen["scrollClient"] + 1, on_screen  # the check below can fail

    page.emulate_media(media="print")
    for selector in [*chrome, ".schedule-hint", "#footer", "#toggle-nav-sidebar"]:
        expect(page.locator(selector)).to_be_hidden()
    expect(page.locator("h1")).to_have_text(f"Schedule: {day_heading(clinic.today)}")
    expect(page.locator(".schedule-resting")).to_have_text(re.compile(r"Not working this day:\s+Hana Moss"))
    printed = page.evaluate(SIDEWAYS, page.viewport_size["width"])
    assert printed["grid"] <= printed["scrollClient"] + 1, f"the grid is wider than the A4 page: {printed}"
    assert printed["page"] <= printed["screen"], f"the page is wider than the A4 page: {printed}"
    # ... and uses that width (no room kept for the hidden sidebar), on one page's height.
    assert printed["scrollClient"] >= A4_PRINTABLE_PX[0] - 4, (
        f"the grid leaves the page half empty: {printed}"
    )
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= A4_PRINTABLE_PX[1], f"{height}px tall: more than one A4 page ({A4_PRINTABLE_PX[1]}px)"
    # Every column is on the page, the last one too, with its appointments.
    expect(column(page, "Gus Reid").locator("h2")).to_be_in_viewport()
    expect(column(page, "Ben Stone").locator("li.item-booked", has_text="Sam Patel")).to_be_visible()
    take_screenshot(page, "staff-06-schedule-print")

    # Chromium's own print to PDF, with the page's @page size (A4 landscape).
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(SCREENSHOT_DIR / "staff-06-schedule.pdf"), prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf)
    assert len(pages) == 1, f"the day prints on {len(pages)} pages, not one"
    boxes = {
        tuple(round(float(n)) for n in box.split()) for box in re.findall(rb"/MediaBox\s*\[([^\]]+)\]", pdf)
    }
    assert boxes == {(0, 0, 842, 595)}, f"not A4 landscape (842 x 595 pt): {boxes}"


def test_schedule_on_a_phone(phone_page, live_server, clinic):
    page = phone_page
    staff("Reception", "desk")
    page.goto(f"{live_server.url}{SCHEDULE}?date={clinic.today.isoformat()}")
    log_in(page, "desk")
    assert_day_schedule(page, clinic.today, ["Anna Field", "Ben Stone", "Cleo Marsh", "Dev Patel"])

    sizes = page.evaluate(SIDEWAYS, page.viewport_size["width"])
    assert sizes["page"] <= PHONE["viewport"]["width"], f"the page scrolls sideways: {sizes}"
    assert sizes["wider"] == [], f"wider than the screen: {sizes}"
    # Four columns do not fit a phone: the grid scrolls inside its own region instead.
    assert sizes["scrollWidth"] > sizes["scrollClient"], sizes
    region = page.get_by_role("region", name="Schedule grid")
    expect(region).to_be_visible()
    expect(column(page, "Dev Patel").locator("h2")).not_to_be_in_viewport()
    region.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
    expect(column(page, "Dev Patel").locator("h2")).to_be_in_viewport()
    assert page.evaluate("window.scrollX") == 0
    region.evaluate("(el) => { el.scrollLeft = 0; }")
    expect(column(page, "Anna Field").locator("h2")).to_be_in_viewport()
    take_screenshot(page, "staff-07-schedule-phone")


def test_free_time_left_by_a_cancellation_can_be_booked(desktop_page, live_server, clinic, axe_script):
    """A cancelled appointment used to be drawn over the gap it left, so the gap's link
    could not be clicked. It keeps a narrow lane at the side now."""
    page = desktop_page
    staff("Reception", "desk")
    day = clinic.today + timedelta(days=3)
    appointment(clinic.anna, clinic.swedish, at(day, "10:00"), client_name="Early Bird")
    appointment(
        clinic.anna,
        clinic.swedish,
        at(day, "11:15"),
        client_name="Sam Gone",
        status=AppointmentStatus.CANCELLED,
    )
    appointment(clinic.anna, clinic.swedish, at(day, "12:30"), client_name="Late Owl")
    page.goto(f"{live_server.url}{SCHEDULE}?date={day.isoformat()}")
    log_in(page, "desk")
    anna = column(page, "Anna Field")
    cancelled = anna.locator("li.item-cancelled")
    expect(cancelled.get_by_role("link")).to_have_accessible_name(
        re.compile(r"11:15–12:15\s+Sam Gone\s+Swedish, 60 min\s+Cancelled")
    )
    gap = anna.locator("li.item-free", has_text="11:15–12:30")
    expect(gap).to_contain_text(re.compile(r"11:15–12:30\s+Free\s+1 h 15 min"))
    # Side by side, not on top of each other.
    gap_box, cancelled_box = gap.bounding_box(), cancelled.bounding_box()
    assert gap_box["x"] + gap_box["width"] <= cancelled_box["x"], (gap_box, cancelled_box)
    take_screenshot(page, "staff-08-cancelled-aside")
    assert_accessible(page, "schedule with a cancellation")
    # Keyboard focus opens the cancelled block so its words can be read.
    narrow = cancelled_box["width"]
    cancelled.get_by_role("link").focus()
    expect(cancelled.locator(".schedule-title")).to_have_text("Sam Gone")
    assert cancelled.bounding_box()["width"] > narrow * 3
    take_screenshot(page, "staff-08-cancelled-focused", full_page=False)
    cancelled.get_by_role("link").blur()
    # A real click (Playwright refuses one that another element would catch).
    gap.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/admin/booking/appointment/add/\?"))
    expect(page.locator("#id_therapist")).to_have_value(str(clinic.anna.pk))
    expect(page.locator("#id_start_1")).to_have_value(re.compile(r"^11:15(:00)?$"))


CONTRAST = """(el) => {
    // WCAG contrast of the element's text colour against the first opaque background
    // behind it (walking up the ancestors).
    const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => {
        const c = [r, g, b].map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    let back = null;
    for (let node = el; node && !back; node = node.parentElement) {
        const colour = rgb(getComputedStyle(node).backgroundColor);
        if (colour.length < 4 || colour[3] > 0) back = colour;
    }
    back = back || [255, 255, 255];
    const fore = rgb(getComputedStyle(el).color);
    const [a, b] = [luminance(fore), luminance(back)].sort((x, y) => y - x);
    return {ratio: (a + 0.05) / (b + 0.05), fore, back};
}"""


def test_therapist_page_reads_clearly_in_24_hour_time(desktop_page, live_server, clinic):
    """The week-at-a-glance caption was about 1.2:1 against its background; the admin mixed
    "1 p.m." with 24-hour times and showed seconds in time boxes."""
    page = desktop_page
    staff("Manager", "boss")
    tomorrow = clinic.tomorrow
    TimeOff.objects.create(
        therapist=clinic.dev, start=at(tomorrow, "13:00"), end=at(tomorrow, "15:30"), reason="Course"
    )
    page.goto(f"{live_server.url}/admin/booking/therapist/{clinic.dev.pk}/change/")
    log_in(page, "boss")
    caption = page.locator(".weekly-grid caption")
    expect(caption).to_have_text("As saved; change it in “Working hours” below.")
    contrast = caption.evaluate(CONTRAST)
    assert contrast["ratio"] >= 4.5, f"the caption's contrast is {contrast}"
    # Working hours: 24-hour times with no seconds in the boxes.
    starts = page.locator("input[name^=working_hours-][name$=-start]")
    expect(starts.first).to_have_value("08:00")
    expect(page.locator("input[name^=working_hours-][name$=-end]").nth(1)).to_have_value("20:00")
    expect(page.locator("input[name^=time_off-][name$=-start_1]").first).to_have_value("13:00")
    expect(page.locator("input[name^=time_off-][name$=-end_1]").first).to_have_value("15:30")
    take_screenshot(page, "staff-09-therapist-page")
    # The appointment list and an appointment's page speak 24-hour times too.
    page.goto(f"{live_server.url}{APPOINTMENTS}{clinic.lena.pk}/change/")
    expect(page.locator("#id_start_1")).to_have_value("15:00")
    assert "p.m." not in page.content() and "a.m." not in page.content()
    page.goto(f"{live_server.url}{APPOINTMENTS}")
    expect(page.locator("#result_list")).to_contain_text("Lena Park")
    assert "p.m." not in page.content() and "a.m." not in page.content()
