"""CSV export of appointments."""

import csv
import io
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from booking.exports import csv_text, header, safe_cell
from tests.conftest import LONDON


def test_formula_starts_are_neutralised():
    for dangerous in (
        '=HYPERLINK("http://x")',
        "+44 7700 900123",
        "-1+2",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "|cmd",
        "%x",
    ):
        assert safe_cell(dangerous) == "'" + dangerous
    for harmless in ("Jane Doe", "07700 900123", "jane@example.com", "", "Zoë O'Neill"):
        assert safe_cell(harmless) == harmless
    assert safe_cell(None) == ""
    assert safe_cell(60) == "60"


def _row(**overrides):
    values = {
        "reference": "ABCD2345",
        "start": datetime(2026, 7, 1, 9, 0, tzinfo=LONDON),  # BST: 08:00 UTC
        "end": datetime(2026, 7, 1, 10, 0, tzinfo=LONDON),
        "created_at": datetime(2026, 6, 1, 12, 0, tzinfo=LONDON),
        "therapist": SimpleNamespace(name="Amara Osei"),
        "technique": SimpleNamespace(name="Swedish"),
        "room_id": None,
        "room": None,
        "duration_minutes": 60,
        "price": Decimal("55"),
        "client_name": "=cmd|' /C calc'!A0",
        "client_email": "zoe@example.com",
        "client_phone": "+44 7700 900123",
        "get_status_display": lambda: "Confirmed",
        "get_source_display": lambda: "Online",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_csv_is_utf8_with_local_times_and_no_formulas():
    text = csv_text([_row(), _row(reference="EFGH6789", client_name="Zoë Brontë")], LONDON)
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert parsed[0] == header()
    first = dict(zip(parsed[0], parsed[1], strict=True))
    assert first["Date"] == "2026-07-01" and first["Start"] == "09:00" and first["End"] == "10:00"
    assert first["Client name"] == "'=cmd|' /C calc'!A0"
    assert first["Client phone"] == "'+44 7700 900123"
    assert first["Price (£)"] == "55.00"
    assert parsed[2][parsed[0].index("Client name")] == "Zoë Brontë"
    # Health answers never travel in a spreadsheet.
    assert not {"Pregnant", "Notes", "Health"} & set(parsed[0])


def test_csv_names_the_room_and_leaves_it_empty_without_rooms():
    with_room = _row(room_id=3, room=SimpleNamespace(name="Garden room"))
    parsed = list(csv.reader(io.StringIO(csv_text([with_room, _row()], LONDON).removeprefix("\ufeff"))))
    column = parsed[0].index("Room")
    assert parsed[0][column - 1 : column + 2] == ["Therapist", "Room", "Technique"]
    assert [parsed[1][column], parsed[2][column]] == ["Garden room", ""]
