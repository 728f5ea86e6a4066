from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from booking.choices import AppointmentStatus
from booking.models import Appointment
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db
ADD = "/admin/booking/appointment/add/"


def upcoming_tuesday() -> datetime:
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=2)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=LONDON)


def add_data(therapist, technique, length, start, **extra):
    data = {
        "therapist": therapist.pk,
        "technique": technique.pk,
        "length": length.pk,
        "start_0": start.strftime("%d/%m/%Y"),
        "start_1": start.strftime("%H:%M"),
        "status": AppointmentStatus.CONFIRMED,
        "client_name": "Phone Client",
        "client_email": "phone@example.com",
        "client_phone": "07700 900555",
        "client_notes": "",
    }
    data.update(extra)
    return data


def test_staff_books_through_the_service(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start))
    assert response.status_code == 302, response.content.decode()[:3000]
    appointment = Appointment.objects.get()
    assert appointment.start == start
    assert appointment.occupied_until == start + timedelta(minutes=75)
    assert appointment.source == "staff"


def test_overlap_in_admin_is_a_form_error_not_a_crash(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    first = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist,
        client=appointments.ClientDetails("First Client", "f@example.com", "1"),
    )  # fmt: skip
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start + timedelta(minutes=30)))
    assert response.status_code == 200
    # The error names the appointment in the way, so staff know what to move.
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == [
        f"Overlaps {first.reference}: First Client, Swedish 10:00–11:00 "
        "(room free again at 11:15, after cleanup)."
    ]
    # Touching the cleanup is a clash too; right after it is fine.
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start + timedelta(minutes=70)))
    assert first.reference in str(response.context["adminform"].form.non_field_errors())
    assert Appointment.objects.count() == 1
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start + timedelta(minutes=75)))
    assert response.status_code == 302
    assert Appointment.objects.count() == 2


def test_outside_hours_needs_the_override(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    evening = upcoming_tuesday().replace(hour=19)
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, evening))
    assert response.status_code == 200 and not Appointment.objects.exists()
    assert response.context["adminform"].form.non_field_errors() == [
        f"19:00–20:00 is outside {therapist.name}'s working hours on Tuesday (09:00–18:00). "
        "Tick “Book outside working hours” to book it anyway."
    ]
    response = staff_client.post(
        ADD, add_data(therapist, swedish, swedish_60, evening, allow_outside_hours="on")
    )
    assert response.status_code == 302
    assert Appointment.objects.get().start == evening


def test_moving_onto_another_appointment_is_refused(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    client = appointments.ClientDetails("A", "a@example.com", "1")
    first = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist, client=client
    )
    appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start.replace(hour=14), therapist=therapist, client=client
    )
    url = f"/admin/booking/appointment/{first.pk}/change/"
    data = add_data(therapist, swedish, swedish_60, start.replace(hour=14, minute=30))
    response = staff_client.post(url, data)
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.start == start
    data = add_data(therapist, swedish, swedish_60, start.replace(hour=11))
    assert staff_client.post(url, data).status_code == 302
    first.refresh_from_db()
    assert first.start == start.replace(hour=11) and first.sequence == 1


