"""Writes for the waitlist (issue 14): joining, offering a freed time, and the answers.

How a freed time reaches the first in line, exactly once:

1. Whatever frees time (a cancellation, a move, new working hours, removed time off, a
   lifted closure) calls :func:`time_freed` inside its own transaction. With the database
   task backend that queues :func:`booking.tasks.waitlist_match` in the same transaction
   (durable: it exists if and only if the change committed); in development it runs once
   the change commits.
2. The task (:func:`offers_make`) goes through the waiting entries for those days in
   joining order. For each, :func:`offer_create` claims the entry (a conditional update
   WAITING -> OFFERED, so two tasks never offer it two times), then holds the time: an
   Appointment with status HELD, made through the booking's own check and lock path
   (therapist rows locked in id order, then the database's exclusion constraint on
   PostgreSQL; BEGIN IMMEDIATE on SQLite). The offer row and its email task are written
   in that one transaction. A worker killed after it is simply run again: the entry is
   already OFFERED and the time already held, so nothing is offered twice; the email task
   has its own once-only record (``SentEmail``).
3. The client's "Book it" turns that same row CONFIRMED (nobody can take it in between);
   "No thanks", or no answer by ``expires_at`` (:func:`holds_release_lapsed`, run from
   cron), turns it CANCELLED and frees the time again, which offers it to the next in line.

A hold keeps ``held_until`` set for good unless it is accepted: that is what tells a hold
from a booking (``Appointment.objects.bookings()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.text import single_line

from .. import availability as engine
from .. import notifications, selectors
from ..choices import (
    AppointmentSource,
    AppointmentStatus,
    OfferOutcome,
    WaitlistStatus,
)
from ..intake import Answer
from ..models import (
    Appointment,
    Client,
    Technique,
    TechniqueLength,
    Therapist,
    WaitlistEntry,
    WaitlistOffer,
)
from . import appointments, clients, consent, intake

# Open entries one client may have at once: enough for real use, a limit for a script.
MAX_OPEN_ENTRIES_PER_CLIENT = 5
# Start times tried per entry and task before moving on to the next in line (each try that
# finds the time just taken costs a transaction).
TRIES_PER_ENTRY = 3


def hold_length() -> timedelta:
    return timedelta(minutes=settings.WAITLIST_HOLD_MINUTES)


def _today(now: datetime) -> date:
    return now.astimezone(selectors.clinic_zone()).date()


def part_of_day(start: datetime) -> str:
    """``morning``, ``afternoon`` or ``evening`` by the clinic's wall clock (as the times page)."""
    wall = start.astimezone(selectors.clinic_zone()).time()
    return next(name for name, begins in reversed(engine.PARTS_OF_DAY) if wall >= begins)


# ----------------------------------------------------------------------------- joining


@dataclass(frozen=True)
class Wish:
    """What a client is waiting for."""

    technique: Technique
    length: TechniqueLength
    therapist: Therapist | None
    first_day: date
    last_day: date
    parts: frozenset[str]


def wish_validate(wish: Wish, *, now: datetime | None = None) -> None:
    """The rules for a wish, whoever makes it: a length of that technique, a therapist who
    offers it, days from today to the booking horizon, at least one part of the day."""
    now = now or timezone.now()
    today = _today(now)
    horizon = today + timedelta(days=selectors.policy_load().horizon_days)
    if wish.length.technique_id != wish.technique.pk:
        raise ValidationError(_("That length is not offered for this technique."), code="bad_length")
    if wish.therapist is not None and not wish.therapist.techniques.filter(pk=wish.technique.pk).exists():
        raise ValidationError(_("This therapist does not offer this technique."), code="not_offered")
    if wish.first_day > wish.last_day:
        raise ValidationError(_("The last day cannot be before the first."), code="order")
    if wish.last_day < today:
        raise ValidationError(_("Those days have already passed."), code="past")
    if wish.first_day > horizon:
        raise ValidationError(
            _("We take bookings up to %(days)s days ahead; please choose earlier days.")
            % {"days": selectors.policy_load().horizon_days},
            code="horizon",
        )
    if not wish.parts or not wish.parts <= {"morning", "afternoon", "evening"}:
        raise ValidationError(_("Choose at least one part of the day."), code="no_part")


