"""The manager's reports page and its CSV files: /admin/booking/reports/."""

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from booking import reports
from booking.admin import reports as reports_admin
from booking.choices import AppointmentStatus
from booking.models import Appointment, Room
from booking.roles import MANAGER, RECEPTION, THERAPIST
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import ClientFactory, TherapistFactory, user_in_role
from tests.factories import appointment_row as appointment

pytestmark = pytest.mark.django_db

URL = reverse("admin:booking_reports")
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}


def csv_url(slug: str) -> str:
    return reverse("admin:booking_reports_csv", kwargs={"slug": slug})


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


@pytest.fixture
def manager(client):
    client.force_login(user_in_role(MANAGER, "manager"))
    return client


@pytest.fixture
def november(swedish):
    """Two therapists' November: Anna works Monday to Friday 09:00-17:00, Ben Mondays."""
    anna = TherapistFactory(name="Anna Field", hours={d: [("09:00", "17:00")] for d in range(5)})
    ben = TherapistFactory(name="Ben Stone", hours={0: [("10:00", "14:00")]})
    monday = date(2026, 11, 23)
    appointment(anna, swedish, at(monday, 10), price="60.00", status=AppointmentStatus.COMPLETED)
    appointment(ben, swedish, at(monday, 11), price="45.00", source="online")
    appointment(anna, swedish, at(monday, 14), status=AppointmentStatus.NO_SHOW, client_name="=HYPERLINK()")
    return anna, ben, swedish


def rows_of(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# Who may see it ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client):
    for url in (URL, csv_url("sources")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("role", [RECEPTION, THERAPIST])
def test_reception_and_therapists_may_not_see_reports(client, role):
    therapist = TherapistFactory() if role == THERAPIST else None
    client.force_login(user_in_role(role, "someone", therapist=therapist))
    assert client.get(URL).status_code == 403
    assert client.get(csv_url("revenue-therapists")).status_code == 403
    assert b"Reports" not in client.get(reverse("admin:index")).content


def test_manager_and_superuser_see_reports(manager, staff_client, november):
    response = manager.get(URL, NOVEMBER)
    assert response.status_code == 200
    assert staff_client.get(URL, NOVEMBER).status_code == 200
    # Listed in the sidebar and on the index for managers.
    index = manager.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in index


# The page ---------------------------------------------------------------------------------


def test_page_shows_every_report_with_chart_table_and_csv_link(manager, november):
    response = manager.get(URL, NOVEMBER)
    html = response.content.decode()
    slugs = [s.slug for s in response.context["sections"]]
    assert slugs == [
        "utilisation-therapists", "utilisation-weeks", "revenue-techniques", "revenue-therapists",
        "sources", "attendance", "clients", "lead-time", "busy-hours",
    ]  # fmt: skip
    assert "Reports: 1 November 2026 to 30 November 2026" in html
    assert html.count('role="img"') == len(slugs)
    assert html.split('id="content-main"')[1].count("<table") == len(slugs)
    assert "<script" not in html.split('id="content-main"')[1]
    assert "style=" not in html.split('id="content-main"')[1]
    for slug in slugs:
        assert f'href="{csv_url(slug)}?start=2026-11-01&amp;end=2026-11-30"' in html
    sections = {s.slug: s for s in response.context["sections"]}
    # Anna: 21 weekdays of 8 hours; Ben: 5 Mondays of 4 hours.
    assert sections["utilisation-therapists"].rows == [
        ["Anna Field", 60, 21 * 480, Decimal("0.6")],
        ["Ben Stone", 60, 5 * 240, Decimal("5.0")],
    ]
    assert sections["revenue-therapists"].rows == [
        ["Anna Field", 1, Decimal("60.00")],
        ["Ben Stone", 1, Decimal("45.00")],
    ]
    assert sections["attendance"].rows[0] == ["No-shows", 1, Decimal("33.3")]
    assert "£60.00" in html and "£45.00" in html
    # The tables: figures localised once in Python (dates too).
    assert '<th scope="row">Anna Field</th><td>60</td><td>10080</td><td>0.6</td>' in html
    assert '<th scope="row">23 Nov 2026</th><td>120</td>' in html
    # The SVG bars: fill from the theme, widths scaled to the largest value.
    assert 'fill="#2f5d50"' in html


def test_rooms_get_their_own_report_once_they_exist(manager, november):
    assert "utilisation-rooms" not in manager.get(URL, NOVEMBER).content.decode()
    Room.objects.create(name="Garden room")
    response = manager.get(URL, NOVEMBER)
    rooms = next(s for s in response.context["sections"] if s.slug == "utilisation-rooms")
    assert rooms.rows[0][0] == "Garden room"


def test_default_is_last_month(manager):
    today = timezone.now().astimezone(LONDON).date()
    first, last = reports.preset_range(reports.Preset.LAST_MONTH, today)
    response = manager.get(URL)
    assert (response.context["first"], response.context["last"]) == (first, last)
    assert 'aria-current="page"' in response.content.decode()


@pytest.mark.parametrize("preset", list(reports.Preset))
def test_presets(manager, preset):
    today = timezone.now().astimezone(LONDON).date()
    response = manager.get(URL, {"preset": preset.value})
    assert (response.context["first"], response.context["last"]) == reports.preset_range(preset, today)


# Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"start": "yesterday", "end": "2026-11-30"},
        {"start": "2026-02-30", "end": "2026-03-01"},
        {"start": "99999-01-01", "end": "2026-11-30"},
        {"start": "2026-11-01"},
        {"start": "2026-11-01", "end": "9" * 400},
        {"preset": "last-century"},
    ],
)
def test_malformed_dates_are_a_message_and_last_month(manager, query):
    response = manager.get(URL, query)
    assert response.status_code == 200
    today = timezone.now().astimezone(LONDON).date()
    assert (response.context["first"], response.context["last"]) == reports.preset_range(
        reports.Preset.LAST_MONTH, today
    )
    if "preset" not in query:
        assert "could not be read" in response.content.decode()


