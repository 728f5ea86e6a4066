"""manage.py reencrypt_health_data: key rotation moves every encrypted value to the new
salt, in batches, and running it again changes nothing."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from booking.models import DoctorNote, HealthIntake, NoteAddendum, TreatmentNote
from clinic import fields
from tests.factories import client_with_health_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_files")]


def reencrypt(*args: str) -> str:
    out = StringIO()
    call_command("reencrypt_health_data", *args, stdout=out)
    return out.getvalue()


def raw_tokens() -> list[str]:
    quote = connection.ops.quote_name
    tokens = []
    with connection.cursor() as cursor:
        for model, columns in (
            (HealthIntake, ["answers", "flags"]),
            (TreatmentNote, ["subjective", "objective", "assessment", "plan", "areas"]),
            (NoteAddendum, ["text"]),
        ):
            cursor.execute(f"SELECT {', '.join(map(quote, columns))} FROM {quote(model._meta.db_table)}")
            tokens += [value for row in cursor.fetchall() for value in row]
    for note in DoctorNote.objects.order_by("pk"):
        with note.file.open("rb") as handle:
            tokens.append(handle.read())
    return tokens


def everything_as_read() -> list:
    return [
        *((i.answers, i.flags) for i in HealthIntake.objects.order_by("pk")),
        *(
            (n.subjective, n.objective, n.assessment, n.plan, n.areas)
            for n in TreatmentNote.objects.order_by("pk")
        ),
        *(a.text for a in NoteAddendum.objects.order_by("pk")),
        *(fields.fernet_all().decrypt(token) for token in raw_tokens() if isinstance(token, bytes)),
    ]


def test_rotation_moves_everything_to_the_new_salt_and_the_old_one_can_go(encryption_salts):
    encryption_salts(["salt-a"])
    client_with_health_record()
    client_with_health_record(name="Grace Hopper", email="grace@example.com")
    before = everything_as_read()
    tokens_before = raw_tokens()

    encryption_salts(["salt-b", "salt-a"])
    out = reencrypt("--batch-size", "1")  # several batches per table
    assert "Re-encrypted: 18;" in out  # 8 values and a file per client
    assert "unreadable with every listed key: 0" in out
    assert set(raw_tokens()).isdisjoint(tokens_before)

    encryption_salts(["salt-b"])
    assert everything_as_read() == before


def test_running_it_again_changes_nothing(encryption_salts):
    encryption_salts(["salt-a"])
    client_with_health_record()
    encryption_salts(["salt-b", "salt-a"])
    reencrypt()
    tokens = raw_tokens()
    out = reencrypt()
    assert "Re-encrypted: 0; already under the current key: 9;" in out
    assert raw_tokens() == tokens


def test_a_value_no_key_opens_is_left_as_it_is_and_the_command_fails(encryption_salts):
    encryption_salts(["lost-salt"])
    client_with_health_record()
    tokens = raw_tokens()
    encryption_salts(["salt-b"])
    with pytest.raises(CommandError, match="could not be decrypted"):
        reencrypt()
    assert raw_tokens() == tokens


def test_a_secret_key_rotation_is_covered_too(settings, encryption_salts):
    encryption_salts(["salt-a"])
    client_with_health_record()
    before = everything_as_read()
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-for-the-clinic-0123456789abcdefghijklmnop"
    settings.SECRET_KEY_FALLBACKS = [old_key]
    encryption_salts(["salt-a"])
    assert "Re-encrypted: 9;" in reencrypt()
    settings.SECRET_KEY_FALLBACKS = []
    encryption_salts(["salt-a"])
    assert everything_as_read() == before
    settings.SECRET_KEY = old_key  # before the keys are reset for the next test


def test_a_missing_doctors_note_file_is_reported_and_the_rest_is_done(encryption_salts, private_files):
    encryption_salts(["salt-a"])
    client_with_health_record()
    private_files.delete(DoctorNote.objects.get().file.name)
    encryption_salts(["salt-b", "salt-a"])
    out = reencrypt()
    assert "Re-encrypted: 8;" in out and "doctor's note files missing from storage: 1" in out
