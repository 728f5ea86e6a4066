"""Treatment notes and policy texts in the staff admin: who sees what, by every way in."""

from datetime import timedelta

import pytest
from django.utils import timezone

from booking.choices import HealthAccessKind
from booking.models import Consent, HealthDataAccess, PolicyText, TreatmentNote
from booking.services import consent, notes
from tests.booking.admin.test_core import add_data, upcoming_tuesday
from tests.factories import StaffFactory, TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db
NOTES = "/admin/booking/treatmentnote/"
SECRET = "Migraines since the accident"


@pytest.fixture
def clinic(swedish):
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    ben = TherapistFactory(name="Ben", techniques=[swedish])
    yesterday = timezone.now() - timedelta(days=1)
    mine = appointment_row(anna, swedish, yesterday, status="completed", client_name="Alice Mine")
    theirs = appointment_row(ben, swedish, yesterday, status="completed", client_name="Bob Theirs")
    return {
        "anna": user_in_role("Therapist", "anna", anna),
        "ben": user_in_role("Therapist", "ben", ben),
        "manager": user_in_role("Manager", "maria"),
        "reception": user_in_role("Reception", "rita"),
        "mine": mine,
        "theirs": theirs,
    }


def note_data(**extra):
    return {
        "subjective": SECRET,
        "objective": "Tight trapezius",
        "areas": ["neck", "shoulders"],
        "pressure": "medium",
        "assessment": "Tension headache pattern",
        "plan": "Review in two weeks",
        **extra,
    }


@pytest.fixture
def written(clinic):
    """Anna's note on her appointment, and Ben's on his, both signed."""
    mine = notes.note_write(appointment=clinic["mine"], by=clinic["anna"], subjective=SECRET, areas=["neck"])
    theirs = notes.note_write(appointment=clinic["theirs"], by=clinic["ben"], subjective="Ben's own words")
    notes.note_sign(note=mine, by=clinic["anna"])
    return mine, theirs


def test_therapist_writes_signs_and_adds_an_addendum_from_the_appointment_page(client, clinic):
    client.force_login(clinic["anna"])
    page = client.get(f"/admin/booking/appointment/{clinic['mine'].pk}/change/").content.decode()
    assert "Write the treatment note" in page
    form = client.get(f"{NOTES}add/?appointment={clinic['mine'].pk}")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'type="checkbox" name="areas" value="upper_back"' in html  # the body-area pick list
    assert f'<option value="{clinic["mine"].pk}" selected' in html
    assert f'value="{clinic["theirs"].pk}"' not in html  # only her own appointments

    saved = client.post(f"{NOTES}add/", {"appointment": clinic["mine"].pk, **note_data()})
    note = TreatmentNote.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"{NOTES}{note.pk}/change/"
    assert (note.subjective, note.areas, note.signed_at) == (SECRET, ["neck", "shoulders"], None)

    signed = client.post(f"{NOTES}{note.pk}/change/", {**note_data(plan="Stretch daily"), "_sign": "1"})
    assert signed.status_code == 302
    note.refresh_from_db()
    assert note.plan == "Stretch daily" and note.signed_at is not None and note.signed_by == clinic["anna"]

    # Locked: the page reads, the only thing to write is an addendum; a changed field is ignored.
    page = client.get(f"{NOTES}{note.pk}/change/").content.decode()
    assert 'name="subjective"' not in page and 'name="addendum"' in page
    client.post(f"{NOTES}{note.pk}/change/", {"subjective": "Rewritten", "addendum": "Left side worse."})
    note.refresh_from_db()
    assert note.subjective == SECRET
    assert [(a.text, a.author) for a in note.addenda.all()] == [("Left side worse.", clinic["anna"])]
    page = client.get(f"{NOTES}{note.pk}/change/").content.decode()
    assert "Left side worse." in page and "anna" in page
    appointment_page = client.get(f"/admin/booking/appointment/{clinic['mine'].pk}/change/").content.decode()
    assert f'href="{NOTES}{note.pk}/change/"' in appointment_page


def test_a_therapist_cannot_write_for_someone_elses_appointment(client, clinic):
    client.force_login(clinic["anna"])
    response = client.post(f"{NOTES}add/", {"appointment": clinic["theirs"].pk, **note_data()})
    assert response.status_code == 200  # the form again, with the choice refused
    assert not TreatmentNote.objects.exists()