def test_working_hours_overlap_is_a_form_error(staff_client, swedish):
    therapist = TherapistFactory(techniques=[swedish], hours={})
    url = f"/admin/booking/therapist/{therapist.pk}/change/"
    data = {
        "name": therapist.name, "slug": therapist.slug, "bio": "", "techniques": [swedish.pk], "active": "on",
        "working_hours-TOTAL_FORMS": "2", "working_hours-INITIAL_FORMS": "0",
        "working_hours-MIN_NUM_FORMS": "0", "working_hours-MAX_NUM_FORMS": "1000",
        "working_hours-0-weekday": "0", "working_hours-0-start": "09:00", "working_hours-0-end": "13:00",
        "working_hours-1-weekday": "0", "working_hours-1-start": "12:00", "working_hours-1-end": "17:00",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
        "time_off-MIN_NUM_FORMS": "0", "time_off-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "overlap" in response.content.decode()
    assert not therapist.working_hours.exists()
    data["working_hours-1-start"] = "13:00"
    data["working_hours-1-end"] = "12:00"
    assert staff_client.post(url, data).status_code == 200
    data["working_hours-1-start"] = "14:00"
    data["working_hours-1-end"] = "17:00"
    assert staff_client.post(url, data).status_code == 302
    assert therapist.working_hours.count() == 2


def test_working_hours_row_without_a_weekday_is_a_form_error(staff_client, swedish):
    therapist = TherapistFactory(techniques=[swedish], hours={})
    data = {
        "name": therapist.name, "slug": therapist.slug, "bio": "", "techniques": [swedish.pk], "active": "on",
        "working_hours-TOTAL_FORMS": "2", "working_hours-INITIAL_FORMS": "0",
        "working_hours-MIN_NUM_FORMS": "0", "working_hours-MAX_NUM_FORMS": "1000",
        "working_hours-0-weekday": "0", "working_hours-0-start": "09:00", "working_hours-0-end": "13:00",
        "working_hours-1-weekday": "", "working_hours-1-start": "14:00", "working_hours-1-end": "17:00",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
        "time_off-MIN_NUM_FORMS": "0", "time_off-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = staff_client.post(f"/admin/booking/therapist/{therapist.pk}/change/", data)
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not therapist.working_hours.exists()


@pytest.mark.parametrize("day", [date(9999, 12, 31), date(1899, 12, 31), date(2201, 1, 1)])
def test_staff_booking_at_the_edge_of_the_calendar_is_a_form_error(staff_client, swedish, swedish_60, day):
    therapist = TherapistFactory(techniques=[swedish])
    start = datetime.combine(day, datetime.min.time().replace(hour=23))
    response = staff_client.post(
        ADD, add_data(therapist, swedish, swedish_60, start, allow_outside_hours="on")
    )
    assert response.status_code == 200
    assert "Choose a date between 1900 and 2200." in response.content.decode()
    assert not Appointment.objects.exists()


# --------------------------------------------------------------------------- roles


@pytest.fixture
def two_diaries(swedish, swedish_60):
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    ben = TherapistFactory(name="Ben", techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    mine = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=anna,
        client=appointments.ClientDetails("Alice Mine", "alice@example.com", "07700 900001"),
        source="staff", notify=False,
    )  # fmt: skip
    theirs = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=ben,
        client=appointments.ClientDetails("Bob Theirs", "bob@example.com", "07700 900002"),
        source="staff", notify=False,
    )  # fmt: skip
    return anna, ben, mine, theirs


def test_roles_exist_with_their_permissions(db):
    from django.contrib.auth.models import Group

    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert {"change_bookingpolicy", "change_techniquelength", "change_article"} <= perms["Manager"]
    assert {"add_appointment", "change_appointment", "add_timeoff", "change_workinghours"} <= perms[
        "Reception"
    ]
    assert not {"change_bookingpolicy", "change_techniquelength", "change_technique"} & perms["Reception"]
    from booking.roles import CLIENT_RECORD_PERMISSIONS, THERAPIST

    # Read only on the diary; their own clients' records and notes (limited per object).
    assert perms["Therapist"] == {
        "view_appointment",
        "view_therapist",
        "view_workinghours",
        "view_timeoff",
        *CLIENT_RECORD_PERMISSIONS[THERAPIST],
        # Time-off requests (issue 15): they ask, and see their own.
        "add_timeoffrequest",
        "view_timeoffrequest",
        # Calendar feeds (issue 15): they make the link to their own appointments.
        "add_calendarfeed",
    }
    assert not {"view_health_data", "view_treatmentnote"} & perms["Reception"]


def test_therapist_sees_only_their_own_appointments(client, two_diaries):
    anna, _ben, mine, theirs = two_diaries
    client.force_login(user_in_role("Therapist", "anna", anna))
    listing = client.get("/admin/booking/appointment/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "Alice Mine" in html and "Bob Theirs" not in html
    # Searching does not reach further.
    found = client.get("/admin/booking/appointment/", {"q": "Bob"}).content.decode()
    assert "Bob Theirs" not in found
    # Nor does typing the address of someone else's appointment.
    assert client.get(f"/admin/booking/appointment/{mine.pk}/change/").status_code == 200
    other = client.get(f"/admin/booking/appointment/{theirs.pk}/change/", follow=True)
    assert "Bob Theirs" not in other.content.decode()
    assert "doesn’t exist" in other.content.decode()
    # Read only: no saving, no adding.
    assert client.get("/admin/booking/appointment/add/").status_code == 403
    assert (
        client.post(f"/admin/booking/appointment/{mine.pk}/change/", {"client_name": "X"}).status_code == 403
    )


def test_therapist_account_without_a_therapist_sees_nothing(client, two_diaries):
    client.force_login(user_in_role("Therapist", "newcomer"))
    html = client.get("/admin/booking/appointment/").content.decode()
    assert "Alice Mine" not in html and "Bob Theirs" not in html


def test_reception_sees_everyone_but_cannot_change_prices_or_policy(client, two_diaries, swedish):
    client.force_login(user_in_role("Reception", "reception"))
    html = client.get("/admin/booking/appointment/").content.decode()
    assert "Alice Mine" in html and "Bob Theirs" in html
    assert client.get("/admin/booking/bookingpolicy/1/change/").status_code in (200, 302)
    assert client.post("/admin/booking/bookingpolicy/1/change/", {"min_notice_minutes": 0}).status_code == 403
    assert client.post(f"/admin/booking/technique/{swedish.pk}/change/", {"name": "Cheap"}).status_code == 403


def test_time_off_and_closure_are_explained(staff_client, swedish, swedish_60):
    from booking.models import Closure, TimeOff

    therapist = TherapistFactory(name="Dana", techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    TimeOff.objects.create(therapist=therapist, start=start, end=start + timedelta(hours=2), reason="Course")
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start))
    errors = response.context["adminform"].form.non_field_errors()
    assert [e for e in errors if e.startswith("Dana has time off from")] and "(Course)." in errors[0]
    Closure.objects.create(first_day=start.date(), last_day=start.date(), reason="Flood")
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start.replace(hour=15)))
    assert (
        f"The clinic is closed on {start:%A %d %B}: Flood."
        in response.context["adminform"].form.non_field_errors()
    )
    assert not Appointment.objects.exists()