@pytest.mark.parametrize("start", ["1899-12-31", "2201-01-01"])
def test_dates_outside_the_years_a_clinic_means_are_a_message(manager, start):
    response = manager.get(URL, {"start": start, "end": "2026-11-30"})
    assert response.status_code == 200
    assert "Choose a date between 1900 and 2200." in response.content.decode()
    assert csv_url("sources") in response.content.decode()


def test_a_nul_byte_is_a_400(manager):
    assert manager.get(URL, {"start": "2026-11-01\x00", "end": "2026-11-30"}).status_code == 400


def test_a_huge_range_is_capped_with_a_note(manager):
    response = manager.get(URL, {"start": "1900-01-01", "end": "2200-12-31"})
    assert response.status_code == 200
    assert response.context["first"] == date(1900, 1, 1)
    assert response.context["last"] == date(1900, 1, 1) + timedelta(days=reports.MAX_DAYS - 1)
    assert "Reports cover at most 1098 days" in response.content.decode()


def test_reversed_dates_are_swapped_with_a_note(manager):
    response = manager.get(URL, {"start": "2026-11-30", "end": "2026-11-01"})
    assert (response.context["first"], response.context["last"]) == (date(2026, 11, 1), date(2026, 11, 30))
    assert "swapped" in response.content.decode()


# CSV --------------------------------------------------------------------------------------


def test_csv_headers_and_figures(manager, november):
    response = manager.get(csv_url("revenue-therapists"), NOVEMBER)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="revenue-therapists-2026-11-01-to-2026-11-30.csv"'
    )
    assert rows_of(response) == [
        ["Therapist", "Appointments", "Revenue (£)"],
        ["Anna Field", "1", "60.00"],
        ["Ben Stone", "1", "45.00"],
    ]
    weeks = rows_of(manager.get(csv_url("utilisation-weeks"), NOVEMBER))
    assert weeks[0] == ["Week starting", "Booked hands-on minutes", "Available minutes", "Utilisation (%)"]
    assert weeks[1][0] == "2026-10-26"  # the Monday of the week of 1 November
    heat = rows_of(manager.get(csv_url("busy-hours"), NOVEMBER))
    assert heat[0][:2] == ["Day", "08:00"]
    assert heat[1][0] == "Monday"


def test_csv_text_cells_cannot_be_formulas(manager, november):
    anna, ben, swedish = november
    ben.name = "=cmd|' /C calc'!A0"
    ben.save()
    rows = rows_of(manager.get(csv_url("utilisation-therapists"), NOVEMBER))
    assert ["'=cmd|' /C calc'!A0", "60", "1200", "5.0"] in rows