def entry_join(
    *,
    wish: Wish,
    client: Client | None = None,
    name: str = "",
    email: str = "",
    phone: str = "",
    source: str = AppointmentSource.ONLINE,
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put a client on the waitlist: the signed-in ``client``, or the one an online booking
    with these details would belong to (found by email or made, services.clients).

    Joining again for the same technique, length and therapist changes the open entry
    (days and parts of the day) and keeps its place in line; a double submission is
    therefore harmless. Then any time already free that suits is offered at once."""
    now = now or timezone.now()
    wish_validate(wish, now=now)
    today = _today(now)
    first_day = max(wish.first_day, today)
    last_day = min(wish.last_day, today + timedelta(days=selectors.policy_load().horizon_days))
    with transaction.atomic():
        if client is None:
            if not (name.strip() and email.strip()):
                raise ValidationError(_("Please give your name and email address."), code="details")
            client = clients.client_for_online_booking(name=name, email=email, phone=phone)
        if not client.email:
            raise ValidationError(
                _("The client needs an email address for the waitlist: offers are sent by email."),
                code="no_email",
            )
        # Serialise joins per client (the client row), so two submissions cannot both add.
        Client.objects.select_for_update().filter(pk=client.pk).exists()
        open_entries = WaitlistEntry.objects.filter(
            client=client, status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED]
        )
        entry = open_entries.filter(
            technique=wish.technique, length=wish.length, therapist=wish.therapist
        ).first()
        if entry is None:
            if open_entries.count() >= MAX_OPEN_ENTRIES_PER_CLIENT:
                raise ValidationError(
                    _("You are already waiting for %(n)s times, the most we keep at once.")
                    % {"n": MAX_OPEN_ENTRIES_PER_CLIENT},
                    code="too_many",
                )
            entry = WaitlistEntry(client=client, technique=wish.technique, length=wish.length)
            entry.therapist = wish.therapist
            entry.source = source
        entry.first_day, entry.last_day = first_day, last_day
        entry.morning, entry.afternoon, entry.evening = (
            part in wish.parts for part in ("morning", "afternoon", "evening")
        )
        entry.save()
        time_freed(first_day=first_day, last_day=last_day)
    return entry


def entry_leave(*, entry: WaitlistEntry, now: datetime | None = None) -> WaitlistEntry:
    """Take an entry off the waitlist; a time held for it is released to the next in line."""
    now = now or timezone.now()
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        pending = WaitlistOffer.objects.filter(entry=entry, outcome=OfferOutcome.PENDING).first()
        if pending is not None:
            _release(pending, outcome=OfferOutcome.DECLINED, entry_status=WaitlistStatus.LEFT, now=now)
        elif entry.status in (WaitlistStatus.WAITING, WaitlistStatus.OFFERED):
            entry.status = WaitlistStatus.LEFT
            entry.save(update_fields=["status", "updated_at"])
        entry.refresh_from_db()
    return entry


def entries_leave_for(*, clients: list[Client], now: datetime | None = None) -> int:
    """Take the clients' open entries off the waitlist (an erasure): held times released."""
    entries = WaitlistEntry.objects.filter(
        client__in=clients, status__in=[WaitlistStatus.WAITING, WaitlistStatus.OFFERED]
    )
    left = 0
    for entry in entries:
        entry_leave(entry=entry, now=now)
        left += 1
    return left


# ----------------------------------------------------------------------------- freed time


def time_freed(*, first_day: date, last_day: date | None = None, therapist_id: int | None = None) -> None:
    """Call inside the transaction that frees time on the clinic's days ``first_day`` to
    ``last_day``: queues the task that offers it to the waitlist (once that transaction
    commits, never if it rolls back). ``therapist_id``: only that therapist's time freed."""
    from ..tasks import waitlist_match  # tasks import the services

    last_day = last_day or first_day
    # No task when nobody waits for those days (most cancellations). A client joining at
    # this moment is covered too: joining runs its own match once it commits.
    waiting = WaitlistEntry.objects.filter(
        status=WaitlistStatus.WAITING, first_day__lte=last_day, last_day__gte=first_day
    )
    if therapist_id is not None:
        waiting = waiting.filter(Q(therapist__isnull=True) | Q(therapist_id=therapist_id))
    if not waiting.exists():
        return
    kwargs = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    if therapist_id is not None:
        kwargs["therapist_id"] = therapist_id
    if waitlist_match.get_backend().supports_defer:
        # The database backend: the task row joins the caller's transaction.
        waitlist_match.enqueue(**kwargs)
    else:
        transaction.on_commit(lambda: waitlist_match.enqueue(**kwargs))


def time_freed_span(*, start: datetime, end: datetime, therapist_id: int | None = None) -> None:
    """:func:`time_freed` for the clinic's days that ``[start, end)`` touches."""
    zone = selectors.clinic_zone()
    last = max(start, end - timedelta(microseconds=1))
    time_freed(
        first_day=start.astimezone(zone).date(),
        last_day=last.astimezone(zone).date(),
        therapist_id=therapist_id,
    )


def time_freed_ahead(*, therapist_id: int | None = None, now: datetime | None = None) -> None:
    """:func:`time_freed` for every day clients can book (new working hours)."""
    today = _today(now or timezone.now())
    time_freed(
        first_day=today,
        last_day=today + timedelta(days=selectors.policy_load().horizon_days),
        therapist_id=therapist_id,
    )


def offers_make(
    *, first_day: date, last_day: date, therapist_id: int | None = None, now: datetime | None = None
) -> list[WaitlistOffer]:
    """Offer the free times on those days to the waiting entries, first joined first.
    Safe to run again, and at the same time as another run: see the module docstring."""
    now = now or timezone.now()
    first_day = max(first_day, _today(now))
    if last_day < first_day:
        return []
    waiting = (
        WaitlistEntry.objects.filter(
            status=WaitlistStatus.WAITING, first_day__lte=last_day, last_day__gte=first_day
        )
        .select_related("technique", "length", "therapist", "client")
        .order_by("created_at", "id")
    )
    if therapist_id is not None:
        waiting = waiting.filter(Q(therapist__isnull=True) | Q(therapist_id=therapist_id))
    made = []
    for entry in waiting:
        offer = _offer_first_fit(entry, first_day=first_day, last_day=last_day, now=now)
        if offer is not None:
            made.append(offer)
    return made


def offers_catch_up(*, now: datetime | None = None) -> list[WaitlistOffer]:
    """:func:`offers_make` over every day clients can book: finds time freed without a
    hook (a change made outside the services), for ``release_lapsed_holds --catch-up``."""
    now = now or timezone.now()
    today = _today(now)
    return offers_make(
        first_day=today, last_day=today + timedelta(days=selectors.policy_load().horizon_days), now=now
    )


def suitable_starts(
    entry: WaitlistEntry, *, first_day: date, last_day: date, now: datetime
) -> list[datetime]:
    """The free online start times on those days that suit the entry (its days, parts of
    the day, technique, length and therapist), earliest first."""
    first, last = max(first_day, entry.first_day), min(last_day, entry.last_day)
    if first > last:
        return []
    free = selectors.free_starts(
        technique=entry.technique,
        length=entry.length,
        first_day=first,
        days=(last - first).days + 1,
        therapist=entry.therapist,
        now=now,
    )
    parts = entry.parts()
    return [
        start
        for day in sorted(free.merged())
        for start, _ids in free.merged()[day]
        if part_of_day(start) in parts
    ]


def _offer_first_fit(entry: WaitlistEntry, *, first_day: date, last_day: date, now: datetime):
    if not entry.technique.active:
        return None
    offered_before = set(WaitlistOffer.objects.filter(entry=entry).values_list("start", flat=True))
    tries = 0
    for start in suitable_starts(entry, first_day=first_day, last_day=last_day, now=now):
        if start in offered_before:
            continue  # once per entry and time: a time they let go is not offered again
        try:
            return offer_create(entry=entry, start=start, now=now)
        except ValidationError as error:
            if error.code == "not_waiting":
                return None  # another run offered this entry a time first
            tries += 1  # taken a moment ago: try the next
            if tries >= TRIES_PER_ENTRY:
                return None
    return None


def offer_create(
    *,
    entry: WaitlistEntry,
    start: datetime,
    therapist: Therapist | None = None,
    offered_by=None,
    now: datetime | None = None,
) -> WaitlistOffer:
    """Hold ``start`` for the entry and email the offer, in one transaction.

    Automatic offers follow the online rules (notice, horizon, working hours). Staff
    offering by hand (``offered_by``) may offer any time the therapist is free, within
    working hours, and may name the ``therapist`` for an "any therapist" entry.
    Raises ValidationError: ``not_waiting`` (the entry has a live offer or is closed),
    ``slot_taken`` or the reason the time is not free."""
    now = now or timezone.now()
    if timezone.is_naive(start):
        raise ValidationError(_("The start time needs a time zone."), code="naive")
    with transaction.atomic():
        # The claim: only while the entry is still waiting, so two runs (or a run and a
        # member of staff) never both offer it a time.
        claimed = WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.WAITING).update(
            status=WaitlistStatus.OFFERED, updated_at=now
        )
        if not claimed:
            raise ValidationError(
                _("This waitlist entry already has an offer waiting for an answer, or is closed."),
                code="not_waiting",
            )
        entry.refresh_from_db()
        if WaitlistOffer.objects.filter(entry=entry, start=start).exists():
            raise ValidationError(_("This time was already offered to this client."), code="offered_before")
        appointment = _hold(
            entry=entry,
            start=start,
            therapist=therapist or entry.therapist,
            staff=offered_by is not None,
            now=now,
        )
        offer = WaitlistOffer.objects.create(
            entry=entry,
            appointment=appointment,
            start=appointment.start,
            offered_at=now,
            expires_at=appointment.held_until,
            offered_by=offered_by if getattr(offered_by, "pk", None) else None,
        )
        notifications.notify(notifications.EmailKind.WAITLIST_OFFER, appointment)
    return offer


