"""Tests for booking.services.intake: rules from data, per-visit answers, doctors' notes."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from booking.choices import IntakeSource, RuleOutcome
from booking.intake import Answer
from booking.models import Appointment, DoctorNote, HealthIntake
from booking.services import appointments, intake
from tests.conftest import LONDON
from tests.factories import StaffFactory, TechniqueFactory, TherapistFactory, health_rule

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
START = datetime(2026, 11, 24, 10, tzinfo=LONDON)
NOW = datetime(2026, 11, 20, 9, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def private_root(private_media):
    return private_media


@pytest.fixture
def therapist(swedish):
    return TherapistFactory(techniques=[swedish])


def book(swedish, therapist, *, health, email="pat@example.com", source="online", **details):
    return appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=START,
        therapist=therapist,
        client=appointments.ClientDetails("Pat Lee", email, "07700 900102", health=health, **details),
        source=source,
        now=NOW,
        notify=False,
    )


def test_rules_for_a_technique_include_the_rules_for_all(swedish):
    other = TechniqueFactory()
    health_rule("skin", RuleOutcome.FLAG)
    health_rule("skin", RuleOutcome.DOCTOR_NOTE, technique=swedish)
    health_rule("skin", RuleOutcome.CALL, technique=other)
    inactive = health_rule("oil_allergy", RuleOutcome.CALL)
    inactive.active = False
    inactive.save()
    outcomes = sorted(rule.outcome for rule in intake.rules_for(swedish))
    assert outcomes == [RuleOutcome.DOCTOR_NOTE, RuleOutcome.FLAG]


def test_call_refuses_an_online_booking_and_books_nothing(swedish, therapist):
    health_rule("pregnancy", RuleOutcome.CALL, number_max=12)
    with pytest.raises(ValidationError) as error:
        book(swedish, therapist, health={"pregnancy": Answer(yes=True, number=8)})
    assert error.value.code == "intake_call"
    assert settings.CLINIC["phone"] in error.value.messages[0]
    assert not Appointment.objects.exists() and not HealthIntake.objects.exists()


def test_staff_may_book_what_online_would_refer_to_a_call(swedish, therapist):
    health_rule("pregnancy", RuleOutcome.CALL, number_max=12)
    booked = book(swedish, therapist, health={"pregnancy": Answer(yes=True, number=8)}, source="staff")
    assert booked.intake.outcome == RuleOutcome.CALL
    assert booked.intake.source == IntakeSource.STAFF


def test_doctor_note_is_needed_before_an_online_booking(swedish, therapist):
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    answers = {"injury_or_surgery": Answer(yes=True, details="Knee surgery in May")}
    with pytest.raises(ValidationError) as error:
        book(swedish, therapist, health=answers)
    assert error.value.code == "intake_doctor_note"
    with pytest.raises(ValidationError):
        book(swedish, therapist, health=answers, doctor_note_token="not-a-real-token")
    note = intake.doctor_note_upload(upload=SimpleUploadedFile("note.pdf", PDF))
    booked = book(swedish, therapist, health=answers, doctor_note_token=note.draft_token)
    note.refresh_from_db()
    assert (note.appointment, note.client, note.draft_token) == (booked, booked.client, "")
    assert booked.intake.outcome == RuleOutcome.DOCTOR_NOTE
    # A note claimed by one booking cannot carry another.
    with pytest.raises(ValidationError):
        book(swedish, therapist, health=answers, doctor_note_token=note.draft_token, email="x@example.com")


def test_flags_and_answers_are_stored_encrypted_per_visit(swedish, therapist):
    health_rule("blood_thinners", RuleOutcome.FLAG)
    booked = book(swedish, therapist, health={"blood_thinners": Answer(yes=True, details="Warfarin daily")})
    record = booked.intake
    assert record.flagged and record.flags == ["blood_thinners"] and record.outcome == RuleOutcome.FLAG
    assert record.answers["blood_thinners"]["details"] == "Warfarin daily"
    assert record.client.email == "pat@example.com" and booked.client == record.client
    with connection.cursor() as cursor:
        cursor.execute("SELECT answers, flags FROM booking_healthintake WHERE id = %s", [record.pk])
        raw_answers, raw_flags = cursor.fetchone()
    assert "Warfarin" not in raw_answers and "blood_thinners" not in raw_answers + raw_flags


def test_unchanged_answers_are_stored_again_pointing_to_the_earlier_intake(swedish, therapist):
    answers = {"skin": Answer(yes=True, details="Eczema")}
    first = book(swedish, therapist, health=answers)
    appointments.appointment_cancel(appointment=first, notify=False)
    second = book(swedish, therapist, health=answers, health_unchanged_since=first.intake.pk)
    assert second.intake.pk != first.intake.pk
    assert second.intake.unchanged_since == first.intake
    assert second.intake.answers == first.intake.answers
    assert intake.intake_latest(second.client) == second.intake


def test_unchanged_since_of_another_client_is_ignored(swedish, therapist):
    theirs = book(swedish, therapist, health={}, email="someone@example.com")
    appointments.appointment_cancel(appointment=theirs, notify=False)
    mine = book(swedish, therapist, health={}, health_unchanged_since=theirs.intake.pk)
    assert mine.intake.unchanged_since is None


@pytest.mark.parametrize(
    "name, data, content_type",
    [
        ("note.pdf", PDF, "application/pdf"),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"0" * 100, "image/jpeg"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png"),
    ],
)
def test_doctor_note_is_checked_and_encrypted_in_private_storage(private_root, name, data, content_type):
    note = intake.doctor_note_upload(upload=SimpleUploadedFile(name, data))
    assert note.content_type == content_type
    path = note.file.path
    assert path.startswith(str(private_root)) and not path.startswith(str(settings.MEDIA_ROOT))
    assert name not in path  # a random name: the client's may say something about them
    with open(path, "rb") as stored:
        assert data not in stored.read()
    assert intake.doctor_note_bytes(note) == data


@pytest.mark.parametrize(
    "upload, code",
    [
        (SimpleUploadedFile("note.pdf", b"just some text pretending"), "bad_type"),
        (SimpleUploadedFile("note.pdf", b""), "bad_type"),
        (SimpleUploadedFile("big.pdf", PDF + b"0" * intake.DOCTOR_NOTE_MAX_BYTES), "too_large"),
    ],
)
def test_fake_or_oversized_doctor_notes_are_refused(upload, code):
    with pytest.raises(ValidationError) as error:
        intake.doctor_note_upload(upload=upload)
    assert error.value.code == code
    assert not DoctorNote.objects.exists()


def test_staff_mark_a_doctor_note_received(swedish, therapist):
    booked = book(swedish, therapist, health={}, source="staff")
    staff = StaffFactory(username="desk")
    note = intake.doctor_note_mark_received(appointment=booked, user=staff)
    assert (note.appointment, note.received_by, bool(note.file)) == (booked, staff, False)
    assert note.received_at is not None


def test_abandoned_uploads_are_deleted_once_their_draft_has_expired(swedish, therapist, settings):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    abandoned = intake.doctor_note_upload(upload=SimpleUploadedFile("a.pdf", PDF))
    fresh = intake.doctor_note_upload(upload=SimpleUploadedFile("b.pdf", PDF))
    claimed = intake.doctor_note_upload(upload=SimpleUploadedFile("c.pdf", PDF))
    book(swedish, therapist, health={}, doctor_note_token=claimed.draft_token)
    old = timezone.now() - timedelta(seconds=settings.BOOKING_DRAFT_SECONDS + 60)
    DoctorNote.objects.filter(pk__in=[abandoned.pk, claimed.pk]).update(created_at=old)
    path = abandoned.file.path
    call_command("clear_abandoned_doctor_notes")
    assert set(DoctorNote.objects.values_list("pk", flat=True)) == {fresh.pk, claimed.pk}
    assert not os.path.exists(path)


def test_the_active_questions_are_read_as_the_orm_reads_them(django_assert_num_queries):
    from booking.models import HealthQuestion
    from tests.factories import seed_health_questions

    def by_the_orm():
        return list(HealthQuestion.objects.filter(active=True).order_by("display_order", "id"))

    def fields(questions):
        return [{**vars(q), "_state": None} for q in questions]

    seed_health_questions()
    first, second, *_ = HealthQuestion.objects.order_by("display_order", "id")
    HealthQuestion.objects.filter(pk=first.pk).update(active=False)
    HealthQuestion.objects.filter(pk=second.pk).update(display_order=99)
    with django_assert_num_queries(1):
        found = intake.questions_active()
    assert found == by_the_orm() and fields(found) == fields(by_the_orm())
    assert first not in found and found[-1] == second
    assert all(q.active is True for q in found)  # SQLite's 1 made a bool, as the ORM does
    # Compiled once, read anew: a change shows at once.
    HealthQuestion.objects.filter(pk=first.pk).update(active=True)
    with django_assert_num_queries(1):
        again = intake.questions_active()
    assert again == by_the_orm() and again[0] == first and len(again) == len(found) + 1
