"""A session for two (issue 12), booked in a real Chromium on a 375 px phone with the
keyboard alone: "For two", a therapist for each seat and a gender preference, both
guests' details and health answers, one confirmation for both; axe clean at each step.

The data is made with the factories; nothing freezes the clock (see test_booking.py for
the week the "Later" button shows).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from booking.choices import AppointmentStatus, TherapistGender
from booking.models import Appointment, Room
from tests.browser.conftest import take_screenshot
from tests.browser.test_booking import (
    assert_focus_visible,
    assert_no_sideways_scroll,
    assert_no_third_party_requests,
    at,
    day_link,
    long_day,
    open_days,
    tab_to,
    time_link,
)
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory, seed_health_questions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def side_by_side(transactional_db):
    """A technique offered for two; two female therapists and one male; a room for two."""
    seed_health_questions()
    technique = TechniqueFactory(
        name="Side by side", slug="side-by-side", summary="Relax together.", buffer_minutes=15, for_two=True
    )
    TechniqueLengthFactory(technique=technique, duration_minutes=60, price="60.00")
    amy = TherapistFactory(
        name="Amy Clarke", slug="amy-clarke", gender=TherapistGender.FEMALE, techniques=[technique]
    )
    cara = TherapistFactory(
        name="Cara Jones", slug="cara-jones", gender=TherapistGender.FEMALE, techniques=[technique]
    )
    ben = TherapistFactory(
        name="Ben Hughes", slug="ben-hughes", gender=TherapistGender.MALE, techniques=[technique]
    )
    room = Room.objects.create(name="Garden room", capacity=2)
    return SimpleNamespace(technique=technique, amy=amy, cara=cara, ben=ben, room=room)


class Steps:
    """Numbered screenshots, no sideways scrolling and axe at every step."""

    def __init__(self, page, axe):
        self.page, self.axe, self.count = page, axe, 0

    def check(self, name: str) -> None:
        self.count += 1
        take_screenshot(self.page, f"phone-couples-{self.count:02d}-{name}")
        assert_no_sideways_scroll(self.page)
        self.axe(self.page, f"couples {name}")


def answer_no_to_each_question(page, scope) -> None:
    for question in scope.locator(".health-question").all():
        no = question.get_by_role("radio", name="No")
        tab_to(page, no, limit=120)
        page.keyboard.press("Space")
        expect(no).to_be_checked()


def test_a_couples_booking_on_a_phone_by_keyboard(phone_page, live_server, side_by_side, axe):
    page = phone_page
    steps = Steps(page, axe)
    day = open_days()[1]
    start = at(day, "14:00")
    page.goto(f"{live_server.url}/book/side-by-side/")

    # For one or for two: Tab into the group, the arrow key chooses "For two".
    for_one = page.get_by_role("radio", name=re.compile("^For one"))
    for_two = page.get_by_role("radio", name=re.compile("^For two"))
    tab_to(page, for_one)
    expect(for_one).to_be_checked()
    page.keyboard.press("ArrowRight")
    expect(for_two).to_be_focused()
    expect(for_two).to_be_checked()
    assert_focus_visible(page, "for two card")
    steps.check("for-two")
    see = page.get_by_role("button", name="See free times")
    tab_to(page, see)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/times/\?.*party=2"))

    # The times page: a therapist for each seat (the guest's named), and a female
    # therapist for the seat left to "any available".
    steps.check("times")
    guest_seat = page.get_by_label("Your guest's therapist")
    tab_to(page, guest_seat)
    assert_focus_visible(page, "guest's therapist select")
    guest_seat.press("ArrowDown")  # Amy Clarke, the first after "Any available"
    expect(guest_seat).to_have_value("amy-clarke")
    # Tab enters the group at its chosen radio, "No preference"; the arrow key moves on.
    tab_to(page, page.get_by_role("radio", name="No preference"))
    assert_focus_visible(page, "gender radio")
    page.keyboard.press("ArrowRight")
    female = page.get_by_role("radio", name="A female therapist")
    expect(female).to_be_focused()
    expect(female).to_be_checked()
    show = page.get_by_role("button", name="Show free times")
    tab_to(page, show)
    page.keyboard.press("Enter")
    expect(page).to_have_url(
        re.compile(r"therapist2=amy-clarke.*gender=female|gender=female.*therapist2=amy-clarke")
    )
    expect(page.get_by_label("Your guest's therapist")).to_have_value("amy-clarke")
    expect(page.get_by_role("radio", name="A female therapist")).to_be_checked()

    later = page.get_by_role("link", name="Later week")
    tab_to(page, later)
    page.keyboard.press("Enter")
    expect(page.locator("#times-heading")).to_be_focused()
    tab_to(page, day_link(page, day), backwards=True)
    page.keyboard.press("Enter")
    expect(page.locator("#times-heading")).to_have_text(long_day(day))
    slot = time_link(page, start)
    tab_to(page, slot)
    assert_focus_visible(page, "time button")
    steps.check("day")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Your details")

    # Both guests: contact details, each one's own health answers, both agree.
    name = page.get_by_label("Your name")
    tab_to(page, name)
    page.keyboard.type("Olivia Brown")
    page.keyboard.press("Tab")
    page.keyboard.type("olivia@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("07700 900101")
    answer_no_to_each_question(page, page.locator("fieldset").filter(has_text="Before your massage: you"))
    guest_name = page.get_by_label("Your guest's name")
    tab_to(page, guest_name)
    page.keyboard.type("Noah Green")
    answer_no_to_each_question(page, page.locator("fieldset").filter(has_text="Before your guest's massage"))
    for label in (
        "I agree to the cancellation policy above",
        "My guest agrees to the cancellation policy above",
    ):
        box = page.get_by_label(label)
        tab_to(page, box)
        page.keyboard.press("Space")
        expect(box).to_be_checked()
    tab_to(page, page.get_by_label("Type your full name to agree to the treatment consent above"))
    page.keyboard.type("Olivia Brown")
    tab_to(
        page, page.get_by_label("Your guest types their full name to agree to the treatment consent above")
    )
    page.keyboard.type("Noah Green")
    steps.check("details")
    tab_to(page, page.get_by_role("button", name="Continue to check and confirm"))
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Check and confirm")
    expect(page.get_by_role("heading", name="Your guest")).to_be_visible()
    steps.check("review")

    confirm = page.get_by_role("button", name="Confirm booking")
    tab_to(page, confirm)
    assert_focus_visible(page, "Confirm booking button")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("✓ You're booked")
    expect(page.get_by_text("Noah Green, with Amy Clarke")).to_be_visible()
    steps.check("booked")

    seats = list(Appointment.objects.order_by("seat"))
    assert [(a.seat, a.client_name) for a in seats] == [(1, "Olivia Brown"), (2, "Noah Green")]
    assert seats[0].therapist == side_by_side.cara  # "any available" female, Amy being the guest's
    assert seats[1].therapist == side_by_side.amy
    assert {a.start for a in seats} == {start} and {a.room for a in seats} == {side_by_side.room}
    assert {a.status for a in seats} == {AppointmentStatus.CONFIRMED}
    assert seats[0].reference == seats[1].reference
    assert_no_third_party_requests(page, live_server)


def test_a_couples_booking_without_javascript_then_moved_and_cancelled(nojs_page, live_server, side_by_side):
    """Plain links and forms all the way: the therapists' form, both guests, one booking,
    and the manage link moving and cancelling both seats."""
    page = nojs_page
    day, later = open_days()[1], open_days()[2]
    page.goto(f"{live_server.url}/book/side-by-side/times/?length=60&therapist=any&party=2&therapist2=any")
    page.get_by_label("Your therapist", exact=True).select_option("ben-hughes")
    page.get_by_role("radio", name="A female therapist").check()
    page.get_by_role("button", name="Show free times").click()
    expect(page).to_have_url(re.compile(r"therapist=ben-hughes.*gender=female"))
    page.get_by_role("link", name="Later week").click()
    day_link(page, day).click()
    time_link(page, at(day, "10:00")).click()
    expect(page.locator("h1")).to_have_text("Your details")
    page.get_by_label("Your name").fill("Olivia Brown")
    page.locator("#id_email").fill("olivia@example.com")
    page.locator("#id_phone").fill("07700 900101")
    for no in page.locator(".health-question").get_by_role("radio", name="No").all():
        no.check()
    page.get_by_label("Your guest's name").fill("Noah Green")
    page.get_by_label("I agree to the cancellation policy above").check()
    page.get_by_label("My guest agrees to the cancellation policy above").check()
    page.get_by_label("Type your full name to agree to the treatment consent above").fill("Olivia Brown")
    # The guest's typed name left out: the page says so and keeps everything else.
    page.get_by_role("button", name="Continue to check and confirm").click()
    expect(page.locator("#form-errors")).to_contain_text("Please check the 1 highlighted field below.")
    expect(page.get_by_label("Your guest's name")).to_have_value("Noah Green")
    take_screenshot(page, "nojs-couples-01-details-error")
    page.get_by_label("Your guest types their full name to agree to the treatment consent above").fill(
        "Noah Green"
    )
    page.get_by_role("button", name="Continue to check and confirm").click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_text("Noah Green, with Amy Clarke")).to_be_visible()  # the first female free
    expect(page.get_by_text("Olivia Brown, with Ben Hughes")).to_be_visible()
    take_screenshot(page, "nojs-couples-02-booked")

    page.get_by_role("link", name="Change the time").click()
    page.get_by_role("link", name="Later week").click()
    day_link(page, later).click()
    time_link(page, at(later, "11:00")).click()
    expect(page.get_by_text("Both move together.")).to_be_visible()
    page.get_by_role("button", name="Confirm the new time").click()
    assert {a.start for a in Appointment.objects.all()} == {at(later, "11:00")}
    page.get_by_role("link", name="Cancel the appointment").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_text("for both of you, are cancelled")).to_be_visible()
    take_screenshot(page, "nojs-couples-03-cancelled")
    assert {a.status for a in Appointment.objects.all()} == {AppointmentStatus.CANCELLED}
    assert Appointment.objects.count() == 2
