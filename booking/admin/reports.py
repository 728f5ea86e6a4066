"""The manager's reports (issue 15): one page of charts for a date range, each with its
figures in a table and as a CSV download.

The figures are computed by ``booking.reports`` from what ``selectors.reports_load`` reads
(a fixed number of queries); this module reads the range from the query string and chooses
the words. Managers only: the reports show every therapist's figures and the revenue.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from .. import charts, reports, selectors
from ..choices import AppointmentSource, Weekday
from ..exports import safe_cell

PERMISSION = "booking.view_reports"

PRESET_WORDS = {
    reports.Preset.LAST_MONTH: gettext_lazy("Last month"),
    reports.Preset.THIS_MONTH: gettext_lazy("This month"),
    reports.Preset.LAST_3_MONTHS: gettext_lazy("Last 3 months"),
    reports.Preset.LAST_12_MONTHS: gettext_lazy("Last 12 months"),
}

LEAD_WORDS = {
    reports.LeadTime.UNDER_A_DAY: gettext_lazy("Less than a day"),
    reports.LeadTime.DAYS_1_2: gettext_lazy("1 to 2 days"),
    reports.LeadTime.DAYS_3_7: gettext_lazy("3 to 7 days"),
    reports.LeadTime.DAYS_8_14: gettext_lazy("8 to 14 days"),
    reports.LeadTime.DAYS_15_30: gettext_lazy("15 to 30 days"),
    reports.LeadTime.OVER_30: gettext_lazy("More than 30 days"),
}


class RangeForm(forms.Form):
    """The dates asked for: their shape here, the range's rules in ``booking.reports``."""

    start = forms.DateField(label=gettext_lazy("From"), input_formats=["%Y-%m-%d"])
    end = forms.DateField(label=gettext_lazy("To"), input_formats=["%Y-%m-%d"])

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not reports.in_bounds(day):
                self.add_error(
                    name,
                    forms.ValidationError(
                        _("Choose a date between %(first)s and %(last)s."),
                        code="out_of_bounds",
                        params={"first": reports.EARLIEST.year, "last": reports.LATEST.year},
                    ),
                )
        return data


@dataclass
class Section:
    """One report: a chart, its figures as a table (the chart's accessible equivalent) and
    the same figures as a CSV file."""

    slug: str
    title: str
    description: str
    headers: list[str]
    rows: list[list[object]]
    chart: charts.BarChart | None = None
    heat: charts.HeatMap | None = None
    csv_href: str = ""
    notes: list[str] = field(default_factory=list)

    @cached_property
    def table(self) -> list[tuple[str, list[str]]]:
        """The rows as the page's table shows them: the first cell apart (the row's
        heading), the figures localised here once rather than by a filter per cell in the
        template, "–" for none."""
        return [(_cell_text(row[0]), [_cell_text(cell) for cell in row[1:]]) for row in self.rows]


def _cell_text(value: object) -> str:
    """A figure as a template variable would show it (``formats.localize``: the locale's
    date format and decimal mark), "–" when there is none."""
    return "–" if value is None else str(formats.localize(value))


def _percent(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 1)))


def _share(count: int, total: int) -> Decimal | None:
    return _percent(100 * count / total) if total else None


def _percent_text(value: Decimal | None) -> str:
    return "–" if value is None else f"{formats.number_format(value, 1)} %"


def _money(amount: Decimal) -> str:
    return "£" + formats.number_format(amount, 2, force_grouping=True)


def _label(key: object) -> str:
    return formats.date_format(key, "j M Y") if isinstance(key, date) else str(key)


def _utilisation(slug, title, description, key_header, rows, names) -> Section:
    table = [[names(u.key), u.booked, u.available, _percent(u.percent)] for u in rows]
    return Section(
        slug=slug,
        title=title,
        description=description,
        headers=[key_header, _("Booked hands-on minutes"), _("Available minutes"), _("Utilisation (%)")],
        rows=table,
        chart=charts.bar_chart(
            [(_label(row[0]), float(row[3] or 0), _percent_text(row[3])) for row in table], scale_to=100
        ),
    )


