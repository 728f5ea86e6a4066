"""Writes for appointments. Every path that creates, moves or cancels an appointment (web,
admin, import, shell) comes through here, so the rules live in one place.

The guarantee against double booking has two layers: each service re-checks
availability inside a transaction, and the database has the last word (an exclusion
constraint on PostgreSQL; on SQLite, BEGIN IMMEDIATE makes writers queue, so the check
and the insert of one booking cannot interleave with another's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.text import single_line

from .. import availability as engine
from .. import explanations, notifications, selectors
from ..availability import SlotProblem
from ..choices import AppointmentSource, AppointmentStatus, IntakeSource
from ..intake import Answer
from ..models import Appointment, Client, ClientChange, Technique, TechniqueLength, Therapist
from . import clients, consent, intake


class SlotUnavailable(ValidationError):
    """The time asked for cannot be booked: taken a moment ago (code ``slot_taken``), or
    not free for another reason (the code is the :class:`~booking.availability.SlotProblem`:
    ``closed``, ``outside_hours``, ``time_off`` ...)."""


@dataclass(frozen=True)
class ClientDetails:
    name: str
    email: str
    phone: str
    notes: str = ""
    policy_agreed: bool = False
    # Clients: the record staff picked for a phone booking (None: found by email or new).
    record: Client | None = None
    # Health intake (booking.services.intake): this visit's answers, None when none were
    # asked (then no intake is recorded); the earlier intake the client confirmed had not
    # changed; the draft token of a doctor's note uploaded before confirming.
    health: Mapping[str, Answer] | None = None
    health_unchanged_since: int | None = None
    doctor_note_token: str = ""
    # Consent (issue 11): the typed name or the staff's "agreed by phone"; None when the
    # caller asked nothing (imports, demo data). See consent.consents_record.
    agreement: consent.Agreement | None = None


def _slot_taken() -> SlotUnavailable:
    return SlotUnavailable(
        _("Sorry, this time was just taken by someone else. Please choose another time."),
        code="slot_taken",
    )


def _check_length(technique: Technique, length: TechniqueLength) -> None:
    if length.technique_id != technique.pk:
        raise ValidationError(_("That length is not offered for this technique."), code="bad_length")


def _free_therapists(
    *,
    technique: Technique,
    length: TechniqueLength,
    start: datetime,
    therapist: Therapist | None,
    staff: bool,
    allow_outside_hours: bool,
    now: datetime,
    exclude_appointment_id: int | None = None,
) -> tuple[list[Therapist], selectors.FreeStarts, date]:
    day = start.astimezone(selectors.clinic_zone()).date()
    _lock_therapists(technique=technique, therapist=therapist)
    free = selectors.free_starts(
        technique=technique,
        length=length,
        first_day=day,
        days=1,
        therapist=therapist,
        now=now,
        staff=staff,
        ignore_working_hours=staff and allow_outside_hours,
        exclude_appointment_id=exclude_appointment_id,
    )
    return free.therapists_free_at(start), free, day


def _lock_therapists(*, technique: Technique, therapist: Therapist | None) -> None:
    """Serialise bookings per therapist on PostgreSQL (row locks, always in id order).

    Without it, two transactions inserting overlapping appointments both wait on the
    exclusion constraint for each other and PostgreSQL breaks the deadlock with an
    error. With it, the second booking waits, then sees the first and gets a clear
    "just taken". On SQLite the immediate transaction already serialises writers.
    """
    candidates = (
        Therapist.objects.filter(pk=therapist.pk) if therapist else Therapist.objects.offering(technique)
    )
    list(candidates.select_for_update().order_by("pk").values_list("pk", flat=True))


def _is_conflict(error: DatabaseError) -> bool:
    # 23P01 exclusion violation, 40P01 deadlock, 40001 serialisation failure: all mean
    # another transaction took the time first.
    return getattr(error.__cause__, "pgcode", None) in {"23P01", "40P01", "40001"} or isinstance(
        error, IntegrityError
    )


def _save_or_taken(appointment: Appointment) -> None:
    """Save in a savepoint; the database refusing an overlap means someone else won."""
    try:
        with transaction.atomic():
            appointment.save()
    except DatabaseError as exc:
        if not _is_conflict(exc):
            raise
        raise _slot_taken() from exc


# The online rules that are about the time itself, not anyone's diary: plain form errors.
POLICY_PROBLEMS = {SlotProblem.PAST, SlotProblem.NOTICE, SlotProblem.HORIZON, SlotProblem.OFF_GRID}


def _explain_to_client(*, start: datetime, free: selectors.FreeStarts, therapist: Therapist | None) -> None:
    """Raise the reason that applies when nobody is free at ``start`` online: a policy
    error, the closure, the hours, the time off, or "just taken"."""
    problem = free.why_not(start)
    if problem is None or problem == SlotProblem.TAKEN:
        raise _slot_taken()
    message = explanations.client_message(
        problem,
        policy=free.policy,
        day=start.astimezone(free.data.zone),
        closure_reason=free.closure_reason(start.astimezone(free.data.zone).date()),
        therapist_name=therapist.name if therapist else "",
    )
    if problem in POLICY_PROBLEMS:
        raise ValidationError(message, code=problem.value)
    raise SlotUnavailable(message, code=problem.value)


def _explain_to_staff(
    *,
    therapist: Therapist,
    technique: Technique,
    start: datetime,
    duration_minutes: int,
    allow_outside_hours: bool,
    buffer_minutes: int | None = None,
    exclude_appointment_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Raise, for staff, what stands in the way: the clashing appointment by reference and
    client, the time off, the closure or the working hours. Staff decide what to move."""
    obstacles = selectors.staff_obstacles(
        therapist=therapist,
        technique=technique,
        start=start,
        duration_minutes=duration_minutes,
        buffer_minutes=technique.buffer_minutes if buffer_minutes is None else buffer_minutes,
        allow_outside_hours=allow_outside_hours,
        exclude_appointment_id=exclude_appointment_id,
        now=now,
    )
    if obstacles:
        raise SlotUnavailable(
            explanations.staff_messages(
                obstacles,
                therapist_name=therapist.name,
                technique_name=technique.name,
                start=start,
                duration=timedelta(minutes=duration_minutes),
                zone=selectors.clinic_zone(),
            ),
            code="slot_taken",
        )


