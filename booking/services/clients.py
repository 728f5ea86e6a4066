"""Writes for client records: which client a booking belongs to, and merging duplicates.

The rule for details a client types online (decided here, in one place):

- a new email address makes a new client with what was typed;
- a client whose details staff have not verified (``verified_at`` empty) takes the newest
  details typed online, since nothing better is known;
- a verified client keeps their details: what was typed stays on that booking's own
  snapshot (``appointment.client_name/email/phone``), for staff to check and, if right,
  copy to the record (which they then verify again). An online form cannot prove who typed
  it, so it never overwrites what staff checked with the client.

Whatever happens, the booking flow answers the same way for a known and an unknown
address: nothing here is ever shown to the person booking.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.text import single_line

from ..models import (
    Appointment,
    Client,
    Consent,
    DoctorNote,
    HealthDataAccess,
    HealthIntake,
    email_key,
)
from ..phones import phone_e164


def _typed(*, name: str, email: str, phone: str) -> dict[str, str]:
    return {"name": single_line(name)[:120], "email": (email or "").strip(), "phone": phone_e164(phone)}


class ClientRaced(Exception):
    """Another transaction made the client with this address first (the unique index
    refused ours). Raised only with ``savepoint=False``: the caller's transaction is
    spoilt and must be rolled back and tried again, which then finds that client."""


def client_for_online_booking(
    *, name: str, email: str, phone: str, savepoint: bool = True, known: bool | None = None
) -> Client:
    """The client an online booking belongs to, found by email (case and spaces ignored)
    or created. Two first bookings with one new address at the same moment end with one
    client: the unique index on ``email_key`` lets one insert win; the other, in a
    savepoint, catches the refusal and takes the winner's record.

    ``savepoint=False`` (the online booking, which already holds the address's lock, so
    only a staff booking of the same new address can race it) inserts without the
    savepoint's two extra statements and raises :class:`ClientRaced` on that race.
    ``known=False`` says no record has the address (read under that lock): the lookup
    is skipped and the client made at once."""
    typed = _typed(name=name, email=email, phone=phone)
    key = email_key(typed["email"])
    if not key:
        raise ValidationError(_("An email address is needed to book online."), code="no_email")
    client = None if known is False else _by_email_key(key)
    if client is None and not savepoint:
        try:
            return Client.objects.create(**typed)
        except IntegrityError as error:
            raise ClientRaced from error
    if client is None:
        try:
            with transaction.atomic():
                return Client.objects.create(**typed)
        except IntegrityError:
            client = _index_holder(key)
    _take_newer_details(client=client, typed=typed)
    return client


def _index_holder(key: str) -> Client:
    """The one unmerged record the unique index says holds ``key`` (the race's winner).
    Erasure blanks a record's email, so this is a current client in practice."""
    return Client.objects.get(email_key=key, merged_into__isnull=True)


def _by_email_key(key: str) -> Client | None:
    """The current client with this address; an address of a record merged away leads to
    the record it was merged into (so a merge is not undone by the next online booking)."""
    # Every record with the address in one query (one, or a few once merged): erasure
    # blanks the address and the unique index allows one unmerged holder.
    records = list(Client.objects.filter(email_key=key).order_by("-pk"))
    client = next((c for c in records if c.merged_into_id is None and c.erased_at is None), None)
    if client is not None:
        return client
    merged = next((c for c in records if c.merged_into_id is not None), None)
    for _step in range(10):  # a chain of merges; the bound only guards against a loop
        if merged is None or merged.merged_into_id is None:
            break
        merged = merged.merged_into
    if merged is not None and merged.merged_into_id is None and merged.erased_at is None:
        return merged
    return None


def _take_newer_details(*, client: Client, typed: dict[str, str]) -> None:
    """Unverified records take the newest details typed online; verified ones keep theirs
    (the booking's snapshot holds what was typed)."""
    if client.verified_at is not None:
        return
    changed = [
        field
        for field in ("name", "phone")
        if typed[field] and str(getattr(client, field) or "") != typed[field]
    ]
    if changed:
        for field in changed:
            setattr(client, field, typed[field])
        client.save(update_fields=[*changed, "updated_at"])


def client_for_staff_booking(*, client: Client | None, name: str, email: str, phone: str) -> Client:
    """Staff pick an existing client, or the details typed make one: an address already on
    file is that client (staff see it in the autocomplete), never a second record. Staff
    change a record's details on the client's own page, not through a booking; blanks on
    the record are filled in."""
    if client is not None:
        client = Client.objects.current().filter(pk=client.pk).first()
        if client is None:
            raise ValidationError(
                _("That client record was merged or erased; pick the client again."), code="client_gone"
            )
        return client
    typed = _typed(name=name, email=email, phone=phone)
    key = email_key(typed["email"])
    found = _by_email_key(key) if key else None
    if found is None:
        try:
            with transaction.atomic():
                return Client.objects.create(**typed)
        except IntegrityError:
            found = _index_holder(key)
    blanks = [field for field in ("phone",) if typed[field] and not getattr(found, field)]
    if blanks:
        for field in blanks:
            setattr(found, field, typed[field])
        found.save(update_fields=[*blanks, "updated_at"])
    return found


def client_verify(*, client: Client, by, now: datetime | None = None) -> Client:
    """Staff checked the details with the client: from now on online input keeps off them."""
    client.verified_at = now or timezone.now()
    client.verified_by = by if getattr(by, "pk", None) else None
    client.save(update_fields=["verified_at", "verified_by", "updated_at"])
    return client


def client_merge(*, keep: Client, duplicate: Client, by) -> Client:
    """Merge ``duplicate`` into ``keep``: every appointment, health intake, consent,
    doctor's note and record of access moves to the kept client (treatment notes hang on
    appointments and move with them); the duplicate is kept, marked ``merged_into``, so
    old links still lead somewhere. Logged in the admin history of both records."""
    if keep.pk == duplicate.pk:
        raise ValidationError(_("Choose two different clients to merge."), code="same_client")
    with transaction.atomic():
        rows = {c.pk: c for c in Client.objects.select_for_update().filter(pk__in=[keep.pk, duplicate.pk])}
        keep, duplicate = rows.get(keep.pk), rows.get(duplicate.pk)
        if keep is None or duplicate is None:
            raise ValidationError(_("One of these clients no longer exists."), code="client_gone")
        for client in (keep, duplicate):
            if client.merged_into_id is not None or client.erased_at is not None:
                raise ValidationError(
                    _("%(name)s was already merged or erased.") % {"name": client.name}, code="client_gone"
                )
        moved = {
            "appointments": Appointment.objects.filter(client=duplicate).update(client=keep),
            "intakes": HealthIntake.objects.filter(client=duplicate).update(client=keep),
            "consents": Consent.objects.filter(client=duplicate).update(client=keep),
            "doctor_notes": DoctorNote.objects.filter(client=duplicate).update(client=keep),
        }
        HealthDataAccess.objects.filter(client=duplicate).update(client=keep)
        # What the kept record lacks, the duplicate may know.
        filled = []
        for field in ("email", "phone", "date_of_birth", "pressure", "areas_to_avoid", "preference_notes"):
            if not getattr(keep, field) and getattr(duplicate, field):
                setattr(keep, field, getattr(duplicate, field))
                filled.append(field)
        # The duplicate leaves the unique email index (merged rows are outside it) first.
        duplicate.merged_into = keep
        duplicate.save(update_fields=["merged_into", "updated_at"])
        if filled:
            keep.save(update_fields=[*filled, "email_key", "updated_at"])
        summary = _(
            "Merged client #%(dup)s (%(dup_name)s) into #%(keep)s (%(keep_name)s): %(a)s appointments, "
            "%(i)s health intakes, %(c)s consents, %(d)s doctor's notes moved."
        ) % {
            "dup": duplicate.pk,
            "dup_name": duplicate.name,
            "keep": keep.pk,
            "keep_name": keep.name,
            "a": moved["appointments"],
            "i": moved["intakes"],
            "c": moved["consents"],
            "d": moved["doctor_notes"],
        }
        if getattr(by, "pk", None):
            LogEntry.objects.log_actions(
                user_id=by.pk, queryset=[keep, duplicate], action_flag=CHANGE, change_message=summary
            )
    return keep
