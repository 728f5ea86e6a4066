"""Reads for booking: everything the availability engine needs, in a fixed number of queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import formats, timezone
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


# Staff may book any 5-minute mark, at any notice, as far ahead as they like.
STAFF_POLICY = engine.Policy(
    min_notice=timedelta(days=-3650), horizon=timedelta(days=3650), step=timedelta(minutes=5)
)
# "Book outside working hours": every therapist works the whole of every day.
WHOLE_DAY = [engine.WorkingPeriod(weekday, time.min, time.max) for weekday in range(7)]


@dataclass
class FreeStarts:
    """Free start times for some therapists over some days, and why any other time is not free."""

    data: AvailabilityData
    by_therapist: dict[int, dict[date, list[datetime]]]  # therapist id -> local date -> starts (UTC)
    policy: engine.Policy
    duration: timedelta
    buffer: timedelta
    now: datetime

    def merged(self) -> dict[date, list[tuple[datetime, tuple[int, ...]]]]:
        """For "any available therapist": each start with the ids of those free then."""
        return engine.merge_any(self.by_therapist)

    def therapists_free_at(self, start: datetime) -> list[Therapist]:
        day = start.astimezone(self.data.zone).date()
        start_utc = start.astimezone(UTC)
        return [
            t for t in self.data.therapists if start_utc in set(self.by_therapist.get(t.pk, {}).get(day, []))
        ]

    def why_not(self, start: datetime) -> engine.SlotProblem | None:
        """Why nobody loaded is free at ``start`` (a code), or None when someone is."""
        return engine.why_not_free(
            schedules=self.data.schedules,
            closures=self.data.closures,
            start=start,
            duration=self.duration,
            buffer=self.buffer,
            policy=self.policy,
            now=self.now,
            tz=self.data.zone,
        )

    def closure_reason(self, day: date) -> str:
        return next((reason for first, last, reason in self.data.closure_reasons if first <= day <= last), "")


def free_starts(
    *,
    technique: Technique,
    length: TechniqueLength,
    first_day: date,
    days: int,
    therapist: Therapist | None = None,
    now: datetime | None = None,
    staff: bool = False,
    ignore_working_hours: bool = False,
    exclude_appointment_id: int | None = None,
) -> FreeStarts:
    """The one pipeline from the database to free start times: load (six queries), then one
    pass of the engine. Online bookings follow the clinic's policy; ``staff`` ones
    :data:`STAFF_POLICY`, and with ``ignore_working_hours`` any time of the day."""
    now = now or timezone.now()
    data = availability_load(
        technique=technique,
        first_day=first_day,
        days=days,
        therapist=therapist,
        exclude_appointment_id=exclude_appointment_id,
    )
    if ignore_working_hours:
        data.schedules = [
            engine.TherapistSchedule(s.therapist_id, WHOLE_DAY, s.time_off, s.busy) for s in data.schedules
        ]
    policy = STAFF_POLICY if staff else data.engine_policy()
    duration = timedelta(minutes=length.duration_minutes)
    buffer = timedelta(minutes=technique.buffer_minutes)
    by_therapist = engine.free_slots(
        schedules=data.schedules,
        closures=data.closures,
        first_day=first_day,
        days=days,
        duration=duration,
        buffer=buffer,
        policy=policy,
        now=now,
        tz=data.zone,
    )
    return FreeStarts(
        data=data, by_therapist=by_therapist, policy=policy, duration=duration, buffer=buffer, now=now
    )


def policy_load() -> BookingPolicy:
    return BookingPolicy.load()


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
    working: bool = True  # someone (the chosen therapist) works on this weekday


@dataclass
class WeekAvailability:
    days: list[DaySummary]
    therapist_ids_by_start: dict[datetime, tuple[int, ...]]
    therapists: list[Therapist]
    policy: BookingPolicy
    engine_policy: engine.Policy
    zone: ZoneInfo
    free: FreeStarts
    named_therapist: bool  # one therapist chosen, rather than "any available"


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
    free = free_starts(
        technique=technique,
        length=length,
        first_day=first_day,
        days=days,
        therapist=therapist,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    data, policy, merged = free.data, free.policy, free.merged()
    today = now.astimezone(data.zone).date()
    last_day = (now + policy.horizon).astimezone(data.zone).date()
    working_weekdays = {period.weekday for schedule in data.schedules for period in schedule.periods}
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
                closed_reason=free.closure_reason(day),
                bookable=today <= day <= last_day,
                working=day.weekday() in working_weekdays,
            )
        )
    return WeekAvailability(
        days=summaries,
        therapist_ids_by_start=by_start,
        therapists=data.therapists,
        policy=data.policy,
        engine_policy=policy,
        zone=data.zone,
        free=free,
        named_therapist=therapist is not None,
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

    problem: engine.SlotProblem | None  # None when free
    alternatives: list[datetime]  # the nearest free starts, in time order (when taken)
    therapists: list[Therapist]  # who could take the booking (for names on the page)
    policy: BookingPolicy
    engine_policy: engine.Policy
    closure_reason: str = ""  # when the problem is CLOSED


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
    day = start.astimezone(zone).date()
    week = week_availability(
        technique=technique,
        length=length,
        therapist=therapist,
        first_day=day,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    problem = None if start in week.therapist_ids_by_start else week.free.why_not(start)
    taken = problem == engine.SlotProblem.TAKEN
    return SlotCheck(
        problem=problem,
        alternatives=engine.nearest_starts(week.therapist_ids_by_start, start, alternatives) if taken else [],
        therapists=week.therapists,
        policy=week.policy,
        engine_policy=week.engine_policy,
        closure_reason=week.free.closure_reason(day),
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
    # With each visit's health intake (its flags; the answers are not needed), in the same query.
    appointments_qs = appointments_qs.select_related("technique", "intake").defer("intake__answers")
    for appointment in appointments_qs.order_by("start", "pk"):  # query 1
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


class TherapistProblem(StrEnum):
    """What about the therapist, rather than the time, stands in the way of a booking."""

    INACTIVE = "inactive"
    NOT_OFFERED = "not_offered"


@dataclass(frozen=True)
class Obstacle:
    """One thing in the way of a staff booking: a code and the facts to word it with."""

    problem: engine.SlotProblem | TherapistProblem
    appointment: Appointment | None = None  # TAKEN: the appointment in the way
    time_off: TimeOff | None = None  # TIME_OFF: the absence
    closure_reason: str = ""  # CLOSED
    periods: tuple[engine.WorkingPeriod, ...] = ()  # OUTSIDE_HOURS: that day's hours


# The order staff read them in: the time itself, then the therapist, then what is in the way.
OBSTACLE_ORDER = [
    engine.SlotProblem.PAST,
    engine.SlotProblem.NOTICE,
    engine.SlotProblem.HORIZON,
    engine.SlotProblem.OFF_GRID,
    engine.SlotProblem.OVERNIGHT,
    TherapistProblem.INACTIVE,
    TherapistProblem.NOT_OFFERED,
    engine.SlotProblem.TAKEN,
    engine.SlotProblem.TIME_OFF,
    engine.SlotProblem.CLOSED,
    engine.SlotProblem.DAY_OFF,
    engine.SlotProblem.OUTSIDE_HOURS,
]


def staff_obstacles(
    *,
    therapist: Therapist,
    technique: Technique,
    start: datetime,
    duration_minutes: int,
    buffer_minutes: int,
    allow_outside_hours: bool,
    exclude_appointment_id: int | None = None,
    now: datetime | None = None,
) -> list[Obstacle]:
    """What stands in the way of staff booking ``therapist`` at ``start``, by the engine's
    rules under :data:`STAFF_POLICY`, each with the facts that name it: the clashing
    appointment, the time off, the closure or the working hours."""
    zone = clinic_zone()
    duration, buffer = timedelta(minutes=duration_minutes), timedelta(minutes=buffer_minutes)
    until = start + duration + buffer
    local_day = start.astimezone(zone).date()
    clashes = list(
        Appointment.objects.occupying()
        .filter(therapist=therapist)
        .overlapping(start, until)
        .exclude(pk=exclude_appointment_id)
        .select_related("technique")
        .order_by("start")
    )
    absences = list(
        TimeOff.objects.filter(therapist=therapist, start__lt=until, end__gt=start).order_by("start")
    )
    closures = list(
        Closure.objects.filter(first_day__lte=local_day, last_day__gte=local_day).values_list(
            "first_day", "last_day", "reason"
        )
    )
    periods = (
        WHOLE_DAY
        if allow_outside_hours
        else [engine.WorkingPeriod(h.weekday, h.start, h.end) for h in therapist.working_hours.all()]
    )
    schedule = engine.TherapistSchedule(
        therapist.pk,
        periods,
        [engine.Interval(a.start, a.end) for a in absences],
        [engine.Interval(a.start, a.occupied_until) for a in clashes],
    )
    problems = engine.slot_problems(
        schedule=schedule,
        closures=[(first, last) for first, last, _ in closures],
        start=start,
        duration=duration,
        buffer=buffer,
        policy=STAFF_POLICY,
        now=now or timezone.now(),
        tz=zone,
    )
    if not therapist.active:
        problems.append(TherapistProblem.INACTIVE)
    if not therapist.techniques.filter(pk=technique.pk).exists():
        problems.append(TherapistProblem.NOT_OFFERED)
    obstacles: list[Obstacle] = []
    for problem in sorted(set(problems), key=OBSTACLE_ORDER.index):
        if problem == engine.SlotProblem.TAKEN:
            obstacles += [Obstacle(problem, appointment=other) for other in clashes]
        elif problem == engine.SlotProblem.TIME_OFF:
            obstacles += [Obstacle(problem, time_off=absence) for absence in absences]
        elif problem == engine.SlotProblem.CLOSED:
            obstacles.append(Obstacle(problem, closure_reason=closures[0][2]))
        elif problem in (engine.SlotProblem.DAY_OFF, engine.SlotProblem.OUTSIDE_HOURS):
            # For staff both read as the day's hours ("not working" when there are none).
            todays = tuple(
                sorted((p for p in periods if p.weekday == local_day.weekday()), key=lambda p: p.start)
            )
            obstacles.append(Obstacle(engine.SlotProblem.OUTSIDE_HOURS, periods=todays))
        else:
            obstacles.append(Obstacle(problem))
    return obstacles


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    what: str


def client_change_words(change: ClientChange) -> str:
    """A client's online change in words: "Moved online by the client: Tue 24 Nov 2026
    10:00 → Tue 24 Nov 2026 14:00", in the clinic's time."""
    if change.kind == ClientChange.Kind.MOVED and change.previous_start and change.new_start:
        zone = clinic_zone()
        return _("Moved online by the client: %(before)s → %(after)s") % {
            "before": formats.date_format(change.previous_start.astimezone(zone), "D d M Y H:i"),
            "after": formats.date_format(change.new_start.astimezone(zone), "D d M Y H:i"),
        }
    return str(change.get_kind_display())


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
        HistoryEntry(when=change.at, who=_("The client, online"), what=client_change_words(change))
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


