"""Reads for booking: everything the availability engine needs, in a fixed number of queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from . import availability as engine
from .models import (
    Appointment,
    BookingPolicy,
    Closure,
    Technique,
    TechniqueLength,
    Therapist,
    TimeOff,
    WorkingHours,
)


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def technique_list_active() -> QuerySet[Technique]:
    return Technique.objects.active().prefetch_related("lengths")


@dataclass
class AvailabilityData:
    """What the engine needs for some therapists over some days, loaded in one go."""

    therapists: list[Therapist]
    schedules: list[engine.TherapistSchedule]
    closures: list[tuple[date, date]]
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
    closures = list(
        Closure.objects.filter(
            first_day__lt=first_day + timedelta(days=days), last_day__gte=first_day
        ).values_list("first_day", "last_day")
    )  # query 5
    policy = BookingPolicy.load()  # query 6
    schedules = [
        engine.TherapistSchedule(
            therapist_id=t.pk,
            periods=[engine.WorkingPeriod(h.weekday, h.start, h.end) for h in t.working_hours.all()],
            # Unsorted: the engine sorts and merges blocked time once per therapist.
            time_off=time_off[t.pk],
            busy=busy[t.pk],
        )
        for t in therapists
    ]
    return AvailabilityData(
        therapists=therapists,
        schedules=schedules,
        closures=closures,
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
