"""Writes for appointments. Every path that creates, moves or cancels an appointment (web,
admin, import, shell) comes through here, so the rules live in one place.

The guarantee against double booking has two layers: each service re-checks
availability inside a transaction, and the database has the last word (an exclusion
constraint on PostgreSQL; on SQLite, BEGIN IMMEDIATE makes writers queue, so the check
and the insert of one booking cannot interleave with another's).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.text import single_line

from .. import availability as engine
from .. import explanations, notifications, selectors
from ..availability import SlotProblem
from ..choices import AppointmentSource, AppointmentStatus, IntakeSource
from ..intake import Answer, Rule
from ..models import Appointment, Client, ClientChange, Room, Technique, TechniqueLength, Therapist
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


@dataclass
class _Found:
    """What the availability pipeline says about one start, read under the locks."""

    free: selectors.FreeStarts
    day: date


def _find(
    *,
    technique: Technique,
    length: TechniqueLength,
    start: datetime,
    staff: bool,
    allow_outside_hours: bool,
    now: datetime,
    therapist: Therapist | None = None,
    therapists: tuple[Therapist | None, Therapist | None] | None = None,
    gender: str | None = None,
    room: Room | None = None,
    exclude_appointment_ids: Iterable[int] = (),
) -> _Found:
    """Lock what the booking may take, then ask the one availability pipeline about
    ``start``: for one person (``therapist``; None for any available) or, when
    ``therapists`` is given, for a session for two (each seat named or None)."""
    party_size = 1 if therapists is None else 2
    seats = (therapist,) if therapists is None else therapists
    _check_room(room, technique=technique, party_size=party_size)
    if party_size == 2:
        _lock_resources(
            therapists=_candidate_therapists(technique=technique, seats=seats),
            rooms=(
                Room.objects.filter(pk=room.pk)
                if room is not None
                else selectors.rooms_suitable(technique=technique, party_size=party_size)
            ),
        )
    # For one person the load below locks the therapists it reads (the only ones this
    # booking can take), and then the rooms, in the same order as _lock_resources: the
    # lock and the read in one statement.
    day = start.astimezone(selectors.clinic_zone()).date()
    free = selectors.free_starts(
        technique=technique,
        length=length,
        first_day=day,
        days=1,
        therapist=therapist,
        now=now,
        staff=staff,
        ignore_working_hours=staff and allow_outside_hours,
        exclude_appointment_ids=tuple(exclude_appointment_ids),
        party_size=party_size,
        therapists=therapists,
        gender=gender or None,
        room=room,
        lock=party_size == 1,
    )
    return _Found(free=free, day=day)


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
    """The older shape of :func:`_find` for one person (who is free, the pipeline's
    answer, the local day), with the same locks, rooms included. A caller writing an
    appointment also takes its room: :func:`_pick_room` and :func:`_room_until`."""
    found = _find(
        technique=technique,
        length=length,
        start=start,
        staff=staff,
        allow_outside_hours=allow_outside_hours,
        now=now,
        therapist=therapist,
        exclude_appointment_ids=[exclude_appointment_id] if exclude_appointment_id else [],
    )
    return found.free.therapists_free_at(start), found.free, found.day


def _candidate_therapists(*, technique: Technique, seats: Sequence[Therapist | None]) -> QuerySet[Therapist]:
    """The therapists a booking might take: the named ones, and for a seat left to "any
    available", everyone who offers the technique."""
    named = Q(pk__in=[t.pk for t in seats if t is not None])
    if any(t is None for t in seats):
        offering = Therapist.techniques.through.objects.filter(technique_id=technique.pk)
        named |= Q(pk__in=offering.values("therapist_id"))
    return Therapist.objects.filter(named)


def _lock_resources(*, therapists: QuerySet[Therapist], rooms: QuerySet[Room]) -> None:
    """Row locks on every therapist and room a booking might take, in ONE global order:
    therapists by id, then rooms by id (as pretix's services/locking.py sorts every kind
    of key before locking). Bookings that could take the same resource queue here rather
    than both waiting on the exclusion constraints for each other (which PostgreSQL
    breaks as a deadlock), and two bookings never hold one lock each while waiting for
    the other's, because everybody takes them in the same order. The appointment rows a
    change acts on are locked before these (:func:`_lock_party`), never after. One query
    each, whatever the numbers (none for rooms when there are none).

    On SQLite there are no row locks, so no queries: the immediate transaction already
    lets one writer in at a time (clinic settings)."""
    if not connection.features.has_select_for_update:
        return
    # Whether the clinic uses rooms at all rides along, so a clinic without rooms spends
    # no statement on locking none. (A room put in use meanwhile is in no booking yet;
    # the exclusion constraint on rooms still has the last word.)
    locked = list(
        therapists.select_for_update(of=("self",))
        .annotate(rooms_in_use=Exists(Room.objects.active()))
        .order_by("pk")
        .values_list("pk", "rooms_in_use")
    )
    if any(rooms_in_use for _pk, rooms_in_use in locked[:1]):
        list(rooms.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))


