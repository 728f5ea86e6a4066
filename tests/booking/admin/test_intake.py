"""Tests for booking.admin.intake: who sees health flags, answers and doctors' notes in
the staff admin, and the questions and rules managers edit."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from booking.admin.intake import flag_label
from booking.choices import HealthAccessKind, RuleOutcome
from booking.intake import Answer
from booking.models import Appointment, DoctorNote, HealthDataAccess, HealthIntake, HealthRule
from booking.services import appointments, intake
from tests.conftest import LONDON
from tests.factories import HEALTH_NO, TherapistFactory, health_rule, seed_health_questions, user_in_role

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SECRET = "Warfarin 5mg"
LIST = "/admin/booking/appointment/"


def upcoming_tuesday_at(hour: int) -> datetime:
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=2)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=LONDON).replace(hour=hour)


@pytest.fixture
def anna(swedish):
    return TherapistFactory(name="Anna Price", slug="anna", techniques=[swedish])


@pytest.fixture
def ben(swedish):
    return TherapistFactory(name="Ben Hall", slug="ben", techniques=[swedish])


@pytest.fixture
def flagged(swedish, anna, private_media):
    """Anna's appointment whose client takes blood thinners, with an uploaded doctor's note."""
    health_rule("blood_thinners", RuleOutcome.FLAG)
    booked = appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=upcoming_tuesday_at(10),
        therapist=anna,
        client=appointments.ClientDetails(
            "Pat Lee",
            "pat@example.com",
            "07700 900102",
            health={"blood_thinners": Answer(yes=True, details=SECRET)},
        ),
        source="staff",
        allow_outside_hours=True,
        notify=False,
    )
    intake.doctor_note_upload(upload=SimpleUploadedFile("n.pdf", PDF), appointment=booked)
    return booked


def change_url(appointment) -> str:
    return reverse("admin:booking_appointment_change", args=[appointment.pk])


def test_reception_sees_the_flag_label_never_the_answers(client, flagged):
    client.force_login(user_in_role("Reception", "desk"))
    html = client.get(change_url(flagged)).content.decode()
    assert "Health flag: blood thinners" in html
    assert SECRET not in html and "Which medication" not in html
    assert "A doctor's note is on file." in html
    assert reverse("admin:booking_doctornote_file", args=[flagged.doctor_notes.get().pk]) not in html
    assert not HealthDataAccess.objects.exists()


def test_reception_never_reaches_answers_by_list_search_export_or_history(client, flagged):
    client.force_login(user_in_role("Reception", "desk"))
    listing = client.get(LIST).content.decode()
    assert "Pat Lee" in listing and SECRET not in listing
    found = client.get(LIST, {"q": "Warfarin"}).content.decode()
    assert "Pat Lee" not in found  # answers are not searchable
    export = client.get(reverse("admin:booking_appointment_export")).content.decode()
    assert "Pat Lee" in export and SECRET not in export and "blood" not in export.lower()
    history = client.get(change_url(flagged) + "../history/").content.decode()
    assert SECRET not in history
    note = flagged.doctor_notes.get()
    assert client.get(reverse("admin:booking_doctornote_file", args=[note.pk])).status_code == 403
    for page in ("/admin/booking/healthintake/", "/admin/booking/doctornote/", "/admin/booking/healthrule/"):
        assert client.get(page).status_code in (403, 404)


def test_the_treating_therapist_sees_the_answers_and_the_look_is_recorded(client, flagged, anna):
    user = user_in_role("Therapist", "anna", anna)
    client.force_login(user)
    html = client.get(change_url(flagged)).content.decode()
    assert SECRET in html and "Health flag: blood thinners" in html
    access = HealthDataAccess.objects.get()
    assert (access.user, access.kind, access.object_id) == (user, HealthAccessKind.INTAKE, flagged.intake.pk)


def test_another_therapist_reaches_neither_answers_nor_the_file(client, flagged, ben):
    client.force_login(user_in_role("Therapist", "ben", ben))
    assert client.get(change_url(flagged)).status_code in (302, 404)
    note = flagged.doctor_notes.get()
    assert client.get(reverse("admin:booking_doctornote_file", args=[note.pk])).status_code == 404
    assert not HealthDataAccess.objects.exists()


def test_a_manager_downloads_the_decrypted_note_and_the_look_is_recorded(client, flagged):
    manager = user_in_role("Manager", "boss")
    client.force_login(manager)
    note = flagged.doctor_notes.get()
    html = client.get(change_url(flagged)).content.decode()
    assert SECRET in html and reverse("admin:booking_doctornote_file", args=[note.pk]) in html
    response = client.get(reverse("admin:booking_doctornote_file", args=[note.pk]))
    assert response.status_code == 200
    assert b"".join(response) == PDF
    assert response["Content-Type"] == "application/pdf" and "no-store" in response["Cache-Control"]
    assert HealthDataAccess.objects.filter(kind=HealthAccessKind.DOCTOR_NOTE, object_id=note.pk).exists()


def test_the_note_is_never_under_media(client, flagged, settings):
    path = flagged.doctor_notes.get().file.path
    assert not path.startswith(str(settings.MEDIA_ROOT))
    assert client.get("/media/" + flagged.doctor_notes.get().file.name).status_code == 404


def test_reception_marks_a_doctor_note_received_for_a_phone_booking(client, swedish, anna):
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    booked = appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=upcoming_tuesday_at(11),
        therapist=anna,
        client=appointments.ClientDetails(
            "Sam Roe", "sam@example.com", "07700 900103", health={"injury_or_surgery": Answer(yes=True)}
        ),
        source="staff",
        allow_outside_hours=True,
        notify=False,
    )
    desk = user_in_role("Reception", "desk")
    client.force_login(desk)
    assert "Needed, not yet received." in client.get(change_url(booked)).content.decode()
    url = reverse("admin:booking_doctornote_received", args=[booked.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    note = DoctorNote.objects.get()
    assert (note.appointment, note.received_by, bool(note.file)) == (booked, desk, False)
    assert "Needed, not yet received." not in client.get(change_url(booked)).content.decode()


def test_schedule_shows_the_flag_as_an_icon_with_words(client, flagged):
    client.force_login(user_in_role("Reception", "desk"))
    day = flagged.start.astimezone(LONDON).date().isoformat()
    html = client.get(reverse("admin:booking_schedule") + "?" + urlencode({"date": day})).content.decode()
    assert '<span aria-hidden="true">⚠</span> Health flag: blood thinners' in html
    assert SECRET not in html


def test_therapists_own_day_shows_their_flags(client, flagged, anna):
    client.force_login(user_in_role("Therapist", "anna", anna))
    day = flagged.start.astimezone(LONDON).date().isoformat()
    html = client.get(reverse("admin:booking_schedule") + "?" + urlencode({"date": day})).content.decode()
    assert "Health flag: blood thinners" in html


def test_a_manager_adds_a_rule_in_the_admin_and_the_online_flow_obeys_it(client, anna):
    seed_health_questions()
    client.force_login(user_in_role("Manager", "boss"))
    from booking.models import HealthQuestion

    fever = HealthQuestion.objects.get(key="illness_or_fever")
    response = client.post(
        "/admin/booking/healthrule/add/",
        {"question": fever.pk, "technique": "", "number_min": "", "number_max": "", "outcome": "call",
         "staff_note": "Suggest another day.", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert HealthRule.objects.get().outcome == RuleOutcome.CALL
    client.logout()
    start = upcoming_tuesday_at(10)
    query = urlencode({"length": 60, "therapist": "any", "start": start.isoformat()})
    details = {"name": "Pat", "email": "pat@example.com", "phone": "07700 900102", **HEALTH_NO,
               "health_illness_or_fever": "yes", "agree_policy": "on", "consent_name": "Pat"}  # fmt: skip
    page = client.post(f"/book/swedish/details/?{query}", details)
    assert page.status_code == 200 and "Please call us to book" in page.content.decode()


def test_reception_cannot_edit_questions_or_rules(client):
    seed_health_questions()
    client.force_login(user_in_role("Reception", "desk"))
    assert client.get("/admin/booking/healthquestion/").status_code == 403
    assert client.post("/admin/booking/healthrule/add/", {}).status_code == 403


def test_a_manager_edits_the_wording_of_a_question(client):
    seed_health_questions()
    client.force_login(user_in_role("Manager", "boss"))
    listing = client.get("/admin/booking/healthquestion/").content.decode()
    assert "Are you pregnant?" in listing


def render_health_section(user, client_record) -> str:
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/booking/client/")
    request.user = user
    return render_to_string(
        "admin/booking/client/health_section.html", {"client": client_record}, request=request
    )


def test_client_page_health_section_lists_the_answers_with_their_history(flagged, swedish, anna):
    later = appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=upcoming_tuesday_at(14),
        therapist=anna,
        client=appointments.ClientDetails(
            "Pat Lee",
            "pat@example.com",
            "07700 900102",
            health={"blood_thinners": Answer(yes=True, details=SECRET)},
            health_unchanged_since=flagged.intake.pk,
        ),
        source="staff",
        allow_outside_hours=True,
        notify=False,
    )
    manager = user_in_role("Manager", "boss")
    html = render_health_section(manager, flagged.client)
    assert html.count(SECRET) == 2
    assert html.index("Latest answers") < html.index(later.reference) < html.index("Earlier answers")
    assert "confirmed unchanged" in html
    access = HealthDataAccess.objects.get()
    assert (access.user, access.client, access.kind) == (
        manager,
        flagged.client,
        HealthAccessKind.CLIENT_RECORD,
    )


def test_client_page_health_section_shows_reception_nothing_and_a_therapist_their_own(flagged, ben):
    html = render_health_section(user_in_role("Reception", "desk"), flagged.client)
    assert SECRET not in html
    html = render_health_section(user_in_role("Therapist", "ben", ben), flagged.client)
    assert SECRET not in html
    assert not HealthDataAccess.objects.exists()


# --------------------------------------------------------------------------- booking on the phone


def phone_booking(client, anna, swedish, hour: int, **answers):
    start = upcoming_tuesday_at(hour)
    data = {
        "therapist": anna.pk,
        "technique": swedish.pk,
        "length": swedish.lengths.get(duration_minutes=60).pk,
        "start_0": start.strftime("%d/%m/%Y"),
        "start_1": start.strftime("%H:%M"),
        "status": "confirmed",
        "client_name": "Phone Client",
        "client_email": "phone@example.com",
        "client_phone": "07700 900555",
        "client_notes": "",
        **answers,
    }
    return client.post(reverse("admin:booking_appointment_add"), data)


@pytest.mark.parametrize(
    "answers, outcome, flags",
    [
        ({}, RuleOutcome.ALLOW, []),
        ({"health_blood_thinners": "yes", "health_blood_thinners_details": SECRET}, RuleOutcome.FLAG,
         ["blood_thinners"]),
        ({"health_injury_or_surgery": "yes"}, RuleOutcome.DOCTOR_NOTE, ["injury_or_surgery"]),
        # Online this would be "please call"; staff on the phone are that call.
        ({"health_pregnancy": "yes", "health_pregnancy_number": "8"}, RuleOutcome.CALL, ["pregnancy"]),
    ],
)  # fmt: skip
def test_every_rule_outcome_through_the_admin_booking_form(client, swedish, anna, answers, outcome, flags):
    health_rule("pregnancy", RuleOutcome.CALL, number_max=12)
    health_rule("blood_thinners", RuleOutcome.FLAG)
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    client.force_login(user_in_role("Reception", "desk"))
    form = client.get(reverse("admin:booking_appointment_add")).content.decode()
    assert "Are you pregnant?" in form and "How many weeks? (if yes)" in form
    response = phone_booking(client, anna, swedish, 10, **{**HEALTH_NO, **answers})
    assert response.status_code == 302, response.content.decode()[:3000]
    booked = Appointment.objects.get()
    assert (booked.intake.outcome, booked.intake.flags, booked.intake.source) == (outcome, flags, "staff")
    page = client.get(change_url(booked)).content.decode()
    for key in flags:
        assert flag_label(key) in page
    assert SECRET not in page
    assert ("Needed, not yet received." in page) == (outcome == RuleOutcome.DOCTOR_NOTE)


def test_a_phone_booking_without_answers_records_none(client, swedish, anna):
    seed_health_questions()
    client.force_login(user_in_role("Reception", "desk"))
    assert phone_booking(client, anna, swedish, 10).status_code == 302
    assert not HealthIntake.objects.exists()
