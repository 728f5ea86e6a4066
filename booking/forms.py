"""Forms for booking. Forms check the shape of input; services check the world."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.text import has_visible_text, single_line

from . import selectors
from .choices import TherapistGender
from .intake import Answer, answers_from_dict, answers_to_dict
from .models import Appointment, HealthQuestion, Technique, TechniqueLength, Therapist
from .phones import phone_e164
from .services import appointments, consent

ANY = "any"
# A session for two (issue 12): the choice's ``party`` is 1 or 2.
PARTY_SIZES = (1, 2)
# What "any available" may choose among: the codes the engine takes (None: anyone).
GENDER_CHOICES = [
    (ANY, _("No preference")),
    (TherapistGender.FEMALE, _("A female therapist")),
    (TherapistGender.MALE, _("A male therapist")),
]
MAX_DAYS = 31

# The dates the clinic can mean. Python's own limits (years 1 and 9999) are too close:
# the pages and the availability engine look a day behind and weeks ahead, which would
# overflow there. Every date or time typed in (query strings, staff forms) is checked
# against these, so nothing past them reaches the selectors.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2200, 12, 31)


def validate_clinic_date(value: date | datetime) -> None:
    """Refuse a date (or a time on a date) outside the years a clinic can mean."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValidationError(
            _("Choose a date between %(first)s and %(last)s."),
            code="out_of_range",
            params={"first": EARLIEST_DATE.year, "last": LATEST_DATE.year},
        )


class ClinicDateField(forms.DateField):
    """A date written 2026-11-24, within the clinic's years."""

    default_validators = [validate_clinic_date]

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kwargs)


class AvailabilityQueryForm(forms.Form):
    """The availability API's query string: technique, length, therapist, start, days."""

    technique = forms.SlugField(max_length=80)
    length = forms.IntegerField(min_value=1, max_value=600)
    therapist = forms.SlugField(max_length=100, required=False)
    start = ClinicDateField(required=False)
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, required=False)
    # Issue 12: a session for two (``therapist`` then names seat 1; seat 2 is any
    # available), and whom "any available" may be.
    party = forms.TypedChoiceField(
        choices=[(str(size), str(size)) for size in PARTY_SIZES], coerce=int, required=False, empty_value=1
    )
    gender = forms.ChoiceField(choices=GENDER_CHOICES, required=False)

    def clean_gender(self) -> str | None:
        gender = self.cleaned_data.get("gender") or ANY
        return None if gender == ANY else gender

    def clean_technique(self) -> Technique:
        slug = self.cleaned_data["technique"]
        technique = Technique.objects.bookable().filter(slug=slug).first()
        if technique is None:
            raise forms.ValidationError(_("No technique called %(slug)s is offered."), params={"slug": slug})
        return technique

    def clean_therapist(self) -> Therapist | None:
        slug = self.cleaned_data.get("therapist") or ANY
        if slug == ANY:
            return None
        therapist = Therapist.objects.active().filter(slug=slug).first()
        if therapist is None:
            raise forms.ValidationError(
                _("No therapist called %(slug)s takes bookings."), params={"slug": slug}
            )
        return therapist

    def clean(self):
        cleaned = super().clean()
        technique, minutes = cleaned.get("technique"), cleaned.get("length")
        if technique is not None and minutes is not None:
            length = TechniqueLength.objects.filter(technique=technique, duration_minutes=minutes).first()
            if length is None:
                self.add_error(
                    "length", _("%(name)s is not offered in that length.") % {"name": technique.name}
                )
            else:
                cleaned["length_obj"] = length
        therapist = cleaned.get("therapist")
        if (
            technique is not None
            and therapist is not None
            and not therapist.techniques.filter(pk=technique.pk).exists()
        ):
            self.add_error(
                "therapist", _("This therapist does not offer %(name)s.") % {"name": technique.name}
            )
        if technique is not None and cleaned.get("party") == 2 and not technique.for_two:
            self.add_error("party", _("%(name)s is not offered for two.") % {"name": technique.name})
        return cleaned