def _check_room(room: Room | None, *, technique: Technique, party_size: int) -> None:
    """A room staff chose must be in use, big enough, and have what the technique needs:
    said plainly, rather than as "taken"."""
    if room is None:
        return
    if not room.active:
        raise ValidationError(
            _("%(room)s is not in use. Choose another room.") % {"room": room.name}, code="room_inactive"
        )
    if party_size == 2 and room.capacity < 2:
        raise ValidationError(
            _("%(room)s has one table; a session for two needs a room for two.") % {"room": room.name},
            code="room_too_small",
        )
    suitable = selectors.rooms_suitable(technique=technique, party_size=party_size).filter(pk=room.pk)
    if not suitable.exists():
        raise ValidationError(
            _("%(room)s does not have what %(technique)s needs.")
            % {"room": room.name, "technique": technique.name},
            code="room_unsuitable",
        )


def _lock_party(appointment: Appointment) -> list[Appointment]:
    """Lock and return every seat of the appointment's session (one, or two for a session
    for two), seat 1 first. Only the appointment rows: the therapists and rooms are locked
    afterwards, in their own order (``of=("self",)`` keeps PostgreSQL from also locking
    the joined therapist row out of that order)."""
    reference = Appointment.objects.values_list("reference", flat=True).get(pk=appointment.pk)
    return list(
        Appointment.objects.select_for_update(of=("self",))
        .select_related("technique", "therapist", "room")
        .filter(reference=reference)
        .order_by("seat", "pk")
    )


def _room_until(end: datetime, room: Room | None) -> datetime | None:
    """How long the room stays taken: the session, then the room's own reset."""
    return None if room is None else end + timedelta(minutes=room.turnover_minutes)


def _pick_room(
    free: selectors.FreeStarts, start: datetime, therapist: Therapist, keep: Room | None = None
) -> Room | None:
    """The room for a booking once its therapist is chosen: the one it has (``keep``)
    when that is still free, else the best fit the pipeline gives. None when the clinic
    does not use rooms. Raises "just taken" when rooms are in use and none is free (the
    pipeline only offers starts with a room, so that is a race lost)."""
    if not free.rooms_in_use:
        return None
    rooms = free.rooms_free_at(start, therapist_id=therapist.pk)
    if keep is not None and any(r.pk == keep.pk for r in rooms):
        return keep
    if not rooms:
        raise _slot_taken()
    return rooms[0]


def _bookings_that_day(found: _Found, therapist_id: int) -> int:
    return found.free.data.bookings_per_day[therapist_id, found.day]


def _pick_pair(found: _Found, start: datetime) -> tuple[Therapist, Therapist] | None:
    """The pair for a session for two: the fairest of those free at ``start`` (the
    pipeline orders them: fewest bookings that day between them, then name order)."""
    pairs = found.free.pairs_free_at(start)
    return pairs[0] if pairs else None


def _pick_pair_room(
    found: _Found, start: datetime, pair: tuple[Therapist, Therapist], keep: Room | None
) -> Room | None:
    if not found.free.rooms_in_use:
        return None
    rooms = [r for r in found.free.rooms_free_at(start, therapist_id=pair[0].pk) if r.capacity >= 2]
    if keep is not None and any(r.pk == keep.pk for r in rooms):
        return keep
    if not rooms:
        raise _slot_taken()
    return rooms[0]


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
    # A room taken is, to the client, the time taken (they do not choose rooms).
    if problem is None or problem in (SlotProblem.TAKEN, SlotProblem.NO_ROOM):
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


# The therapist's own limits: staff may book past them only as they book outside hours.
LIMIT_PROBLEMS = {SlotProblem.DAY_LIMIT, SlotProblem.STRETCH_LIMIT}


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
    found: _Found | None = None,
    room: Room | None = None,
    party_size: int = 1,
    exclude_appointment_ids: Iterable[int] = (),
) -> None:
    """Raise, for staff, what stands in the way: the clashing appointment by reference and
    client, the time off, the closure or the working hours; then the room (which session
    holds it, until when) and the therapist's limits. Staff decide what to move."""
    zone = selectors.clinic_zone()
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
    messages: list[str] = []
    if obstacles:
        messages += explanations.staff_messages(
            obstacles,
            therapist_name=therapist.name,
            technique_name=technique.name,
            start=start,
            duration=timedelta(minutes=duration_minutes),
            zone=zone,
        )
    elif found is not None:
        excluded = {*exclude_appointment_ids, *([exclude_appointment_id] if exclude_appointment_id else [])}
        messages += _room_messages(
            found=found,
            technique=technique,
            start=start,
            duration_minutes=duration_minutes,
            room=room,
            party_size=party_size,
            exclude_appointment_ids=excluded,
        )
    if not messages and found is not None:
        problem = found.free.why_not(start)
        if problem in LIMIT_PROBLEMS:
            messages.append(
                explanations.staff_limit_message(problem, therapist=therapist, day=start.astimezone(zone))
            )
    if messages:
        raise SlotUnavailable(messages, code="slot_taken")


