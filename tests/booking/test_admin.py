from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from booking import services
from booking.choices import AppointmentStatus
from booking.models import Appointment
from tests.conftest import LONDON
from tests.factories import TherapistFactory, user_in_role

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
    first = services.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist,
        client=services.ClientDetails("First Client", "f@example.com", "1"),
    )  # fmt: skip
    response = staff_client.post(ADD, add_data(therapist, swedish, swedish_60, start + timedelta(minutes=30)))
    assert response.status_code == 200
    # The error names the appointment in the way, so staff know what to move.
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == [
        f"Overlaps {first.reference}: First Client, Swedish 10:00–11:00 (room free again at 11:15, after cleanup)."
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
    client = services.ClientDetails("A", "a@example.com", "1")
    first = services.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=therapist, client=client
    )
    services.appointment_book(
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


# --------------------------------------------------------------------------- roles


@pytest.fixture
def two_diaries(swedish, swedish_60):
    anna = TherapistFactory(name="Anna", techniques=[swedish])
    ben = TherapistFactory(name="Ben", techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    mine = services.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=anna,
        client=services.ClientDetails("Alice Mine", "alice@example.com", "07700 900001"),
        source="staff", notify=False,
    )  # fmt: skip
    theirs = services.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=ben,
        client=services.ClientDetails("Bob Theirs", "bob@example.com", "07700 900002"),
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
    assert perms["Therapist"] == {"view_appointment", "view_therapist", "view_workinghours", "view_timeoff"}


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
