"""The staff schedule page: /admin/booking/schedule/."""

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking.choices import AppointmentStatus
from booking.models import Appointment, Closure, Room, TimeOff
from tests.conftest import LONDON
from tests.factories import ClientFactory, TherapistFactory, user_in_role
from tests.factories import appointment_row as appointment

pytestmark = pytest.mark.django_db
URL = "/admin/booking/schedule/"
TUESDAY = date(2026, 11, 24)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


@pytest.fixture
def clinic_day(swedish):
    anna = TherapistFactory(
        name="Anna Field", techniques=[swedish], hours={1: [("09:00", "13:00"), ("14:00", "18:00")]}
    )
    ben = TherapistFactory(name="Ben Stone", techniques=[swedish], hours={1: [("10:00", "16:00")]})
    TherapistFactory(name="Cleo Rest", techniques=[swedish], hours={3: [("09:00", "17:00")]})
    booked = appointment(anna, swedish, at(TUESDAY, 10), client_name="Jane Doe")
    cancelled = appointment(
        ben, swedish, at(TUESDAY, 11), client_name="Sam Gone", status=AppointmentStatus.CANCELLED
    )
    TimeOff.objects.create(therapist=ben, start=at(TUESDAY, 14), end=at(TUESDAY, 16), reason="Dentist")
    return anna, ben, booked, cancelled


