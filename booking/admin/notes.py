"""Staff pages for treatment notes (SOAP) and the versioned policy texts.

Who sees a note is decided by services.notes (the treating therapist, managers) and
applied here to every way in: the list, search, the change page, its history, and
autocomplete. Reception has no permission on notes at all, so the admin shows them
nothing and answers 403. Every opening of a note's page is recorded with
services.privacy.health_access_record. Nothing here ever deletes.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .. import roles, selectors
from ..choices import BodyArea, HealthAccessKind, PolicyKind
from ..models import Appointment, PolicyText, TreatmentNote
from ..services import consent, notes, privacy
from .core import SaveRefused, ServiceSaveMixin
from .workspace import return_url

SOAP_FIELDS = ["subjective", "objective", "areas", "pressure", "assessment", "plan"]
SOAP_READONLY = ["subjective", "objective", "areas_treated", "pressure", "assessment", "plan"]


def _when(moment) -> str:
    return formats.date_format(moment.astimezone(selectors.clinic_zone()), "D j M Y, H:i")


def _who(user) -> str:
    if user is None:
        return str(_("a former member of staff"))
    return user.get_full_name() or user.get_username()


class TreatmentNoteForm(forms.ModelForm):
    """The SOAP fields; the body areas as tick boxes. Shape only: services.notes decides
    who may write, when, and whether the note is still open."""

    appointment = forms.ModelChoiceField(
        queryset=Appointment.objects.none(),
        label=_("Appointment"),
        help_text=_("Your appointments that have started or are completed."),
    )
    areas = forms.MultipleChoiceField(
        label=_("Areas treated"),
        choices=BodyArea.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "body-areas"}),
    )
    addendum = forms.CharField(
        label=_("Add an addendum"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "The note is signed and locked. A correction is kept beside it, with your name and the time."
        ),
    )

    class Meta:
        model = TreatmentNote
        fields = ["appointment", *SOAP_FIELDS]
        widgets = {
            name: forms.Textarea(attrs={"rows": 3})
            for name in ("subjective", "objective", "assessment", "plan")
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Declared fields come with every form the admin builds; keep only this page's.
        wanted = self._meta.fields
        for name in list(self.fields):
            if wanted is not None and name not in wanted:
                del self.fields[name]
        if self.instance.pk is not None and "areas" in self.fields:
            self.initial["areas"] = self.instance.areas or []


@admin.register(TreatmentNote)
class TreatmentNoteAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = TreatmentNoteForm
    list_display = ["when", "client_name", "therapist", "state"]
    list_select_related = ["appointment__therapist", "appointment__technique"]
    # Names and references only: note contents are encrypted and never searched.
    search_fields = ["appointment__reference", "appointment__client_name"]
    list_filter = ["appointment__therapist"]
    change_form_template = "admin/booking/treatmentnote/change_form.html"
    actions = ["withdraw_selected"]
    readonly_fields = ["appointment_summary", *SOAP_READONLY, "signed", "addenda_list", "withdrawn"]

    # ------------------------------------------------------------------ who sees what

    def get_queryset(self, request):
        return (
            notes.notes_readable_by(request.user)
            .select_related("appointment__therapist", "appointment__technique", "signed_by", "author")
            .order_by("-appointment__start", "-pk")
        )

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or notes.can_read(request.user, obj.appointment)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and getattr(request.user, "therapist", None) is not None

    def has_change_permission(self, request, obj=None):
        # "Change" is writing the open note (its therapist) or adding an addendum to a signed
        # one (its therapist, or a manager). Everyone else reads at most.
        if obj is None:
            return super().has_change_permission(request) or notes.can_read_all(request.user)
        if obj.deleted_at is not None:
            return False
        if obj.signed_at is None:
            return super().has_change_permission(request, obj) and notes.is_treating_therapist(
                request.user, obj.appointment
            )
        return notes.is_treating_therapist(request.user, obj.appointment) or notes.can_read_all(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # never deleted; a manager withdraws (an action, logged)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not roles.is_manager(request.user):
            actions.pop("withdraw_selected", None)
        return actions

    # ------------------------------------------------------------------ pages

    def _mode(self, request, obj) -> str:
        if obj is None:
            return "add"
        if obj.deleted_at is None and obj.signed_at is None and self.has_change_permission(request, obj):
            return "write"
        if obj.deleted_at is None and obj.signed_at is not None and self.has_change_permission(request, obj):
            return "addendum"
        return "read"

    def get_fieldsets(self, request, obj=None):
        mode = self._mode(request, obj)
        if mode == "add":
            return [(None, {"fields": ["appointment", *SOAP_FIELDS]})]
        if mode == "write":
            return [(None, {"fields": ["appointment_summary", *SOAP_FIELDS]})]
        fieldsets = [
            (None, {"fields": ["appointment_summary", *SOAP_READONLY, "signed"]}),
            (_("Addenda"), {"fields": ["addenda_list"]}),
        ]
        if obj.deleted_at is not None:
            fieldsets[0][1]["fields"].append("withdrawn")
        if mode == "addendum":
            fieldsets[1][1]["fields"].append("addendum")
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if self._mode(request, obj) in ("add", "write"):
            return ["appointment_summary"]
        return self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        fields = [f for _name, opts in self.get_fieldsets(request, obj) for f in opts["fields"]]
        readonly = self.get_readonly_fields(request, obj)
        kwargs["fields"] = [f for f in fields if f not in readonly]
        form = super().get_form(request, obj, change, **kwargs)
        if "appointment" in form.base_fields:
            form.base_fields["appointment"].queryset = (
                notes.appointments_writable_by(request.user)
                .filter(treatment_note__isnull=True)
                .select_related("technique", "therapist")
                .order_by("-start")
            )
        return form

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        raw = request.GET.get("appointment", "")
        initial["appointment"] = raw if raw.isdigit() else None
        return initial

    def change_view(self, request, object_id, form_url="", extra_context=None):
        note = self.get_object(request, unquote(object_id))
        if note is None:
            if not self.has_view_or_change_permission(request):
                raise PermissionDenied
            # Not theirs, or not there: the same answer, so ids tell nothing.
            raise Http404(_("No such treatment note."))
        if self.has_view_or_change_permission(request, note):
            privacy.health_access_record(
                user=request.user,
                client=note.appointment.client,
                kind=HealthAccessKind.NOTE,
                object_id=note.pk,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            if not self.has_view_or_change_permission(request):
                raise PermissionDenied
            raise Http404(_("No such treatment note."))
        return super().history_view(request, object_id, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        mode = self._mode(request, obj)
        context.update(
            {
                "can_sign": mode in ("add", "write"),
                "show_save": mode in ("add", "write", "addendum"),
                "show_save_and_add_another": False,
                "show_save_and_continue": False,
                "show_delete_link": False,
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # ------------------------------------------------------------------ saving, through the services

    def save_form(self, request, form, change):
        cleaned = form.cleaned_data
        note = form.instance
        try:
            if note.pk is not None and note.signed_at is not None:
                if cleaned.get("addendum", "").strip():
                    notes.note_addendum_add(note=note, by=request.user, text=cleaned["addendum"])
                    request._note_saved = _("Addendum added.")
                else:
                    request._note_saved = _("Nothing to add.")
            else:
                note = notes.note_write(
                    appointment=note.appointment if note.pk else cleaned["appointment"],
                    by=request.user,
                    **{name: cleaned.get(name) for name in SOAP_FIELDS},
                )
                request._note_saved = _("Note saved.")
                if "_sign" in request.POST:
                    note = notes.note_sign(note=note, by=request.user)
                    request._note_saved = _("Note saved and signed. It is now locked.")
        except ValidationError as error:
            raise SaveRefused(error) from None
        form.save_m2m = lambda: None
        return note

    def save_model(self, request, obj, form, change):
        pass  # written by save_form, through the services

    def construct_change_message(self, request, form, formsets, add=False):
        # What happened, never what the note says: the history page is read by more people.
        return str(getattr(request, "_note_saved", "") or _("Saved."))

    def log_addition(self, request, obj, message):
        return super().log_addition(request, obj, str(getattr(request, "_note_saved", "") or _("Written.")))

    def _back_to_note(self, request, obj):
        self.message_user(request, getattr(request, "_note_saved", _("Saved.")), messages.SUCCESS)
        # Opened from My days (issue 15): back there once the note is saved or signed.
        back = return_url(request)
        return HttpResponseRedirect(back or reverse("admin:booking_treatmentnote_change", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        return self._back_to_note(request, obj)

    def response_change(self, request, obj):
        return self._back_to_note(request, obj)

    @admin.action(description=_("Withdraw the selected notes (kept, hidden from therapists)"))
    def withdraw_selected(self, request, queryset):
        done = 0
        for note in queryset:
            try:
                notes.note_withdraw(note=note, by=request.user)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(
                    request, " ".join(getattr(error, "messages", [str(error)])), messages.WARNING
                )
                continue
            done += 1
        if done:
            self.message_user(request, _("%(n)s note(s) withdrawn.") % {"n": done}, messages.SUCCESS)

    # ------------------------------------------------------------------ columns and read-only parts

    @admin.display(description=_("when"), ordering="appointment__start")
    def when(self, obj: TreatmentNote) -> str:
        return _when(obj.appointment.start)

    @admin.display(description=_("client"), ordering="appointment__client_name")
    def client_name(self, obj: TreatmentNote) -> str:
        return obj.appointment.client_name

    @admin.display(description=_("therapist"))
    def therapist(self, obj: TreatmentNote) -> str:
        return str(obj.appointment.therapist)

    @admin.display(description=_("state"))
    def state(self, obj: TreatmentNote) -> str:
        if obj.deleted_at is not None:
            return str(_("Withdrawn"))
        return str(_("Signed")) if obj.signed_at else str(_("Draft"))

    @admin.display(description=_("appointment"))
    def appointment_summary(self, obj: TreatmentNote) -> str:
        appointment = obj.appointment
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:booking_appointment_change", args=[appointment.pk]),
            f"{_when(appointment.start)} · {appointment.client_name} · {appointment.technique.name} · "
            f"{appointment.therapist}",
        )

    @admin.display(description=_("areas treated"))
    def areas_treated(self, obj: TreatmentNote) -> str:
        labels = dict(BodyArea.choices)
        return ", ".join(str(labels.get(code, code)) for code in obj.areas or []) or "—"

    @admin.display(description=_("signed"))
    def signed(self, obj: TreatmentNote) -> str:
        if obj.signed_at is None:
            return str(_("Not yet"))
        return _("%(when)s by %(who)s") % {"when": _when(obj.signed_at), "who": _who(obj.signed_by)}

    @admin.display(description=_("withdrawn"))
    def withdrawn(self, obj: TreatmentNote) -> str:
        if obj.deleted_at is None:
            return "—"
        return _("%(when)s by %(who)s") % {"when": _when(obj.deleted_at), "who": _who(obj.deleted_by)}

    @admin.display(description=_("addenda"))
    def addenda_list(self, obj: TreatmentNote) -> str:
        addenda = obj.addenda.select_related("author")
        items = format_html_join(
            "",
            '<li><p class="addendum-meta">{} · {}</p><p>{}</p></li>',
            ((_when(a.created_at), _who(a.author), a.text) for a in addenda),
        )
        return format_html('<ol class="addenda">{}</ol>', items) if items else "—"


def note_link(request, appointment: Appointment) -> dict | None:
    """The link from an appointment's admin page to its note, for those allowed: the
    treating therapist (write, or read) and managers (read). None for everyone else."""
    user = request.user
    note = TreatmentNote.objects.filter(appointment=appointment).only("pk", "deleted_at").first()
    if note is not None:
        if not notes.can_read(user, appointment) or (note.deleted_at and not notes.can_read_all(user)):
            return None
        return {
            "url": reverse("admin:booking_treatmentnote_change", args=[note.pk]),
            "label": _("Treatment note"),
        }
    if notes.appointments_writable_by(user).filter(pk=appointment.pk).exists() and user.has_perm(
        "booking.add_treatmentnote"
    ):
        return {
            "url": reverse("admin:booking_treatmentnote_add") + f"?appointment={appointment.pk}",
            "label": _("Write the treatment note"),
        }
    return None


# --------------------------------------------------------------------------- policy texts


class PolicyTextForm(forms.ModelForm):
    class Meta:
        model = PolicyText
        fields = ["kind", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}


@admin.register(PolicyText)
class PolicyTextAdmin(admin.ModelAdmin):
    """Each save publishes a new version (services.consent.policy_text_publish); the
    version opened is never edited, so bookings keep the words they agreed to."""

    form = PolicyTextForm
    list_display = ["kind", "version", "created_at", "created_by", "current"]
    list_filter = ["kind"]
    readonly_fields = ["version", "created_at", "created_by"]

    def get_queryset(self, request):
        newest = PolicyText.objects.filter(kind=OuterRef("kind")).order_by("-version").values("version")[:1]
        return super().get_queryset(request).select_related("created_by").annotate(newest=Subquery(newest))

    def get_readonly_fields(self, request, obj=None):
        # The kind of an existing text stays; its wording is the start of the next version.
        return [*self.readonly_fields, "kind"] if obj is not None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request)  # "changing" publishes: it adds a version

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("in use now"), boolean=True)
    def current(self, obj: PolicyText) -> bool:
        return obj.version == obj.newest

    def save_form(self, request, form, change):
        kind = form.instance.kind if change else form.cleaned_data["kind"]
        try:
            published = consent.policy_text_publish(
                kind=kind, body=form.cleaned_data["body"], by=request.user
            )
        except ValidationError as error:
            raise PermissionDenied(" ".join(error.messages)) from None
        form.save_m2m = lambda: None
        return published

    def save_model(self, request, obj, form, change):
        pass  # published by save_form

    def response_change(self, request, obj):
        self.message_user(
            request,
            _("Published as version %(version)s of the %(kind)s; earlier bookings keep theirs.")
            % {"version": obj.version, "kind": PolicyKind(obj.kind).label.lower()},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:booking_policytext_changelist"))

    def log_change(self, request, obj, message):
        return self.log_addition(request, obj, message)
