"""The email outbox: django-tasks-db's task results, as staff need to read them.

Each row names the email (confirmation, staff notice ...) and links the appointment by
reference, and the filter "Not sent, given up" lists every email that will not go
without a person acting: refused by the mail server, could not be made, over the daily
cap, out of retries, or its worker died too often. Read only, as the library's is.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_tasks.base import TaskResultStatus
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from ..models import Appointment
from ..notifications import EmailKind
from ..tasks import EmailRetrying

RETRYING = f"{EmailRetrying.__module__}.{EmailRetrying.__qualname__}"

KIND_LABELS = {
    EmailKind.CONFIRMATION: _("Confirmation"),
    EmailKind.RESCHEDULE: _("Moved"),
    EmailKind.CANCELLATION: _("Cancellation"),
    EmailKind.REMINDER: _("Reminder"),
    EmailKind.STAFF_NOTICE: _("Staff: new booking"),
    EmailKind.STAFF_CANCELLED: _("Staff: cancelled online"),
    EmailKind.STAFF_MOVED: _("Staff: moved online"),
    EmailKind.WAITLIST_OFFER: _("Waitlist: a time offered"),
}
# Emails that are not about an appointment, by task.
TASK_LABELS = {
    "booking.time_off_tasks.send_time_off_decision_email": _("Time off: decision to the therapist"),
    "booking.time_off_tasks.send_time_off_request_notice": _("Staff: time off asked"),
}


class OutcomeFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [
            ("given_up", _("Not sent, given up (needs staff)")),
            ("retrying", _("Failed attempt, retry queued")),
            ("waiting", _("Waiting or running")),
            ("done", _("Sent or not needed")),
        ]

    def queryset(self, request, queryset):
        failed = queryset.filter(status=TaskResultStatus.FAILED)
        match self.value():
            case "given_up":
                return failed.exclude(exception_class_path=RETRYING)
            case "retrying":
                return failed.filter(exception_class_path=RETRYING)
            case "waiting":
                return queryset.filter(status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING])
            case "done":
                return queryset.filter(status=TaskResultStatus.SUCCESSFUL)
        return queryset


class OutboxAdmin(DBTaskResultAdmin):
    list_display = ("enqueued_at", "email", "appointment_link", "status", "outcome", "attempt")
    list_display_links = ("enqueued_at",)
    list_filter = (OutcomeFilter, "status")
    search_fields = ("appointment_reference",)
    search_help_text = _("Search by appointment reference.")

    def get_queryset(self, request):
        # The appointment's reference in the same query (fixed query count per page).
        appointment_pk = Cast(KT("args_kwargs__kwargs__appointment_id"), models.BigIntegerField())
        reference = Appointment.objects.filter(pk=OuterRef("appointment_pk")).values("reference")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(appointment_pk=appointment_pk, appointment_reference=Subquery(reference))
        )

    def get_search_results(self, request, queryset, search_term):
        # PostgreSQL refuses NUL in a query; no reference has one.
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": _("Email outbox"), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @staticmethod
    def _kwargs(obj: DBTaskResult) -> dict:
        kwargs = (obj.args_kwargs or {}).get("kwargs") if isinstance(obj.args_kwargs, dict) else None
        return kwargs if isinstance(kwargs, dict) else {}

    @admin.display(description=_("email"))
    def email(self, obj: DBTaskResult) -> str:
        kind = self._kwargs(obj).get("kind")
        try:
            return KIND_LABELS[EmailKind(kind)]
        except (ValueError, KeyError):  # not an email (the waitlist's match task), or a new kind
            return TASK_LABELS.get(obj.task_path, obj.task_name)

    @admin.display(description=_("appointment"), ordering="appointment_reference")
    def appointment_link(self, obj: DBTaskResult) -> str:
        reference = getattr(obj, "appointment_reference", None)
        if not reference:
            return self.get_empty_value_display()
        url = reverse("admin:booking_appointment_change", args=[obj.appointment_pk])
        return format_html('<a href="{}">{}</a>', url, reference)

    @admin.display(description=_("attempt"))
    def attempt(self, obj: DBTaskResult) -> int | str:
        return self._kwargs(obj).get("attempt", 1)

    @admin.display(description=_("what happened"))
    def outcome(self, obj: DBTaskResult) -> str:
        if obj.status == TaskResultStatus.FAILED:
            # The last line of the traceback is the error, which names no client.
            lines = [line for line in (obj.traceback or "").splitlines() if line.strip()]
            return lines[-1].split(": ", 1)[-1] if lines else obj.exception_class_path
        if obj.status == TaskResultStatus.SUCCESSFUL:
            return str(obj.return_value or "")
        return self.get_empty_value_display()


admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, OutboxAdmin)
