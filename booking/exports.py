"""Appointments as a spreadsheet (CSV) for staff: local times, and no cell a spreadsheet
would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.translation import gettext as _

from .models import Appointment

# A cell starting with one of these is a formula to Excel, LibreOffice or Sheets, and a
# client controls their own name, email, phone and notes (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def safe_cell(value: object) -> str:
    """The text of ``value``, with a leading apostrophe if a spreadsheet would otherwise
    read it as a formula (the apostrophe makes it plain text and is not shown)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def header() -> list[str]:
    return [
        _("Reference"), _("Date"), _("Start"), _("End"), _("Therapist"), _("Room"), _("Technique"),
        _("Length (min)"), _("Price (£)"), _("Status"), _("Booked via"),
        _("Client name"), _("Client email"), _("Client phone"), _("Booked at"),
    ]  # fmt: skip


def _clock(moment) -> str:
    """24-hour hours and minutes, the same for every language (a spreadsheet sorts them)."""
    return formats.time_format(moment, "H:i")


def _stamp(moment) -> str:
    return formats.date_format(moment, "Y-m-d H:i")


def rows(appointments: Iterable[Appointment], zone: ZoneInfo) -> Iterator[list[str]]:
    """One row per appointment, times in the clinic's zone. Health answers and notes stay
    out: a spreadsheet travels further than the admin. Select ``room`` with the rows
    (issue 12): the room cell is empty when the clinic does not use rooms."""
    for a in appointments:
        start, end = a.start.astimezone(zone), a.end.astimezone(zone)
        yield [
            safe_cell(cell)
            for cell in (
                a.reference, start.date().isoformat(), _clock(start), _clock(end),
                a.therapist.name, a.room.name if a.room_id else "", a.technique.name,
                a.duration_minutes, f"{a.price:.2f}",
                a.get_status_display(), a.get_source_display(),
                a.client_name, a.client_email, a.client_phone,
                _stamp(a.created_at.astimezone(zone)),
            )
        ]  # fmt: skip


def csv_text(appointments: Iterable[Appointment], zone: ZoneInfo) -> str:
    # The byte-order mark tells Excel the file is UTF-8 (names such as "Zoë" stay intact).
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header())
    writer.writerows(rows(appointments, zone))
    return buffer.getvalue()