# --------------------------------------------------------------------------- the list


LIST = "/admin/booking/appointment/"


def _today_at(hour: int, days: int = 0) -> datetime:
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=days)
    return datetime.combine(day, datetime.min.time(), tzinfo=LONDON).replace(hour=hour)


@pytest.fixture
def spread(swedish):
    """Appointments last week, yesterday, tomorrow and the day after, made in shuffled order."""
    therapist = TherapistFactory(name="Eve", techniques=[swedish])
    made = {
        "day_after": appointment_row(therapist, swedish, _today_at(10, 2), client_name="Day After"),
        "last_week": appointment_row(therapist, swedish, _today_at(10, -7), client_name="Last Week"),
        "tomorrow": appointment_row(therapist, swedish, _today_at(10, 1), client_name="Tomorrow Client"),
        "yesterday": appointment_row(therapist, swedish, _today_at(10, -1), client_name="Yesterday Client"),
    }
    return therapist, made


def _names(response) -> list[str]:
    return [a.client_name for a in response.context["cl"].result_list]


def test_list_shows_upcoming_first_then_the_past_latest_first(staff_client, spread):
    response = staff_client.get(LIST)
    assert _names(response) == ["Tomorrow Client", "Day After", "Yesterday Client", "Last Week"]
    tomorrow = _today_at(10, 1)
    assert f"{tomorrow:%a} {tomorrow.day} {tomorrow:%b %Y}, 10:00" in response.content.decode()
    assert "Swedish, 60 min" in response.content.decode()
    # A column header still sorts as asked.
    assert _names(staff_client.get(LIST, {"o": "1"}))[0] == "Last Week"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"when": "tomorrow"}, ["Tomorrow Client"]),
        ({"when": "upcoming"}, ["Tomorrow Client", "Day After"]),
        ({"when": "past"}, ["Yesterday Client", "Last Week"]),
        ({"when": "next_7_days"}, ["Tomorrow Client", "Day After"]),
        ({"from_date": "DAY-1", "to_date": "DAY+1"}, ["Tomorrow Client", "Yesterday Client"]),
        ({"from_date": "DAY+2"}, ["Day After"]),
        ({"to_date": "DAY-7"}, ["Last Week"]),
    ],
)
def test_date_filters_use_the_clinics_days(staff_client, spread, params, expected):
    today = timezone.now().astimezone(LONDON).date()
    resolved = {
        key: (today + timedelta(days=int(value[3:]))).isoformat() if value.startswith("DAY") else value
        for key, value in params.items()
    }
    assert _names(staff_client.get(LIST, resolved)) == expected


def test_this_week_and_today(staff_client, spread, swedish):
    therapist, _made = spread
    appointment_row(therapist, swedish, _today_at(7), client_name="Early Today")
    assert _names(staff_client.get(LIST, {"when": "today"})) == ["Early Today"]
    today = timezone.now().astimezone(LONDON).date()
    week = _names(staff_client.get(LIST, {"when": "this_week"}))
    monday = today - timedelta(days=today.weekday())
    expected = {
        name
        for name, offset in [
            ("Early Today", 0),
            ("Tomorrow Client", 1),
            ("Day After", 2),
            ("Yesterday Client", -1),
            ("Last Week", -7),
        ]  # fmt: skip
        if monday <= today + timedelta(days=offset) <= monday + timedelta(days=6)
    }
    assert set(week) == expected


def test_a_malformed_range_date_is_a_warning_not_an_error(staff_client, spread):
    response = staff_client.get(LIST, {"from_date": "31/02/2026"}, follow=True)
    assert response.status_code == 200
    assert len(_names(response)) == 4
    assert "“31/02/2026” is not a date" in response.content.decode()


def test_search_by_reference_phone_and_email(staff_client, spread):
    _therapist, made = spread
    assert _names(staff_client.get(LIST, {"q": made["tomorrow"].reference})) == ["Tomorrow Client"]
    assert len(_names(staff_client.get(LIST, {"q": "07700 900101"}))) == 4


def _act(client, action, *appointments, **extra):
    data = {"action": action, "_selected_action": [a.pk for a in appointments], **extra}
    return client.post(LIST, data, follow=True)


