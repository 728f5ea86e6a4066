"""Real races: many threads, each with its own database connection, released together.

Runs on whichever database the suite uses (CI runs it on SQLite, as a file, and on
PostgreSQL). Exactly one booking of an overlapping set may win.
"""

import threading
from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, connection, connections, transaction

from booking.choices import AppointmentStatus
from booking.models import Appointment, Room, Technique
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import (
    HEALTH_NO,
    ClientFactory,
    TechniqueFactory,
    TechniqueLengthFactory,
    TherapistFactory,
    appointment_row,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)
ATTEMPTS = 20


def race(attempts):
    """Run each zero-argument callable in its own thread, all released at once."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list = [None] * len(attempts)

    def run(index, attempt):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = attempt()
        except Exception as exc:  # noqa: BLE001 - the outcome is what we assert on
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a booking attempt hung"
    return outcomes


def make_technique() -> Technique:
    # Transactional tests empty the database between tests, migration data included,
    # so these make their own technique.
    technique = TechniqueFactory(name="Race Swedish", slug="race-swedish", buffer_minutes=15)
    TechniqueLengthFactory(technique=technique, duration_minutes=60)
    TechniqueLengthFactory(technique=technique, duration_minutes=90)
    return technique


def client(n):
    return appointments.ClientDetails(name=f"Client {n}", email=f"c{n}@example.com", phone="07700 900000")


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_bookings_of_the_same_time_accept_exactly_one():
    swedish = make_technique()
    length = swedish.lengths.get(duration_minutes=60)
    therapist = TherapistFactory(techniques=[swedish])
    starts = [
        datetime(2026, 11, 24, 10, 0, tzinfo=LONDON) + timedelta(minutes=15 * (i % 3))
        for i in range(ATTEMPTS)
    ]

    def attempt(i):
        return lambda: appointments.appointment_book(
            technique=swedish, length=length, start=starts[i], client=client(i), therapist=therapist, now=NOW
        )

    outcomes = race([attempt(i) for i in range(ATTEMPTS)])
    winners = [o for o in outcomes if isinstance(o, Appointment)]
    losers = [o for o in outcomes if isinstance(o, appointments.SlotUnavailable)]
    assert len(winners) == 1, outcomes
    assert len(losers) == ATTEMPTS - 1, [
        o for o in outcomes if not isinstance(o, appointments.SlotUnavailable)
    ]
    assert all(o.code == "slot_taken" for o in losers)
    assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_partly_overlapping_bookings_of_different_lengths_race():
    swedish = make_technique()
    sixty = swedish.lengths.get(duration_minutes=60)
    ninety = swedish.lengths.get(duration_minutes=90)
    therapist = TherapistFactory(techniques=[swedish])
    # 10:00-11:30 (+15 buffer) and 11:30-12:30: they overlap only through the buffer.
    long_one = lambda: appointments.appointment_book(  # noqa: E731
        technique=swedish, length=ninety, start=datetime(2026, 11, 24, 10, 0, tzinfo=LONDON),
        client=client(1), therapist=therapist, now=NOW,
    )  # fmt: skip
    short_one = lambda: appointments.appointment_book(  # noqa: E731
        technique=swedish, length=sixty, start=datetime(2026, 11, 24, 11, 30, tzinfo=LONDON),
        client=client(2), therapist=therapist, now=NOW,
    )  # fmt: skip
    for _ in range(3):
        Appointment.objects.all().delete()
        outcomes = race([long_one, short_one])
        assert sum(isinstance(o, Appointment) for o in outcomes) == 1, outcomes
        assert sum(isinstance(o, appointments.SlotUnavailable) for o in outcomes) == 1, outcomes
        assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_any_therapist_race_fills_each_therapist_once():
    swedish = make_technique()
    length = swedish.lengths.get(duration_minutes=60)
    team = [TherapistFactory(techniques=[swedish]) for _ in range(3)]
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)

    def attempt(i):
        return lambda: appointments.appointment_book(
            technique=swedish, length=length, start=start, client=client(i), therapist=None, now=NOW
        )

    outcomes = race([attempt(i) for i in range(10)])
    winners = [o for o in outcomes if isinstance(o, Appointment)]
    assert 1 <= len(winners) <= 3
    assert len({w.therapist_id for w in winners}) == len(winners)
    assert all(isinstance(o, Appointment | appointments.SlotUnavailable) for o in outcomes), outcomes
    assert Appointment.objects.filter(therapist__in=team).count() == len(winners)


@pytest.mark.django_db(transaction=True)
def test_database_refuses_overlaps_that_bypass_the_services():
    if connection.vendor != "postgresql":
        pytest.skip("the exclusion constraint exists on PostgreSQL; SQLite relies on the services")
    swedish = make_technique()
    therapist = TherapistFactory(techniques=[swedish])
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    fields = dict(
        therapist=therapist, technique=swedish, duration_minutes=60, price=50, buffer_minutes=15,
        client_name="A", client_email="a@example.com", client_phone="1",
        client=ClientFactory(),
    )  # fmt: skip
    Appointment.objects.create(
        start=start, end=start + timedelta(hours=1), occupied_until=start + timedelta(minutes=75), **fields
    )
    later = start + timedelta(minutes=70)  # inside the first one's buffer
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            start=later,
            end=later + timedelta(hours=1),
            occupied_until=later + timedelta(minutes=75),
            **fields,
        )
    # A cancelled appointment does not occupy time.
    Appointment.objects.create(
        start=later, end=later + timedelta(hours=1), occupied_until=later + timedelta(minutes=75),
        status=AppointmentStatus.CANCELLED, **fields,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_simultaneous_booking_requests_through_the_web_accept_exactly_one(settings):
    """Ten clients press "Confirm booking" for the same time at the same moment."""
    from urllib.parse import urlencode

    from django.test import Client
    from django.utils import timezone

    settings.BOOKING_RATE_LIMIT = 1000
    technique = make_technique()
    TherapistFactory(slug="solo", techniques=[technique])
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    while day.weekday() == 6:
        day += timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=LONDON)
    query = urlencode({"length": 60, "therapist": "solo", "start": start.isoformat()})
    browsers = []
    for n in range(10):
        browser = Client()
        details = {
            "name": f"Client {n}",
            "email": f"c{n}@example.com",
            "phone": "07700 900000",
            **HEALTH_NO,
            "agree_policy": "on",
            "consent_name": f"Client {n}",
        }
        assert browser.post(f"/book/race-swedish/details/?{query}", details).status_code == 302
        browsers.append(browser)
    connections.close_all()

    responses = race([lambda b=b: b.post(f"/book/race-swedish/review/?{query}") for b in browsers])

    codes = sorted(getattr(r, "status_code", repr(r)) for r in responses)
    assert codes == [302] + [409] * 9
    assert Appointment.objects.count() == 1
    losers = [r for r in responses if r.status_code == 409]
    assert all(b"has just been booked by someone else" in r.content for r in losers)


@pytest.mark.django_db(transaction=True)
def test_two_reminder_runs_at_once_queue_each_reminder_once():
    from django_tasks_db.models import DBTaskResult

    technique = make_technique()
    length = technique.lengths.get(duration_minutes=60)
    therapists = [TherapistFactory(techniques=[technique]) for _ in range(3)]
    for n, therapist in enumerate(therapists):
        for hour in (10, 12, 14):
            appointments.appointment_book(
                technique=technique,
                length=length,
                start=datetime(2026, 11, 23, hour, tzinfo=LONDON),
                therapist=therapist,
                client=client(n),
                source="staff",
                now=NOW,
                notify=False,
            )
    connections.close_all()

    outcomes = race([lambda: appointments.reminders_queue(now=NOW) for _ in range(4)])

    assert sum(outcomes) == 9, outcomes
    kinds = [t.args_kwargs["kwargs"] for t in DBTaskResult.objects.all()]
    ids = [k["appointment_id"] for k in kinds if k["kind"] == "reminder"]
    assert len(ids) == len(set(ids)) == 9


def next_working_day_at_ten():
    from django.utils import timezone

    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=LONDON)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_confirms_of_one_review_book_once(settings):
    """One client double- (or triple-) clicks "Confirm booking" with "Any available":
    every request gets the one booking, never one per free therapist."""
    from urllib.parse import urlencode

    from django.test import Client

    settings.BOOKING_RATE_LIMIT = 1000
    technique = make_technique()
    for _ in range(4):
        TherapistFactory(techniques=[technique])
    query = urlencode({"length": 60, "therapist": "any", "start": next_working_day_at_ten().isoformat()})
    details = {"name": "Olivia", "email": "olivia@example.com", "phone": "07700 900000", **HEALTH_NO}

    for _ in range(3):
        Appointment.objects.all().delete()
        browser = Client()
        response = browser.post(
            f"/book/race-swedish/details/?{query}",
            {**details, "agree_policy": "on", "consent_name": "Olivia"},
        )
        assert response.status_code == 302
        key = browser.get(f"/book/race-swedish/review/?{query}").context["confirmation_key"]
        session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        connections.close_all()

        def confirm(key=key, session=session):
            # The same browser session, each request on a connection of its own.
            tab = Client()
            tab.cookies[settings.SESSION_COOKIE_NAME] = session
            return tab.post(f"/book/race-swedish/review/?{query}", {"confirmation_key": key})

        responses = race([confirm] * 4)
        booking = Appointment.objects.get()
        assert [getattr(r, "status_code", r) for r in responses] == [302] * 4, responses
        assert {r["Location"] for r in responses} == {f"/book/confirmed/{booking.manage_token}/"}


@pytest.mark.django_db(transaction=True)
def test_simultaneous_bookings_for_one_email_stop_at_the_cap(settings):
    settings.BOOKING_MAX_UPCOMING_PER_EMAIL = 3
    technique = make_technique()
    length = technique.lengths.get(duration_minutes=60)
    team = [TherapistFactory(techniques=[technique]) for _ in range(2)]
    starts = [datetime(2026, 11, 24, 9, 0, tzinfo=LONDON) + timedelta(minutes=90 * i) for i in range(4)]
    # Eight times (two therapists, four starts), one person, written in different cases.
    emails = ["olivia@example.com", " Olivia@Example.COM"]
    attempts = [
        (lambda t=t, s=s, n=n: appointments.appointment_book(
            technique=technique, length=length, start=s, therapist=t, now=NOW,
            client=appointments.ClientDetails("Olivia", emails[n % 2], "07700 900000"),
        ))
        for n, (t, s) in enumerate((t, s) for t in team for s in starts)
    ]  # fmt: skip

    for _ in range(2):
        Appointment.objects.all().delete()
        outcomes = race(attempts)
        assert Appointment.objects.count() == 3, outcomes
        refused = [o for o in outcomes if not isinstance(o, Appointment)]
        assert len(refused) == 5 and all(getattr(o, "code", None) == "too_many" for o in refused), refused


@pytest.mark.django_db(transaction=True)
def test_the_unique_key_has_the_last_word_without_the_email_lock(monkeypatch):
    # Were the lock missing (or skipped), the unique index on the confirmation key still
    # lets one insert through, and the others answer with that booking.
    monkeypatch.setattr(appointments, "_lock_client_email", lambda email: None)
    technique = make_technique()
    length = technique.lengths.get(duration_minutes=60)
    for _ in range(4):
        TherapistFactory(techniques=[technique])

    def confirm():
        return appointments.appointment_book(
            technique=technique, length=length, start=datetime(2026, 11, 24, 10, 0, tzinfo=LONDON),
            client=client(1), now=NOW, idempotency_key="b" * 40,
        )  # fmt: skip

    for _ in range(3):
        Appointment.objects.all().delete()
        outcomes = race([confirm] * 4)
        booking = Appointment.objects.get()
        assert [getattr(o, "pk", o) for o in outcomes] == [booking.pk] * 4, outcomes


# --------------------------------------------------------------------------- rooms (issue 12)

OCCUPYING_SQL = "('confirmed', 'completed', 'no_show', 'held')"
# Two occupying appointments that overlap on one therapist (buffer included), or on one
# room (turnover included) unless they are the two seats of one session for two.
OVERLAPS_SQL = f"""
SELECT COUNT(*) FROM booking_appointment a
JOIN booking_appointment b ON a.id < b.id
WHERE a.status IN {OCCUPYING_SQL} AND b.status IN {OCCUPYING_SQL}
AND (
    (a.therapist_id = b.therapist_id AND a.start < b.occupied_until AND b.start < a.occupied_until)
    OR (
        a.room_id = b.room_id AND a.reference <> b.reference
        AND a.start < b.room_until AND b.start < a.room_until
    )
)
"""


def overlaps() -> int:
    with connection.cursor() as cursor:
        cursor.execute(OVERLAPS_SQL)
        return cursor.fetchone()[0]


def test_the_overlap_query_finds_overlaps(db):
    # The check the races end with must itself see a room or therapist overlap. On
    # PostgreSQL the constraints would refuse the rows it needs: they are dropped inside
    # this test's transaction, which is rolled back at its end.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for name in ("appointment_no_overlap", "appointment_room_no_overlap"):
                cursor.execute(f"ALTER TABLE booking_appointment DROP CONSTRAINT {name}")
    technique = make_technique()
    first, second = (TherapistFactory(techniques=[technique]) for _ in range(2))
    only = make_room("Only room", turnover=10)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    for therapist in (first, second):
        appointment_row(therapist, technique, start, room=only, room_until=start + timedelta(minutes=70))
    assert overlaps() == 1
    Appointment.objects.filter(therapist=second).update(room=None, room_until=None, therapist=first)
    assert overlaps() == 1
    Appointment.objects.filter(therapist=first).exclude(
        pk=Appointment.objects.order_by("pk").first().pk
    ).update(status=AppointmentStatus.CANCELLED)
    assert overlaps() == 0


@pytest.fixture
def database_refusals(monkeypatch):
    """The error codes of every refusal the database gave the services during a race. A
    deadlock (40P01) would also read as "just taken" to a client, so the tests look for
    it here: the sorted locks must make racing bookings queue, never deadlock."""
    seen: list = []
    original = appointments._is_conflict

    def recording(error):
        seen.append(getattr(error.__cause__, "pgcode", None))
        return original(error)

    monkeypatch.setattr(appointments, "_is_conflict", recording)
    return seen


NO_DEADLOCK = {"40P01", "40001"}


def make_room(name, *, capacity=1, turnover=10, order=0):
    return Room.objects.create(name=name, capacity=capacity, turnover_minutes=turnover, display_order=order)


def make_for_two() -> Technique:
    technique = make_technique()
    technique.for_two = True
    technique.save()
    return technique


def guest(n):
    return appointments.ClientDetails(name=f"Guest {n}", email="", phone="")


@pytest.mark.django_db(transaction=True)
def test_twenty_clients_for_the_last_room_with_three_free_therapists_accept_exactly_one(database_refusals):
    technique = make_technique()
    length = technique.lengths.get(duration_minutes=60)
    for _ in range(3):
        TherapistFactory(techniques=[technique])
    only = make_room("Last room", turnover=15)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)

    def attempt(i):
        return lambda: appointments.appointment_book(
            technique=technique, length=length, start=start, client=client(i), now=NOW
        )

    for _ in range(2):
        Appointment.objects.all().delete()
        outcomes = race([attempt(i) for i in range(ATTEMPTS)])
        winners = [o for o in outcomes if isinstance(o, Appointment)]
        assert len(winners) == 1, outcomes
        assert all(getattr(o, "code", None) == "slot_taken" for o in outcomes if o not in winners), outcomes
        assert Appointment.objects.get().room == only
        assert overlaps() == 0
        assert not NO_DEADLOCK & set(database_refusals), database_refusals


@pytest.mark.django_db(transaction=True)
def test_twenty_couples_for_one_couples_room_accept_exactly_one_pair(database_refusals):
    technique = make_for_two()
    length = technique.lengths.get(duration_minutes=60)
    for _ in range(6):
        TherapistFactory(techniques=[technique])
    suite = make_room("Couples suite", capacity=2)
    make_room("Single room", order=1)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)

    def attempt(i):
        return lambda: appointments.appointment_book_pair(
            technique=technique, length=length, start=start, clients=(client(i), guest(i)), now=NOW
        )

    for _ in range(2):
        Appointment.objects.all().delete()
        outcomes = race([attempt(i) for i in range(ATTEMPTS)])
        winners = [o for o in outcomes if isinstance(o, tuple)]
        assert len(winners) == 1, outcomes
        assert all(getattr(o, "code", None) == "slot_taken" for o in outcomes if o not in winners), outcomes
        booked = list(Appointment.objects.order_by("seat"))
        assert [a.seat for a in booked] == [1, 2] and {a.room for a in booked} == {suite}
        assert len({a.therapist_id for a in booked}) == 2
        assert overlaps() == 0
        assert not NO_DEADLOCK & set(database_refusals), database_refusals


@pytest.mark.django_db(transaction=True)
def test_a_couples_booking_racing_two_singles_for_one_of_its_therapists(database_refusals):
    technique = make_for_two()
    length = technique.lengths.get(duration_minutes=60)
    anna, ben = (TherapistFactory(techniques=[technique]) for _ in range(2))
    make_room("Couples suite", capacity=2, order=0)
    make_room("Room 1", order=1)
    make_room("Room 2", order=2)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    pair = lambda: appointments.appointment_book_pair(  # noqa: E731
        technique=technique, length=length, start=start, clients=(client(0), guest(0)),
        therapists=(anna, ben), now=NOW,
    )  # fmt: skip

    def single(i):
        return lambda: appointments.appointment_book(
            technique=technique, length=length, start=start, client=client(i), therapist=anna, now=NOW
        )

    for _ in range(4):
        Appointment.objects.all().delete()
        outcomes = race([pair, single(1), single(2)])
        succeeded = [o for o in outcomes if isinstance(o, Appointment | tuple)]
        assert len(succeeded) == 1, outcomes
        assert all(getattr(o, "code", None) == "slot_taken" for o in outcomes if o not in succeeded), outcomes
        # The pair's two seats, or the one single: never a half pair.
        assert Appointment.objects.count() == (2 if isinstance(succeeded[0], tuple) else 1)
        assert overlaps() == 0
        assert not NO_DEADLOCK & set(database_refusals), database_refusals


@pytest.mark.django_db(transaction=True)
def test_a_staff_move_into_a_room_races_an_online_booking_for_it(database_refusals):
    technique = make_technique()
    length = technique.lengths.get(duration_minutes=60)
    mover, online, other = (TherapistFactory(techniques=[technique]) for _ in range(3))
    first_room = make_room("Room 1", order=0)
    second_room = make_room("Room 2", order=1)
    ten = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
    staff = {"source": "staff", "now": NOW, "notify": False}

    for _ in range(4):
        Appointment.objects.all().delete()
        # Room 1 is taken at 10:00; the appointment to move is at 14:00.
        appointments.appointment_book(
            technique=technique,
            length=length,
            start=ten,
            client=client(1),
            therapist=other,
            room=first_room,
            **staff,
        )
        moving = appointments.appointment_book(
            technique=technique, length=length, start=ten + timedelta(hours=4), client=client(2),
            therapist=mover, **staff,
        )  # fmt: skip
        connections.close_all()
        move = lambda moving=moving: appointments.appointment_reschedule(  # noqa: E731
            appointment=moving, new_start=ten, room=second_room, now=NOW
        )
        book = lambda: appointments.appointment_book(  # noqa: E731
            technique=technique, length=length, start=ten, client=client(3), therapist=online, now=NOW
        )
        outcomes = race([move, book])
        succeeded = [o for o in outcomes if isinstance(o, Appointment)]
        assert len(succeeded) == 1, outcomes
        [lost] = [o for o in outcomes if o not in succeeded]
        assert isinstance(lost, appointments.SlotUnavailable), outcomes
        if succeeded[0].pk != moving.pk:
            # Staff are told what holds the room.
            assert f"Room 2 is taken 10:00–11:10 by {succeeded[0].reference}" in lost.messages[0]
        assert Appointment.objects.filter(start=ten, room=second_room).count() == 1
        moving.refresh_from_db()
        assert moving.start == (ten if succeeded[0].pk == moving.pk else ten + timedelta(hours=4))
        assert overlaps() == 0
        assert not NO_DEADLOCK & set(database_refusals), database_refusals