def _room_messages(
    *,
    found: _Found,
    technique: Technique,
    start: datetime,
    duration_minutes: int,
    room: Room | None,
    party_size: int,
    exclude_appointment_ids: Iterable[int] = (),
) -> list[str]:
    """For staff, when the rooms are what stands in the way: which session holds each
    room that would do (``room`` alone when staff chose it), or that no room in use has
    what the technique needs. [] when a room would be free (something else is in the way)."""
    if not found.free.rooms_in_use:
        return []
    rooms = (
        [room]
        if room is not None
        else selectors.rooms_for_technique(technique=technique, party_size=party_size)
    )
    if not rooms:
        return [explanations.staff_no_room_message(technique_name=technique.name, party_size=party_size)]
    clashes = selectors.room_clashes(
        rooms=rooms,
        start=start,
        end=start + timedelta(minutes=duration_minutes),
        exclude_appointment_ids=exclude_appointment_ids,
    )
    if len({r.pk for r, _other in clashes}) < len(rooms):
        return []
    return explanations.staff_room_messages(clashes, zone=selectors.clinic_zone())


def _explain_rooms_to_staff(**kwargs) -> None:
    """Raise the rooms' story for staff (see :func:`_room_messages`) when it is the one."""
    messages = _room_messages(**kwargs)
    if messages:
        raise SlotUnavailable(messages, code="slot_taken")


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


def online_details_check(*, email: str, technique: Technique, now: datetime | None = None) -> list[Rule]:
    """The details page's early checks, in one query (see selectors.online_booking_checks):
    the cap's ValidationError when ``email`` already holds the most upcoming online
    appointments allowed (asked early so nobody fills in everything only to be refused;
    the same words as at Confirm), otherwise the health rules in use for ``technique``,
    for the page to weigh the answers with (``intake_evaluate``'s ``rules``). The booking
    service checks both again at "Confirm booking", under the address's lock."""
    checks = selectors.online_booking_checks(
        email=email,
        now=now or timezone.now(),
        idempotency_key=None,
        technique=technique,
        rules=True,
        client_known=False,
    )
    cap = settings.BOOKING_MAX_UPCOMING_PER_EMAIL
    if checks.upcoming >= cap:
        raise _too_many(cap)
    return checks.rules


def _too_many(cap: int) -> ValidationError:
    return ValidationError(
        _(
            "This email address already has %(cap)s upcoming appointments, the most we take "
            "online. Please call us on %(phone)s to book more."
        )
        % {"cap": cap, "phone": settings.CLINIC["phone"]},
        code="too_many",
    )


def _health_checked_by_staff(*, technique: Technique, client: ClientDetails):
    """The health intake's rules applied to a staff booking's answers: staff on the phone
    decide, nothing refuses (online, see :func:`_first_reads`)."""
    if client.health is None:
        return None
    return intake.intake_evaluate(technique=technique, answers=client.health)


def _client_record(
    *, client: ClientDetails, staff: bool, guest: bool = False, known: bool | None = None
) -> Client:
    """Which record a booking belongs to (see services.clients for whose details win).
    A guest of a session for two booked online may give no email: they get a record of
    their own all the same (found by email when they gave one). ``known`` is whether a
    record has the address, when already read under the address's lock."""
    if staff or (guest and not client.email.strip()):
        return clients.client_for_staff_booking(
            client=client.record, name=client.name, email=client.email, phone=client.phone
        )
    # Without a savepoint: the address's lock is held (see _booked_or_conflict).
    return clients.client_for_online_booking(
        name=client.name, email=client.email, phone=client.phone, savepoint=False, known=known
    )


def _new_appointment(
    *,
    record: Client,
    client: ClientDetails,
    therapist: Therapist,
    technique: Technique,
    length: TechniqueLength,
    start: datetime,
    room: Room | None,
    source: str,
    idempotency_key: str | None = None,
) -> Appointment:
    start_utc = start.astimezone(UTC)
    end = start_utc + timedelta(minutes=length.duration_minutes)
    return Appointment(
        client=record,
        therapist=therapist,
        technique=technique,
        duration_minutes=length.duration_minutes,
        price=length.price,
        buffer_minutes=technique.buffer_minutes,
        start=start_utc,
        end=end,
        occupied_until=end + timedelta(minutes=technique.buffer_minutes),
        room=room,
        room_until=_room_until(end, room),
        client_name=single_line(client.name),
        client_email=client.email.strip(),
        client_phone=client.phone.strip(),
        client_notes=client.notes.strip(),
        source=source,
        idempotency_key=idempotency_key or None,
    )


def _record_intake_and_consent(
    *, appointment: Appointment, client: ClientDetails, health, staff: bool, now: datetime
) -> None:
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
        client=appointment.client,
        appointment=appointment,
        given_name=appointment.client_name,
        policy_agreed=client.policy_agreed,
        agreement=client.agreement,
        online=not staff,
        now=now,
    )