def test_mark_completed_and_no_show_record_who_and_what(staff_client, spread):
    _therapist, made = spread
    response = _act(staff_client, "mark_completed", made["yesterday"], made["tomorrow"])
    html = response.content.decode()
    assert "1 appointment marked completed." in html
    assert f"Not changed: {made['tomorrow'].reference} has not started yet." in html
    made["yesterday"].refresh_from_db()
    made["tomorrow"].refresh_from_db()
    assert made["yesterday"].status == AppointmentStatus.COMPLETED
    assert made["tomorrow"].status == AppointmentStatus.CONFIRMED
    _act(staff_client, "mark_no_show", made["last_week"])
    made["last_week"].refresh_from_db()
    assert made["last_week"].status == AppointmentStatus.NO_SHOW
    # The appointment's page shows who did it and what changed.
    page = staff_client.get(f"{LIST}{made['yesterday'].pk}/change/")
    history = page.context["history"]
    assert [(h.who, h.what) for h in history] == [
        ("Staff", "Booked"),
        ("staff", "Status: Confirmed → Completed"),
    ]
    assert "Status: Confirmed → Completed" in page.content.decode()


def test_cancel_action_asks_first_then_cancels_and_emails(staff_client, spread):
    from django_tasks_db.models import DBTaskResult

    _therapist, made = spread
    ask = _act(staff_client, "cancel_selected", made["tomorrow"], made["day_after"])
    assert ask.templates[0].name == "admin/booking/appointment/cancel_confirmation.html"
    assert "Tomorrow Client" in ask.content.decode() and "Day After" in ask.content.decode()
    made["tomorrow"].refresh_from_db()
    assert made["tomorrow"].status == AppointmentStatus.CONFIRMED  # nothing yet
    done = _act(staff_client, "cancel_selected", made["tomorrow"], made["day_after"], post="yes")
    assert "2 appointments cancelled; each client is being emailed." in done.content.decode()
    assert Appointment.objects.filter(status=AppointmentStatus.CANCELLED).count() == 2
    kinds = sorted(t.args_kwargs["kwargs"]["kind"] for t in DBTaskResult.objects.all())
    assert kinds == ["cancellation", "cancellation"]
    # Cancelling again changes nothing and says why.
    again = _act(staff_client, "cancel_selected", made["tomorrow"], post="yes")
    assert "is cancelled and cannot be cancelled" in again.content.decode()
    assert DBTaskResult.objects.count() == 2


def test_therapist_cannot_run_actions(client, two_diaries):
    anna, _ben, mine, _theirs = two_diaries
    client.force_login(user_in_role("Therapist", "anna", anna))
    response = _act(client, "mark_completed", mine)
    mine.refresh_from_db()
    assert mine.status == AppointmentStatus.CONFIRMED
    assert "Mark as completed" not in client.get(LIST).content.decode()
    assert response.status_code == 200


def test_change_history_shows_before_and_after(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    booked = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist,
        client=appointments.ClientDetails("Hana Kato", "hana@example.com", "1"), source="staff", notify=False,
    )  # fmt: skip
    url = f"{LIST}{booked.pk}/change/"
    data = add_data(therapist, swedish, swedish_60, start.replace(hour=11), client_name="Hana Kato",
                    client_notes="Sprained wrist")  # fmt: skip
    assert staff_client.post(url, data).status_code == 302
    booking_row, entry = staff_client.get(url).context["history"]
    assert (booking_row.who, booking_row.what) == ("Staff", "Booked")
    assert (
        f"Start: {start:%a} {start.day} {start:%b %Y} 10:00 → {start:%a} {start.day} {start:%b %Y} 11:00"
        in entry.what
    )
    assert "Client name: Phone Client" not in entry.what
    # Health answers are special-category data: the log says they changed, not what they say.
    assert "notes for the therapist changed" in entry.what.lower()
    assert "Sprained wrist" not in entry.what
    assert "Sprained" not in entry.what


# --------------------------------------------------------------------------- export


def _csv_names(response) -> list[str]:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    return [row["Client name"] for row in rows]


