"""booking.services.clients: which client a booking belongs to, whose details win, merging."""

from datetime import datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError

from booking.choices import ConsentMethod, HealthAccessKind, PolicyKind
from booking.models import (
    Appointment,
    Client,
    Consent,
    DoctorNote,
    HealthDataAccess,
    HealthIntake,
    PolicyText,
    TreatmentNote,
)
from booking.phones import phone_e164
from booking.services import appointments, clients
from tests.booking.test_concurrency import race
from tests.conftest import LONDON
from tests.factories import (
    ClientFactory,
    StaffFactory,
    TechniqueFactory,
    TechniqueLengthFactory,
    TherapistFactory,
    appointment_row,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("0044 (0)7700-900.123".replace("(0)", ""), "+447700900123"),
        ("01227 123 456", "+441227123456"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("123", ""),
        ("", ""),
        ("not a number", ""),
        ("9" * 60, ""),
    ],
)
def test_phone_e164_reads_any_format_in_the_clinic_region(typed, expected):
    assert phone_e164(typed) == expected


@pytest.mark.django_db
def test_online_booking_finds_the_client_by_email_ignoring_case_and_spaces():
    first = clients.client_for_online_booking(name="Olivia", email="Olivia@Example.com", phone="07700 900101")
    again = clients.client_for_online_booking(
        name="Olivia Brown", email="  olivia@example.COM ", phone="07700 900101"
    )
    assert again.pk == first.pk
    assert Client.objects.count() == 1
    assert str(first.phone) == "+447700900101"


@pytest.mark.django_db
def test_an_unverified_client_takes_the_newest_details_typed_online():
    client = clients.client_for_online_booking(name="Liv", email="liv@example.com", phone="07700 900101")
    clients.client_for_online_booking(name="Olivia Brown", email="liv@example.com", phone="07700 900222")
    client.refresh_from_db()
    assert (client.name, str(client.phone)) == ("Olivia Brown", "+447700900222")


@pytest.mark.django_db
def test_a_verified_client_keeps_their_details_and_the_booking_keeps_what_was_typed(swedish_setup):
    technique, length, therapist = swedish_setup
    client = ClientFactory(name="Olivia Brown", email="olivia@example.com", phone="+447700900101")
    clients.client_verify(client=client, by=StaffFactory(), now=NOW)
    booked = appointments.appointment_book(
        technique=technique,
        length=length,
        start=datetime(2026, 11, 24, 10, 0, tzinfo=LONDON),
        therapist=therapist,
        client=appointments.ClientDetails("Someone Else", "OLIVIA@example.com", "07700 900999"),
        now=NOW,
        notify=False,
    )
    client.refresh_from_db()
    assert booked.client_id == client.pk
    assert (client.name, str(client.phone)) == ("Olivia Brown", "+447700900101")
    assert (booked.client_name, booked.client_phone) == ("Someone Else", "07700 900999")


@pytest.fixture
def swedish_setup():
    technique = TechniqueFactory(name="Swedish test", slug="swedish-test")
    length = TechniqueLengthFactory(technique=technique, duration_minutes=60)
    therapist = TherapistFactory(techniques=[technique])
    return technique, length, therapist


@pytest.mark.django_db
def test_every_booking_gets_a_client_online_and_staff(swedish_setup):
    technique, length, therapist = swedish_setup
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    online = appointments.appointment_book(
        technique=technique, length=length, start=start, therapist=therapist, now=NOW, notify=False,
        client=appointments.ClientDetails("Ann", "ann@example.com", "07700 900101"),
    )  # fmt: skip
    staff_new = appointments.appointment_book(
        technique=technique, length=length, start=start + timedelta(hours=2), therapist=therapist,
        now=NOW, notify=False, source="staff",
        client=appointments.ClientDetails("Bea", "bea@example.com", "07700 900102"),
    )  # fmt: skip
    picked = ClientFactory(name="Cat", email="")
    staff_picked = appointments.appointment_book(
        technique=technique, length=length, start=start + timedelta(hours=4), therapist=therapist,
        now=NOW, notify=False, source="staff",
        client=appointments.ClientDetails("Cat", "cat@example.com", "07700 900103", record=picked),
    )  # fmt: skip
    assert online.client.email == "ann@example.com"
    assert staff_new.client.name == "Bea"
    assert staff_picked.client_id == picked.pk
    assert not Appointment.objects.filter(client__isnull=True).exists()


@pytest.mark.django_db
def test_a_staff_booking_with_a_known_email_uses_that_client(swedish_setup):
    technique, length, therapist = swedish_setup
    known = ClientFactory(email="known@example.com", phone="")
    booked = appointments.appointment_book(
        technique=technique, length=length, start=datetime(2026, 11, 24, 10, 0, tzinfo=LONDON),
        therapist=therapist, now=NOW, notify=False, source="staff",
        client=appointments.ClientDetails("K", " Known@Example.com", "07700 900111"),
    )  # fmt: skip
    known.refresh_from_db()
    assert booked.client_id == known.pk
    assert str(known.phone) == "+447700900111"  # a blank on the record is filled in