def _check_new_booking(
    *, technique: Technique, length: TechniqueLength, start: datetime, staff: bool, status: str
) -> None:
    if status != AppointmentStatus.CONFIRMED:
        raise ValidationError(_("New appointments start as confirmed."), code="new_not_confirmed")
    if timezone.is_naive(start):
        raise ValidationError(_("The start time needs a time zone."), code="naive")
    _check_length(technique, length)
    if not staff and not technique.active:
        raise ValidationError(_("This technique cannot be booked online at the moment."), code="inactive")


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
    room: Room | None = None,
    gender: str | None = None,
) -> Appointment:
    """Book a massage; ``therapist=None`` means any available therapist, chosen fairly
    (only among therapists of ``gender`` when the client asked for one).

    Online bookings follow the clinic's policy (notice, horizon, slot grid, working hours,
    each therapist's daily and back-to-back limits). Staff bookings may ignore notice and
    horizon, and working hours and the therapist's limits when ``allow_outside_hours`` is
    set, but never a closure, another appointment or a taken room.
    When the clinic has rooms, the booking gets one free for the session and the room's
    turnover: ``room`` (staff's choice), else the best fit once the therapist is chosen.
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
    staff = source == AppointmentSource.STAFF
    _check_new_booking(technique=technique, length=length, start=start, staff=staff, status=status)
    return _booked_or_conflict(
        lambda: _book_one(
            technique=technique,
            length=length,
            start=start,
            client=client,
            therapist=therapist,
            source=source,
            allow_outside_hours=allow_outside_hours,
            now=now,
            notify=notify,
            idempotency_key=idempotency_key,
            room=room,
            gender=gender,
        ),
        idempotency_key=idempotency_key,
    )


def _repeat_or_refused(*, upcoming: int, existing_id: int | None, cap: int) -> Appointment | None:
    if existing_id is not None:
        return Appointment.objects.get(pk=existing_id)
    if upcoming >= cap:
        raise _too_many(cap)
    return None


@dataclass
class _FirstReads:
    """What one online booking's transaction reads first, under the address's lock."""

    existing: Appointment | None  # a repeat's answer: the first confirmation's booking
    health: list  # each guest's health evaluation, in seat order (None: no answers asked)
    client_known: bool | None  # whether a client record has the booker's address (None: not asked)


def _first_reads(
    *,
    technique: Technique,
    clients: Sequence[ClientDetails],
    idempotency_key: str | None,
    staff: bool,
    now: datetime,
) -> _FirstReads:
    """The repeat check, the cap, the health rules and whether the booker's (the first
    guest's) address has a client record: one query online (see
    selectors.online_booking_checks); staff bookings ask as before (no cap, their own
    health decisions)."""
    if staff:
        existing = _by_key(idempotency_key)  # no cap for staff
        if existing is not None:
            return _FirstReads(existing, [], None)
        health = [_health_checked_by_staff(technique=technique, client=client) for client in clients]
        return _FirstReads(None, health, None)
    checks = selectors.online_booking_checks(
        email=clients[0].email,
        now=now,
        idempotency_key=idempotency_key,
        technique=technique,
        rules=any(client.health is not None for client in clients),
    )
    existing = _repeat_or_refused(
        upcoming=checks.upcoming, existing_id=checks.existing_id, cap=settings.BOOKING_MAX_UPCOMING_PER_EMAIL
    )
    if existing is not None:
        return _FirstReads(existing, [], None)
    health = [
        None
        if client.health is None
        else intake.intake_check_online(
            technique=technique,
            answers=client.health,
            doctor_note_token=client.doctor_note_token,
            rules=checks.rules,
        )
        for client in clients
    ]
    return _FirstReads(None, health, checks.client_known)


def _book_one(
    *,
    technique: Technique,
    length: TechniqueLength,
    start: datetime,
    client: ClientDetails,
    therapist: Therapist | None,
    source: str,
    allow_outside_hours: bool,
    now: datetime,
    notify: bool,
    idempotency_key: str | None,
    room: Room | None,
    gender: str | None,
) -> Appointment:
    """:func:`appointment_book`'s transaction (see there)."""
    staff = source == AppointmentSource.STAFF
    with transaction.atomic():
        if not staff:
            # Before anything is read: a repeat waits here for the first to commit.
            _lock_client_email(client.email)
        first = _first_reads(
            technique=technique, clients=[client], idempotency_key=idempotency_key, staff=staff, now=now
        )
        if first.existing is not None:
            return first.existing
        (health,) = first.health
        found = _find(
            technique=technique,
            length=length,
            start=start,
            staff=staff,
            allow_outside_hours=allow_outside_hours,
            now=now,
            therapist=therapist,
            gender=gender,
            room=room,
        )
        free = found.free.therapists_free_at(start)
        if not free:
            if staff and therapist is not None:
                _explain_to_staff(
                    therapist=therapist,
                    technique=technique,
                    start=start,
                    duration_minutes=length.duration_minutes,
                    allow_outside_hours=allow_outside_hours,
                    now=now,
                    found=found,
                    room=room,
                )
            if therapist is not None and not found.free.data.therapists:
                raise ValidationError(_("This therapist does not offer this technique."), code="not_offered")
            if staff:
                _explain_rooms_to_staff(
                    found=found,
                    technique=technique,
                    start=start,
                    duration_minutes=length.duration_minutes,
                    room=room,
                    party_size=1,
                )
                raise _slot_taken()
            _explain_to_client(start=start, free=found.free, therapist=therapist)
        if therapist is None:
            chosen_id = engine.pick_therapist(
                candidates=[t.pk for t in free],
                bookings_that_day={t.pk: _bookings_that_day(found, t.pk) for t in free},
                order=[t.pk for t in found.free.data.therapists],
            )
            therapist = next(t for t in free if t.pk == chosen_id)
        chosen_room = room if room is not None else _pick_room(found.free, start, therapist)
        # After the slot checks, so a refused booking makes no client.
        record = _client_record(client=client, staff=staff, known=first.client_known)
        appointment = _new_appointment(
            record=record,
            client=client,
            therapist=therapist,
            technique=technique,
            length=length,
            start=start,
            room=chosen_room,
            source=source,
            idempotency_key=idempotency_key,
        )
        # No savepoint: a refusal (an overlap, or a repeat that got past the check above:
        # staff source, or another database without the lock) ends the transaction, and
        # _booked_or_conflict then answers with the first one's booking or "just taken".
        _save_all_or_taken([appointment], savepoint=False)
        _record_intake_and_consent(
            appointment=appointment, client=client, health=health, staff=staff, now=now
        )
        if notify:
            _notify_booked(appointment, online=source == AppointmentSource.ONLINE)
    return appointment