def _hold(*, entry: WaitlistEntry, start: datetime, therapist: Therapist | None, staff: bool, now: datetime):
    """The HELD appointment, through the booking's check and lock path (see
    services.appointments.appointment_book), so it can never overlap another."""
    technique, length = entry.technique, entry.length
    free, found, day = appointments._free_therapists(
        technique=technique,
        length=length,
        start=start,
        therapist=therapist,
        staff=staff,
        allow_outside_hours=False,
        now=now,
    )
    if not free:
        if staff and therapist is not None:
            appointments._explain_to_staff(
                therapist=therapist,
                technique=technique,
                start=start,
                duration_minutes=length.duration_minutes,
                allow_outside_hours=False,
                now=now,
            )
        if staff:
            raise appointments._slot_taken()
        appointments._explain_to_client(start=start, free=found, therapist=therapist)
    if therapist is None:
        chosen_id = engine.pick_therapist(
            candidates=[t.pk for t in free],
            bookings_that_day={t.pk: found.data.bookings_per_day[t.pk, day] for t in free},
            order=[t.pk for t in found.data.therapists],
        )
        therapist = next(t for t in free if t.pk == chosen_id)
    else:
        therapist = next(t for t in free if t.pk == therapist.pk)
    start_utc = start.astimezone(UTC)
    duration = timedelta(minutes=length.duration_minutes)
    # Rooms (issue 12): the hold takes a room like a booking, so accepting keeps it.
    room = appointments._pick_room(found, start, therapist)
    client = entry.client
    appointment = Appointment(
        client=client,
        therapist=therapist,
        technique=technique,
        duration_minutes=length.duration_minutes,
        price=length.price,
        buffer_minutes=technique.buffer_minutes,
        start=start_utc,
        end=start_utc + duration,
        occupied_until=start_utc + duration + timedelta(minutes=technique.buffer_minutes),
        room=room,
        room_until=appointments._room_until(start_utc + duration, room),
        client_name=single_line(client.name),
        client_email=client.email.strip(),
        client_phone=str(client.phone or ""),
        source=AppointmentSource.ONLINE,
        status=AppointmentStatus.HELD,
        # Never past the start: a hold must not outlive the time it holds.
        held_until=min(now + hold_length(), start_utc),
    )
    appointments._save_or_taken(appointment)
    return appointment


