"""Health intake: the questions and rules as data, each visit's answers, doctors' notes.

The rules themselves are pure (:mod:`booking.intake`); this module loads them, records
the answers of each visit (never overwriting earlier ones) and keeps doctors' notes
encrypted in private storage.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import intake as rules_engine
from ..choices import IntakeSource, RuleOutcome
from ..intake import Answer, Evaluation
from ..models import Appointment, Client, DoctorNote, HealthIntake, HealthQuestion, HealthRule, Technique
from ..prepared_sql import Statement

# Doctors' notes: a PDF or a photo, small enough for a phone upload.
DOCTOR_NOTE_MAX_BYTES = 5 * 1024 * 1024
DOCTOR_NOTE_TYPES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


@lru_cache(maxsize=4)
def _questions_statement(vendor: str) -> Statement:
    """The questions asked online, compiled once (see booking/prepared_sql.py): every
    showing and sending of the details page asks them, and building the query cost the
    ORM several times the database's answer (issue 13)."""
    return Statement.of(HealthQuestion.objects.filter(active=True).order_by("display_order", "id"))


def questions_active() -> list[HealthQuestion]:
    """The questions asked online, in the order the manager set."""
    return _questions_statement(connection.vendor).instances({}, connection)


def rules_for(technique: Technique | None) -> list[rules_engine.Rule]:
    """The rules in use for ``technique`` (and those for every technique), as plain data."""
    queryset = HealthRule.objects.filter(active=True, question__active=True).select_related("question")
    if technique is not None:
        queryset = queryset.filter(technique__isnull=True) | queryset.filter(technique=technique)
    return [
        rules_engine.Rule(
            question_key=rule.question.key,
            outcome=RuleOutcome(rule.outcome),
            technique_id=rule.technique_id,
            number_min=rule.number_min,
            number_max=rule.number_max,
            staff_note=rule.staff_note,
        )
        for rule in queryset
    ]


def intake_evaluate(
    *,
    technique: Technique | None,
    answers: Mapping[str, Answer],
    rules: Sequence[rules_engine.Rule] | None = None,
) -> Evaluation:
    """What ``answers`` lead to for ``technique`` under today's rules (``rules``: those
    already read for it, see selectors.online_booking_checks)."""
    return rules_engine.evaluate(
        answers=answers,
        rules=rules_for(technique) if rules is None else rules,
        technique_id=technique.pk if technique else None,
    )


def call_message() -> str:
    from django.conf import settings

    return _(
        "Thank you for telling us. With these answers we would like to talk to you before "
        "booking, to make sure a massage is right for you now. Please call us on %(phone)s."
    ) % {"phone": settings.CLINIC["phone"]}


def intake_check_online(
    *,
    technique: Technique,
    answers: Mapping[str, Answer],
    doctor_note_token: str = "",
    rules: Sequence[rules_engine.Rule] | None = None,
) -> Evaluation:
    """The booking service's own check of the answers an online booking brings: the
    page may have been skipped or tampered with. "Call" refuses; "doctor's note" refuses
    unless a note was uploaded for this draft."""
    evaluation = intake_evaluate(technique=technique, answers=answers, rules=rules)
    if evaluation.outcome == RuleOutcome.CALL:
        raise ValidationError(call_message(), code="intake_call")
    if evaluation.outcome == RuleOutcome.DOCTOR_NOTE and not doctor_note_pending(doctor_note_token):
        raise ValidationError(
            _("Please upload your doctor's note on the details page before confirming."),
            code="intake_doctor_note",
        )
    return evaluation


def intake_record(
    *,
    appointment: Appointment,
    answers: Mapping[str, Answer],
    evaluation: Evaluation,
    source: str = IntakeSource.ONLINE,
    unchanged_since_id: int | None = None,
    doctor_note_token: str = "",
    recorded_by=None,
) -> HealthIntake:
    """Store this visit's answers (called inside the booking's transaction). Answers are
    stored for every visit, even when the client said nothing has changed: then
    ``unchanged_since`` points to the earlier intake they confirmed."""
    client = appointment.client  # set by the booking service (services.clients) before this
    unchanged_since = None
    if unchanged_since_id is not None:
        unchanged_since = HealthIntake.objects.filter(pk=unchanged_since_id, client=client).first()
    record = HealthIntake.objects.create(
        client=client,
        appointment=appointment,
        answers=rules_engine.answers_to_dict(answers),
        outcome=evaluation.outcome,
        flags=list(evaluation.flags),
        flagged=evaluation.flagged,
        unchanged_since=unchanged_since,
        source=source,
        recorded_by=recorded_by if getattr(recorded_by, "pk", None) else None,
    )
    if doctor_note_token:
        DoctorNote.objects.filter(draft_token=doctor_note_token, appointment__isnull=True).update(
            appointment=appointment, client=client, draft_token=""
        )
    return record


