"""Treatment notes (SOAP): the treating therapist's clinical record of one appointment.

Who may do what lives here, once: the appointment's own therapist writes and signs; a
signed note is locked and later corrections are addenda with their author and time;
managers read every note and may withdraw one (a soft delete, logged). Nothing is ever
deleted. The admin and any other page call these functions and never repeat the rules.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import roles
from ..choices import AppointmentStatus, BodyArea, Pressure
from ..models import Appointment, NoteAddendum, TreatmentNote

READ_ALL = "booking.view_all_treatment_notes"
TEXT_LIMIT = 10_000  # per SOAP field: a long note, not a file pasted in by mistake


def _own_therapist_id(user) -> int | None:
    therapist = getattr(user, "therapist", None) if getattr(user, "pk", None) else None
    return therapist.pk if therapist is not None else None


def is_treating_therapist(user, appointment: Appointment) -> bool:
    """Whether ``user`` is the account of the therapist who gave ``appointment``."""
    own = _own_therapist_id(user)
    return own is not None and own == appointment.therapist_id


def can_read_all(user) -> bool:
    """Managers (and superusers) read every therapist's notes."""
    return bool(getattr(user, "is_active", False) and user.has_perm(READ_ALL))


def can_read(user, appointment: Appointment) -> bool:
    """Whether ``user`` may read the note of ``appointment``: its own therapist or a
    manager. Reception never may, whatever else they can see of the appointment."""
    return can_read_all(user) or is_treating_therapist(user, appointment)


def notes_readable_by(user) -> QuerySet[TreatmentNote]:
    """The notes ``user`` may read (withdrawn ones included, for managers only): lists,
    searches, change pages and autocompletes all start here."""
    notes = TreatmentNote.objects.all()
    if can_read_all(user):
        return notes
    own = _own_therapist_id(user)
    if own is None:
        return notes.none()
    return notes.filter(appointment__therapist_id=own, deleted_at__isnull=True)


def appointments_writable_by(user, *, now: datetime | None = None) -> QuerySet[Appointment]:
    """The user's own appointments that a note may be written for: given (completed) or
    started, and not cancelled or missed."""
    now = now or timezone.now()
    own = _own_therapist_id(user)
    if own is None:
        return Appointment.objects.none()
    return Appointment.objects.filter(therapist_id=own).filter(
        Q(status=AppointmentStatus.COMPLETED) | Q(status=AppointmentStatus.CONFIRMED, start__lte=now)
    )


def _given_or_started(appointment: Appointment, now: datetime) -> bool:
    # The rule of appointments_writable_by, for one appointment already in hand.
    started = appointment.status == AppointmentStatus.CONFIRMED and appointment.start <= now
    return appointment.status == AppointmentStatus.COMPLETED or started


def can_write(user, appointment: Appointment, *, now: datetime | None = None) -> bool:
    """Whether ``user`` may start the note of ``appointment`` now: its own therapist, once
    it has started or is completed (a page deciding whether to offer "Write note")."""
    return is_treating_therapist(user, appointment) and _given_or_started(appointment, now or timezone.now())


def _check_writer(user, appointment: Appointment, now: datetime) -> None:
    if not is_treating_therapist(user, appointment):
        raise PermissionDenied(_("Only the appointment's own therapist writes its treatment note."))
    if not _given_or_started(appointment, now):
        raise ValidationError(
            _("A treatment note is written once the appointment has started or is completed."),
            code="not_started",
        )


def _clean_areas(areas) -> list[str]:
    chosen = list(dict.fromkeys(areas or []))
    unknown = [a for a in chosen if a not in BodyArea.values]
    if unknown:
        raise ValidationError(_("Choose body areas from the list."), code="bad_area")
    # In the list's own order, so two notes with the same areas read the same.
    return [a for a in BodyArea.values if a in chosen]


def _clean_text(value: str | None, label: str) -> str:
    value = (value or "").strip()
    if len(value) > TEXT_LIMIT:
        raise ValidationError(
            _("%(field)s is too long: please keep it to %(limit)s characters.")
            % {"field": label, "limit": TEXT_LIMIT},
            code="too_long",
        )
    return value


