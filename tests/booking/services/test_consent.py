from datetime import datetime

import pytest
from django.core.exceptions import ValidationError

from booking.choices import AppointmentSource, ConsentMethod, PolicyKind
from booking.models import Appointment, Client, Consent, PolicyText
from booking.services import appointments, consent
from tests.conftest import LONDON
from tests.factories import StaffFactory, TherapistFactory

pytestmark = pytest.mark.django_db
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)


def details(name="Olivia Brown", email="olivia@example.com", **extra) -> appointments.ClientDetails:
    return appointments.ClientDetails(name=name, email=email, phone="07700 900101", **extra)


def book(swedish, swedish_60, now, client, start=TUESDAY_10, **kwargs) -> Appointment:
    return appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, client=client, now=now, notify=False, **kwargs
    )


@pytest.fixture
def anna(swedish):
    return TherapistFactory(name="Anna", techniques=[swedish])


def test_version_one_of_each_text_is_seeded():
    assert consent.policy_text_current(PolicyKind.CANCELLATION).version == 1
    assert "24 hours" in consent.policy_text_current(PolicyKind.CANCELLATION).body
    assert consent.policy_text_current(PolicyKind.TREATMENT_CONSENT).version == 1


def test_publishing_makes_a_new_version_and_keeps_the_old_one():
    manager = StaffFactory(username="manager")
    old = consent.policy_text_current(PolicyKind.TREATMENT_CONSENT)
    old_body = old.body
    new = consent.policy_text_publish(kind=PolicyKind.TREATMENT_CONSENT, body="  New words.  ", by=manager)
    assert (new.version, new.body, new.created_by) == (2, "New words.", manager)
    assert consent.policy_text_current(PolicyKind.TREATMENT_CONSENT) == new
    old.refresh_from_db()
    assert old.body == old_body  # never edited
    # The other kind is untouched.
    assert consent.policy_text_current(PolicyKind.CANCELLATION).version == 1


def test_the_current_texts_are_the_newest_of_each_kind_as_the_orm_reads_them(django_assert_num_queries):
    manager = StaffFactory(username="manager")
    for body in ("Second words.", "Third words."):
        consent.policy_text_publish(kind=PolicyKind.TREATMENT_CONSENT, body=body, by=manager)
    with django_assert_num_queries(1):
        current = consent.policy_texts_current()
    assert {kind: (text.version, text.body) for kind, text in current.items()} == {
        PolicyKind.CANCELLATION: (1, consent.policy_text_current(PolicyKind.CANCELLATION).body),
        PolicyKind.TREATMENT_CONSENT: (3, "Third words."),
    }
    # Every field as the ORM gives it (the time aware, the author's id), so pages and the
    # versions kept with a draft see the same objects.
    for kind, text in current.items():
        expected = consent.policy_text_current(kind)
        assert text == expected
        assert (text.created_at, text.created_by_id, text.kind) == (
            expected.created_at,
            expected.created_by_id,
            expected.kind,
        )
    assert consent.policy_versions_current() == {kind: text.pk for kind, text in current.items()}


@pytest.mark.parametrize("kind, body", [("nonsense", "Words"), (PolicyKind.CANCELLATION, "   ")])
def test_publishing_refuses_unknown_kinds_and_empty_wording(kind, body):
    with pytest.raises(ValidationError):
        consent.policy_text_publish(kind=kind, body=body, by=None)
    assert PolicyText.objects.count() == 2


@pytest.mark.parametrize("typed", ["Olivia Brown", "  olivia   BROWN ", "OLIVIA\tbrown"])
def test_names_match_whatever_the_case_and_spacing(typed):
    assert consent.name_key(typed) == consent.name_key("Olivia Brown")


def test_online_booking_records_the_tick_and_the_typed_name(swedish, swedish_60, anna, monday_morning):
    client = details(policy_agreed=True, agreement=consent.Agreement(typed_name="olivia  brown"))
    appointment = book(swedish, swedish_60, monday_morning, client)
    rows = {c.policy.kind: c for c in appointment.consents.select_related("policy")}
    assert set(rows) == {PolicyKind.CANCELLATION, PolicyKind.TREATMENT_CONSENT}
    assert rows[PolicyKind.CANCELLATION].method == ConsentMethod.ONLINE_TICK
    assert rows[PolicyKind.TREATMENT_CONSENT].method == ConsentMethod.TYPED_NAME
    assert rows[PolicyKind.TREATMENT_CONSENT].typed_name == "olivia brown"
    assert all(c.agreed_at == monday_morning and c.policy.version == 1 for c in rows.values())
    assert all(c.client == appointment.client for c in rows.values())