def intake_latest(client: Client) -> HealthIntake | None:
    """The client's last answers: their latest intake."""
    return client.intakes.order_by("-created_at", "-id").first()


# --------------------------------------------------------------------------- doctors' notes


def _cipher():
    # The same keys as the encrypted fields (SECRET_KEY and FIELD_ENCRYPTION_SALT), so
    # rotating them covers the files too.
    return HealthIntake._meta.get_field("answers").f


def doctor_note_type(head: bytes) -> str | None:
    """The content type ``head`` (a file's first bytes) shows, if it is one we accept."""
    for magic, content_type in DOCTOR_NOTE_TYPES.items():
        if head.startswith(magic):
            return content_type
    return None


def doctor_note_upload(
    *, upload, client: Client | None = None, appointment: Appointment | None = None
) -> DoctorNote:
    """Check an uploaded doctor's note (a real PDF, JPEG or PNG, at most 5 MB) and store
    it encrypted in private storage. Online, before the booking exists, the note carries
    a draft token that the booking then claims."""
    size = getattr(upload, "size", None) or 0
    if size > DOCTOR_NOTE_MAX_BYTES:
        raise ValidationError(
            _("This file is too large (%(size)s MB). Please upload a file of at most 5 MB.")
            % {"size": round(size / 1024 / 1024, 1)},
            code="too_large",
        )
    data = upload.read(DOCTOR_NOTE_MAX_BYTES + 1)
    if len(data) > DOCTOR_NOTE_MAX_BYTES:
        raise ValidationError(
            _("This file is too large. Please upload a file of at most 5 MB."), code="too_large"
        )
    content_type = doctor_note_type(data[:16])
    if not data or content_type is None:
        raise ValidationError(
            _("We could not read this file as a PDF, JPEG or PNG. Please upload the note in one of those."),
            code="bad_type",
        )
    now = timezone.now()
    note = DoctorNote(
        client=client or (appointment.client if appointment else None),
        appointment=appointment,
        content_type=content_type,
        draft_token="" if appointment else secrets.token_hex(16),
        uploaded_at=now,
    )
    # A random name: the client's file name may itself say something about their health.
    note.file.save(f"{secrets.token_hex(16)}.bin", ContentFile(_cipher().encrypt(data)), save=False)
    note.save()
    return note


def doctor_note_pending(token: str) -> bool:
    """Whether an online upload with this draft token waits for its booking."""
    return bool(token) and DoctorNote.objects.filter(draft_token=token, appointment__isnull=True).exists()


def doctor_note_bytes(note: DoctorNote) -> bytes:
    """The note's file, decrypted (for the staff view that checks permission first)."""
    with note.file.open("rb") as handle:
        return _cipher().decrypt(handle.read())


def doctor_note_mark_received(*, appointment: Appointment, user) -> DoctorNote:
    """Staff record that a doctor's note came in (by post, email or in person)."""
    return DoctorNote.objects.create(
        client=appointment.client,
        appointment=appointment,
        received_at=timezone.now(),
        received_by=user if getattr(user, "pk", None) else None,
    )


def doctor_notes_abandoned_delete(*, now=None) -> int:
    """Delete doctors' notes uploaded during an online booking that was never confirmed,
    file and all, once the draft they belonged to has expired. Returns how many."""
    from datetime import timedelta

    from django.conf import settings

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BOOKING_DRAFT_SECONDS)
    stale = (
        DoctorNote.objects.filter(appointment__isnull=True)
        .exclude(draft_token="")
        .filter(created_at__lt=cutoff)
    )
    count = 0
    for note in stale:
        if note.file:
            note.file.delete(save=False)
        note.delete()
        count += 1
    return count
