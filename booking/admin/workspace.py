"""A therapist's "My days" (issue 15): today and the next six days on a phone, one card
per appointment with what is needed at the table (the client's preferences, the visit's
health flags and what the rules say about them, the client's last signed treatment note),
buttons to mark a visit completed or a no-show once it has started, and the way to its
treatment note.

Reads come from booking.workspace_selectors in a fixed number of queries; marking goes
through services.appointments.appointment_mark; notes are written in the treatment-note
admin (booking/admin/notes.py). Every look at health data the page shows is recorded
(services.privacy), in one query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import TemplateView

from .. import roles, selectors, workspace_selectors
from ..choices import AppointmentStatus, HealthAccessKind, Pressure
from ..forms import parse_iso_date
from ..models import Appointment, Therapist
from ..services import appointments, notes, privacy
from .intake import flag_label

DAYS = 7
LARGEST_ID = 2**63 - 1  # beyond the databases' integers: no such row, not an error
MARKS = {
    AppointmentStatus.COMPLETED.value: AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW.value: AppointmentStatus.NO_SHOW,
}


def _clock(moment: datetime, zone) -> str:
    return formats.time_format(moment.astimezone(zone), "H:i")


def _id(raw: str) -> int | None:
    """A row id typed into an address, or None when it cannot be one."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > LARGEST_ID:
        return None
    return int(raw)


def my_days_url(*, day: date | None = None, therapist_id: int | None = None, anchor: str = "") -> str:
    query = {}
    if day is not None:
        query["day"] = day.isoformat()
    if therapist_id is not None:
        query["therapist"] = therapist_id
    url = reverse("admin:booking_my_days")
    return (f"{url}?{urlencode(query)}" if query else url) + (f"#{anchor}" if anchor else "")


def return_url(request) -> str | None:
    """The ``next`` address a page reached from My days may return to: only My days
    itself, on this site (never an address from elsewhere)."""
    raw = request.GET.get("next", "")
    if not raw.startswith(reverse("admin:booking_my_days")) or ".." in raw or "\\" in raw:
        return None
    return raw if url_has_allowed_host_and_scheme(raw, {request.get_host()}, request.is_secure()) else None


@dataclass
class Card:
    """One appointment, in words, for the template."""

    anchor: str
    when: str
    length: str
    technique: str
    room: str
    client: str
    status: str
    status_code: str
    href: str
    cancelled: bool
    preferences: list[tuple[str, str]] = field(default_factory=list)
    client_notes: str = ""
    flags: list[str] = field(default_factory=list)
    rule_notes: list[str] = field(default_factory=list)
    last_note: dict | None = None
    note_link: dict | None = None
    marks: list[dict] = field(default_factory=list)  # the buttons: {"status", "label", "correction"}
    mark_url: str = ""


@dataclass
class DayCard:
    day: date
    heading: str
    summary: str
    today: bool
    cards: list[Card] = field(default_factory=list)


