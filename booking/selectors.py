"""Reads for booking: everything the availability engine needs, in a fixed number of queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from . import availability as engine
from .choices import AppointmentStatus
from .models import (
    Appointment,
    BookingPolicy,
    ClientChange,
    Closure,
    Technique,
    TechniqueLength,
    Therapist,
    TimeOff,
    WorkingHours,
    manage_signer,
)


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def working_periods(therapist: Therapist) -> list[engine.WorkingPeriod]:
    """The therapist's weekly hours as the engine's values (from prefetched rows when
    ``working_hours`` was prefetched)."""
    return [engine.WorkingPeriod(h.weekday, h.start, h.end) for h in therapist.working_hours.all()]


def technique_list_active() -> QuerySet[Technique]:
    """The techniques clients can book online (see ``TechniqueQuerySet.bookable``)."""
    return Technique.objects.bookable().prefetch_related("lengths")


@dataclass
class AvailabilityData:
    """What the engine needs for some therapists over some days, loaded in one go."""

    therapists: list[Therapist]
    schedules: list[engine.TherapistSchedule]
    closures: list[tuple[date, date]]
    closure_reasons: list[tuple[date, date, str]]
    policy: BookingPolicy
    bookings_per_day: Counter  # (therapist id, local date) -> occupying appointments
    zone: ZoneInfo

    def engine_policy(self) -> engine.Policy:
        return engine.Policy(
            min_notice=timedelta(minutes=self.policy.min_notice_minutes),
            horizon=timedelta(days=self.policy.horizon_days),
            step=timedelta(minutes=self.policy.slot_step_minutes),
        )


def availability_load(
    *,
    technique: Technique,
    first_day: date,
    days: int,
    therapist: Therapist | None = None,
    exclude_appointment_id: int | None = None,
) -> AvailabilityData:
    """Load hours, time off, closures, appointments and policy: six queries, whatever the
    number of therapists, days or appointments.

    ``therapist=None`` means every active therapist who offers the technique.
    ``exclude_appointment_id`` leaves one appointment out (when it is being moved).
    """
    zone = clinic_zone()
    # A day of margin either side: a local day can start or end on the neighbouring UTC day.
    window_start = datetime.combine(first_day - timedelta(days=1), time.min, tzinfo=zone)
    window_end = datetime.combine(first_day + timedelta(days=days + 1), time.min, tzinfo=zone)

    therapists_qs = Therapist.objects.active().offering(technique)
    if therapist is not None:
        therapists_qs = therapists_qs.filter(pk=therapist.pk)
    therapists = list(
        therapists_qs.order_by("name", "id").prefetch_related(
            Prefetch("working_hours", queryset=WorkingHours.objects.order_by("weekday", "start"))
        )
    )  # queries 1 and 2
    ids = [t.pk for t in therapists]
    time_off: dict[int, list[engine.Interval]] = {pk: [] for pk in ids}
    for therapist_id, start, end in TimeOff.objects.filter(
        therapist_id__in=ids, start__lt=window_end, end__gt=window_start
    ).values_list("therapist_id", "start", "end"):  # query 3
        time_off[therapist_id].append(engine.Interval(start, end))
    busy: dict[int, list[engine.Interval]] = {pk: [] for pk in ids}
    bookings_per_day: Counter = Counter()
    appointments = Appointment.objects.occupying().filter(
        therapist_id__in=ids, start__lt=window_end, occupied_until__gt=window_start
    )
    if exclude_appointment_id is not None:
        appointments = appointments.exclude(pk=exclude_appointment_id)
    for therapist_id, start, occupied_until in appointments.values_list(
        "therapist_id", "start", "occupied_until"
    ):  # query 4
        busy[therapist_id].append(engine.Interval(start, occupied_until))
        bookings_per_day[therapist_id, start.astimezone(zone).date()] += 1
    closure_rows = list(
        Closure.objects.filter(
            first_day__lt=first_day + timedelta(days=days), last_day__gte=first_day
        ).values_list("first_day", "last_day", "reason")
    )  # query 5
    policy = BookingPolicy.load()  # query 6
    schedules = [
        engine.TherapistSchedule(
            therapist_id=t.pk,
            periods=working_periods(t),
            # Unsorted: the engine sorts and merges blocked time once per therapist.
            time_off=time_off[t.pk],
            busy=busy[t.pk],
        )
        for t in therapists
    ]
    return AvailabilityData(
        therapists=therapists,
        schedules=schedules,
        closures=[(first, last) for first, last, _ in closure_rows],
        closure_reasons=closure_rows,
        policy=policy,
        bookings_per_day=bookings_per_day,
        zone=zone,
    )


def free_slots(
    *,
    data: AvailabilityData,
    length: TechniqueLength,
    buffer_minutes: int,
    first_day: date,
    days: int,
    now: datetime | None = None,
    policy: engine.Policy | None = None,
) -> dict[int, dict[date, list[datetime]]]:
    return engine.free_slots(
        schedules=data.schedules,
        closures=data.closures,
        first_day=first_day,
        days=days,
        duration=timedelta(minutes=length.duration_minutes),
        buffer=timedelta(minutes=buffer_minutes),
        policy=policy or data.engine_policy(),
        now=now or timezone.now(),
        tz=data.zone,
    )


def policy_load() -> BookingPolicy:
    return BookingPolicy.load()


def unavailable_reason(
    *, start: datetime, now: datetime, policy: engine.Policy, zone: ZoneInfo
) -> str | None:
    """Why the online policy rules ``start`` out (a ValidationError code), or None.

    Only the rules that do not depend on anyone's diary: the past, the notice window,
    the horizon and the slot grid.
    """
    if start < now:
        return "past"
    if start < now + policy.min_notice:
        return "notice"
    if start > now + policy.horizon:
        return "horizon"
    local = start.astimezone(zone)
    step = int(policy.step.total_seconds() // 60)
    if (local.hour * 60 + local.minute) % step or local.second or local.microsecond:
        return "off_grid"
    return None


def therapist_for_booking(*, technique: Technique, slug: str) -> Therapist | None:
    """An active therapist who offers ``technique``, by slug."""
    return Therapist.objects.active().offering(technique).filter(slug=slug).first()


def therapist_cards(*, technique: Technique) -> list[Therapist]:
    """The therapists a client can choose for ``technique``, with what each offers."""
    return list(
        Therapist.objects.active()
        .offering(technique)
        .order_by("name", "id")
        .prefetch_related(Prefetch("techniques", queryset=Technique.objects.active()))
    )


@dataclass(frozen=True)
class DaySummary:
    """One day of the booking page's day strip."""

    day: date
    starts: list[datetime]
    closed_reason: str  # the closure's reason when the clinic is shut
    bookable: bool  # inside the online window (not past, not beyond the horizon)


