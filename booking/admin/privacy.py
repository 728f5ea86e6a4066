"""Privacy in the staff workspace: the record of who looked at health data (managers
only, read only), and a client's subject access export and erasure.

The export and erasure pages live under the access record's admin URLs, so they work
whatever the client admin looks like; the client page links to them through
``client_page_context()`` and the includes ``admin/booking/client/access_log.html`` and
``admin/booking/client/privacy_tools.html``.
"""

from __future__ import annotations

import copy
import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from .. import roles
from ..choices import (
    AppointmentSource,
    AppointmentStatus,
    BodyArea,
    ConsentMethod,
    HealthAccessKind,
    IntakeSource,
    PolicyKind,
    Pressure,
    RuleOutcome,
    TherapistPreference,
)
from ..models import Client, HealthDataAccess, HealthQuestion
from ..services import privacy

ACCESS_LOG_ON_CLIENT_PAGE = 20


def _label(choices, code) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return code or ""


def readable_export(data: dict) -> dict:
    """The export with words in place of codes, for the HTML summary (the JSON keeps the
    codes, which do not change with the wording or the language)."""
    questions = dict(HealthQuestion.objects.values_list("key", "text"))
    shown = copy.deepcopy(data)
    prefs = shown["preferences"]
    prefs["pressure"] = _label(Pressure, prefs["pressure"])
    prefs["therapist_preference"] = _label(TherapistPreference, prefs["therapist_preference"])
    for consent in shown["consents"]:
        consent["text"] = _label(PolicyKind, consent["text"])
        consent["method"] = _label(ConsentMethod, consent["method"])
    for visit in shown["appointments"]:
        visit["status"] = _label(AppointmentStatus, visit["status"])
        visit["booked_via"] = _label(AppointmentSource, visit["booked_via"])
    for intake in shown["health_intakes"]:
        intake["outcome"] = _label(RuleOutcome, intake["outcome"])
        intake["source"] = _label(IntakeSource, intake["source"])
        intake["answers"] = {questions.get(k, k): v for k, v in (intake["answers"] or {}).items()}
    for note in shown["treatment_notes"]:
        note["areas"] = [_label(BodyArea, a) for a in note["areas"] or []]
        note["pressure"] = _label(Pressure, note["pressure"])
    for access in shown["access_log"]:
        access["what"] = _label(HealthAccessKind, access["what"])
    return shown


def may_see_access_log(user) -> bool:
    return roles.is_manager(user) and user.has_perm("booking.view_healthdataaccess")


def client_page_context(request: HttpRequest, client: Client) -> dict:
    """What the client page needs for the privacy includes: the latest looks at the
    client's health data (managers only; one query) and which privacy tools to offer."""
    user = request.user
    context = {
        "can_export_client": user.has_perm("booking.export_client"),
        "can_erase_client": user.has_perm("booking.erase_client") and client.erased_at is None,
        "access_log": None,
    }
    if may_see_access_log(user):
        # One query: a row past the limit says there are more, without counting them all.
        rows = list(
            HealthDataAccess.objects.filter(client=client).order_by("-at", "-id")[
                : ACCESS_LOG_ON_CLIENT_PAGE + 1
            ]
        )
        context["access_log"] = rows[:ACCESS_LOG_ON_CLIENT_PAGE]
        context["access_log_more"] = len(rows) > ACCESS_LOG_ON_CLIENT_PAGE
        context["access_log_url"] = (
            reverse("admin:booking_healthdataaccess_changelist") + f"?client={client.pk}"
        )
    return context


class ClientFilter(admin.SimpleListFilter):
    """Filter by client without listing every client: the client page links here with
    ``?client=<id>``, and only that client is offered."""

    title = _("client")
    parameter_name = "client"

    def lookups(self, request, model_admin):
        value = self.value()
        if value and value.isdigit():
            client = Client.objects.filter(pk=value).first()
            if client is not None:
                return [(str(client.pk), str(client))]
        return []

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(client_id=value)


@admin.register(HealthDataAccess)
class HealthDataAccessAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "client", "kind", "object_id"]
    list_filter = ["kind", ("user", admin.RelatedOnlyFieldListFilter), ClientFilter, "at"]
    date_hierarchy = "at"
    search_fields = ["username"]
    list_select_related = ["client"]
    list_per_page = 100
    show_full_result_count = False

    # The record is evidence: nobody adds, changes or deletes it by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return may_see_access_log(request.user)

    def has_module_permission(self, request):
        return may_see_access_log(request.user)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("client/<int:client_id>/export/", view(self.export_view), name="booking_client_export"),
            path(
                "client/<int:client_id>/export.json",
                view(self.export_json_view),
                name="booking_client_export_json",
            ),
            path("client/<int:client_id>/erase/", view(self.erase_view), name="booking_client_erase"),
            *super().get_urls(),
        ]

    # ----------------------------------------------------------------------- subject access

    def _client_for(self, request, client_id: int, permission: str) -> Client:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(Client, pk=client_id)

    def export_view(self, request, client_id: int):
        """A readable summary of everything held about the client, to print or save."""
        client = self._client_for(request, client_id, "booking.export_client")
        data = privacy.client_export(client=client, by=request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Everything held about client #%(id)s") % {"id": client.pk},
            "client": client,
            "data": readable_export(data),
            "json_url": reverse("admin:booking_client_export_json", args=[client.pk]),
        }
        return TemplateResponse(request, "admin/booking/client/export.html", context)

    def export_json_view(self, request, client_id: int):
        client = self._client_for(request, client_id, "booking.export_client")
        data = privacy.client_export(client=client, by=request.user)
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="client-{client.pk}.json"'
        return response

    # ----------------------------------------------------------------------- erasure

    def erase_view(self, request, client_id: int):
        client = self._client_for(request, client_id, "booking.erase_client")
        client_url = reverse("admin:booking_client_change", args=[client.pk]) if _client_admin() else None
        if client.erased_at is not None:
            messages.info(request, _("This client has already been erased."))
            return HttpResponseRedirect(client_url or reverse("admin:index"))
        error = None
        if request.method == "POST" and request.POST.get("confirm") == "erase":
            try:
                privacy.client_erase(client=client, by=request.user)
            except ValidationError as problem:
                error = problem.messages[0]
            else:
                messages.success(
                    request,
                    _("Client #%(id)s erased. Their appointments are kept without personal data.")
                    % {"id": client.pk},
                )
                return HttpResponseRedirect(client_url or reverse("admin:index"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase this client?"),
            "client": client,
            "appointments": client.appointments.count(),
            "error": error,
            "client_url": client_url,
            "export_url": reverse("admin:booking_client_export", args=[client.pk])
            if request.user.has_perm("booking.export_client")
            else None,
        }
        return TemplateResponse(
            request, "admin/booking/client/erase.html", context, status=400 if error else 200
        )


def _client_admin() -> bool:
    return admin.site.is_registered(Client)
