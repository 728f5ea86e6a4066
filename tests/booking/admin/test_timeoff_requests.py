"""Time-off requests in the admin (issue 15), per role: a therapist asks and withdraws
their own, a manager approves or declines, reception looks; writes through the service."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from booking.choices import TimeOffRequestStatus
from booking.models import TimeOff, TimeOffRequest
from booking.services import time_off_requests as service
from booking.time_off_tasks import send_time_off_decision_email
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db

LIST = reverse("admin:booking_timeoffrequest_changelist")
ADD = reverse("admin:booking_timeoffrequest_add")


def change_url(request: TimeOffRequest) -> str:
    return reverse("admin:booking_timeoffrequest_change", args=[request.pk])


def withdraw_url(request: TimeOffRequest) -> str:
    return reverse("admin:booking_timeoffrequest_withdraw", args=[request.pk])


@pytest.fixture
def day():
    """A day next week, in the clinic's time."""
    return timezone.now().astimezone(LONDON).date() + timedelta(days=7)


def at(day, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=LONDON)


@pytest.fixture
def anna(db):
    therapist = TherapistFactory(name="Anna Field", slug="anna")
    user_in_role("Therapist", "anna", therapist)
    return therapist


@pytest.fixture
def ben(db):
    therapist = TherapistFactory(name="Ben Stone", slug="ben")
    user_in_role("Therapist", "ben", therapist)
    return therapist


@pytest.fixture
def manager(db):
    return user_in_role("Manager", "maria")


@pytest.fixture
def reception(db):
    return user_in_role("Reception", "rita")


def ask(therapist, day, start="09:00", end="18:00", reason="Dentist") -> TimeOffRequest:
    return service.time_off_request_create(
        therapist=therapist, start=at(day, start), end=at(day, end), reason=reason, by=therapist.user
    )


def form_data(day, start="09:00", end="18:00", reason="Dentist", end_day=None) -> dict:
    end_day = end_day or day
    return {
        "start_0": day.isoformat(),
        "start_1": start,
        "end_0": end_day.isoformat(),
        "end_1": end,
        "reason": reason,
        "_save": "Ask for time off",
    }


def run_emails() -> None:
    """What the worker does: run each queued decision email once."""
    for result in DBTaskResult.objects.filter(task_path__endswith="send_time_off_decision_email"):
        send_time_off_decision_email.call(**result.args_kwargs["kwargs"])


# --------------------------------------------------------------------------- who may open what


def test_the_roles_migration_grants_ask_decide_and_look(db):
    from django.contrib.auth.models import Group

    perms = {
        g.name: {p.codename for p in g.permissions.filter(codename__endswith="_timeoffrequest")}
        for g in Group.objects.all()
    }
    assert perms["Therapist"] == {"add_timeoffrequest", "view_timeoffrequest"}
    assert perms["Manager"] == {"view_timeoffrequest", "change_timeoffrequest"}
    assert perms["Reception"] == {"view_timeoffrequest"}


