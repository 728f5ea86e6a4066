"""booking.admin.clients: the client list and search, the client's page, role scoping,
"Book for this client", the appointment form's client autocomplete, and merging."""

from datetime import datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from booking.choices import AppointmentStatus, ConsentMethod, PolicyKind
from booking.models import Appointment, Client, Consent, PolicyText
from booking.roles import MANAGER, RECEPTION, THERAPIST
from tests.conftest import LONDON
from tests.factories import ClientFactory, TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db
LIST = "/admin/booking/client/"
ADD_APPOINTMENT = "/admin/booking/appointment/add/"
AUTOCOMPLETE = "/admin/autocomplete/"


def page(client_id: int) -> str:
    return f"/admin/booking/client/{client_id}/change/"


def names(response) -> set[str]:
    return {c.name for c in response.context["cl"].result_list}


def autocomplete(http, term: str) -> set[str]:
    response = http.get(
        AUTOCOMPLETE,
        {"term": term, "app_label": "booking", "model_name": "appointment", "field_name": "client"},
    )
    assert response.status_code == 200, response.content[:500]
    return {row["text"] for row in response.json()["results"]}


@pytest.fixture
def olivia():
    return ClientFactory(name="Olivia Brown", email="Olivia.Brown@example.com", phone="+447700900101")


@pytest.fixture
def others():
    return [
        ClientFactory(name="Ben Green", email="ben@example.com", phone="+441227123456"),
        ClientFactory(name="Cara White", email="cara@example.org", phone="+33612345678"),
    ]


@pytest.mark.parametrize(
    "term",
    ["Olivia", "brown", "olivia.brown@EXAMPLE", "07700 900101", "07700900101", "+44 7700 900101",
     "0044 7700 900101", "(07700) 900-101", "+447700900101", "900101", "7700 900"],
)  # fmt: skip
def test_the_list_finds_a_client_by_name_email_or_phone_in_any_format(staff_client, olivia, others, term):
    assert names(staff_client.get(LIST, {"q": term})) == {"Olivia Brown"}


def test_a_foreign_number_is_found_in_international_form(staff_client, olivia, others):
    assert names(staff_client.get(LIST, {"q": "+33 6 12 34 56 78"})) == {"Cara White"}
    assert names(staff_client.get(LIST, {"q": "01227 123456"})) == {"Ben Green"}


@pytest.mark.parametrize("term", ["'; DROP TABLE x; --", "\x00", "+", "0" * 300, "%", "_"])
def test_odd_search_terms_are_a_list_not_an_error(staff_client, olivia, term):
    response = staff_client.get(LIST, {"q": term})
    assert response.status_code in (200, 400)  # NUL is the staff site's 400


@pytest.fixture
def visits(swedish, olivia):
    therapist = TherapistFactory(name="Tess Therapist", techniques=[swedish])
    now = timezone.now()
    rows = {
        "upcoming": appointment_row(
            therapist, swedish, now + timedelta(days=3), client=olivia, price="70.00"
        ),
        "done": appointment_row(
            therapist, swedish, now - timedelta(days=10), client=olivia, status=AppointmentStatus.COMPLETED
        ),
        "no_show": appointment_row(
            therapist, swedish, now - timedelta(days=20), client=olivia, status=AppointmentStatus.NO_SHOW
        ),
        "late": appointment_row(
            therapist, swedish, now - timedelta(days=30), client=olivia, status=AppointmentStatus.CANCELLED
        ),
        "early": appointment_row(
            therapist, swedish, now - timedelta(days=40), client=olivia, status=AppointmentStatus.CANCELLED
        ),
    }
    # Cancelled within the 24-hour cutoff, and a week ahead.
    Appointment.objects.filter(pk=rows["late"].pk).update(updated_at=rows["late"].start - timedelta(hours=2))
    Appointment.objects.filter(pk=rows["early"].pk).update(updated_at=rows["early"].start - timedelta(days=7))
    return therapist, rows


