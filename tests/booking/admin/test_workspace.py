"""A therapist's "My days": /admin/booking/my-days/ and marking from it (issue 15).

Nothing freezes the clock: appointments are made relative to now, and the page is asked
for the clinic day of the one that started an hour ago (``?day=``), so the tests pass at
any hour, midnight included.
"""

from datetime import datetime, time, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.choices import AppointmentStatus, HealthAccessKind, RuleOutcome
from booking.models import Appointment, Closure, HealthDataAccess, HealthIntake, TreatmentNote
from tests.conftest import LONDON
from tests.factories import ClientFactory, TherapistFactory, appointment_row, health_rule, user_in_role

pytestmark = pytest.mark.django_db
URL = "/admin/booking/my-days/"


def mark_url(appointment) -> str:
    return f"{URL}{appointment.pk}/mark/"


def local_day(moment):
    return moment.astimezone(LONDON).date()


@pytest.fixture
def clinic(swedish):
    anna = TherapistFactory(name="Anna Field", techniques=[swedish])
    ben = TherapistFactory(name="Ben Stone", techniques=[swedish])
    now = timezone.now().replace(second=0, microsecond=0)
    alice = ClientFactory(
        name="Alice Started",
        pressure="firm",
        areas_to_avoid="Left knee",
        preference_notes="Quiet music please",
    )
    started = appointment_row(
        anna,
        swedish,
        now - timedelta(hours=1),
        client=alice,
        client_name="Alice Started",
        client_notes="Stiff neck from the desk",
    )
    later = appointment_row(anna, swedish, now + timedelta(days=2), client_name="Carl Later")
    theirs = appointment_row(ben, swedish, now - timedelta(hours=1), client_name="Bob Theirs")
    return {
        "anna": anna,
        "ben": ben,
        "alice": alice,
        "started": started,
        "later": later,
        "theirs": theirs,
        "day": local_day(started.start).isoformat(),
    }


# Accounts only where a test signs in with them: each password is hashed, which is slow.


@pytest.fixture
def anna_user(clinic):
    return user_in_role("Therapist", "anna", clinic["anna"])


@pytest.fixture
def manager(db):
    return user_in_role("Manager", "maria")


@pytest.fixture
def reception(db):
    return user_in_role("Reception", "rita")


def cards(response) -> dict:
    """The page's cards by client name."""
    return {card.client: card for day in response.context["days"] for card in day.cards}


# --------------------------------------------------------------------------- who may look


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/booking/my-days/")


def test_reception_without_a_therapist_record_gets_a_403_page(client, clinic, reception):
    client.force_login(reception)
    response = client.get(URL)
    assert response.status_code == 403
    page = response.content.decode()
    assert "not linked to a therapist" in page
    assert "Alice Started" not in page
    # Reception may not look at a therapist's days by naming one either.
    assert client.get(URL, {"therapist": clinic["anna"].pk}).status_code == 403


def test_a_manager_chooses_a_therapist_and_sees_their_days(client, clinic, manager):
    client.force_login(manager)
    response = client.get(URL)
    assert response.status_code == 403
    assert f'href="?therapist={clinic["anna"].pk}"' in response.content.decode()
    response = client.get(URL, {"therapist": clinic["anna"].pk, "day": clinic["day"]})
    assert response.status_code == 200
    assert response.context["title"] == "Anna Field's days"
    assert {"Alice Started", "Carl Later"} <= set(cards(response))
    assert "Bob Theirs" not in cards(response)
    assert client.get(URL, {"therapist": "99999999"}).status_code == 404


def test_a_therapist_sees_only_their_own_appointments(client, clinic, anna_user):
    client.force_login(anna_user)
    response = client.get(URL, {"day": clinic["day"]})
    assert response.status_code == 200
    assert response.context["title"] == "My days"
    assert set(cards(response)) == {"Alice Started", "Carl Later"}
    assert "Bob Theirs" not in response.content.decode()
    # Seven days from the one asked for, each with a heading, however empty.
    days = response.context["days"]
    assert [d.day.isoformat() for d in days][0] == clinic["day"] and len(days) == 7


@pytest.mark.parametrize("raw", ["{ben}", "abc", "1" * 30, "-1"])
def test_another_therapists_days_are_not_found(client, clinic, raw, anna_user):
    client.force_login(anna_user)
    response = client.get(URL, {"therapist": raw.format(ben=clinic["ben"].pk)})
    assert response.status_code == 404


