"""Forms of the client's own pages. They check the shape of input; services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..forms import ANY, ClinicDateField, ClinicDateTimeField
from ..models import Appointment, Technique, TechniqueLength, Therapist


class SignInForm(forms.Form):
    email = forms.EmailField(
        label=_("Your email"),
        max_length=254,
        help_text=_("The address you booked with. We email you a link to sign in: no password."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class RescheduleChoiceForm(forms.Form):
    """Another length, another therapist (or any), and where the day strip is."""

    length = forms.TypedChoiceField(label=_("Length"), coerce=int, required=False)
    therapist = forms.ChoiceField(label=_("Therapist"), required=False)
    week = ClinicDateField(required=False)
    day = ClinicDateField(required=False)

    def __init__(self, *args, appointment: Appointment, therapists: list[Therapist], **kwargs):
        super().__init__(*args, **kwargs)
        self.appointment = appointment
        technique: Technique = appointment.technique
        self.lengths = {length.duration_minutes: length for length in technique.lengths.all()}
        self.fields["length"].choices = [
            (minutes, _("%(minutes)s minutes, £%(price)s") % {"minutes": minutes, "price": length.price})
            for minutes, length in sorted(self.lengths.items())
        ]
        self.therapists = {t.slug: t for t in therapists}
        self.fields["therapist"].choices = [(ANY, _("Any available therapist"))] + [
            (t.slug, t.name) for t in therapists
        ]

    def clean_length(self) -> TechniqueLength | None:
        """None: the length as booked (which may no longer be on offer)."""
        minutes = self.cleaned_data.get("length")
        if minutes in (None, ""):
            return None
        if minutes == self.appointment.duration_minutes and minutes not in self.lengths:
            return None
        if minutes not in self.lengths:
            raise forms.ValidationError(
                _("That length is not offered for this technique."), code="bad_length"
            )
        length = self.lengths[minutes]
        # The same length keeps the price agreed when booking.
        return None if minutes == self.appointment.duration_minutes else length

    def clean_therapist(self) -> Therapist | None:
        """None: any available therapist."""
        current = self.appointment.therapist.slug
        slug = self.cleaned_data.get("therapist") or (current if current in self.therapists else ANY)
        if slug == ANY:
            return None
        if slug not in self.therapists:
            raise forms.ValidationError(
                _("That therapist does not offer this technique."), code="bad_therapist"
            )
        return self.therapists[slug]


class RescheduleSlotForm(RescheduleChoiceForm):
    start = ClinicDateTimeField(error_messages={"required": _("Choose a time.")})