def test_the_client_page_shows_visits_counts_and_consents(staff_client, olivia, visits):
    _therapist, rows = visits
    policy = PolicyText.objects.filter(kind=PolicyKind.CANCELLATION).first()
    Consent.objects.create(
        client=olivia, appointment=rows["upcoming"], policy=policy, agreed_at=timezone.now(),
        method=ConsentMethod.ONLINE_TICK,
    )  # fmt: skip
    response = staff_client.get(page(olivia.pk))
    assert response.status_code == 200
    found = response.context["visits"]
    assert [a.pk for a in found.upcoming] == [rows["upcoming"].pk]
    assert [a.pk for a in found.past] == [rows[k].pk for k in ("done", "no_show", "late", "early")]
    assert (found.visits, found.no_shows, found.late_cancellations, found.cancellations) == (1, 1, 1, 2)
    html = response.content.decode()
    assert "Tess Therapist" in html and "£70.00" in html and "No-show" in html
    assert "Ticked online" in html
    assert "Book for this client" in html
    assert 'id="client-health-title"' in html  # a superuser may see health data


def test_reception_sees_no_health_section_and_cannot_merge(client, olivia, others):
    client.force_login(user_in_role(RECEPTION, "rita"))
    html = client.get(page(olivia.pk)).content.decode()
    assert 'id="client-health-title"' not in html
    assert "merge_selected" not in client.get(LIST).content.decode()


def test_a_therapist_sees_only_their_own_clients_everywhere(client, swedish, olivia, others):
    mine = TherapistFactory(techniques=[swedish])
    theirs = TherapistFactory(techniques=[swedish])
    appointment_row(mine, swedish, timezone.now() - timedelta(days=3), client=olivia)
    appointment_row(theirs, swedish, timezone.now() - timedelta(days=3), client=others[0])
    client.force_login(user_in_role(THERAPIST, "tess", therapist=mine))
    assert names(client.get(LIST)) == {"Olivia Brown"}
    assert names(client.get(LIST, {"q": "ben"})) == set()
    assert client.get(page(olivia.pk)).status_code == 200
    assert client.get(page(others[0].pk)).status_code == 302  # the admin's "not found" redirect
    # The appointment form's autocomplete is scoped the same way (a therapist has view
    # permission on appointments, which the autocomplete asks for).
    assert autocomplete(client, "e") == {"Olivia Brown"}


@pytest.mark.parametrize("bad", ["abc", "99999999", "-1", "1e3", "١٢", "9" * 40])
def test_tampered_client_ids_are_not_found_not_errors(staff_client, bad):
    assert staff_client.get(f"/admin/booking/client/{bad}/change/").status_code in (302, 404)
    response = staff_client.get(ADD_APPOINTMENT, {"client": bad})
    assert response.status_code == 200
    assert response.context["adminform"].form.initial.get("client") is None


def test_book_for_this_client_prefills_the_appointment_form(staff_client, olivia):
    response = staff_client.get(ADD_APPOINTMENT, {"client": olivia.pk})
    initial = response.context["adminform"].form.initial
    assert initial["client"] == olivia.pk
    assert initial["client_name"] == "Olivia Brown"
    assert initial["client_email"] == "Olivia.Brown@example.com"
    assert initial["client_phone"] == "07700 900101"
    assert "Olivia Brown" in response.content.decode()  # the autocomplete shows the pick


def test_the_autocomplete_finds_clients_by_name_email_or_phone(staff_client, olivia, others):
    assert autocomplete(staff_client, "oliv") == {"Olivia Brown"}
    assert autocomplete(staff_client, "ben@") == {"Ben Green"}
    assert autocomplete(staff_client, "07700 900101") == {"Olivia Brown"}


def _add_data(therapist, technique, length, start, **extra):
    data = {
        "therapist": therapist.pk,
        "technique": technique.pk,
        "length": length.pk,
        "start_0": start.strftime("%d/%m/%Y"),
        "start_1": start.strftime("%H:%M"),
        "status": AppointmentStatus.CONFIRMED,
        "client": "",
        "client_name": "",
        "client_email": "",
        "client_phone": "",
        "client_notes": "",
    }
    data.update(extra)
    return data