def test_anonymous_visitors_are_sent_to_sign_in(client, anna, day):
    request = ask(anna, day)
    for url in (LIST, ADD, change_url(request)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client.post(withdraw_url(request)).status_code == 302
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.PENDING


def test_a_therapist_sees_only_their_own_requests(client, anna, ben, day):
    mine, theirs = ask(anna, day, reason="Dentist"), ask(ben, day, reason="Wedding")
    client.force_login(anna.user)
    html = client.get(LIST).content.decode()
    assert "Dentist" in html and "Wedding" not in html and "Ben Stone" not in html
    assert client.get(change_url(mine)).status_code == 200
    # Another therapist's request, or one that does not exist: the same 404.
    assert client.get(change_url(theirs)).status_code == 404
    assert (
        client.get(reverse("admin:booking_timeoffrequest_change", args=[theirs.pk + 99])).status_code == 404
    )
    assert client.get(reverse("admin:booking_timeoffrequest_history", args=[theirs.pk])).status_code == 404
    assert client.post(withdraw_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == TimeOffRequestStatus.PENDING


def test_tampered_ids_are_404_not_errors(client, manager):
    client.force_login(manager)
    for raw in ("abc", "1%00", "99999999999999999999", "-1"):
        assert client.get(f"{LIST}{raw}/change/").status_code == 404


def test_a_therapist_asks_for_themself(client, anna, ben, day):
    client.force_login(anna.user)
    page = client.get(ADD).content.decode()
    assert 'name="therapist"' not in page
    assert 'type="date"' in page and 'type="time"' in page and "Ask for time off" in page
    # A therapist id slipped into the form is ignored: the request is always their own.
    response = client.post(ADD, {**form_data(day, reason="Training day"), "therapist": ben.pk})
    assert response.status_code == 302 and response["Location"] == LIST
    request = TimeOffRequest.objects.get()
    assert (request.therapist, request.requested_by, request.reason) == (anna, anna.user, "Training day")
    # Typed as clinic time, stored as the instant it means.
    assert (request.start, request.end) == (at(day, "09:00"), at(day, "18:00"))
    assert "A manager will approve or decline it" in client.get(LIST).content.decode()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"end_1": "08:00"}, "The time off must end after it starts."),
        ({"start_0": "9999-01-01", "end_0": "9999-01-02"}, "Choose a date between"),
        ({"start_0": "2026-13-45"}, "Enter a valid date."),
        ({"start_0": "2026-11-\x0024"}, "Enter a valid date."),
        ({"start_0": "2020-01-06", "end_0": "2020-01-06"}, "cannot start in the past"),
    ],
)
def test_bad_dates_get_a_clear_message(client, anna, day, change, words):
    client.force_login(anna.user)
    response = client.post(ADD, {**form_data(day), **change})
    assert response.status_code == 200
    assert words in response.content.decode()
    assert TimeOffRequest.objects.count() == 0


def test_asking_for_the_same_dates_twice_is_refused(client, anna, day):
    client.force_login(anna.user)
    client.post(ADD, form_data(day))
    response = client.post(ADD, form_data(day))
    assert "already asked for exactly this time off" in response.content.decode()
    assert TimeOffRequest.objects.count() == 1


def test_a_therapist_cannot_approve_even_their_own(client, anna, day):
    request = ask(anna, day)
    client.force_login(anna.user)
    page = client.get(change_url(request)).content.decode()
    assert 'name="_approve"' not in page and 'name="_decline"' not in page
    assert client.post(change_url(request), {"_approve": "Approve"}).status_code == 403
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.PENDING and TimeOff.objects.count() == 0


def test_a_therapist_withdraws_a_waiting_request(client, anna, day):
    request = ask(anna, day)
    client.force_login(anna.user)
    assert "Withdraw this request" in client.get(change_url(request)).content.decode()
    assert client.get(withdraw_url(request)).status_code == 405  # a change is a POST
    response = client.post(withdraw_url(request), follow=True)
    assert "Request withdrawn." in response.content.decode()
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.WITHDRAWN
    # Withdrawn is final: no button, and a second try says so.
    assert "Withdraw this request" not in client.get(change_url(request)).content.decode()
    response = client.post(withdraw_url(request), follow=True)
    assert "already dealt with" in response.content.decode()


def test_reception_looks_but_does_not_decide_or_ask(client, reception, anna, day):
    request = ask(anna, day)
    client.force_login(reception)
    assert "Anna Field" in client.get(LIST).content.decode()
    page = client.get(change_url(request)).content.decode()
    assert 'name="_approve"' not in page and "Withdraw this request" not in page
    assert client.get(ADD).status_code == 403
    assert client.post(change_url(request), {"_approve": "Approve"}).status_code == 403
    assert client.post(withdraw_url(request)).status_code == 403
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.PENDING


# --------------------------------------------------------------------------- managers decide


