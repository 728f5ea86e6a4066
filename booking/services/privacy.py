"""Health data under UK GDPR: the record of who looked at it, subject access (export),
erasure, retention, and moving encrypted values to a new key.

Nothing here logs a name, an email address, a phone number or a health answer: log lines
and LogEntry rows carry ids and counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, models, transaction
from django.db.models import Max, Q, TextField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic import fields as encrypted

from ..choices import AppointmentStatus, HealthAccessKind, TherapistPreference
from ..models import (
    Appointment,
    Client,
    Consent,
    DoctorNote,
    HealthDataAccess,
    HealthIntake,
    NoteAddendum,
    SentEmail,
    TreatmentNote,
)

logger = logging.getLogger(__name__)


def health_access_record(
    *, user, client: Client | None, kind: HealthAccessKind, object_id: int | None = None
) -> None:
    """Record that ``user`` was shown ``kind`` of ``client``'s health data. Call it from
    every view that shows health answers, doctors' notes or treatment notes to staff."""
    HealthDataAccess.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "get_username", lambda: "")() or "",
        client=client,
        kind=kind,
        object_id=object_id,
    )


def health_access_record_many(
    *, user, looks: Iterable[tuple[Client | None, HealthAccessKind, int | None]]
) -> int:
    """Record several looks shown on one page at once (client, kind, object id), as
    :func:`health_access_record` does for one: a page listing many visits writes its record
    in one query, however many there are. The same look twice is recorded once. Returns
    how many were recorded."""
    username = getattr(user, "get_username", lambda: "")() or ""
    account = user if getattr(user, "pk", None) else None
    rows, seen = [], set()
    for client, kind, object_id in looks:
        key = (getattr(client, "pk", None), kind, object_id)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            HealthDataAccess(user=account, username=username, client=client, kind=kind, object_id=object_id)
        )
    HealthDataAccess.objects.bulk_create(rows)
    return len(rows)


# --------------------------------------------------------------------------- subject access


def client_export(*, client: Client, by) -> dict:
    """Everything the clinic holds about ``client`` (a subject access request), as plain
    data ready for JSON. Recorded as a look at their health data."""
    client = Client.objects.select_related("preferred_therapist").get(pk=client.pk)  # as stored
    appointments = list(
        Appointment.objects.filter(client=client).select_related("technique", "therapist").order_by("start")
    )
    references = {a.pk: a.reference for a in appointments}
    notes = list(
        TreatmentNote.objects.filter(appointment__client=client)
        .select_related("appointment", "author", "signed_by")
        .prefetch_related("addenda__author")
        .order_by("appointment__start")
    )
    data = {
        "exported_at": timezone.now(),
        "client": {
            "id": client.pk,
            "name": client.name,
            "email": client.email,
            "phone": str(client.phone or ""),
            "date_of_birth": client.date_of_birth,
            "created_at": client.created_at,
            "updated_at": client.updated_at,
            "verified_at": client.verified_at,
            "erased_at": client.erased_at,
        },
        "preferences": {
            "pressure": client.pressure,
            "areas_to_avoid": client.areas_to_avoid,
            "therapist_preference": client.therapist_preference,
            "preferred_therapist": client.preferred_therapist.name if client.preferred_therapist else "",
            "other": client.preference_notes,
        },
        "marketing": {
            "agreed_at": client.marketing_consent_at,
            "withdrawn_at": client.marketing_withdrawn_at,
        },
        "consents": [
            {
                "text": c.policy.kind,
                "version": c.policy.version,
                "wording": c.policy.body,
                "agreed_at": c.agreed_at,
                "method": c.method,
                "typed_name": c.typed_name,
                "appointment": references.get(c.appointment_id, ""),
            }
            for c in Consent.objects.filter(client=client).select_related("policy")
        ],
        "appointments": [
            {
                "reference": a.reference,
                "start": a.start,
                "end": a.end,
                "technique": a.technique.name,
                "therapist": a.therapist.name,
                "minutes": a.duration_minutes,
                "price": a.price,
                "status": a.status,
                "booked_via": a.source,
                "name_given": a.client_name,
                "email_given": a.client_email,
                "phone_given": a.client_phone,
                "notes_for_the_therapist": a.client_notes,
                "created_at": a.created_at,
            }
            for a in appointments
        ],
        "health_intakes": [
            {
                "id": i.pk,
                "given_at": i.created_at,
                "appointment": references.get(i.appointment_id, ""),
                "source": i.source,
                "outcome": i.outcome,
                "answers": i.answers,
                "flags": i.flags,
                "unchanged_since": i.unchanged_since_id,
            }
            for i in HealthIntake.objects.filter(client=client).order_by("created_at", "id")
        ],
        "doctors_notes": [
            {
                "id": d.pk,
                "appointment": references.get(d.appointment_id, ""),
                "has_file": bool(d.file),
                "content_type": d.content_type,
                "uploaded_at": d.uploaded_at,
                "received_at": d.received_at,
            }
            for d in DoctorNote.objects.filter(client=client).order_by("created_at", "id")
        ],
        "treatment_notes": [
            {
                "appointment": n.appointment.reference,
                "author": n.author.get_username() if n.author else "",
                "subjective": n.subjective,
                "objective": n.objective,
                "areas": n.areas,
                "pressure": n.pressure,
                "assessment": n.assessment,
                "plan": n.plan,
                "signed_at": n.signed_at,
                "withdrawn_at": n.deleted_at,
                "created_at": n.created_at,
                "addenda": [
                    {
                        "author": a.author.get_username() if a.author else "",
                        "written_at": a.created_at,
                        "text": a.text,
                    }
                    for a in n.addenda.all()
                ],
            }
            for n in notes
        ],
        "access_log": [
            {"at": a.at, "by": a.username, "what": a.kind, "object_id": a.object_id}
            for a in HealthDataAccess.objects.filter(client=client).order_by("at", "id")
        ],
    }
    health_access_record(user=by, client=client, kind=HealthAccessKind.EXPORT, object_id=client.pk)
    logger.info("Client %s exported by user %s", client.pk, getattr(by, "pk", None))
    return data


