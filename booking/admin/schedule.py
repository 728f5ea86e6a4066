"""The staff schedule: one day with a column per therapist, or one therapist's week.

The layout itself is pure (``dayplan.py``); this view reads the query string, loads the
data in a fixed number of queries (``selectors.schedule_load``) and turns the plans into
labelled items for the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from .. import availability as engine
from .. import dayplan, roles, selectors
from ..choices import OCCUPYING_STATUSES
from ..forms import parse_iso_date
from ..models import Appointment, Therapist
from . import intake as admin_intake

HOUR_HEIGHT_PX = 72  # tall enough for two lines in a 30-minute appointment


def _clock(moment) -> str:
    """A wall time in 24-hour hours and minutes, through Django's formatting."""
    return formats.time_format(moment, "H:i")


@dataclass
class Item:
    """One positioned, labelled thing in a column."""

    kind: str
    style: str
    when: str
    title: str
    detail: str = ""
    href: str = ""
    status: str = ""
    flags: list[str] = field(default_factory=list)  # "Health flag: pregnancy", never answers


@dataclass
class Column:
    heading: str
    heading_href: str
    hours: str  # the working periods in words
    summary: str
    items: list[Item] = field(default_factory=list)
    shading: list[Item] = field(default_factory=list)  # working/away backdrop, not read aloud
    today: bool = False
    # Cancelled appointments are drawn in a narrow lane at the side, so the free time
    # they left stays in view and its link can be clicked.
    has_cancelled: bool = False


def _duration_words(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}
    if hours:
        return _("%(h)s h") % {"h": hours}
    return _("%(m)s min") % {"m": rest}


def _style(block: dayplan.Block) -> str:
    return f"top:{block.top:.3f}%;height:{block.height:.3f}%"