def _notify_booked(appointment: Appointment, *, online: bool) -> None:
    """The client's confirmation and, for an online booking, the staff notice: queued
    together (one insert) in the booking's transaction."""
    kinds = [notifications.EmailKind.CONFIRMATION]
    if online:
        kinds.append(notifications.EmailKind.STAFF_NOTICE)
    notifications.notify_many(kinds, appointment)


def waitlist_hook():
    """The waitlist service (issue 14); imported late because it imports this module."""
    from . import waitlist

    return waitlist


def _by_key(idempotency_key: str | None) -> Appointment | None:
    if not idempotency_key:
        return None
    # Outside the failed savepoint; the first booking committed before its key refused ours.
    return Appointment.objects.filter(idempotency_key=idempotency_key).first()


def appointment_book_pair(
    *,
    technique: Technique,
    length: TechniqueLength,
    start: datetime,
    clients: tuple[ClientDetails, ClientDetails],
    therapists: tuple[Therapist | None, Therapist | None] = (None, None),
    gender: str | None = None,
    source: str = AppointmentSource.ONLINE,
    room: Room | None = None,
    allow_outside_hours: bool = False,
    now: datetime | None = None,
    notify: bool = True,
    idempotency_key: str | None = None,
) -> tuple[Appointment, Appointment]:
    """Book a session for two: two therapists (each named, or None for any available of
    ``gender``) at the same start and length, in one room for two when the clinic has
    rooms. All or nothing: both appointments are saved in one transaction, share one
    reference and manage link (seat 1 the booker, ``clients[0]``; seat 2 their guest),
    and each has its own client record, health intake and consents.

    The same rules as :func:`appointment_book` (policy online, the cap on the booker's
    email, the health rules for each guest). One ``idempotency_key`` for the pair: a
    repeat returns the pair the first made. Emails: one confirmation, to the booker, who
    holds the manage link for both (the guest's details are on it); one staff notice.
    Returns ``(seat 1, seat 2)``.
    """
    now = now or timezone.now()
    staff = source == AppointmentSource.STAFF
    _check_new_booking(
        technique=technique, length=length, start=start, staff=staff, status=AppointmentStatus.CONFIRMED
    )
    if not technique.for_two:
        raise ValidationError(_("This technique is not offered as a session for two."), code="not_for_two")
    first, second = therapists
    if first is not None and second is not None and first.pk == second.pk:
        raise ValidationError(_("A session for two needs two different therapists."), code="same_therapist")
    booker, guest = clients
    if guest.email.strip() and guest.email.strip().lower() == booker.email.strip().lower():
        raise ValidationError(
            _("Please give the second guest's own email address, or leave it empty."), code="guest_same_email"
        )
    booked = _booked_or_conflict(
        lambda: _book_pair(
            technique=technique,
            length=length,
            start=start,
            clients=clients,
            therapists=therapists,
            gender=gender,
            source=source,
            room=room,
            allow_outside_hours=allow_outside_hours,
            now=now,
            notify=notify,
            idempotency_key=idempotency_key,
        ),
        idempotency_key=idempotency_key,
    )
    # A repeat's answer is the first booking's seat 1.
    return booked if isinstance(booked, tuple) else _as_pair(booked)