def test_export_follows_the_lists_filters(staff_client, spread):
    response = staff_client.get(f"{LIST}export.csv", {"when": "upcoming"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="appointments-')
    assert _csv_names(response) == ["Tomorrow Client", "Day After"]
    assert len(_csv_names(staff_client.get(f"{LIST}export.csv"))) == 4
    list_page = staff_client.get(LIST, {"when": "upcoming"}).content.decode()
    assert f'href="{LIST}export.csv?when=upcoming"' in list_page


def test_export_action_exports_the_selection(staff_client, spread):
    _therapist, made = spread
    response = staff_client.post(
        LIST, {"action": "export_csv", "_selected_action": [made["last_week"].pk, made["tomorrow"].pk]}
    )
    assert _csv_names(response) == ["Last Week", "Tomorrow Client"]


def test_therapist_export_holds_only_their_own(client, two_diaries):
    anna, _ben, _mine, _theirs = two_diaries
    client.force_login(user_in_role("Therapist", "anna", anna))
    assert _csv_names(client.get(f"{LIST}export.csv")) == ["Alice Mine"]


@pytest.mark.parametrize("who", ["manager", "reception"])
def test_list_runs_a_fixed_number_of_queries_with_5_or_500_appointments(client, swedish, who):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    team = [TherapistFactory(techniques=[swedish]) for _ in range(20)]
    user = user_in_role("Manager" if who == "manager" else "Reception", who)
    client.force_login(user)
    counts = []
    for total in (5, 500):
        Appointment.objects.all().delete()
        for i in range(total):
            start = _today_at(8, days=i // 20) + timedelta(minutes=30 * (i % 20))
            appointment_row(team[i % 20], swedish, start, minutes=25, buffer_minutes=5, client_name=f"C{i}")
        client.get(LIST, {"when": "upcoming"})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST, {"when": "upcoming"})
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.context["cl"].result_list) == 50  # a page of 500
    assert counts[0] == counts[1], counts


# --------------------------------------------------------------------------- therapists and techniques


def _therapist_form(therapist, technique, **time_off):
    data = {
        "name": therapist.name, "slug": therapist.slug, "bio": "", "techniques": [technique.pk],
        "active": "on", "working_hours-TOTAL_FORMS": "0", "working_hours-INITIAL_FORMS": "0",
        "working_hours-MIN_NUM_FORMS": "0", "working_hours-MAX_NUM_FORMS": "1000",
        "time_off-TOTAL_FORMS": "1", "time_off-INITIAL_FORMS": "0",
        "time_off-MIN_NUM_FORMS": "0", "time_off-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    data.update({f"time_off-0-{key}": value for key, value in time_off.items()})
    return data


def test_time_off_over_booked_appointments_names_them_and_needs_a_tick(staff_client, swedish, swedish_60):
    from booking.models import TimeOff

    therapist = TherapistFactory(name="Fay", techniques=[swedish], hours={})
    tuesday = upcoming_tuesday()
    booked = appointment_row(therapist, swedish, tuesday.replace(hour=10), client_name="Gus Grant")
    appointment_row(
        therapist,
        swedish,
        tuesday.replace(hour=12),
        client_name="Cancelled One",
        status=AppointmentStatus.CANCELLED,
    )
    url = f"/admin/booking/therapist/{therapist.pk}/change/"
    span = {
        "start_0": tuesday.strftime("%d/%m/%Y"), "start_1": "09:00",
        "end_0": tuesday.strftime("%d/%m/%Y"), "end_1": "17:00", "reason": "Course",
    }  # fmt: skip
    response = staff_client.post(url, _therapist_form(therapist, swedish, **span))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"This time off overlaps 1 booked appointment: {booked.reference} (Gus Grant, " in html
    assert "Cancelled One" not in html
    assert not TimeOff.objects.exists()
    # Staff decide: tick the box and it is saved, with a reminder that the booking stands.
    response = staff_client.post(
        url, _therapist_form(therapist, swedish, keep_appointments="on", **span), follow=True
    )
    assert TimeOff.objects.filter(therapist=therapist, reason="Course").exists()
    assert f"which still stand: {booked.reference} (Gus Grant," in response.content.decode()


def test_time_off_clear_of_appointments_saves_without_a_question(staff_client, swedish):
    from booking.models import TimeOff

    therapist = TherapistFactory(techniques=[swedish], hours={})
    tuesday = upcoming_tuesday()
    appointment_row(therapist, swedish, tuesday.replace(hour=10))
    span = {
        "start_0": tuesday.strftime("%d/%m/%Y"), "start_1": "13:00",
        "end_0": tuesday.strftime("%d/%m/%Y"), "end_1": "17:00",
    }  # fmt: skip
    url = f"/admin/booking/therapist/{therapist.pk}/change/"
    assert staff_client.post(url, _therapist_form(therapist, swedish, **span)).status_code == 302
    assert TimeOff.objects.count() == 1


def test_time_off_and_closures_stay_within_the_clinics_years(staff_client, swedish):
    from booking.models import Closure, TimeOff

    therapist = TherapistFactory(techniques=[swedish], hours={})
    span = {"start_0": "01/01/2026", "start_1": "09:00", "end_0": "31/12/9999", "end_1": "17:00"}
    url = f"/admin/booking/therapist/{therapist.pk}/change/"
    response = staff_client.post(url, _therapist_form(therapist, swedish, **span))
    assert response.status_code == 200
    assert "Choose a date between 1900 and 2200." in response.content.decode()
    # A closure over every day there is would make each booking page walk millions of days.
    closure = {"reason": "Forever", "first_day": "01/01/1899", "last_day": "31/12/9999"}
    response = staff_client.post("/admin/booking/closure/add/", closure)
    assert response.status_code == 200
    assert "Choose a date between 1900 and 2200." in response.content.decode()
    assert not TimeOff.objects.exists() and not Closure.objects.exists()


def test_therapist_page_shows_the_week_photo_and_schedule_link(staff_client, swedish):
    therapist = TherapistFactory(
        name="Hal",
        techniques=[swedish],
        hours={0: [("09:00", "13:00"), ("14:00", "18:00")], 5: [("10:00", "14:00")]},
    )
    html = staff_client.get(f"/admin/booking/therapist/{therapist.pk}/change/").content.decode()
    assert '<th scope="row">Mon</th><td>09:00–13:00, 14:00–18:00</td>' in html
    assert '<th scope="row">Tue</th><td>Not working</td>' in html
    assert "No photo: the booking pages show their initials." in html
    assert f'href="/admin/booking/schedule/?therapist={therapist.pk}"' in html
    listing = staff_client.get("/admin/booking/therapist/").content.decode()
    assert "Mon 09:00–13:00, 14:00–18:00; Sat 10:00–14:00" in listing


def test_technique_slug_may_not_shadow_booking_pages(staff_client):
    data = {
        "name": "Manage", "slug": "manage", "summary": "", "description": "", "suitable_for": "",
        "buffer_minutes": "15", "active": "on", "display_order": "0",
        "lengths-TOTAL_FORMS": "1", "lengths-INITIAL_FORMS": "0",
        "lengths-MIN_NUM_FORMS": "1", "lengths-MAX_NUM_FORMS": "1000",
        "lengths-0-duration_minutes": "60", "lengths-0-price": "50",
    }  # fmt: skip
    response = staff_client.post("/admin/booking/technique/add/", data)
    assert response.status_code == 200
    assert "is used by the booking pages" in response.content.decode()
    data["slug"] = "manage-massage"
    assert staff_client.post("/admin/booking/technique/add/", data).status_code == 302
    listing = staff_client.get("/admin/booking/technique/").content.decode()
    assert "60 min £50.00" in listing


def test_one_length_at_most_is_chosen_in_advance(staff_client, swedish):
    sixty, ninety = swedish.lengths.order_by("duration_minutes")
    url = f"/admin/booking/technique/{swedish.pk}/change/"

    def save(*ticked):
        data = {
            "name": "Swedish", "slug": "swedish", "summary": "", "description": "", "suitable_for": "",
            "buffer_minutes": "15", "active": "on", "display_order": "0",
            "lengths-TOTAL_FORMS": "2", "lengths-INITIAL_FORMS": "2",
            "lengths-MIN_NUM_FORMS": "1", "lengths-MAX_NUM_FORMS": "1000",
        }  # fmt: skip
        for n, length in enumerate((sixty, ninety)):
            data[f"lengths-{n}-id"] = length.pk
            data[f"lengths-{n}-technique"] = swedish.pk
            data[f"lengths-{n}-duration_minutes"] = length.duration_minutes
            data[f"lengths-{n}-price"] = length.price
            if length in ticked:
                data[f"lengths-{n}-is_default"] = "on"
        return staff_client.post(url, data)

    assert 'name="lengths-0-is_default"' in staff_client.get(url).content.decode()
    refused = save(sixty, ninety)
    assert refused.status_code == 200
    assert "Tick “chosen in advance” for one length at most." in refused.content.decode()
    assert save(ninety).status_code == 302
    assert [x.is_default for x in swedish.lengths.order_by("duration_minutes")] == [False, True]
    # Moving the tick from the second row to the first in one save (the first row is saved
    # first, while the second is still ticked in the database).
    assert save(sixty).status_code == 302
    assert [x.is_default for x in swedish.lengths.order_by("duration_minutes")] == [True, False]
    assert save().status_code == 302
    assert not swedish.lengths.filter(is_default=True).exists()


def test_manager_is_warned_about_an_offered_technique_nobody_can_give(staff_client, swedish):
    deep = swedish.__class__.objects.get(slug="deep-tissue")
    TherapistFactory(techniques=[swedish])
    TherapistFactory(techniques=[deep], active=False)  # offers it, but takes no bookings
    listing = staff_client.get("/admin/booking/technique/").content.decode()
    assert "Nobody taking bookings offers Deep tissue, so clients cannot book it online." in listing
    assert "Nobody taking bookings offers Shiatsu" in listing
    assert "offers Swedish" not in listing
    page = staff_client.get(f"/admin/booking/technique/{deep.pk}/change/").content.decode()
    assert "Nobody taking bookings offers Deep tissue" in page
    assert "Shiatsu" not in page.split('class="messagelist"')[1].split("</ul>")[0]
    swedish_page = staff_client.get(f"/admin/booking/technique/{swedish.pk}/change/").content.decode()
    assert "clients cannot book it online" not in swedish_page
    swedish.lengths.all().delete()
    listing = staff_client.get("/admin/booking/technique/").content.decode()
    assert "Swedish has no length and price yet, so clients cannot book it online." in listing
    # An odd id in the address is still the admin's own answer, not a crash.
    assert staff_client.get("/admin/booking/technique/abc/change/").status_code in (302, 404)


def test_history_includes_the_clients_own_online_changes(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    booked = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist,
        client=appointments.ClientDetails("Ida Park", "ida@example.com", "1"), notify=False,
        source="staff",
    )  # fmt: skip
    appointments.appointment_reschedule(
        appointment=booked, new_start=start.replace(hour=14), by_client=True, notify=False
    )
    appointments.appointment_cancel(appointment=booked, by_client=True, notify=False)
    page = staff_client.get(f"{LIST}{booked.pk}/change/")
    day = f"{start:%a %d %b %Y}"
    assert [(h.who, h.what) for h in page.context["history"]] == [
        ("Staff", "Booked"),
        ("The client, online", f"Moved online by the client: {day} 10:00 → {day} 14:00"),
        ("The client, online", "Cancelled online by the client"),
    ]
    assert "Cancelled online by the client" in page.content.decode()


def test_only_managers_may_create_the_missing_policy(client, db):
    from booking.models import BookingPolicy

    BookingPolicy.objects.all().delete()
    client.force_login(user_in_role("Therapist", "tess"))
    assert client.get("/admin/booking/bookingpolicy/add/").status_code == 403
    client.force_login(user_in_role("Reception", "rita"))
    assert client.get("/admin/booking/bookingpolicy/add/").status_code == 403
    client.force_login(user_in_role("Manager", "mona"))
    assert client.get("/admin/booking/bookingpolicy/add/").status_code == 200
    BookingPolicy.load()
    assert client.get("/admin/booking/bookingpolicy/add/").status_code == 403  # one row only


# --------------------------------------------------------------------------- review findings


def test_a_refused_save_changes_nothing_and_sends_nothing(staff_client, swedish, swedish_60):
    from django_tasks_db.models import DBTaskResult

    therapist = TherapistFactory(techniques=[swedish])
    yesterday = _today_at(10, -1)
    past = appointment_row(therapist, swedish, yesterday, client_name="Phone Client")
    # Move it into the future and mark it completed in one save: the mark is refused...
    target = upcoming_tuesday().replace(hour=11)
    data = add_data(therapist, swedish, swedish_60, target, status=AppointmentStatus.COMPLETED)
    response = staff_client.post(f"{LIST}{past.pk}/change/", data)
    assert "has not started yet" in str(response.context["adminform"].form.non_field_errors())
    # ...so the move is rolled back with it, and no email is queued.
    past.refresh_from_db()
    assert past.start == yesterday and past.status == AppointmentStatus.CONFIRMED
    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        f"{LIST}%C2%B2/change/",
        f"{LIST}99999999999999999999999/change/",
        f"{ADD}?start=0001-01-01T00:00%2B01:00",
        f"{ADD}?start=9999-12-31T23:30-01:00",
        "/admin/booking/schedule/?therapist=%C2%B2",
    ],
)
def test_odd_addresses_are_not_server_errors(staff_client, url):
    assert staff_client.get(url).status_code in (200, 302, 404)