@dataclass
class WeekAvailability:
    days: list[DaySummary]
    therapist_ids_by_start: dict[datetime, tuple[int, ...]]
    therapists: list[Therapist]
    policy: BookingPolicy
    engine_policy: engine.Policy
    zone: ZoneInfo


def week_availability(
    *,
    technique: Technique,
    length: TechniqueLength,
    therapist: Therapist | None,
    first_day: date,
    days: int = 7,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
) -> WeekAvailability:
    """Free start times for each of ``days`` days from ``first_day``: the six queries of
    :func:`availability_load` and one pass of the engine."""
    now = now or timezone.now()
    data = availability_load(
        technique=technique,
        first_day=first_day,
        days=days,
        therapist=therapist,
        exclude_appointment_id=exclude_appointment_id,
    )
    merged = engine.merge_any(
        free_slots(
            data=data,
            length=length,
            buffer_minutes=technique.buffer_minutes,
            first_day=first_day,
            days=days,
            now=now,
        )
    )
    policy = data.engine_policy()
    today = now.astimezone(data.zone).date()
    last_day = (now + policy.horizon).astimezone(data.zone).date()
    reasons = {}
    for first, last, reason in data.closure_reasons:
        for offset in range((last - first).days + 1):
            reasons.setdefault(first + timedelta(days=offset), reason)
    summaries = []
    by_start: dict[datetime, tuple[int, ...]] = {}
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        entries = merged.get(day, [])
        by_start.update(entries)
        summaries.append(
            DaySummary(
                day=day,
                starts=[start for start, _ in entries],
                closed_reason=reasons.get(day, ""),
                bookable=today <= day <= last_day,
            )
        )
    return WeekAvailability(
        days=summaries,
        therapist_ids_by_start=by_start,
        therapists=data.therapists,
        policy=data.policy,
        engine_policy=policy,
        zone=data.zone,
    )