class MyDaysView(TemplateView):
    """admin/booking/my-days/: the signed-in therapist's own days (a manager may pass
    ``?therapist=<id>`` to look at one therapist's)."""

    template_name = "admin/booking/my_days.html"
    admin_site = None

    def get(self, request, *args, **kwargs):
        zone = selectors.clinic_zone()
        self.now = timezone.now()
        self.today = self.now.astimezone(zone).date()
        therapist = self._therapist(request)
        if therapist is None:
            return self._forbidden(request)
        raw = request.GET.get("day", "")
        try:
            first_day = parse_iso_date(raw) if raw else self.today
            # The last day shown, and the week after it, must still be a date.
            first_day + timedelta(days=2 * DAYS)
        except (ValueError, OverflowError):
            context = self._base_context(therapist, self.today)
            context["date_error"] = _(
                "“%(value)s” is not a date. Use the picker, or write it as 2026-11-24."
            ) % {"value": raw[:40]}
            return self.render_to_response(context, status=400)
        with_health = request.user.has_perm("booking.view_health_data")
        data = workspace_selectors.therapist_days(
            therapist=therapist, first_day=first_day, reader=request.user, days=DAYS, with_health=with_health
        )
        context = self._base_context(therapist, first_day)
        context["days"] = [self._day(day, data.zone) for day in data.days]
        # What the page shows of health data is recorded as seen, all in one query.
        looks = [
            (v.appointment.client, HealthAccessKind.INTAKE, v.intake.pk)
            for v in data.visits
            if v.flags and v.intake is not None
        ]
        looks += [
            (v.appointment.client, HealthAccessKind.NOTE, v.last_note.pk) for v in data.visits if v.last_note
        ]
        privacy.health_access_record_many(user=request.user, looks=looks)
        return self.render_to_response(context)

    # ------------------------------------------------------------------ who

    def _therapist(self, request) -> Therapist | None:
        """The therapist whose days are shown: the user's own, or (a manager) the one
        asked for. None: the user has none of their own and may not choose (a 403)."""
        user = request.user
        own = getattr(user, "therapist", None)
        raw = request.GET.get("therapist", "")
        if not raw:
            return own
        wanted = _id(raw)
        if own is not None and wanted == own.pk:
            return own
        if not roles.is_manager(user):
            if own is None:
                return None
            # Another therapist's days, or no such therapist: the same answer.
            raise Http404(_("No such therapist."))
        therapist = Therapist.objects.filter(pk=wanted).first() if wanted is not None else None
        if therapist is None:
            raise Http404(_("No such therapist."))
        return therapist

    def _forbidden(self, request):
        manager = roles.is_manager(request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": _("My days"),
            "forbidden": True,
            "therapist_choices": (
                list(Therapist.objects.order_by("name", "id").only("pk", "name")) if manager else []
            ),
        }
        return self.render_to_response(context, status=403)

    # ------------------------------------------------------------------ what

    def _base_context(self, therapist: Therapist, first_day: date) -> dict:
        request = self.request
        own = getattr(request.user, "therapist", None)
        someone_else = own is None or own.pk != therapist.pk
        therapist_id = therapist.pk if someone_else else None
        self.therapist_id = therapist_id
        self.first_day = first_day
        return {
            **self.admin_site.each_context(request),
            "title": _("My days") if not someone_else else _("%(name)s's days") % {"name": therapist.name},
            "therapist": therapist,
            "someone_else": someone_else,
            "first_day": first_day,
            "days": [],
            "previous_href": my_days_url(day=first_day - timedelta(days=DAYS), therapist_id=therapist_id),
            "next_href": my_days_url(day=first_day + timedelta(days=DAYS), therapist_id=therapist_id),
            "today_href": my_days_url(therapist_id=therapist_id),
            "showing_today": first_day == self.today,
        }

    def _day(self, day: workspace_selectors.Day, zone) -> DayCard:
        when = formats.date_format(day.day, "l j F")
        if day.day == self.today:
            heading = _("Today, %(day)s") % {"day": when}
        elif day.day == self.today + timedelta(days=1):
            heading = _("Tomorrow, %(day)s") % {"day": when}
        else:
            heading = when
        return DayCard(
            day=day.day,
            heading=heading,
            summary=self._summary(day, zone),
            today=day.day == self.today,
            cards=[self._card(visit, zone) for visit in day.visits],
        )

    def _summary(self, day: workspace_selectors.Day, zone) -> str:
        booked = sum(1 for v in day.visits if v.appointment.status != AppointmentStatus.CANCELLED)
        if day.closed is not None:
            parts = [_("Clinic closed: %(reason)s") % {"reason": day.closed}]
        elif not day.hours:
            parts = [_("Not working")]
        else:
            hours = [f"{formats.time_format(a, 'H:i')}–{formats.time_format(b, 'H:i')}" for a, b in day.hours]
            parts = [", ".join(hours)]
            for off in day.time_off:
                span = f"{_clock(off.start, zone)}–{_clock(off.end, zone)}"
                parts.append(
                    _("time off %(span)s (%(reason)s)") % {"span": span, "reason": off.reason}
                    if off.reason
                    else _("time off %(span)s") % {"span": span}
                )
        parts.append(
            ngettext("%(n)s appointment", "%(n)s appointments", booked) % {"n": booked}
            if booked
            else _("nothing booked")
        )
        return " · ".join(parts)

    def _card(self, visit: workspace_selectors.Visit, zone) -> Card:
        appointment = visit.appointment
        client = appointment.client
        status = AppointmentStatus(appointment.status)
        card = Card(
            anchor=f"appointment-{appointment.pk}",
            when=f"{_clock(appointment.start, zone)}–{_clock(appointment.end, zone)}",
            length=_("%(n)s min") % {"n": appointment.duration_minutes},
            technique=appointment.technique.name,
            room=appointment.room.name if appointment.room_id else "",
            client=appointment.client_name,
            status=status.label,
            status_code=status.value,
            href=reverse("admin:booking_appointment_change", args=[appointment.pk]),
            cancelled=status == AppointmentStatus.CANCELLED,
            client_notes=appointment.client_notes,
        )
        if client.pressure:
            card.preferences.append((_("Pressure"), Pressure(client.pressure).label))
        if client.areas_to_avoid:
            card.preferences.append((_("Areas to avoid"), client.areas_to_avoid))
        if client.preference_notes:
            card.preferences.append((_("Other preferences"), client.preference_notes))
        card.flags = [flag_label(key) for key in visit.flags]
        card.rule_notes = visit.rule_notes
        if visit.last_note is not None:
            note = visit.last_note
            card.last_note = {
                "when": formats.date_format(note.appointment.start.astimezone(zone), "j F Y"),
                "assessment": note.assessment or "",
                "plan": note.plan or "",
                "href": self._with_next(
                    reverse("admin:booking_treatmentnote_change", args=[note.pk]), appointment
                ),
            }
        card.note_link = self._note_link(visit)
        # Buttons once it has started, never for a cancelled one (appointment_mark decides;
        # this only spares the therapist a button that would be refused).
        if not card.cancelled and appointment.start <= self.now and self._may_mark(appointment):
            card.mark_url = reverse("admin:booking_my_days_mark", args=[appointment.pk])
            # Once marked, the other button corrects a mistake, and says so.
            marked = appointment.status in MARKS
            card.marks = [
                {"status": code, "label": correction if marked else label, "correction": marked}
                for code, label, correction in (
                    (AppointmentStatus.COMPLETED.value, _("Completed"), _("Change to completed")),
                    (AppointmentStatus.NO_SHOW.value, _("No-show"), _("Change to no-show")),
                )
                if code != appointment.status
            ]
        return card

    def _may_mark(self, appointment: Appointment) -> bool:
        user = self.request.user
        return user.has_perm("booking.change_appointment") or notes.is_treating_therapist(user, appointment)

    def _note_link(self, visit: workspace_selectors.Visit) -> dict | None:
        """ "Write note" or "Open note" for the treating therapist; a manager looking
        reads a note that exists. Nobody else gets a link."""
        user = self.request.user
        appointment = visit.appointment
        note = visit.note
        if note is not None:
            if note.deleted_at is not None or not notes.can_read(user, appointment):
                return None
            label = _("Open note") if note.signed_at else _("Finish the note")
            url = reverse("admin:booking_treatmentnote_change", args=[note.pk])
            return {"href": self._with_next(url, appointment), "label": label}
        if user.has_perm("booking.add_treatmentnote") and notes.can_write(user, appointment, now=self.now):
            url = f"{reverse('admin:booking_treatmentnote_add')}?{urlencode({'appointment': appointment.pk})}"
            return {"href": self._with_next(url, appointment), "label": _("Write note")}
        return None

    def _with_next(self, url: str, appointment: Appointment) -> str:
        back = my_days_url(
            day=self.first_day, therapist_id=self.therapist_id, anchor=f"appointment-{appointment.pk}"
        )
        return f"{url}{'&' if '?' in url else '?'}{urlencode({'next': back})}"


