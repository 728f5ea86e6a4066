"""services.time_off_requests: a therapist asks, a manager approves (recording the time
off by the time-off form's rule) or declines, the therapist withdraws; decisions queue
the therapist's email."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tasks_db.models import DBTaskResult

from booking.choices import TimeOffRequestStatus
from booking.models import TimeOff, TimeOffRequest
from booking.services import time_off_requests as service
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row, user_in_role

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)  # Monday
FRIDAY_9 = datetime(2026, 11, 27, 9, 0, tzinfo=LONDON)
FRIDAY_18 = datetime(2026, 11, 27, 18, 0, tzinfo=LONDON)


@pytest.fixture
def anna(db):
    therapist = TherapistFactory(name="Anna Field", slug="anna")
    user_in_role("Therapist", "anna", therapist)
    return therapist


@pytest.fixture
def manager(db):
    return user_in_role("Manager", "maria")


def ask(anna, start=FRIDAY_9, end=FRIDAY_18, reason="Dentist, then a rest") -> TimeOffRequest:
    return service.time_off_request_create(
        therapist=anna, start=start, end=end, reason=reason, by=anna.user, now=NOW
    )


def emails_queued() -> list[dict]:
    return [
        result.args_kwargs["kwargs"]
        for result in DBTaskResult.objects.filter(task_path__endswith="send_time_off_decision_email")
    ]


def test_a_request_waits_for_a_manager_with_who_asked(anna):
    request = ask(anna, reason="  Dentist,\n then a rest ")
    assert request.status == TimeOffRequestStatus.PENDING
    assert (request.therapist, request.requested_by, request.reason) == (
        anna,
        anna.user,
        "Dentist, then a rest",
    )
    assert request.time_off is None and request.decided_at is None
    assert emails_queued() == []  # nobody is emailed until a decision


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (FRIDAY_18, FRIDAY_9, "end_before_start"),
        (FRIDAY_9, FRIDAY_9, "end_before_start"),
        (NOW - timedelta(hours=1), FRIDAY_9, "in_the_past"),
        (FRIDAY_9, FRIDAY_9 + timedelta(days=91), "too_long"),
    ],
)
def test_bad_dates_are_refused_in_plain_words(anna, start, end, code):
    with pytest.raises(ValidationError) as refused:
        ask(anna, start=start, end=end)
    assert refused.value.code == code
    assert TimeOffRequest.objects.count() == 0


def test_ninety_days_is_allowed(anna):
    assert ask(anna, end=FRIDAY_9 + timedelta(days=90)).pk


def test_the_same_dates_asked_twice_while_waiting_are_refused(anna):
    ask(anna)
    with pytest.raises(ValidationError, match="already asked for exactly this time off") as refused:
        ask(anna)
    assert refused.value.code == "duplicate"
    # Once decided, the same dates may be asked again.
    TimeOffRequest.objects.update(status=TimeOffRequestStatus.DECLINED)
    assert ask(anna).status == TimeOffRequestStatus.PENDING


def test_the_database_refuses_a_second_waiting_request_with_the_same_dates(anna):
    ask(anna)
    # Past the service's own check (two submits at once): the constraint turns it into words.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        TimeOffRequest.objects.create(therapist=anna, start=FRIDAY_9, end=FRIDAY_18)


def test_approval_records_the_time_off_and_queues_the_email(anna, manager):
    request = ask(anna)
    approved, kept = service.time_off_request_approve(request=request, by=manager, note="Enjoy", now=NOW)
    assert kept == []
    approved.refresh_from_db()
    assert approved.status == TimeOffRequestStatus.APPROVED
    assert (approved.decided_by, approved.decided_at, approved.decision_note) == (manager, NOW, "Enjoy")
    time_off = TimeOff.objects.get()
    assert approved.time_off == time_off
    assert (time_off.therapist, time_off.start, time_off.end, time_off.reason) == (
        anna,
        FRIDAY_9,
        FRIDAY_18,
        "Dentist, then a rest",
    )
    assert emails_queued() == [{"request_id": request.pk}]


def test_approval_over_a_booked_appointment_is_refused_naming_it(anna, manager, swedish):
    booked = appointment_row(anna, swedish, datetime(2026, 11, 27, 11, 0, tzinfo=LONDON))
    request = ask(anna)
    with pytest.raises(ValidationError) as refused:
        service.time_off_request_approve(request=request, by=manager, now=NOW)
    assert refused.value.code == "over_appointments"
    assert f"{booked.reference} (Olivia Brown, Fri 27 Nov 11:00–12:00)" in refused.value.messages[0]
    assert "Keep booked appointments" in refused.value.messages[0]
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.PENDING
    assert TimeOff.objects.count() == 0 and emails_queued() == []


def test_keep_booked_approves_and_returns_the_appointments_that_still_stand(anna, manager, swedish):
    booked = appointment_row(anna, swedish, datetime(2026, 11, 27, 11, 0, tzinfo=LONDON))
    approved, kept = service.time_off_request_approve(request=ask(anna), by=manager, keep_booked=True)
    assert kept == [booked]
    assert approved.status == TimeOffRequestStatus.APPROVED and TimeOff.objects.count() == 1


def test_decline_keeps_the_note_and_queues_the_email(anna, manager):
    request = ask(anna)
    declined = service.time_off_request_decline(
        request=request, by=manager, note="  Two others are away that day.  ", now=NOW
    )
    assert declined.status == TimeOffRequestStatus.DECLINED
    assert declined.decision_note == "Two others are away that day."
    assert TimeOff.objects.count() == 0
    assert emails_queued() == [{"request_id": request.pk}]


def test_only_a_waiting_request_is_decided(anna, manager):
    request = ask(anna)
    service.time_off_request_decline(request=request, by=manager)
    for decide in (
        lambda: service.time_off_request_approve(request=request, by=manager),
        lambda: service.time_off_request_decline(request=request, by=manager),
        lambda: service.time_off_request_withdraw(request=request, by=anna.user),
    ):
        with pytest.raises(ValidationError, match="already dealt with") as refused:
            decide()
        assert refused.value.code == "not_pending"
    assert TimeOff.objects.count() == 0 and len(emails_queued()) == 1


def test_only_managers_decide(anna):
    request = ask(anna)
    for user in (anna.user, user_in_role("Reception", "rita")):
        with pytest.raises(PermissionDenied):
            service.time_off_request_approve(request=request, by=user)
        with pytest.raises(PermissionDenied):
            service.time_off_request_decline(request=request, by=user)
    request.refresh_from_db()
    assert request.status == TimeOffRequestStatus.PENDING


def test_the_therapist_withdraws_their_own_waiting_request_without_an_email(anna, manager):
    ben = TherapistFactory(name="Ben Stone", slug="ben")
    user_in_role("Therapist", "ben", ben)
    request = ask(anna)
    for other in (ben.user, manager):
        with pytest.raises(PermissionDenied):
            service.time_off_request_withdraw(request=request, by=other)
    withdrawn = service.time_off_request_withdraw(request=request, by=anna.user, now=NOW)
    assert (withdrawn.status, withdrawn.decided_by, withdrawn.decided_at) == (
        TimeOffRequestStatus.WITHDRAWN,
        anna.user,
        NOW,
    )
    assert emails_queued() == []