def appointment_by_token(token: str) -> Appointment | None:
    """The appointment a client's manage link points to, or None for a wrong or tampered link."""
    try:
        value = manage_signer().unsign(token)
    except signing.BadSignature:
        return None
    reference, _, secret = value.partition(".")
    appointment = (
        Appointment.objects.select_related("technique", "therapist").filter(reference=reference).first()
    )
    # The secret can be replaced to revoke a link; compare it in constant time anyway.
    if appointment is None or not constant_time_compare(appointment.manage_secret, secret):
        return None
    return appointment


def client_change_deadline(*, appointment: Appointment, policy: BookingPolicy) -> datetime:
    """Until when the client may cancel or reschedule online."""
    return appointment.start - timedelta(hours=policy.cancellation_cutoff_hours)


def upcoming_online_count(*, email: str, now: datetime) -> int:
    """Confirmed appointments still to come for one email address (any letter case)."""
    return Appointment.objects.filter(
        client_email__iexact=email.strip(), status=AppointmentStatus.CONFIRMED, start__gte=now
    ).count()


@dataclass
class SlotCheck:
    """Whether a chosen time can still be booked online, and what else is near it."""

    problem: str | None  # None when free; "taken"; or a policy code from unavailable_reason
    alternatives: list[datetime]  # the nearest free starts, in time order
    therapists: list[Therapist]  # who could take the booking (for names on the page)
    policy: BookingPolicy
    engine_policy: engine.Policy


