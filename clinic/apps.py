"""App configs of the project package."""

from django.contrib.admin import apps as admin_apps


class ClinicAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the clinic's site: its titles and the staff schedule page.

    Not the default config of ``clinic``: settings name it in place of
    ``django.contrib.admin``."""

    default = False
    default_site = "clinic.admin.ClinicAdminSite"