def test_unknown_csv_is_404(manager):
    assert manager.get(csv_url("everything")).status_code == 404


# Queries ----------------------------------------------------------------------------------


def _fill(count: int, swedish, therapists):
    day = date(2026, 11, 2)
    rows = []
    for index in range(count):
        therapist = therapists[index % len(therapists)]
        start = at(day + timedelta(days=index // 40), 9 + (index // len(therapists)) % 8)
        client = ClientFactory()
        status = [AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW][
            index % 3
        ]
        rows.append(
            Appointment(
                therapist=therapist, technique=swedish, duration_minutes=60, price="50.00", start=start,
                end=start + timedelta(hours=1), occupied_until=start + timedelta(hours=1), status=status,
                client=client, client_name="X", client_email="x@example.com", client_phone="1",
                reference=f"R{count}-{index}", cancelled_at=start - timedelta(hours=index % 48),
            )
        )  # fmt: skip
    Appointment.objects.bulk_create(rows)


@pytest.mark.parametrize("count", [10, 200])
def test_page_runs_a_fixed_number_of_queries(manager, django_assert_max_num_queries, swedish, count):
    therapists = [TherapistFactory() for _ in range(5)]
    Room.objects.create(name="Room one")
    _fill(count, swedish, therapists)
    # 17 whatever the data: 9 for the reports (the range's rows read once), the rest the
    # sign-in, session and sidebar.
    with django_assert_max_num_queries(17):
        response = manager.get(URL, NOVEMBER)
    assert response.context["sections"][5].rows  # attendance
    assert sum(row[1] for row in response.context["sections"][1].rows) > 0


def test_cancelling_records_when(november):
    anna, ben, swedish = november
    booked = Appointment.objects.get(therapist=ben)
    moment = datetime(2026, 11, 20, 9, tzinfo=LONDON)
    appointments.appointment_cancel(appointment=booked, now=moment, notify=False)
    booked.refresh_from_db()
    assert booked.cancelled_at == moment


def test_lead_times_and_clients_are_counted_by_the_database(manager, november):
    anna, ben, swedish = november
    monday = date(2026, 11, 23)
    olivia = Appointment.objects.get(therapist=ben).client
    aheads = [(9, timedelta(hours=2)), (13, timedelta(days=2, hours=23)), (15, timedelta(days=40))]
    for hours, ahead in aheads:
        booked = appointment(ben, swedish, at(monday, hours), client=olivia)
        Appointment.objects.filter(pk=booked.pk).update(created_at=booked.start - ahead)
    # Olivia came in October too: returning. The November fixture's other clients are new.
    appointment(anna, swedish, at(date(2026, 10, 5), 10), client=olivia, status=AppointmentStatus.COMPLETED)
    response = manager.get(URL, NOVEMBER)
    sections = {s.slug: s for s in response.context["sections"]}
    lead = {row[0]: row[1] for row in sections["lead-time"].rows}
    # The fixture's three were written "now", after their November start: under a day.
    assert lead == {
        "Less than a day": 4, "1 to 2 days": 1, "3 to 7 days": 0, "8 to 14 days": 0, "15 to 30 days": 0,
        "More than 30 days": 1,
    }  # fmt: skip
    clients = {row[0]: row[1] for row in sections["clients"].rows}
    kept = Appointment.objects.filter(start__month=11).values("client_id").distinct().count()
    assert clients == {"New": kept - 1, "Returning": 1}


def test_table_cells_are_localised_once_with_a_dash_for_none(settings):
    section = reports_admin.Section(
        slug="s", title="T", description="", headers=["Week starting", "Minutes", "%"],
        rows=[[date(2026, 11, 23), 12345, Decimal("12.5")], ["Room", 0, None]],
    )  # fmt: skip
    assert section.table == [("23 Nov 2026", ["12345", "12.5"]), ("Room", ["0", "–"])]
    # A locale with a comma for the decimal mark gets it in the table, never in the CSV.
    with translation.override("de"):
        del section.table
        assert section.table[0] == ("23. November 2026", ["12345", "12,5"])
        assert reports_admin.csv_cell(section.rows[0][2]) == "12.5"
