"""A client books, moves and cancels a massage in a real Chromium: on a phone, on a desktop,
without JavaScript and with the keyboard alone; and two clients race for the same time.

The data is made with the factories; nothing freezes the clock. Every time chosen is in
the week the "Later" button shows (7 to 13 days ahead, in London), far enough ahead for
the default policy: two hours' notice, changes online until 24 hours before, 60 days ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking.choices import AppointmentStatus
from booking.models import Appointment
from booking.services import appointments
from tests.browser.conftest import take_screenshot
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory, seed_health_questions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = ["phone", "desktop"]
LONDON = ZoneInfo("Europe/London")
TECHNIQUE_URL = "/book/hot-stone/"


@dataclass
class Client:
    name: str
    email: str
    phone: str
    notes: str = ""


OLIVIA = Client("Olivia Brown", "olivia@example.com", "07700 900101", notes="Go gently on the shoulders.")
SAM = Client("Sam Patel", "sam@example.com", "07700 900202")


@pytest.fixture
def hot_stone(transactional_db):
    """A technique in two lengths, offered by three therapists (Monday to Saturday, 09 to 18)."""
    seed_health_questions()  # emptied by an earlier test's flush
    technique = TechniqueFactory(
        name="Hot stone",
        slug="hot-stone",
        summary="Warm basalt stones and slow strokes to melt deep tension.",
        description="Smooth heated stones are placed on the back and used to massage tight muscles.",
        suitable_for="Anyone who feels the cold, or carries tension in the back.",
        buffer_minutes=15,
    )
    short = TechniqueLengthFactory(technique=technique, duration_minutes=60, price="55.00")
    long = TechniqueLengthFactory(technique=technique, duration_minutes=90, price="80.00")
    amy = TherapistFactory(
        name="Amy Clarke",
        slug="amy-clarke",
        bio="Ten years of sports and relaxation massage.",
        techniques=[technique],
    )
    ben = TherapistFactory(
        name="Ben Hughes",
        slug="ben-hughes",
        bio="Calm, steady pressure; trained in Bali.",
        techniques=[technique],
    )
    chen = TherapistFactory(
        name="Chen Li", slug="chen-li", bio="Combines hot stones with acupressure.", techniques=[technique]
    )
    return SimpleNamespace(technique=technique, short=short, long=long, amy=amy, ben=ben, chen=chen)


# --------------------------------------------------------------------------- dates and words


def london_today() -> date:
    return timezone.now().astimezone(LONDON).date()


def later_week() -> list[date]:
    """The seven days the "Later" button shows from the first page of the strip."""
    today = london_today()
    return [today + timedelta(days=n) for n in range(7, 14)]


def open_days() -> list[date]:
    """The days of the later week on which the therapists work (not Sunday)."""
    return [day for day in later_week() if day.weekday() != 6]


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=LONDON)


def long_day(day: date) -> str:
    """Django's "l j F": Tuesday 10 March."""
    return f"{day:%A} {day.day} {day:%B}"


def short_day(day: date) -> str:
    """Django's "j M": 10 Mar."""
    return f"{day.day} {day:%b}"


def when(start: datetime, minutes: int) -> str:
    """The summary's "When": Tuesday 10 March 2026, 10:00 to 11:00."""
    end = start + timedelta(minutes=minutes)
    return f"{long_day(start.date())} {start:%Y}, {start:%H:%M} to {end:%H:%M}"


# --------------------------------------------------------------------------- page checks


WIDER_THAN = """(width) => {
    const over = document.documentElement.scrollWidth - width;
    const culprits = over <= 0 ? [] : [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > width + 0.5)
        .map((el) => el.outerHTML.slice(0, 160));
    return {over, culprits: culprits.slice(-4)};
}"""


def assert_no_sideways_scroll(page):
    # Against the screen's width, not window.innerWidth: a phone browser widens its layout
    # viewport to fit content that overflows, so innerWidth grows with the page.
    result = page.evaluate(WIDER_THAN, page.viewport_size["width"])
    assert result["over"] <= 0, (
        f"the page is {result['over']}px wider than the screen; widest: {result['culprits']}"
    )


def assert_no_third_party_requests(page, live_server):
    log = page.request_log
    assert any("/static/" in url for url in log.urls), "expected the site's own CSS/JS to load"
    assert log.foreign(live_server.url) == [], "requests left the site for a third party"


class Visit:
    """Numbered screenshots, no sideways scrolling and (with JavaScript) axe at every step."""

    def __init__(self, page, prefix: str, axe=None):
        self.page, self.prefix, self.axe, self.count = page, prefix, axe, 0

    def check(self, name: str) -> None:
        self.count += 1
        take_screenshot(self.page, f"{self.prefix}-{self.count:02d}-{name}")
        assert_no_sideways_scroll(self.page)
        if self.axe is not None:
            self.axe(self.page, f"{self.prefix} {name}")


def post_response(page, action):
    """Run ``action`` (a click that submits a form) and return the response to the POST."""
    with page.expect_response(lambda response: response.request.method == "POST") as info:
        action()
    return info.value


