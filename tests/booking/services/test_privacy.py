import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Sum
from django.utils import timezone

from booking.choices import HealthAccessKind
from booking.models import Appointment, Client, HealthDataAccess, HealthIntake, TreatmentNote
from booking.services import appointments, privacy
from booking.services.appointments import ClientDetails
from tests.conftest import LONDON
from tests.factories import StaffFactory, TherapistFactory, appointment_row, client_with_health_record

pytestmark = pytest.mark.django_db


def test_a_look_at_health_data_is_recorded_with_who_and_what():
    client = Client.objects.create(name="Ada Lovelace", email="ada@example.com")
    staff = StaffFactory(username="amara")
    privacy.health_access_record(user=staff, client=client, kind=HealthAccessKind.INTAKE, object_id=7)
    access = HealthDataAccess.objects.get()
    assert (access.user, access.username, access.client, access.kind, access.object_id) == (
        staff,
        "amara",
        client,
        HealthAccessKind.INTAKE,
        7,
    )
    assert access.at is not None


def test_many_looks_on_one_page_are_recorded_in_one_query_each_once(django_assert_num_queries):
    ada = Client.objects.create(name="Ada Lovelace", email="ada@example.com")
    bob = Client.objects.create(name="Bob Stone", email="bob@example.com")
    staff = StaffFactory(username="amara")
    looks = [
        (ada, HealthAccessKind.INTAKE, 1),
        (ada, HealthAccessKind.NOTE, 2),
        (bob, HealthAccessKind.INTAKE, 3),
        (ada, HealthAccessKind.NOTE, 2),  # the same note, the last one of two visits on the page
    ]
    with django_assert_num_queries(1):
        assert privacy.health_access_record_many(user=staff, looks=looks) == 3
    rows = HealthDataAccess.objects.order_by("id").values_list("username", "client", "kind", "object_id")
    assert list(rows) == [
        ("amara", ada.pk, HealthAccessKind.INTAKE, 1),
        ("amara", ada.pk, HealthAccessKind.NOTE, 2),
        ("amara", bob.pk, HealthAccessKind.INTAKE, 3),
    ]
    with django_assert_num_queries(0):
        assert privacy.health_access_record_many(user=staff, looks=[]) == 0


# --------------------------------------------------------------------------- export and erasure

NAME, EMAIL, PHONE = "Ada Lovelace", "ada.lovelace@example.com", "07911 123456"
PERSONAL = [NAME, "Lovelace", EMAIL, "ada.lovelace", PHONE, "+447911123456", "7911123456", "07911123456"]
HEALTH = ["Sciatica", "Zorbex", "piriformis", "Improving", "Stretch daily", "headache", "left knee"]
HEALTH += ["Prefers quiet", "Bad back", "lower_back"]


def every_stored_text() -> str:
    """Every value in every table, as text, with each Fernet token also decrypted: what a
    copy of the database (and its keys) would give away."""
    from django.db import connection

    from clinic import fields

    keys = fields.fernet_all()
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    text = str(value)
                    found.append(text)
                    if text.startswith("gAAAAA"):
                        found.append(keys.decrypt(text.encode()).decode())
    return "\n".join(found)


@pytest.fixture
def record(private_files):
    return client_with_health_record(name=NAME, email=EMAIL, phone=PHONE)


def test_export_holds_everything_about_the_client_and_is_recorded(record):
    client, appointment = record
    manager = StaffFactory(username="manager")
    privacy.health_access_record(user=manager, client=client, kind=HealthAccessKind.INTAKE)
    data = privacy.client_export(client=client, by=manager)

    assert data["client"]["name"] == NAME and data["client"]["email"] == EMAIL
    assert data["client"]["phone"] == "+447911123456"
    assert data["preferences"]["areas_to_avoid"] == "left knee"
    (consent,) = data["consents"]
    assert consent["text"] == "treatment_consent" and consent["version"] >= 1 and consent["wording"]
    assert consent["typed_name"] == NAME
    (visit,) = data["appointments"]
    assert visit["reference"] == appointment.reference and str(visit["price"]) == "55.00"
    assert visit["notes_for_the_therapist"] == "Bad back since the marathon"
    (intake,) = data["health_intakes"]
    assert intake["answers"]["conditions"]["details"] == "Sciatica and Zorbex tablets"
    (doctor_note,) = data["doctors_notes"]
    assert doctor_note["has_file"] and doctor_note["content_type"] == "application/pdf"
    (note,) = data["treatment_notes"]
    assert (
        note["subjective"] == "Sciatica flaring" and note["addenda"][0]["text"] == "Also mentioned a headache"
    )
    assert [a["what"] for a in data["access_log"]] == [HealthAccessKind.INTAKE]
    # Ready for a JSON download.
    assert NAME in json.dumps(data, cls=DjangoJSONEncoder)
    last = HealthDataAccess.objects.order_by("-id").first()
    assert (last.kind, last.user, last.client) == (HealthAccessKind.EXPORT, manager, client)


def test_export_shows_nothing_of_another_client(record):
    client, _ = record
    other, _ = client_with_health_record(name="Grace Hopper", email="grace@example.com", phone="07700 900999")
    text = json.dumps(privacy.client_export(client=other, by=StaffFactory()), cls=DjangoJSONEncoder)
    for own in (NAME, EMAIL, "+447911123456", client.appointments.get().reference):
        assert own not in text