def _book_pair(
    *,
    technique: Technique,
    length: TechniqueLength,
    start: datetime,
    clients: tuple[ClientDetails, ClientDetails],
    therapists: tuple[Therapist | None, Therapist | None],
    gender: str | None,
    source: str,
    room: Room | None,
    allow_outside_hours: bool,
    now: datetime,
    notify: bool,
    idempotency_key: str | None,
) -> tuple[Appointment, Appointment] | Appointment:
    """:func:`appointment_book_pair`'s transaction (see there); a repeat returns the
    first booking's seat 1."""
    staff = source == AppointmentSource.STAFF
    first, second = therapists
    booker = clients[0]
    with transaction.atomic():
        if not staff:
            _lock_client_email(booker.email)
        reads = _first_reads(
            technique=technique, clients=clients, idempotency_key=idempotency_key, staff=staff, now=now
        )
        if reads.existing is not None:
            return reads.existing
        health = reads.health
        found = _find(
            technique=technique,
            length=length,
            start=start,
            staff=staff,
            allow_outside_hours=allow_outside_hours,
            now=now,
            therapists=(first, second),
            gender=gender,
            room=room,
        )
        pair = _pick_pair(found, start)
        if pair is None:
            if staff:
                for named in (first, second):
                    if named is not None:
                        _explain_to_staff(
                            therapist=named,
                            technique=technique,
                            start=start,
                            duration_minutes=length.duration_minutes,
                            allow_outside_hours=allow_outside_hours,
                            now=now,
                            found=found,
                            room=room,
                            party_size=2,
                        )
                _explain_rooms_to_staff(
                    found=found,
                    technique=technique,
                    start=start,
                    duration_minutes=length.duration_minutes,
                    room=room,
                    party_size=2,
                )
                raise _slot_taken()
            _explain_to_client(start=start, free=found.free, therapist=first or second)
        chosen_room = room if room is not None else _pick_pair_room(found, start, pair, keep=None)
        seats = []
        for seat, (therapist, details) in enumerate(zip(pair, clients, strict=True), start=1):
            appointment = _new_appointment(
                record=_client_record(
                    client=details,
                    staff=staff,
                    guest=seat == 2,
                    # Read under the booker's lock; the guest's address is not locked.
                    known=reads.client_known if seat == 1 else None,
                ),
                client=details,
                therapist=therapist,
                technique=technique,
                length=length,
                start=start,
                room=chosen_room,
                source=source,
                # One key for the pair, on the booker's seat.
                idempotency_key=idempotency_key if seat == 1 else None,
            )
            appointment.seat = seat
            if seats:
                appointment.reference = seats[0].reference
                appointment.manage_secret = seats[0].manage_secret
            seats.append(appointment)
        _save_all_or_taken(seats, savepoint=False)
        for appointment, details, evaluation in zip(seats, clients, health, strict=True):
            _record_intake_and_consent(
                appointment=appointment, client=details, health=evaluation, staff=staff, now=now
            )
        if notify:
            _notify_booked(seats[0], online=source == AppointmentSource.ONLINE)
    return seats[0], seats[1]


def _as_pair(appointment: Appointment) -> tuple[Appointment, Appointment]:
    party = selectors.appointment_party(appointment)
    if len(party) != 2:
        # The key was used for a booking for one: not this confirmation's.
        raise ValidationError(_("This confirmation was already used."), code="key_used")
    return party[0], party[1]


def appointment_party(appointment: Appointment) -> list[Appointment]:
    """Every seat of the appointment's session, seat 1 first: both guests of a session for
    two, or just the appointment itself."""
    return selectors.appointment_party(appointment)


def _save_all_or_taken(appointments: Sequence[Appointment], *, savepoint: bool = True) -> None:
    """Save together in one savepoint; the database refusing an overlap (or a key already
    used) means someone else won, and none of them is saved.

    ``savepoint=False`` saves without one (two statements fewer) and raises
    :class:`_Conflict`: the caller's whole transaction is spoilt and must end first (see
    :func:`_booked_or_conflict`)."""
    try:
        with transaction.atomic() if savepoint else contextlib.nullcontext():
            for appointment in appointments:
                appointment.save()
    except DatabaseError as exc:
        if not _is_conflict(exc):
            raise
        raise (_slot_taken() if savepoint else _Conflict()) from exc


class _Conflict(Exception):
    """The database refused a new booking's insert (an overlap, or its key already used)
    inside a transaction without a savepoint: roll back, then see who won."""


def _booked_or_conflict(book, *, idempotency_key: str | None):
    """Run ``book()`` (one online booking's transaction), retrying once when a staff
    booking made the same new client at the same moment. When the database refused the
    insert, the transaction is rolled back first; then a booking with the same key is a
    repeat that got past the check (the first one's booking is the answer), anything
    else a time just taken."""
    for attempt in range(2):
        try:
            return book()
        except clients.ClientRaced:
            if attempt:
                raise ValidationError(
                    _("Something changed while booking. Please try again."), code="busy"
                ) from None
        except _Conflict as conflict:
            existing = _by_key(idempotency_key)
            if existing is None:
                raise _slot_taken() from conflict
            return existing


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
    """Cancel an appointment (both seats of a session for two), free its time and room and
    queue the client's cancellation email (to the booker, for two). Clients must be
    before the cutoff. Returns the appointment given, as it is now."""
    now = now or timezone.now()
    with transaction.atomic():
        party = _lock_party(appointment)
        lead = party[0]
        if any(seat.status != AppointmentStatus.CONFIRMED for seat in party):
            current = next(seat for seat in party if seat.status != AppointmentStatus.CONFIRMED)
            raise ValidationError(
                _("This appointment is %(status)s and cannot be cancelled.")
                % {"status": current.get_status_display().lower()},
                code="not_confirmed",
            )
        if by_client:
            _check_client_cutoff(lead, now)
        for seat in party:
            seat.status = AppointmentStatus.CANCELLED
            seat.cancelled_at = now
            seat.sequence += 1
            seat.save(update_fields=["status", "cancelled_at", "sequence", "updated_at"])
        if by_client:
            ClientChange.objects.create(appointment=lead, kind=ClientChange.Kind.CANCELLED)
        # Waitlist (issue 14): offer the freed time to the first in line, once this commits.
        waitlist_hook().time_freed_span(start=lead.start, end=lead.occupied_until)
        if notify:
            notifications.notify(notifications.EmailKind.CANCELLATION, lead)
            if by_client:
                notifications.notify(notifications.EmailKind.STAFF_CANCELLED, lead)
    return _same_seat(party, appointment)