def test_naming_oneself_is_the_same_page(client, clinic, anna_user):
    client.force_login(anna_user)
    response = client.get(URL, {"therapist": clinic["anna"].pk, "day": clinic["day"]})
    assert response.status_code == 200
    assert response.context["title"] == "My days"


# --------------------------------------------------------------------------- what a card says


def test_a_card_has_time_technique_client_preferences_and_status(client, clinic, anna_user):
    client.force_login(anna_user)
    response = client.get(URL, {"day": clinic["day"]})
    card = cards(response)["Alice Started"]
    start = clinic["started"].start.astimezone(LONDON)
    assert card.when == f"{start:%H:%M}–{start + timedelta(hours=1):%H:%M}"
    assert (card.technique, card.length, card.status) == ("Swedish", "60 min", "Confirmed")
    assert card.preferences == [
        ("Pressure", "Firm"),
        ("Areas to avoid", "Left knee"),
        ("Other preferences", "Quiet music please"),
    ]
    page = response.content.decode()
    assert "Stiff neck from the desk" in page
    assert f'href="/admin/booking/appointment/{clinic["started"].pk}/change/"' in page
    # Dates through Django's localisation: "Today, Tuesday 24 November" style headings.
    heading = response.context["days"][0].heading
    assert f"{start:%A} {start.day} {start:%B}" in heading


def test_days_with_nothing_or_closed_say_so(client, clinic, anna_user):
    first = local_day(clinic["started"].start)
    Closure.objects.create(
        first_day=first + timedelta(days=5), last_day=first + timedelta(days=5), reason="Boiler"
    )
    client.force_login(anna_user)
    days = client.get(URL, {"day": clinic["day"]}).context["days"]
    assert days[0].summary.endswith("1 appointment")
    assert days[1].summary.endswith("nothing booked") and days[1].cards == []
    assert days[5].summary.startswith("Clinic closed: Boiler")


def test_health_flags_and_the_rules_note_are_shown_and_the_look_recorded(client, clinic, anna_user):
    health_rule("blood_thinners", RuleOutcome.FLAG, staff_note="Lighter pressure; no deep work on the legs.")
    health_rule("pregnancy", RuleOutcome.FLAG, staff_note="Not shown: not this client's answer.")
    intake = HealthIntake.objects.create(
        client=clinic["alice"],
        appointment=clinic["started"],
        answers={"blood_thinners": {"yes": True, "details": "Warfarin 5 mg", "number": None}},
        outcome=RuleOutcome.FLAG,
        flags=["blood_thinners"],
        flagged=True,
    )
    client.force_login(anna_user)
    response = client.get(URL, {"day": clinic["day"]})
    card = cards(response)["Alice Started"]
    assert card.flags == ["Health flag: blood thinners"]
    assert card.rule_notes == ["Lighter pressure; no deep work on the legs."]
    page = response.content.decode()
    # The flag and what to do about it, never the answer itself.
    assert "Warfarin" not in page
    assert "Not shown" not in page
    looks = HealthDataAccess.objects.filter(user=anna_user, kind=HealthAccessKind.INTAKE)
    assert [(a.client_id, a.object_id) for a in looks] == [(clinic["alice"].pk, intake.pk)]


def test_the_clients_last_signed_note_is_summarised_linked_and_the_look_recorded(
    client, clinic, swedish, anna_user
):
    anna, alice = clinic["anna"], clinic["alice"]
    before = clinic["started"].start
    older = appointment_row(anna, swedish, before - timedelta(days=30), client=alice, status="completed")
    last = appointment_row(anna, swedish, before - timedelta(days=10), client=alice, status="completed")
    TreatmentNote.objects.create(appointment=older, assessment="Old", plan="Old plan", signed_at=before)
    note = TreatmentNote.objects.create(
        appointment=last, assessment="Tight calves", plan="Stretch twice a day", signed_at=before
    )
    # Neither a draft nor a withdrawn note is the "last note".
    draft_visit = appointment_row(anna, swedish, before - timedelta(days=3), client=alice, status="completed")
    TreatmentNote.objects.create(appointment=draft_visit, plan="Draft only")
    gone_visit = appointment_row(anna, swedish, before - timedelta(days=2), client=alice, status="completed")
    TreatmentNote.objects.create(
        appointment=gone_visit, plan="Withdrawn", signed_at=before, deleted_at=before
    )
    client.force_login(anna_user)
    response = client.get(URL, {"day": clinic["day"]})
    card = cards(response)["Alice Started"]
    assert (card.last_note["assessment"], card.last_note["plan"]) == ("Tight calves", "Stretch twice a day")
    assert card.last_note["href"].startswith(f"/admin/booking/treatmentnote/{note.pk}/change/?next=")
    assert "Draft only" not in response.content.decode() and "Withdrawn" not in response.content.decode()
    looks = HealthDataAccess.objects.filter(user=anna_user, kind=HealthAccessKind.NOTE)
    assert [(a.client_id, a.object_id) for a in looks] == [(alice.pk, note.pk)]
    # The link opens the note (its own page records that look too).
    assert client.get(card.last_note["href"]).status_code == 200