def follow_strip_link(page, link, *, js: bool, then) -> None:
    """Follow a day-strip or week link. With JavaScript it is swapped in place (a fetch, no
    page load); without, it is an ordinary page load. ``then`` waits for the result."""
    kinds: list[str] = []

    def record(request):
        if "/times/" in request.url or "/reschedule/" in request.url:
            kinds.append(request.resource_type)

    page.on("request", record)
    if js:
        page.evaluate("window.__sameDocument = true")
    link.click()
    then()
    page.remove_listener("request", record)
    if js:
        assert kinds == ["fetch"], f"expected one in-place fetch, got {kinds}"
        assert page.evaluate("window.__sameDocument === true"), "the page reloaded instead of swapping"
    else:
        assert kinds == ["document"], f"expected one page load, got {kinds}"


def day_link(page, day: date):
    return page.locator(".day-strip a").filter(
        has=page.locator(".date", has_text=re.compile(rf"^{re.escape(short_day(day))}$"))
    )


def time_link(page, start: datetime):
    return page.get_by_role("link", name=f"{start:%H:%M}, {long_day(start.date())}", exact=True)


def choose_later_week_and_day(page, day: date, *, js: bool, free: str, visit: Visit | None = None) -> None:
    """On a times page (booking or rescheduling): "Later week", then ``day`` in the strip."""
    week = later_week()
    heading = page.locator("#days-heading")
    follow_strip_link(
        page,
        page.get_by_role("link", name="Later week"),
        js=js,
        then=lambda: expect(heading).to_have_text(
            f"{short_day(week[0])} to {short_day(week[-1])} {week[-1]:%Y}"
        ),
    )
    expect(page).to_have_url(re.compile(rf"[?&]week={week[0].isoformat()}"))
    days = page.locator(".day-strip a")
    expect(days).to_have_count(7)
    # Sunday is in every week: the therapists do not work, and the strip says so in words
    # (the clinic is closed; or, with the one therapist of a move, they are not working).
    sunday = next(d for d in week if d.weekday() == 6)
    expect(day_link(page, sunday)).to_contain_text(re.compile("Closed|Not working"))
    expect(day_link(page, sunday)).not_to_contain_text("No free times")
    # With no day asked for, the first day with free times is shown.
    first_open = open_days()[0]
    expect(page.locator(".day-strip a[aria-current=date]")).to_have_count(1)
    expect(day_link(page, first_open)).to_have_attribute("aria-current", "date")
    if visit:
        visit.check("times-later-week")

    target = day_link(page, day)
    expect(target).to_contain_text(free)
    follow_strip_link(
        page, target, js=js, then=lambda: expect(page.locator("#times-heading")).to_have_text(long_day(day))
    )
    expect(target).to_have_attribute("aria-current", "date")
    expect(page.locator(".day-strip a[aria-current=date]")).to_have_count(1)
    expect(page).to_have_url(re.compile(rf"[?&]day={day.isoformat()}"))
    for part in ("Morning", "Afternoon", "Evening"):
        expect(page.locator(".part-heading", has_text=part)).to_have_count(1)


# --------------------------------------------------------------------------- the steps


def open_technique(page, live_server, visit: Visit | None):
    response = page.goto(live_server.url + "/book/")
    assert response.status == 200
    expect(page.locator("h1")).to_have_text("Book a massage")
    card = page.locator("#technique-hot-stone")
    expect(card.locator(".price-list li")).to_have_text(
        [re.compile(r"60 minutes\s+£55\.00"), re.compile(r"90 minutes\s+£80\.00")]
    )
    if visit:
        visit.check("techniques")
    card.get_by_role("link", name="Book Hot stone massage").click()
    expect(page).to_have_url(live_server.url + TECHNIQUE_URL)
    expect(page.locator("h1")).to_have_text("Hot stone massage")
    expect(page.locator(".booking-steps li[aria-current=step]")).to_contain_text("Massage and therapist")


def choose_length_and_therapist(page, *, minutes: int, therapist_name: str | None, visit: Visit | None):
    lengths = page.get_by_role("group", name="How long?")
    expect(lengths.get_by_role("radio")).to_have_count(2)
    # The shorter massage is suggested (no length is marked as the default); the radios
    # are real (hidden) inputs behind the cards.
    expect(lengths.get_by_role("radio", name=re.compile("^60 minutes"))).to_be_checked()
    therapists = page.get_by_role("group", name="With whom?")
    expect(therapists.get_by_role("radio")).to_have_count(4)
    expect(therapists.get_by_role("radio", name=re.compile("^Any available therapist"))).to_be_checked()
    if visit:
        visit.check("technique")

    page.locator(f"label[for=length-{minutes}]").click()
    expect(lengths.get_by_role("radio", name=re.compile(f"^{minutes} minutes"))).to_be_checked()
    if therapist_name:
        page.locator("label.therapist-card", has_text=therapist_name).click()
        expect(therapists.get_by_role("radio", name=re.compile(f"^{therapist_name}"))).to_be_checked()
    page.get_by_role("button", name="See free times").click()
    slug = therapist_name.lower().replace(" ", "-") if therapist_name else "any"
    expect(page).to_have_url(re.compile(rf"/book/hot-stone/times/\?length={minutes}&therapist={slug}$"))
    expect(page.locator("h1")).to_have_text("Choose a day and time")
    price = {60: "55.00", 90: "80.00"}[minutes]
    who = therapist_name or "any available therapist"
    expect(page.locator(".lead")).to_contain_text(f"Hot stone, {minutes} minutes (£{price}), with {who}.")