def _same_seat(party: Sequence[Appointment], appointment: Appointment) -> Appointment:
    return next(seat for seat in party if seat.pk == appointment.pk)


def appointment_reschedule(
    *,
    appointment: Appointment,
    new_start: datetime,
    therapist: Therapist | None = None,
    by_client: bool = False,
    allow_outside_hours: bool = False,
    now: datetime | None = None,
    notify: bool = True,
    room: Room | None = None,
    any_therapist: bool = False,
    length: TechniqueLength | None = None,
) -> Appointment:
    """Move an appointment (both seats of a session for two, together) and queue the
    client's email with the new time.

    ``therapist`` changes the therapist of the seat given (the other seat keeps theirs).
    ``any_therapist`` (issue 14, one person only): whoever is free then, the current
    therapist first, else chosen fairly as a new booking is. ``length`` (one person
    only): another length of the same technique, at its price now; otherwise the length
    and price as booked.
    The room: ``room`` when staff choose one; else the one it has when still free over
    the new time and its turnover, else the best fit. The old time is released only when
    the new one is secured: both happen in one update of the same rows, inside one
    transaction. Returns the appointment given, as it is now."""
    now = now or timezone.now()
    if timezone.is_naive(new_start):
        raise ValidationError(_("The start time needs a time zone."), code="naive")
    with transaction.atomic():
        party = _lock_party(appointment)
        lead = party[0]
        moved = _same_seat(party, appointment)
        if any(seat.status != AppointmentStatus.CONFIRMED for seat in party):
            raise ValidationError(_("Only confirmed appointments can be moved."), code="not_confirmed")
        if by_client:
            _check_client_cutoff(lead, now)
        pair = len(party) == 2
        if length is not None:
            _check_length(lead.technique, length)
        new_length = length or lead.length_as_booked()
        same_length = new_length.duration_minutes == lead.duration_minutes
        if pair and (any_therapist or not same_length):
            raise ValidationError(
                _("A session for two keeps its therapists and length online; please call to change them."),
                code="pair_fixed",
            )
        targets: list[Therapist | None] = [
            therapist if seat.pk == moved.pk and therapist else seat.therapist for seat in party
        ]
        if any_therapist:
            targets = [None]
        if (
            new_start == moved.start
            and same_length
            and all(t is None or t.pk == seat.therapist_id for t, seat in zip(targets, party, strict=True))
            and (room is None or room.pk == moved.room_id)
        ):
            # Nothing would change; a "Moved" email about it would only confuse the client.
            raise ValidationError(
                _("The appointment is already at that time. Choose a different time."), code="same_time"
            )
        if pair and len({t.pk for t in targets}) != len(targets):
            raise ValidationError(
                _("A session for two needs two different therapists."), code="same_therapist"
            )
        found = _find(
            technique=lead.technique,
            length=new_length,
            start=new_start,
            staff=not by_client,
            allow_outside_hours=allow_outside_hours,
            now=now,
            therapist=None if pair else targets[0],
            therapists=(targets[0], targets[1]) if pair else None,
            room=room,
            exclude_appointment_ids=[seat.pk for seat in party],
        )
        if pair:
            wanted = {t.pk for t in targets}
            fits = any({a.pk, b.pk} == wanted for a, b in found.free.pairs_free_at(new_start))
        else:
            free = found.free.therapists_free_at(new_start)
            fits = any(targets[0] is None or t.pk == targets[0].pk for t in free)
        if not fits:
            if by_client:
                _explain_to_client(start=new_start, free=found.free, therapist=None if pair else targets[0])
            if targets[0] is None:
                raise _slot_taken()
            for seat, target in zip(party, targets, strict=True):
                _explain_to_staff(
                    therapist=target,
                    technique=lead.technique,
                    start=new_start,
                    duration_minutes=new_length.duration_minutes,
                    buffer_minutes=lead.buffer_minutes,
                    allow_outside_hours=allow_outside_hours,
                    exclude_appointment_id=seat.pk,
                    now=now,
                    found=found,
                    room=room,
                    party_size=len(party),
                    exclude_appointment_ids=[s.pk for s in party],
                )
            raise _slot_taken()
        if targets[0] is None:
            # "Any available": stay with the same therapist when they are free then.
            chosen = next((t for t in free if t.pk == moved.therapist_id), None)
            if chosen is None:
                chosen_id = engine.pick_therapist(
                    candidates=[t.pk for t in free],
                    bookings_that_day={t.pk: _bookings_that_day(found, t.pk) for t in free},
                    order=[t.pk for t in found.free.data.therapists],
                )
                chosen = next(t for t in free if t.pk == chosen_id)
            targets = [chosen]
        if room is not None:
            new_room = room
        elif pair:
            new_room = _pick_pair_room(found, new_start, (targets[0], targets[1]), keep=lead.room)
        else:
            new_room = _pick_room(found.free, new_start, targets[0], keep=lead.room)
        start_utc = new_start.astimezone(UTC)
        end = start_utc + timedelta(minutes=new_length.duration_minutes)
        previous_start = lead.start
        for seat, target in zip(party, targets, strict=True):
            if length is not None:
                seat.duration_minutes = new_length.duration_minutes
                seat.price = new_length.price
            seat.therapist = target
            seat.start = start_utc
            seat.end = end
            seat.occupied_until = end + timedelta(minutes=seat.buffer_minutes)
            seat.room = new_room
            seat.room_until = _room_until(end, new_room)
            seat.sequence += 1
            # A new time deserves its own reminder.
            seat.reminder_queued_at = None
        _save_all_or_taken(party)
        # Waitlist (issue 14): the old time is free now; offered once this commits.
        waitlist_hook().time_freed_span(start=previous_start, end=previous_start + (end - start_utc))
        if by_client:
            ClientChange.objects.create(
                appointment=lead,
                kind=ClientChange.Kind.MOVED,
                previous_start=previous_start,
                new_start=start_utc,
            )
        if notify:
            notifications.notify(notifications.EmailKind.RESCHEDULE, lead)
            if by_client:
                notifications.notify(notifications.EmailKind.STAFF_MOVED, lead, previous_start=previous_start)
    return moved