class ScheduleView(TemplateView):
    template_name = "admin/booking/schedule.html"
    admin_site = None

    def get(self, request, *args, **kwargs):
        if not request.user.has_perm("booking.view_appointment"):
            raise PermissionDenied
        zone = selectors.clinic_zone()
        self.zone = zone
        self.own_only = roles.sees_only_own_appointments(request.user)
        self.today = timezone.now().astimezone(zone).date()
        raw = request.GET.get("date", "")
        try:
            day = parse_iso_date(raw) if raw else self.today
        except ValueError:
            context = self._base_context(self.today, None)
            context["date_error"] = _(
                "“%(value)s” is not a date. Use the picker, or write it as 2026-11-24."
            ) % {"value": raw[:40]}
            return self.render_to_response(context, status=400)
        therapist = self._therapist(request)
        if therapist is None and self.own_only:
            context = self._base_context(day, None)
            context["unlinked"] = True
            return self.render_to_response(context)
        view = request.GET.get("view", "")
        # Naming a therapist opens their week, unless the day is asked for.
        if therapist is not None and (view == "week" or ("therapist" in request.GET and view != "day")):
            return self.render_to_response(self._week(day, therapist))
        return self.render_to_response(self._day(day, therapist))

    def _therapist(self, request) -> Therapist | None:
        """The therapist asked for, or the user's own when they may see only theirs."""
        own = self.own_only
        mine = getattr(request.user, "therapist", None) if own else None
        raw = request.GET.get("therapist", "")
        if not raw:
            return mine
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise Http404(_("No such therapist."))
        therapist = Therapist.objects.filter(pk=int(raw)).first()
        if therapist is None or (own and therapist != mine):
            raise Http404(_("No such therapist."))
        return therapist

    # ------------------------------------------------------------------ contexts

    def _base_context(self, day: date, therapist: Therapist | None) -> dict:
        return {
            **self.admin_site.each_context(self.request),
            "title": _("Schedule"),
            "day": day,
            "today": self.today,
            "therapist": therapist,
            "can_choose_therapist": not self.own_only,
            "therapist_choices": (
                Therapist.objects.order_by("name", "id").only("pk", "name") if not self.own_only else []
            ),
            "columns": [],
            "marks": [],
        }

    def _day(self, day: date, therapist: Therapist | None) -> dict:
        data = selectors.schedule_load(first_day=day, therapist=therapist)
        context = self._base_context(day, therapist)
        closed = data.closures.get(day)
        shown, resting = [], []
        for t in data.therapists:
            periods = data.periods(t)
            works = any(p.weekday == day.weekday() for p in periods)
            if works or data.appointments.get(t.pk) or data.time_off.get(t.pk) or therapist:
                shown.append(t)
            else:
                resting.append(t)
        hours = dayplan.display_hours(
            periods=[p for t in shown for p in data.periods(t) if p.weekday == day.weekday()],
            spans=[(a.start, a.occupied_until) for t in shown for a in data.appointments.get(t.pk, [])],
            days=[day],
            tz=data.zone,
        )
        window = dayplan.window_for(day, data.zone, hours)
        for t in shown:
            column = self._column(data, t, day, window, closed)
            column.heading = t.name
            column.heading_href = self._link(day, t)
            context["columns"].append(column)
        context.update(
            mode="day",
            closed_reason=closed,
            resting=resting,
            marks=self._marks(window),
            height_px=self._height(window),
            previous_href=self._link(day - timedelta(days=1), therapist, view="day" if therapist else ""),
            next_href=self._link(day + timedelta(days=1), therapist, view="day" if therapist else ""),
            today_href=self._link(self.today, therapist, view="day" if therapist else ""),
            heading=formats.date_format(day, "l j F Y"),
        )
        if therapist:
            context["week_href"] = self._link(day, therapist)
        return context

    def _week(self, day: date, therapist: Therapist) -> dict:
        monday = day - timedelta(days=day.weekday())
        data = selectors.schedule_load(first_day=monday, days=7, therapist=therapist)
        therapist = data.therapists[0]  # the same one, with its hours prefetched
        context = self._base_context(day, therapist)
        periods = data.periods(therapist)
        hours = dayplan.display_hours(
            periods=periods,
            spans=[(a.start, a.occupied_until) for a in data.appointments.get(therapist.pk, [])],
            days=[monday + timedelta(days=offset) for offset in range(7)],
            tz=data.zone,
        )
        windows = []
        for offset in range(7):
            current = monday + timedelta(days=offset)
            window = dayplan.window_for(current, data.zone, hours)
            windows.append(window)
            column = self._column(data, therapist, current, window, data.closures.get(current))
            column.heading = formats.date_format(current, "D j M")
            column.heading_href = self._link(current, None)
            column.today = current == self.today
            context["columns"].append(column)
        # The week shares one wall-clock axis. On the day the clocks change, that day's
        # blocks are drawn in real time, so they drift from the labels only when the shown
        # hours take in the changed hour itself (the small hours, outside a working day).
        axis = windows[0]
        context.update(
            mode="week",
            marks=self._marks(axis),
            height_px=self._height(axis),
            previous_href=self._link(monday - timedelta(days=7), therapist),
            next_href=self._link(monday + timedelta(days=7), therapist),
            today_href=self._link(self.today, therapist),
            day_href=self._link(day, None),
            heading=_("%(name)s, week of %(day)s")
            % {"name": therapist.name, "day": f"{monday.day} {monday:%B %Y}"},
        )
        return context

    # ------------------------------------------------------------------ columns

    def _column(
        self,
        data: selectors.ScheduleData,
        therapist: Therapist,
        day: date,
        window: tuple[datetime, datetime],
        closed: str | None,
    ) -> Column:
        zone = data.zone
        day_start, day_end = engine.day_span(day, zone)
        # Those that start, end or run through this day: one crossing midnight shows on both.
        appointments = [
            a for a in data.appointments.get(therapist.pk, []) if a.start < day_end and a.end > day_start
        ]
        by_id = {a.pk: a for a in appointments}
        periods = data.periods(therapist)
        plan = dayplan.plan_day(
            day=day,
            tz=zone,
            window=window,
            periods=periods,
            time_off=[dayplan.Absence(o.start, o.end, o.reason) for o in data.time_off.get(therapist.pk, [])],
            bookings=[
                dayplan.Booking(a.pk, a.start, a.end, a.occupied_until, a.status in OCCUPYING_STATUSES)
                for a in appointments
            ],
            closed_reason=closed,
        )
        todays = [p for p in periods if p.weekday == day.weekday()]
        hours = ", ".join(f"{_clock(p.start)}–{_clock(p.end)}" for p in todays) or _("Not working")
        # A waitlist hold (issue 14) takes the time but is not a booking (yet).
        booked = sum(1 for a in appointments if a.status in OCCUPYING_STATUSES and a.held_until is None)
        summary = (
            _("Closed: %(reason)s") % {"reason": closed}
            if closed is not None
            else ngettext("%(n)s booked", "%(n)s booked", booked) % {"n": booked}
            + (
                " · " + _("%(time)s free") % {"time": _duration_words(plan.free_minutes)}
                if plan.works and therapist.active
                else ""
            )
            + ("" if therapist.active else " · " + _("not taking bookings"))
        )
        column = Column(heading="", heading_href="", hours=hours, summary=summary)
        column.shading = [
            Item(kind=str(b.kind), style=_style(b), when="", title="")
            for b in plan.background
            if b.kind in (dayplan.Kind.WORKING, dayplan.Kind.AWAY)
        ]
        # An inactive therapist cannot be booked: their gaps are not offered as free.
        spoken = [b for b in plan.timeline() if therapist.active or b.kind != dayplan.Kind.FREE]
        column.items = [self._item(block, by_id, therapist) for block in spoken]
        column.items += [
            Item(kind="cleanup", style=_style(b), when="", title="")
            for b in plan.bookings
            if b.kind == "cleanup"
        ]
        column.has_cancelled = any(b.kind == dayplan.Kind.CANCELLED for b in plan.bookings)
        return column

    def _item(self, block: dayplan.Block, by_id: dict[int, Appointment], therapist: Therapist) -> Item:
        start, end = block.start.astimezone(self.zone), block.end.astimezone(self.zone)
        when = f"{_clock(start)}–{_clock(end)}"
        kind = dayplan.Kind
        if block.kind in (kind.BOOKED, kind.CANCELLED):
            appointment = by_id[block.key]
            detail = f"{appointment.technique.name}, {appointment.duration_minutes} min"
            return Item(
                kind=str(block.kind),
                style=_style(block),
                when=when,
                title=appointment.client_name,
                detail=detail,
                status=appointment.get_status_display(),
                href=reverse("admin:booking_appointment_change", args=[appointment.pk]),
                flags=admin_intake.appointment_flag_labels(appointment),
            )
        if block.kind == kind.FREE:
            href = ""
            if self.request.user.has_perm("booking.add_appointment"):
                query = urlencode({"therapist": therapist.pk, "start": start.isoformat()})
                href = f"{reverse('admin:booking_appointment_add')}?{query}"
            return Item(
                kind="free",
                style=_style(block),
                when=when,
                title=_("Free"),
                detail=_duration_words(block.minutes),
                href=href,
            )
        titles = {kind.BREAK: _("Break"), kind.OFF: _("Time off"), kind.CLOSED: _("Clinic closed")}
        return Item(
            kind=str(block.kind),
            style=_style(block),
            when=when,
            title=titles[block.kind],
            detail=block.reason,
        )

    # ------------------------------------------------------------------ helpers

    def _marks(self, window: tuple[datetime, datetime]) -> list[Item]:
        return [
            Item(kind="mark", style=f"top:{top:.3f}%", when=label, title="")
            for top, label in dayplan.hour_marks(*window, self.zone)
        ]

    @staticmethod
    def _height(window: tuple[datetime, datetime]) -> int:
        return max(1, round((window[1] - window[0]).total_seconds() / 3600 * HOUR_HEIGHT_PX))

    def _link(self, day: date, therapist: Therapist | None, view: str = "") -> str:
        query = {"date": day.isoformat()}
        if therapist is not None:
            query["therapist"] = therapist.pk
        if view:
            query["view"] = view
        return f"{reverse('admin:booking_schedule')}?{urlencode(query)}"
