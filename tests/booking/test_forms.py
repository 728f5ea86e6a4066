from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from booking.forms import ClientDetailsForm, ClinicDateTimeField, SlotForm, client_details_from
from booking.intake import Answer

LONDON = ZoneInfo("Europe/London")
VALID = {
    "name": "  Olivia   Brown ",
    "email": "olivia@example.com",
    "phone": "+44 7700 900101",
    "health_pregnancy": "yes",
    "health_pregnancy_number": "20",
    "health_skin": "no",
    "agree_policy": "on",
    "consent_name": "olivia brown",
}
# Plain stand-ins for HealthQuestion rows: the form only reads these attributes.
QUESTIONS = [
    SimpleNamespace(
        key="pregnancy", text="Are you pregnant?", help_text="", details_label="", number_label="Weeks?"
    ),
    SimpleNamespace(
        key="skin", text="Skin condition?", help_text="", details_label="Where?", number_label=""
    ),
]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-24T10:00:00+00:00", datetime(2026, 11, 24, 10, tzinfo=LONDON)),
        ("2026-11-24T10:00 00:00", datetime(2026, 11, 24, 10, tzinfo=LONDON)),  # "+" arrived as a space
        ("2026-07-01T10:00+01:00", datetime(2026, 7, 1, 10, tzinfo=LONDON)),
        ("2026-07-01T10:00", datetime(2026, 7, 1, 10, tzinfo=LONDON)),  # no offset: clinic time
    ],
)
def test_clinic_datetime_field_reads_iso_times(text, expected):
    value = ClinicDateTimeField().clean(text)
    assert value == expected
    assert value.utcoffset() is not None


@pytest.mark.parametrize("text", ["tomorrow", "2026-02-30T10:00", "10:00", "2026-11-24T10:00+99:00"])
def test_clinic_datetime_field_refuses_what_is_not_a_time(text):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="not a time we recognise"):
        ClinicDateTimeField().clean(text)


def test_details_form_cleans_and_converts():
    form = ClientDetailsForm({**VALID, "health_skin_details": "left over from a no"}, questions=QUESTIONS)
    assert form.is_valid(), form.errors
    session = form.to_session()
    details = client_details_from(session)
    assert details.name == "Olivia Brown"
    # Details given with a "no" (the fields show without JavaScript) are dropped.
    assert details.health == {"pregnancy": Answer(yes=True, number=20), "skin": Answer(yes=False)}
    assert details.policy_agreed is True
    assert "website" not in session


def test_details_form_asks_the_questions_it_is_given_with_if_yes_fields():
    form = ClientDetailsForm(questions=QUESTIONS)
    assert {"health_pregnancy", "health_pregnancy_number", "health_skin", "health_skin_details"} <= set(
        form.fields
    )
    assert form.fields["health_pregnancy_number"].label == "Weeks? (if yes)"
    assert "health_unchanged" not in form.fields


def test_details_form_wants_the_number_with_a_yes():
    form = ClientDetailsForm({**VALID, "health_pregnancy_number": ""}, questions=QUESTIONS)
    assert not form.is_valid()
    assert form.errors["health_pregnancy_number"] == ["Please give the number."]


def test_nothing_has_changed_keeps_the_last_answers():
    last = {"pregnancy": Answer(yes=False), "skin": Answer(yes=True, details="eczema")}
    data = {**VALID, "health_pregnancy": "", "health_skin": "", "health_unchanged": "on"}
    form = ClientDetailsForm(data, questions=QUESTIONS, last_answers=last)
    assert form.is_valid(), form.errors
    assert form.health_answers() == last


@pytest.mark.parametrize("phone", ["call me", "123", "0770090010101234567890123456"])
def test_details_form_wants_a_phone_number(phone):
    form = ClientDetailsForm({**VALID, "phone": phone})
    assert not form.is_valid()
    assert "not a phone number we can call" in form.errors["phone"][0]


