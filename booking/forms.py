"""Forms for booking. Forms check the shape of input; services check the world."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Technique, TechniqueLength, Therapist

ANY = "any"
MAX_DAYS = 31


class AvailabilityQueryForm(forms.Form):
    """The availability API's query string: technique, length, therapist, start, days."""

    technique = forms.SlugField(max_length=80)
    length = forms.IntegerField(min_value=1, max_value=600)
    therapist = forms.SlugField(max_length=100, required=False)
    start = forms.DateField(input_formats=["%Y-%m-%d"], required=False)
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, required=False)

    def clean_technique(self) -> Technique:
        slug = self.cleaned_data["technique"]
        technique = Technique.objects.active().filter(slug=slug).first()
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
        return cleaned
