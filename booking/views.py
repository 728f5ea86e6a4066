"""Booking pages and the availability API."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, ListView

from . import selectors
from .availability import merge_any
from .forms import AvailabilityQueryForm
from .models import Therapist


class TechniqueListView(ListView):
    """The techniques clients can book, with lengths and prices."""

    template_name = "booking/technique_list.html"
    context_object_name = "techniques"

    def get_queryset(self):
        return selectors.technique_list_active()


class TechniqueDetailView(DetailView):
    template_name = "booking/technique_detail.html"
    context_object_name = "technique"
    slug_url_kwarg = "technique"

    def get_queryset(self):
        return selectors.technique_list_active()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["therapists"] = Therapist.objects.active().offering(self.object).order_by("name")
        return context


class AvailabilityApiView(View):
    """Free start times per day, as JSON, for the booking pages' JavaScript and others.

    Bad parameters get a 400 with a JSON error naming the parameter; never a 500.
    """

    def get(self, request):
        form = AvailabilityQueryForm(request.GET)
        if not form.is_valid():
            return JsonResponse(
                {"error": {field: [str(e) for e in errors] for field, errors in form.errors.items()}},
                status=400,
            )
        technique = form.cleaned_data["technique"]
        length = form.cleaned_data["length_obj"]
        therapist = form.cleaned_data["therapist"]
        zone = selectors.clinic_zone()
        now = timezone.now()
        first_day = form.cleaned_data["start"] or now.astimezone(zone).date()
        days = form.cleaned_data["days"] or 7
        data = selectors.availability_load(
            technique=technique, first_day=first_day, days=days, therapist=therapist
        )
        slots = selectors.free_slots(
            data=data,
            length=length,
            buffer_minutes=technique.buffer_minutes,
            first_day=first_day,
            days=days,
            now=now,
        )
        slugs = {t.pk: t.slug for t in data.therapists}
        merged = merge_any(slots)
        return JsonResponse(
            {
                "time_zone": str(zone),
                "technique": technique.slug,
                "length": length.duration_minutes,
                "therapist": therapist.slug if therapist else "any",
                "days": [
                    {
                        "date": day.isoformat(),
                        "times": [
                            {
                                "start": start.astimezone(zone).isoformat(),
                                "therapists": [slugs[pk] for pk in therapist_ids],
                            }
                            for start, therapist_ids in merged.get(day, [])
                        ],
                    }
                    for day in sorted(merged)
                ],
            }
        )