def test_another_therapists_note_is_not_the_last_note_for_a_therapist(client, clinic, swedish, anna_user):
    earlier = appointment_row(
        clinic["ben"], swedish, clinic["started"].start - timedelta(days=7), client=clinic["alice"]
    )
    TreatmentNote.objects.create(appointment=earlier, plan="Ben's plan", signed_at=timezone.now())
    client.force_login(anna_user)
    response = client.get(URL, {"day": clinic["day"]})
    assert cards(response)["Alice Started"].last_note is None
    assert not HealthDataAccess.objects.exists()


def test_write_note_links_to_the_note_admin_and_comes_back_after_signing(client, clinic, anna_user):
    started = clinic["started"]
    client.force_login(anna_user)
    response = client.get(URL, {"day": clinic["day"]})
    found = cards(response)
    # Not before it has started.
    assert found["Carl Later"].note_link is None
    link = found["Alice Started"].note_link
    assert link["label"] == "Write note"
    assert link["href"].startswith(f"/admin/booking/treatmentnote/add/?appointment={started.pk}&next=")
    form = client.get(link["href"])
    assert form.status_code == 200
    assert form.context["adminform"].form.initial["appointment"] == str(started.pk)
    saved = client.post(
        link["href"],
        {"appointment": started.pk, "subjective": "Neck", "plan": "Rest", "_sign": "Save and sign"},
    )
    assert saved.status_code == 302
    assert saved["Location"] == f"{URL}?day={clinic['day']}#appointment-{started.pk}"
    note = TreatmentNote.objects.get(appointment=started)
    assert note.signed_at is not None
    # Once written, the card opens it.
    again = cards(client.get(URL, {"day": clinic["day"]}))["Alice Started"].note_link
    assert again["label"] == "Open note"
    assert again["href"].startswith(f"/admin/booking/treatmentnote/{note.pk}/change/?next=")


def test_the_note_admin_goes_back_only_to_my_days(client, clinic, anna_user):
    started = clinic["started"]
    client.force_login(anna_user)
    add = f"/admin/booking/treatmentnote/add/?appointment={started.pk}"
    saved = client.post(
        f"{add}&next=https://evil.example/admin/booking/my-days/",
        {"appointment": started.pk, "plan": "Rest", "_save": "Save"},
    )
    note = TreatmentNote.objects.get(appointment=started)
    assert saved["Location"] == f"/admin/booking/treatmentnote/{note.pk}/change/"
    # Nor a path that only starts like My days.
    change = f"/admin/booking/treatmentnote/{note.pk}/change/"
    for sneaky in ("/admin/booking/my-days/../../..//evil.example", "/admin/booking/my-days/\\evil.example"):
        saved = client.post(f"{change}?next={sneaky}", {"plan": "Rest more", "_save": "Save"})
        assert saved["Location"] == change


# --------------------------------------------------------------------------- marking


def test_buttons_only_once_started_and_never_for_a_cancelled_one(client, clinic, swedish, anna_user):
    cancelled = appointment_row(
        clinic["anna"],
        swedish,
        clinic["started"].start - timedelta(hours=3),
        client_name="Cara Cancelled",
        status=AppointmentStatus.CANCELLED,
    )
    client.force_login(anna_user)
    response = client.get(URL, {"day": clinic["day"]})
    found = cards(response)
    assert [m["label"] for m in found["Alice Started"].marks] == ["Completed", "No-show"]
    assert found["Carl Later"].marks == []
    if "Cara Cancelled" in found:  # unless three hours ago was yesterday
        assert found["Cara Cancelled"].marks == [] and found["Cara Cancelled"].status == "Cancelled"
    page = response.content.decode()
    assert f'action="{mark_url(clinic["started"])}"' in page
    assert f'action="{mark_url(clinic["later"])}"' not in page
    assert f'action="{mark_url(cancelled)}"' not in page