class ClinicDateTimeField(forms.Field):
    """An ISO 8601 instant such as 2026-11-23T09:00:00+00:00; without an offset it is read
    as the clinic's local time."""

    default_error_messages = {"invalid": _("That is not a time we recognise.")}
    default_validators = [validate_clinic_date]

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        # An unencoded "+" in a query string arrives as a space.
        text = str(value).strip().replace(" ", "+")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=selectors.clinic_zone())
        return parsed


class BookingChoiceForm(forms.Form):
    """The choice a booking page's address carries: a length and a therapist (or any)
    for the technique named in the path."""

    length = forms.IntegerField(
        min_value=1, max_value=600, error_messages={"required": _("Choose a length.")}
    )
    therapist = forms.SlugField(max_length=100, required=False)

    def __init__(self, *args, technique: Technique, **kwargs):
        self.technique = technique
        super().__init__(*args, **kwargs)

    def clean_length(self) -> TechniqueLength:
        minutes = self.cleaned_data["length"]
        # The lengths are prefetched with the technique: no query here.
        for length in self.technique.lengths.all():
            if length.duration_minutes == minutes:
                return length
        raise forms.ValidationError(
            _("%(name)s is not offered in %(minutes)s minutes."),
            params={"name": self.technique.name, "minutes": minutes},
            code="bad_length",
        )

    # A session for two: how many, the second seat's therapist (the first is
    # ``therapist``), and whom "any available" may choose among (for either seat).
    party = forms.TypedChoiceField(
        choices=[(str(size), str(size)) for size in PARTY_SIZES],
        coerce=int,
        required=False,
        empty_value=1,
        error_messages={"invalid_choice": _("Choose a massage for one or for two.")},
    )
    therapist2 = forms.SlugField(max_length=100, required=False)
    gender = forms.ChoiceField(
        choices=GENDER_CHOICES,
        required=False,
        error_messages={"invalid_choice": _("Choose no preference, a female or a male therapist.")},
    )

    def _therapist(self, field: str) -> Therapist | None:
        slug = self.cleaned_data.get(field) or ANY
        if slug == ANY:
            return None
        therapist = selectors.therapist_for_booking(technique=self.technique, slug=slug)
        if therapist is None:
            raise forms.ValidationError(
                _("That therapist does not offer %(name)s online."),
                params={"name": self.technique.name},
                code="bad_therapist",
            )
        return therapist

    def clean_therapist(self) -> Therapist | None:
        return self._therapist("therapist")

    def clean_therapist2(self) -> Therapist | None:
        if self.data.get("party") != "2":
            return None  # only a session for two has a second seat
        return self._therapist("therapist2")

    def clean_party(self) -> int:
        party = self.cleaned_data["party"]
        if party == 2 and not self.technique.for_two:
            raise forms.ValidationError(
                _("%(name)s is not offered for two."),
                params={"name": self.technique.name},
                code="not_for_two",
            )
        return party

    def clean_gender(self) -> str | None:
        gender = self.cleaned_data.get("gender") or ANY
        return None if gender == ANY else gender

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("therapist"), cleaned.get("therapist2")
        if cleaned.get("party") == 2 and first is not None and first == second:
            self.add_error(
                "therapist2",
                forms.ValidationError(
                    _("One therapist cannot massage both of you: choose another, or any available."),
                    code="same_therapist",
                ),
            )
        return cleaned

    def therapists(self) -> tuple[Therapist | None, Therapist | None]:
        """Seat 1 and seat 2 (None: any available)."""
        return self.cleaned_data.get("therapist"), self.cleaned_data.get("therapist2")


class TimesForm(BookingChoiceForm):
    """The day page: which week of the strip, and which day's times to show."""

    week = ClinicDateField(required=False)
    day = ClinicDateField(required=False)


class SlotForm(BookingChoiceForm):
    """A chosen start time, on top of the technique, length and therapist."""

    start = ClinicDateTimeField(error_messages={"required": _("Choose a time.")})


PHONE_RE = r"^\+?[0-9 ()\-.]{7,25}$"
PHONE_INVALID = _(
    "That is not a phone number we can call. Enter it as you would dial it, such as 07700 900123, "
    "or with the country code, such as +33 6 12 34 56 78."
)