@pytest.mark.parametrize("query", ["start__year=abc", "start__year=2026&start__month=2&start__day=31"])
def test_export_with_unreadable_filters_says_so(staff_client, spread, query):
    response = staff_client.get(f"{LIST}export.csv?{query}", follow=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Those filters could not be read; nothing was exported." in response.content.decode()


def test_off_grid_start_is_explained_to_staff(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10, minute=3)
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start))
    assert response.context["adminform"].form.non_field_errors() == [
        "Start times are on 5-minute marks (10:00, 10:05 …); 10:03 is not."
    ]


def test_notes_are_logged_as_changed_not_quoted(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    booked = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist,
        client=appointments.ClientDetails("Phone Client", "phone@example.com", "07700 900555"),
        source="staff", notify=False,
    )  # fmt: skip
    url = f"{LIST}{booked.pk}/change/"
    staff_client.post(url, add_data(therapist, swedish, swedish_60, start, client_notes="Migraine since May"))
    staff_client.post(url, add_data(therapist, swedish, swedish_60, start, client_notes="Migraine since May",
                                    allow_outside_hours="on"))  # fmt: skip
    whats = [h.what for h in staff_client.get(url).context["history"]]
    assert whats[1:] == ["Notes for the therapist changed", "Saved without changes"]


