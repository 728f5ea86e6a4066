"""Time-off requests in the staff workspace (issue 15).

A therapist asks for time off (the therapist is always themself), sees only their own
requests and may withdraw one still waiting. A manager sees everyone's, those waiting
first, and approves or declines on the request's page; approval records the time off by
the time-off form's own rule (refused over booked appointments, named, unless "Keep
booked appointments" is ticked). Reception sees them. Every write goes through
services.time_off_requests; permissions come from booking 0030.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from .. import roles, selectors
from ..choices import TimeOffRequestStatus
from ..forms import validate_clinic_date
from ..models import TimeOffRequest
from ..services import schedules, time_off_requests
from .core import SaveRefused, ServiceSaveMixin


def _local(moment):
    return moment.astimezone(selectors.clinic_zone())


def period(start, end) -> str:
    """``Tue 24 Nov 2026, 09:00–17:00``, or both days in full when it spans several."""
    start, end = _local(start), _local(end)
    if start.date() == end.date():
        day, since, until = (
            formats.date_format(start, "D j M Y"),
            formats.time_format(start, "H:i"),
            (formats.time_format(end, "H:i")),
        )
        return f"{day}, {since}–{until}"
    return f"{formats.date_format(start, 'D j M Y, H:i')} – {formats.date_format(end, 'D j M Y, H:i')}"


class ClinicSplitDateTimeWidget(forms.SplitDateTimeWidget):
    """A date and a time box the phone's own pickers fill in (no JavaScript needed), each
    named for people using a screen reader, since the field's label points at the first."""

    def __init__(self, label: str):
        super().__init__(
            date_attrs={"type": "date", "aria-label": _("%(field)s: date") % {"field": label}},
            time_attrs={"type": "time", "aria-label": _("%(field)s: time") % {"field": label}},
            date_format="%Y-%m-%d",
            time_format="%H:%M",
        )


def clinic_split_datetime(label: str, help_text: str) -> forms.SplitDateTimeField:
    # Read in the clinic's time zone (the site's TIME_ZONE), stored in UTC.
    return forms.SplitDateTimeField(
        label=label,
        help_text=help_text,
        widget=ClinicSplitDateTimeWidget(label),
        validators=[validate_clinic_date],
    )


class TimeOffRequestAddForm(forms.ModelForm):
    """What a therapist types; the service checks the dates against the world."""

    start = clinic_split_datetime(_("From"), _("The first day and the time you stop working."))
    end = clinic_split_datetime(_("Until"), _("The day and time you are back."))

    class Meta:
        model = TimeOffRequest
        fields = ["start", "end", "reason"]


class TimeOffRequestDecisionForm(forms.ModelForm):
    """A manager's decision: an optional note, and the tick to keep booked appointments
    (offered once an approval was refused over them)."""

    keep_booked = forms.BooleanField(
        required=False,
        label=_("Keep booked appointments"),
        help_text=_("Tick to approve even though appointments are booked in this time; move or cancel them."),
    )

    class Meta:
        model = TimeOffRequest
        fields = ["decision_note"]
        widgets = {"decision_note": forms.Textarea(attrs={"rows": 3, "cols": 40})}