def test_every_look_at_a_note_is_recorded(client, clinic, written):
    mine, _theirs = written
    client.force_login(clinic["anna"])
    client.get(f"{NOTES}{mine.pk}/change/")
    client.force_login(clinic["manager"])
    client.get(f"{NOTES}{mine.pk}/change/")
    looks = HealthDataAccess.objects.filter(kind=HealthAccessKind.NOTE, object_id=mine.pk)
    assert sorted(looks.values_list("username", flat=True)) == ["anna", "maria"]
    client.get(NOTES)  # the list shows no contents: not a look
    assert looks.count() == 2


def test_another_therapist_finds_nothing(client, clinic, written):
    mine, theirs = written
    client.force_login(clinic["ben"])
    listing = client.get(NOTES, {"q": "Alice"}).content.decode()
    assert "Alice Mine" not in listing
    assert "Bob Theirs" in client.get(NOTES).content.decode()
    assert client.get(f"{NOTES}{mine.pk}/change/").status_code == 404
    assert client.get(f"{NOTES}{mine.pk}/history/").status_code == 404
    page = client.get(f"/admin/booking/appointment/{clinic['theirs'].pk}/change/").content.decode()
    assert SECRET not in page
    assert not HealthDataAccess.objects.filter(object_id=mine.pk).exists()


def test_reception_never_sees_a_note_by_any_way_in(client, clinic, written):
    mine, _theirs = written
    client.force_login(clinic["reception"])
    assert client.get(NOTES).status_code == 403
    assert client.get(NOTES, {"q": "Alice"}).status_code == 403
    assert client.get(f"{NOTES}{mine.pk}/change/").status_code == 403
    assert client.get(f"{NOTES}{mine.pk}/history/").status_code == 403
    assert client.get(f"{NOTES}add/").status_code == 403
    assert "treatmentnote" not in client.get("/admin/").content.decode()
    autocomplete = client.get(
        "/admin/autocomplete/",
        {"app_label": "booking", "model_name": "noteaddendum", "field_name": "note", "term": "A"},
    )
    assert autocomplete.status_code == 403
    # The appointment itself: its page, the list, a search for the note's words, the CSV.
    page = client.get(f"/admin/booking/appointment/{clinic['mine'].pk}/change/").content.decode()
    assert "Alice Mine" in page and SECRET not in page and "treatment-note-link" not in page
    found = client.get("/admin/booking/appointment/", {"q": "Migraines"}).content.decode()
    assert "Alice Mine" not in found
    csv = client.get("/admin/booking/appointment/export.csv").content.decode()
    assert "Alice Mine" in csv and SECRET not in csv and "Tension" not in csv
    assert not HealthDataAccess.objects.exists()


