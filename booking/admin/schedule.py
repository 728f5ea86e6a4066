"""The staff schedule: one day with a column per therapist (or per room), one
therapist's week, or everyone's week as a table.

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
from ..choices import OCCUPYING_STATUSES, AppointmentStatus
from ..forms import parse_iso_date
from ..models import Appointment, Room, Therapist
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
    # The booking just made from a free gap of this schedule, drawn out so the eye finds it.
    new: bool = False
    anchor: str = ""


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


@dataclass
class WeekCell:
    """One therapist's day in everyone's week: their hours and appointments in words."""

    day: date
    note: str  # their hours, "Not working", "Time off: ...", "Closed: ..."
    items: list[Item] = field(default_factory=list)
    today: bool = False


@dataclass
class WeekRow:
    therapist: Therapist
    href: str  # their own week
    cells: list[WeekCell] = field(default_factory=list)


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
    new_id: int | None = None

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
        # The appointment just booked from a free gap (see AppointmentAdmin.response_add).
        raw_new = request.GET.get("new", "")
        self.new_id = int(raw_new) if raw_new.isascii() and raw_new.isdigit() and len(raw_new) < 12 else None
        view = request.GET.get("view", "")
        # Naming a therapist opens their week, unless the day is asked for.
        if therapist is not None and (view == "week" or ("therapist" in request.GET and view != "day")):
            return self.render_to_response(self._week(day, therapist))
        if therapist is None and view == "rooms":
            return self.render_to_response(self._rooms_day(day))
        if therapist is None and view == "week":
            return self.render_to_response(self._team_week(day))
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
            # The three ways to look at the clinic, for those who may see everyone.
            "views": [] if self.own_only else self._views(day),
        }

    def _views(self, day: date) -> list[dict]:
        asked = self.request.GET.get("view", "")
        if "therapist" in self.request.GET and asked != "day":
            asked = "one"
        current = asked if asked in ("rooms", "week", "one") else "day"
        return [
            {"label": label, "href": self._link(day, None, view=key), "current": key == current}
            for key, label in (
                ("day", _("Day, by therapist")),
                ("rooms", _("Day, by room")),
                ("week", _("Week, everyone")),
            )
        ]

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
            if appointment.room_id:
                detail += f" · {appointment.room.name}"
            return Item(
                kind=str(block.kind),
                style=_style(block),
                when=when,
                title=appointment.client_name,
                detail=detail,
                status=appointment.get_status_display(),
                href=reverse("admin:booking_appointment_change", args=[appointment.pk]),
                flags=admin_intake.appointment_flag_labels(appointment),
                new=appointment.pk == self.new_id,
                anchor=f"appointment-{appointment.pk}",
            )
        if block.kind == kind.FREE:
            href = ""
            if self.request.user.has_perm("booking.add_appointment"):
                # "from": once booked, back to this day with the new booking shown.
                query = urlencode({"therapist": therapist.pk, "start": start.isoformat(), "from": "schedule"})
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

    def _rooms_day(self, day: date) -> dict:
        """One day with a column per room: each session, the room's turnover after it, and
        a session for two once (its two seats share the room). Six queries."""
        data = selectors.schedule_load(first_day=day)
        rooms = selectors.schedule_rooms(data)  # query 6
        zone = data.zone
        context = self._base_context(day, None)
        closed = data.closures.get(day)
        day_start, day_end = engine.day_span(day, zone)
        todays = [
            a
            for items in data.appointments.values()
            for a in items
            if a.start < day_end and a.end > day_start
        ]
        hours = dayplan.display_hours(
            periods=[p for t in data.therapists for p in data.periods(t) if p.weekday == day.weekday()],
            spans=[(a.start, a.room_until or a.occupied_until) for a in todays],
            days=[day],
            tz=zone,
        )
        window = dayplan.window_for(day, zone, hours)
        # A session: the appointments of one reference in one room (one, or two seats).
        sessions: dict[tuple[int | None, str], list[Appointment]] = {}
        for a in sorted(todays, key=lambda a: (a.start, a.seat, a.pk)):
            sessions.setdefault((a.room_id, a.reference), []).append(a)
        by_room: dict[int | None, list[list[Appointment]]] = {}
        for (room_id, _reference), seats in sessions.items():
            by_room.setdefault(room_id, []).append(seats)
        columns: list[tuple[Room | None, list[list[Appointment]]]] = [
            (r, by_room.get(r.pk, [])) for r in rooms
        ]
        if by_room.get(None):
            # Booked before the rooms were set up (or while none was in use): shown apart.
            columns.append((None, by_room[None]))
        # The schedule's appointments come without their therapist: take it from the list.
        self.therapist_names = {t.pk: t.name for t in data.therapists}
        for room, room_sessions in columns:
            context["columns"].append(self._room_column(room, room_sessions, day, window, closed))
        context.update(
            mode="rooms",
            closed_reason=closed,
            no_rooms=not rooms,
            marks=self._marks(window),
            height_px=self._height(window),
            previous_href=self._link(day - timedelta(days=1), None, view="rooms"),
            next_href=self._link(day + timedelta(days=1), None, view="rooms"),
            today_href=self._link(self.today, None, view="rooms"),
            heading=_("%(day)s, by room") % {"day": formats.date_format(day, "l j F Y")},
        )
        return context

    def _room_column(
        self,
        room: Room | None,
        room_sessions: list[list[Appointment]],
        day: date,
        window: tuple[datetime, datetime],
        closed: str | None,
    ) -> Column:
        first = {seats[0].pk: seats for seats in room_sessions}
        uses = [
            dayplan.RoomUse(
                key=seats[0].pk,
                start=seats[0].start,
                end=max(a.end for a in seats),
                until=max((a.room_until or a.end) for a in seats),
                occupies=any(a.status in OCCUPYING_STATUSES for a in seats),
            )
            for seats in room_sessions
        ]
        blocks = dayplan.plan_room_day(window=window, uses=uses)
        booked = sum(1 for u in uses if u.occupies)
        summary = ngettext("%(n)s session", "%(n)s sessions", booked) % {"n": booked}
        if room is None:
            heading, hours = _("No room"), _("Booked without a room")
            href = ""
        else:
            tables = _("two tables") if room.capacity == 2 else _("one table")
            turnover = _("%(n)s min turnover") % {"n": room.turnover_minutes}
            hours = f"{tables} · {turnover}" if room.turnover_minutes else tables
            heading = room.name if room.active else _("%(name)s (not in use)") % {"name": room.name}
            query = urlencode(
                {"room__id__exact": room.pk, "from_date": day.isoformat(), "to_date": day.isoformat()}
            )
            href = f"{reverse('admin:booking_appointment_changelist')}?{query}"
        if closed is not None:
            summary = _("Closed: %(reason)s") % {"reason": closed} + " · " + summary
        column = Column(heading=heading, heading_href=href, hours=hours, summary=summary)
        column.shading = [Item(kind="working", style="top:0%;height:100%", when="", title="")]
        for block in blocks:
            if block.kind == dayplan.Kind.TURNOVER:
                column.items.append(Item(kind="turnover", style=_style(block), when="", title=""))
                continue
            seats = first[block.key]
            start, end = block.start.astimezone(self.zone), block.end.astimezone(self.zone)
            lead = seats[0]
            detail = f"{lead.technique.name}, {lead.duration_minutes} min · " + " & ".join(
                self.therapist_names.get(a.therapist_id, "") for a in seats
            )
            column.items.append(
                Item(
                    kind=str(block.kind),
                    style=_style(block),
                    when=f"{_clock(start)}–{_clock(end)}",
                    title=" & ".join(a.client_name for a in seats),
                    detail=detail,
                    status=lead.get_status_display(),
                    href=reverse("admin:booking_appointment_change", args=[lead.pk]),
                    flags=[flag for a in seats for flag in admin_intake.appointment_flag_labels(a)],
                    new=any(a.pk == self.new_id for a in seats),
                    anchor=f"appointment-{lead.pk}",
                )
            )
        column.has_cancelled = any(b.kind == dayplan.Kind.CANCELLED for b in blocks)
        return column

    def _team_week(self, day: date) -> dict:
        """Everyone's week as a table: a row per therapist, a cell per day with their
        hours and appointments in words. Five queries, whatever the numbers."""
        monday = day - timedelta(days=day.weekday())
        days = [monday + timedelta(days=offset) for offset in range(7)]
        data = selectors.schedule_load(first_day=monday, days=7)
        zone = data.zone
        context = self._base_context(day, None)
        spans = {d: engine.day_span(d, zone) for d in days}
        rows = []
        for t in data.therapists:
            periods = data.periods(t)
            row = WeekRow(therapist=t, href=self._link(monday, t))
            for d in days:
                d_start, d_end = spans[d]
                todays = [p for p in periods if p.weekday == d.weekday()]
                away = [o for o in data.time_off.get(t.pk, []) if o.start < d_end and o.end > d_start]
                hours = ", ".join(f"{_clock(p.start)}–{_clock(p.end)}" for p in todays)
                if d in data.closures:
                    note = _("Closed: %(reason)s") % {"reason": data.closures[d]}
                elif not todays:
                    note = _("Not working")
                elif away and any(o.start <= d_start and o.end >= d_end for o in away):
                    note = _("Time off: %(reason)s") % {"reason": away[0].reason or _("away")}
                else:
                    # Part of the day off: the hours, then when they are away and why.
                    note = " · ".join(
                        [hours]
                        + [
                            _("off %(span)s") % {"span": self._span_on(o.start, o.end, d_start, d_end)}
                            + (f" ({o.reason})" if o.reason else "")
                            for o in away
                        ]
                    )
                cell = WeekCell(day=d, note=note, today=d == self.today)
                for a in data.appointments.get(t.pk, []):
                    if not (a.start < d_end and a.end > d_start):
                        continue
                    start = a.start.astimezone(zone)
                    detail = f"{a.technique.name}, {a.duration_minutes} min"
                    if a.room_id:
                        detail += f" · {a.room.name}"
                    cell.items.append(
                        Item(
                            kind="booked" if a.status in OCCUPYING_STATUSES else "cancelled",
                            style="",
                            when=_clock(start),
                            title=a.client_name,
                            detail=detail,
                            # Only what is unusual is spelled out: confirmed is the rule.
                            status="" if a.status == AppointmentStatus.CONFIRMED else a.get_status_display(),
                            href=reverse("admin:booking_appointment_change", args=[a.pk]),
                            new=a.pk == self.new_id,
                            anchor=f"appointment-{a.pk}",
                        )
                    )
                row.cells.append(cell)
            rows.append(row)
        context.update(
            mode="team-week",
            week_rows=rows,
            week_days=[
                {
                    "label": formats.date_format(d, "D j M"),
                    "href": self._link(d, None),
                    "today": d == self.today,
                    "closed": d in data.closures,
                }
                for d in days
            ],
            previous_href=self._link(monday - timedelta(days=7), None, view="week"),
            next_href=self._link(monday + timedelta(days=7), None, view="week"),
            today_href=self._link(self.today, None, view="week"),
            heading=_("Everyone, week of %(day)s") % {"day": formats.date_format(monday, "j F Y")},
        )
        return context

    # ------------------------------------------------------------------ helpers

    def _span_on(self, start: datetime, end: datetime, day_start: datetime, day_end: datetime) -> str:
        """The part of [start, end) on one day, as local clock times."""
        first, last = max(start, day_start).astimezone(self.zone), min(end, day_end).astimezone(self.zone)
        return f"{_clock(first)}–{_clock(last)}"

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