def test_erasure_leaves_nothing_personal_in_the_database(
    record, private_files, django_capture_on_commit_callbacks
):
    client, appointment = record
    file_name = appointment.doctor_notes.get().file.name
    assert private_files.exists(file_name)
    # The admin history names the client and shows edited values.
    manager = StaffFactory(username="manager")
    LogEntry.objects.create(
        user=manager,
        content_type=ContentType.objects.get_for_model(Appointment),
        object_id=str(appointment.pk),
        object_repr=str(appointment),
        action_flag=CHANGE,
        change_message=f"Phone: 07700 900000 → {PHONE}",
    )
    stored = every_stored_text()
    assert all(text in stored for text in PERSONAL[:5] + HEALTH)  # the search finds them before

    with django_capture_on_commit_callbacks(execute=True):
        privacy.client_erase(client=client, by=manager)

    stored = every_stored_text()
    for text in PERSONAL + HEALTH:
        assert text not in stored, text
    assert not private_files.exists(file_name)
    client.refresh_from_db()
    assert client.name == f"Erased client #{client.pk}" and client.erased_at is not None
    assert (client.email, str(client.phone), client.date_of_birth) == ("", "", None)
    appointment.refresh_from_db()
    assert appointment.client_name == f"Erased client #{client.pk}"
    # That the intake, the doctor's note and the treatment note existed is kept.
    intake = HealthIntake.objects.get(client=client)
    assert (intake.answers, intake.flags) == ({}, [])
    note = TreatmentNote.objects.get(appointment=appointment)
    assert (note.subjective, note.objective, note.assessment, note.plan, note.areas) == ("", "", "", "", [])
    assert note.addenda.get().text == ""
    assert not appointment.doctor_notes.get().file
    entry = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Client)).get()
    assert (entry.user, entry.object_repr) == (manager, f"Erased client #{client.pk}")


def test_erasure_keeps_every_count_and_the_revenue(record):
    client, appointment = record
    therapist, technique = appointment.therapist, appointment.technique
    for day, status in [(3, "completed"), (4, "no_show"), (5, "cancelled")]:
        appointment_row(
            therapist,
            technique,
            datetime(2026, 3, day, 10, tzinfo=UTC),
            client=client,
            status=status,
            price="40.00",
        )
    other, _ = client_with_health_record(name="Grace Hopper", email="grace@example.com", phone="07700 900999")

    def figures():
        rows = Appointment.objects.all()
        return (
            rows.count(),
            dict(rows.values_list("status").annotate(n=Count("id")).order_by("status")),
            rows.filter(status__in=["completed", "no_show"]).aggregate(total=Sum("price"))["total"],
            rows.filter(client=client).count(),
            rows.filter(client=other).count(),
            dict(rows.values_list("therapist").annotate(n=Count("id")).order_by("therapist")),
        )

    before = figures()
    privacy.client_erase(client=client, by=StaffFactory())
    assert figures() == before


def test_erasing_twice_changes_nothing_more(record):
    client, _ = record
    privacy.client_erase(client=client, by=StaffFactory())
    privacy.client_erase(client=client, by=StaffFactory())
    assert LogEntry.objects.count() == 1


def test_a_client_with_an_appointment_to_come_is_not_erased(record):
    client, appointment = record
    appointment_row(
        appointment.therapist,
        appointment.technique,
        timezone.now() + timedelta(days=3),
        client=client,
        status="confirmed",
    )
    with pytest.raises(ValidationError) as error:
        privacy.client_erase(client=client, by=StaffFactory())
    assert error.value.code == "upcoming"
    client.refresh_from_db()
    assert client.name == NAME and client.erased_at is None


def test_clients_merged_into_the_erased_one_are_erased_too(record):
    client, _ = record
    duplicate = Client.objects.create(name="Ada L.", email="ada.old@example.com", merged_into=client)
    privacy.client_erase(client=client, by=StaffFactory())
    duplicate.refresh_from_db()
    assert (duplicate.name, duplicate.email) == (f"Erased client #{duplicate.pk}", "")


# --------------------------------------------------------------------------- retention


def test_retention_counts_from_the_last_visit(settings, private_files):
    settings.CLIENT_RETENTION_YEARS = 8
    now = datetime(2034, 6, 1, tzinfo=UTC)
    old, _ = client_with_health_record(start=datetime(2026, 3, 2, 10, tzinfo=UTC))  # 8 years + 3 months
    recent, visit = client_with_health_record(
        name="Grace Hopper", email="grace@example.com", start=datetime(2026, 3, 2, 10, tzinfo=UTC)
    )
    appointment_row(
        visit.therapist,
        visit.technique,
        datetime(2026, 9, 1, 10, tzinfo=UTC),
        client=recent,
        status="completed",
    )
    assert list(privacy.clients_past_retention(now=now)) == [old]
    assert privacy.clients_erase_expired(now=now) == 1
    assert privacy.clients_erase_expired(now=now) == 0
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.erased_at is not None and recent.erased_at is None


# --------------------------------------------------------------------------- logging


def test_neither_a_booking_nor_an_erasure_logs_names_emails_or_health_data(
    caplog, record, swedish, swedish_60, monday_morning
):
    client, _ = record
    therapist = TherapistFactory(techniques=[swedish])
    details = ClientDetails(name=NAME, email=EMAIL, phone=PHONE, notes="Sciatica flaring")
    with caplog.at_level(logging.DEBUG):
        appointments.appointment_book(
            technique=swedish,
            length=swedish_60,
            start=datetime(2026, 11, 24, 10, tzinfo=LONDON),
            client=details,
            therapist=therapist,
            now=monday_morning,
        )
        privacy.client_erase(client=client, by=StaffFactory())
    assert caplog.records  # the run did log (SQL at DEBUG included); none of it is personal
    logged = "\n".join(
        [r.getMessage() for r in caplog.records] + [repr(getattr(r, "params", "")) for r in caplog.records]
    )
    for text in PERSONAL + HEALTH:
        assert text not in logged, text
