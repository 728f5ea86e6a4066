"""The staff site: Django's admin with the clinic's names and the schedule page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _


class ClinicAdminSite(admin.AdminSite):
    site_title = settings.CLINIC["name"]
    site_header = _("%(name)s: staff") % {"name": settings.CLINIC["name"]}
    index_title = _("Run the clinic")

    def get_urls(self):
        from booking.admin_schedule import ScheduleView

        schedule = self.admin_view(ScheduleView.as_view(admin_site=self))
        # Before the model URLs, so the app's catch-all does not take it.
        return [path("booking/schedule/", schedule, name="booking_schedule"), *super().get_urls()]

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if not request.user.has_perm("booking.view_appointment"):
            return apps
        for app in apps:
            if app["app_label"] == "booking":
                # The schedule is the page reception lives on: first in the booking app,
                # on the index and in the sidebar.
                app["models"].insert(
                    0,
                    {
                        "name": _("Schedule (day view)"),
                        "object_name": "Schedule",
                        "perms": {"add": False, "change": False, "delete": False, "view": True},
                        "admin_url": reverse("admin:booking_schedule", current_app=self.name),
                        "add_url": None,
                        "view_only": True,
                    },
                )
        return apps