# ----------------------------------------------------------------------------- answers


class OfferNotFound(Exception):
    """No offer has this token (mistyped or made up): the page answers 404."""


def _offer_for_update(token: str) -> WaitlistOffer:
    # Locks in one order everywhere: the offer, then its appointment, then the entry.
    offer = WaitlistOffer.objects.select_for_update().filter(token=token).first() if token else None
    if offer is None:
        raise OfferNotFound
    return offer


def _answered(offer: WaitlistOffer) -> ValidationError:
    messages = {
        OfferOutcome.ACCEPTED: _("You have already booked this time."),
        OfferOutcome.DECLINED: _("You said no thanks to this time, so it went to someone else."),
        OfferOutcome.LAPSED: _("This time was held until %(time)s and has gone to the next person waiting."),
        OfferOutcome.WITHDRAWN: _("The clinic withdrew this offer. Please call us if you have questions."),
    }
    message = messages.get(OfferOutcome(offer.outcome), messages[OfferOutcome.LAPSED])
    if "%(time)s" in message:
        from django.utils import formats

        message = message % {
            "time": formats.time_format(offer.expires_at.astimezone(selectors.clinic_zone()), "H:i")
        }
    return ValidationError(message, code=offer.outcome or OfferOutcome.LAPSED.value)


def offer_accept(
    *,
    token: str,
    answers: Mapping[str, Answer],
    doctor_note_token: str = "",
    now: datetime | None = None,
) -> WaitlistOffer:
    """Book the held time: the same row turns CONFIRMED, so there is no moment when
    anyone else could take it. A repeat of an accepted offer returns it unchanged.

    The health answers are asked again, as for every online booking (they may have
    changed since the client joined): the clinic's rules apply as at Confirm ("please
    call" refuses, code ``intake_call``; a doctor's note is needed when the rules say so,
    ``intake_doctor_note``), and they are stored with the visit.
    Raises :class:`OfferNotFound`, or ValidationError when answered or past its window."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = _offer_for_update(token)
        if offer.outcome == OfferOutcome.ACCEPTED:
            return offer
        if offer.outcome:
            raise _answered(offer)
        if now >= offer.expires_at:
            raise _answered(WaitlistOffer(outcome=OfferOutcome.LAPSED, expires_at=offer.expires_at))
        appointment = Appointment.objects.select_for_update().get(pk=offer.appointment_id)
        if appointment.status != AppointmentStatus.HELD:
            raise _answered(WaitlistOffer(outcome=OfferOutcome.WITHDRAWN, expires_at=offer.expires_at))
        # Refused before anything changes: the hold stays, for a call to the clinic.
        evaluation = intake.intake_check_online(
            technique=appointment.technique, answers=answers, doctor_note_token=doctor_note_token
        )
        appointment.status = AppointmentStatus.CONFIRMED
        appointment.held_until = None
        appointment.sequence += 1  # the offer email still queued, if any, is now stale
        appointment.save(update_fields=["status", "held_until", "sequence", "updated_at"])
        offer.outcome, offer.answered_at = OfferOutcome.ACCEPTED, now
        offer.save(update_fields=["outcome", "answered_at"])
        WaitlistEntry.objects.filter(pk=offer.entry_id).update(status=WaitlistStatus.BOOKED, updated_at=now)
        intake.intake_record(
            appointment=appointment,
            answers=answers,
            evaluation=evaluation,
            doctor_note_token=doctor_note_token,
        )
        # The offer page shows the cancellation policy beside "Book it" (a tick, as online).
        consent.consents_record(
            client=appointment.client,
            appointment=appointment,
            given_name=appointment.client_name,
            policy_agreed=True,
            agreement=None,
            online=True,
            now=now,
        )
        notifications.notify(notifications.EmailKind.CONFIRMATION, appointment)
        notifications.notify(notifications.EmailKind.STAFF_NOTICE, appointment)
    return offer


def offer_decline(*, token: str, leave: bool = False, now: datetime | None = None) -> WaitlistOffer:
    """ "No thanks": the time goes to the next in line. The entry keeps waiting for other
    times unless ``leave``. A repeat of a declined offer returns it unchanged."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = _offer_for_update(token)
        if offer.outcome == OfferOutcome.DECLINED:
            if leave:
                WaitlistEntry.objects.filter(pk=offer.entry_id, status=WaitlistStatus.WAITING).update(
                    status=WaitlistStatus.LEFT, updated_at=now
                )
            return offer
        if offer.outcome:
            raise _answered(offer)
        _release(
            offer,
            outcome=OfferOutcome.DECLINED,
            entry_status=WaitlistStatus.LEFT if leave else WaitlistStatus.WAITING,
            now=now,
        )
    return offer


