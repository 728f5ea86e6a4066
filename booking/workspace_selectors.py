"""Reads for a therapist's "My days" page (issue 15): their appointments over some days,
with what they need at the table (the client's preferences, the visit's health flags and
what the rules tell the therapist about them, the client's last signed treatment note),
and the days' hours, time off and closures. A fixed number of queries, whatever the
number of appointments.

Who may see what is decided by the caller (booking/admin/workspace.py) and by
services.notes (which notes a user may read); nothing here records a look at health data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery

from . import availability as engine
from . import intake as rules_engine
from .choices import RuleOutcome
from .models import Appointment, Closure, HealthIntake, Therapist, TimeOff, TreatmentNote
from .selectors import clinic_zone
from .services import intake as intake_service
from .services import notes

# The note fields the page never shows: left encrypted in the database (not decrypted).
_NOTE_UNSHOWN = ("subjective", "objective", "areas")


@dataclass
class Visit:
    """One appointment as the treating therapist sees it on their day."""

    appointment: Appointment
    flags: list[str] = field(default_factory=list)  # question keys flagged at intake
    rule_notes: list[str] = field(default_factory=list)  # what the matching rules tell staff
    last_note: TreatmentNote | None = None  # the client's latest signed note, from before

    @property
    def intake(self) -> HealthIntake | None:
        try:
            return self.appointment.intake
        except HealthIntake.DoesNotExist:
            return None

    @property
    def note(self) -> TreatmentNote | None:
        """This appointment's own treatment note, if one was started."""
        try:
            return self.appointment.treatment_note
        except TreatmentNote.DoesNotExist:
            return None


@dataclass
class Day:
    """One local day of the therapist's: their hours, time off, a closure, appointments."""

    day: date
    hours: list[tuple[time, time]]
    time_off: list[TimeOff]
    closed: str | None
    visits: list[Visit] = field(default_factory=list)


@dataclass
class TherapistDays:
    therapist: Therapist
    zone: ZoneInfo
    days: list[Day]

    @property
    def visits(self) -> list[Visit]:
        return [visit for day in self.days for visit in day.visits]


def therapist_days(
    *, therapist: Therapist, first_day: date, reader, days: int = 7, with_health: bool = True
) -> TherapistDays:
    """``therapist``'s bookings (not the waitlist's holds; cancelled ones included) starting
    on the clinic's days ``first_day`` to ``first_day + days - 1``, for ``reader``, the
    member of staff looking. ``with_health``: the visits' flags and the rules' notes about
    them (else neither is read). The last note of each visit is the client's latest signed
    one from an earlier appointment that ``reader`` may read (services.notes).

    Six queries at most, whatever the number of appointments: the appointments (with
    technique, room, client, intake and this visit's own note), the last notes, the rules
    (only when a visit is flagged), the working hours, the time off, the closures.
    """
    zone = clinic_zone()
    last_day = first_day + timedelta(days=days - 1)
    window_start, window_end = engine.day_span(first_day, zone)[0], engine.day_span(last_day, zone)[1]
    last_note = (
        notes.notes_readable_by(reader)
        .filter(
            appointment__client_id=OuterRef("client_id"),
            appointment__start__lt=OuterRef("start"),
            signed_at__isnull=False,
            deleted_at__isnull=True,
        )
        .order_by("-appointment__start", "-pk")
        .values("pk")[:1]
    )
    unshown = [f"treatment_note__{name}" for name in (*_NOTE_UNSHOWN, "assessment", "plan")]
    if not with_health:
        unshown += ["intake__answers", "intake__flags"]
    appointments = list(
        Appointment.objects.bookings()
        .filter(therapist=therapist)
        .on_local_days(first_day, last_day, zone=zone)
        .select_related("technique", "room", "client", "intake", "treatment_note")
        .defer(*unshown)
        .annotate(last_note_id=Subquery(last_note))
        .order_by("start", "seat", "pk")
    )  # query 1
    note_ids = {a.last_note_id for a in appointments if a.last_note_id}
    last_notes: dict[int, TreatmentNote] = {}
    if note_ids:
        for note in (
            TreatmentNote.objects.filter(pk__in=note_ids).select_related("appointment").defer(*_NOTE_UNSHOWN)
        ):  # query 2
            last_notes[note.pk] = note
    visits = [Visit(appointment=a, last_note=last_notes.get(a.last_note_id)) for a in appointments]
    if with_health:
        _add_health(visits)  # query 3, when a visit is flagged

    periods: dict[int, list[tuple[time, time]]] = {}
    for hours in therapist.working_hours.order_by("weekday", "start"):  # query 4
        periods.setdefault(hours.weekday, []).append((hours.start, hours.end))
    absences = list(
        TimeOff.objects.filter(therapist=therapist, start__lt=window_end, end__gt=window_start).order_by(
            "start"
        )
    )  # query 5
    closures: dict[date, str] = {}
    for first, last, reason in Closure.objects.filter(
        first_day__lte=last_day, last_day__gte=first_day
    ).values_list("first_day", "last_day", "reason"):  # query 6
        for offset in range((last - first).days + 1):
            closures.setdefault(first + timedelta(days=offset), reason)

    result = []
    for offset in range(days):
        current = first_day + timedelta(days=offset)
        day_start, day_end = engine.day_span(current, zone)
        result.append(
            Day(
                day=current,
                hours=periods.get(current.weekday(), []),
                time_off=[o for o in absences if o.start < day_end and o.end > day_start],
                closed=closures.get(current),
                visits=[v for v in visits if day_start <= v.appointment.start < day_end],
            )
        )
    return TherapistDays(therapist=therapist, zone=zone, days=result)


def _add_health(visits: list[Visit]) -> None:
    """Each visit's flags, and the staff notes of the rules behind them: the answers are
    matched against today's rules (booking/intake.py) here and never leave this function."""
    flagged = [v for v in visits if v.intake is not None and v.intake.flagged]
    for visit in flagged:
        visit.flags = [str(key) for key in (visit.intake.flags or [])]
    if not flagged:
        return
    rules = [rule for rule in intake_service.rules_for(None) if rule.staff_note]  # query 3
    for visit in flagged:
        answers = rules_engine.answers_from_dict(visit.intake.answers)
        matched = rules_engine.evaluate(
            answers=answers, rules=rules, technique_id=visit.appointment.technique_id
        ).matched
        seen: list[str] = []
        for rule in matched:
            if rule.outcome != RuleOutcome.ALLOW and rule.question_key in visit.flags:
                if rule.staff_note not in seen:
                    seen.append(rule.staff_note)
        visit.rule_notes = seen
