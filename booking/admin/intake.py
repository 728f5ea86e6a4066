"""Staff screens for the health intake: the questions and rules managers edit, the
health panel of an appointment, and doctors' notes (served only to staff who may see
health data, each look recorded).

Reception sees flags ("Health flag: pregnancy"), never answers or files. Therapists see
the answers of their own appointments; managers see all.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from .. import forms as booking_forms
from .. import roles
from ..choices import HealthAccessKind, RuleOutcome
from ..intake import Answer
from ..models import Appointment, DoctorNote, HealthIntake, HealthQuestion, HealthRule
from ..services import intake, privacy

EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def flag_label(key: str) -> str:
    """A flag as reception may read it: the question's code in words, never the answer."""
    return str(_("Health flag: %(what)s")) % {"what": key.replace("_", " ")}


def appointment_flag_labels(appointment: Appointment) -> list[str]:
    """The flag labels of an appointment whose intake was loaded with it (select_related)."""
    try:
        record = appointment.intake
    except HealthIntake.DoesNotExist:
        return []
    return [flag_label(key) for key in (record.flags or [])] if record.flagged else []


def form_with_health_fields(form_class):
    """``form_class`` with the active health questions as optional fields: staff booking
    on the phone ask them; left all empty, no answers are recorded."""
    questions = intake.questions_active()
    attrs = {"health_questions": questions}
    for question in questions:
        attrs.update(booking_forms.health_fields(question))
    return type(form_class.__name__, (form_class,), attrs)


def health_field_names() -> list[str]:
    names = []
    for question in intake.questions_active():
        names += list(booking_forms.health_fields(question))
    return names


def health_from_form(form) -> dict[str, Answer] | None:
    """The answers a staff booking form was given, or None when no question was answered."""
    questions = getattr(form, "health_questions", None)
    cleaned = form.cleaned_data
    if not questions or all(cleaned.get(f"health_{q.key}") is None for q in questions):
        return None
    return booking_forms.answers_from_cleaned(questions, cleaned)


def may_see_answers(user, appointment: Appointment) -> bool:
    """Managers (and anyone granted it) see health data; a therapist only for their own
    appointments; reception never."""
    if not user.has_perm("booking.view_health_data"):
        return False
    if roles.sees_only_own_appointments(user):
        therapist = getattr(user, "therapist", None)
        return therapist is not None and appointment.therapist_id == therapist.pk
    return True


def intake_rows(record: HealthIntake, questions: dict[str, HealthQuestion]) -> list[dict]:
    """The answers of one intake as rows of question, answer, details and number."""
    rows = []
    for key, answer in (record.answers or {}).items():
        if not isinstance(answer, dict):
            continue
        question = questions.get(key)
        rows.append(
            {
                "key": key,
                "question": question.text if question else key,
                "yes": bool(answer.get("yes")),
                "details": answer.get("details") or "",
                "number": answer.get("number"),
                "number_label": question.number_label if question else "",
                "flagged": key in (record.flags or []),
            }
        )
    return rows


def appointment_health_panel(request, appointment: Appointment) -> dict:
    """What the appointment page shows about health, for this user. Showing answers or
    doctors' notes records the look (services.privacy.health_access_record)."""
    record = HealthIntake.objects.filter(appointment=appointment).first()
    allowed = may_see_answers(request.user, appointment)
    notes = list(DoctorNote.objects.filter(appointment=appointment).order_by("created_at"))
    panel = {
        "intake": record,
        "flags": [flag_label(key) for key in (record.flags if record else [])],
        "needs_doctor_note": bool(record and record.outcome == RuleOutcome.DOCTOR_NOTE),
        "doctor_note_count": len(notes),
        "may_see_answers": allowed,
        "may_mark_received": request.user.has_perm("booking.change_doctornote"),
        "mark_received_url": reverse("admin:booking_doctornote_received", args=[appointment.pk]),
    }
    if allowed and (record is not None or notes):
        questions = {question.key: question for question in HealthQuestion.objects.all()}
        panel["rows"] = intake_rows(record, questions) if record else []
        panel["doctor_notes"] = [
            {
                "note": note,
                "url": reverse("admin:booking_doctornote_file", args=[note.pk]) if note.file else "",
            }
            for note in notes
        ]
        if record is not None:
            privacy.health_access_record(
                user=request.user, client=record.client, kind=HealthAccessKind.INTAKE, object_id=record.pk
            )
    return panel