def answer_all_no(page) -> None:
    """Answer every health question no (each is a group of Yes/No radios)."""
    for question in page.locator(".health-question").all():
        question.get_by_role("radio", name="No").check()


def fill_details(page, client: Client) -> None:
    page.get_by_label("Your name").fill(client.name)
    page.get_by_label("Email").fill(client.email)
    page.get_by_label("Phone").fill(client.phone)
    answer_all_no(page)
    if client.notes:
        page.get_by_label("Anything your therapist should know?").fill(client.notes)
    page.get_by_label("I agree to the cancellation policy above").check()
    page.get_by_label("Type your full name to agree to the treatment consent").fill(client.name)


def details_then_review(
    page, client: Client, *, start: datetime, minutes: int, visit: Visit | None, errors: bool
):
    expect(page).to_have_url(re.compile(r"/book/hot-stone/details/\?"))
    expect(page.locator("h1")).to_have_text("Your details")
    summary = page.locator("aside .summary-list")
    expect(summary).to_contain_text(when(start, minutes))
    if visit:
        visit.check("details")
    if errors:
        # Only the name first: the rest is missing, and the name must survive the round trip.
        page.get_by_label("Your name").fill(client.name)
        page.get_by_role("button", name="Continue to check and confirm").click()
        # Email, phone, the policy, the typed name and the seven health questions.
        expect(page.locator("#form-errors")).to_have_text("Please check the 11 highlighted fields below.")
        expect(page.get_by_label("Your name")).to_have_value(client.name)
        expect(page.locator(".invalid-feedback:visible")).to_have_count(11)
        if visit:
            visit.check("details-errors")
    fill_details(page, client)
    page.get_by_role("button", name="Continue to check and confirm").click()
    expect(page).to_have_url(re.compile(r"/book/hot-stone/review/\?"))
    expect(page.locator("h1")).to_have_text("Check and confirm")
    expect(page.locator(".booking-steps li[aria-current=step]")).to_contain_text("Check and confirm")
    you = page.locator("section[aria-labelledby=you-heading]")
    for term, value in (
        ("Name", client.name),
        ("Email", client.email),
        ("Phone", client.phone),
        ("Are you pregnant?", "No"),
    ):
        expect(you.locator(f"dt:text-is('{term}') + dd")).to_have_text(value)


def confirm_booking(page):
    return post_response(page, lambda: page.get_by_role("button", name="Confirm booking").click())


def assert_booked(page, appointment: Appointment, *, therapist_name: str, start: datetime, minutes: int):
    expect(page).to_have_url(re.compile(r"/book/confirmed/[^/]+/$"))
    expect(page.locator("h1")).to_have_text("✓ You're booked")
    expect(page.locator(".confirmed-banner .reference")).to_have_text(appointment.reference)
    card = page.locator("section[aria-labelledby=appointment-heading]")
    expect(card).to_contain_text(when(start, minutes))
    expect(card).to_contain_text(therapist_name)
    expect(card.get_by_role("link", name="Add to calendar (.ics)")).to_have_attribute(
        "href", f"/book/manage/{appointment.manage_token}/calendar.ics"
    )
    expect(page.get_by_role("link", name="Manage your appointment")).to_have_attribute(
        "href", f"/book/manage/{appointment.manage_token}/"
    )


def only_new_appointment(before: set[int]) -> Appointment:
    [appointment] = Appointment.objects.exclude(pk__in=before).select_related("therapist")
    return appointment


def book(
    page, live_server, hot_stone, *, client, minutes, therapist, day, hhmm, visit, js=True, errors=False
):
    """Technique list to "You're booked"; returns the new appointment."""
    before = set(Appointment.objects.values_list("pk", flat=True))
    start = at(day, hhmm)
    open_technique(page, live_server, visit)
    choose_length_and_therapist(
        page, minutes=minutes, therapist_name=therapist.name if therapist else None, visit=visit
    )
    if visit:
        visit.check("times")
    free = {60: "33 free times", 90: "31 free times"}[minutes]  # every 15 minutes from 09:00
    choose_later_week_and_day(page, day, js=js, free=free, visit=None)
    if visit:
        visit.check("times-day")
    time_link(page, start).click()
    details_then_review(page, client, start=start, minutes=minutes, visit=visit, errors=errors)
    review = page.locator("section[aria-labelledby=booking-heading]")
    expect(review).to_contain_text(when(start, minutes))
    expect(review).to_contain_text(therapist.name if therapist else "Any available therapist")
    if visit:
        visit.check("review")
    assert not Appointment.objects.exclude(pk__in=before).exists(), "booked before confirming"
    response = confirm_booking(page)
    assert response.status == 302
    appointment = only_new_appointment(before)
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.start == start
    assert appointment.duration_minutes == minutes
    assert appointment.client_name == client.name and appointment.client_email == client.email
    if therapist:
        assert appointment.therapist == therapist
    assert_booked(page, appointment, therapist_name=appointment.therapist.name, start=start, minutes=minutes)
    if visit:
        visit.check("confirmed")
    return appointment


