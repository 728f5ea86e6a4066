"""booking/admin/privacy.py: the record of looks at health data (managers only, read
only), and a client's export and erasure pages."""

import json
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from booking.admin import privacy as admin_privacy
from booking.choices import HealthAccessKind
from booking.models import Client, HealthDataAccess
from booking.services import privacy
from tests.factories import appointment_row, client_with_health_record, user_in_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_files")]

LOG = reverse("admin:booking_healthdataaccess_changelist")


@pytest.fixture
def manager():
    return user_in_role("Manager", "manager")


@pytest.fixture
def reception():
    return user_in_role("Reception", "reception")


@pytest.fixture
def ada():
    client, _ = client_with_health_record()
    return client


def signed_in(client, user):
    client.force_login(user)
    return client


def looks(ada, manager, other_client=None):
    privacy.health_access_record(user=manager, client=ada, kind=HealthAccessKind.INTAKE, object_id=1)
    privacy.health_access_record(user=manager, client=ada, kind=HealthAccessKind.NOTE, object_id=2)
    if other_client:
        privacy.health_access_record(user=manager, client=other_client, kind=HealthAccessKind.INTAKE)


# --------------------------------------------------------------------------- the record


def test_managers_read_the_record_filtered_by_client_kind_user_and_date(client, manager, ada):
    grace, _ = client_with_health_record(name="Grace Hopper", email="grace@example.com")
    looks(ada, manager, grace)
    signed_in(client, manager)
    response = client.get(LOG)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 3
    by_client = client.get(LOG, {"client": ada.pk})
    assert {a.client for a in by_client.context["cl"].result_list} == {ada}
    assert "Ada Lovelace" in by_client.content.decode()  # the chosen client is named in the filter
    by_kind = client.get(LOG, {"kind__exact": HealthAccessKind.NOTE})
    assert [a.kind for a in by_kind.context["cl"].result_list] == [HealthAccessKind.NOTE]
    by_user = client.get(LOG, {"user__id__exact": manager.pk})
    assert len(by_user.context["cl"].result_list) == 3
    today = timezone.localdate()
    by_day = client.get(LOG, {"at__year": today.year, "at__month": today.month, "at__day": today.day})
    assert len(by_day.context["cl"].result_list) == 3
    assert client.get(LOG, {"client": "not-a-number"}).status_code == 200


