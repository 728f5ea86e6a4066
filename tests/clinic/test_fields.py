"""Health data is stored as ciphertext and read back (clinic/fields.py, the library's
encrypted text field), and the keys follow the settings once reset."""

import json

import pytest
from django.db import connection

from booking.models import HealthIntake, NoteAddendum, TreatmentNote
from clinic import fields as encrypted
from tests.factories import client_with_health_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_files")]


def raw(model, pk: int, *columns: str) -> tuple:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(model._meta.db_table)} WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def assert_ciphertext(value: str, *secrets: str) -> None:
    assert value.startswith("gAAAAA")  # a Fernet token (version byte 0x80, base64)
    for secret in secrets:
        assert secret not in value


def test_health_answers_and_flags_are_ciphertext_in_the_table_and_read_back():
    client, appointment = client_with_health_record()
    intake = HealthIntake.objects.get(client=client)
    answers, flags = raw(HealthIntake, intake.pk, "answers", "flags")
    # The question keys are hidden too, not just the values.
    assert_ciphertext(answers, "conditions", "Sciatica", "Zorbex", "yes")
    assert_ciphertext(flags, "conditions")
    intake.refresh_from_db()
    answer = {"yes": True, "details": "Sciatica and Zorbex tablets", "number": None}
    assert intake.answers == {"conditions": answer}
    assert intake.flags == ["conditions"]


def test_treatment_note_and_addendum_text_are_ciphertext_in_the_table_and_read_back():
    client, appointment = client_with_health_record()
    note = TreatmentNote.objects.get(appointment=appointment)
    row = raw(TreatmentNote, note.pk, "subjective", "objective", "assessment", "plan", "areas")
    for value, secret in zip(
        row, ["Sciatica", "piriformis", "Improving", "Stretch", "lower_back"], strict=True
    ):
        assert_ciphertext(value, secret)
    (addendum_text,) = raw(NoteAddendum, note.addenda.get().pk, "text")
    assert_ciphertext(addendum_text, "headache")
    note = TreatmentNote.objects.get(pk=note.pk)
    assert (note.subjective, note.objective, note.assessment, note.plan, note.areas) == (
        "Sciatica flaring",
        "Tight piriformis",
        "Improving",
        "Stretch daily",
        ["lower_back"],
    )
    assert note.addenda.get().text == "Also mentioned a headache"


def test_empty_json_is_kept_as_an_empty_document_not_null():
    client, appointment = client_with_health_record()
    intake = HealthIntake.objects.create(client=client, answers={}, flags=[])
    answers, flags = raw(HealthIntake, intake.pk, "answers", "flags")
    assert_ciphertext(answers)
    intake.refresh_from_db()
    assert (intake.answers, intake.flags) == ({}, [])


def test_keys_follow_the_settings_only_once_reset(settings, encryption_salts):
    client, appointment = client_with_health_record()
    intake = HealthIntake.objects.get(client=client)
    settings.SALT_KEY = ["another-salt"]
    # The library keeps the keys it derived on the field: without a reset nothing changes.
    assert HealthIntake.objects.get(pk=intake.pk).flags == ["conditions"]
    encrypted.encryption_keys_reset()
    unreadable = HealthIntake.objects.get(pk=intake.pk).flags
    # The library hands back what it cannot decrypt as it is: the token, never the data.
    assert unreadable != ["conditions"]
    assert "conditions" not in json.dumps(unreadable)


def test_every_encrypted_field_is_found():
    found = {(model.__name__, f.name) for model, fields in encrypted.encrypted_fields() for f in fields}
    assert {
        ("HealthIntake", "answers"),
        ("HealthIntake", "flags"),
        ("TreatmentNote", "subjective"),
        ("TreatmentNote", "objective"),
        ("TreatmentNote", "assessment"),
        ("TreatmentNote", "plan"),
        ("TreatmentNote", "areas"),
        ("NoteAddendum", "text"),
    } <= found