class MarkView(View):
    """POST admin/booking/my-days/<id>/mark/ with ``status`` completed or no_show: the
    treating therapist (or staff who may change appointments) records what happened.
    Marking again is harmless. Back to My days either way, with a message."""

    admin_site = None
    http_method_names = ["post"]

    def post(self, request, appointment_id: str):
        user = request.user
        may_change_any = user.has_perm("booking.change_appointment")
        own = getattr(user, "therapist", None)
        if own is None and not may_change_any:
            raise PermissionDenied
        status = MARKS.get(request.POST.get("status", ""))
        if status is None:
            return HttpResponseBadRequest(_("Mark it completed or a no-show."))
        pk = _id(appointment_id)
        if pk is None:
            raise Http404(_("No such appointment."))
        queryset = Appointment.objects.bookings().select_related("technique", "therapist")
        if not may_change_any:
            queryset = queryset.filter(therapist=own)  # someone else's: not found
        appointment = get_object_or_404(queryset, pk=pk)
        before = AppointmentStatus(appointment.status)
        try:
            appointments.appointment_mark(appointment=appointment, status=status)
        except ValidationError as error:
            messages.warning(request, _("Not changed: %(reason)s") % {"reason": " ".join(error.messages)})
        else:
            if before != status:
                model_admin = self.admin_site._registry[Appointment]
                model_admin.log_change(
                    request,
                    appointment,
                    _("Status: %(before)s → %(after)s") % {"before": before.label, "after": status.label},
                )
            messages.success(
                request,
                _("%(time)s, %(client)s: marked %(status)s.")
                % {
                    "time": _clock(appointment.start, selectors.clinic_zone()),
                    "client": appointment.client_name,
                    "status": status.label.lower(),
                },
            )
        return HttpResponseRedirect(self._back(request, appointment))

    @staticmethod
    def _back(request, appointment: Appointment) -> str:
        """My days as it was (the week shown, whose days), at the card just marked."""
        try:
            day = parse_iso_date(request.POST.get("day", ""))
            day + timedelta(days=2 * DAYS)
        except (ValueError, OverflowError):
            day = None
        therapist_id = _id(request.POST.get("therapist", ""))
        return my_days_url(day=day, therapist_id=therapist_id, anchor=f"appointment-{appointment.pk}")