def test_the_record_cannot_be_added_changed_or_deleted(client, manager, ada):
    looks(ada, manager)
    access = HealthDataAccess.objects.first()
    signed_in(client, manager)
    assert client.get(reverse("admin:booking_healthdataaccess_add")).status_code == 403
    assert client.get(reverse("admin:booking_healthdataaccess_delete", args=[access.pk])).status_code == 403
    page = client.get(reverse("admin:booking_healthdataaccess_change", args=[access.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content


@pytest.mark.parametrize("role", ["Reception", "Therapist"])
def test_only_managers_see_the_record(client, role, ada, manager):
    looks(ada, manager)
    signed_in(client, user_in_role(role, "someone"))
    assert client.get(LOG).status_code == 403
    assert b"health data accesses" not in client.get(reverse("admin:index")).content.lower()


def test_the_record_list_runs_the_same_queries_with_more_rows(
    client, manager, ada, django_assert_num_queries
):
    looks(ada, manager)
    signed_in(client, manager)
    client.get(LOG)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(LOG)
    for _ in range(20):
        looks(ada, manager)
    with CaptureQueriesContext(connection) as many:
        client.get(LOG)
    assert len(many) == len(few)


def test_the_client_page_include_lists_the_latest_looks_for_managers_only(rf, manager, reception, ada):
    looks(ada, manager)
    request = rf.get("/")
    request.user = manager
    html = render_to_string(
        "admin/booking/client/access_log.html", admin_privacy.client_page_context(request, ada)
    )
    assert "Who looked at the health data" in html
    assert html.count("<tr>") == 3 and "Treatment note" in html and "manager" in html
    request.user = reception
    context = admin_privacy.client_page_context(request, ada)
    assert context["access_log"] is None and not context["can_export_client"]
    assert render_to_string("admin/booking/client/access_log.html", context).strip() == ""


def test_the_privacy_tools_include_offers_what_the_user_may_do(manager, reception, ada):
    request = RequestFactory().get("/")
    request.user = manager
    html = render_to_string(
        "admin/booking/client/privacy_tools.html",
        {"client": ada, **admin_privacy.client_page_context(request, ada)},
    )
    assert reverse("admin:booking_client_export", args=[ada.pk]) in html
    assert reverse("admin:booking_client_erase", args=[ada.pk]) in html
    request.user = reception
    html = render_to_string(
        "admin/booking/client/privacy_tools.html",
        {"client": ada, **admin_privacy.client_page_context(request, ada)},
    )
    assert "admin/" not in html


# --------------------------------------------------------------------------- export


def test_a_manager_exports_a_readable_summary_and_a_json_file(client, manager, ada):
    signed_in(client, manager)
    page = client.get(reverse("admin:booking_client_export", args=[ada.pk]))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    text = page.content.decode()
    assert (
        "Ada Lovelace" in text
        and "Sciatica and Zorbex tablets" in text
        and "Also mentioned a headache" in text
    )
    download = client.get(reverse("admin:booking_client_export_json", args=[ada.pk]))
    assert "no-store" in download["Cache-Control"]  # admin views are never cached
    assert download["Content-Disposition"] == f'attachment; filename="client-{ada.pk}.json"'
    data = json.loads(download.content)
    assert data["client"]["name"] == "Ada Lovelace"
    assert data["treatment_notes"][0]["plan"] == "Stretch daily"
    kinds = list(HealthDataAccess.objects.filter(client=ada).values_list("kind", flat=True))
    assert kinds == [HealthAccessKind.EXPORT, HealthAccessKind.EXPORT]


def test_export_needs_the_permission_and_a_real_client(client, reception, manager, ada):
    signed_in(client, reception)
    assert client.get(reverse("admin:booking_client_export", args=[ada.pk])).status_code == 403
    assert client.get(reverse("admin:booking_client_export_json", args=[ada.pk])).status_code == 403
    assert not HealthDataAccess.objects.exists()
    signed_in(client, manager)
    assert client.get(reverse("admin:booking_client_export", args=[987654])).status_code == 404


# --------------------------------------------------------------------------- erasure


def test_erasure_asks_first_then_erases(client, manager, ada):
    signed_in(client, manager)
    url = reverse("admin:booking_client_erase", args=[ada.pk])
    page = client.get(url)
    assert page.status_code == 200 and b"cannot be undone" in page.content
    assert client.post(url).status_code == 200  # no confirmation: nothing happens
    ada.refresh_from_db()
    assert ada.erased_at is None
    response = client.post(url, {"confirm": "erase"})
    assert response.status_code == 302
    ada.refresh_from_db()
    assert ada.erased_at is not None and ada.name == f"Erased client #{ada.pk}"
    assert client.get(url).status_code == 302  # already erased


def test_erasure_needs_the_permission(client, reception, ada):
    signed_in(client, reception)
    url = reverse("admin:booking_client_erase", args=[ada.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "erase"}).status_code == 403
    assert Client.objects.get(pk=ada.pk).erased_at is None


def test_erasure_with_an_appointment_to_come_says_why_and_keeps_everything(client, manager, ada):
    past = ada.appointments.get()
    appointment_row(past.therapist, past.technique, timezone.now() + timedelta(days=2), client=ada)
    signed_in(client, manager)
    response = client.post(reverse("admin:booking_client_erase", args=[ada.pk]), {"confirm": "erase"})
    assert response.status_code == 400
    assert b"appointments still to come" in response.content
    assert Client.objects.get(pk=ada.pk).name == "Ada Lovelace"


# --------------------------------------------------------------------------- the client page


def test_the_client_page_shows_managers_who_looked_and_the_privacy_tools(client, manager, ada):
    looks(ada, manager)
    signed_in(client, manager)
    page = client.get(reverse("admin:booking_client_change", args=[ada.pk]))
    text = page.content.decode()
    assert "Who looked at the health data" in text and "Treatment note" in text
    assert reverse("admin:booking_client_export", args=[ada.pk]) in text
    assert reverse("admin:booking_client_erase", args=[ada.pk]) in text


def test_the_client_page_shows_reception_neither(client, reception, manager, ada):
    looks(ada, manager)
    signed_in(client, reception)
    page = client.get(reverse("admin:booking_client_change", args=[ada.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Who looked at the health data" not in text
    assert reverse("admin:booking_client_export", args=[ada.pk]) not in text
    assert reverse("admin:booking_client_erase", args=[ada.pk]) not in text


def test_erasing_from_the_client_page_returns_to_it(client, manager, ada):
    signed_in(client, manager)
    response = client.post(reverse("admin:booking_client_erase", args=[ada.pk]), {"confirm": "erase"})
    assert response["Location"] == reverse("admin:booking_client_change", args=[ada.pk])


def test_the_client_page_links_to_all_the_records_past_the_latest_twenty(rf, manager, ada):
    request = rf.get("/")
    request.user = manager
    for _ in range(10):
        looks(ada, manager)  # 20 looks
    html = render_to_string(
        "admin/booking/client/access_log.html", admin_privacy.client_page_context(request, ada)
    )
    assert f"?client={ada.pk}" not in html
    looks(ada, manager)
    html = render_to_string(
        "admin/booking/client/access_log.html", admin_privacy.client_page_context(request, ada)
    )
    assert html.count("<tr>") == 21 and f"?client={ada.pk}" in html