def test_reception_cannot_relink_a_therapists_account(client, two_diaries):
    anna, *_ = two_diaries
    client.force_login(user_in_role("Reception", "rhea"))
    form = client.get(f"/admin/booking/therapist/{anna.pk}/change/").context["adminform"].form
    assert "user" not in form.fields
    client.force_login(user_in_role("Manager", "max"))
    form = client.get(f"/admin/booking/therapist/{anna.pk}/change/").context["adminform"].form
    assert "user" in form.fields


def test_a_name_typed_in_the_admin_is_stored_as_one_plain_line(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    data = add_data(therapist, swedish, swedish_60, start, client_name="Phone\r\nClient\u202e")
    assert staff_client.post(ADD, data).status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.client_name == "Phone Client"
    data["client_name"] = "Phone\r\n\tCaller"
    assert staff_client.post(f"{LIST}{appointment.pk}/change/", data).status_code == 302
    appointment.refresh_from_db()
    assert appointment.client_name == "Phone Caller"


# --------------------------------------------------------------------------- service rules via the admin


def test_admin_status_and_technique_rules_come_from_the_service(staff_client, swedish, swedish_60):
    from booking.models import Technique

    therapist = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    # A new appointment starts confirmed.
    response = staff_client.post(
        ADD, add_data(therapist, swedish, swedish_60, start, status=AppointmentStatus.COMPLETED)
    )
    assert response.context["adminform"].form.non_field_errors() == ["New appointments start as confirmed."]
    assert not Appointment.objects.exists()
    booked = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist,
        client=appointments.ClientDetails("A", "a@example.com", "1"), source="staff",
    )  # fmt: skip
    url = f"{LIST}{booked.pk}/change/"
    shiatsu = Technique.objects.get(slug="shiatsu")
    response = staff_client.post(url, add_data(therapist, shiatsu, swedish_60, start))
    assert response.context["adminform"].form.non_field_errors() == [
        "To change the technique, cancel and book again."
    ]
    cancel = add_data(therapist, swedish, swedish_60, start, status=AppointmentStatus.CANCELLED)
    assert staff_client.post(url, cancel).status_code == 302
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CANCELLED
    response = staff_client.post(url, add_data(therapist, swedish, swedish_60, start))
    assert response.context["adminform"].form.non_field_errors() == [
        "A cancelled appointment cannot be revived; book a new one."
    ]
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CANCELLED