def appointment_mark(*, appointment: Appointment, status: str, now: datetime | None = None) -> Appointment:
    """Record what happened to an appointment (both seats of a session for two): completed
    or no-show (or correct one to the other). Only once it has started, and never for a
    cancelled one."""
    if status not in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
        raise ValueError(f"appointment_mark records completed or no-show, not {status!r}")
    now = now or timezone.now()
    with transaction.atomic():
        party = _lock_party(appointment)
        lead = party[0]
        if any(seat.status == AppointmentStatus.CANCELLED for seat in party):
            raise ValidationError(
                _("%(reference)s was cancelled; book again instead.") % {"reference": lead.reference},
                code="cancelled",
            )
        if lead.start > now:
            raise ValidationError(
                _("%(reference)s has not started yet.") % {"reference": lead.reference}, code="future"
            )
        for seat in party:
            if seat.status != status:
                seat.status = status
                seat.save(update_fields=["status", "updated_at"])
    return _same_seat(party, appointment)


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
    room: Room | None = None,
) -> Appointment:
    """Staff change an appointment in one step: move it (to another time, therapist or
    room), set what happened, and correct the client's details.

    The rules: the technique cannot change (cancel and book again); a move goes through
    :func:`appointment_reschedule` (so the client is emailed the new time; both seats of
    a session for two move); ``room`` None, or the room it already has, means "keep it
    if still free, else the best fit" (a form showing the current room does not pin it);
    a cancelled appointment cannot be revived; cancelling goes through
    :func:`appointment_cancel` and completed or no-show through :func:`appointment_mark`
    (both act on every seat); a completed or no-show one may be set back to confirmed (a
    mark made by mistake). The client's details are this seat's only. Every step happens
    in one transaction: if a later one is refused, the earlier ones and their emails are
    undone.
    """
    now = now or timezone.now()
    with transaction.atomic():
        party = _lock_party(appointment)
        current = _same_seat(party, appointment)
        if technique.pk != current.technique_id:
            raise ValidationError(
                _("To change the technique, cancel and book again."), code="technique_fixed"
            )
        new_room = room if room is not None and room.pk != current.room_id else None
        if start != current.start or therapist.pk != current.therapist_id or new_room is not None:
            appointment_reschedule(
                appointment=current,
                new_start=start,
                therapist=therapist,
                allow_outside_hours=allow_outside_hours,
                now=now,
                room=new_room,
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
                Appointment.objects.filter(reference=current.reference).update(status=status, updated_at=now)
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
    ``hours_before`` hours that has not had one; return how many were queued. A session
    for two gets one, to the booker (seat 1), who holds the manage link for both.

    Exactly once per appointment, however many times or places this runs at once: each
    appointment is claimed by an UPDATE that only matches while its reminder is unclaimed,
    and the email is queued in the same transaction as the claim.
    """
    now = now or timezone.now()
    hours = settings.REMINDER_HOURS_BEFORE if hours_before is None else hours_before
    due = Appointment.objects.filter(
        status=AppointmentStatus.CONFIRMED,
        seat=1,
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
