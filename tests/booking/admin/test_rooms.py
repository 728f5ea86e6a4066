"""Rooms in the staff workspace (issue 12): the room and feature admins, who may change
them, deleting a room that holds appointments, the warning about techniques no room can
host, and the room shown on appointments (list, filter, CSV, staff emails)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from booking import notifications, selectors
from booking.choices import AppointmentStatus
from booking.models import Appointment, Room, RoomFeature
from booking.notifications import EmailKind
from booking.services import appointments
from booking.services import rooms as room_services
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db
ROOMS = "/admin/booking/room/"


def make_room(name, *, capacity=1, features=(), turnover=10, active=True, order=0):
    room = Room.objects.create(
        name=name, capacity=capacity, turnover_minutes=turnover, active=active, display_order=order
    )
    room.features.set(features)
    return room


def feature(name):
    return RoomFeature.objects.get_or_create(name=name, slug=name.lower().replace(" ", "-"))[0]


def in_room(therapist, technique, start, room, **extra):
    """An appointment row in ``room`` (its turnover after the end)."""
    return appointment_row(
        therapist,
        technique,
        start,
        room=room,
        room_until=start + timedelta(minutes=60 + room.turnover_minutes),
        **extra,
    )


def soon(days=3, hour=10):
    today = timezone.now().astimezone(LONDON)
    return today.replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)


# --------------------------------------------------------------------------- roles


def test_managers_set_rooms_up_and_reception_only_sees_them(client):
    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    every = {f"{a}_{m}" for a in ("add", "change", "delete", "view") for m in ("room", "roomfeature")}
    assert every <= perms["Manager"]
    assert {c for c in perms["Reception"] if c.endswith(("_room", "_roomfeature"))} == {
        "view_room",
        "view_roomfeature",
    }
    assert not {c for c in perms["Therapist"] if c.endswith(("_room", "_roomfeature"))}

    client.force_login(user_in_role("Reception", "desk"))
    assert client.get(ROOMS).status_code == 200
    assert client.get(ROOMS + "add/").status_code == 403
    sneaky = {"name": "Sneaky", "capacity": 1, "turnover_minutes": 0}
    assert client.post(ROOMS + "add/", sneaky).status_code == 403
    assert not Room.objects.exists()

    client.force_login(user_in_role("Manager", "boss"))
    mat = feature("Floor mat")
    response = client.post(
        ROOMS + "add/",
        {"name": "Garden room", "capacity": 1, "features": [mat.pk], "turnover_minutes": 10, "active": "on",
         "display_order": 1},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    room = Room.objects.get()
    assert (room.name, room.turnover_minutes, list(room.features.all())) == ("Garden room", 10, [mat])


def test_room_list_shows_tables_features_turnover_and_upcoming_sessions(staff_client, swedish):
    garden = make_room("Garden room", features=[feature("Floor mat"), feature("Shower")], order=2)
    suite = make_room("Couples suite", capacity=2, turnover=20, order=1)
    anna, ben = TherapistFactory(techniques=[swedish]), TherapistFactory(techniques=[swedish])
    in_room(anna, swedish, soon(), garden)
    in_room(anna, swedish, soon(days=-3), garden)  # past: not upcoming
    in_room(anna, swedish, soon(hour=14), garden, status=AppointmentStatus.CANCELLED)
    # A session for two: two seats, one session in the room.
    pair = in_room(anna, swedish, soon(days=4), suite)
    in_room(ben, swedish, soon(days=4), suite, reference=pair.reference, seat=2)
    response = staff_client.get(ROOMS)
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [r.name for r in rows] == ["Couples suite", "Garden room"]  # by their order
    assert [r.upcoming_count for r in rows] == [1, 1]
    html = response.content.decode()
    assert "Floor mat, Shower" in html and "Two tables (couples)" in html
    assert f"room__id__exact={garden.pk}&amp;when=upcoming" in html


# --------------------------------------------------------------------------- delete


def test_deleting_a_room_with_upcoming_appointments_is_refused_with_links(staff_client, swedish):
    garden = make_room("Garden room")
    anna = TherapistFactory(name="Anna Field", techniques=[swedish])
    booked = in_room(anna, swedish, soon(), garden)
    in_room(anna, swedish, soon(days=-2), garden)
    url = f"{ROOMS}{garden.pk}/delete/"
    response = staff_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "cannot be deleted" in html and "Make it inactive instead" in html
    assert f'href="/admin/booking/appointment/{booked.pk}/change/"' in html
    assert booked.reference in html and "Anna Field" in html
    assert "1 past or cancelled appointment" in html
    # Posting the confirmation anyway changes nothing, and is no server error.
    response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert Room.objects.filter(pk=garden.pk).exists()


def test_past_appointments_alone_still_keep_the_room(staff_client, swedish):
    garden = make_room("Garden room")
    in_room(TherapistFactory(techniques=[swedish]), swedish, soon(days=-5), garden)
    html = staff_client.get(f"{ROOMS}{garden.pk}/delete/").content.decode()
    assert "Make it inactive instead" in html
    assert "1 past or cancelled appointment" in html
    assert Room.objects.filter(pk=garden.pk).exists()


def test_an_unused_room_is_deleted(staff_client):
    spare = make_room("Spare room")
    response = staff_client.post(f"{ROOMS}{spare.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Room.objects.exists()


def test_the_service_refuses_a_room_in_use(swedish):
    garden = make_room("Garden room")
    in_room(TherapistFactory(techniques=[swedish]), swedish, soon(), garden)
    with pytest.raises(room_services.RoomInUse) as refused:
        room_services.room_delete(room=garden)
    assert refused.value.code == "room_in_use"
    assert Room.objects.filter(pk=garden.pk).exists()


def test_a_room_booked_between_page_and_click_is_a_message_not_a_500(staff_client, swedish, monkeypatch):
    garden = make_room("Garden room")
    # The confirmation page saw no appointment; one arrives before the delete itself.
    in_room(TherapistFactory(techniques=[swedish]), swedish, soon(), garden)
    monkeypatch.setattr(
        "booking.admin.rooms.RoomAdmin.get_deleted_objects",
        lambda self, objs, request: ([str(garden)], {"rooms": 1}, set(), []),
    )
    response = staff_client.post(f"{ROOMS}{garden.pk}/delete/", {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert "holds appointments, so it cannot be deleted" in response.content.decode()
    assert Room.objects.filter(pk=garden.pk).exists()


# --------------------------------------------------------------------------- warnings


def _shiatsu():
    from booking.models import Technique

    return Technique.objects.get(slug="shiatsu")


def test_a_technique_no_room_can_host_is_announced_to_managers(client, swedish):
    shiatsu = _shiatsu()
    TherapistFactory(techniques=[shiatsu, swedish])
    mat = feature("Floor mat")
    shiatsu.required_features.set([mat])
    manager = user_in_role("Manager", "boss")
    client.force_login(manager)
    # No rooms at all: rooms are not used, so nothing to warn about.
    assert selectors.techniques_without_room() == []
    assert "needs" not in client.get("/admin/").content.decode()

    make_room("Garden room", features=[feature("Shower")])
    [found] = selectors.techniques_without_room()
    assert found.technique == shiatsu and found.missing == [mat]
    expected = "No room in use has everything Shiatsu needs (missing: Floor mat)"
    for url in ("/admin/", "/admin/booking/technique/", f"/admin/booking/technique/{shiatsu.pk}/change/"):
        assert expected in client.get(url).content.decode(), url
    # Said once, as the room reason, not also as "nobody offers it".
    listing = client.get("/admin/booking/technique/").content.decode()
    assert "Nobody taking bookings offers Shiatsu" not in listing
    # Reception is not asked to fix rooms.
    client.force_login(user_in_role("Reception", "desk"))
    assert expected not in client.get("/admin/").content.decode()
    # A room with the mat ends the warning; an inactive one would not have.
    make_room("Quiet room", features=[mat], active=False)
    assert selectors.techniques_without_room() != []
    make_room("Mat room", features=[mat])
    assert selectors.techniques_without_room() == []


def test_for_two_without_a_room_for_two_is_announced(swedish):
    swedish.for_two = True
    swedish.save()
    make_room("Garden room")
    [found] = selectors.techniques_without_room()
    assert found.technique == swedish and found.for_two_only
    make_room("Couples suite", capacity=2)
    assert selectors.techniques_without_room() == []


def test_technique_form_sets_room_needs_and_for_two(staff_client):
    mat = feature("Floor mat")
    html = staff_client.get("/admin/booking/technique/add/").content.decode()
    assert 'type="checkbox" name="required_features"' in html and 'name="for_two"' in html
    data = {
        "name": "Thai", "slug": "thai", "summary": "", "description": "", "suitable_for": "",
        "buffer_minutes": "15", "active": "on", "display_order": "0",
        "required_features": [mat.pk], "for_two": "on",
        "lengths-TOTAL_FORMS": "1", "lengths-INITIAL_FORMS": "0",
        "lengths-MIN_NUM_FORMS": "1", "lengths-MAX_NUM_FORMS": "1000",
        "lengths-0-duration_minutes": "60", "lengths-0-price": "50",
    }  # fmt: skip
    assert staff_client.post("/admin/booking/technique/add/", data).status_code == 302
    from booking.models import Technique

    thai = Technique.objects.get(slug="thai")
    assert list(thai.required_features.all()) == [mat] and thai.for_two
    listing = staff_client.get("/admin/booking/technique/").content.decode()
    assert "Floor mat" in listing


def test_therapist_form_has_room_limits_and_gender(staff_client, swedish):
    garden = make_room("Garden room")
    therapist = TherapistFactory(techniques=[swedish], hours={})
    html = staff_client.get(f"/admin/booking/therapist/{therapist.pk}/change/").content.decode()
    for name in ("preferred_room", "max_daily_minutes", "max_continuous_minutes", "gender"):
        assert f'name="{name}"' in html, name
    data = {
        "name": therapist.name, "slug": therapist.slug, "bio": "", "techniques": [swedish.pk], "active": "on",
        "preferred_room": garden.pk, "max_daily_minutes": "300", "max_continuous_minutes": "180",
        "gender": "female",
        "working_hours-TOTAL_FORMS": "0", "working_hours-INITIAL_FORMS": "0",
        "working_hours-MIN_NUM_FORMS": "0", "working_hours-MAX_NUM_FORMS": "1000",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
        "time_off-MIN_NUM_FORMS": "0", "time_off-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = staff_client.post(f"/admin/booking/therapist/{therapist.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    therapist.refresh_from_db()
    assert (therapist.preferred_room, therapist.max_daily_minutes, therapist.max_continuous_minutes) == (
        garden,
        300,
        180,
    )
    assert therapist.gender == "female"
    # A limit below 15 minutes is a form message.
    data["max_daily_minutes"] = "5"
    response = staff_client.post(f"/admin/booking/therapist/{therapist.pk}/change/", data)
    assert response.status_code == 200 and "max_daily_minutes" in response.context["adminform"].form.errors


# --------------------------------------------------------------------------- appointments


def test_appointment_list_has_a_room_column_and_filter(staff_client, swedish):
    garden, quiet = make_room("Garden room"), make_room("Quiet room")
    anna = TherapistFactory(techniques=[swedish])
    in_room(anna, swedish, soon(), garden, client_name="In Garden")
    in_room(anna, swedish, soon(hour=14), quiet, client_name="In Quiet")
    html = staff_client.get("/admin/booking/appointment/").content.decode()
    assert "column-room" in html and "Garden room" in html and "Quiet room" in html
    filtered = staff_client.get("/admin/booking/appointment/", {"room__id__exact": garden.pk})
    names = [a.client_name for a in filtered.context["cl"].result_list]
    assert names == ["In Garden"]
    export = staff_client.get("/admin/booking/appointment/export.csv", {"room__id__exact": garden.pk})
    text = export.content.decode()
    assert "Room" in text.splitlines()[0] and "Garden room" in text and "Quiet room" not in text


def test_room_field_appears_only_when_rooms_are_set_up(staff_client, swedish):
    assert 'name="room_choice"' not in staff_client.get("/admin/booking/appointment/add/").content.decode()
    make_room("Garden room")
    make_room("Old room", active=False)
    response = staff_client.get("/admin/booking/appointment/add/")
    assert 'name="room_choice"' in response.content.decode()
    form = response.context["adminform"].form
    assert [r.name for r in form.fields["room_choice"].queryset] == ["Garden room"]
    assert form.fields["room_choice"].empty_label == "Best free room (chosen for you)"


def test_a_retired_room_still_shows_on_its_appointment(staff_client, swedish):
    old = make_room("Old room", active=False)
    booked = in_room(TherapistFactory(techniques=[swedish]), swedish, soon(), old)
    form = staff_client.get(f"/admin/booking/appointment/{booked.pk}/change/").context["adminform"].form
    assert form.initial["room_choice"] == old.pk
    assert old in form.fields["room_choice"].queryset


def test_staff_emails_name_the_room(swedish):
    garden = make_room("Garden room")
    booked = in_room(TherapistFactory(techniques=[swedish]), swedish, soon(), garden)
    for kind in (EmailKind.STAFF_NOTICE, EmailKind.STAFF_MOVED, EmailKind.STAFF_CANCELLED):
        message = notifications.build_email(kind, booked)
        assert "Room:      Garden room" in message.body, kind
        assert "Garden room" in message.alternatives[0][0], kind
    plain = in_room(TherapistFactory(techniques=[swedish]), swedish, soon(days=5), garden)
    plain.room, plain.room_until = None, None
    assert "Room:" not in notifications.build_email(EmailKind.STAFF_NOTICE, plain).body


# --------------------------------------------------------------------------- booking with a room


def test_staff_book_into_a_chosen_room_or_the_best_free_one(staff_client, swedish, swedish_60):
    from tests.booking.admin.test_core import ADD, add_data, upcoming_tuesday

    garden, quiet = make_room("Garden room", order=1), make_room("Quiet room", order=2)
    anna = TherapistFactory(name="Anna Field", techniques=[swedish])
    ben = TherapistFactory(name="Ben Stone", techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    response = staff_client.post(ADD, add_data(anna, swedish, swedish_60, start, room_choice=quiet.pk))
    assert response.status_code == 302, response.content.decode()[:3000]
    chosen = Appointment.objects.get()
    assert chosen.room == quiet and chosen.room_until == chosen.end + timedelta(minutes=10)
    # None chosen: the services pick the free one.
    response = staff_client.post(ADD, add_data(ben, swedish, swedish_60, start, client_email="b@example.com"))
    assert response.status_code == 302
    assert Appointment.objects.exclude(pk=chosen.pk).get().room == garden
    # A room already held at that time is a form message naming the room, not a 500.
    carl = TherapistFactory(name="Carl Third", techniques=[swedish])
    response = staff_client.post(ADD, add_data(carl, swedish, swedish_60, start, room_choice=garden.pk))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "Garden room" in errors
    assert Appointment.objects.count() == 2
    # A room id that does not exist is a field message.
    response = staff_client.post(ADD, add_data(carl, swedish, swedish_60, start, room_choice="999999"))
    assert response.status_code == 200 and "room_choice" in response.context["adminform"].form.errors


def test_staff_move_an_appointment_to_another_room(staff_client, swedish, swedish_60):
    from tests.booking.admin.test_core import add_data, upcoming_tuesday

    garden, quiet = make_room("Garden room", order=1), make_room("Quiet room", order=2)
    anna = TherapistFactory(techniques=[swedish])
    start = upcoming_tuesday().replace(hour=10)
    booked = appointments.appointment_book(
        technique=swedish, length=swedish_60, start=start, therapist=anna, notify=False,
        client=appointments.ClientDetails("Olivia Brown", "olivia@example.com", "07700 900101"),
    )  # fmt: skip
    assert booked.room == garden
    url = f"/admin/booking/appointment/{booked.pk}/change/"
    # Saved as shown (the room untouched): it stays where it is.
    data = add_data(anna, swedish, swedish_60, start, room_choice=garden.pk)
    data["client_name"] = "Olivia Brown"
    assert staff_client.post(url, data).status_code == 302
    booked.refresh_from_db()
    assert booked.room == garden
    data["room_choice"] = quiet.pk
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    booked.refresh_from_db()
    assert booked.room == quiet
    from django.contrib.admin.models import LogEntry

    assert "Room: Garden room → Quiet room" in LogEntry.objects.latest("pk").get_change_message()


def test_room_pages_run_a_fixed_number_of_queries(staff_client, swedish, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    anna = TherapistFactory(techniques=[swedish])
    counts = {}
    for total in (2, 20):
        Room.objects.filter(appointments__isnull=True).delete()
        for n in range(Room.objects.count(), total):
            room = make_room(f"Room {n:02d}", features=[feature("Floor mat"), feature(f"Extra {n}")])
            in_room(anna, swedish, soon(days=3 + n), room)
        pages = (
            "/admin/booking/room/",
            "/admin/booking/roomfeature/",
            "/admin/booking/technique/",
            "/admin/",
        )
        for url in pages:
            staff_client.get(url)  # warm the session and permission caches alike
            with CaptureQueriesContext(connection) as queries:
                assert staff_client.get(url).status_code == 200
            counts.setdefault(url, []).append(len(queries))
    assert all(a == b for a, b in counts.values()), counts
    with django_assert_max_num_queries(14):  # the rooms warning reads 4 of them
        staff_client.get("/admin/booking/room/")