def test_details_form_requires_the_policy_and_every_health_answer():
    form = ClientDetailsForm({**VALID, "agree_policy": "", "health_pregnancy": ""}, questions=QUESTIONS)
    assert not form.is_valid()
    assert set(form.errors) == {"agree_policy", "health_pregnancy"}
    assert form.errors["health_pregnancy"] == ["Please answer this question."]


def test_honeypot():
    form = ClientDetailsForm({**VALID, "website": "http://example.com"})
    assert not form.is_valid()
    assert form.non_field_errors() == ["This form could not be sent. Please call us to book."]


@pytest.mark.django_db
def test_slot_form_checks_length_against_the_technique(swedish):
    from django.utils import timezone

    start = (timezone.now() + timedelta(days=3)).isoformat()
    assert SlotForm({"length": 60, "start": start}, technique=swedish).is_valid()
    form = SlotForm({"length": 45, "start": start}, technique=swedish)
    assert not form.is_valid()
    assert form.errors["length"] == ["Swedish is not offered in 45 minutes."]


def test_parse_iso_date_accepts_clinic_years_only():
    from datetime import date

    from booking.forms import parse_iso_date

    assert parse_iso_date(" 2026-11-24 ") == date(2026, 11, 24)
    for bad in ("9999-12-31", "0001-01-01", "24/11/2026", "", "2026-13-01"):
        with pytest.raises(ValueError):
            parse_iso_date(bad)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("1900-01-01", True),
        ("2200-12-31", True),
        ("1899-12-31", False),
        ("2201-01-01", False),
        ("9999-12-31", False),
        ("0001-01-01", False),
    ],
)
def test_clinic_dates_and_times_stay_within_the_clinics_years(value, ok):
    from booking.forms import ClinicDateField, ClinicDateTimeField

    for field, text in ((ClinicDateField(), value), (ClinicDateTimeField(), f"{value}T10:00")):
        if ok:
            field.clean(text)
        else:
            with pytest.raises(ValidationError) as error:
                field.clean(text)
            assert error.value.error_list[0].code == "out_of_range"


@pytest.mark.parametrize(
    "field, column",
    [
        ("name", "client_name"),
        ("email", "client_email"),
        ("phone", "client_phone"),
        ("notes", "client_notes"),
    ],
)
def test_details_form_allows_what_the_appointment_stores_and_says_when_too_long(field, column):
    from booking.models import Appointment

    limit = Appointment._meta.get_field(column).max_length
    form = ClientDetailsForm()
    assert form.fields[field].max_length == limit
    # No maxlength attribute: a browser would cut pasted text at it without a word.
    assert "maxlength" not in str(form[field])
    too_long = "7" * (limit + 1) if field == "phone" else "a" * (limit + 1)
    if field == "email":
        too_long = "a" * (limit - len("@example.com") + 1) + "@example.com"
    bound = ClientDetailsForm({**VALID, field: too_long})
    assert not bound.is_valid()
    if field != "phone":  # the phone's own pattern answers first
        assert f"please keep it to {limit} characters (it has {limit + 1})" in bound.errors[field][0]


@pytest.mark.parametrize(
    "name", ["Olivia\r\nBrown", "Olivia\tBrown", "Olivia\x0bBrown", "Olivia\u2028Brown", "Olivia\u202eBrown"]
)
def test_details_form_makes_the_name_one_plain_line(name):
    form = ClientDetailsForm({**VALID, "name": name})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "Olivia Brown"


@pytest.mark.parametrize("name", ["\x07\u202e\x1b", "\u202e\u200b", "\u200c\u200d", "-- ."])
def test_details_form_refuses_a_name_with_nothing_to_read(name):
    form = ClientDetailsForm({**VALID, "name": name})
    assert not form.is_valid()
    assert form.errors["name"] == ["This field is required."]


def test_nothing_has_changed_still_asks_a_question_added_since():
    last = {"pregnancy": Answer(yes=False)}
    data = {**VALID, "health_pregnancy": "", "health_skin": "", "health_unchanged": "on"}
    form = ClientDetailsForm(data, questions=QUESTIONS, last_answers=last)
    assert not form.is_valid()
    assert set(form.errors) == {"health_skin"}
    form = ClientDetailsForm({**data, "health_skin": "yes"}, questions=QUESTIONS, last_answers=last)
    assert form.is_valid(), form.errors
    assert form.health_answers() == {"pregnancy": Answer(yes=False), "skin": Answer(yes=True)}