# The first key of PostgreSQL's two-key advisory locks, naming what the second locks.
EMAIL_LOCK_CLASS = 0x0B00C


def _lock_client_email(email: str) -> None:
    """Serialise online bookings for one email address until the transaction ends, so
    two confirmations cannot both count two upcoming appointments and both book a third.

    PostgreSQL: a transaction-level advisory lock on a hash of the normalised address (a
    rare collision only makes two addresses wait for each other). SQLite: the immediate
    transaction already lets one writer in at a time."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(email.strip().lower().encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            [EMAIL_LOCK_CLASS, int.from_bytes(digest[:4], "big", signed=True)],
        )


def upcoming_cap_check(*, email: str, now: datetime | None = None) -> None:
    """Raise the cap's ValidationError when ``email`` already holds the most upcoming
    online appointments allowed. The booking service checks again under a lock; the
    details page asks early so nobody fills in everything only to be refused."""
    _check_upcoming_cap(email, now or timezone.now())


def _check_upcoming_cap(email: str, now: datetime) -> None:
    cap = settings.BOOKING_MAX_UPCOMING_PER_EMAIL
    if selectors.upcoming_online_count(email=email, now=now) >= cap:
        raise ValidationError(
            _(
                "This email address already has %(cap)s upcoming appointments, the most we take "
                "online. Please call us on %(phone)s to book more."
            )
            % {"cap": cap, "phone": settings.CLINIC["phone"]},
            code="too_many",
        )


def appointment_book(
    *,
    technique: Technique,
    length: TechniqueLength,
    start: datetime,
    client: ClientDetails,
    therapist: Therapist | None = None,
    source: str = AppointmentSource.ONLINE,
    allow_outside_hours: bool = False,
    now: datetime | None = None,
    notify: bool = True,
    status: str = AppointmentStatus.CONFIRMED,
    idempotency_key: str | None = None,
) -> Appointment:
    """Book a massage; ``therapist=None`` means any available therapist, chosen fairly.

    Online bookings follow the clinic's policy (notice, horizon, slot grid, working hours).
    Staff bookings may ignore notice and horizon, and working hours when
    ``allow_outside_hours`` is set, but never a closure or another appointment.
    Online bookings are capped per email address. The confirmation email (and, for
    online bookings, the staff notice) is queued in the same transaction unless
    ``notify`` is false (imports, demo data).
    A new appointment starts as confirmed: any other ``status`` is refused (what happened
    is recorded afterwards, with :func:`appointment_mark` or :func:`appointment_cancel`).
    An ``idempotency_key`` (one per online confirmation) makes a repeat of the same
    confirmation, one after the other or at the same moment, return the booking the first
    made instead of booking again: the key is unique in the database.
    Raises :class:`SlotUnavailable` or :class:`ValidationError` with a clear message.
    """
    now = now or timezone.now()
    if status != AppointmentStatus.CONFIRMED:
        raise ValidationError(_("New appointments start as confirmed."), code="new_not_confirmed")
    if timezone.is_naive(start):
        raise ValidationError(_("The start time needs a time zone."), code="naive")
    _check_length(technique, length)
    staff = source == AppointmentSource.STAFF
    if not staff and not technique.active:
        raise ValidationError(_("This technique cannot be booked online at the moment."), code="inactive")
    duration = timedelta(minutes=length.duration_minutes)
    with transaction.atomic():
        if not staff:
            # Before anything is read: a repeat waits here for the first to commit.
            _lock_client_email(client.email)
        if idempotency_key:
            existing = Appointment.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        if not staff:
            _check_upcoming_cap(client.email, now)
        # Health intake: the rules are applied again here, whatever the pages did. Online,
        # "please call" and a missing doctor's note refuse; staff on the phone decide.
        health = None
        if client.health is not None:
            health = (
                intake.intake_evaluate(technique=technique, answers=client.health)
                if staff
                else intake.intake_check_online(
                    technique=technique, answers=client.health, doctor_note_token=client.doctor_note_token
                )
            )
        free, found, day = _free_therapists(
            technique=technique,
            length=length,
            start=start,
            therapist=therapist,
            staff=staff,
            allow_outside_hours=allow_outside_hours,
            now=now,
        )
        if not free:
            if staff and therapist is not None:
                _explain_to_staff(
                    therapist=therapist,
                    technique=technique,
                    start=start,
                    duration_minutes=length.duration_minutes,
                    allow_outside_hours=allow_outside_hours,
                    now=now,
                )
            if therapist is not None and not found.data.therapists:
                raise ValidationError(_("This therapist does not offer this technique."), code="not_offered")
            if staff:
                raise _slot_taken()
            _explain_to_client(start=start, free=found, therapist=therapist)
        if therapist is None:
            chosen_id = engine.pick_therapist(
                candidates=[t.pk for t in free],
                bookings_that_day={t.pk: found.data.bookings_per_day[t.pk, day] for t in free},
                order=[t.pk for t in found.data.therapists],
            )
            therapist = next(t for t in free if t.pk == chosen_id)
        start_utc = start.astimezone(UTC)
        # Clients: which record this booking belongs to (see services.clients for the rule
        # on whose details win). After the slot checks, so a refused booking makes no client.
        if staff:
            record = clients.client_for_staff_booking(
                client=client.record, name=client.name, email=client.email, phone=client.phone
            )
        else:
            record = clients.client_for_online_booking(
                name=client.name, email=client.email, phone=client.phone
            )
        appointment = Appointment(
            client=record,
            therapist=therapist,
            technique=technique,
            duration_minutes=length.duration_minutes,
            price=length.price,
            buffer_minutes=technique.buffer_minutes,
            start=start_utc,
            end=start_utc + duration,
            occupied_until=start_utc + duration + timedelta(minutes=technique.buffer_minutes),
            client_name=single_line(client.name),
            client_email=client.email.strip(),
            client_phone=client.phone.strip(),
            client_notes=client.notes.strip(),
            source=source,
            idempotency_key=idempotency_key or None,
        )
        try:
            _save_or_taken(appointment)
        except SlotUnavailable:
            # A repeat that got past the check above (staff source, or another database
            # without the lock): the unique key refused it, so the first one's booking is
            # the answer.
            if not idempotency_key:
                raise
            existing = Appointment.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return existing
        if health is not None:
            # This visit's answers, stored with the booking (never overwriting earlier ones).
            intake.intake_record(
                appointment=appointment,
                answers=client.health,
                evaluation=health,
                source=IntakeSource.STAFF if staff else IntakeSource.ONLINE,
                unchanged_since_id=client.health_unchanged_since,
                doctor_note_token=client.doctor_note_token,
            )
        # Consent (issue 11): which versions of the policy texts this booking agreed to,
        # when and how. Inside the transaction: a refusal here books nothing.
        consent.consents_record(
            client=record,
            appointment=appointment,
            given_name=appointment.client_name,
            policy_agreed=client.policy_agreed,
            agreement=client.agreement,
            online=not staff,
            now=now,
        )
        if notify:
            notifications.notify(notifications.EmailKind.CONFIRMATION, appointment)
            if source == AppointmentSource.ONLINE:
                notifications.notify(notifications.EmailKind.STAFF_NOTICE, appointment)
    return appointment


def waitlist_hook():
    """The waitlist service (issue 14); imported late because it imports this module."""
    from . import waitlist

    return waitlist


def _check_client_cutoff(appointment: Appointment, now: datetime) -> None:
    policy = selectors.policy_load()
    if now > selectors.client_change_deadline(appointment=appointment, policy=policy):
        raise ValidationError(
            _("Online changes close %(hours)s hours before the appointment. Please call the clinic.")
            % {"hours": policy.cancellation_cutoff_hours},
            code="cutoff",
        )


def appointment_cancel(
    *, appointment: Appointment, by_client: bool = False, now: datetime | None = None, notify: bool = True
) -> Appointment:
    """Cancel an appointment, free its time and queue the client's cancellation email.
    Clients must be before the cutoff."""
    now = now or timezone.now()
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status != AppointmentStatus.CONFIRMED:
            raise ValidationError(
                _("This appointment is %(status)s and cannot be cancelled.")
                % {"status": appointment.get_status_display().lower()},
                code="not_confirmed",
            )
        if by_client:
            _check_client_cutoff(appointment, now)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.sequence += 1
        appointment.save(update_fields=["status", "sequence", "updated_at"])
        if by_client:
            ClientChange.objects.create(appointment=appointment, kind=ClientChange.Kind.CANCELLED)
        # Waitlist (issue 14): offer the freed time to the first in line, once this commits.
        waitlist_hook().time_freed_span(
            start=appointment.start, end=appointment.occupied_until, therapist_id=appointment.therapist_id
        )
        if notify:
            notifications.notify(notifications.EmailKind.CANCELLATION, appointment)
            if by_client:
                notifications.notify(notifications.EmailKind.STAFF_CANCELLED, appointment)
    return appointment


def appointment_reschedule(
    *,
    appointment: Appointment,
    new_start: datetime,
    therapist: Therapist | None = None,
    by_client: bool = False,
    allow_outside_hours: bool = False,
    now: datetime | None = None,
    notify: bool = True,
) -> Appointment:
    """Move an appointment and queue the client's email with the new time.

    The old time is released only when the new one is secured: both happen in one update
    of the same row, inside one transaction."""
    now = now or timezone.now()
    if timezone.is_naive(new_start):
        raise ValidationError(_("The start time needs a time zone."), code="naive")
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update()
            .select_related("technique", "therapist")
            .get(pk=appointment.pk)
        )
        if appointment.status != AppointmentStatus.CONFIRMED:
            raise ValidationError(_("Only confirmed appointments can be moved."), code="not_confirmed")
        if by_client:
            _check_client_cutoff(appointment, now)
        target = therapist or appointment.therapist
        if new_start == appointment.start and target == appointment.therapist:
            # Nothing would change; a "Moved" email about it would only confuse the client.
            raise ValidationError(
                _("The appointment is already at that time. Choose a different time."), code="same_time"
            )
        free, found, _day = _free_therapists(
            technique=appointment.technique,
            length=appointment.length_as_booked(),
            start=new_start,
            therapist=target,
            staff=not by_client,
            allow_outside_hours=allow_outside_hours,
            now=now,
            exclude_appointment_id=appointment.pk,
        )
        if not free:
            if by_client:
                _explain_to_client(start=new_start, free=found, therapist=target)
            _explain_to_staff(
                therapist=target,
                technique=appointment.technique,
                start=new_start,
                duration_minutes=appointment.duration_minutes,
                buffer_minutes=appointment.buffer_minutes,
                allow_outside_hours=allow_outside_hours,
                exclude_appointment_id=appointment.pk,
                now=now,
            )
            raise _slot_taken()
        start_utc = new_start.astimezone(UTC)
        duration = timedelta(minutes=appointment.duration_minutes)
        previous_start = appointment.start
        appointment.therapist = target
        appointment.start = start_utc
        appointment.end = start_utc + duration
        appointment.occupied_until = appointment.end + timedelta(minutes=appointment.buffer_minutes)
        appointment.sequence += 1
        # A new time deserves its own reminder.
        appointment.reminder_queued_at = None
        _save_or_taken(appointment)
        # Waitlist (issue 14): the old time is free now; offered once this commits.
        waitlist_hook().time_freed_span(
            start=previous_start, end=previous_start + duration, therapist_id=None
        )
        if by_client:
            ClientChange.objects.create(
                appointment=appointment,
                kind=ClientChange.Kind.MOVED,
                previous_start=previous_start,
                new_start=start_utc,
            )
        if notify:
            notifications.notify(notifications.EmailKind.RESCHEDULE, appointment)
            if by_client:
                notifications.notify(
                    notifications.EmailKind.STAFF_MOVED, appointment, previous_start=previous_start
                )
    return appointment


def appointment_mark(*, appointment: Appointment, status: str, now: datetime | None = None) -> Appointment:
    """Record what happened to an appointment: completed or no-show (or correct one to
    the other). Only once it has started, and never for a cancelled one."""
    if status not in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
        raise ValueError(f"appointment_mark records completed or no-show, not {status!r}")
    now = now or timezone.now()
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status == AppointmentStatus.CANCELLED:
            raise ValidationError(
                _("%(reference)s was cancelled; book again instead.") % {"reference": appointment.reference},
                code="cancelled",
            )
        if appointment.start > now:
            raise ValidationError(
                _("%(reference)s has not started yet.") % {"reference": appointment.reference}, code="future"
            )
        if appointment.status != status:
            appointment.status = status
            appointment.save(update_fields=["status", "updated_at"])
    return appointment


def appointment_update(
    *,
    appointment: Appointment,
    therapist: Therapist,
    technique: Technique,
    start: datetime,
    status: str,
    client: ClientDetails,
    allow_outside_hours: bool = False,
    now: datetime | None = None,
) -> Appointment:
    """Staff change an appointment in one step: move it (to another time or therapist),
    set what happened, and correct the client's details.

    The rules: the technique cannot change (cancel and book again); a move goes through
    :func:`appointment_reschedule` (so the client is emailed the new time); a cancelled
    appointment cannot be revived; cancelling goes through :func:`appointment_cancel` and
    completed or no-show through :func:`appointment_mark`; a completed or no-show one may
    be set back to confirmed (a mark made by mistake). Every step happens in one
    transaction: if a later one is refused, the earlier ones and their emails are undone.
    """
    now = now or timezone.now()
    with transaction.atomic():
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if technique.pk != current.technique_id:
            raise ValidationError(
                _("To change the technique, cancel and book again."), code="technique_fixed"
            )
        if start != current.start or therapist.pk != current.therapist_id:
            appointment_reschedule(
                appointment=current,
                new_start=start,
                therapist=therapist,
                allow_outside_hours=allow_outside_hours,
                now=now,
            )
        if status != current.status:
            if current.status == AppointmentStatus.CANCELLED:
                raise ValidationError(
                    _("A cancelled appointment cannot be revived; book a new one."), code="cancelled_final"
                )
            if status == AppointmentStatus.CANCELLED:
                appointment_cancel(appointment=current, now=now)
            elif status in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
                appointment_mark(appointment=current, status=status, now=now)
            else:
                Appointment.objects.filter(pk=current.pk).update(status=status, updated_at=now)
        current.refresh_from_db()
        details = {
            "client_name": single_line(client.name),
            "client_email": client.email.strip(),
            "client_phone": client.phone.strip(),
            "client_notes": client.notes.strip(),
        }
        changed = [name for name, value in details.items() if getattr(current, name) != value]
        if changed:
            for name in changed:
                setattr(current, name, details[name])
            current.save(update_fields=[*changed, "updated_at"])
    return current


def reminders_queue(*, now: datetime | None = None, hours_before: int | None = None) -> int:
    """Queue a reminder email for each confirmed appointment starting within
    ``hours_before`` hours that has not had one; return how many were queued.

    Exactly once per appointment, however many times or places this runs at once: each
    appointment is claimed by an UPDATE that only matches while its reminder is unclaimed,
    and the email is queued in the same transaction as the claim.
    """
    now = now or timezone.now()
    hours = settings.REMINDER_HOURS_BEFORE if hours_before is None else hours_before
    due = Appointment.objects.filter(
        status=AppointmentStatus.CONFIRMED,
        reminder_queued_at__isnull=True,
        start__gt=now,
        start__lte=now + timedelta(hours=hours),
    )
    queued = 0
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            claimed = due.filter(pk=pk).update(reminder_queued_at=now)
            if claimed:
                appointment = Appointment.objects.select_related("technique", "therapist").get(pk=pk)
                notifications.notify(notifications.EmailKind.REMINDER, appointment)
                queued += 1
    return queued