def note_write(
    *,
    appointment: Appointment,
    by,
    subjective: str = "",
    objective: str = "",
    areas: list[str] | None = None,
    pressure: str = "",
    assessment: str = "",
    plan: str = "",
    now: datetime | None = None,
) -> TreatmentNote:
    """Write (or, until it is signed, rewrite) the SOAP note of ``appointment``.

    Only the appointment's own therapist (the Therapist linked to ``by``), and only once
    the appointment has started or is completed. A signed or withdrawn note is refused:
    a correction to a signed note is an addendum (:func:`note_addendum_add`)."""
    now = now or timezone.now()
    _check_writer(by, appointment, now)
    if pressure and pressure not in Pressure.values:
        raise ValidationError(_("Choose the pressure from the list."), code="bad_pressure")
    fields = {
        "subjective": _clean_text(subjective, _("Subjective")),
        "objective": _clean_text(objective, _("Objective")),
        "assessment": _clean_text(assessment, _("Assessment")),
        "plan": _clean_text(plan, _("Plan")),
        "areas": _clean_areas(areas),
        "pressure": pressure or "",
    }
    with transaction.atomic():
        note = TreatmentNote.objects.select_for_update().filter(appointment=appointment).first()
        if note is None:
            return TreatmentNote.objects.create(appointment=appointment, author=by, **fields)
        _check_open(note)
        for name, value in fields.items():
            setattr(note, name, value)
        note.save(update_fields=[*fields, "updated_at"])
        return note


def _check_open(note: TreatmentNote) -> None:
    if note.deleted_at is not None:
        raise ValidationError(_("This note was withdrawn and cannot be changed."), code="withdrawn")
    if note.signed_at is not None:
        raise ValidationError(
            _("This note is signed and locked. Add an addendum to correct or add to it."), code="signed"
        )


def note_sign(*, note: TreatmentNote, by, now: datetime | None = None) -> TreatmentNote:
    """Sign ``note``: from now on it is locked; corrections are addenda."""
    now = now or timezone.now()
    with transaction.atomic():
        note = TreatmentNote.objects.select_for_update().select_related("appointment").get(pk=note.pk)
        if not is_treating_therapist(by, note.appointment):
            raise PermissionDenied(_("Only the appointment's own therapist signs its treatment note."))
        _check_open(note)
        note.signed_at = now
        note.signed_by = by
        note.save(update_fields=["signed_at", "signed_by", "updated_at"])
        return note


def note_addendum_add(*, note: TreatmentNote, by, text: str) -> NoteAddendum:
    """Add a correction or addition to a signed note, with its author and time. The
    treating therapist writes addenda; so may a manager (who reads every note)."""
    note = TreatmentNote.objects.select_related("appointment").get(pk=note.pk)
    if not (is_treating_therapist(by, note.appointment) or roles.is_manager(by)):
        raise PermissionDenied(_("Only the treating therapist or a manager adds to this note."))
    if note.deleted_at is not None:
        raise ValidationError(_("This note was withdrawn and cannot be changed."), code="withdrawn")
    if note.signed_at is None:
        raise ValidationError(
            _("The note is not signed yet: change it directly, or sign it first."), code="not_signed"
        )
    text = _clean_text(text, _("Addendum"))
    if not text:
        raise ValidationError(_("Write the addendum first."), code="empty")
    return NoteAddendum.objects.create(note=note, author=by, text=text)


def note_withdraw(*, note: TreatmentNote, by, now: datetime | None = None) -> TreatmentNote:
    """Withdraw ``note`` (a manager only): it stays in the database, hidden from the
    therapist's lists, and the withdrawal is in the admin log with who and when. The log
    says that it was withdrawn, never what the note said (no free text: a reason typed
    here could quote the note)."""
    if not roles.is_manager(by):
        raise PermissionDenied(_("Only a manager withdraws a treatment note."))
    now = now or timezone.now()
    with transaction.atomic():
        note = TreatmentNote.objects.select_for_update().get(pk=note.pk)
        if note.deleted_at is not None:
            raise ValidationError(_("This note is already withdrawn."), code="withdrawn")
        note.deleted_at = now
        note.deleted_by = by
        note.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        LogEntry.objects.log_actions(
            user_id=by.pk,
            queryset=[note],
            action_flag=CHANGE,
            change_message=_("Withdrawn by a manager."),
            single_object=True,
        )
        return note