def _next_tuesday_ten() -> datetime:
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=2)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=LONDON).replace(hour=10)


def test_picking_a_client_books_for_them_without_retyping(staff_client, swedish, swedish_60, olivia):
    therapist = TherapistFactory(techniques=[swedish])
    response = staff_client.post(
        ADD_APPOINTMENT, _add_data(therapist, swedish, swedish_60, _next_tuesday_ten(), client=olivia.pk)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    booked = Appointment.objects.get()
    assert booked.client_id == olivia.pk
    assert (booked.client_name, booked.client_email, booked.client_phone) == (
        "Olivia Brown", "Olivia.Brown@example.com", "+447700900101",
    )  # fmt: skip


def test_without_a_pick_the_typed_details_make_a_new_client(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    data = _add_data(
        therapist, swedish, swedish_60, _next_tuesday_ten(),
        client_name="New Person", client_email="new@example.com", client_phone="01227 123 456",
    )  # fmt: skip
    assert staff_client.post(ADD_APPOINTMENT, data).status_code == 302
    assert Client.objects.get().name == "New Person"
    assert str(Client.objects.get().phone) == "+441227123456"


def test_neither_a_pick_nor_details_is_a_clear_form_error(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    response = staff_client.post(
        ADD_APPOINTMENT, _add_data(therapist, swedish, swedish_60, _next_tuesday_ten())
    )
    assert response.status_code == 200
    assert "Pick a client above" in response.content.decode()
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("bad", ["abc", "99999999", "-5"])
def test_a_tampered_client_pick_is_a_form_error(staff_client, swedish, swedish_60, bad):
    therapist = TherapistFactory(techniques=[swedish])
    data = _add_data(therapist, swedish, swedish_60, _next_tuesday_ten(), client=bad, client_name="X",
                     client_email="x@example.com", client_phone="07700 900101")  # fmt: skip
    response = staff_client.post(ADD_APPOINTMENT, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_a_malformed_phone_is_a_clear_error_and_the_input_stays(staff_client, olivia):
    data = {
        "name": olivia.name, "email": olivia.email, "phone": "call me maybe",
        "therapist_preference": "none", "pressure": "",
    }  # fmt: skip
    response = staff_client.post(page(olivia.pk), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "not a phone number we can call" in html
    assert 'value="call me maybe"' in html


def test_the_phone_is_saved_in_international_form_and_ticking_verifies(staff_client, olivia):
    data = {
        "name": olivia.name, "email": olivia.email, "phone": "(01227) 123-456",
        "therapist_preference": "none", "pressure": "", "details_checked": "on",
    }  # fmt: skip
    assert staff_client.post(page(olivia.pk), data).status_code == 302
    olivia.refresh_from_db()
    assert str(olivia.phone) == "+441227123456"
    assert olivia.verified_at is not None


def test_a_second_record_with_a_known_email_is_refused_with_advice(staff_client, olivia):
    data = {"name": "Liv", "email": " olivia.brown@example.com", "phone": "", "therapist_preference": "none"}
    response = staff_client.post("/admin/booking/client/add/", data)
    assert response.status_code == 200
    assert "Merge the two records instead" in response.content.decode()


def test_merging_asks_first_then_moves_everything_and_logs(client, swedish, olivia, others):
    manager = user_in_role(MANAGER, "maggie")
    client.force_login(manager)
    therapist = TherapistFactory(techniques=[swedish])
    for days in (5, 6):
        appointment_row(therapist, swedish, timezone.now() - timedelta(days=days), client=others[0])
    appointment_row(therapist, swedish, timezone.now() - timedelta(days=7), client=olivia)
    selected = {"action": "merge_selected", "_selected_action": [olivia.pk, others[0].pk]}
    confirm = client.post(LIST, selected)
    assert confirm.status_code == 200 and "Merge these two client records?" in confirm.content.decode()
    assert Appointment.objects.filter(client=olivia).count() == 1  # nothing yet
    done = client.post(LIST, {**selected, "post": "yes", "keep": olivia.pk})
    assert done.status_code == 302
    assert Appointment.objects.filter(client=olivia).count() == 3
    others[0].refresh_from_db()
    assert others[0].merged_into_id == olivia.pk
    assert LogEntry.objects.filter(user=manager).count() == 2
    assert names(client.get(LIST)) == {"Olivia Brown", "Cara White"}


def test_merging_needs_exactly_two(client, olivia, others):
    client.force_login(user_in_role(MANAGER, "maggie"))
    response = client.post(
        LIST,
        {"action": "merge_selected", "_selected_action": [olivia.pk, *[o.pk for o in others]]},
        follow=True,
    )
    assert "Select exactly two" in response.content.decode()
    assert not Client.objects.filter(merged_into__isnull=False).exists()


@pytest.mark.parametrize("count", [5, 500])
def test_the_client_page_and_list_run_a_fixed_number_of_queries(
    staff_client, swedish, olivia, django_assert_max_num_queries, count
):
    therapist = TherapistFactory(techniques=[swedish])
    start = timezone.now() - timedelta(days=count)
    rows = [
        Appointment(
            therapist=therapist, technique=swedish, client=olivia, duration_minutes=30, price="40.00",
            buffer_minutes=0, start=start + timedelta(days=i), end=start + timedelta(days=i, minutes=30),
            occupied_until=start + timedelta(days=i, minutes=30), client_name="Olivia Brown",
            client_email="olivia@example.com", client_phone="07700 900101", reference=f"Q{i:07d}",
        )
        for i in range(count)
    ]  # fmt: skip
    Appointment.objects.bulk_create(rows)
    ClientFactory.create_batch(count // 5)
    # The clients' 10, plus the privacy part's 1 (the latest looks at the health data), plus
    # the two-factor device that verified the session (django-otp, issue 15).
    with django_assert_max_num_queries(12):
        response = staff_client.get(page(olivia.pk))
    assert response.status_code == 200
    assert ("Showing 50 of 500." in response.content.decode()) == (count == 500)
    with django_assert_max_num_queries(8):  # 7, plus the two-factor device
        assert staff_client.get(LIST, {"q": "07700 900101"}).status_code == 200


def test_a_huge_client_pick_is_a_form_error(staff_client, swedish, swedish_60):
    therapist = TherapistFactory(techniques=[swedish])
    data = _add_data(therapist, swedish, swedish_60, _next_tuesday_ten(), client="9" * 40, client_name="X",
                     client_email="x@example.com", client_phone="07700 900101")  # fmt: skip
    assert staff_client.post(ADD_APPOINTMENT, data).status_code == 200


def test_all_of_a_clients_appointments_are_one_link_away(staff_client, swedish, olivia, others):
    therapist = TherapistFactory(techniques=[swedish])
    appointment_row(
        therapist, swedish, timezone.now() - timedelta(days=2), client=olivia, reference="OLIV0001"
    )
    appointment_row(
        therapist, swedish, timezone.now() - timedelta(days=3), client=others[0], reference="BEN00001"
    )
    response = staff_client.get("/admin/booking/appointment/", {"client__id__exact": olivia.pk})
    assert [a.reference for a in response.context["cl"].result_list] == ["OLIV0001"]
    assert staff_client.get("/admin/booking/appointment/", {"client__id__exact": "x"}).status_code in (
        200,
        302,
    )


def test_the_contact_details_of_a_picked_client_are_role_scoped(client, swedish, olivia, others):
    mine = TherapistFactory(techniques=[swedish])
    appointment_row(mine, swedish, timezone.now() - timedelta(days=3), client=olivia)
    client.force_login(user_in_role(THERAPIST, "tess", therapist=mine))
    response = client.get(f"/admin/booking/client/{olivia.pk}/contact.json")
    assert response.json() == {
        "name": "Olivia Brown",
        "email": "Olivia.Brown@example.com",
        "phone": "07700 900101",
    }
    assert client.get(f"/admin/booking/client/{others[0].pk}/contact.json").status_code == 404
    assert client.get("/admin/booking/client/99999999999999999999/contact.json").status_code == 404