def test_day_view_has_a_column_per_working_therapist(staff_client, clinic_day):
    anna, ben, booked, cancelled = clinic_day
    response = staff_client.get(URL, {"date": "2026-11-24"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Tuesday 24 November 2026" in html
    columns = response.context["columns"]
    assert [c.heading for c in columns] == ["Anna Field", "Ben Stone"]
    assert [t.name for t in response.context["resting"]] == ["Cleo Rest"]
    anna_items = [(i.kind, i.when, i.title) for i in columns[0].items if i.kind != "cleanup"]
    assert anna_items == [
        ("free", "09:00–10:00", "Free"),
        ("booked", "10:00–11:00", "Jane Doe"),
        ("free", "11:15–13:00", "Free"),
        ("break", "13:00–14:00", "Break"),
        ("free", "14:00–18:00", "Free"),
    ]
    assert columns[0].hours == "09:00–13:00, 14:00–18:00"
    assert columns[0].summary == "1 booked · 6 h 45 min free"
    # The appointment opens its admin page; a free gap starts a booking already filled in.
    assert f'href="/admin/booking/appointment/{booked.pk}/change/"' in html
    free = columns[0].items[0]
    assert free.href.startswith("/admin/booking/appointment/add/?therapist=")
    assert "start=2026-11-24T09%3A00%3A00%2B00%3A00" in free.href
    # A cancelled appointment is shown, marked, and leaves its time free.
    ben_items = [
        (i.kind, i.when, i.title, i.status, i.detail) for i in columns[1].items if i.kind != "cleanup"
    ]
    assert ("cancelled", "11:00–12:00", "Sam Gone", "Cancelled", "Swedish, 60 min") in ben_items
    assert ("free", "10:00–14:00", "Free", "", "4 h") in ben_items
    assert ("off", "14:00–16:00", "Time off", "", "Dentist") in ben_items


def test_a_cancelled_appointment_stands_aside_from_the_free_gap_it_left(staff_client, swedish):
    # Booked 10:00 and 12:15; the 11:00 one between them was cancelled: 11:15 to 12:15 is
    # free again, exactly under the cancelled block.
    ann = TherapistFactory(name="Ann Gap", techniques=[swedish], hours={1: [("10:00", "14:00")]})
    appointment(ann, swedish, at(TUESDAY, 10), client_name="Early Bird")
    gone = appointment(
        ann, swedish, at(TUESDAY, 11, 15), client_name="Sam Gone", status=AppointmentStatus.CANCELLED
    )
    appointment(ann, swedish, at(TUESDAY, 12, 30), client_name="Late Owl")
    response = staff_client.get(URL, {"date": "2026-11-24"})
    [column] = response.context["columns"]
    kinds = [(i.kind, i.when, i.title) for i in column.items if i.kind != "cleanup"]
    assert kinds == [
        ("booked", "10:00–11:00", "Early Bird"),
        ("cancelled", "11:15–12:15", "Sam Gone"),
        ("free", "11:15–12:30", "Free"),
        ("booked", "12:30–13:30", "Late Owl"),
        ("free", "13:45–14:00", "Free"),
    ]
    assert column.has_cancelled
    html = response.content.decode()
    # The column keeps a side lane for it; the cancelled block still opens the appointment.
    assert 'class="schedule-body has-cancelled"' in html
    assert 'class="schedule-item item-cancelled"' in html
    assert f'href="/admin/booking/appointment/{gone.pk}/change/"' in html
    free = next(i for i in column.items if i.kind == "free")
    assert "start=2026-11-24T11%3A15%3A00%2B00%3A00" in free.href
    # A day without a cancellation keeps the whole width for its blocks.
    other = staff_client.get(URL, {"date": "2026-12-01"})
    assert "has-cancelled" not in other.content.decode()


def test_free_gap_link_fills_in_the_add_form(staff_client, clinic_day):
    anna, *_ = clinic_day
    free = staff_client.get(URL, {"date": "2026-11-24"}).context["columns"][0].items[0]
    form = staff_client.get(free.href).context["adminform"].form
    assert form.initial["therapist"] == str(anna.pk)
    assert form.initial["start"] == at(TUESDAY, 9)
    # A broken or naive start is ignored, not a crash.
    assert staff_client.get("/admin/booking/appointment/add/?start=soon").status_code == 200
    naive = staff_client.get("/admin/booking/appointment/add/?start=2026-11-24T09:00")
    assert "start" not in naive.context["adminform"].form.initial


def test_closure_is_announced_and_offers_no_free_time(staff_client, clinic_day):
    Closure.objects.create(first_day=TUESDAY, last_day=TUESDAY, reason="Boiler repair")
    response = staff_client.get(URL, {"date": "2026-11-24"})
    assert "The clinic is closed: Boiler repair." in response.content.decode()
    for column in response.context["columns"]:
        assert not [i for i in column.items if i.kind == "free"]
        assert column.summary == "Closed: Boiler repair"


def test_day_navigation_and_today(staff_client, clinic_day, settings):
    response = staff_client.get(URL, {"date": "2026-11-24"})
    assert response.context["previous_href"] == f"{URL}?date=2026-11-23"
    assert response.context["next_href"] == f"{URL}?date=2026-11-25"
    assert staff_client.get(URL).status_code == 200


def test_malformed_date_is_a_400_with_a_message(staff_client, clinic_day):
    response = staff_client.get(URL, {"date": "24/11/2026"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "“24/11/2026” is not a date" in html
    assert 'aria-invalid="true"' in html


@pytest.mark.parametrize("raw", ["9999-12-31", "0001-01-01", "2026-02-30"])
def test_dates_out_of_range_are_a_400_not_a_crash(staff_client, raw):
    assert staff_client.get(URL, {"date": raw}).status_code == 400
    assert staff_client.get("/admin/booking/appointment/", {"to_date": raw}, follow=True).status_code == 200


def test_unknown_therapist_is_a_404(staff_client, clinic_day):
    assert staff_client.get(URL, {"therapist": "999999"}).status_code == 404
    assert staff_client.get(URL, {"therapist": "abc"}).status_code == 404


def test_week_view_for_one_therapist(staff_client, clinic_day, swedish):
    anna, _ben, _booked, _cancelled = clinic_day
    appointment(anna, swedish, at(TUESDAY + timedelta(days=7), 9), client_name="Next Week")
    response = staff_client.get(URL, {"date": "2026-11-26", "therapist": anna.pk})
    assert response.status_code == 200
    context = response.context
    assert context["mode"] == "week"
    assert [c.heading for c in context["columns"]] == [
        "Mon 23 Nov", "Tue 24 Nov", "Wed 25 Nov", "Thu 26 Nov", "Fri 27 Nov", "Sat 28 Nov", "Sun 29 Nov",
    ]  # fmt: skip
    tuesday = context["columns"][1]
    assert [i.title for i in tuesday.items if i.kind == "booked"] == ["Jane Doe"]
    assert context["columns"][0].hours == "Not working"
    assert "Next Week" not in response.content.decode()
    assert context["next_href"] == f"{URL}?date=2026-11-30&therapist={anna.pk}"


def test_clock_change_day_names_the_zone_on_the_hour_marks(staff_client, swedish):
    sunday = date(2027, 3, 28)
    TherapistFactory(name="Early Bird", techniques=[swedish], hours={6: [("00:00", "04:00")]})
    response = staff_client.get(URL, {"date": sunday.isoformat()})
    assert [m.when for m in response.context["marks"]] == ["00:00 GMT", "02:00 BST", "03:00 BST"]
    free = [i for i in response.context["columns"][0].items if i.kind == "free"]
    assert [(i.when, i.detail) for i in free] == [("00:00–04:00", "3 h")]


def test_therapist_sees_only_their_own_day_and_week(client, clinic_day):
    anna, ben, _booked, _cancelled = clinic_day
    client.force_login(user_in_role("Therapist", "anna", anna))
    response = client.get(URL, {"date": "2026-11-24"})
    assert response.status_code == 200
    assert [c.heading for c in response.context["columns"]] == ["Anna Field"]
    html = response.content.decode()
    assert "Sam Gone" not in html and "Ben Stone" not in html
    # Free gaps are not booking links for a read-only role.
    assert all(not i.href for i in response.context["columns"][0].items if i.kind == "free")
    assert client.get(URL, {"therapist": ben.pk}).status_code == 404
    assert client.get(URL, {"therapist": anna.pk}).context["mode"] == "week"


def test_therapist_account_without_a_therapist_is_told_so(client, clinic_day):
    client.force_login(user_in_role("Therapist", "newcomer"))
    response = client.get(URL)
    assert response.status_code == 200
    assert "not linked to a therapist" in response.content.decode()
    assert response.context["columns"] == []


def test_reception_sees_everyone(client, clinic_day):
    client.force_login(user_in_role("Reception", "desk"))
    response = client.get(URL, {"date": "2026-11-24"})
    assert [c.heading for c in response.context["columns"]] == ["Anna Field", "Ben Stone"]


def test_needs_staff_and_permission(client, clinic_day, visitor_user):
    assert client.get(URL).status_code == 302  # to the login page
    from tests.factories import StaffFactory

    client.force_login(StaffFactory(username="nobody", is_superuser=False))
    assert client.get(URL).status_code == 403


def test_linked_from_the_admin_index_and_the_appointment_list(staff_client, clinic_day):
    assert f'href="{URL}"' in staff_client.get("/admin/").content.decode()
    assert f'href="{URL}"' in staff_client.get("/admin/booking/appointment/").content.decode()


def _fill(therapists, technique, day, count, rooms=()):
    """``count`` back-to-back 25-minute appointments (5 minutes cleanup) shared out; each
    therapist in a room of their own when ``rooms`` are given."""
    rows = []
    someone = ClientFactory()
    for i in range(count):
        therapist = therapists[i % len(therapists)]
        start = at(day, 8) + timedelta(minutes=30 * (i // len(therapists)))
        room = rooms[i % len(therapists)] if rooms else None
        rows.append(
            Appointment(
                room=room,
                room_until=start + timedelta(minutes=30) if room else None,
                therapist=therapist,
                technique=technique,
                duration_minutes=25,
                price="40.00",
                buffer_minutes=5,
                start=start,
                end=start + timedelta(minutes=25),
                occupied_until=start + timedelta(minutes=30),
                client_name=f"Client {i}",
                client_email=f"c{i}@example.com",
                client_phone="07700 900000",
                client=someone,
                reference=f"R{i:07d}",
            )
        )
    Appointment.objects.bulk_create(rows)


@pytest.mark.parametrize("view", ["day", "week", "rooms", "team-week"])
def test_fixed_number_of_queries_with_5_or_500_appointments(staff_client, swedish, view):
    team = [TherapistFactory(techniques=[swedish], hours={1: [("08:00", "21:00")]}) for _ in range(25)]
    rooms = [Room.objects.create(name=f"Room {n}", turnover_minutes=5) for n in range(25)]
    params = {
        "day": {"date": "2026-11-24"},
        "week": {"date": "2026-11-24", "therapist": team[0].pk},
        "rooms": {"date": "2026-11-24", "view": "rooms"},
        "team-week": {"date": "2026-11-24", "view": "week"},
    }[view]
    counts = []
    for total in (5, 500):
        Appointment.objects.all().delete()
        _fill(team, swedish, TUESDAY, total, rooms=rooms)
        staff_client.get(URL, params)  # warm the session and permission caches alike
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(URL, params)
        assert response.status_code == 200
        counts.append(len(queries))
    if view == "team-week":
        shown = sum(len(cell.items) for row in response.context["week_rows"] for cell in row.cells)
    else:
        shown = sum(1 for c in response.context["columns"] for i in c.items if i.kind == "booked")
    assert shown == (20 if view == "week" else 500)
    assert counts[0] == counts[1] <= 12, counts


def test_late_appointments_do_not_stretch_the_day_to_midnight_at_both_ends(staff_client, swedish):
    night_owl = TherapistFactory(name="Nia Late", techniques=[swedish], hours={1: [("14:00", "22:00")]})
    appointment(night_owl, swedish, at(TUESDAY, 22, 45), client_name="Ends At Midnight")
    marks = [m.when for m in staff_client.get(URL, {"date": "2026-11-24"}).context["marks"]]
    assert marks[0] == "14:00" and marks[-1] == "23:00"


def test_an_appointment_crossing_midnight_shows_on_both_days(staff_client, swedish):
    night_owl = TherapistFactory(name="Nia Late", techniques=[swedish], hours={1: [("20:00", "23:00")]})
    appointment(night_owl, swedish, at(TUESDAY, 23, 30), client_name="Night Client")
    wednesday = staff_client.get(URL, {"date": "2026-11-25"})
    (column,) = wednesday.context["columns"]
    assert [(i.title, i.when) for i in column.items if i.kind == "booked"] == [
        ("Night Client", "00:00–00:30")
    ]
    assert wednesday.context["marks"][0].when == "00:00"


def test_inactive_therapist_shows_appointments_but_no_free_time(staff_client, clinic_day):
    anna, *_ = clinic_day
    anna.active = False
    anna.save()
    (column, _ben) = staff_client.get(URL, {"date": "2026-11-24"}).context["columns"]
    assert [i.title for i in column.items if i.kind == "booked"] == ["Jane Doe"]
    assert not [i for i in column.items if i.kind == "free"]
    assert column.summary == "1 booked · not taking bookings"


# --------------------------------------------------------------------------- rooms (issue 12)


def _room(name, *, capacity=1, turnover=10, order=0, active=True):
    return Room.objects.create(
        name=name, capacity=capacity, turnover_minutes=turnover, display_order=order, active=active
    )


def _in_room(therapist, technique, start, room, **extra):
    until = start + timedelta(minutes=60 + room.turnover_minutes)
    return appointment(therapist, technique, start, room=room, room_until=until, **extra)


@pytest.fixture
def rooms_day(swedish):
    anna = TherapistFactory(name="Anna Field", techniques=[swedish], hours={1: [("09:00", "17:00")]})
    ben = TherapistFactory(name="Ben Stone", techniques=[swedish], hours={1: [("09:00", "17:00")]})
    suite = _room("Couples suite", capacity=2, turnover=20, order=2)
    garden = _room("Garden room", order=1)
    _room("Quiet room", order=3)
    solo = _in_room(anna, swedish, at(TUESDAY, 9), garden, client_name="Jane Doe")
    pair = _in_room(anna, swedish, at(TUESDAY, 11), suite, client_name="Pat Pair")
    guest = _in_room(
        ben, swedish, at(TUESDAY, 11), suite, client_name="Guest Pair", reference=pair.reference, seat=2
    )
    return anna, ben, garden, suite, solo, pair, guest


def test_room_view_has_a_column_per_room_and_a_pair_once(staff_client, rooms_day):
    anna, ben, garden, suite, solo, pair, guest = rooms_day
    response = staff_client.get(URL, {"date": "2026-11-24", "view": "rooms"})
    assert response.status_code == 200
    context = response.context
    assert context["mode"] == "rooms"
    # In the rooms' own order; no "No room" column while every booking has a room.
    assert [c.heading for c in context["columns"]] == ["Garden room", "Couples suite", "Quiet room"]
    garden_col, suite_col, quiet_col = context["columns"]
    assert [(i.kind, i.when, i.title, i.detail) for i in garden_col.items] == [
        ("booked", "09:00–10:00", "Jane Doe", "Swedish, 60 min · Anna Field"),
        ("turnover", "", "", ""),
    ]
    # The session for two: one block naming both guests and both therapists.
    booked = [i for i in suite_col.items if i.kind == "booked"]
    assert [(i.when, i.title, i.detail) for i in booked] == [
        ("11:00–12:00", "Pat Pair & Guest Pair", "Swedish, 60 min · Anna Field & Ben Stone")
    ]
    assert booked[0].href == f"/admin/booking/appointment/{pair.pk}/change/"
    assert suite_col.hours == "two tables · 20 min turnover" and suite_col.summary == "1 session"
    assert quiet_col.items == [] and quiet_col.summary == "0 sessions"
    html = response.content.decode()
    assert "Room turnover" in html and 'aria-current="page"' in html
    assert f"room__id__exact={garden.pk}" in garden_col.heading_href


def test_room_view_adds_a_no_room_column_only_when_needed(staff_client, rooms_day, swedish):
    anna, *_ = rooms_day
    response = staff_client.get(URL, {"date": "2026-11-24", "view": "rooms"})
    assert "No room" not in [c.heading for c in response.context["columns"]]
    appointment(anna, swedish, at(TUESDAY, 14), client_name="Before Rooms")
    columns = staff_client.get(URL, {"date": "2026-11-24", "view": "rooms"}).context["columns"]
    assert columns[-1].heading == "No room"
    assert [i.title for i in columns[-1].items if i.kind == "booked"] == ["Before Rooms"]


def test_room_view_without_rooms_says_so(staff_client, clinic_day):
    response = staff_client.get(URL, {"date": "2026-11-24", "view": "rooms"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "No rooms are set up" in html and "Nobody is working this day" not in html


def test_a_retired_room_keeps_its_column_while_it_holds_appointments(staff_client, rooms_day):
    *_, garden, _suite, _solo, _pair, _guest = rooms_day
    Room.objects.filter(pk=garden.pk).update(active=False)
    headings = [
        c.heading for c in staff_client.get(URL, {"date": "2026-11-24", "view": "rooms"}).context["columns"]
    ]
    assert headings == ["Garden room (not in use)", "Couples suite", "Quiet room"]
    headings = [
        c.heading for c in staff_client.get(URL, {"date": "2026-11-25", "view": "rooms"}).context["columns"]
    ]
    assert headings == ["Couples suite", "Quiet room"]


def test_the_therapist_columns_and_their_own_day_name_the_room(client, staff_client, rooms_day):
    anna, *_ = rooms_day
    columns = staff_client.get(URL, {"date": "2026-11-24"}).context["columns"]
    details = [i.detail for i in columns[0].items if i.kind == "booked"]
    assert details == ["Swedish, 60 min · Garden room", "Swedish, 60 min · Couples suite"]
    client.force_login(user_in_role("Therapist", "anna", anna))
    own = client.get(URL, {"date": "2026-11-24", "therapist": anna.pk, "view": "day"})
    assert [i.detail for i in own.context["columns"][0].items if i.kind == "booked"] == details
    # A therapist sees their own diary only: no room view, no one else's week.
    assert own.context["views"] == []
    other_view = client.get(URL, {"date": "2026-11-24", "view": "rooms"})
    assert [c.heading for c in other_view.context["columns"]] == ["Anna Field"]


def test_everyones_week_is_a_table_of_therapists_and_days(staff_client, clinic_day, swedish):
    anna, ben, booked, cancelled = clinic_day
    Closure.objects.create(first_day=date(2026, 11, 27), last_day=date(2026, 11, 27), reason="Boiler")
    response = staff_client.get(URL, {"date": "2026-11-26", "view": "week"})
    assert response.status_code == 200
    context = response.context
    assert context["mode"] == "team-week"
    assert [d["label"] for d in context["week_days"]] == [
        "Mon 23 Nov", "Tue 24 Nov", "Wed 25 Nov", "Thu 26 Nov", "Fri 27 Nov", "Sat 28 Nov", "Sun 29 Nov",
    ]  # fmt: skip
    rows = {row.therapist.name: row for row in context["week_rows"]}
    assert list(rows) == ["Anna Field", "Ben Stone", "Cleo Rest"]
    tuesday = rows["Anna Field"].cells[1]
    assert tuesday.note == "09:00–13:00, 14:00–18:00"
    assert [(i.when, i.title, i.kind) for i in tuesday.items] == [("10:00", "Jane Doe", "booked")]
    ben_tuesday = rows["Ben Stone"].cells[1]
    assert ben_tuesday.note == "10:00–16:00 · off 14:00–16:00 (Dentist)"
    assert [(i.title, i.kind, i.status) for i in ben_tuesday.items] == [
        ("Sam Gone", "cancelled", "Cancelled")
    ]
    assert rows["Anna Field"].cells[0].note == "Not working"
    assert rows["Anna Field"].cells[4].note == "Closed: Boiler"
    TimeOff.objects.create(
        therapist=anna, start=at(TUESDAY, 0), end=at(TUESDAY + timedelta(days=2), 0), reason="Leave"
    )
    again = staff_client.get(URL, {"date": "2026-11-26", "view": "week"}).context["week_rows"][0]
    assert [again.cells[1].note, again.cells[2].note] == ["Time off: Leave", "Not working"]
    assert rows["Anna Field"].href == f"{URL}?date=2026-11-23&therapist={anna.pk}"
    assert context["next_href"] == f"{URL}?date=2026-11-30&view=week"
    html = response.content.decode()
    assert '<table class="schedule-team-week">' in html and "Swipe sideways" in html


def test_after_booking_from_a_free_gap_the_day_shows_the_new_booking(staff_client, swedish, swedish_60):
    from tests.booking.admin.test_core import add_data, upcoming_tuesday

    therapist = TherapistFactory(name="Anna Field", techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    day = start.date()
    free = next(
        i
        for i in staff_client.get(URL, {"date": day.isoformat()}).context["columns"][0].items
        if i.kind == "free"
    )
    assert "from=schedule" in free.href
    response = staff_client.post(free.href, add_data(therapist, swedish, swedish_60, start))
    booked = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{URL}?date={day.isoformat()}&new={booked.pk}#appointment-{booked.pk}"
    page = staff_client.get(response["Location"])
    [new] = [i for c in page.context["columns"] for i in c.items if i.new]
    assert new.title == "Phone Client" and new.anchor == f"appointment-{booked.pk}"
    html = page.content.decode()
    assert f'id="appointment-{booked.pk}"' in html and "Just booked" in html
    assert f"Booked {booked.reference}: Phone Client" in html
    # "Save and add another" keeps the admin's own way.
    later = start.replace(hour=14)
    response = staff_client.post(
        free.href, {**add_data(therapist, swedish, swedish_60, later), "_addanother": "1"}
    )
    assert response["Location"].startswith("/admin/booking/appointment/add/")
    # A plain add (not from the schedule) goes to the list as before.
    response = staff_client.post(
        "/admin/booking/appointment/add/", add_data(therapist, swedish, swedish_60, start.replace(hour=16))
    )
    assert response["Location"] == "/admin/booking/appointment/"
    # A "new" that is not a number is ignored.
    assert staff_client.get(URL, {"date": day.isoformat(), "new": "x1"}).status_code == 200