def someone_else_books(hot_stone, *, therapist, minutes, start) -> Appointment:
    length = hot_stone.short if minutes == 60 else hot_stone.long
    return appointments.appointment_book(
        technique=hot_stone.technique,
        length=length,
        therapist=therapist,
        start=start,
        client=appointments.ClientDetails(
            name="Quick Quinn", email="quinn@example.com", phone="07700 900999"
        ),
    )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_book_any_then_named_therapist_move_and_cancel(viewport, request, live_server, hot_stone, axe):
    page = request.getfixturevalue(f"{viewport}_page")
    visit = Visit(page, f"{viewport}-booking", axe)
    first_day, second_day, third_day = open_days()[1:4]

    # 1. Any available therapist, 60 minutes; the form is sent once with gaps first.
    anyone = book(
        page,
        live_server,
        hot_stone,
        client=OLIVIA,
        minutes=60,
        therapist=None,
        day=first_day,
        hhmm="10:00",
        visit=visit,
        errors=True,
    )
    # Everyone is free and has no bookings that day: the tie goes to the first by name.
    assert anyone.therapist == hot_stone.amy
    assert anyone.client_notes == OLIVIA.notes
    calendar = page.request.get(live_server.url + f"/book/manage/{anyone.manage_token}/calendar.ics")
    assert calendar.status == 200
    assert calendar.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in calendar.text()

    # 2. Ben Hughes, 90 minutes at 14:00; someone else takes that time while the client reads
    # the review page.
    before = set(Appointment.objects.values_list("pk", flat=True))
    start = at(second_day, "14:00")
    open_technique(page, live_server, None)
    choose_length_and_therapist(page, minutes=90, therapist_name="Ben Hughes", visit=None)
    choose_later_week_and_day(page, second_day, js=True, free="31 free times")
    time_link(page, start).click()
    details_then_review(page, SAM, start=start, minutes=90, visit=None, errors=False)
    quinn = someone_else_books(hot_stone, therapist=hot_stone.ben, minutes=90, start=start)
    before.add(quinn.pk)
    response = confirm_booking(page)
    assert response.status == 409
    taken = page.locator("#slot-taken")
    expect(taken).to_contain_text(
        f"Sorry, 14:00 on {long_day(second_day)} has just been booked by someone else"
    )
    expect(page.get_by_role("button", name="Confirm booking")).to_have_count(0)
    # Ben is busy 14:00 to 15:45 (90 minutes and the 15-minute clean-up): the nearest free
    # starts either side, in time order.
    label = f"{second_day:%a} {second_day.day} {second_day:%b}"
    alternatives = taken.get_by_role("link", name=re.compile(rf"^{label}, \d\d:\d\d$"))
    expect(alternatives).to_have_text(
        [f"{label}, {t}" for t in ("11:45", "12:00", "12:15", "15:45", "16:00", "16:15")]
    )
    visit.check("taken")
    assert not Appointment.objects.exclude(pk__in=before).exists()

    alternatives.nth(3).click()  # 15:45
    new_start = at(second_day, "15:45")
    expect(page.locator("h1")).to_have_text("Check and confirm")
    expect(page.locator("#slot-taken")).to_have_count(0)
    expect(page.locator("section[aria-labelledby=booking-heading]")).to_contain_text(when(new_start, 90))
    expect(page.locator("section[aria-labelledby=you-heading]")).to_contain_text(SAM.name)  # details kept
    assert confirm_booking(page).status == 302
    ben = only_new_appointment(before)
    assert (ben.therapist, ben.start, ben.duration_minutes, ben.status) == (
        hot_stone.ben,
        new_start,
        90,
        AppointmentStatus.CONFIRMED,
    )
    assert_booked(page, ben, therapist_name="Ben Hughes", start=new_start, minutes=90)
    visit.check("confirmed-ben")

    # 3. The manage link from the confirmation.
    page.get_by_role("link", name="Manage your appointment").click()
    expect(page).to_have_url(f"{live_server.url}/book/manage/{ben.manage_token}/")
    expect(page.locator("h1")).to_have_text("Your appointment")
    deadline = new_start - timedelta(hours=24)
    expect(page.locator("section[aria-labelledby=next-heading]")).to_contain_text(
        f"{long_day(deadline.date())}, {deadline:%H:%M}"
    )
    visit.check("manage")

    # 4. Move it to 15:00 on the next working day, with the same therapist.
    page.get_by_role("link", name="Change the time").click()
    expect(page).to_have_url(f"{live_server.url}/book/manage/{ben.manage_token}/reschedule/")
    expect(page.locator("h1")).to_have_text("Choose a new time")
    expect(page.locator(".lead")).to_contain_text(
        f"Hot stone, 90 minutes with Ben Hughes. Now booked for {long_day(second_day)} at 15:45"
    )
    visit.check("reschedule-times")
    choose_later_week_and_day(page, third_day, js=True, free="31 free times")
    visit.check("reschedule-day")
    moved_start = at(third_day, "15:00")
    time_link(page, moved_start).click()
    expect(page).to_have_url(
        re.compile(rf"/book/manage/{re.escape(ben.manage_token)}/reschedule/confirm/\?start=")
    )
    expect(page.locator("h1")).to_have_text("Move your appointment?")
    moves = page.locator(".move-list")
    expect(moves.locator("del")).to_have_text(f"{long_day(second_day)} {second_day:%Y}, 15:45")
    expect(moves.locator("ins")).to_have_text(f"{long_day(third_day)} {third_day:%Y}, 15:00 to 16:30")
    visit.check("reschedule-confirm")
    ben.refresh_from_db()
    assert ben.start == new_start, "moved before confirming"
    response = post_response(page, lambda: page.get_by_role("button", name="Confirm the new time").click())
    assert response.status == 302
    expect(page).to_have_url(f"{live_server.url}/book/manage/{ben.manage_token}/")
    expect(page.get_by_role("status").filter(has_text="moved")).to_have_text(
        "Your appointment has been moved. We have emailed you the new time."
    )
    expect(page.locator("section[aria-labelledby=appointment-heading]")).to_contain_text(
        when(moved_start, 90)
    )
    ben.refresh_from_db()
    assert (ben.start, ben.therapist, ben.status) == (moved_start, hot_stone.ben, AppointmentStatus.CONFIRMED)
    assert ben.sequence == 1
    visit.check("manage-moved")

    # 5. Cancel it.
    page.get_by_role("link", name="Cancel the appointment").click()
    expect(page).to_have_url(f"{live_server.url}/book/manage/{ben.manage_token}/cancel/")
    expect(page.locator("h1")).to_have_text("Cancel this appointment?")
    expect(page.locator(".summary-list")).to_contain_text(when(moved_start, 90))
    visit.check("cancel-confirm")
    ben.refresh_from_db()
    assert ben.status == AppointmentStatus.CONFIRMED
    response = post_response(page, lambda: page.get_by_role("button", name="Yes, cancel it").click())
    assert response.status == 302
    expect(page).to_have_url(f"{live_server.url}/book/manage/{ben.manage_token}/")
    expect(page.locator(".alert-success")).to_have_text(
        "Your appointment is cancelled. We have emailed you to confirm."
    )
    expect(page.get_by_text("This appointment is cancelled.")).to_be_visible()
    expect(page.locator("#appointment-heading")).to_have_text("Your appointment: cancelled")
    expect(page.get_by_role("link", name="Change the time")).to_have_count(0)
    expect(page.get_by_role("link", name="Add to calendar (.ics)")).to_have_count(0)
    visit.check("manage-cancelled")
    ben.refresh_from_db()
    assert ben.status == AppointmentStatus.CANCELLED
    # The other bookings are untouched.
    anyone.refresh_from_db()
    quinn.refresh_from_db()
    assert anyone.status == quinn.status == AppointmentStatus.CONFIRMED
    assert Appointment.objects.count() == 3

    assert_no_third_party_requests(page, live_server)


