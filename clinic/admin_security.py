"""Staff sign-in in the admin: the sign-in log (read-only, managers) and each account's
two-factor devices, which a manager can only remove (a lost phone), never read: the
secrets and backup codes are not shown to anyone after setup."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tasks_db.models import DBTaskResult

from clinic import otp
from clinic.models import SignInEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SignInEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "username", "user", "ip_address", "by")
    list_filter = ("kind", "at")
    search_fields = ("username", "ip_address")
    date_hierarchy = "at"
    list_select_related = ("user", "by")
    list_per_page = 100

    def has_delete_permission(self, request, obj=None):
        # A log nobody can edit from the admin, managers included.
        return False


class TwoFactorDeviceAdmin(ReadOnlyAdmin):
    """Who has set up what; deleting removes the account's whole two-factor setup (the
    app and its backup codes), logged, so it is set up again at the next sign-in."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields
    actions = ["delete_selected"]

    def delete_model(self, request, obj):
        otp.two_factor_remove(user=obj.user, request=request, by=request.user)

    def delete_queryset(self, request, queryset):
        user_ids = set(queryset.values_list("user_id", flat=True))
        for user in get_user_model().objects.filter(pk__in=user_ids).order_by("pk"):
            otp.two_factor_remove(user=user, request=request, by=request.user)


def register(site=None) -> None:
    """Replace django-otp's own admins (they show the secrets) with these."""
    site = site or admin.site
    for model in (TOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)
    TOTPDevice._meta.verbose_name = _("authenticator app")
    TOTPDevice._meta.verbose_name_plural = _("authenticator apps")
    StaticDevice._meta.verbose_name = _("set of backup codes")
    StaticDevice._meta.verbose_name_plural = _("backup codes")
    site.register(TOTPDevice, TwoFactorDeviceAdmin)
    site.register(StaticDevice, TwoFactorDeviceAdmin)
    site.register(SignInEvent, SignInEventAdmin)
    # The email queue's rows, in the section "Email outbox" (clinic/apps.py).
    DBTaskResult._meta.verbose_name = _("email")
    DBTaskResult._meta.verbose_name_plural = _("emails")
