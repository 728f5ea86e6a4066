"""App configs of the project package."""

from axes.apps import AppConfig as AxesAppConfig
from django import apps
from django.contrib.admin import apps as admin_apps
from django_otp.plugins.otp_static.apps import DefaultConfig as StaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig
from django_tasks_db.apps import TasksAppConfig


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
        # After every app's admin module (django-otp's included), which this replaces.
        from . import (
            admin_security,
            checks,  # noqa: F401 - registers the checks
        )

        admin_security.register()


# Other apps' sections of the admin, in words a receptionist reads: a subclass per app
# changes only its verbose name (the label, tables and migrations stay the app's own).


class SignInLockoutsConfig(AxesAppConfig):
    verbose_name = "Sign-in lockouts"


class EmailOutboxConfig(TasksAppConfig):
    verbose_name = "Email outbox"


class AuthenticatorAppsConfig(TOTPConfig):
    verbose_name = "Two-factor sign-in: authenticator apps"


class BackupCodesConfig(StaticConfig):
    verbose_name = "Two-factor sign-in: backup codes"