# --------------------------------------------------------------------------- erasure


def erased_name(client_id: int) -> str:
    return f"Erased client #{client_id}"


def client_erase(*, client: Client, by) -> None:
    """Remove or anonymise everything personal held about ``client``; keep the
    appointments (times, technique, therapist, price, status) as anonymous rows so counts
    and revenue stay true, and keep that each intake and treatment note existed.

    Refuses (``ValidationError``, code ``upcoming``) while the client has a confirmed
    appointment still to come: cancel it first, so no email goes to an erased address.
    Erasing an erased client does nothing. Clients merged into this one are erased too.
    """
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if client.erased_at is not None:
            return
        upcoming = Appointment.objects.filter(
            client__in=_with_merged(client), status=AppointmentStatus.CONFIRMED, start__gt=timezone.now()
        )
        if upcoming.exists():
            raise ValidationError(
                _("This client has appointments still to come. Cancel them before erasing the client."),
                code="upcoming",
            )
        # Waitlist (issue 14): off every list, any held time released, before the address goes.
        from . import waitlist

        waitlist.entries_leave_for(clients=_with_merged(client))
        files: list = []
        for person in _with_merged(client):
            files += _erase_one(person, by=by)
        # Files go once the erasure is committed: a rollback must not lose them.
        transaction.on_commit(lambda: _delete_files(files))
    logger.info(
        "Client %s erased by %s", client.pk, f"user {by.pk}" if getattr(by, "pk", None) else "retention"
    )


def _with_merged(client: Client) -> list[Client]:
    found, todo = [client], [client.pk]
    while todo:
        more = list(Client.objects.filter(merged_into_id__in=todo))
        found += more
        todo = [c.pk for c in more]
    return found


def _erase_one(client: Client, *, by) -> list:
    personal = {s for s in (client.name, client.email, str(client.phone or "")) if s and len(s) > 2}
    appointments = Appointment.objects.filter(client=client)
    for name, email, phone in appointments.values_list("client_name", "client_email", "client_phone"):
        personal |= {s for s in (name, email, phone) if s and len(s) > 2}
    anonymous = erased_name(client.pk)
    appointment_ids = list(appointments.values_list("pk", flat=True))

    client.name = anonymous
    client.email = ""
    client.phone = ""
    client.date_of_birth = None
    client.pressure = ""
    client.areas_to_avoid = ""
    client.therapist_preference = TherapistPreference.NONE
    client.preferred_therapist = None
    client.preference_notes = ""
    client.marketing_consent_at = None
    client.marketing_withdrawn_at = None
    client.erased_at = timezone.now()
    client.save()

    snapshot = {"client_name": anonymous, "client_email": "", "client_phone": "", "client_notes": ""}
    # The answers the appointment held before intakes existed, while those columns remain.
    old_health = {"pregnant": False, "recent_injury": "", "health_conditions": ""}
    column_names = {f.name for f in Appointment._meta.concrete_fields}
    snapshot |= {k: v for k, v in old_health.items() if k in column_names}
    appointments.update(**snapshot)
    SentEmail.objects.filter(appointment_id__in=appointment_ids).update(recipient="")
    Consent.objects.filter(client=client).update(typed_name="")

    HealthIntake.objects.filter(client=client).update(answers={}, flags=[], flagged=False)
    # An encrypted empty text: the library would store NULL for "", which the columns refuse.
    empty = Value(encrypted.fernet_current().encrypt(b"").decode(), output_field=TextField())
    notes = TreatmentNote.objects.filter(appointment_id__in=appointment_ids)
    notes.update(subjective=empty, objective=empty, assessment=empty, plan=empty, areas=[])
    NoteAddendum.objects.filter(note__in=notes).update(text=empty)

    files = []
    for note in DoctorNote.objects.filter(Q(client=client) | Q(appointment_id__in=appointment_ids)):
        if note.file:
            files.append((note.file.storage, note.file.name))
        note.file = ""
        note.save(update_fields=["file"])

    _redact_admin_log(client, appointment_ids, personal)
    if getattr(by, "pk", None) is None:
        return files  # the retention command: no user to log under; its log line says it
    LogEntry.objects.create(
        user_id=getattr(by, "pk", None),
        content_type=ContentType.objects.get_for_model(Client),
        object_id=str(client.pk),
        object_repr=anonymous,
        action_flag=CHANGE,
        change_message=_("Erased (personal and health data removed)"),
    )
    return files


