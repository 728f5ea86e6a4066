"""Waitlist offers survive a worker killed between claiming and sending (issue 14): real
``manage.py run_worker`` processes, killed with SIGKILL while the mail server holds the
offer email; the next worker sends each offer exactly once. The machinery (fake SMTP
server, workers, waits) is the one of tests/booking/test_worker_crash.py."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from booking import notifications
from booking.choices import AppointmentSource, AppointmentStatus
from booking.models import SentEmail, WaitlistOffer
from booking.services import appointments, waitlist
from tests.booking.test_worker_crash import (  # noqa: F401 (fixtures)
    kill,
    smtp_server,
    wait_for,
    worker_logs,
    workers,
)
from tests.conftest import LONDON
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_killed_mid_offer_leaves_each_offer_sent_once(workers, smtp_server, tmp_path):  # noqa: F811
    technique = TechniqueFactory(name="Swedish", slug="swedish", buffer_minutes=15)
    length = TechniqueLengthFactory(technique=technique, duration_minutes=60)
    therapist = TherapistFactory(techniques=[technique], hours={d: [("10:00", "12:30")] for d in range(7)})
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    starts = [datetime(day.year, day.month, day.day, h, m, tzinfo=LONDON) for h, m in ((10, 0), (11, 15))]
    booked = [
        appointments.appointment_book(
            technique=technique,
            length=length,
            start=start,
            therapist=therapist,
            client=appointments.ClientDetails(f"Booked {n}", f"b{n}@example.com", "07700 900101"),
            source=AppointmentSource.STAFF,
            notify=False,
        )
        for n, start in enumerate(starts)
    ]
    for n in range(2):
        wish = waitlist.Wish(technique, length, None, day, day, frozenset({"morning"}))
        waitlist.entry_join(wish=wish, name=f"Waiting {n}", email=f"w{n}@example.com", phone="07700 900200")
    for appointment in booked:
        appointments.appointment_cancel(appointment=appointment, notify=False)

    # Worker A runs the matches (two offers, two emails queued), then the server accepts
    # the first offer email and hangs on the goodbye: kill -9.
    smtp_server.stall_next("quit")
    worker_a = workers("worker-a")
    wait_for(smtp_server.stalled.is_set, "the first offer email to stall at QUIT", tmp_path)
    kill(worker_a)

    # Worker B: the server reads the next offer email and never answers; kill -9.
    smtp_server.stall_next("data")
    worker_b = workers("worker-b")
    wait_for(smtp_server.stalled.is_set, "an offer email to stall at DATA", tmp_path)
    kill(worker_b)

    # Worker C takes over what the dead ones left running and finishes everything.
    smtp_server.stall_next(None)
    worker_c = workers("worker-c")
    wait_for(
        lambda: not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists(),
        "every task to finish",
        tmp_path,
    )
    worker_c.send_signal(signal.SIGTERM)
    worker_c.wait(timeout=30)

    offers = list(WaitlistOffer.objects.select_related("appointment"))
    assert len(offers) == 2, worker_logs(tmp_path)
    assert {o.appointment.status for o in offers} == {AppointmentStatus.HELD}
    expected = {
        notifications.message_id(
            notifications.EmailKind.WAITLIST_OFFER, o.appointment, o.appointment.sequence
        )
        for o in offers
    }
    # Each offer went out exactly once, and is recorded once.
    assert smtp_server.message_ids() == Counter(expected), worker_logs(tmp_path)
    assert SentEmail.objects.filter(kind="waitlist_offer").count() == 2
    returns = [
        t.return_value for t in DBTaskResult.objects.filter(task_path__endswith="send_appointment_email")
    ]
    assert "skipped: already sent" in returns
