"""Data migrations, run forwards and backwards on a real schema."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

LONDON = ZoneInfo("Europe/London")
BEFORE = [("booking", "0014_security_detected_image_names")]
AFTER = [("booking", "0009_clientchange_kind")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_client_change_sentences_become_codes_and_times():
    old = _migrate(BEFORE)
    Technique = old.get_model("booking", "Technique")
    Therapist = old.get_model("booking", "Therapist")
    Appointment = old.get_model("booking", "Appointment")
    ClientChange = old.get_model("booking", "ClientChange")
    start = datetime(2026, 11, 24, 10, tzinfo=LONDON)
    appointment = Appointment.objects.create(
        therapist=Therapist.objects.create(name="Anna", slug="anna-migration"),
        technique=Technique.objects.create(name="Migration", slug="migration-technique"),
        duration_minutes=60, price="55.00", buffer_minutes=15, start=start,
        end=start.replace(hour=11), occupied_until=start.replace(hour=11, minute=15),
        client_name="Ida", client_email="ida@example.com", client_phone="1", reference="MIGR0001",
        manage_secret="x" * 32,
    )  # fmt: skip
    ClientChange.objects.create(
        appointment=appointment,
        summary="Moved online by the client: Tue 24 Nov 2026 10:00 → Sun 29 Mar 2026 14:30",
    )
    ClientChange.objects.create(appointment=appointment, summary="Cancelled online by the client")
    try:
        new = _migrate(AFTER)
        moved, cancelled = new.get_model("booking", "ClientChange").objects.order_by("pk")
        assert moved.kind == "moved"
        assert moved.previous_start == start
        assert moved.new_start == datetime(2026, 3, 29, 14, 30, tzinfo=LONDON)  # summer time: 13:30 UTC
        assert (cancelled.kind, cancelled.previous_start, cancelled.new_start) == ("cancelled", None, None)
        # And back: the sentences are written again.
        back = _migrate(BEFORE)
        summaries = list(
            back.get_model("booking", "ClientChange").objects.order_by("pk").values_list("summary", flat=True)
        )
        assert summaries == [
            "Moved online by the client: Tue 24 Nov 2026 10:00 → Sun 29 Mar 2026 14:30",
            "Cancelled online by the client",
        ]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_health_columns_become_intakes_before_they_are_removed():
    old = _migrate([("booking", "0015_clients_health_notes")])
    Technique = old.get_model("booking", "Technique")
    Therapist = old.get_model("booking", "Therapist")
    Appointment = old.get_model("booking", "Appointment")
    start = datetime(2026, 11, 24, 10, tzinfo=LONDON)
    Appointment.objects.create(
        therapist=Therapist.objects.create(name="Anna", slug="anna-health-migration"),
        technique=Technique.objects.create(name="Migration", slug="health-migration-technique"),
        duration_minutes=60, price="55.00", buffer_minutes=15, start=start,
        end=start.replace(hour=11), occupied_until=start.replace(hour=11, minute=15),
        client_name="Ida", client_email="ida@example.com", client_phone="1", reference="MIGR0002",
        manage_secret="x" * 32, pregnant=True, recent_injury="Sprained wrist", health_conditions="Warfarin",
    )  # fmt: skip
    try:
        new = _migrate([("booking", "0018_remove_appointment_health_columns")])
        column_names = {
            column.name
            for column in connection.introspection.get_table_description(
                connection.cursor(), "booking_appointment"
            )
        }
        assert not {"pregnant", "recent_injury", "health_conditions"} & column_names
        record = new.get_model("booking", "HealthIntake").objects.get()
        assert record.answers == {
            "pregnancy": {"yes": True, "details": "", "number": None},
            "injury_or_surgery": {"yes": True, "details": "Sprained wrist", "number": None},
            "conditions": {"yes": True, "details": "Warfarin", "number": None},
        }
        assert record.appointment.reference == "MIGR0002"
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_policy_agreed_times_become_consents_before_the_column_goes():
    old = _migrate([("booking", "0014_security_detected_image_names")])
    Appointment = old.get_model("booking", "Appointment")
    start = datetime(2026, 11, 24, 10, tzinfo=LONDON)
    agreed = datetime(2026, 11, 20, 9, tzinfo=LONDON)
    Appointment.objects.create(
        therapist=old.get_model("booking", "Therapist").objects.create(name="Anna", slug="anna-consent"),
        technique=old.get_model("booking", "Technique").objects.create(name="Consent", slug="consent-t"),
        duration_minutes=60, price="55.00", buffer_minutes=15, start=start,
        end=start.replace(hour=11), occupied_until=start.replace(hour=11, minute=15),
        client_name="Ida", client_email="ida@example.com", client_phone="1", reference="CONS0001",
        manage_secret="x" * 32, policy_agreed_at=agreed,
    )  # fmt: skip
    try:
        new = _migrate([("booking", "0019_remove_appointment_policy_agreed_at")])
        consent = new.get_model("booking", "Consent").objects.select_related("policy", "appointment").get()
        assert (consent.policy.kind, consent.policy.version) == ("cancellation", 1)
        assert (consent.agreed_at, consent.method, consent.appointment.reference) == (
            agreed, "online_tick", "CONS0001")  # fmt: skip
        columns = [
            c.name
            for c in connection.introspection.get_table_description(
                connection.cursor(), "booking_appointment"
            )
        ]
        assert "policy_agreed_at" not in columns
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_cancelled_appointments_get_when_they_were_cancelled():
    old = _migrate([("booking", "0030_time_off_request_roles")])
    Technique = old.get_model("booking", "Technique")
    Therapist = old.get_model("booking", "Therapist")
    Appointment = old.get_model("booking", "Appointment")
    ClientChange = old.get_model("booking", "ClientChange")
    Client = old.get_model("booking", "Client")
    therapist = Therapist.objects.create(name="Anna", slug="anna-cancelled-at")
    technique = Technique.objects.create(name="Cancelled at", slug="cancelled-at-technique")
    client = Client.objects.create(name="Ida", email="ida@example.com")
    start = datetime(2026, 11, 24, 10, tzinfo=LONDON)

    def appointment(reference, status, hour):
        at = start.replace(hour=hour)
        return Appointment.objects.create(
            therapist=therapist, technique=technique, duration_minutes=60, price="55.00", buffer_minutes=0,
            start=at, end=at.replace(minute=59), occupied_until=at.replace(minute=59), status=status,
            client=client, client_name="Ida", client_email="ida@example.com", client_phone="1",
            reference=reference, manage_secret="x" * 32,
        )  # fmt: skip

    online = appointment("CANC0001", "cancelled", 9)
    by_staff = appointment("CANC0002", "cancelled", 11)
    kept = appointment("CANC0003", "confirmed", 13)
    clicked = datetime(2026, 11, 20, 8, tzinfo=LONDON)
    change = ClientChange.objects.create(appointment=online, kind="cancelled")
    ClientChange.objects.filter(pk=change.pk).update(at=clicked)
    phoned = datetime(2026, 11, 24, 7, tzinfo=LONDON)
    Appointment.objects.filter(pk__in=[online.pk, by_staff.pk, kept.pk]).update(updated_at=phoned)
    try:
        new = _migrate([("booking", "0031_reports_cancelled_at")])
        rows = dict(new.get_model("booking", "Appointment").objects.values_list("reference", "cancelled_at"))
        assert rows == {"CANC0001": clicked, "CANC0002": phoned, "CANC0003": None}
        Group = new.get_model("auth", "Group")
        assert Group.objects.filter(name="Manager", permissions__codename="view_reports").exists()
        assert not Group.objects.filter(name="Reception", permissions__codename="view_reports").exists()
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