def _revenue(slug, title, key_header, rows, names) -> Section:
    return Section(
        slug=slug,
        title=title,
        description=_(
            "Confirmed and completed appointments at the price they were booked at; cancellations "
            "and no-shows are left out."
        ),
        headers=[key_header, _("Appointments"), _("Revenue (£)")],
        rows=[[names(r.key), r.appointments, r.amount] for r in rows],
        chart=charts.bar_chart([(names(r.key), float(r.amount), _money(r.amount)) for r in rows]),
    )


def _counts(slug, title, description, key_header, counts: list[tuple[str, int]], total: int) -> Section:
    rows = [[label, count, _share(count, total)] for label, count in counts]
    return Section(
        slug=slug,
        title=title,
        description=description,
        headers=[key_header, _("Count"), _("Share (%)")],
        rows=rows,
        chart=charts.bar_chart(
            [
                (label, count, f"{formats.number_format(count)} ({_percent_text(share)})")
                for label, count, share in rows
            ]
        ),
    )


def _hours_shown(heat: list[list[int]]) -> range:
    """The clinic's usual day, widened to any hour with a booking."""
    busy = [hour for hour in range(24) if any(row[hour] for row in heat)]
    return range(min([8, *busy]), max([19, *busy]) + 1)


def sections_build(data: selectors.ReportData, result: reports.Reports) -> list[Section]:
    """Every report for the page, in the order managers read them."""

    def therapist(pk):
        return data.therapists.get(pk, _("Therapist %(id)s") % {"id": pk})

    order = {pk: index for index, pk in enumerate(data.therapists)}
    by_therapist = sorted(result.by_therapist, key=lambda u: order.get(u.key, len(order)))
    minutes_words = _(
        "Booked hands-on minutes (confirmed and completed appointments) as a share of the minutes "
        "available: today's weekly working hours on each day, less time off and closures."
    )
    sections = [
        _utilisation(
            "utilisation-therapists",
            _("Utilisation by therapist"),
            minutes_words,
            _("Therapist"),
            by_therapist,
            therapist,
        ),
        _utilisation(
            "utilisation-weeks",
            _("Utilisation by week"),
            minutes_words,
            _("Week starting"),
            result.by_week,
            lambda day: day,
        ),
    ]
    if result.by_room:
        sections.append(
            _utilisation(
                "utilisation-rooms",
                _("Utilisation by room"),
                _(
                    "Booked hands-on minutes in each room as a share of the clinic's opening time "
                    "(whenever anyone works), less closures."
                ),
                _("Room"),
                result.by_room,
                lambda pk: data.rooms.get(pk, ""),
            )
        )
    sections += [
        _revenue(
            "revenue-techniques",
            _("Revenue by technique"),
            _("Technique"),
            result.revenue_by_technique,
            lambda pk: data.techniques.get(pk, ""),
        ),
        _revenue(
            "revenue-therapists",
            _("Revenue by therapist"),
            _("Therapist"),
            result.revenue_by_therapist,
            therapist,
        ),
    ]
    total = result.attendance.bookings
    sections.append(
        _counts(
            "sources",
            _("Bookings by source"),
            _("Every booking for the range, cancelled ones included, by how it was made."),
            _("Booked via"),
            [(str(label), result.sources.get(code, 0)) for code, label in AppointmentSource.choices],
            total,
        )
    )
    attendance = result.attendance
    cutoff_hours = int(data.input.cutoff.total_seconds() // 3600)
    sections.append(
        _counts(
            "attendance",
            _("No-shows and cancellations"),
            _(
                "Out of %(total)s bookings. A late cancellation came less than %(hours)s hours before "
                "the start (the booking policy's cutoff), by the client or by staff."
            )
            % {"total": formats.number_format(total), "hours": cutoff_hours},
            _("What happened"),
            [
                (_("No-shows"), attendance.no_shows),
                (_("Cancellations"), attendance.cancellations),
                (_("Late cancellations"), attendance.late_cancellations),
            ],
            total,
        )
    )
    mix = result.clients
    sections.append(
        _counts(
            "clients",
            _("New and returning clients"),
            _(
                "Clients with an appointment in the range that was not cancelled; new if it was their "
                "first such appointment ever."
            ),
            _("Clients"),
            [(_("New"), mix.new), (_("Returning"), mix.returning)],
            mix.new + mix.returning,
        )
    )
    sections.append(
        _counts(
            "lead-time",
            _("How far ahead clients book"),
            _(
                "Time from making the booking to the start of the appointment, for every booking in "
                "the range (cancelled ones included)."
            ),
            _("Booked ahead"),
            [(str(LEAD_WORDS[bucket]), result.lead_times[bucket]) for bucket in reports.LeadTime],
            total,
        )
    )
    hours = _hours_shown(result.heat)
    days = [str(label) for _, label in Weekday.choices]
    sections.append(
        Section(
            slug="busy-hours",
            title=_("Busiest hours of the week"),
            description=_(
                "Appointments (not cancelled) starting in each hour, by weekday, in the clinic's "
                "local time; the darker, the busier."
            ),
            headers=[_("Day"), *(f"{hour:02d}:00" for hour in hours)],
            rows=[[day, *(result.heat[index][hour] for hour in hours)] for index, day in enumerate(days)],
            heat=charts.heat_map(result.heat, labels=[day[:3] for day in days], hours=hours),
        )
    )
    return sections


def csv_cell(value: object) -> str:
    """A figure as a spreadsheet reads it: ISO dates, plain decimals, no thousands
    separators; text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return safe_cell(value)


def csv_text(section: Section) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # tells Excel the file is UTF-8
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(header) for header in section.headers])
    writer.writerows([csv_cell(cell) for cell in row] for row in section.rows)
    return buffer.getvalue()


class ReportsView(TemplateView):
    template_name = "admin/booking/reports/index.html"
    admin_site = None

    def get(self, request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        self.today = timezone.now().astimezone(selectors.clinic_zone()).date()
        first, last, messages, form, preset = self._range(request)
        data = selectors.reports_load(first=first, last=last)
        sections = sections_build(data, reports.reports_compute(data.input))
        slug = kwargs.get("slug")
        if slug is not None:
            return self._csv(sections, slug, first, last)
        query = urlencode({"start": first.isoformat(), "end": last.isoformat()})
        for section in sections:
            section.csv_href = (
                reverse("admin:booking_reports_csv", kwargs={"slug": section.slug}) + "?" + query
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reports"),
            "form": form,
            "first": first,
            "last": last,
            "range_messages": messages,
            "presets": [
                {"href": "?" + urlencode({"preset": code.value}), "label": words, "current": code == preset}
                for code, words in PRESET_WORDS.items()
            ],
            "sections": sections,
        }
        return self.render_to_response(context)

    def _range(self, request):
        """The range asked for, or last month; with notes on what was changed."""
        messages: list[str] = []
        preset = None
        first, last = reports.preset_range(reports.Preset.LAST_MONTH, self.today)
        raw_preset = request.GET.get("preset", "")
        if raw_preset in reports.Preset._value2member_map_:
            preset = reports.Preset(raw_preset)
            first, last = reports.preset_range(preset, self.today)
            form = RangeForm(initial={"start": first, "end": last})
        elif "start" in request.GET or "end" in request.GET:
            form = RangeForm(request.GET)
            if form.is_valid():
                first, last, notes = reports.range_clamp(form.cleaned_data["start"], form.cleaned_data["end"])
                if reports.RangeNote.SWAPPED in notes:
                    messages.append(_("The end came before the start, so the dates were swapped."))
                if reports.RangeNote.CAPPED in notes:
                    messages.append(
                        _("Reports cover at most %(days)s days, so the range stops on %(last)s.")
                        % {"days": reports.MAX_DAYS, "last": formats.date_format(last)}
                    )
            else:
                messages.append(_("Those dates could not be read, so these are last month's reports."))
        else:
            preset = reports.Preset.LAST_MONTH
            form = RangeForm(initial={"start": first, "end": last})
        return first, last, messages, form, preset

    def _csv(self, sections: list[Section], slug: str, first: date, last: date) -> HttpResponse:
        section = next((s for s in sections if s.slug == slug), None)
        if section is None:
            raise Http404(_("No such report."))
        response = HttpResponse(csv_text(section), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{slug}-{first.isoformat()}-to-{last.isoformat()}.csv"'
        )
        return response