def test_manager_reads_every_note_cannot_edit_and_withdraws_with_a_log(client, clinic, written):
    mine, theirs = written
    client.force_login(clinic["manager"])
    listing = client.get(NOTES).content.decode()
    assert "Alice Mine" in listing and "Bob Theirs" in listing
    assert SECRET not in listing  # lists never show contents
    page = client.get(f"{NOTES}{theirs.pk}/change/")
    assert "Ben&#x27;s own words" in page.content.decode()
    assert 'name="subjective"' not in page.content.decode()
    assert client.post(f"{NOTES}{theirs.pk}/change/", note_data()).status_code == 403
    assert client.get(f"{NOTES}{theirs.pk}/delete/").status_code == 403
    assert "delete_selected" not in listing

    client.post(NOTES, {"action": "withdraw_selected", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.deleted_at is not None and mine.deleted_by == clinic["manager"]
    history = client.get(f"{NOTES}{mine.pk}/history/").content.decode()
    assert "Withdrawn by a manager." in history and SECRET not in history
    # Anna no longer finds it; nobody can delete it, not even a superuser.
    client.force_login(clinic["anna"])
    assert "Alice Mine" not in client.get(NOTES).content.decode()
    client.force_login(StaffFactory(username="root"))
    assert client.get(f"{NOTES}{mine.pk}/delete/").status_code == 403
    assert TreatmentNote.objects.count() == 2


def test_the_note_history_says_what_happened_not_what_it_says(client, clinic):
    client.force_login(clinic["anna"])
    client.post(f"{NOTES}add/", {"appointment": clinic["mine"].pk, **note_data()})
    note = TreatmentNote.objects.get()
    client.post(f"{NOTES}{note.pk}/change/", {**note_data(subjective="Second draft words"), "_sign": "1"})
    client.post(f"{NOTES}{note.pk}/change/", {"addendum": "Addendum words"})
    history = client.get(f"{NOTES}{note.pk}/history/").content.decode()
    assert "Note saved and signed" in history and "Addendum added" in history
    for words in (SECRET, "Second draft words", "Addendum words", "Tight trapezius"):
        assert words not in history


def test_the_change_form_fits_a_phone(client, clinic):
    client.force_login(clinic["anna"])
    html = client.get(f"{NOTES}add/?appointment={clinic['mine'].pk}").content.decode()
    assert 'name="viewport"' in html and "responsive.css" in html


# --------------------------------------------------------------------------- consent


def test_staff_booking_with_agreed_by_phone_records_the_versions_and_who(client, swedish, swedish_60):
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    reception = user_in_role("Reception", "rita")
    client.force_login(reception)
    start = upcoming_tuesday().replace(hour=10)
    response = client.post(
        "/admin/booking/appointment/add/", add_data(anna, swedish, swedish_60, start, agreed_by_phone="on")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    rows = Consent.objects.select_related("policy")
    assert {(c.policy.kind, c.policy.version, c.method, c.recorded_by) for c in rows} == {
        ("cancellation", 1, "staff_phone", reception),
        ("treatment_consent", 1, "staff_phone", reception),
    }
    page = client.get(f"/admin/booking/appointment/{rows[0].appointment_id}/change/").content.decode()
    assert "Cancellation policy v1: Told staff (phone or in person)" in page
    assert 'name="agreed_by_phone"' not in page  # read only once booked


def test_changing_a_policy_text_publishes_a_new_version_and_old_bookings_keep_theirs(
    client, swedish, swedish_60, monday_morning
):
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    from booking.services import appointments

    booked = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=monday_morning + timedelta(days=1, hours=2),
        therapist=anna, now=monday_morning, notify=False,
        client=appointments.ClientDetails(
            "Olivia Brown", "olivia@example.com", "07700 900101", policy_agreed=True,
            agreement=consent.Agreement("Olivia Brown"),
        ),
    )  # fmt: skip
    version_one = consent.policy_text_current("cancellation")
    manager = user_in_role("Manager", "maria")
    client.force_login(manager)
    response = client.post(
        f"/admin/booking/policytext/{version_one.pk}/change/", {"body": "Cancel 48 hours ahead."}
    )
    assert response.status_code == 302
    version_one.refresh_from_db()
    assert version_one.body.startswith("You can change")  # untouched
    current = consent.policy_text_current("cancellation")
    assert (current.version, current.body, current.created_by) == (2, "Cancel 48 hours ahead.", manager)
    assert booked.consents.get(policy__kind="cancellation").policy == version_one
    assert client.get(f"/admin/booking/policytext/{version_one.pk}/delete/").status_code == 403
    assert PolicyText.objects.count() == 3
    # Reception reads the texts but publishes nothing.
    client.force_login(user_in_role("Reception", "rita"))
    assert client.get("/admin/booking/policytext/").status_code == 200
    assert client.post(f"/admin/booking/policytext/{current.pk}/change/", {"body": "X"}).status_code == 403


def test_the_policy_list_marks_the_version_in_use(client, django_assert_max_num_queries):
    consent.policy_text_publish(kind="cancellation", body="Second wording.", by=None)
    client.force_login(user_in_role("Manager", "maria"))
    with django_assert_max_num_queries(12):
        html = client.get("/admin/booking/policytext/").content.decode()
    assert html.count('alt="True"') == 2 and html.count('alt="False"') == 1


def test_a_refused_note_is_a_form_error_with_the_input_kept(client, clinic):
    client.force_login(clinic["anna"])
    response = client.post(
        f"{NOTES}add/",
        {"appointment": clinic["mine"].pk, **note_data(plan="x" * 10_001, objective="Kept words")},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Plan is too long" in html and "Kept words" in html
    assert not TreatmentNote.objects.exists()