def test_marking_after_the_start_works_and_again_is_harmless(client, clinic, anna_user):
    started = clinic["started"]
    client.force_login(anna_user)
    response = client.post(mark_url(started), {"status": "completed", "day": clinic["day"]})
    assert response.status_code == 302
    assert response["Location"] == f"{URL}?day={clinic['day']}#appointment-{started.pk}"
    started.refresh_from_db()
    assert started.status == AppointmentStatus.COMPLETED
    assert LogEntry.objects.filter(object_id=str(started.pk), change_message="Status: Confirmed → Completed")
    page = client.get(response["Location"])
    assert "marked completed" in page.content.decode()
    card = cards(page)["Alice Started"]
    assert card.status == "Completed" and [m["label"] for m in card.marks] == ["Change to no-show"]
    # Twice (a double tap): the same result, no second log line.
    again = client.post(mark_url(started), {"status": "completed"})
    assert again["Location"] == f"{URL}#appointment-{started.pk}"
    started.refresh_from_db()
    assert started.status == AppointmentStatus.COMPLETED
    assert LogEntry.objects.filter(object_id=str(started.pk)).count() == 1
    # A mistake is corrected the other way.
    client.post(mark_url(started), {"status": "no_show"})
    started.refresh_from_db()
    assert started.status == AppointmentStatus.NO_SHOW


def test_marking_before_the_start_is_refused_with_a_message(client, clinic, anna_user):
    later = clinic["later"]
    client.force_login(anna_user)
    response = client.post(mark_url(later), {"status": "completed"}, follow=True)
    later.refresh_from_db()
    assert later.status == AppointmentStatus.CONFIRMED
    assert [str(m) for m in response.context["messages"]] == [
        f"Not changed: {later.reference} has not started yet."
    ]


def test_marking_a_cancelled_appointment_is_refused_with_a_message(client, clinic, swedish, anna_user):
    gone = appointment_row(
        clinic["anna"], swedish, timezone.now() - timedelta(days=1), status=AppointmentStatus.CANCELLED
    )
    client.force_login(anna_user)
    response = client.post(mark_url(gone), {"status": "no_show"}, follow=True)
    gone.refresh_from_db()
    assert gone.status == AppointmentStatus.CANCELLED
    assert "was cancelled" in str(list(response.context["messages"])[0])