def test_booking_works_without_javascript(nojs_page, live_server, hot_stone):
    page = nojs_page
    visit = Visit(page, "nojs-booking")  # axe needs JavaScript in the page: checked in the test above
    day = open_days()[2]
    appointment = book(
        page,
        live_server,
        hot_stone,
        client=OLIVIA,
        minutes=90,
        therapist=hot_stone.chen,
        day=day,
        hhmm="11:30",
        visit=visit,
        js=False,
        errors=True,
    )
    assert appointment.therapist == hot_stone.chen
    # Every day-strip step was a full page load (checked in follow_strip_link); one booking.
    assert Appointment.objects.count() == 1

    # Manage, move and cancel work from plain links and forms too.
    page.get_by_role("link", name="Manage your appointment").click()
    page.get_by_role("link", name="Change the time").click()
    later = open_days()[3]
    choose_later_week_and_day(page, later, js=False, free="31 free times")
    # On its own day, the appointment's time is marked as the current one, not offered.
    day_link(page, day).click()
    expect(page.locator("#times-heading")).to_have_text(long_day(day))
    expect(page.locator(".time-current")).to_have_text("11:30 (your time now)")
    expect(time_link(page, at(day, "11:30"))).to_have_count(0)
    expect(time_link(page, at(day, "11:45"))).to_have_count(1)
    visit.check("reschedule-own-time")
    day_link(page, later).click()
    expect(page.locator("#times-heading")).to_have_text(long_day(later))
    time_link(page, at(later, "09:00")).click()
    assert (
        post_response(page, lambda: page.get_by_role("button", name="Confirm the new time").click()).status
        == 302
    )
    expect(page.get_by_role("status").filter(has_text="moved")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.start == at(later, "09:00")
    visit.check("moved")
    page.get_by_role("link", name="Cancel the appointment").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_text("This appointment is cancelled.")).to_be_visible()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    visit.check("cancelled")
    assert_no_third_party_requests(page, live_server)


def test_long_email_and_name_wrap_on_a_phone(phone_page, live_server, hot_stone):
    """At 375 px a 29-character email address used to push the review page sideways."""
    page = phone_page
    long = Client("Maximilian Featherstonehaugh-Worthington", "annabelle.whitfield@gmail.com", "07700 900303")
    assert len(long.email) == 29
    start = at(open_days()[1], "10:00")
    query = urlencode({"length": 60, "therapist": "any", "start": start.isoformat(timespec="minutes")})
    page.goto(f"{live_server.url}{TECHNIQUE_URL}details/?{query}")
    expect(page.locator("h1")).to_have_text("Your details")
    fill_details(page, long)
    # Ticked boxes are the clinic's green, not Bootstrap's blue (13, 110, 253).
    green = "rgb(47, 93, 80)"
    for ticked in (
        page.get_by_role("group", name=re.compile("^Are you pregnant")).get_by_role("radio", name="No"),
        page.get_by_label("I agree to the cancellation policy above"),
    ):
        expect(ticked).to_have_css("background-color", green)
        expect(ticked).to_have_css("border-color", green)
    page.get_by_role("button", name="Continue to check and confirm").click()
    expect(page.locator("h1")).to_have_text("Check and confirm")
    expect(page.locator("section[aria-labelledby=you-heading]")).to_contain_text(long.email)
    take_screenshot(page, "phone-long-01-review")
    assert_no_sideways_scroll(page)
    assert confirm_booking(page).status == 302
    expect(page.locator("h1")).to_have_text("✓ You're booked")
    expect(page.locator(".confirmed-banner")).to_contain_text(long.email)
    take_screenshot(page, "phone-long-02-confirmed")
    assert_no_sideways_scroll(page)
    page.get_by_role("link", name="Manage your appointment").click()
    expect(page.locator("h1")).to_have_text("Your appointment")
    take_screenshot(page, "phone-long-03-manage")
    assert_no_sideways_scroll(page)


