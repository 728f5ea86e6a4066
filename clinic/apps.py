"""App configs of the project package."""

from django import apps
from django.contrib.admin import apps as admin_apps


class ClinicAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the clinic's site: its titles and the staff schedule page.

    Not the default config of ``clinic``: settings name it in place of
    ``django.contrib.admin``."""

    default = False
    default_site = "clinic.admin.ClinicAdminSite"


class ClinicConfig(apps.AppConfig):
    """The project package: its system checks, the rate limit table, shared helpers."""

    name = "clinic"
    default = True

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the checks