@admin.register(TimeOffRequest)
class TimeOffRequestAdmin(ServiceSaveMixin, admin.ModelAdmin):
    list_display = ["therapist", "dates", "reason", "status", "created_at", "decided_by"]
    list_display_links = ["therapist", "dates"]
    list_filter = ["status", "therapist"]
    list_select_related = ["therapist", "decided_by"]
    change_form_template = "admin/booking/timeoffrequest/change_form.html"
    actions = None
    DETAILS = ["therapist", "dates", "reason", "status", "asked"]

    # ------------------------------------------------------------------ who sees what

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("therapist", "decided_by", "requested_by")
        if roles.sees_only_own_appointments(request.user):
            # Lists, change pages and the withdraw button all come through here: a
            # therapist reaches no one else's request by any of them.
            therapist = getattr(request.user, "therapist", None)
            queryset = queryset.filter(therapist=therapist) if therapist else queryset.none()
        return queryset

    def get_ordering(self, request):
        # Those waiting for a decision first, then the latest asked.
        waiting_last = Case(
            When(status=TimeOffRequestStatus.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [waiting_last.asc(), "-created_at", "-id"]

    def get_list_filter(self, request):
        return ["status"] if roles.sees_only_own_appointments(request.user) else self.list_filter

    def has_add_permission(self, request):
        # Asked by a therapist for themself; managers record time off directly instead.
        return super().has_add_permission(request) and getattr(request.user, "therapist", None) is not None

    def has_change_permission(self, request, obj=None):
        # "Change" is deciding, and a decision is final.
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or obj.status == TimeOffRequestStatus.PENDING

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what was asked and decided stays

    def can_withdraw(self, request, obj) -> bool:
        return (
            obj is not None
            and obj.status == TimeOffRequestStatus.PENDING
            and obj.therapist.user_id is not None
            and obj.therapist.user_id == request.user.pk
        )

    # ------------------------------------------------------------------ pages

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["start", "end", "reason"]})]
        fieldsets = [(None, {"fields": [*self.DETAILS, "booked_during"]})]
        if self.has_change_permission(request, obj):
            decision = ["decision_note"]
            if getattr(request, "_offer_keep_booked", False):
                decision.append("keep_booked")
            fieldsets.append((_("Decision"), {"fields": decision}))
        elif obj.status != TimeOffRequestStatus.PENDING:
            fieldsets = [
                (None, {"fields": self.DETAILS}),
                (_("Decision"), {"fields": ["decided", "decision_note", "time_off_recorded", "emailed"]}),
            ]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = [*self.DETAILS, "booked_during", "decided", "time_off_recorded", "emailed"]
        if not self.has_change_permission(request, obj):
            readonly.append("decision_note")
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TimeOffRequestAddForm if obj is None else TimeOffRequestDecisionForm
        fields = [f for _name, opts in self.get_fieldsets(request, obj) for f in opts["fields"]]
        readonly = self.get_readonly_fields(request, obj)
        kwargs["fields"] = [f for f in fields if f not in readonly]
        return super().get_form(request, obj, change, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            if not self.has_view_or_change_permission(request):
                raise PermissionDenied
            # Not theirs, or not there: the same answer, so ids tell nothing.
            raise Http404(_("No such time-off request."))
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            if not self.has_view_or_change_permission(request):
                raise PermissionDenied
            raise Http404(_("No such time-off request."))
        return super().history_view(request, object_id, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        can_decide = obj is not None and self.has_change_permission(request, obj)
        if add:
            context["title"] = _("Ask for time off")
        elif can_decide:
            context["title"] = _("Approve or decline time off")
        context.update(
            {
                "can_decide": can_decide,
                "can_withdraw": self.can_withdraw(request, obj),
                "show_save_and_add_another": False,
                "show_save_and_continue": False,
                "show_delete_link": False,
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # ------------------------------------------------------------------ saving, through the services

    def save_form(self, request, form, change):
        cleaned = form.cleaned_data
        try:
            if not change:
                saved = time_off_requests.time_off_request_create(
                    therapist=request.user.therapist,
                    start=cleaned["start"],
                    end=cleaned["end"],
                    reason=cleaned.get("reason", ""),
                    by=request.user,
                )
                request._done = _("Asked. A manager will approve or decline it, and you will be emailed.")
            elif "_approve" in request.POST:
                saved, kept = time_off_requests.time_off_request_approve(
                    request=form.instance,
                    by=request.user,
                    keep_booked=cleaned.get("keep_booked", False),
                    note=cleaned.get("decision_note", ""),
                )
                request._done = _(
                    "Approved: the time off is on the schedule and the therapist is being emailed."
                )
                request._kept = kept
            elif "_decline" in request.POST:
                saved = time_off_requests.time_off_request_decline(
                    request=form.instance, by=request.user, note=cleaned.get("decision_note", "")
                )
                request._done = _("Declined; the therapist is being emailed.")
            else:
                raise ValidationError(_("Choose “Approve” or “Decline”."), code="no_decision")
        except ValidationError as error:
            if getattr(error, "code", None) == "over_appointments":
                request._offer_keep_booked = True
            raise SaveRefused(error) from None
        form.save_m2m = lambda: None
        return saved

    def save_model(self, request, obj, form, change):
        pass  # written by save_form, through the services

    def construct_change_message(self, request, form, formsets, add=False):
        return str(getattr(request, "_done", "") or _("Saved."))

    def _to_list(self, request):
        self.message_user(request, getattr(request, "_done", _("Saved.")), messages.SUCCESS)
        kept = getattr(request, "_kept", None)
        if kept:
            self.message_user(
                request,
                _("These booked appointments still stand: %(list)s. Move or cancel them.")
                % {"list": schedules.appointments_listed(kept)},
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:booking_timeoffrequest_changelist"))

    def response_add(self, request, obj, post_url_continue=None):
        return self._to_list(request)

    def response_change(self, request, obj):
        return self._to_list(request)

    def get_urls(self):
        withdraw = self.admin_site.admin_view(require_POST(self.withdraw_view))
        return [
            path("<int:object_id>/withdraw/", withdraw, name="booking_timeoffrequest_withdraw"),
            *super().get_urls(),
        ]

    def withdraw_view(self, request, object_id):
        """The therapist takes back a request still waiting."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        try:
            time_off_requests.time_off_request_withdraw(request=obj, by=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.WARNING)
        else:
            self.log_change(request, obj, _("Withdrawn"))
            self.message_user(request, _("Request withdrawn."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:booking_timeoffrequest_changelist"))

    # ------------------------------------------------------------------ columns and read-only parts

    @admin.display(description=_("when"), ordering="start")
    def dates(self, obj: TimeOffRequest) -> str:
        return period(obj.start, obj.end)

    @admin.display(description=_("asked"))
    def asked(self, obj: TimeOffRequest) -> str:
        when = formats.date_format(_local(obj.created_at), "D j M Y, H:i")
        who = obj.requested_by.get_username() if obj.requested_by else "—"
        return f"{when} ({who})"

    @admin.display(description=_("decided"))
    def decided(self, obj: TimeOffRequest) -> str:
        if obj.decided_at is None:
            return "—"
        who = obj.decided_by.get_username() if obj.decided_by else "—"
        return f"{formats.date_format(_local(obj.decided_at), 'D j M Y, H:i')} ({who})"

    @admin.display(description=_("booked appointments in this time"))
    def booked_during(self, obj: TimeOffRequest) -> str:
        booked = selectors.appointments_during(therapist=obj.therapist, start=obj.start, end=obj.end)
        return schedules.appointments_listed(booked) if booked else _("None")

    @admin.display(description=_("time off recorded"))
    def time_off_recorded(self, obj: TimeOffRequest) -> str:
        if obj.time_off_id is None:
            return "—"
        url = reverse("admin:booking_therapist_change", args=[obj.therapist_id])
        return format_html('<a href="{}">{}</a>', url, _("On the therapist’s page, under time off"))

    @admin.display(description=_("therapist emailed"))
    def emailed(self, obj: TimeOffRequest) -> str:
        if obj.decision_emailed_at is None:
            return "—"
        return formats.date_format(_local(obj.decision_emailed_at), "D j M Y, H:i")
