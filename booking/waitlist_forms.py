"""Forms for the waitlist pages (issue 14): their shape only; services.waitlist decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import PartOfDay
from .forms import BookingChoiceForm, ClientDetailsForm, ClinicDateField, PhoneField


class WaitlistJoinForm(BookingChoiceForm):
    """Which days and parts of the day suit, and (when nobody is signed in) who to tell."""

    first_day = ClinicDateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    last_day = ClinicDateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))
    parts = forms.MultipleChoiceField(
        label=_("Times of day that suit you"),
        choices=PartOfDay.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one part of the day.")},
    )
    name = forms.CharField(
        label=_("Your name"),
        required=False,
        max_length=ClientDetailsForm.base_fields["name"].max_length,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        max_length=ClientDetailsForm.base_fields["email"].max_length,
        help_text=_("We email you here when a time comes free."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = PhoneField(
        label=_("Phone"),
        required=False,
        max_length=ClientDetailsForm.base_fields["phone"].max_length,
        help_text=_("In case we need to reach you."),
    )

    def __init__(self, *args, needs_details: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.needs_details = needs_details
        if needs_details:
            for name in ("name", "email", "phone"):
                self.fields[name].required = True
        else:
            for name in ("name", "email", "phone"):
                del self.fields[name]

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first_day"), cleaned.get("last_day")
        if first and last and first > last:
            self.add_error("last_day", _("The last day cannot be before the first."))
        return cleaned