@pytest.mark.django_db
def test_a_staff_booking_for_a_merged_client_is_refused_clearly():
    kept, gone = ClientFactory(), ClientFactory()
    clients.client_merge(keep=kept, duplicate=gone, by=StaffFactory())
    with pytest.raises(ValidationError) as error:
        clients.client_for_staff_booking(client=gone, name="x", email="", phone="")
    assert error.value.code == "client_gone"


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_bookings_with_one_new_email_make_one_client():
    """Real threads, each with its own connection, released together (SQLite and PostgreSQL)."""
    outcomes = race(
        [
            (
                lambda n=n: clients.client_for_online_booking(
                    name=f"Olivia {n}",
                    email=" New@Example.com" if n % 2 else "new@example.com ",
                    phone="07700 900101",
                )
            )
            for n in range(8)
        ]  # fmt: skip
    )
    assert all(isinstance(o, Client) for o in outcomes), outcomes
    assert len({o.pk for o in outcomes}) == 1
    assert Client.objects.filter(email_key="new@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_bookings_through_the_service_make_one_client():
    technique = TechniqueFactory(name="Race", slug="race")
    length = TechniqueLengthFactory(technique=technique, duration_minutes=60)
    therapists = [TherapistFactory(techniques=[technique]) for _ in range(4)]
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    outcomes = race(
        [
            (
                lambda t=t: appointments.appointment_book(
                    technique=technique,
                    length=length,
                    start=start,
                    therapist=t,
                    now=NOW,
                    notify=False,
                    client=appointments.ClientDetails("Olivia", "race@example.com", "07700 900101"),
                )
            )
            for t in therapists
        ]  # fmt: skip
    )
    booked = [o for o in outcomes if isinstance(o, Appointment)]
    assert len(booked) == 4, outcomes
    assert Client.objects.count() == 1
    assert {a.client_id for a in booked} == {Client.objects.get().pk}


@pytest.mark.django_db
def test_merge_moves_everything_and_logs_it_on_both(swedish_setup):
    technique, _length, therapist = swedish_setup
    keep = ClientFactory(name="Olivia Brown", email="olivia@example.com", phone="")
    duplicate = ClientFactory(name="Olivia B", email="liv@example.com", phone="+447700900101")
    start = datetime(2026, 11, 10, 10, 0, tzinfo=LONDON)
    kept_visit = appointment_row(therapist, technique, start, client=keep)
    dup_visits = [
        appointment_row(therapist, technique, start + timedelta(days=d), client=duplicate) for d in (1, 2)
    ]
    HealthIntake.objects.create(
        client=duplicate, appointment=dup_visits[0], answers={"pregnancy": {"yes": False}}
    )
    policy = PolicyText.objects.filter(kind=PolicyKind.CANCELLATION).first() or PolicyText.objects.create(
        kind=PolicyKind.CANCELLATION, version=99, body="x"
    )
    Consent.objects.create(
        client=duplicate,
        appointment=dup_visits[0],
        policy=policy,
        agreed_at=start,
        method=ConsentMethod.ONLINE_TICK,
    )
    DoctorNote.objects.create(client=duplicate, appointment=dup_visits[1])
    note = TreatmentNote.objects.create(
        appointment=dup_visits[1], subjective="sore neck", objective="o", assessment="a", plan="p"
    )
    HealthDataAccess.objects.create(username="x", client=duplicate, kind=HealthAccessKind.INTAKE)
    before = {
        "appointments": Appointment.objects.count(),
        "intakes": HealthIntake.objects.count(),
        "consents": Consent.objects.count(),
        "doctor_notes": DoctorNote.objects.count(),
        "notes": TreatmentNote.objects.count(),
    }
    manager = StaffFactory()

    clients.client_merge(keep=keep, duplicate=duplicate, by=manager)

    duplicate.refresh_from_db()
    keep.refresh_from_db()
    assert duplicate.merged_into_id == keep.pk
    assert keep.appointments.count() == 3 and duplicate.appointments.count() == 0
    assert keep.intakes.count() == 1 and keep.consents.count() == 1 and keep.doctor_notes.count() == 1
    assert TreatmentNote.objects.get(pk=note.pk).appointment.client_id == keep.pk
    assert keep.health_accesses.count() == 1
    assert str(keep.phone) == "+447700900101"  # the kept record lacked a phone
    assert kept_visit.pk in keep.appointments.values_list("pk", flat=True)
    after = {
        "appointments": Appointment.objects.count(),
        "intakes": HealthIntake.objects.count(),
        "consents": Consent.objects.count(),
        "doctor_notes": DoctorNote.objects.count(),
        "notes": TreatmentNote.objects.count(),
    }
    assert after == before
    logged = LogEntry.objects.filter(user=manager)
    assert {int(e.object_id) for e in logged} == {keep.pk, duplicate.pk}
    assert all("2 appointments" in e.change_message for e in logged)
    # The duplicate's address still leads to the kept client, never to a new record.
    found = clients.client_for_online_booking(name="Liv", email="LIV@example.com", phone="")
    assert found.pk == keep.pk


@pytest.mark.django_db
def test_merge_refuses_the_same_client_and_an_already_merged_one():
    a, b, c = ClientFactory(), ClientFactory(), ClientFactory()
    with pytest.raises(ValidationError):
        clients.client_merge(keep=a, duplicate=a, by=None)
    clients.client_merge(keep=a, duplicate=b, by=None)
    with pytest.raises(ValidationError):
        clients.client_merge(keep=c, duplicate=b, by=None)