def offer_withdraw(*, offer: WaitlistOffer, now: datetime | None = None) -> WaitlistOffer:
    """Staff take back an offer still waiting for an answer; the entry keeps waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = WaitlistOffer.objects.select_for_update().get(pk=offer.pk)
        if offer.outcome:
            raise _answered(offer)
        _release(offer, outcome=OfferOutcome.WITHDRAWN, entry_status=WaitlistStatus.WAITING, now=now)
    return offer


def _release(offer: WaitlistOffer, *, outcome: str, entry_status: str, now: datetime) -> None:
    """Close an unanswered offer: the hold is cancelled (``held_until`` kept, so it never
    counts as a booking), the entry moves on, and the freed time goes to the next in line."""
    appointment = Appointment.objects.select_for_update().get(pk=offer.appointment_id)
    if appointment.status == AppointmentStatus.HELD:
        appointment.status = AppointmentStatus.CANCELLED
        appointment.sequence += 1
        appointment.save(update_fields=["status", "sequence", "updated_at"])
    offer.outcome, offer.answered_at = outcome, now
    offer.save(update_fields=["outcome", "answered_at"])
    WaitlistEntry.objects.filter(pk=offer.entry_id, status=WaitlistStatus.OFFERED).update(
        status=entry_status, updated_at=now
    )
    day = _today(appointment.start)
    time_freed(first_day=day, therapist_id=appointment.therapist_id)


@dataclass(frozen=True)
class Sweep:
    released: int
    ended: int


def holds_release_lapsed(*, now: datetime | None = None) -> Sweep:
    """Release every hold whose window has passed (the offer lapses, the entry stops, the
    time goes to the next in line) and end entries whose days have passed.

    Safe from cron, again and again and at the same time as itself or a client's answer:
    each offer is re-read under its row lock and released only while still unanswered."""
    now = now or timezone.now()
    due = WaitlistOffer.objects.filter(outcome=OfferOutcome.PENDING, expires_at__lte=now)
    released = 0
    for pk in list(due.order_by("expires_at", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            offer = due.select_for_update().filter(pk=pk).first()
            if offer is None:
                continue  # answered or released by someone else meanwhile
            _release(offer, outcome=OfferOutcome.LAPSED, entry_status=WaitlistStatus.LAPSED, now=now)
            released += 1
    ended = WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, last_day__lt=_today(now)).update(
        status=WaitlistStatus.ENDED, updated_at=now
    )
    return Sweep(released=released, ended=ended)


# ----------------------------------------------------------------------------- reads for emails and pages


def offer_email_context(appointment: Appointment, *, site_url: str = "") -> dict:
    """What the offer email adds to an appointment email's context: the offer, its links
    and until when the time is held (local)."""
    from django.urls import reverse

    from clinic import site

    offer = WaitlistOffer.objects.select_related("entry").get(appointment=appointment)
    base = site.base_url(site_url)
    return {
        "offer": offer,
        "offer_url": base + reverse("booking:waitlist-offer", args=[offer.token]),
        "expires_local": offer.expires_at.astimezone(selectors.clinic_zone()),
    }


def offers_open_for(client: Client, *, now: datetime | None = None) -> list[WaitlistOffer]:
    """The client's offers still waiting for an answer, for their page (one query)."""
    now = now or timezone.now()
    return list(
        WaitlistOffer.objects.filter(entry__client=client, outcome=OfferOutcome.PENDING, expires_at__gt=now)
        .select_related("appointment__technique", "appointment__therapist")
        .order_by("expires_at")
    )