# Clients (issue 11) -------------------------------------------------------------------


def clients_visible_to(user, queryset: QuerySet | None = None) -> QuerySet:
    """The client records ``user`` may see: all of them, except for a therapist's own
    account, which sees only clients who have or had an appointment with them."""
    from . import roles
    from .models import Client

    queryset = Client.objects.all() if queryset is None else queryset
    if not roles.sees_only_own_appointments(user):
        return queryset
    therapist = getattr(user, "therapist", None)
    if therapist is None:
        return queryset.none()
    return queryset.filter(Exists(Appointment.objects.filter(client=OuterRef("pk"), therapist=therapist)))


def client_search_q(term: str) -> Q:
    """What a staff search for ``term`` matches: part of the name or email, or the phone
    number in any format (typed in full, it is read as a number and matched exactly, on
    the index; four or more digits also match inside stored numbers)."""
    from .phones import phone_e164, search_digits

    term = term.strip()
    digits = search_digits(term)
    if digits:
        # Only digits and phone punctuation: a phone number (no name or address holds
        # "07700 900123"), so the name and email columns are not scanned for it.
        number = phone_e164(term)
        match = Q(phone__contains=digits)
        return match | Q(phone=number) if number else match
    return Q(name__icontains=term) | Q(email_key__contains=term.lower())


