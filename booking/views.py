"""Booking pages. Online booking arrives with the booking issues; until then this page
tells visitors how to book by phone or email."""

from django.views.generic import TemplateView


class TechniqueListView(TemplateView):
    template_name = "booking/technique_list.html"