class PhoneField(forms.CharField):
    """A phone number in any usual format (spaces, brackets, dashes, 0044 or +44), read in
    the clinic's region (PHONENUMBER_DEFAULT_REGION). Refuses what cannot be a number.

    It checks that the number is *possible* (right length for its country), not that its
    range is allocated today: libphonenumber's list of ranges lags behind new ones, and
    refusing a real client's number is worse than keeping one nobody answers.
    ``e164`` returns the normalised form (+447700900123); otherwise the text as typed
    (a booking's snapshot keeps what the client gave)."""

    default_error_messages = {"invalid": PHONE_INVALID}

    def __init__(self, *, e164: bool = False, **kwargs):
        self.e164 = e164
        kwargs.setdefault("widget", forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return ""
        normalised = phone_e164(value) if re.fullmatch(PHONE_RE, value) else ""
        if not normalised:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return normalised if self.e164 else value


def _stored_length(field: str) -> int:
    """The longest value the appointment can store for ``field``: form and model agree."""
    return Appointment._meta.get_field(field).max_length


TOO_LONG = {
    "max_length": _("This is too long: please keep it to %(limit_value)s characters (it has %(show_value)s).")
}


def doctor_note_field() -> forms.FileField:
    # Checked by services.intake.doctor_note_upload (type by its first bytes, size).
    return forms.FileField(
        label=_("Your doctor's note"),
        required=False,
        help_text=_("A PDF, or a photo (JPEG or PNG), of at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )


class ClientDetailsForm(forms.Form):
    """The client's details and health questions, asked before every online booking."""

    name = forms.CharField(
        label=_("Your name"),
        max_length=_stored_length("client_name"),
        error_messages=TOO_LONG,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=_stored_length("client_email"),
        error_messages=TOO_LONG,
        help_text=_("We send your confirmation here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = PhoneField(
        label=_("Phone"),
        max_length=_stored_length("client_phone"),
        help_text=_("In case we need to reach you on the day."),
    )
    notes = forms.CharField(
        label=_("Anything your therapist should know? (optional)"),
        required=False,
        max_length=_stored_length("client_notes"),
        error_messages=TOO_LONG,
        help_text=_("For example areas to focus on or avoid, or pressure you prefer."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    doctor_note = doctor_note_field()
    agree_policy = forms.BooleanField(
        label=_("I agree to the cancellation policy above"),
        error_messages={"required": _("Please agree to the cancellation policy to book.")},
    )
    # The treatment consent, agreed by typing one's full name (see services.consent). Asked
    # of everyone: asking only new clients would tell a visitor the address is known.
    consent_name = forms.CharField(
        label=_("Type your full name to agree to the treatment consent above"),
        max_length=_stored_length("client_name"),
        error_messages={
            **TOO_LONG,
            "required": _("Please type your full name to agree to the treatment consent."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    # A field people never see and bots fill in. Named like a real field so bots do.
    website = forms.CharField(
        label=_("Leave this empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, questions: Sequence[HealthQuestion] = (), last_answers=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The health questions are data the manager edits (HealthQuestion), not code.
        self.questions = list(questions)
        self.last_answers = last_answers
        for question in self.questions:
            self.fields.update(health_fields(question))
        if last_answers is not None:
            self.fields["health_unchanged"] = forms.BooleanField(
                label=_("Nothing has changed since my last visit"),
                required=False,
                help_text=_("Tick to keep the answers below as they were; or change them."),
            )
        for field in self.fields.values():
            # A browser cuts pasted text at maxlength without a word (a 360-character name
            # became its first 120). Without the attribute the server's length check
            # answers instead, with the limit and the text kept to shorten.
            field.widget.attrs.pop("maxlength", None)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("website"):
            # Said plainly for the rare person whose browser filled it in by itself.
            raise forms.ValidationError(
                _("This form could not be sent. Please call us to book."), code="spam"
            )
        require_answers(self, self._questions_to_answer(cleaned), cleaned)
        name, typed = cleaned.get("name"), cleaned.get("consent_name")
        if name and typed and consent.name_key(typed) != consent.name_key(name):
            self.add_error(
                "consent_name",
                forms.ValidationError(
                    _("Please type the same full name as above (%(name)s).") % {"name": name},
                    code="consent_name_mismatch",
                ),
            )
        return cleaned

    def _questions_to_answer(self, cleaned: dict) -> list[HealthQuestion]:
        # "Nothing has changed" covers the questions answered last time; one added since
        # still needs an answer.
        if cleaned.get("health_unchanged") and self.last_answers is not None:
            return [q for q in self.questions if q.key not in self.last_answers]
        return self.questions

    def health_rows(self) -> list[dict]:
        return health_rows(self, self.questions)

    def health_answers(self) -> dict[str, Answer]:
        """The answers given; when the client ticked "nothing has changed", their last ones."""
        fresh = answers_from_cleaned(self._questions_to_answer(self.cleaned_data), self.cleaned_data)
        if self.cleaned_data.get("health_unchanged") and self.last_answers is not None:
            return {**self.last_answers, **fresh}
        return fresh

    def clean_name(self) -> str:
        # One plain line: a line break or control character in a name would end up in
        # email headers, greetings and the admin.
        name = single_line(self.cleaned_data["name"])
        if not has_visible_text(name):
            raise forms.ValidationError(self.fields["name"].error_messages["required"], code="required")
        return name

    def to_session(self) -> dict:
        # The health fields travel as one "health" dict; the file and the honeypot not at all.
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in ("website", "doctor_note") and not name.startswith("health_")
        }
        data["health"] = answers_to_dict(self.health_answers())
        return data


class GuestDetailsForm(ClientDetailsForm):
    """The second guest of a session for two: their name, their own health answers (the
    same questions and rules as the booker's) and their own agreement to the policies.
    Their email and phone are optional: the booker's link and emails cover the visit."""

    prefix = "guest"

    def __init__(self, *args, **kwargs):
        kwargs["last_answers"] = None  # "Book again" offers back the booker's answers only
        super().__init__(*args, **kwargs)
        del self.fields["website"]  # one honeypot per page is enough
        fields = self.fields
        fields["name"].label = _("Your guest's name")
        fields["name"].widget.attrs["autocomplete"] = "off"  # not the booker's own name
        fields["email"].required = False
        fields["email"].label = _("Your guest's email (optional)")
        fields["email"].help_text = _("Only if they would like their own client record to have it.")
        fields["email"].widget.attrs["autocomplete"] = "off"
        fields["phone"].required = False
        fields["phone"].label = _("Your guest's phone (optional)")
        fields["phone"].help_text = ""
        fields["phone"].widget.attrs["autocomplete"] = "off"
        fields["notes"].label = _("Anything their therapist should know? (optional)")
        fields["doctor_note"].label = _("Your guest's doctor's note")
        fields["agree_policy"].label = _("My guest agrees to the cancellation policy above")
        fields["agree_policy"].error_messages["required"] = _(
            "Your guest needs to agree to the cancellation policy too."
        )
        fields["consent_name"].label = _(
            "Your guest types their full name to agree to the treatment consent above"
        )
        fields["consent_name"].error_messages["required"] = _(
            "Your guest needs to type their full name to agree to the treatment consent."
        )


ANSWER_REQUIRED = _("Please answer this question.")
YES_NO = [("no", _("No")), ("yes", _("Yes"))]


def health_fields(question: HealthQuestion) -> dict[str, forms.Field]:
    name = f"health_{question.key}"
    fields: dict[str, forms.Field] = {
        name: forms.TypedChoiceField(
            label=question.text,
            choices=YES_NO,
            coerce=lambda value: value == "yes",
            empty_value=None,
            required=False,  # required unless "nothing has changed": see clean()
            widget=forms.RadioSelect,
            help_text=question.help_text,
        )
    }
    if question.details_label:
        fields[f"{name}_details"] = forms.CharField(
            label=_("%(label)s (if yes)") % {"label": question.details_label},
            required=False,
            max_length=1000,
            error_messages=TOO_LONG,
            widget=forms.Textarea(attrs={"rows": 2}),
        )
    if question.number_label:
        fields[f"{name}_number"] = forms.IntegerField(
            label=_("%(label)s (if yes)") % {"label": question.number_label},
            required=False,
            min_value=0,
            max_value=999,
        )
    return fields


def require_answers(form: forms.Form, questions: Sequence[HealthQuestion], cleaned: dict) -> None:
    """Every question answered, and a yes with a number question gives the number. (The
    fields themselves are optional: "nothing has changed" may cover them.)"""
    for question in questions:
        name = f"health_{question.key}"
        if cleaned.get(name) is None and name not in form.errors:
            form.add_error(name, forms.ValidationError(ANSWER_REQUIRED, code="required"))
        elif (
            cleaned.get(name)
            and question.number_label
            and cleaned.get(f"{name}_number") is None
            and f"{name}_number" not in form.errors
        ):
            form.add_error(
                f"{name}_number", forms.ValidationError(_("Please give the number."), code="required")
            )


def health_rows(form: forms.Form, questions: Sequence[HealthQuestion]) -> list[dict]:
    """Each question's fields together, in order, for the template."""
    rows = []
    for question in questions:
        name = f"health_{question.key}"
        rows.append(
            {
                "question": question,
                "answer": form[name],
                "details": form[f"{name}_details"] if f"{name}_details" in form.fields else None,
                "number": form[f"{name}_number"] if f"{name}_number" in form.fields else None,
            }
        )
    return rows


class HealthAnswersForm(forms.Form):
    """The health questions on their own: a signed-in client's answers between visits, and
    the answers a waitlist offer's "Book it" needs. ``note`` adds the doctor's note upload
    (shown once the answers call for one)."""

    def __init__(self, *args, questions: Sequence[HealthQuestion], note: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            self.fields.update(health_fields(question))
        if note:
            self.fields["doctor_note"] = doctor_note_field()

    def clean(self):
        cleaned = super().clean()
        require_answers(self, self.questions, cleaned)
        return cleaned

    def health_rows(self) -> list[dict]:
        return health_rows(self, self.questions)

    def health_answers(self) -> dict[str, Answer]:
        return answers_from_cleaned(self.questions, self.cleaned_data)


def answers_from_cleaned(questions: Sequence[HealthQuestion], cleaned: dict) -> dict[str, Answer]:
    """The answers in a form's cleaned data (fields made by :func:`health_fields`)."""
    answers = {}
    for question in questions:
        name = f"health_{question.key}"
        yes = bool(cleaned.get(name))
        answers[question.key] = Answer(
            yes=yes,
            # Details and numbers only mean something with a yes (they show always,
            # without JavaScript, so a "no" may come with leftovers).
            details=(cleaned.get(f"{name}_details") or "").strip() if yes else "",
            number=cleaned.get(f"{name}_number") if yes else None,
        )
    return answers


def details_initial(details: dict | None) -> dict:
    """A saved draft (or a client's last answers) as the details form's initial values."""
    if not details:
        return {}
    initial = {key: value for key, value in details.items() if key != "health"}
    initial.update(health_initial(answers_from_dict(details.get("health"))))
    return initial


def health_initial(answers: dict[str, Answer]) -> dict:
    initial = {}
    for key, answer in answers.items():
        initial[f"health_{key}"] = "yes" if answer.yes else "no"
        initial[f"health_{key}_details"] = answer.details
        initial[f"health_{key}_number"] = answer.number
    return initial


def client_details_from(data: dict) -> appointments.ClientDetails:
    health = data.get("health")
    return appointments.ClientDetails(
        name=data["name"],
        email=data.get("email") or "",
        phone=data.get("phone") or "",
        notes=data.get("notes", ""),
        policy_agreed=bool(data.get("agree_policy")),
        health=answers_from_dict(health) if isinstance(health, dict) else None,
        health_unchanged_since=data.get("health_unchanged_since"),
        doctor_note_token=data.get("doctor_note_token") or "",
        agreement=consent.Agreement(
            typed_name=data.get("consent_name", ""),
            versions=data["policy_versions"] if isinstance(data.get("policy_versions"), dict) else None,
        ),
    )


class RescheduleTimesForm(forms.Form):
    week = ClinicDateField(required=False)
    day = ClinicDateField(required=False)


class RescheduleSlotForm(forms.Form):
    start = ClinicDateTimeField(error_messages={"required": _("Choose a time.")})


def parse_iso_date(raw: str) -> date:
    """A date written 2026-11-24, within years a clinic can mean (so that stepping a day
    either side never overflows). Raises ValueError otherwise."""
    day = date.fromisoformat(raw.strip())
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"year out of range: {day.year}")
    return day
