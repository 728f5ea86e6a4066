"""The schedule version: every write that changes what can be booked moves it on, in the
writing transaction, whatever path made the write."""

import threading
from datetime import date, datetime, time, timedelta

import pytest
from django.db import close_old_connections, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from booking import schedule_version
from booking.models import Appointment, BookingPolicy, Closure, Room, TechniqueLength, Therapist, WorkingHours
from booking.services import appointments, schedules
from tests.conftest import LONDON
from tests.factories import TechniqueFactory, TherapistFactory, appointment_row

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)


def test_every_availability_table_has_its_triggers():
    assert set(schedule_version.availability_tables()) <= schedule_version.installed_trigger_tables()


def test_installing_again_changes_nothing():
    schedule_version.install_triggers()
    schedule_version.install_triggers()
    assert set(schedule_version.availability_tables()) <= schedule_version.installed_trigger_tables()


@pytest.fixture
def anna(swedish):
    return TherapistFactory(name="Anna", slug="anna", techniques=[swedish])


def bumps(action) -> int:
    before = schedule_version.current()
    action()
    return schedule_version.current() - before


def test_booking_cancelling_moving_and_marking_bump(swedish_60, anna, client_details):
    booked = {}

    def book():
        booked["a"] = appointments.appointment_book(
            technique=swedish_60.technique, length=swedish_60, start=TUESDAY_10, client=client_details,
            therapist=anna, now=NOW, notify=False,
        )  # fmt: skip

    assert bumps(book) >= 1
    assert (
        bumps(
            lambda: appointments.appointment_reschedule(
                appointment=booked["a"], new_start=TUESDAY_10 + timedelta(hours=2), now=NOW, notify=False
            )
        )
        >= 1
    )
    assert bumps(lambda: appointments.appointment_cancel(appointment=booked["a"], now=NOW, notify=False)) >= 1
    past = appointment_row(anna, swedish_60.technique, NOW - timedelta(days=1))
    assert bumps(lambda: appointments.appointment_mark(appointment=past, status="completed", now=NOW)) >= 1


def test_hours_time_off_closures_policy_and_people_bump(swedish, anna):
    assert bumps(lambda: schedules.working_hours_set(therapist=anna, periods=[(0, time(9), time(12))])) >= 1
    assert (
        bumps(
            lambda: schedules.time_off_add(
                therapist=anna, start=TUESDAY_10, end=TUESDAY_10 + timedelta(hours=1)
            )
        )
        >= 1
    )
    christmas = date(2026, 12, 25)
    assert bumps(lambda: Closure.objects.create(first_day=christmas, last_day=christmas)) >= 1
    policy = BookingPolicy.load()
    assert bumps(lambda: BookingPolicy.objects.filter(pk=policy.pk).update(horizon_days=30)) >= 1
    assert bumps(lambda: Therapist.objects.filter(pk=anna.pk).update(active=False)) >= 1
    other = TechniqueFactory(name="Hot stones", slug="hot-stones")
    assert bumps(lambda: anna.techniques.add(other)) >= 1
    assert bumps(lambda: TechniqueLength.objects.filter(technique=swedish).update(price="70.00")) >= 1
    assert bumps(lambda: Room.objects.create(name="Garden room")) >= 1
    assert bumps(lambda: WorkingHours.objects.filter(therapist=anna).delete()) >= 1


def test_a_write_that_changes_nothing_does_not_bump(anna):
    assert bumps(lambda: Appointment.objects.filter(therapist=anna).update(status="cancelled")) == 0


def test_a_rolled_back_write_does_not_bump(anna):
    before = schedule_version.current()
    with pytest.raises(RuntimeError), transaction.atomic():
        Closure.objects.create(first_day=date(2026, 12, 25), last_day=date(2026, 12, 25))
        raise RuntimeError("undo")
    assert schedule_version.current() == before


def test_the_bump_is_part_of_the_writing_statement(anna):
    # Inside one transaction the new version is visible at once: it was written by the
    # same statement as the closure, so both commit (or roll back) together.
    with transaction.atomic():
        before = schedule_version.current()
        Closure.objects.create(first_day=date(2026, 12, 25), last_day=date(2026, 12, 25))
        assert schedule_version.current() == before + 1


def test_a_missing_row_comes_back(anna):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {schedule_version.VERSION_TABLE}")
    assert schedule_version.current() == 0
    Closure.objects.create(first_day=date(2026, 12, 25), last_day=date(2026, 12, 25))
    assert schedule_version.current() == 1


@pytest.mark.django_db(transaction=True)
def test_the_version_read_is_the_requests_health_check(monkeypatch):
    """A cache hit's one query: Django's own check (a SELECT 1 before it) is not sent."""
    connection.ensure_connection()
    close_old_connections()  # what Django does as each request starts
    checks = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append("SELECT 1") or True)
    with CaptureQueriesContext(connection) as queries:
        schedule_version.current()
        schedule_version.current()  # later reads in the same request check nothing either
    assert checks == []
    assert len(queries) == 2


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_replaced_without_an_error():
    if connection.vendor != "postgresql":
        pytest.skip("a server that drops connections: PostgreSQL only")
    before = schedule_version.current()
    pid = connection.connection.get_backend_pid()

    def drop():  # on its own connection, as a database restart or an idle timeout would
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                for _ in range(100):  # until the server has really let it go
                    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
                    if cursor.fetchone()[0] == 0:
                        break
                    threading.Event().wait(0.05)
        finally:
            connections.close_all()

    thread = threading.Thread(target=drop)
    thread.start()
    thread.join(timeout=30)
    close_old_connections()  # the next request starts
    assert schedule_version.current() == before
    assert connection.connection.get_backend_pid() != pid