def _redact_admin_log(client: Client, appointment_ids: list[int], personal: set[str]) -> None:
    # The admin history names the client (object_repr) and, for appointments, shows
    # edited values (change_message): take the personal strings out, keep the rest.
    rows = LogEntry.objects.filter(
        Q(content_type=ContentType.objects.get_for_model(Client), object_id=str(client.pk))
        | Q(
            content_type=ContentType.objects.get_for_model(Appointment),
            object_id__in=[str(pk) for pk in appointment_ids],
        )
    )
    for row in rows:
        repr_, message = row.object_repr, row.change_message
        for text in sorted(personal, key=len, reverse=True):
            repr_ = repr_.replace(text, "[erased]")
            message = message.replace(text, "[erased]")
        if (repr_, message) != (row.object_repr, row.change_message):
            row.object_repr, row.change_message = repr_, message
            row.save(update_fields=["object_repr", "change_message"])


def _delete_files(files: list) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:
            logger.exception("A doctor's note file of an erased client could not be deleted")


# --------------------------------------------------------------------------- retention


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def clients_past_retention(*, now: datetime | None = None) -> models.QuerySet[Client]:
    """Clients (not erased, not merged away) whose last visit, or creation if they never
    had one, is more than CLIENT_RETENTION_YEARS ago."""
    cutoff = _years_before(now or timezone.now(), settings.CLIENT_RETENTION_YEARS)
    return (
        Client.objects.current()
        .annotate(last_seen=Coalesce(Max("appointments__start"), "created_at"))
        .filter(last_seen__lt=cutoff)
        .order_by("pk")
    )


def clients_erase_expired(*, by=None, now: datetime | None = None) -> int:
    """Erase every client past the retention period; returns how many. Safe to run again."""
    erased = 0
    for client in clients_past_retention(now=now):
        client_erase(client=client, by=by)
        erased += 1
    return erased


# --------------------------------------------------------------------------- key rotation


@dataclass
class Reencryption:
    rewritten: int = 0
    current: int = 0
    unreadable: int = 0
    missing_files: int = 0


def health_data_reencrypt(*, batch_size: int = 500) -> Reencryption:
    """Move every encrypted value and doctor's note file to the current key (the first
    FIELD_ENCRYPTION_SALT with SECRET_KEY), a batch of rows per transaction. Values
    already under it are left alone, so running it again changes nothing. A value no
    listed key opens is counted as unreadable and left as it is.

    Works on the stored tokens (Fernet ``rotate``), never on the decrypted text, and
    writes a token back only if the row still holds the one read, so an edit saved
    meanwhile is never overwritten.
    """
    encrypted.encryption_keys_reset()
    current, every_key = encrypted.fernet_current(), encrypted.fernet_all()
    result = Reencryption()
    quote = connection.ops.quote_name
    for model, fields in encrypted.encrypted_fields():
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        columns = [quote(f.column) for f in fields]
        select = f"SELECT {pk}, {', '.join(columns)} FROM {table} WHERE {pk} > %s ORDER BY {pk}"
        last = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"{select} LIMIT %s", [last, batch_size])
                rows = cursor.fetchall()
                for row in rows:
                    for column, token in zip(columns, row[1:], strict=True):
                        if not token:
                            continue
                        raw = token.encode() if isinstance(token, str) else bytes(token)
                        try:
                            current.decrypt(raw)
                            result.current += 1
                            continue
                        except InvalidToken:
                            pass
                        try:
                            new = every_key.rotate(raw).decode()
                        except InvalidToken:
                            result.unreadable += 1
                            continue
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",
                            [new, row[0], token],
                        )
                        result.rewritten += cursor.rowcount
            if len(rows) < batch_size:
                break
            last = rows[-1][0]
    _reencrypt_doctor_notes(current, every_key, result)
    return result


def _reencrypt_doctor_notes(current, every_key, result: Reencryption) -> None:
    # Doctors' note files are Fernet tokens under the same keys (services.intake). The new
    # token goes to a new file; the row moves to it only if it still names the old one.
    for note in DoctorNote.objects.exclude(file="").only("pk", "file").iterator():
        storage, name = note.file.storage, note.file.name
        try:
            with storage.open(name, "rb") as handle:
                token = handle.read()
        except FileNotFoundError:
            result.missing_files += 1
            continue
        try:
            current.decrypt(token)
            result.current += 1
            continue
        except InvalidToken:
            pass
        try:
            new = every_key.rotate(token)
        except InvalidToken:
            result.unreadable += 1
            continue
        new_name = storage.save(name, ContentFile(new))  # the storage picks a free name
        if DoctorNote.objects.filter(pk=note.pk, file=name).update(file=new_name):
            storage.delete(name)
            result.rewritten += 1
        else:
            storage.delete(new_name)