def test_another_therapists_appointment_cannot_be_marked(client, clinic, anna_user):
    theirs = clinic["theirs"]
    client.force_login(anna_user)
    assert client.post(mark_url(theirs), {"status": "completed"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == AppointmentStatus.CONFIRMED


def test_reception_and_managers_may_mark_any(client, clinic, manager, reception):
    client.force_login(reception)
    assert client.post(mark_url(clinic["theirs"]), {"status": "no_show"}).status_code == 302
    client.force_login(manager)
    assert client.post(mark_url(clinic["started"]), {"status": "completed"}).status_code == 302
    assert Appointment.objects.get(pk=clinic["theirs"].pk).status == AppointmentStatus.NO_SHOW
    assert Appointment.objects.get(pk=clinic["started"].pk).status == AppointmentStatus.COMPLETED


def test_staff_without_a_therapist_or_the_right_to_change_get_403(client, clinic):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory(username="plain", is_superuser=False))
    assert client.post(mark_url(clinic["started"]), {"status": "completed"}).status_code == 403


def test_tampered_marks_are_refused_plainly(client, clinic, anna_user):
    started = clinic["started"]
    client.force_login(anna_user)
    assert client.get(mark_url(started)).status_code == 405
    assert client.post(mark_url(started), {"status": "cancelled"}).status_code == 400
    assert client.post(mark_url(started), {}).status_code == 400
    assert client.post(f"{URL}99999999999999999999999/mark/", {"status": "completed"}).status_code == 404
    assert client.post(f"{URL}abc/mark/", {"status": "completed"}).status_code == 404
    # A bad day to come back to is left out, not a crash.
    response = client.post(mark_url(started), {"status": "completed", "day": "9999-99-99"})
    assert response["Location"] == f"{URL}#appointment-{started.pk}"
    started.refresh_from_db()
    assert started.status == AppointmentStatus.COMPLETED


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("raw", ["tomorrow", "2026-02-30", "99999-01-01", "0001-01-01", "2026-1-1x"])
def test_a_bad_day_is_a_clear_400_not_a_500(client, clinic, raw, anna_user):
    client.force_login(anna_user)
    response = client.get(URL, {"day": raw})
    assert response.status_code == 400
    assert "is not a date" in response.content.decode()


def test_a_nul_in_the_address_is_a_400(client, clinic, anna_user):
    client.force_login(anna_user)
    assert client.get(URL, {"day": "2026-11-24\x00"}).status_code == 400


def test_the_last_day_a_clinic_can_mean_still_works(client, clinic, anna_user):
    client.force_login(anna_user)
    response = client.get(URL, {"day": "2200-12-31"})
    assert response.status_code == 200


# --------------------------------------------------------------------------- the sidebar


def test_my_days_is_first_in_the_booking_app_for_a_therapist_only(client, clinic, anna_user, reception):
    client.force_login(anna_user)
    booking = next(app for app in client.get("/admin/").context["app_list"] if app["app_label"] == "booking")
    assert [m["name"] for m in booking["models"][:2]] == ["My days", "Schedule (day view)"]
    client.force_login(reception)
    booking = next(app for app in client.get("/admin/").context["app_list"] if app["app_label"] == "booking")
    assert booking["models"][0]["name"] == "Schedule (day view)"
    assert "My days" not in [m["name"] for m in booking["models"]]


# --------------------------------------------------------------------------- a fixed number of queries


# Free local times for the busy week: days 3 to 6 of the window, clear of the fixture's
# appointments (an hour ago, and two days on) whatever the hour the tests run at.
SLOTS = [
    (day, hhmm)
    for day in range(3, 7)
    for hhmm in ("08:00", "09:30", "11:00", "12:30", "14:00", "15:30", "17:00", "18:30")
]


def _busy_week(clinic, swedish, first: int, count: int) -> None:
    """Appointments of Anna's in ``SLOTS[first:first + count]``, each for a new client with
    flagged health answers and a signed note from an earlier visit: every part of a card
    is drawn."""
    health_rule("skin", RuleOutcome.FLAG, staff_note="Avoid the rash.")
    first_day = local_day(clinic["started"].start)
    for n, (offset, hhmm) in enumerate(SLOTS[first : first + count], start=first):
        person = ClientFactory(pressure="light", areas_to_avoid="Feet")
        start = datetime.combine(first_day + timedelta(days=offset), time.fromisoformat(hhmm), tzinfo=LONDON)
        visit = appointment_row(clinic["anna"], swedish, start, client=person, client_name=f"Busy {n}")
        HealthIntake.objects.create(
            client=person,
            appointment=visit,
            answers={"skin": {"yes": True, "details": "", "number": None}},
            outcome=RuleOutcome.FLAG,
            flags=["skin"],
            flagged=True,
        )
        before = appointment_row(
            clinic["anna"], swedish, start - timedelta(days=20), client=person, status="completed"
        )
        TreatmentNote.objects.create(appointment=before, plan=f"Plan {n}", signed_at=timezone.now())


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_the_page_runs_the_same_queries_for_3_or_30_appointments(
    client, clinic, swedish, role, django_assert_max_num_queries, anna_user, manager
):
    user = anna_user if role == "therapist" else manager
    query = {"day": clinic["day"]} | ({"therapist": clinic["anna"].pk} if role == "manager" else {})
    client.force_login(user)
    _busy_week(clinic, swedish, 0, 3)
    client.get(URL, query)  # the permission cache and the session, warmed alike for both
    with CaptureQueriesContext(connection) as few:
        response = client.get(URL, query)
    assert len(cards(response)) == 5
    _busy_week(clinic, swedish, 3, 27)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL, query)
    assert len(cards(response)) == 32
    assert len(few.captured_queries) <= 16
    print(f"My days ({role}): {len(few.captured_queries)} queries for 5 and for 32 appointments")


def test_links_to_the_therapists_other_pages_are_theirs_only(client, clinic, anna_user, manager):
    client.force_login(anna_user)
    page = client.get(URL).content.decode()
    assert 'href="/admin/booking/calendar-feed/"' in page and "Calendar on your phone" in page
    assert 'href="/admin/booking/timeoffrequest/add/">Ask for time off</a>' in page
    client.force_login(manager)
    page = client.get(URL, {"therapist": clinic["anna"].pk}).content.decode()
    assert "Calendar on your phone" not in page and "Ask for time off" not in page
