"""A therapist writes and signs a treatment note on a phone; reception cannot see it."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking.models import TreatmentNote
from booking.roles import CLIENT_RECORD_PERMISSIONS
from tests.browser.axe import assert_accessible
from tests.browser.conftest import PHONE, take_screenshot
from tests.browser.test_staff import appointment, log_in, staff
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SECRET = "Headaches since the fall"


def with_record_permissions(user):
    """The client-record permissions (booking 0016) on the user's group: a transactional
    test's flush loses the migration's grants, as tests/browser/test_staff.py explains."""
    from django.contrib.auth.models import Permission

    for group in user.groups.all():
        codenames = CLIENT_RECORD_PERMISSIONS.get(group.name, ())
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="booking", codename__in=codenames)
        )
    return user


@pytest.fixture
def visit(transactional_db):
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    TechniqueLengthFactory(technique=swedish, duration_minutes=60, price="55.00")
    anna = TherapistFactory(name="Anna Field", slug="anna-field", techniques=[swedish])
    started = (timezone.now() - timedelta(minutes=70)).astimezone(UTC).replace(second=0, microsecond=0)
    return appointment(anna, swedish, started, client_name="Olivia Brown")


def axe_clean(page, label: str) -> None:
    """axe clean, as tests/browser/axe.py checks it. On these admin pages axe-core adds
    <style> elements of its own while it checks, which the site's policy refuses: those
    refusals are the test tool's, so they are dropped; any other stays and fails the test."""
    before = len(page.policy_violations.messages)
    assert_accessible(page, label)
    added = page.policy_violations.messages[before:]
    assert all("inline style" in message for message in added), added
    del page.policy_violations.messages[before:]


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], f"the page is {width}px wide on a 375px phone"


def test_therapist_writes_and_signs_on_a_phone_and_reception_cannot_see_it(new_page, live_server, visit):
    # Both accounts first: each staff() call resets the groups' permissions.
    anna = staff("Therapist", "anna", visit.therapist)
    rita = staff("Reception", "rita")
    with_record_permissions(anna)
    with_record_permissions(rita)
    assert anna.therapist == visit.therapist

    page = new_page(PHONE)
    page.goto(f"{live_server.url}/admin/booking/appointment/{visit.pk}/change/")
    log_in(page, "anna")
    page.get_by_role("link", name="Write the treatment note").click()
    expect(page).to_have_url(re.compile(r"/admin/booking/treatmentnote/add/\?appointment="))
    page.get_by_label(re.compile("^Subjective")).fill(SECRET)
    page.get_by_label(re.compile("^Objective")).fill("Tight upper trapezius, both sides")
    page.get_by_role("checkbox", name="Neck").check()
    page.get_by_role("checkbox", name="Shoulders").check()
    page.get_by_label("Pressure used").select_option("medium")
    page.get_by_label("Assessment").fill("Tension pattern")
    page.get_by_label("Plan").fill("Stretches; review in two weeks")
    no_sideways_scroll(page)
    take_screenshot(page, "phone-note-writing")
    axe_clean(page, "treatment note form on a phone")
    page.get_by_role("button", name="Save and sign (locks the note)").click()

    expect(page.locator(".messagelist")).to_contain_text("Note saved and signed")
    note = TreatmentNote.objects.get()
    assert note.signed_at is not None and note.subjective == SECRET
    expect(page.get_by_text(SECRET)).to_be_visible()
    expect(page.get_by_label("Add an addendum")).to_be_visible()  # locked: only an addendum now
    no_sideways_scroll(page)
    take_screenshot(page, "phone-note-signed")
    axe_clean(page, "signed treatment note on a phone")

    reception = new_page(PHONE)
    reception.goto(f"{live_server.url}/admin/login/")
    log_in(reception, "rita")
    for path in (f"treatmentnote/{note.pk}/change/", "treatmentnote/", f"treatmentnote/{note.pk}/history/"):
        response = reception.goto(f"{live_server.url}/admin/booking/{path}")
        assert response.status in (403, 404), path
        expect(reception.get_by_text(SECRET)).to_have_count(0)
    reception.goto(f"{live_server.url}/admin/booking/appointment/{visit.pk}/change/")
    expect(reception.get_by_role("heading", name=re.compile("Change appointment"))).to_be_visible()
    expect(reception.get_by_role("link", name=re.compile("treatment note", re.I))).to_have_count(0)
    expect(reception.get_by_text(SECRET)).to_have_count(0)
    reception.goto(f"{live_server.url}/admin/")
    expect(reception.get_by_role("link", name="Treatment notes")).to_have_count(0)
    take_screenshot(reception, "phone-reception-admin-index")