# --------------------------------------------------------------------------- keyboard only

FOCUS_STYLE = """() => {
    let el = document.activeElement;
    // The radio cards: the real radio is invisible; its label (the card) shows the focus.
    if (el.matches('.choice input')) { el = el.nextElementSibling; }
    const style = getComputedStyle(el);
    return {
        tag: el.tagName + (el.id ? "#" + el.id : "") + "." + String(el.className).split(" ").join("."),
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth),
        boxShadow: style.boxShadow,
    };
}"""


def assert_focus_visible(page, what: str) -> None:
    style = page.evaluate(FOCUS_STYLE)
    outline = style["outlineStyle"] != "none" and style["outlineWidth"] >= 2
    shadow = style["boxShadow"] != "none"
    assert outline or shadow, f"{what}: no visible focus indicator on {style['tag']}: {style}"


def is_focused(locator) -> bool:
    return locator.evaluate("el => el === document.activeElement")


def tab_to(page, locator, *, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until ``locator`` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if locator.count() == 1 and is_focused(locator):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{limit} presses of {key} never reached {locator}")


def test_booking_with_the_keyboard_only(desktop_page, live_server, hot_stone):
    page = desktop_page
    day = open_days()[2]  # not the day the later week opens on
    start = at(day, "13:00")
    page.goto(live_server.url + TECHNIQUE_URL)

    # How long? Tab reaches the chosen card (60 minutes); arrow keys move to 90 and back.
    ninety = page.get_by_role("radio", name=re.compile("^90 minutes"))
    sixty = page.get_by_role("radio", name=re.compile("^60 minutes"))
    tab_to(page, sixty)
    assert_focus_visible(page, "length card")
    page.keyboard.press("ArrowRight")
    expect(ninety).to_be_focused()
    expect(ninety).to_be_checked()
    page.keyboard.press("ArrowLeft")
    expect(sixty).to_be_focused()
    expect(sixty).to_be_checked()
    take_screenshot(page, "keyboard-01-length", full_page=False)

    # With whom? The next Tab enters the therapist group at "Any"; arrows move to Ben.
    page.keyboard.press("Tab")
    expect(page.get_by_role("radio", name=re.compile("^Any available"))).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    ben = page.get_by_role("radio", name=re.compile("^Ben Hughes"))
    expect(ben).to_be_focused()
    expect(ben).to_be_checked()
    assert_focus_visible(page, "therapist card")
    take_screenshot(page, "keyboard-02-therapist", full_page=False)

    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="See free times")).to_be_focused()
    assert_focus_visible(page, "See free times button")
    take_screenshot(page, "keyboard-03-submit", full_page=False)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/times/\?length=60&therapist=ben-hughes$"))

    # The later week, then back up (Shift+Tab) into the strip to the day.
    week = later_week()
    tab_to(page, page.get_by_role("link", name="Later week"))
    assert_focus_visible(page, "Later week link")
    page.keyboard.press("Enter")
    expect(page.locator("#days-heading")).to_contain_text(short_day(week[0]))
    # The swapped-in times take the focus, so the next key press continues from there.
    expect(page.locator("#times-heading")).to_be_focused()
    target = day_link(page, day)
    tab_to(page, target, backwards=True)
    assert_focus_visible(page, "day in the strip")
    take_screenshot(page, "keyboard-04-day", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("#times-heading")).to_have_text(long_day(day))
    expect(day_link(page, day)).to_have_attribute("aria-current", "date")
    slot = time_link(page, start)
    tab_to(page, slot)
    assert_focus_visible(page, "time button")
    take_screenshot(page, "keyboard-05-time", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Your details")

    # The form, typed.
    name = page.get_by_label("Your name")
    tab_to(page, name)
    assert_focus_visible(page, "name field")
    page.keyboard.type(SAM.name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(SAM.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Phone")).to_be_focused()
    page.keyboard.type(SAM.phone)
    page.keyboard.press("Tab")
    no = page.get_by_role("group", name=re.compile("^Are you pregnant")).get_by_role("radio", name="No")
    expect(no).to_be_focused()
    assert_focus_visible(page, "pregnancy radio")
    page.keyboard.press("Space")
    expect(no).to_be_checked()
    # The other questions, each reached by Tab and answered with Space.
    for question in page.locator(".health-question").all()[1:]:
        other_no = question.get_by_role("radio", name="No")
        tab_to(page, other_no)
        page.keyboard.press("Space")
        expect(other_no).to_be_checked()
    agree = page.get_by_label("I agree to the cancellation policy above")
    tab_to(page, agree)
    assert_focus_visible(page, "policy checkbox")
    page.keyboard.press("Space")
    expect(agree).to_be_checked()
    page.keyboard.press("Tab")
    consent_name = page.get_by_label("Type your full name to agree to the treatment consent")
    expect(consent_name).to_be_focused()
    page.keyboard.type(SAM.name)
    take_screenshot(page, "keyboard-06-details", full_page=False)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Continue to check and confirm")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Check and confirm")

    confirm = page.get_by_role("button", name="Confirm booking")
    tab_to(page, confirm)
    assert_focus_visible(page, "Confirm booking button")
    take_screenshot(page, "keyboard-07-confirm", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("✓ You're booked")
    appointment = Appointment.objects.get()
    assert (
        appointment.therapist,
        appointment.start,
        appointment.duration_minutes,
        appointment.client_name,
    ) == (
        hot_stone.ben,
        start,
        60,
        SAM.name,
    )
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert not any(answer["yes"] for answer in appointment.intake.answers.values())


# --------------------------------------------------------------------------- validation


def details_url(live_server, *, therapist: str, minutes: int, start: datetime) -> str:
    query = urlencode(
        {"length": minutes, "therapist": therapist, "start": start.isoformat(timespec="minutes")}
    )
    return f"{live_server.url}/book/hot-stone/details/?{query}"


def assert_error_announced(page, field_id: str, message: str) -> None:
    """The field says it is invalid and its description (read with it) includes the error,
    which is shown right beside it."""
    field = page.locator(f"#{field_id}")
    expect(field).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{field_id}_error")
    expect(error).to_be_visible()
    expect(error).to_have_text(message)
    expect(field).to_have_attribute("aria-describedby", re.compile(rf"(^|\s){field_id}_error(\s|$)"))
    expect(field).to_have_accessible_description(re.compile(re.escape(message)))
    # Beside the field: inside the same form group, just below it.
    assert page.locator(f"#div_{field_id} #{field_id}_error").count() == 1
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40, (field_id, field_box, error_box)


def test_details_errors_are_shown_and_announced_beside_each_field(desktop_page, live_server, hot_stone, axe):
    page = desktop_page
    start = at(open_days()[0], "09:30")
    page.goto(details_url(live_server, therapist="amy-clarke", minutes=60, start=start))
    expect(page.locator("h1")).to_have_text("Your details")
    required = "This field is required."

    # Everything empty.
    response = post_response(
        page, lambda: page.get_by_role("button", name="Continue to check and confirm").click()
    )
    assert response.status == 200
    summary = page.locator("#form-errors")
    expect(summary).to_have_text("Please check the 12 highlighted fields below.")  # 5 + 7 questions
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_be_focused()  # booking.js moves the focus there
    assert_error_announced(page, "id_name", required)
    assert_error_announced(page, "id_email", required)
    assert_error_announced(page, "id_phone", required)
    assert_error_announced(page, "id_agree_policy", "Please agree to the cancellation policy to book.")
    # The radios: crispy-bootstrap5 marks each radio invalid and describes the group (the
    # fieldset), not each radio, with the error.
    pregnant = page.get_by_role("group", name=re.compile("^Are you pregnant"))
    expect(pregnant).to_have_attribute(
        "aria-describedby", re.compile(r"(^|\s)id_health_pregnancy_error(\s|$)")
    )
    expect(pregnant).to_have_accessible_description(re.compile("Please answer this question."))
    for radio in pregnant.get_by_role("radio").all():
        expect(radio).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#div_id_health_pregnancy #id_health_pregnancy_error")).to_have_text(
        "Please answer this question."
    )
    expect(page.locator("#id_health_pregnancy_error")).to_be_visible()
    # Optional fields are not marked.
    expect(page.locator("#id_notes")).not_to_have_attribute("aria-invalid", "true")
    take_screenshot(page, "desktop-details-all-errors")
    axe(page, "details with every error")

    # Some typed, some wrong, some missing: what was typed stays, only the rest is marked.
    page.get_by_label("Your name").fill("  Olivia   Brown ")
    page.get_by_label("Email").fill("olivia@example")
    page.get_by_label("Phone").fill("call me")
    page.get_by_label("Anything your therapist should know?").fill("Left knee is sore.")
    answer_all_no(page)
    page.get_by_role("group", name=re.compile("^Have you had an injury")).get_by_role(
        "radio", name="Yes"
    ).check()
    page.get_by_label("What and when? (if yes)").fill("Knee surgery in May.")
    pregnant.get_by_role("radio", name="Yes").check()
    page.get_by_label("How many weeks? (if yes)").fill("20")
    page.get_by_role("button", name="Continue to check and confirm").click()
    expect(summary).to_have_text("Please check the 4 highlighted fields below.")
    expect(page.get_by_label("Your name")).to_have_value("  Olivia   Brown ")  # as typed; tidied when saved
    expect(page.get_by_label("Email")).to_have_value("olivia@example")
    expect(page.get_by_label("Phone")).to_have_value("call me")
    expect(page.get_by_label("Anything your therapist should know?")).to_have_value("Left knee is sore.")
    expect(page.get_by_label("What and when? (if yes)")).to_have_value("Knee surgery in May.")
    expect(page.get_by_label("How many weeks? (if yes)")).to_have_value("20")
    expect(pregnant.get_by_role("radio", name="Yes")).to_be_checked()
    expect(page.get_by_label("I agree to the cancellation policy above")).not_to_be_checked()
    expect(page.locator("#id_name")).not_to_have_attribute("aria-invalid", "true")
    assert_error_announced(page, "id_email", "Enter a valid email address.")
    assert_error_announced(
        page,
        "id_phone",
        "That is not a phone number we can call. Enter it as you would dial it, such as 07700 900123, "
        "or with the country code, such as +33 6 12 34 56 78.",
    )
    assert_error_announced(page, "id_agree_policy", "Please agree to the cancellation policy to book.")
    expect(page.locator("#id_health_pregnancy_error")).to_have_count(0)
    # Help text is still read with the field, after the error.
    expect(page.locator("#id_email")).to_have_accessible_description(
        re.compile(r"We send your confirmation here\.")
    )
    take_screenshot(page, "desktop-details-some-errors")
    axe(page, "details with some errors")

    # Put right: on to the review, with the answers as given.
    page.get_by_label("Email").fill("olivia@example.com")
    page.get_by_label("Phone").fill("07700 900101")
    page.get_by_label("I agree to the cancellation policy above").check()
    page.get_by_label("Type your full name to agree to the treatment consent").fill("olivia brown")
    page.get_by_role("button", name="Continue to check and confirm").click()
    expect(page.locator("h1")).to_have_text("Check and confirm")
    you = page.locator("section[aria-labelledby=you-heading]")
    for term, value in (
        ("Name", "Olivia Brown"),
        ("Email", "olivia@example.com"),
        ("Are you pregnant?", "Yes. How many weeks? 20"),
        ("Have you had an injury or surgery in the last six months?", "Yes. Knee surgery in May."),
        ("Notes", "Left knee is sore."),
    ):
        expect(you.locator(f"dt:text-is('{term}') + dd")).to_have_text(value)
    assert not Appointment.objects.exists()


# --------------------------------------------------------------------------- the race


def test_two_clients_race_for_the_same_time(new_page, live_server, hot_stone, axe):
    day = open_days()[0]
    start = at(day, "10:00")
    clients = {"first": OLIVIA, "second": SAM}
    pages = {}
    for who, client in clients.items():
        page = new_page()
        page.goto(details_url(live_server, therapist="chen-li", minutes=60, start=start))
        fill_details(page, client)
        page.get_by_role("button", name="Continue to check and confirm").click()
        expect(page.locator("h1")).to_have_text("Check and confirm")
        expect(page.locator("section[aria-labelledby=booking-heading]")).to_contain_text(when(start, 60))
        expect(page.locator("#slot-taken")).to_have_count(0)
        pages[who] = page

    # Both press "Confirm booking" before either answer arrives.
    statuses: dict[str, int] = {}
    for who, page in pages.items():
        page.on(
            "response",
            lambda response, who=who: (
                response.request.method == "POST" and statuses.setdefault(who, response.status)
            ),
        )
    for page in pages.values():
        page.get_by_role("button", name="Confirm booking").click(no_wait_after=True)
    for page in pages.values():
        expect(page.locator(".confirmed-banner, #slot-taken")).to_be_visible()
    assert sorted(statuses.values()) == [302, 409], statuses

    [winner] = [who for who, status in statuses.items() if status == 302]
    [loser] = [who for who, status in statuses.items() if status == 409]
    [booked] = Appointment.objects.filter(start=start)
    assert booked.therapist == hot_stone.chen and booked.client_name == clients[winner].name
    assert Appointment.objects.count() == 1
    expect(pages[winner].locator("h1")).to_have_text("✓ You're booked")
    expect(pages[winner].locator(".reference").first).to_have_text(booked.reference)

    page = pages[loser]
    taken = page.locator("#slot-taken")
    expect(taken).to_contain_text(f"Sorry, 10:00 on {long_day(day)} has just been booked by someone else")
    expect(page.get_by_role("button", name="Confirm booking")).to_have_count(0)
    links = taken.locator("ul a")
    expect(links).to_have_count(6)
    # Chen is busy 10:00 to 11:15 with the clean-up, and works from 09:00.
    label = f"{day:%a} {day.day} {day:%b}"
    expect(links).to_have_text(
        [f"{label}, {t}" for t in ("11:15", "11:30", "11:45", "12:00", "12:15", "12:30")]
    )
    take_screenshot(page, "desktop-race-taken")
    axe(page, "race: time taken")

    links.first.click()
    expect(page.locator("h1")).to_have_text("Check and confirm")
    expect(page.locator("#slot-taken")).to_have_count(0)
    alternative = at(day, "11:15")
    expect(page.locator("section[aria-labelledby=booking-heading]")).to_contain_text(when(alternative, 60))
    expect(page.locator("section[aria-labelledby=you-heading]")).to_contain_text(clients[loser].name)
    assert confirm_booking(page).status == 302
    expect(page.locator("h1")).to_have_text("✓ You're booked")
    second = Appointment.objects.get(start=alternative)
    assert (second.therapist, second.client_name, second.status) == (
        hot_stone.chen,
        clients[loser].name,
        AppointmentStatus.CONFIRMED,
    )
    assert Appointment.objects.filter(start=start).count() == 1
    take_screenshot(page, "desktop-race-second-booked")
