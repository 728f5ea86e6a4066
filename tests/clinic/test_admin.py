"""The staff site's own guards (clinic/admin.py): odd query strings, date hierarchies
beyond the calendar and unreadable selections are 400s, redirects or messages, never 500s."""

from datetime import datetime, timedelta

import pytest
from django.contrib import admin

from booking.models import Appointment
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row

pytestmark = pytest.mark.django_db
LIST = "/admin/booking/appointment/"


@pytest.fixture
def booked(swedish):
    start = datetime(2026, 11, 24, 10, tzinfo=LONDON)
    return appointment_row(TherapistFactory(techniques=[swedish]), swedish, start)


def test_every_model_admin_uses_the_forgiving_change_list(rf, staff_user):
    from clinic.admin import ForgivingChangeList

    request = rf.get("/")
    request.user = staff_user
    for model_admin in admin.site._registry.values():
        assert issubclass(model_admin.get_changelist(request), ForgivingChangeList), model_admin


@pytest.mark.parametrize(
    "query",
    [
        "start__year=2147483648",
        "start__year=2026&start__month=2147483648",
        "start__year=2026&start__month=1&start__day=2147483648",
        "start__year=9999",  # next year is 10000
        "start__year=9999&start__month=12",  # next month is in 10000
        "start__year=9999&start__month=12&start__day=31",
        "start__year__gte=2147483648",  # not the hierarchy: a lookup typed by hand
    ],
)
def test_a_date_hierarchy_beyond_the_calendar_shows_the_whole_list(staff_client, booked, query):
    response = staff_client.get(f"{LIST}?{query}")
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?e=1"
    assert staff_client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/admin/booking/closure/?first_day__year=2147483648",
        "/admin/articles/article/?published_at__year=9999&published_at__month=12",
    ],
)
def test_other_date_hierarchies_are_guarded_too(staff_client, url):
    assert staff_client.get(url).status_code == 302


@pytest.mark.parametrize(
    "url",
    [
        f"{LIST}?status__exact=%00",
        f"{LIST}?source__exact=confirmed%00",
        f"{LIST}?q=ok&%00=1",
        "/admin/autocomplete/?term=%00&app_label=booking&model_name=appointment&field_name=therapist",
        "/admin/django_tasks_database/dbtaskresult/?status__exact=%00",
        f"{LIST}?client_name__regex=(",
        f"{LIST}?client_name__iregex=a",
        f"{LIST}?status__range=ab",
    ],
)
def test_a_query_string_the_database_would_refuse_is_a_400(staff_client, booked, url):
    response = staff_client.get(url)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This address cannot be read" in html
    assert "Open the page without them" in html


@pytest.mark.parametrize(
    "url",
    [
        f"{LIST}?start__gte=2026-01-01T00:00:00-23:59",
        "/admin/clinic/signinevent/?at__gte=0001-01-01T00:00:00-23:59",
    ],
)
def test_a_time_zone_offset_the_database_refuses_shows_the_whole_list(staff_client, booked, url):
    # PostgreSQL refuses offsets beyond 16 hours ("time zone displacement out of range").
    # The test runs in a transaction, as a caller's may: the refusal must not spoil it.
    response = staff_client.get(url)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")
    assert Appointment.objects.filter(pk=booked.pk).exists()


@pytest.mark.parametrize("selected", ["<script>", "1e309", str(2**64), ""])
def test_an_action_on_a_selection_that_is_not_ids_changes_nothing(staff_client, booked, selected):
    response = staff_client.post(
        LIST, {"action": "mark_completed", "_selected_action": [selected], "index": "0"}, follow=True
    )
    assert response.status_code == 200
    assert "The selection could not be read; nothing was changed." in response.content.decode()
    booked.refresh_from_db()
    assert booked.status == "confirmed"


def test_a_plain_selection_still_works(staff_client, booked):
    booked.start -= timedelta(days=3650)
    booked.end -= timedelta(days=3650)
    booked.occupied_until -= timedelta(days=3650)
    booked.save()
    response = staff_client.post(LIST, {"action": "mark_completed", "_selected_action": [str(booked.pk)]})
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.status == "completed"


def test_managers_can_clean_up_expired_sign_in_attempts(client, staff_user):
    from axes.models import AccessAttempt

    from tests.factories import user_in_role

    attempt = AccessAttempt.objects.create(
        username="someone", ip_address="192.0.2.1", user_agent="", failures_since_start=3
    )
    client.force_login(user_in_role("Manager", "manager"))
    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "cleanup_expired_attempts", "_selected_action": [str(attempt.pk)], "index": "0"},
    )
    assert response.status_code == 302


def test_a_many_to_many_id_beyond_the_databases_integers_is_a_form_error(staff_client, swedish):
    therapist = TherapistFactory(techniques=[swedish], hours={})
    data = {
        "name": therapist.name, "slug": therapist.slug, "bio": "", "active": "on",
        "techniques": [str(swedish.pk), str(2**64)],
        "working_hours-TOTAL_FORMS": "0", "working_hours-INITIAL_FORMS": "0",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = staff_client.post(f"/admin/booking/therapist/{therapist.pk}/change/", data)
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