def slot_check(
    *,
    technique: Technique,
    length: TechniqueLength,
    therapist: Therapist | None,
    start: datetime,
    now: datetime | None = None,
    exclude_appointment_id: int | None = None,
    alternatives: int = 6,
) -> SlotCheck:
    """Check one start time against the policy and the diaries (read only: the booking
    service checks again under lock). Alternatives come from that day and the six after."""
    now = now or timezone.now()
    zone = clinic_zone()
    week = week_availability(
        technique=technique,
        length=length,
        therapist=therapist,
        first_day=start.astimezone(zone).date(),
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    problem = unavailable_reason(start=start, now=now, policy=week.engine_policy, zone=zone)
    if problem is None and start not in week.therapist_ids_by_start:
        problem = "taken"
    nearest = (
        engine.nearest_starts(week.therapist_ids_by_start, start, alternatives) if problem == "taken" else []
    )
    return SlotCheck(
        problem=problem,
        alternatives=nearest,
        therapists=week.therapists,
        policy=week.policy,
        engine_policy=week.engine_policy,
    )


@dataclass
class ScheduleData:
    """Everything the staff schedule draws for some days: five queries in all."""

    therapists: list[Therapist]  # with working_hours prefetched
    appointments: dict[int, list[Appointment]]  # therapist id -> appointments, by start
    time_off: dict[int, list[TimeOff]]  # therapist id -> time off touching the days
    closures: dict[date, str]  # local date -> reason
    zone: ZoneInfo

    def periods(self, therapist: Therapist) -> list[engine.WorkingPeriod]:
        return working_periods(therapist)


def schedule_load(*, first_day: date, days: int = 1, therapist: Therapist | None = None) -> ScheduleData:
    """Load the schedule of ``days`` days from ``first_day``: active therapists (and any
    inactive one still holding an appointment in those days), their hours, time off,
    appointments of every status, and closures. Five queries, whatever the numbers.

    ``therapist`` limits it to one therapist (a therapist's own view, or a week view).
    """
    zone = clinic_zone()
    window_start = engine.day_span(first_day, zone)[0]
    window_end = engine.day_span(first_day + timedelta(days=days - 1), zone)[1]
    appointments_qs = Appointment.objects.filter(start__lt=window_end, end__gt=window_start)
    therapists_qs = Therapist.objects.all()
    if therapist is not None:
        appointments_qs = appointments_qs.filter(therapist=therapist)
        therapists_qs = therapists_qs.filter(pk=therapist.pk)
    appointments: dict[int, list[Appointment]] = {}
    for appointment in appointments_qs.select_related("technique").order_by("start", "pk"):  # query 1
        appointments.setdefault(appointment.therapist_id, []).append(appointment)
    if therapist is None:
        therapists_qs = therapists_qs.filter(Q(active=True) | Q(pk__in=list(appointments)))
    therapists = list(
        therapists_qs.order_by("name", "id").prefetch_related(
            Prefetch("working_hours", queryset=WorkingHours.objects.order_by("weekday", "start"))
        )
    )  # queries 2 and 3
    time_off: dict[int, list[TimeOff]] = {}
    for absence in TimeOff.objects.filter(
        therapist_id__in=[t.pk for t in therapists], start__lt=window_end, end__gt=window_start
    ):  # query 4
        time_off.setdefault(absence.therapist_id, []).append(absence)
    closures: dict[date, str] = {}
    last_day = first_day + timedelta(days=days - 1)
    for first, last, reason in Closure.objects.filter(
        first_day__lte=last_day, last_day__gte=first_day
    ).values_list("first_day", "last_day", "reason"):  # query 5
        for offset in range((last - first).days + 1):
            closures.setdefault(first + timedelta(days=offset), reason)
    return ScheduleData(
        therapists=therapists, appointments=appointments, time_off=time_off, closures=closures, zone=zone
    )


def staff_obstacles(
    *,
    therapist: Therapist,
    technique: Technique,
    start: datetime,
    duration_minutes: int,
    buffer_minutes: int,
    allow_outside_hours: bool,
    exclude_appointment_id: int | None = None,
) -> list[str]:
    """Why staff cannot book ``therapist`` at ``start``, in words that name what is in
    the way: the clashing appointment, the time off, the closure or the working hours."""
    zone = clinic_zone()
    end = start + timedelta(minutes=duration_minutes)
    until = end + timedelta(minutes=buffer_minutes)
    local = start.astimezone(zone)
    reasons: list[str] = []
    if local.minute % 5 or local.second or local.microsecond:
        reasons.append(
            _("Start times are on 5-minute marks (10:00, 10:05 …); %(start)s is not.")
            % {"start": f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"}
        )
    if end.astimezone(zone).date() != local.date():
        reasons.append(_("An appointment must end on the day it starts; this one runs past midnight."))
    if not therapist.active:
        reasons.append(_("%(name)s is not taking bookings (not active).") % {"name": therapist.name})
    if not therapist.techniques.filter(pk=technique.pk).exists():
        reasons.append(
            _("%(name)s does not offer %(technique)s.") % {"name": therapist.name, "technique": technique}
        )
    clashes = (
        Appointment.objects.occupying()
        .filter(therapist=therapist)
        .overlapping(start, until)
        .exclude(pk=exclude_appointment_id)
        .select_related("technique")
    )
    for other in clashes:
        reasons.append(
            _(
                "Overlaps %(reference)s: %(client)s, %(technique)s %(start)s–%(end)s "
                "(room free again at %(free)s, after cleanup)."
            )
            % {
                "reference": other.reference,
                "client": other.client_name,
                "technique": other.technique.name,
                "start": f"{other.start.astimezone(zone):%H:%M}",
                "end": f"{other.end.astimezone(zone):%H:%M}",
                "free": f"{other.occupied_until.astimezone(zone):%H:%M}",
            }
        )
    for absence in TimeOff.objects.filter(therapist=therapist, start__lt=until, end__gt=start):
        reasons.append(
            _("%(name)s has time off from %(start)s to %(end)s%(reason)s.")
            % {
                "name": therapist.name,
                "start": f"{absence.start.astimezone(zone):%a %d %b %H:%M}",
                "end": f"{absence.end.astimezone(zone):%a %d %b %H:%M}",
                "reason": f" ({absence.reason})" if absence.reason else "",
            }
        )
    closure = Closure.objects.filter(first_day__lte=local.date(), last_day__gte=local.date()).first()
    if closure is not None:
        reasons.append(
            _("The clinic is closed on %(day)s: %(reason)s.")
            % {"day": f"{local:%A %d %B}", "reason": closure.reason}
        )
    if not allow_outside_hours:
        periods = [
            engine.WorkingPeriod(h.weekday, h.start, h.end)
            for h in therapist.working_hours.filter(weekday=local.weekday())
        ]
        if not any(
            a <= start and end <= b for a, b in (engine.period_span(local.date(), p, zone) for p in periods)
        ):
            hours = ", ".join(f"{p.start:%H:%M}–{p.end:%H:%M}" for p in periods) or _("not working")
            reasons.append(
                _(
                    "%(start)s–%(end)s is outside %(name)s's working hours on %(weekday)s (%(hours)s). "
                    "Tick “Book outside working hours” to book it anyway."
                )
                % {
                    "start": f"{local:%H:%M}",
                    "end": f"{end.astimezone(zone):%H:%M}",
                    "name": therapist.name,
                    "weekday": f"{local:%A}",
                    "hours": hours,
                }
            )
    return reasons


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    what: str


def appointment_history(*, appointment: Appointment) -> list[HistoryEntry]:
    """Who changed an appointment, when, and what, oldest first: the booking itself,
    Django's admin log for staff, and the client's own online changes (two queries)."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    entries = (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Appointment), object_id=str(appointment.pk)
        )
        .select_related("user")
        .order_by("action_time", "pk")
    )
    history = [
        HistoryEntry(
            when=entry.action_time,
            who=entry.user.get_full_name() or entry.user.get_username(),
            what=_("Booked") if entry.is_addition() else (entry.get_change_message() or str(entry)),
        )
        for entry in entries
    ]
    if not any(entry.what == _("Booked") for entry in history):
        # Booked online, or by staff outside the admin (an import, the demo data).
        online = appointment.source == "online"
        history.append(
            HistoryEntry(
                when=appointment.created_at,
                who=_("The client, online") if online else _("Staff"),
                what=_("Booked"),
            )
        )
    history += [
        HistoryEntry(when=change.at, who=_("The client, online"), what=change.summary)
        for change in ClientChange.objects.filter(appointment=appointment)
    ]
    return sorted(history, key=lambda entry: entry.when)


def appointments_during(*, therapist: Therapist, start: datetime, end: datetime) -> list[Appointment]:
    """The therapist's confirmed appointments that meet ``[start, end)``."""
    return list(
        Appointment.objects.filter(therapist=therapist, status=AppointmentStatus.CONFIRMED)
        .overlapping(start, end)
        .order_by("start")
    )


def techniques_hidden_online(*, technique_id: int | None = None) -> list[tuple[Technique, str]]:
    """Techniques marked offered that clients still cannot book online, each with why:
    ``"no_length"`` or ``"no_therapist"`` (nobody taking bookings offers it). One query."""
    techniques = Technique.objects.active().exclude(pk__in=Technique.objects.bookable().values("pk"))
    if technique_id is not None:
        techniques = techniques.filter(pk=technique_id)
    techniques = techniques.annotate(
        has_length=Exists(TechniqueLength.objects.filter(technique=OuterRef("pk")))
    ).order_by("display_order", "name")
    return [(t, "no_therapist" if t.has_length else "no_length") for t in techniques]


def appointment_by_idempotency_key(key: str) -> Appointment | None:
    """The booking an online confirmation with this one-time key made, if any."""
    return Appointment.objects.filter(idempotency_key=key).first()