def test_changing_saved_time_off_onto_appointments_is_refused(staff_client, swedish):
    from booking.models import TimeOff

    therapist = TherapistFactory(techniques=[swedish], hours={})
    tuesday = upcoming_tuesday()
    booked = appointment_row(therapist, swedish, tuesday.replace(hour=10), client_name="Gus Grant")
    absence = TimeOff.objects.create(
        therapist=therapist, start=tuesday.replace(hour=13), end=tuesday.replace(hour=17), reason="Course"
    )
    data = _therapist_form(
        therapist, swedish, id=absence.pk, reason="Course",
        start_0=tuesday.strftime("%d/%m/%Y"), start_1="09:00",
        end_0=tuesday.strftime("%d/%m/%Y"), end_1="17:00",
    )  # fmt: skip
    data["time_off-INITIAL_FORMS"] = "1"
    data["time_off-0-therapist"] = therapist.pk
    url = f"/admin/booking/therapist/{therapist.pk}/change/"
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert f"overlaps 1 booked appointment: {booked.reference} (Gus Grant, " in response.content.decode()
    absence.refresh_from_db()
    assert absence.start == tuesday.replace(hour=13)
    data["time_off-0-keep_appointments"] = "on"
    assert staff_client.post(url, data).status_code == 302
    absence.refresh_from_db()
    assert absence.start == tuesday.replace(hour=9)


def test_time_off_refused_at_save_rolls_back_and_explains(staff_client, swedish, monkeypatch):
    """An appointment booked between the form's check and the save: the service refuses,
    the whole save rolls back, and the page says why with the input kept."""
    from booking import selectors
    from booking.models import TimeOff

    therapist = TherapistFactory(name="Fay", techniques=[swedish], hours={})
    tuesday = upcoming_tuesday()
    booked = appointment_row(therapist, swedish, tuesday.replace(hour=10), client_name="Gus Grant")
    real = selectors.appointments_during
    calls = []

    def first_sees_nothing(**kwargs):
        calls.append(kwargs)
        return [] if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(selectors, "appointments_during", first_sees_nothing)
    span = {
        "start_0": tuesday.strftime("%d/%m/%Y"), "start_1": "09:00",
        "end_0": tuesday.strftime("%d/%m/%Y"), "end_1": "17:00", "reason": "Course",
    }  # fmt: skip
    data = _therapist_form(therapist, swedish, **span)
    data["name"] = "Fay Renamed"
    response = staff_client.post(f"/admin/booking/therapist/{therapist.pk}/change/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"overlaps 1 booked appointment: {booked.reference} (Gus Grant, " in html
    assert 'value="Fay Renamed"' in html  # the input is kept
    therapist.refresh_from_db()
    assert therapist.name == "Fay" and not TimeOff.objects.exists()  # nothing of the save stayed