def test_the_manager_sees_everyone_waiting_first_in_fixed_queries(
    client, manager, anna, ben, day, django_assert_max_num_queries
):
    decided = ask(anna, day, reason="Earlier one")
    service.time_off_request_decline(request=decided, by=manager)
    ask(ben, day, reason="Wedding")
    client.force_login(manager)
    client.get(LIST)  # warm the session and content types
    with django_assert_max_num_queries(12) as one:
        html = client.get(LIST).content.decode()
    first = len(one.captured_queries)  # read now: the next request clears the log
    assert html.index("Wedding") < html.index("Earlier one")
    assert "Waiting for a manager" in html and "Declined" in html
    assert client.get(ADD).status_code == 403  # managers record time off directly
    for n in range(10):
        ask(ben, day + timedelta(days=n + 1))
    with django_assert_max_num_queries(first):
        assert client.get(LIST).status_code == 200


def test_the_manager_approves_and_the_therapist_is_emailed(client, manager, anna, day):
    request = ask(anna, day)
    client.force_login(manager)
    page = client.get(change_url(request)).content.decode()
    assert 'name="_approve"' in page and 'name="_decline"' in page
    assert 'name="keep_booked"' not in page  # offered only once approval is refused over bookings
    response = client.post(change_url(request), {"_approve": "Approve", "decision_note": "Enjoy"})
    assert response.status_code == 302 and response["Location"] == LIST
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.APPROVED and request.decided_by == manager
    time_off = TimeOff.objects.get()
    assert request.time_off == time_off and (time_off.start, time_off.end) == (
        at(day, "09:00"),
        at(day, "18:00"),
    )
    run_emails()
    [message] = mail.outbox
    assert message.to == ["Anna Field <anna@example.com>"] and message.subject.startswith("Time off approved")
    assert "Enjoy" in message.body
    # Decided: read only now, for the manager too.
    page = client.get(change_url(request)).content.decode()
    assert 'name="_approve"' not in page and "therapist emailed" in page.lower()
    assert client.post(change_url(request), {"_decline": "Decline"}).status_code == 403


def test_approval_over_a_booked_appointment_is_refused_naming_it_then_kept(
    client, manager, anna, day, swedish
):
    booked = appointment_row(
        anna, swedish, at(day, "11:00"), client_name="Jane Doe", client_email="j@example.com"
    )
    request = ask(anna, day)
    client.force_login(manager)
    page = client.get(change_url(request)).content.decode()
    assert booked.reference in page  # listed before deciding
    response = client.post(change_url(request), {"_approve": "Approve", "decision_note": ""})
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(
        rf"overlaps 1 booked appointment: {booked.reference} \(Jane Doe, \w+ \d+ \w+ 11:00", html
    )
    assert 'name="keep_booked"' in html
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.PENDING and TimeOff.objects.count() == 0
    # Nothing emailed for a refused approval.
    assert not DBTaskResult.objects.filter(task_path__endswith="send_time_off_decision_email").exists()

    response = client.post(change_url(request), {"_approve": "Approve", "keep_booked": "on"}, follow=True)
    html = response.content.decode()
    assert "These booked appointments still stand" in html and booked.reference in html
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.APPROVED and TimeOff.objects.count() == 1


def test_the_manager_declines_with_a_note_and_the_therapist_is_emailed(client, manager, anna, day):
    request = ask(anna, day)
    client.force_login(manager)
    response = client.post(
        change_url(request), {"_decline": "Decline", "decision_note": "Two others are away that day."}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.DECLINED and TimeOff.objects.count() == 0
    run_emails()
    [message] = mail.outbox
    assert message.subject.startswith("Time off declined") and "Two others are away that day." in message.body


def test_a_save_without_a_decision_changes_nothing(client, manager, anna, day):
    request = ask(anna, day)
    client.force_login(manager)
    response = client.post(change_url(request), {"_save": "Save", "decision_note": "Hm"})
    assert response.status_code == 200 and "Choose “Approve” or “Decline”." in response.content.decode()
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.PENDING and request.decision_note == ""