def test_a_typed_name_that_is_not_the_clients_books_nothing(swedish, swedish_60, anna, monday_morning):
    client = details(policy_agreed=True, agreement=consent.Agreement(typed_name="Someone Else"))
    with pytest.raises(ValidationError) as error:
        book(swedish, swedish_60, monday_morning, client)
    assert error.value.code == "consent_name_mismatch"
    assert not Appointment.objects.exists() and not Consent.objects.exists()


def test_online_without_the_tick_books_nothing(swedish, swedish_60, anna, monday_morning):
    client = details(policy_agreed=False, agreement=consent.Agreement(typed_name="Olivia Brown"))
    with pytest.raises(ValidationError) as error:
        book(swedish, swedish_60, monday_morning, client)
    assert error.value.code == "policy_not_agreed"
    assert not Appointment.objects.exists()


def test_first_visit_needs_the_typed_name_a_returning_client_does_not(
    swedish, swedish_60, anna, monday_morning
):
    without_name = details(policy_agreed=True, agreement=consent.Agreement())
    with pytest.raises(ValidationError) as error:
        book(swedish, swedish_60, monday_morning, without_name)
    assert error.value.code == "consent_name_required"
    assert not Appointment.objects.exists()

    book(
        swedish,
        swedish_60,
        monday_morning,
        details(policy_agreed=True, agreement=consent.Agreement("Olivia Brown")),
    )
    again = book(swedish, swedish_60, monday_morning, without_name, start=TUESDAY_10.replace(hour=14))
    assert [c.policy.kind for c in again.consents.all()] == [PolicyKind.CANCELLATION]
    assert Client.objects.count() == 1


def test_staff_booking_agreed_by_phone_records_both_texts_and_who(swedish, swedish_60, anna, monday_morning):
    receptionist = StaffFactory(username="rita")
    client = details(agreement=consent.Agreement(by_phone=True, recorded_by=receptionist))
    appointment = book(
        swedish, swedish_60, monday_morning, client, therapist=anna, source=AppointmentSource.STAFF
    )
    rows = list(appointment.consents.all())
    assert {c.policy.kind for c in rows} == {PolicyKind.CANCELLATION, PolicyKind.TREATMENT_CONSENT}
    assert {(c.method, c.recorded_by, c.typed_name) for c in rows} == {
        (ConsentMethod.STAFF_PHONE, receptionist, "")
    }


def test_staff_booking_without_the_tick_records_nothing(swedish, swedish_60, anna, monday_morning):
    appointment = book(
        swedish, swedish_60, monday_morning, details(), therapist=anna, source=AppointmentSource.STAFF
    )
    assert not appointment.consents.exists()


def test_old_bookings_keep_the_version_they_agreed_to(swedish, swedish_60, anna, monday_morning):
    agreed = details(policy_agreed=True, agreement=consent.Agreement("Olivia Brown"))
    first = book(swedish, swedish_60, monday_morning, agreed)
    consent.policy_text_publish(kind=PolicyKind.CANCELLATION, body="Cancel 48 hours ahead.", by=None)
    second = book(swedish, swedish_60, monday_morning, agreed, start=TUESDAY_10.replace(hour=14))

    def versions(appointment):
        return {c.policy.kind: c.policy.version for c in appointment.consents.all()}

    assert versions(first) == {PolicyKind.CANCELLATION: 1, PolicyKind.TREATMENT_CONSENT: 1}
    assert versions(second) == {PolicyKind.CANCELLATION: 2, PolicyKind.TREATMENT_CONSENT: 1}
    assert first.consents.get(policy__kind=PolicyKind.CANCELLATION).policy.body.startswith("You can change")


def test_callers_that_ask_nothing_record_only_a_ticked_policy(swedish, swedish_60, anna, monday_morning):
    appointment = book(swedish, swedish_60, monday_morning, details(policy_agreed=True))
    assert [c.method for c in appointment.consents.all()] == [ConsentMethod.ONLINE_TICK]
    other = book(
        swedish, swedish_60, monday_morning, details(email="x@example.com"), start=TUESDAY_10.replace(hour=14)
    )
    assert not other.consents.exists()
