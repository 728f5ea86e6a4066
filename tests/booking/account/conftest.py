"""Fixtures for the client's own pages: a frozen "now", two therapists, a client with
visits, and signing in the way a client does (the email form, the task, the link)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from booking.account.tasks import send_client_link_email
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row, seed_health_questions

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=LONDON)  # a Friday
TUESDAY = datetime(2026, 11, 24, tzinfo=LONDON).date()


def at(day, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def now(monkeypatch):
    """Frozen; call now.move(minutes) to let time pass."""

    class Clock:
        value = NOW.astimezone(UTC)

        def move(self, minutes: int) -> None:
            self.value += timedelta(minutes=minutes)

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.value)
    return clock


@pytest.fixture
def health_questions(db):
    seed_health_questions()


@pytest.fixture
def anna(swedish):
    return TherapistFactory(name="Anna Price", slug="anna", techniques=[swedish])


@pytest.fixture
def ben(swedish):
    return TherapistFactory(name="Ben Hall", slug="ben", techniques=[swedish])


@pytest.fixture
def olivia_visit(now, anna, swedish):
    """Olivia's upcoming visit (Tuesday 10:00 with Anna); her client record comes with it."""
    return appointment_row(anna, swedish, at(TUESDAY, "10:00"), source="online")


@pytest.fixture
def olivia(olivia_visit):
    return olivia_visit.client


@pytest.fixture
def stranger_visit(now, anna, swedish):
    return appointment_row(
        anna,
        swedish,
        at(TUESDAY, "14:00"),
        client_name="Sam Stranger",
        client_email="sam@example.com",
        client_phone="07700 900555",
    )


def run_link_tasks() -> None:
    """What the worker does: run every queued link email once."""
    for result in DBTaskResult.objects.filter(task_path__endswith="send_client_link_email").order_by(
        "enqueued_at"
    ):
        if result.status == "READY":
            send_client_link_email.call(**result.args_kwargs["kwargs"])
            result.status = "SUCCESSFUL"
            result.save(update_fields=["status"])


LINK_RE = re.compile(r"https?://[^\s\"<>]+/book/account/(?:signin|delete)/[^\s\"<>/]+/")


def link_from(message) -> str:
    """The path of the link in an email's plain text."""
    found = LINK_RE.search(message.body)
    assert found, message.body
    return "/" + found.group(0).split("/", 3)[3]


def ask_for_link(client, email: str):
    return client.post(reverse("booking:account-signin"), {"email": email})


def sign_in(client, email: str = "olivia@example.com") -> None:
    """Sign ``client`` (a test browser) in as a client does, through the email link."""
    before = len(mail.outbox)
    assert ask_for_link(client, email).status_code == 302
    run_link_tasks()
    assert len(mail.outbox) == before + 1
    response = client.get(link_from(mail.outbox[-1]))
    assert response.status_code == 302
    assert response["Location"] == reverse("booking:account-home")