# --------------------------------------------------------------------------- sessions for two (issue 12)

GUEST = {
    "guest-name": "Noah Green",
    "guest-health_pregnancy": "no",
    "guest-health_skin": "yes",
    "guest-health_skin_details": "Forearms",
    "guest-agree_policy": "on",
    "guest-consent_name": "Noah Green",
}


def test_guest_form_needs_a_name_answers_and_agreement_but_no_email_or_phone():
    from booking.forms import GuestDetailsForm

    form = GuestDetailsForm(GUEST, questions=QUESTIONS)
    assert form.is_valid(), form.errors
    details = client_details_from(form.to_session())
    assert (details.name, details.email, details.phone) == ("Noah Green", "", "")
    assert details.health["skin"] == Answer(yes=True, details="Forearms")
    assert details.policy_agreed and details.agreement.typed_name == "Noah Green"
    assert "website" not in form.fields  # one honeypot per page, the booker's
    empty = GuestDetailsForm({}, questions=QUESTIONS)
    assert not empty.is_valid()
    assert set(empty.errors) == {"name", "health_pregnancy", "health_skin", "agree_policy", "consent_name"}
    assert empty.errors["agree_policy"] == ["Your guest needs to agree to the cancellation policy too."]


def test_guest_form_fields_are_prefixed_apart_from_the_bookers():
    from booking.forms import GuestDetailsForm

    booker = ClientDetailsForm(VALID, questions=QUESTIONS)
    guest = GuestDetailsForm(GUEST, questions=QUESTIONS)
    assert booker.is_valid() and guest.is_valid()
    assert booker.cleaned_data["name"] == "Olivia Brown" and guest.cleaned_data["name"] == "Noah Green"
    # The label wording changed on the guest's copy only.
    assert str(ClientDetailsForm(questions=QUESTIONS).fields["name"].label) == "Your name"


def test_guest_form_refuses_a_bad_optional_email():
    from booking.forms import GuestDetailsForm

    form = GuestDetailsForm({**GUEST, "guest-email": "nope"}, questions=QUESTIONS)
    assert not form.is_valid()
    assert "email" in form.errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, error",
    [
        ({"party": "3"}, "party"),
        ({"party": "2"}, "party"),  # Swedish is not offered for two here
        ({"gender": "other"}, "gender"),
    ],
)
def test_choice_form_refuses_a_party_or_gender_it_cannot_offer(swedish, query, error):
    form = SlotForm({"length": 60, "start": "2026-11-24T10:00", **query}, technique=swedish)
    assert not form.is_valid()
    assert error in form.errors


@pytest.mark.django_db
def test_choice_form_for_two_reads_each_seat_and_refuses_one_therapist_twice(swedish):
    from tests.factories import TherapistFactory

    swedish.for_two = True
    swedish.save()
    anna = TherapistFactory(slug="anna", techniques=[swedish])
    base = {"length": 60, "start": "2026-11-24T10:00", "party": "2"}
    form = SlotForm({**base, "therapist": "any", "therapist2": "anna", "gender": "female"}, technique=swedish)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["party"] == 2 and form.therapists() == (None, anna)
    assert form.cleaned_data["gender"] == "female"
    same = SlotForm({**base, "therapist": "anna", "therapist2": "anna"}, technique=swedish)
    assert not same.is_valid() and "therapist2" in same.errors
    # For one, a second seat in the address is ignored; "any" gender is no preference.
    single = SlotForm(
        {"length": 60, "start": "2026-11-24T10:00", "therapist2": "anna", "gender": "any"}, technique=swedish
    )
    assert single.is_valid(), single.errors
    assert single.cleaned_data["party"] == 1 and single.cleaned_data["therapist2"] is None
    assert single.cleaned_data["gender"] is None
