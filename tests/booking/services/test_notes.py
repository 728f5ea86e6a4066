from datetime import datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError

from booking.models import NoteAddendum, TreatmentNote
from booking.services import notes
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
DURING = START + timedelta(minutes=20)


@pytest.fixture
def people(swedish):
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    ben = TherapistFactory(name="Ben", techniques=[swedish])
    return {
        "anna": user_in_role("Therapist", "anna", anna),
        "ben": user_in_role("Therapist", "ben", ben),
        "manager": user_in_role("Manager", "maria"),
        "reception": user_in_role("Reception", "rita"),
        "anna_therapist": anna,
    }


@pytest.fixture
def visit(people, swedish):
    return appointment_row(people["anna_therapist"], swedish, START)


def write(visit, by, now=DURING, **fields):
    return notes.note_write(appointment=visit, by=by, now=now, **{"subjective": "Stiff neck", **fields})


def test_the_treating_therapist_writes_and_rewrites_until_signed(people, visit):
    note = write(visit, people["anna"], areas=["shoulders", "neck", "neck"], pressure="firm", plan="Stretch")
    note = write(visit, people["anna"], subjective="Stiff neck, better", areas=["neck"], plan="Stretch daily")
    note.refresh_from_db()
    assert TreatmentNote.objects.count() == 1
    assert (note.subjective, note.areas, note.plan, note.author) == (
        "Stiff neck, better", ["neck"], "Stretch daily", people["anna"])  # fmt: skip


def test_areas_come_back_in_the_lists_order(people, visit):
    note = write(visit, people["anna"], areas=["legs", "neck"])
    assert note.areas == ["neck", "legs"]


@pytest.mark.parametrize("who", ["ben", "manager", "reception"])
def test_only_the_appointments_own_therapist_writes(people, visit, who):
    with pytest.raises(PermissionDenied):
        write(visit, people[who])
    assert not TreatmentNote.objects.exists()


def test_no_note_before_the_appointment_starts_or_when_cancelled(people, visit):
    with pytest.raises(ValidationError) as error:
        write(visit, people["anna"], now=START - timedelta(minutes=1))
    assert error.value.code == "not_started"
    visit.status = "cancelled"
    visit.save()
    with pytest.raises(ValidationError):
        write(visit, people["anna"])
    visit.status = "completed"
    visit.save()
    assert write(visit, people["anna"], now=START - timedelta(days=1)).pk  # completed counts


@pytest.mark.parametrize("fields", [{"areas": ["tail"]}, {"pressure": "crushing"}, {"plan": "x" * 10_001}])
def test_bad_input_is_a_clear_error(people, visit, fields):
    with pytest.raises(ValidationError):
        write(visit, people["anna"], **fields)


def test_signing_locks_the_note_and_corrections_are_addenda(people, visit):
    note = write(visit, people["anna"])
    with pytest.raises(ValidationError) as error:
        notes.note_addendum_add(note=note, by=people["anna"], text="Too early")
    assert error.value.code == "not_signed"
    with pytest.raises(PermissionDenied):
        notes.note_sign(note=note, by=people["ben"])
    signed = notes.note_sign(note=note, by=people["anna"], now=DURING)
    assert (signed.signed_at, signed.signed_by) == (DURING, people["anna"])
    with pytest.raises(ValidationError) as error:
        write(visit, people["anna"], subjective="Changed my mind")
    assert error.value.code == "signed"
    with pytest.raises(ValidationError):
        notes.note_sign(note=note, by=people["anna"])
    note.refresh_from_db()
    assert note.subjective == "Stiff neck"

    addendum = notes.note_addendum_add(note=note, by=people["anna"], text="  Also the left shoulder. ")
    assert (addendum.text, addendum.author) == ("Also the left shoulder.", people["anna"])
    assert addendum.created_at is not None
    notes.note_addendum_add(note=note, by=people["manager"], text="Reviewed.")
    for who in ("ben", "reception"):
        with pytest.raises(PermissionDenied):
            notes.note_addendum_add(note=note, by=people[who], text="Not mine")
    with pytest.raises(ValidationError):
        notes.note_addendum_add(note=note, by=people["anna"], text="   ")
    assert [a.text for a in note.addenda.all()] == ["Also the left shoulder.", "Reviewed."]


def test_only_a_manager_withdraws_and_it_is_logged_without_the_contents(people, visit):
    note = write(visit, people["anna"], subjective="Secret migraine history")
    for who in ("anna", "reception"):
        with pytest.raises(PermissionDenied):
            notes.note_withdraw(note=note, by=people[who])
    withdrawn = notes.note_withdraw(note=note, by=people["manager"])
    assert withdrawn.deleted_at is not None and withdrawn.deleted_by == people["manager"]
    assert TreatmentNote.objects.filter(pk=note.pk).exists()  # never hard-deleted
    entry = LogEntry.objects.get(object_id=str(note.pk))
    assert entry.user == people["manager"]
    assert "migraine" not in entry.change_message + entry.object_repr
    with pytest.raises(ValidationError):
        write(visit, people["anna"])
    with pytest.raises(ValidationError):
        notes.note_withdraw(note=note, by=people["manager"])
    # The therapist no longer sees it; the manager still does.
    assert not notes.notes_readable_by(people["anna"]).exists()
    assert notes.notes_readable_by(people["manager"]).get() == note


def test_who_reads_which_notes(people, visit, swedish):
    mine = write(visit, people["anna"])
    other_visit = appointment_row(people["ben"].therapist, swedish, START)
    theirs = write(other_visit, people["ben"])
    assert list(notes.notes_readable_by(people["anna"])) == [mine]
    assert set(notes.notes_readable_by(people["manager"])) == {mine, theirs}
    assert not notes.notes_readable_by(people["reception"]).exists()
    assert notes.can_read(people["anna"], visit) and not notes.can_read(people["anna"], other_visit)
    assert not notes.can_read(people["reception"], visit)


def test_addenda_are_kept_even_if_their_note_would_be_deleted(people, visit):
    note = write(visit, people["anna"])
    notes.note_sign(note=note, by=people["anna"])
    notes.note_addendum_add(note=note, by=people["anna"], text="More")
    assert NoteAddendum.objects.count() == 1
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        note.delete()