# The client page lists this many upcoming and past visits; the counts cover them all.
CLIENT_VISITS_SHOWN = 50


@dataclass
class ClientVisits:
    """A client's appointments for their page: upcoming (soonest first), past (latest
    first), and the counts staff ask about."""

    upcoming: list[Appointment]
    past: list[Appointment]
    upcoming_total: int
    past_total: int
    visits: int
    no_shows: int
    late_cancellations: int
    cancellations: int


def client_visits(*, client, therapist: Therapist | None = None, now: datetime | None = None) -> ClientVisits:
    """Two queries whatever the number of visits; the soonest upcoming and the latest past
    visits are listed (CLIENT_VISITS_SHOWN of each; the appointment list filtered by client
    has them all). ``therapist`` limits them to that
    therapist's (a therapist's own account). A late cancellation is one made within the
    cancellation cutoff before the start (when it was cancelled: the row's last change)."""
    now = now or timezone.now()
    cutoff = timedelta(hours=policy_load().cancellation_cutoff_hours)
    # Waitlist holds (issue 14) are not visits: neither held nor lapsed ones count.
    rows = Appointment.objects.bookings().filter(client=client).select_related("technique", "therapist")
    if therapist is not None:
        rows = rows.filter(therapist=therapist)
    rows = list(rows.order_by("start", "pk"))
    upcoming = [a for a in rows if a.start >= now]
    past = [a for a in reversed(rows) if a.start < now]
    cancelled = [a for a in rows if a.status == AppointmentStatus.CANCELLED]
    return ClientVisits(
        upcoming=upcoming[:CLIENT_VISITS_SHOWN],
        past=past[:CLIENT_VISITS_SHOWN],
        upcoming_total=len(upcoming),
        past_total=len(past),
        visits=sum(a.status == AppointmentStatus.COMPLETED for a in rows),
        no_shows=sum(a.status == AppointmentStatus.NO_SHOW for a in rows),
        late_cancellations=sum(a.updated_at >= a.start - cutoff for a in cancelled),
        cancellations=len(cancelled),
    )