def client_health_history(request, client) -> dict:
    """A client's intakes, latest first, for the client page: managers see all of them,
    a therapist only those of their own appointments, reception none. Showing any records
    the look (one record per page view, kind "client record")."""
    user = request.user
    if not user.has_perm("booking.view_health_data"):
        return {"intakes": [], "allowed": False}
    intakes = HealthIntake.objects.filter(client=client).select_related("appointment__technique")
    if roles.sees_only_own_appointments(user):
        therapist = getattr(user, "therapist", None)
        if therapist is None:
            return {"intakes": [], "allowed": False}
        intakes = intakes.filter(appointment__therapist=therapist)
    intakes = list(intakes.order_by("-created_at", "-id"))
    questions = {}
    if intakes:
        questions = {question.key: question for question in HealthQuestion.objects.all()}
        privacy.health_access_record(user=user, client=client, kind=HealthAccessKind.CLIENT_RECORD)
    return {
        "allowed": True,
        "latest": intakes[0] if intakes else None,
        "intakes": [
            {
                "intake": record,
                "rows": intake_rows(record, questions),
                "flags": [flag_label(key) for key in (record.flags or [])],
            }
            for record in intakes
        ],
    }


@admin.register(HealthQuestion)
class HealthQuestionAdmin(admin.ModelAdmin):
    list_display = ["text", "key", "details_label", "number_label", "active", "display_order"]
    list_editable = ["active", "display_order"]
    search_fields = ["text", "key"]


@admin.register(HealthRule)
class HealthRuleAdmin(admin.ModelAdmin):
    list_display = ["question", "technique_or_all", "number_range", "outcome", "staff_note", "active"]
    list_filter = ["outcome", "active", "question", "technique"]
    list_select_related = ["question", "technique"]
    autocomplete_fields = ["question"]

    @admin.display(description=_("technique"), ordering="technique__name")
    def technique_or_all(self, obj: HealthRule) -> str:
        return obj.technique.name if obj.technique else str(_("Every technique"))

    @admin.display(description=_("number"))
    def number_range(self, obj: HealthRule) -> str:
        if obj.number_min is None and obj.number_max is None:
            return str(_("any"))
        if obj.number_min is None:
            return str(_("up to %(max)s")) % {"max": obj.number_max}
        if obj.number_max is None:
            return str(_("%(min)s or more")) % {"min": obj.number_min}
        return f"{obj.number_min}–{obj.number_max}"


@admin.register(DoctorNote)
class DoctorNoteAdmin(admin.ModelAdmin):
    """No list or edit pages: a note is reached from its appointment, and the file is
    streamed decrypted by :meth:`file_view` after the permission check."""

    def has_module_permission(self, request):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/file/", self.admin_site.admin_view(self.file_view), name="booking_doctornote_file"
            ),
            path(
                "received/<int:appointment_id>/",
                self.admin_site.admin_view(self.received_view),
                name="booking_doctornote_received",
            ),
        ]

    def _appointment(self, request, appointment_id: int) -> Appointment:
        # Through the appointment admin's own queryset: a therapist reaches only theirs.
        appointment_admin = self.admin_site._registry[Appointment]
        return get_object_or_404(appointment_admin.get_queryset(request), pk=appointment_id)

    def file_view(self, request, pk: int):
        note = get_object_or_404(DoctorNote.objects.select_related("appointment", "client"), pk=pk)
        if note.appointment is None or not note.file:
            raise Http404
        appointment = self._appointment(request, note.appointment_id)
        if not may_see_answers(request.user, appointment):
            raise PermissionDenied
        try:
            data = intake.doctor_note_bytes(note)
        except (OSError, ValueError) as error:
            raise Http404 from error
        privacy.health_access_record(
            user=request.user, client=note.client, kind=HealthAccessKind.DOCTOR_NOTE, object_id=note.pk
        )
        response = HttpResponse(data, content_type=note.content_type or "application/octet-stream")
        extension = EXTENSIONS.get(note.content_type, "bin")
        response["Content-Disposition"] = f'attachment; filename="doctors-note-{note.pk}.{extension}"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def received_view(self, request, appointment_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("booking.change_doctornote"):
            raise PermissionDenied
        appointment = self._appointment(request, appointment_id)
        try:
            intake.doctor_note_mark_received(appointment=appointment, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Doctor's note marked as received."))
        return redirect("admin:booking_appointment_change", appointment.pk)
