"""The client's booking pages, end to end through Django's test client.

`test_views.py` covers the availability API and the technique pages; this file covers
the booking flow views (times, details, review, confirmation, manage, cancel,
reschedule). "Now" is frozen so days and cutoffs are predictable.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from booking.choices import AppointmentSource, AppointmentStatus, RuleOutcome
from booking.models import Appointment, Closure, DoctorNote
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import HEALTH_NO, TherapistFactory, health_rule, seed_health_questions

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=LONDON)  # a Friday
TUESDAY = datetime(2026, 11, 24, tzinfo=LONDON).date()
DETAILS = {
    "name": "Olivia  Brown",
    "email": "olivia@example.com",
    "phone": "07700 900101",
    **HEALTH_NO,
    "health_injury_or_surgery": "yes",
    "health_injury_or_surgery_details": "Sprained left ankle in October",
    "notes": "Go easy on the shoulders",
    "agree_policy": "on",
    "consent_name": "Olivia Brown",
    "website": "",
}


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW.astimezone(UTC))
    return NOW


@pytest.fixture(autouse=True)
def health_questions(db):
    seed_health_questions()


@pytest.fixture
def anna(swedish):
    return TherapistFactory(name="Anna Price", slug="anna", techniques=[swedish])


@pytest.fixture
def ben(swedish):
    return TherapistFactory(name="Ben Hall", slug="ben", techniques=[swedish])


def at(day, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def url(
    name: str, *, start: datetime | None = None, therapist: str = "any", length: int = 60, **extra
) -> str:
    params = {"length": length, "therapist": therapist, **extra}
    if start is not None:
        params["start"] = start.isoformat()
    return reverse(name, args=["swedish"]) + "?" + urlencode(params)


def book_through_pages(client, start: datetime, therapist: str = "any", details=None):
    response = client.post(url("booking:details", start=start, therapist=therapist), details or DETAILS)
    assert response.status_code == 302, response.content.decode()[:2000]
    return client.post(response["Location"])


def book_directly(swedish, start, therapist, email="someone@example.com", **kwargs) -> Appointment:
    return appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=start,
        therapist=therapist,
        client=appointments.ClientDetails("Someone", email, "07700 900999"),
        **kwargs,
    )


def test_url_names():
    assert reverse("booking:times", args=["swedish"]) == "/book/swedish/times/"
    assert reverse("booking:details", args=["swedish"]) == "/book/swedish/details/"
    assert reverse("booking:review", args=["swedish"]) == "/book/swedish/review/"
    assert reverse("booking:appointment-manage", args=["abc"]) == "/book/manage/abc/"
    assert reverse("booking:appointment-confirmed", args=["abc"]) == "/book/confirmed/abc/"


# --------------------------------------------------------------------------- step 1


def test_technique_page_offers_lengths_and_therapists_with_any_first(client, anna, ben):
    response = client.get(reverse("booking:technique-detail", args=["swedish"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'action="/book/swedish/times/"' in html
    assert 'name="length" id="length-60" value="60"' in html
    assert (
        html.index('id="therapist-any"')
        < html.index('id="therapist-anna"')
        < html.index('id="therapist-ben"')
    )
    assert "Offers: " in html and "Swedish" in html


def test_technique_page_keeps_the_choice_when_coming_back(client, anna):
    response = client.get(
        reverse("booking:technique-detail", args=["swedish"]), {"length": 90, "therapist": "anna"}
    )
    html = response.content.decode()
    assert 'value="90" required checked' in html
    assert 'value="anna" aria-describedby="therapist-anna-bio" checked' in html


# --------------------------------------------------------------------------- step 2: times


def test_times_page_shows_a_week_strip_and_the_days_times(client, anna):
    Closure.objects.create(first_day=TUESDAY, last_day=TUESDAY, reason="Staff training")
    response = client.get(url("booking:times"))
    assert response.status_code == 200
    days = response.context["days"]
    assert [d["day"] for d in days] == [NOW.date() + timedelta(days=i) for i in range(7)]
    by_day = {d["day"]: d for d in days}
    assert by_day[TUESDAY]["state"] == "closed"
    assert by_day[TUESDAY]["note"] == "Closed: Staff training"
    sunday = TUESDAY - timedelta(days=2)
    # Nobody works on Sundays: the clinic is closed, not full.
    assert by_day[sunday]["state"] == "closed" and by_day[sunday]["note"] == "Closed"
    # Today is bookable from 11:00 (two hours' notice): the first open day is selected.
    assert response.context["selected_day"].day == NOW.date()
    html = response.content.decode()
    assert 'aria-current="date"' in html
    assert "Closed: Staff training" in html
    groups = {
        g["name"]: [t["start"].strftime("%H:%M") for t in g["times"]] for g in response.context["groups"]
    }
    assert groups["morning"][0] == "11:00"
    assert groups["afternoon"][0] == "12:00"
    assert groups["evening"] == ["17:00"]  # 60 minutes must end by 18:00
    assert "start=2026-11-20T11%3A00%2B00%3A00" in html


def test_selected_day_with_nothing_free_says_so(client, anna):
    Closure.objects.create(first_day=TUESDAY, last_day=TUESDAY, reason="Staff training")
    response = client.get(url("booking:times", day=TUESDAY.isoformat()))
    assert response.context["selected_day"].day == TUESDAY
    assert "The clinic is closed: Staff training." in response.content.decode()
    sunday = client.get(url("booking:times", day=(TUESDAY - timedelta(days=2)).isoformat()))
    assert "The clinic is closed on Sundays." in sunday.content.decode()
    assert "The next day with free times this week is" in sunday.content.decode()
    # A day with working hours but nothing left is full, not closed.
    for hhmm in ("09:00", "10:15", "11:30", "12:45", "14:00", "15:15", "16:30"):
        book_directly(anna.techniques.get(), at(TUESDAY + timedelta(days=1), hhmm), anna)
    wednesday = client.get(url("booking:times", day=(TUESDAY + timedelta(days=1)).isoformat()))
    by_day = {d["day"]: d for d in wednesday.context["days"]}
    assert by_day[TUESDAY + timedelta(days=1)]["note"] == "No free times"
    assert "No free times on this day." in wednesday.content.decode()


def test_a_named_therapists_day_off_says_so(client, anna, ben):
    anna.working_hours.filter(weekday=TUESDAY.weekday()).delete()
    response = client.get(url("booking:times", therapist="anna", day=TUESDAY.isoformat()))
    by_day = {d["day"]: d for d in response.context["days"]}
    assert by_day[TUESDAY]["state"] == "closed" and by_day[TUESDAY]["note"] == "Not working"
    assert "Anna Price does not work on Tuesdays." in response.content.decode()
    # Ben works that day, so for "any available" the clinic is open.
    response = client.get(url("booking:times", day=TUESDAY.isoformat()))
    assert {d["day"]: d for d in response.context["days"]}[TUESDAY]["state"] == "open"


def test_week_navigation_is_clamped_to_today_and_the_horizon(client, anna):
    first = client.get(url("booking:times"))
    assert first.context["previous_week_url"] is None
    assert "week=2026-11-27" in first.context["next_week_url"]
    # Asking for the past starts at today; asking beyond the horizon stops at its end.
    past = client.get(url("booking:times", week="2020-01-01"))
    assert past.context["week_start"] == NOW.date()
    far = client.get(url("booking:times", week="2030-01-01"))
    assert far.context["week_start"] == NOW.date() + timedelta(days=60)
    assert far.context["next_week_url"] is None
    beyond = [d for d in far.context["days"] if d["day"] > NOW.date() + timedelta(days=60)]
    assert beyond and all(d["state"] == "unavailable" for d in beyond)


@pytest.mark.parametrize(
    "params",
    [
        {"length": 45, "therapist": "any"},  # a length Swedish is not offered in
        {"length": "sixty", "therapist": "any"},
        {"therapist": "any"},
        {"length": 60, "therapist": "nobody"},
        {"length": 60, "therapist": "any", "day": "2026-02-30"},
        {"length": 60, "therapist": "any", "week": "next tuesday"},
    ],
)
def test_times_page_with_bad_choices_is_a_helpful_400(client, anna, params):
    response = client.get(reverse("booking:times", args=["swedish"]), params)
    assert response.status_code == 400
    html = response.content.decode()
    assert "We could not use that choice" in html
    assert 'href="/book/swedish/"' in html  # the way back


def test_therapist_who_does_not_offer_the_technique_is_refused(client, swedish):
    from tests.factories import TechniqueFactory

    TherapistFactory(techniques=[swedish])
    TherapistFactory(slug="cara", techniques=[TechniqueFactory(slug="reflexology")])
    response = client.get(url("booking:times", therapist="cara"))
    assert response.status_code == 400
    assert "does not offer Swedish" in response.content.decode()


def test_unknown_or_inactive_technique_is_a_404(client, swedish):
    assert client.get("/book/hot-stones/times/?length=60").status_code == 404
    swedish.active = False
    swedish.save()
    assert client.get(url("booking:times")).status_code == 404


def test_times_on_the_day_the_clocks_go_forward(client, swedish, monkeypatch):
    # Sunday 28 March 2027: 01:00 GMT becomes 02:00 BST. A therapist working 00:00-04:00
    # by the wall clock really works three hours, and every time shown is a real one:
    # 60-minute massages (the buffer may run past the end of the day) start from 00:00 to
    # 00:45 GMT and from 02:00 to 03:00 BST; nothing in the hour that does not exist.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2027, 3, 25, 9, tzinfo=LONDON))
    TherapistFactory(slug="night", techniques=[swedish], hours={6: [("00:00", "04:00")]})
    response = client.get(url("booking:times", length=60, day="2027-03-28"))
    times = [t["start"] for g in response.context["groups"] for t in g["times"]]
    assert [t.strftime("%H:%M") for t in times] == [
        "00:00",
        "00:15",
        "00:30",
        "00:45",
        "02:00",
        "02:15",
        "02:30",
        "02:45",
        "03:00",
    ]
    assert {t.utcoffset() for t in times} == {timedelta(0), timedelta(hours=1)}
    assert "start=2027-03-28T02%3A00%2B01%3A00" in response.content.decode()


@pytest.mark.parametrize("therapists, appointments_each", [(1, 1), (12, 20)])
def test_times_page_runs_a_fixed_number_of_queries(
    client, swedish, django_assert_max_num_queries, therapists, appointments_each
):
    people = [TherapistFactory(techniques=[swedish]) for _ in range(therapists)]
    for person in people:
        for n in range(appointments_each):
            day = TUESDAY + timedelta(days=n // 4)
            if day.weekday() == 6:
                continue
            book_directly(swedish, at(day, f"{9 + 2 * (n % 4)}:00"), person, notify=False)
    # The first look: technique, length, policy, the schedule version, then the six of
    # the availability load. The second is served from the cache: the first four only.
    with django_assert_max_num_queries(10):
        response = client.get(url("booking:times"))
    assert response.status_code == 200
    with django_assert_max_num_queries(4):
        again = client.get(url("booking:times"))
    assert again.content == response.content


# --------------------------------------------------------------------------- steps 3 and 4


def test_details_page_shows_the_choice_the_policy_and_labelled_fields(client, anna):
    response = client.get(url("booking:details", start=at(TUESDAY, "10:00")))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Tuesday 24 November 2026, 10:00" in html
    assert "until 24 hours before it starts" in html
    for field in ("name", "email", "phone", "notes", "health_injury_or_surgery_details", "agree_policy"):
        assert f'for="id_{field}"' in html, field
    assert "Are you pregnant?" in html
    assert 'class="honeypot" aria-hidden="true"' in html


def test_details_with_errors_keep_what_was_typed_and_mark_the_fields(client, anna):
    typed = {**DETAILS, "email": "not-an-email", "agree_policy": "", "health_pregnancy": ""}
    response = client.post(url("booking:details", start=at(TUESDAY, "10:00")), typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="Olivia  Brown"' in html  # kept as typed
    assert "Sprained left ankle in October" in html
    assert "Enter a valid email address." in html
    assert "Please agree to the cancellation policy to book." in html
    assert "Please answer this question." in html
    assert 'aria-invalid="true"' in html
    assert "Please check the 3 highlighted fields below." in html
    assert not Appointment.objects.exists()


def test_honeypot_filled_in_is_refused(client, anna):
    response = client.post(
        url("booking:details", start=at(TUESDAY, "10:00")), {**DETAILS, "website": "http://spam"}
    )
    assert response.status_code == 200
    assert "This form could not be sent" in response.content.decode()
    assert "booking_details" not in client.session


def test_details_lead_to_review_and_come_back_filled_in(client, anna):
    start = at(TUESDAY, "10:00")
    response = client.post(url("booking:details", start=start), DETAILS)
    assert response.status_code == 302
    assert response["Location"].startswith("/book/swedish/review/?")
    assert "start=2026-11-24T10%3A00%2B00%3A00" in response["Location"]
    review = client.get(response["Location"])
    html = review.content.decode()
    assert "Olivia Brown" in html and "Sprained left ankle in October" in html
    assert "Confirm booking" in html
    again = client.get(url("booking:details", start=start))
    assert 'value="olivia@example.com"' in again.content.decode()


def test_review_without_details_sends_the_client_back_to_fill_them_in(client, anna):
    start = at(TUESDAY, "10:00")
    response = client.get(url("booking:review", start=start))
    assert response.status_code == 302
    assert response["Location"].startswith("/book/swedish/details/")


def test_confirming_books_and_shows_the_confirmation(client, anna):
    start = at(TUESDAY, "10:00")
    response = book_through_pages(client, start)
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("booking:appointment-confirmed", args=[appointment.manage_token])
    assert appointment.source == AppointmentSource.ONLINE
    assert appointment.client_name == "Olivia Brown"
    answers = appointment.intake.answers
    assert answers["injury_or_surgery"] == {
        "yes": True,
        "details": "Sprained left ankle in October",
        "number": None,
    }
    assert answers["pregnancy"]["yes"] is False
    agreed = {
        (c.policy.kind, c.policy.version, c.method, c.typed_name, c.agreed_at)
        for c in appointment.consents.all()
    }
    assert agreed == {
        ("cancellation", 1, "online_tick", "", NOW),
        ("treatment_consent", 1, "typed_name", "Olivia Brown", NOW),
    }
    assert appointment.start == start
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "You're booked" in html
    assert appointment.reference in html
    assert "Anna Price" in html and "£55.00" in html and "12 Orchard Lane" in html
    assert "Monday 23 November, 10:00" in html  # the online-change deadline
    assert reverse("booking:appointment-calendar", args=[appointment.manage_token]) in html
    # The details are not kept once booked: a shared computer does not hand them on.
    assert "booking_details" not in client.session


@pytest.mark.parametrize(
    "start, message",
    [
        (NOW - timedelta(hours=1), "That time has already passed."),
        (NOW + timedelta(minutes=60), "at least 2 hours"),
        (NOW + timedelta(days=70), "60 days ahead"),
        (at(TUESDAY, "10:07"), "Please choose one of the offered start times."),
    ],
)
def test_times_the_policy_rules_out_get_a_clear_400(client, anna, start, message):
    for name in ("booking:details", "booking:review"):
        response = client.get(url(name, start=start))
        assert response.status_code == 400
        assert message in response.content.decode()


def test_a_time_on_a_closed_day_says_closed_not_taken(client, anna):
    Closure.objects.create(first_day=TUESDAY, last_day=TUESDAY, reason="Staff training")
    start = at(TUESDAY, "10:00")
    for name in ("booking:details", "booking:review"):
        response = client.get(url(name, start=start))
        assert response.status_code == 400
        html = response.content.decode()
        assert "The clinic is closed on Tuesday 24 November: Staff training." in html
        assert "has just been booked by someone else" not in html
    # Sundays nobody works: closed too, and a time off or outside the hours says why.
    sunday = client.get(url("booking:details", start=at(TUESDAY - timedelta(days=2), "10:00")))
    assert sunday.status_code == 400
    assert "The clinic is closed on Sundays." in sunday.content.decode()
    named = client.get(
        url("booking:details", start=at(TUESDAY - timedelta(days=2), "10:00"), therapist=anna.slug)
    )
    assert "Anna Price does not work on Sundays." in named.content.decode()
    late = client.get(url("booking:details", start=at(TUESDAY + timedelta(days=1), "19:00")))
    assert late.status_code == 400 and "Nobody is working at that time." in late.content.decode()
    from booking.models import TimeOff

    TimeOff.objects.create(
        therapist=anna,
        start=at(TUESDAY + timedelta(days=2), "09:00"),
        end=at(TUESDAY + timedelta(days=2), "13:00"),
    )
    away = client.get(
        url("booking:details", start=at(TUESDAY + timedelta(days=2), "10:00"), therapist="anna")
    )
    assert away.status_code == 400 and "The therapist is away at that time." in away.content.decode()


def test_a_closure_added_after_review_is_explained_at_confirm(client, anna):
    start = at(TUESDAY, "10:00")
    client.post(url("booking:details", start=start), DETAILS)
    assert client.get(url("booking:review", start=start)).status_code == 200
    Closure.objects.create(first_day=TUESDAY, last_day=TUESDAY, reason="Burst pipe")
    response = client.post(url("booking:review", start=start))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The clinic is closed on Tuesday 24 November: Burst pipe." in html
    assert "has just been booked by someone else" not in html
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("start", ["tomorrow", "2026-13-01T10:00", "", "2026-11-24T10:00:00+25:00"])
def test_malformed_start_is_a_400_not_a_500(client, anna, start):
    response = client.get(
        reverse("booking:details", args=["swedish"]), {"length": 60, "therapist": "any", "start": start}
    )
    assert response.status_code == 400
    assert "We could not use that choice" in response.content.decode()


@pytest.mark.parametrize("start", ["9999-12-31T23:00", "0001-01-01T00:00", "9999-12-31T10:00:00+00:00"])
def test_start_at_the_edge_of_the_calendar_is_a_400_not_a_500(client, anna, start):
    for name in ("booking:details", "booking:review"):
        response = client.get(
            reverse(name, args=["swedish"]), {"length": 60, "therapist": "any", "start": start}
        )
        assert response.status_code == 400
        assert "Choose a date between 1900 and 2200." in response.content.decode()


def test_start_without_offset_is_read_as_clinic_time_and_unencoded_plus_survives(client, anna):
    naive = client.get(
        reverse("booking:details", args=["swedish"]), {"length": 60, "start": "2026-11-24T10:00"}
    )
    assert naive.context["start_local"] == at(TUESDAY, "10:00")
    # A "+" typed into an address arrives as a space.
    raw = client.get("/book/swedish/details/?length=60&start=2026-11-24T10:00+00:00")
    assert raw.context["start_local"] == at(TUESDAY, "10:00")


def test_time_taken_while_typing_keeps_details_and_offers_the_nearest_times(client, anna):
    start = at(TUESDAY, "10:00")
    book_directly(anna.techniques.get(), start, anna)  # someone else, a moment ago
    response = client.post(url("booking:details", start=start), DETAILS)
    assert response.status_code == 409
    html = response.content.decode()
    assert "has just been booked by someone else" in html
    assert 'value="Olivia  Brown"' in html
    nearest = [a["start"].strftime("%H:%M") for a in response.context["alternatives"]]
    # 10:00 to 11:15 is taken (60 minutes plus a 15 minute buffer, and the buffer before).
    # Nothing before 10:00 fits either: 09:00 plus 60 minutes and the buffer runs into it.
    assert nearest == ["11:15", "11:30", "11:45", "12:00", "12:15", "12:30"]
    # The alternatives go straight to the review, where the saved details are waiting.
    review = client.get(response.context["alternatives"][0]["url"])
    assert review.status_code == 200
    assert "Olivia Brown" in review.content.decode()
    assert client.post(response.context["alternatives"][0]["url"]).status_code == 302
    assert Appointment.objects.get(client_email="olivia@example.com").start == at(TUESDAY, "11:15")


def test_time_taken_between_review_and_confirm_gets_the_friendly_page(client, anna):
    start = at(TUESDAY, "10:00")
    client.post(url("booking:details", start=start, therapist="anna"), DETAILS)
    book_directly(anna.techniques.get(), start, anna)
    response = client.post(url("booking:review", start=start, therapist="anna"))
    assert response.status_code == 409
    html = response.content.decode()
    assert "has just been booked by someone else" in html
    assert "Your details are kept" in html
    assert "Confirm booking" not in html
    assert Appointment.objects.count() == 1


def test_any_available_falls_back_to_the_other_therapist(client, anna, ben):
    start = at(TUESDAY, "10:00")
    book_directly(anna.techniques.get(), start, anna)
    book_through_pages(client, start)
    assert Appointment.objects.get(client_email="olivia@example.com").therapist == ben


def test_cap_on_upcoming_appointments_per_email(client, anna, settings):
    settings.BOOKING_MAX_UPCOMING_PER_EMAIL = 2
    book_directly(anna.techniques.get(), at(TUESDAY, "09:00"), anna, email="OLIVIA@example.com")
    book_directly(anna.techniques.get(), at(TUESDAY, "12:00"), anna, email="olivia@example.com")
    # Told on the details page, with what was typed kept, not only after the review.
    response = client.post(url("booking:details", start=at(TUESDAY, "15:00")), DETAILS)
    assert response.status_code == 400
    assert "already has 2 upcoming appointments" in response.context["form"].errors["email"][0]
    assert 'value="07700 900101"' in response.content.decode()
    assert Appointment.objects.count() == 2
    # Staff bookings (by phone) are not capped.
    book_directly(anna.techniques.get(), at(TUESDAY, "15:00"), anna, source=AppointmentSource.STAFF)


def test_cap_reached_between_details_and_confirm_is_refused_at_confirm(client, anna, settings):
    settings.BOOKING_MAX_UPCOMING_PER_EMAIL = 1
    client.post(url("booking:details", start=at(TUESDAY, "15:00")), DETAILS)
    book_directly(anna.techniques.get(), at(TUESDAY, "09:00"), anna, email="olivia@example.com")
    response = client.post(url("booking:review", start=at(TUESDAY, "15:00")))
    assert response.status_code == 400
    assert "already has 1 upcoming appointments" in response.content.decode()
    assert Appointment.objects.count() == 1


def test_rate_limit_per_address_gives_a_clear_429(client, anna, settings):
    settings.BOOKING_RATE_LIMIT = 2
    for hhmm in ("10:00", "12:00"):
        assert book_through_pages(client, at(TUESDAY, hhmm)).status_code == 302
    client.post(url("booking:details", start=at(TUESDAY, "15:00")), DETAILS)
    response = client.post(url("booking:review", start=at(TUESDAY, "15:00")))
    assert response.status_code == 429
    assert "Too many booking attempts" in response.content.decode()
    assert Appointment.objects.count() == 2
    # Another address is not affected.
    other = client.post(url("booking:review", start=at(TUESDAY, "15:00")), REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 302
    assert Appointment.objects.count() == 3


def test_review_and_details_pages_run_a_fixed_number_of_queries(
    client, swedish, django_assert_max_num_queries
):
    people = [TherapistFactory(techniques=[swedish]) for _ in range(10)]
    for person in people:
        for hhmm in ("09:00", "11:00", "14:00"):
            book_directly(swedish, at(TUESDAY, hhmm), person, notify=False)
    start = at(TUESDAY, "16:00")
    with django_assert_max_num_queries(12):
        assert client.get(url("booking:details", start=start)).status_code == 200
    client.post(url("booking:details", start=start), DETAILS)
    with django_assert_max_num_queries(12):
        assert client.get(url("booking:review", start=start)).status_code == 200


# --------------------------------------------------------------------------- one booking per confirmation


def review_page(client, start, therapist="any"):
    """Fill in the details and open the review; returns the review's URL and its key."""
    client.post(url("booking:details", start=start, therapist=therapist), DETAILS)
    review_url = url("booking:review", start=start, therapist=therapist)
    page = client.get(review_url)
    key = page.context["confirmation_key"]
    assert f'name="confirmation_key" value="{key}"' in page.content.decode()
    return review_url, key


@pytest.mark.parametrize("therapist", ["any", "anna"])
def test_confirming_twice_shows_the_one_booking(client, anna, ben, therapist):
    review_url, key = review_page(client, at(TUESDAY, "10:00"), therapist)
    first = client.post(review_url, {"confirmation_key": key})
    second = client.post(review_url, {"confirmation_key": key})
    booking = Appointment.objects.get()
    confirmed = reverse("booking:appointment-confirmed", args=[booking.manage_token])
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == confirmed
    assert booking.idempotency_key == key
    # Emailed once: the repeat booked nothing and queued nothing.
    assert DBTaskResult.objects.count() == 2


def test_a_repeat_racing_past_the_page_gets_the_booking_from_the_service(swedish, anna, ben):
    # Two confirmations of one review, the second arriving after the first's page checks:
    # the service itself answers with the first booking (any therapist, so two were free).
    def confirm():
        return appointments.appointment_book(
            technique=swedish,
            length=swedish.lengths.get(duration_minutes=60),
            start=at(TUESDAY, "10:00"),
            client=appointments.ClientDetails("Olivia Brown", "olivia@example.com", "07700 900101"),
            idempotency_key="a" * 40,
        )

    first, second = confirm(), confirm()
    assert first.pk == second.pk
    assert Appointment.objects.count() == 1


def test_back_then_confirm_again_shows_the_booking_not_taken(client, anna):
    review_url, key = review_page(client, at(TUESDAY, "10:00"), "anna")
    client.post(review_url, {"confirmation_key": key})
    booking = Appointment.objects.get()
    # The browser's copy of the review page, sent again: the draft is gone by now.
    response = client.post(review_url, {"confirmation_key": key}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse(
        "booking:appointment-confirmed", args=[booking.manage_token]
    )
    assert "just been booked by someone else" not in html
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("therapist", ["any", "anna"])
def test_back_after_confirming_shows_the_booking(client, anna, ben, therapist):
    start = at(TUESDAY, "10:00")
    review_url, key = review_page(client, start, therapist)
    client.post(review_url, {"confirmation_key": key})
    confirmed = reverse("booking:appointment-confirmed", args=[Appointment.objects.get().manage_token])
    back = client.get(review_url, follow=True)
    assert back.redirect_chain[-1][0] == confirmed
    html = back.content.decode()
    assert "You have booked this appointment" in html
    assert "just been booked by someone else" not in html
    if therapist == "anna":
        # Two steps back, the details page of a time that is now the client's own.
        details = client.get(url("booking:details", start=start, therapist="anna"), follow=True)
        assert details.redirect_chain[-1][0] == confirmed


def test_another_visitor_still_sees_the_time_as_taken(client, anna):
    from django.test import Client

    review_url, key = review_page(client, at(TUESDAY, "10:00"), "anna")
    client.post(review_url, {"confirmation_key": key})
    other = Client().get(url("booking:details", start=at(TUESDAY, "10:00"), therapist="anna"))
    assert other.context["taken"] is True
    assert "has just been booked by someone else" in other.content.decode()


def test_a_made_up_confirmation_key_books_normally(client, anna):
    review_url, _key = review_page(client, at(TUESDAY, "10:00"), "anna")
    response = client.post(review_url, {"confirmation_key": "not a key <script>"})
    assert response.status_code == 302
    assert Appointment.objects.get().idempotency_key  # the session's own key was used


# --------------------------------------------------------------------------- drafts in the session


def session_values(client) -> str:
    return repr(dict(client.session.items()))


def test_booking_removes_the_health_answers_from_the_session(client, anna):
    client.post(url("booking:details", start=at(TUESDAY, "10:00")), DETAILS)
    assert "Sprained left ankle" in session_values(client)
    client.post(url("booking:review", start=at(TUESDAY, "10:00")))
    assert Appointment.objects.count() == 1
    assert "Sprained left ankle" not in session_values(client)
    assert "olivia@example.com" not in session_values(client)


def test_an_unfinished_draft_is_dropped_after_two_hours(client, anna, monkeypatch, settings):
    start = at(TUESDAY, "10:00")
    client.post(url("booking:details", start=start), DETAILS)
    # A visitor's whole session ends as soon, so clearsessions removes it from the database.
    assert client.session.get_expiry_age() == settings.BOOKING_DRAFT_SECONDS == 2 * 3600
    monkeypatch.setattr(timezone, "now", lambda: (NOW + timedelta(hours=2, minutes=1)).astimezone(UTC))
    response = client.get(url("booking:review", start=start))
    assert response.status_code == 302 and "/details/" in response["Location"]
    assert "Sprained left ankle" not in session_values(client)
    page = client.get(url("booking:details", start=start))
    assert "olivia@example.com" not in page.content.decode()


def test_a_draft_within_two_hours_is_kept(client, anna, monkeypatch):
    start = at(TUESDAY, "10:00")
    client.post(url("booking:details", start=start), DETAILS)
    monkeypatch.setattr(timezone, "now", lambda: (NOW + timedelta(hours=1, minutes=59)).astimezone(UTC))
    assert "Sprained left ankle" in client.get(url("booking:review", start=start)).content.decode()


def test_staff_booking_online_keep_their_session_length(client, anna, staff_user, settings):
    client.force_login(staff_user)
    client.post(url("booking:details", start=at(TUESDAY, "10:00")), DETAILS)
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_signing_in_after_starting_a_booking_gives_the_usual_session_length(
    client, anna, staff_user, settings
):
    client.post(url("booking:details", start=at(TUESDAY, "10:00")), DETAILS)
    assert client.session.get_expiry_age() == settings.BOOKING_DRAFT_SECONDS
    client.force_login(staff_user)  # django.contrib.auth.login(), as the sign-in page calls it
    assert client.session.get("_auth_user_id") == str(staff_user.pk)
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_a_name_too_long_is_refused_with_the_limit_not_cut(client, anna):
    response = client.post(url("booking:details", start=at(TUESDAY, "10:00")), {**DETAILS, "name": "N" * 360})
    assert response.status_code == 200
    html = response.content.decode()
    assert "please keep it to 120 characters (it has 360)" in html
    assert "N" * 360 in html  # kept, to shorten
    assert "maxlength" not in html.split('class="details-form"', 1)[1].split("</form>", 1)[0]
    assert not Appointment.objects.exists()


# --------------------------------------------------------------------------- after booking


@pytest.fixture
def booked(client, anna):
    book_through_pages(client, at(TUESDAY, "10:00"), therapist="anna")
    return Appointment.objects.get()


def test_manage_page_needs_the_exact_signed_token(client, booked, anna):
    token = booked.manage_token
    assert client.get(reverse("booking:appointment-manage", args=[token])).status_code == 200
    other = book_directly(anna.techniques.get(), at(TUESDAY, "14:00"), anna)
    tampered = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        token.replace(booked.reference, other.reference),  # someone else's reference
        booked.reference,  # the reference alone
        "nonsense",
    ]
    for bad in tampered:
        response = client.get(reverse("booking:appointment-manage", args=[bad]))
        assert response.status_code == 404, bad
        assert other.client_name not in response.content.decode()
    # Replacing the secret revokes old links.
    booked.manage_secret = "revoked"
    booked.save()
    assert client.get(reverse("booking:appointment-manage", args=[token])).status_code == 404


def test_manage_pages_are_not_cached_or_indexed(client, booked):
    response = client.get(reverse("booking:appointment-manage", args=[booked.manage_token]))
    assert "no-store" in response["Cache-Control"]
    assert '<meta name="robots" content="noindex">' in response.content.decode()


def test_calendar_download(client, booked):
    response = client.get(reverse("booking:appointment-calendar", args=[booked.manage_token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="massage-{booked.reference}.ics"' in response["Content-Disposition"]
    body = response.content.decode()
    assert "METHOD:PUBLISH" in body
    assert "DTSTART;TZID=Europe/London:20261124T100000" in body


def test_client_cancels_before_the_cutoff(client, booked):
    cancel = reverse("booking:appointment-cancel", args=[booked.manage_token])
    assert "Yes, cancel it" in client.get(cancel).content.decode()
    response = client.post(cancel, follow=True)
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CANCELLED
    html = response.content.decode()
    assert "Your appointment is cancelled" in html
    assert "Book another time" in html
    assert "Change the time" not in html


def test_after_the_cutoff_the_page_says_so_and_gives_the_phone(client, booked, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: at(TUESDAY, "09:00") - timedelta(hours=12))
    manage = client.get(reverse("booking:appointment-manage", args=[booked.manage_token]))
    html = manage.content.decode()
    assert "Online changes closed at Monday 23 November, 10:00" in html
    assert "01227 123 456" in html
    assert reverse("booking:appointment-cancel", args=[booked.manage_token]) not in html
    # Going to the pages directly does not help.
    assert client.get(reverse("booking:appointment-cancel", args=[booked.manage_token])).status_code == 302
    response = client.post(reverse("booking:appointment-cancel", args=[booked.manage_token]), follow=True)
    assert "Online changes close 24 hours before" in response.content.decode()
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CONFIRMED
    assert (
        client.get(reverse("booking:appointment-reschedule", args=[booked.manage_token])).status_code == 302
    )


def test_reschedule_shows_times_including_ones_overlapping_the_old(client, booked):
    response = client.get(
        reverse("booking:appointment-reschedule", args=[booked.manage_token]), {"day": TUESDAY.isoformat()}
    )
    assert response.status_code == 200
    times = {t["start"].strftime("%H:%M"): t["url"] for g in response.context["groups"] for t in g["times"]}
    # The client's own appointment does not block its own move.
    assert "10:00" in times and times["10:30"]
    html = response.content.decode()
    assert "Choose a new time" in html
    # Its own time is shown as the current one, not offered as a "move" to where it is.
    assert times["10:00"] == ""
    assert '<span class="time-btn time-current">10:00 <span class="small">(your time now)</span>' in html
    assert "start=2026-11-24T10%3A00" not in html


def test_moving_to_the_same_time_is_refused_without_an_email(client, booked):
    queued = DBTaskResult.objects.count()
    confirm = reverse("booking:appointment-reschedule-confirm", args=[booked.manage_token])
    query = "?" + urlencode({"start": at(TUESDAY, "10:00").isoformat()})
    page = client.get(confirm + query)
    assert page.status_code == 400
    assert "That is already your appointment&#x27;s time" in page.content.decode()
    assert client.post(confirm + query).status_code == 400
    booked.refresh_from_db()
    assert booked.start == at(TUESDAY, "10:00") and booked.sequence == 0
    assert not booked.client_changes.exists()
    assert DBTaskResult.objects.count() == queued  # no "Moved" email


def test_reschedule_swaps_the_time_in_one_step(client, booked):
    confirm = reverse("booking:appointment-reschedule-confirm", args=[booked.manage_token])
    new = at(TUESDAY, "10:30")  # overlaps the old time: only possible because it is swapped
    page = client.get(confirm, {"start": new.isoformat()})
    assert "Confirm the new time" in page.content.decode()
    response = client.post(confirm + "?" + urlencode({"start": new.isoformat()}), follow=True)
    assert "Your appointment has been moved" in response.content.decode()
    booked.refresh_from_db()
    assert booked.start == new and booked.sequence == 1
    assert booked.status == AppointmentStatus.CONFIRMED
    assert Appointment.objects.count() == 1


def test_reschedule_onto_a_closed_day_says_closed(client, booked):
    Closure.objects.create(
        first_day=TUESDAY + timedelta(days=1), last_day=TUESDAY + timedelta(days=1), reason="Holiday"
    )
    confirm = reverse("booking:appointment-reschedule-confirm", args=[booked.manage_token])
    response = client.get(confirm, {"start": at(TUESDAY + timedelta(days=1), "10:00").isoformat()})
    assert response.status_code == 400
    assert "The clinic is closed on Wednesday 25 November: Holiday." in response.content.decode()
    booked.refresh_from_db()
    assert booked.start == at(TUESDAY, "10:00")


@pytest.mark.parametrize("start", ["9999-12-31T23:00", "0001-01-01T00:00"])
def test_reschedule_to_the_edge_of_the_calendar_is_a_400_not_a_500(client, booked, start):
    confirm = reverse("booking:appointment-reschedule-confirm", args=[booked.manage_token])
    for response in (client.get(confirm, {"start": start}), client.post(f"{confirm}?start={start}")):
        assert response.status_code == 400
        assert "Choose a date between 1900 and 2200." in response.content.decode()
    assert Appointment.objects.get().start == at(TUESDAY, "10:00")


def test_reschedule_to_a_taken_time_keeps_the_old_one(client, booked, anna):
    other = book_directly(anna.techniques.get(), at(TUESDAY, "14:00"), anna)
    confirm = reverse("booking:appointment-reschedule-confirm", args=[booked.manage_token])
    response = client.post(confirm + "?" + urlencode({"start": other.start.isoformat()}))
    assert response.status_code == 409
    assert "your current appointment is unchanged" in response.content.decode()
    booked.refresh_from_db()
    assert booked.start == at(TUESDAY, "10:00")


@pytest.mark.parametrize("action", ["cancel", "reschedule"])
def test_changes_per_manage_link_are_rate_limited(client, booked, settings, action):
    settings.MANAGE_RATE_LIMIT = 2
    if action == "cancel":
        target = reverse("booking:appointment-cancel", args=[booked.manage_token])
    else:
        target = (
            reverse("booking:appointment-reschedule-confirm", args=[booked.manage_token])
            + "?"
            + urlencode({"start": at(TUESDAY, "14:00").isoformat()})
        )
    statuses = [client.post(target, REMOTE_ADDR=f"203.0.113.{i}").status_code for i in range(4)]
    assert statuses[2:] == [429, 429]
    response = client.post(target, REMOTE_ADDR="198.51.100.1")
    assert response.status_code == 429
    assert "Too many changes" in response.content.decode()
    assert "01227 123 456" in response.content.decode()


def test_changes_per_address_are_rate_limited(client, anna, settings):
    settings.MANAGE_RATE_LIMIT_PER_ADDRESS = 3
    bookings = [book_directly(anna.techniques.get(), at(TUESDAY, f"{h}:00"), anna) for h in (9, 11, 13, 15)]
    cancels = [
        client.post(reverse("booking:appointment-cancel", args=[b.manage_token])).status_code
        for b in bookings
    ]
    assert cancels == [302, 302, 302, 429]
    assert Appointment.objects.filter(status=AppointmentStatus.CANCELLED).count() == 3
    # Another address can still cancel the fourth.
    other = client.post(
        reverse("booking:appointment-cancel", args=[bookings[3].manage_token]), REMOTE_ADDR="198.51.100.1"
    )
    assert other.status_code == 302


def test_after_booking_pages_run_a_fixed_number_of_queries(client, booked, django_assert_max_num_queries):
    token = booked.manage_token
    for name in (
        "booking:appointment-confirmed",
        "booking:appointment-manage",
        "booking:appointment-calendar",
    ):
        with django_assert_max_num_queries(4):
            assert client.get(reverse(name, args=[token])).status_code == 200
    with django_assert_max_num_queries(11):
        assert client.get(reverse("booking:appointment-reschedule", args=[token])).status_code == 200


# --------------------------------------------------------------------------- emails


def test_booking_queues_the_client_and_staff_emails_in_its_transaction(client, anna):
    book_through_pages(client, at(TUESDAY, "10:00"))
    tasks = DBTaskResult.objects.order_by("enqueued_at")
    assert [t.args_kwargs["kwargs"]["kind"] for t in tasks] == ["confirmation", "staff_notice"]
    assert mail.outbox == []  # sent by the worker, not the web request


def test_without_site_url_email_links_follow_the_address_the_site_was_opened_on(client, anna, settings):
    """In development SITE_URL is unset, and runserver may be on any port: the links in
    emails used to point at port 8000 whatever the port."""
    from booking.tasks import send_appointment_email

    settings.SITE_URL = ""
    client.defaults["HTTP_HOST"] = "localhost:8123"
    book_through_pages(client, at(TUESDAY, "10:00"))
    tasks = DBTaskResult.objects.order_by("enqueued_at")
    assert {t.args_kwargs["kwargs"]["site_url"] for t in tasks} == {"http://localhost:8123"}
    # The worker has no request: it uses the address stored with the email.
    for task in tasks:
        send_appointment_email.call(**task.args_kwargs["kwargs"])
    appointment = Appointment.objects.get()
    confirmation = next(m for m in mail.outbox if m.subject.startswith("Booked"))
    manage = f"http://localhost:8123/book/manage/{appointment.manage_token}/"
    assert manage in confirmation.body
    assert "http://127.0.0.1:8000" not in confirmation.body
    notice = next(m for m in mail.outbox if m.subject.startswith("New online booking"))
    assert f"http://localhost:8123/admin/booking/appointment/{appointment.pk}/change/" in notice.body
    # With SITE_URL set, it has the last word and nothing is stored with the email.
    settings.SITE_URL = "https://clinic.example"
    DBTaskResult.objects.all().delete()
    book_through_pages(client, at(TUESDAY, "14:00"))
    assert all("site_url" not in t.args_kwargs["kwargs"] for t in DBTaskResult.objects.all())


@pytest.mark.parametrize("therapists", [1, 15])
def test_confirming_runs_a_fixed_number_of_queries(
    client, swedish, django_assert_max_num_queries, therapists
):
    people = [TherapistFactory(techniques=[swedish]) for _ in range(therapists)]
    for person in people:
        for hhmm in ("09:00", "12:00"):
            book_directly(swedish, at(TUESDAY, hhmm), person, notify=False)
    start = at(TUESDAY, "15:00")
    # Sending the details: the technique with its lengths (1), the slot check (2: the
    # therapists, then hours, time off, closures and appointments together), the
    # questions (1), the cap and the health rules together (1), the policy versions agreed
    # to (1) and the new session (an insert in the test's savepoint: 3).
    with django_assert_max_num_queries(9):
        assert client.post(url("booking:details", start=start), DETAILS).status_code == 302
    # Confirming, with no slot check of the page's own (the service's, under its locks,
    # decides): the session (1), the technique (1), the rate limit (1, and on SQLite a
    # DELETE in a new window: PostgreSQL purges in the same statement); the transaction
    # (2): the key, the cap, the health rules and whether the address has a client, all
    # in one (1), the availability load (2), the new client, the appointment, intake,
    # consents (the versions agreed are in the draft) and the two emails (5 inserts);
    # then the session's one UPDATE: 14. PostgreSQL adds the address's advisory lock (the
    # therapists are locked by the load's own read; rooms only when the clinic has some).
    with django_assert_max_num_queries(15):
        assert client.post(url("booking:review", start=start)).status_code == 302


# --------------------------------------------------------------------------- client records


def test_the_booking_flow_answers_identically_for_a_known_and_an_unknown_email(client, anna, swedish):
    """Nothing a client sees reveals that an address is known to the clinic, or anything
    of another booking made with it (issue 11)."""
    import re

    from django.db import transaction

    from booking.models import Client

    known = Client.objects.create(name="Olivia Brown", email="known@example.com", phone="+447700900101")
    earlier = book_directly(swedish, at(TUESDAY, "09:00"), anna, email="known@example.com", notify=False)
    assert earlier.client_id == known.pk
    start = at(TUESDAY, "14:00")

    def flow(email: str) -> list[tuple[int, str]]:
        client.cookies.clear()
        details = {**DETAILS, "email": email}
        pages = [client.get(url("booking:details", start=start, therapist="anna"))]
        pages.append(client.post(url("booking:details", start=start, therapist="anna"), details))
        pages.append(client.get(pages[-1]["Location"]))
        pages.append(client.post(pages[-2]["Location"]))
        booked = Appointment.objects.get(start=start)
        owners[email] = booked.client_id
        pages.append(client.get(pages[-1]["Location"]))
        seen = []
        for response in pages:
            text = response.content.decode() + response.get("Location", "")
            for secret in (booked.reference, booked.manage_token, email):
                text = text.replace(secret, "<X>")
            text = re.sub(r'(name="(csrfmiddlewaretoken|confirmation_key)" value=")[^"]*', r"\1", text)
            text = re.sub(r"/book/(confirmed|manage|again)/[^/\"?]+", r"/book/\1/<T>", text)
            seen.append((response.status_code, text))
        return seen

    answers, owners = {}, {}
    for email in ("Known@Example.com", "unknown@example.com"):
        point = transaction.savepoint()
        answers[email] = flow(email)
        transaction.savepoint_rollback(point)
    assert [s for s, _ in answers["Known@Example.com"]] == [200, 302, 200, 302, 200]
    assert answers["Known@Example.com"] == answers["unknown@example.com"]
    assert earlier.reference not in "".join(t for _, t in answers["Known@Example.com"])
    assert owners["Known@Example.com"] == known.pk != owners["unknown@example.com"]


# --------------------------------------------------------------------------- health intake

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_allow_continues_and_stores_the_answers(client, anna):
    response = book_through_pages(client, at(TUESDAY, "10:00"))
    assert response.status_code == 302
    record = Appointment.objects.get().intake
    assert record.outcome == RuleOutcome.ALLOW and not record.flagged


def test_flag_continues_and_is_stored_for_the_therapist(client, anna):
    health_rule("blood_thinners", RuleOutcome.FLAG)
    details = {**DETAILS, "health_blood_thinners": "yes", "health_blood_thinners_details": "Apixaban"}
    response = book_through_pages(client, at(TUESDAY, "10:00"), details=details)
    assert response.status_code == 302
    record = Appointment.objects.get().intake
    assert record.outcome == RuleOutcome.FLAG and record.flags == ["blood_thinners"]
    assert record.answers["blood_thinners"]["details"] == "Apixaban"
    assert "booking_details" not in client.session  # the draft (answers and all) is gone


def test_first_trimester_is_asked_to_call_and_nothing_is_kept_or_booked(client, anna):
    health_rule("pregnancy", RuleOutcome.CALL, number_max=12)
    health_rule("pregnancy", RuleOutcome.FLAG, number_min=13)
    start = at(TUESDAY, "10:00")
    details = {**DETAILS, "health_pregnancy": "yes", "health_pregnancy_number": "9"}
    response = client.post(url("booking:details", start=start), details)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Please call us to book" in html and settings.CLINIC["phone"] in html
    assert "booking_details" not in client.session
    # The review cannot be reached, and a confirm sent anyway books nothing.
    assert client.get(url("booking:review", start=start)).status_code == 302
    client.post(url("booking:review", start=start))
    assert not Appointment.objects.exists()


def test_a_call_answer_smuggled_past_the_details_page_is_refused_by_the_service(client, anna):
    start = at(TUESDAY, "10:00")
    details = {**DETAILS, "health_illness_or_fever": "yes"}
    assert client.post(url("booking:details", start=start), details).status_code == 302
    # The rule arrives after the details were saved (or the page was skipped somehow).
    health_rule("illness_or_fever", RuleOutcome.CALL)
    response = client.post(url("booking:review", start=start))
    assert response.status_code == 400
    assert settings.CLINIC["phone"] in response.content.decode()
    assert not Appointment.objects.exists()


def test_second_trimester_is_flagged_and_books(client, anna):
    health_rule("pregnancy", RuleOutcome.CALL, number_max=12)
    health_rule("pregnancy", RuleOutcome.FLAG, number_min=13)
    details = {**DETAILS, "health_pregnancy": "yes", "health_pregnancy_number": "20"}
    assert book_through_pages(client, at(TUESDAY, "10:00"), details=details).status_code == 302
    assert Appointment.objects.get().intake.flags == ["pregnancy"]


def test_doctor_note_is_asked_for_then_uploaded_and_booked(client, anna, private_media):
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    start = at(TUESDAY, "10:00")
    first = client.post(url("booking:details", start=start), DETAILS)
    assert first.status_code == 200
    html = first.content.decode()
    assert "we need a note from your doctor" in html and 'name="doctor_note"' in html
    assert "Sprained left ankle in October" in html  # answers kept
    # Confirming without the note books nothing.
    assert client.post(url("booking:review", start=start)).status_code in (302, 400)
    assert not Appointment.objects.exists()
    upload = SimpleUploadedFile("scan.pdf", PDF, content_type="application/pdf")
    second = client.post(url("booking:details", start=start), {**DETAILS, "doctor_note": upload})
    assert second.status_code == 302, second.content.decode()[:1000]
    assert "Uploaded" in client.get(second["Location"]).content.decode()
    assert client.post(second["Location"]).status_code == 302
    appointment = Appointment.objects.get()
    note = DoctorNote.objects.get()
    assert note.appointment == appointment and note.content_type == "application/pdf"
    assert appointment.intake.outcome == RuleOutcome.DOCTOR_NOTE


@pytest.mark.parametrize(
    "upload, message",
    [
        (SimpleUploadedFile("scan.pdf", b"<html>not a pdf</html>"), "could not read this file"),
        (SimpleUploadedFile("scan.pdf", PDF + b"0" * (5 * 1024 * 1024)), "too large"),
    ],
)
def test_fake_or_oversized_doctor_note_gets_a_clear_message_and_keeps_the_answers(
    client, anna, private_media, upload, message
):
    health_rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE)
    start = at(TUESDAY, "10:00")
    response = client.post(url("booking:details", start=start), {**DETAILS, "doctor_note": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and "Sprained left ankle in October" in html and 'value="Olivia  Brown"' in html
    assert not DoctorNote.objects.exists() and not Appointment.objects.exists()


def test_returning_client_confirms_nothing_has_changed_through_the_signed_link(client, anna):
    health_rule("blood_thinners", RuleOutcome.FLAG)
    details = {**DETAILS, "health_blood_thinners": "yes", "health_blood_thinners_details": "Warfarin"}
    book_through_pages(client, at(TUESDAY, "10:00"), details=details)
    first = Appointment.objects.get()
    manage = client.get(reverse("booking:appointment-manage", args=[first.manage_token]))
    token = manage.context["rebook_token"]
    assert reverse("booking:book-again", args=[token]) in manage.content.decode()

    visitor = Client()  # a new session, as from the email days later
    assert visitor.get(reverse("booking:book-again", args=[token])).status_code == 302
    start = at(TUESDAY, "14:00")
    page = visitor.get(url("booking:details", start=start))
    html = page.content.decode()
    assert "Nothing has changed since my last visit" in html
    assert "Warfarin" in html and 'value="olivia@example.com"' in html
    response = visitor.post(
        url("booking:details", start=start),
        {"name": "Olivia Brown", "email": "olivia@example.com", "phone": "07700 900101",
         "health_unchanged": "on", "agree_policy": "on", "consent_name": "Olivia Brown"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["form"].errors
    assert visitor.post(response["Location"]).status_code == 302
    second = Appointment.objects.exclude(pk=first.pk).get()
    assert second.intake.unchanged_since == first.intake
    assert second.intake.answers == first.intake.answers and second.intake.flags == ["blood_thinners"]


def test_without_the_link_an_email_address_reveals_nothing(client, anna):
    book_through_pages(client, at(TUESDAY, "10:00"))
    stranger = Client()
    html = stranger.get(url("booking:details", start=at(TUESDAY, "14:00"))).content.decode()
    assert "Nothing has changed" not in html and "olivia@example.com" not in html


@pytest.mark.parametrize("token", ["nonsense", "eyJjbGllbnQiOjF9:1abc:def"])
def test_a_tampered_book_again_link_just_starts_afresh(client, anna, token):
    book_through_pages(Client(), at(TUESDAY, "10:00"))
    assert client.get(reverse("booking:book-again", args=[token])).status_code == 302
    assert (
        "Nothing has changed"
        not in client.get(url("booking:details", start=at(TUESDAY, "14:00"))).content.decode()
    )


def test_a_book_again_link_signed_for_something_else_is_refused(anna):
    from django.core import signing

    from booking import drafts

    forged = signing.dumps({"appointment": 1}, salt="booking.appointment-manage")
    assert drafts.rebook_appointment_id(forged) is None
    assert drafts.rebook_appointment_id(drafts.rebook_token(1)) == 1


def test_booking_with_someone_elses_address_never_offers_their_answers_back(client, anna):
    details = {**DETAILS, "health_blood_thinners": "yes", "health_blood_thinners_details": "Warfarin"}
    book_through_pages(client, at(TUESDAY, "10:00"), details=details)
    stranger = Client()
    confirmed = book_through_pages(stranger, at(TUESDAY, "14:00"))  # the same address, own answers
    token = stranger.get(confirmed["Location"]).context["rebook_token"]
    stranger.get(reverse("booking:book-again", args=[token]))
    html = stranger.get(url("booking:details", start=at(TUESDAY, "16:00"))).content.decode()
    assert "Nothing has changed since my last visit" in html
    assert "Warfarin" not in html


# --------------------------------------------------------------------------- consent (issue 11)


def test_details_page_shows_the_current_texts_and_asks_for_the_typed_name(client, anna):
    from booking.services import consent

    consent.policy_text_publish(kind="treatment_consent", body="Version two of the consent.", by=None)
    html = client.get(url("booking:details", start=at(TUESDAY, "10:00"))).content.decode()
    assert "Version two of the consent." in html
    assert "until 24 hours before it starts" in html  # the cancellation wording with the cutoff
    assert 'for="id_consent_name"' in html


def test_a_typed_name_other_than_the_clients_is_a_form_error(client, anna):
    response = client.post(
        url("booking:details", start=at(TUESDAY, "10:00")), {**DETAILS, "consent_name": "Someone Else"}
    )
    assert response.status_code == 200
    assert "Please type the same full name as above (Olivia Brown)." in response.content.decode()
    assert 'value="Someone Else"' in response.content.decode()  # kept as typed


def test_bookings_keep_the_versions_agreed_when_a_text_changes(client, anna):
    from booking.services import consent

    book_through_pages(client, at(TUESDAY, "10:00"))
    consent.policy_text_publish(kind="cancellation", body="New cancellation words.", by=None)
    consent.policy_text_publish(kind="treatment_consent", body="New consent words.", by=None)
    book_through_pages(client, at(TUESDAY, "14:00"))
    first, second = Appointment.objects.order_by("start")

    def agreed(appointment):
        return sorted((c.policy.kind, c.policy.version) for c in appointment.consents.all())

    assert agreed(first) == [("cancellation", 1), ("treatment_consent", 1)]
    assert agreed(second) == [("cancellation", 2), ("treatment_consent", 2)]
    assert first.client == second.client


def test_the_versions_recorded_are_those_current_when_the_client_agreed(client, anna):
    """The client agrees by sending the details form; wording published before they press
    "Confirm booking" is wording they never saw, so their booking records the versions
    current when they sent it."""
    from booking.services import consent

    start = at(TUESDAY, "10:00")
    client.post(url("booking:details", start=start), DETAILS)
    consent.policy_text_publish(kind="treatment_consent", body="Words they never saw.", by=None)
    assert client.post(url("booking:review", start=start)).status_code == 302
    booked = Appointment.objects.get()
    assert sorted((c.policy.kind, c.policy.version) for c in booked.consents.all()) == [
        ("cancellation", 1),
        ("treatment_consent", 1),
    ]


# --------------------------------------------------------------------------- sessions for two (issue 12)

GUEST = {
    "guest-name": "Noah  Green",
    "guest-email": "",
    "guest-phone": "",
    **{f"guest-{key}": value for key, value in HEALTH_NO.items()},
    "guest-health_skin": "yes",
    "guest-health_skin_details": "Eczema on the forearms",
    "guest-notes": "",
    "guest-agree_policy": "on",
    "guest-consent_name": "Noah Green",
}


@pytest.fixture
def couples(swedish, anna, ben):
    """Swedish offered for two; Anna (female) and Ben (male); one room for two and one
    single room."""
    from booking.choices import TherapistGender
    from booking.models import Room

    swedish.for_two = True
    swedish.save()
    anna.gender, ben.gender = TherapistGender.FEMALE, TherapistGender.MALE
    anna.save()
    ben.save()
    Room.objects.create(name="Willow", capacity=1, display_order=1)
    return Room.objects.create(name="Oak (for two)", capacity=2, display_order=2)


def pair_url(name: str, *, start: datetime | None = None, therapist="any", therapist2="any", **extra) -> str:
    return url(name, start=start, therapist=therapist, party=2, therapist2=therapist2, **extra)


def times_of(response) -> list[str]:
    return [t["start"].strftime("%H:%M") for g in response.context["groups"] for t in g["times"]]


def book_pair_through_pages(client, start, *, details=None, guest=None, **choice):
    response = client.post(pair_url("booking:details", start=start, **choice), {**DETAILS, **GUEST})
    assert response.status_code == 302, response.content.decode()[:3000]
    return client.post(response["Location"])


def test_a_technique_for_two_offers_for_one_or_for_two(client, couples):
    html = client.get(reverse("booking:technique-detail", args=["swedish"])).content.decode()
    assert 'id="party-1" value="1" checked' in html
    assert 'id="party-2" value="2"' in html and "For two" in html
    again = client.get(reverse("booking:technique-detail", args=["swedish"]), {"party": 2, "length": 60})
    assert 'value="2" aria-describedby="party-2-note" checked' in again.content.decode()


def test_a_technique_not_for_two_offers_no_choice_and_refuses_two(client, anna):
    html = client.get(reverse("booking:technique-detail", args=["swedish"])).content.decode()
    assert 'name="party"' not in html
    response = client.get(pair_url("booking:times"))
    assert response.status_code == 400
    assert "Swedish is not offered for two." in response.content.decode()


def test_times_for_two_need_two_therapists_and_the_room_for_two(client, couples, swedish, ben):
    # Ben is busy at 10:00: a single can still come then (with Anna), a pair cannot.
    book_directly(swedish, at(TUESDAY, "10:00"), ben)
    single = client.get(url("booking:times", day=TUESDAY.isoformat()))
    pair = client.get(pair_url("booking:times", day=TUESDAY.isoformat()))
    assert pair.status_code == 200
    assert "10:00" in times_of(single)
    assert "10:00" not in times_of(pair) and "09:00" not in times_of(pair)
    assert "14:00" in times_of(pair)
    html = pair.content.decode()
    assert "for two" in html and "two therapists and a room for two" in html
    # Each seat can be named, or left to any available, on the page itself.
    assert '<select class="form-select" id="seat-1" name="therapist">' in html
    assert '<select class="form-select" id="seat-2" name="therapist2">' in html
    # The times lead on with the whole choice.
    assert "party=2&amp;therapist2=any&amp;start=2026-11-24T14%3A00" in html


def test_times_for_two_when_the_room_for_two_is_taken(client, couples, swedish, anna):
    from booking.models import Room

    # A single in the room for two (the only free room then) keeps pairs out at 11:00.
    Room.objects.filter(capacity=1).update(active=False)
    book_directly(swedish, at(TUESDAY, "11:00"), anna)
    pair = client.get(pair_url("booking:times", day=TUESDAY.isoformat()))
    assert "11:00" not in times_of(pair)
    assert "14:00" in times_of(pair)


def test_one_therapist_for_both_seats_is_refused(client, couples):
    response = client.get(pair_url("booking:times", therapist="anna", therapist2="anna"))
    assert response.status_code == 400
    assert "One therapist cannot massage both of you" in response.content.decode()


@pytest.mark.parametrize("gender", ["nonsense", "<b>"])
def test_a_bad_gender_is_a_400(client, couples, gender):
    response = client.get(url("booking:times", gender=gender))
    assert response.status_code == 400
    assert "Choose no preference, a female or a male therapist." in response.content.decode()


def test_the_gender_asked_for_limits_any_available(client, couples, swedish, anna):
    book_directly(swedish, at(TUESDAY, "10:00"), anna)
    page = client.get(url("booking:times", day=TUESDAY.isoformat()))
    html = page.content.decode()
    assert 'id="gender-any" value="any" checked' in html  # no preference by default
    assert "A female therapist" in html and "A male therapist" in html
    assert "10:00" in times_of(page)  # Ben is free then
    female = client.get(url("booking:times", day=TUESDAY.isoformat(), gender="female"))
    assert 'id="gender-female" value="female" checked' in female.content.decode()
    assert "10:00" not in times_of(female) and "11:30" in times_of(female)
    # Booked through the pages, "any available female therapist" is Anna.
    assert (
        client.post(url("booking:details", start=at(TUESDAY, "14:00"), gender="female"), DETAILS).status_code
        == 302
    )
    assert client.post(url("booking:review", start=at(TUESDAY, "14:00"), gender="female")).status_code == 302
    assert Appointment.objects.get(client_email="olivia@example.com").therapist == anna


def test_a_known_clients_saved_preference_is_chosen_in_advance(client, couples):
    from booking import client_session
    from booking.choices import TherapistPreference
    from tests.factories import client_for

    record = client_for("Olivia Brown", "olivia@example.com")
    record.therapist_preference = TherapistPreference.MALE
    record.save()
    session = client.session
    session[client_session.SESSION_KEY] = record.pk
    session.save()
    html = client.get(url("booking:times")).content.decode()
    assert 'id="gender-male" value="male" checked' in html
    # Chosen otherwise on the page, that choice wins.
    html = client.get(url("booking:times", gender="any")).content.decode()
    assert 'id="gender-any" value="any" checked' in html


def test_details_for_two_ask_the_guests_name_and_own_health_answers(client, couples):
    response = client.get(pair_url("booking:details", start=at(TUESDAY, "14:00")))
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("guest-name", "guest-email", "guest-phone", "guest-health_pregnancy", "guest-agree_policy"):
        assert f'name="{field}"' in html, field
    assert 'for="id_guest-consent_name"' in html
    assert html.count('class="honeypot"') == 1
    assert "Your guest: any available therapist" in html


def test_details_for_two_with_errors_keep_what_was_typed_for_both(client, couples):
    typed = {**DETAILS, **GUEST, "guest-name": "", "guest-agree_policy": "", "guest-health_pregnancy": ""}
    response = client.post(pair_url("booking:details", start=at(TUESDAY, "14:00")), typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="Olivia  Brown"' in html  # the booker's, kept
    assert "Eczema on the forearms" in html  # the guest's, kept
    assert "Your guest needs to agree to the cancellation policy too." in html
    assert "Please check the 3 highlighted fields below." in html
    assert not Appointment.objects.exists()


def test_the_guest_types_their_own_name_for_the_consent(client, couples):
    typed = {**DETAILS, **GUEST, "guest-consent_name": "Olivia Brown"}
    response = client.post(pair_url("booking:details", start=at(TUESDAY, "14:00")), typed)
    assert response.status_code == 200
    assert "Please type the same full name as above (Noah Green)." in response.content.decode()


def test_a_guests_answer_that_needs_a_call_stops_the_pair(client, couples):
    health_rule("illness_or_fever", RuleOutcome.CALL)
    start = at(TUESDAY, "14:00")
    typed = {**DETAILS, **GUEST, "guest-health_illness_or_fever": "yes"}
    response = client.post(pair_url("booking:details", start=start), typed)
    assert "Please call us to book" in response.content.decode()
    assert "booking_details" not in client.session
    client.post(pair_url("booking:review", start=start))
    assert not Appointment.objects.exists()


def test_a_guests_doctor_note_is_asked_for_them(client, couples, private_media):
    health_rule("skin", RuleOutcome.DOCTOR_NOTE)
    start = at(TUESDAY, "14:00")
    first = client.post(pair_url("booking:details", start=start), {**DETAILS, **GUEST})
    html = first.content.decode()
    assert first.status_code == 200
    assert 'name="guest-doctor_note"' in html and 'name="doctor_note"' not in html
    upload = SimpleUploadedFile("scan.pdf", PDF, content_type="application/pdf")
    second = client.post(
        pair_url("booking:details", start=start), {**DETAILS, **GUEST, "guest-doctor_note": upload}
    )
    assert second.status_code == 302, second.content.decode()[:2000]
    assert client.post(second["Location"]).status_code == 302
    guest = Appointment.objects.get(seat=2)
    assert DoctorNote.objects.get().appointment == guest
    assert guest.intake.outcome == RuleOutcome.DOCTOR_NOTE


def test_booking_for_two_books_both_seats_and_shows_them(client, couples, anna, ben):
    start = at(TUESDAY, "14:00")
    response = client.post(pair_url("booking:details", start=start, therapist="ben"), {**DETAILS, **GUEST})
    assert response.status_code == 302
    review = client.get(response["Location"])
    html = review.content.decode()
    assert "Noah Green" in html
    assert "Eczema on the forearms" in html
    key = review.context["confirmation_key"]
    confirmed = client.post(response["Location"], {"confirmation_key": key})
    assert confirmed.status_code == 302
    first, second = Appointment.objects.order_by("seat")
    assert (first.seat, second.seat) == (1, 2)
    assert first.reference == second.reference and first.manage_token == second.manage_token
    assert first.therapist == ben and second.therapist == anna
    assert first.room == second.room == couples
    assert first.client_name == "Olivia Brown" and second.client_name == "Noah Green"
    assert second.intake.answers["skin"]["details"] == "Eczema on the forearms"
    assert first.client_id != second.client_id
    page = client.get(confirmed["Location"]).content.decode()
    assert "Your session for two" in page
    assert "Olivia Brown, with Ben Hall" in page and "Noah Green, with Anna Price" in page
    assert "Oak (for two)" in page
    # A double click, a retry, Back then Confirm: the same pair, booked once.
    again = client.post(response["Location"], {"confirmation_key": key})
    assert again["Location"] == confirmed["Location"]
    assert Appointment.objects.count() == 2
    assert "booking_details" not in client.session  # both guests' answers gone from the session


@pytest.fixture
def pair(client, couples):
    book_pair_through_pages(client, at(TUESDAY, "14:00"))
    return list(Appointment.objects.order_by("seat"))


def test_manage_page_shows_both_seats(client, pair):
    html = client.get(reverse("booking:appointment-manage", args=[pair[0].manage_token])).content.decode()
    assert "Your session for two" in html
    assert f"{pair[0].client_name}, with {pair[0].therapist.name}" in html
    assert f"{pair[1].client_name}, with {pair[1].therapist.name}" in html
    assert "£" in html and " each" in html


def test_cancelling_from_the_manage_link_cancels_both(client, pair):
    cancel = reverse("booking:appointment-cancel", args=[pair[0].manage_token])
    assert "Both places are cancelled together" in client.get(cancel).content.decode()
    response = client.post(cancel, follow=True)
    assert "for both of you, are cancelled" in response.content.decode()
    assert set(Appointment.objects.values_list("status", flat=True)) == {AppointmentStatus.CANCELLED}


def test_rescheduling_from_the_manage_link_moves_both(client, pair):
    token = pair[0].manage_token
    page = client.get(reverse("booking:appointment-reschedule", args=[token]), {"day": TUESDAY.isoformat()})
    assert page.status_code == 200
    assert "for two" in page.content.decode()
    times = {t["start"].strftime("%H:%M"): t["url"] for g in page.context["groups"] for t in g["times"]}
    # Its own time does not block a move that overlaps it; the pair keeps its therapists.
    assert times["14:00"] == "" and times["14:30"]
    confirm = client.get(times["16:00"])
    assert confirm.status_code == 200
    assert "Both move together." in confirm.content.decode()
    moved = client.post(times["16:00"])
    assert moved.status_code == 302
    starts = {a.start for a in Appointment.objects.all()}
    assert starts == {at(TUESDAY, "16:00").astimezone(UTC)}
    assert [a.therapist for a in Appointment.objects.order_by("seat")] == [p.therapist for p in pair]


@pytest.mark.parametrize("others", [0, 8])
def test_the_pages_for_two_run_a_fixed_number_of_queries(
    client, couples, swedish, django_assert_max_num_queries, others
):
    from booking.models import Room

    # The same counts with two therapists and one room for two as with ten, nine rooms and
    # sixteen more appointments in view.
    people = [TherapistFactory(techniques=[swedish]) for _ in range(others)]
    Room.objects.bulk_create(Room(name=f"Room {n}", display_order=10 + n) for n in range(others))
    for person in people:
        for hhmm in ("09:00", "11:00"):
            book_directly(swedish, at(TUESDAY, hhmm), person, notify=False)
    start = at(TUESDAY, "14:00")
    # The times page: 12, and the schedule version for its cache.
    with django_assert_max_num_queries(13):
        assert client.get(pair_url("booking:times")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(pair_url("booking:details", start=start)).status_code == 200
    # Sending both guests' details: the single's 9, and two more for the guest.
    with django_assert_max_num_queries(11):
        client.post(pair_url("booking:details", start=start), {**DETAILS, **GUEST})
    with django_assert_max_num_queries(12):
        assert client.get(pair_url("booking:review", start=start)).status_code == 200
    # Confirming: the single booking's (see above; the key, the cap, both guests' health
    # rules and the booker's client record in its one query), the rooms, and the second
    # seat's client record (a savepoint: a guest without an email), intake, consents and
    # insert (22 on SQLite; PostgreSQL's locks take more: the therapists and the rooms apart).
    with django_assert_max_num_queries(24):
        assert client.post(pair_url("booking:review", start=start)).status_code == 302
    token = Appointment.objects.get(seat=1, client_email="olivia@example.com").manage_token
    for name in ("booking:appointment-confirmed", "booking:appointment-manage", "booking:appointment-cancel"):
        with django_assert_max_num_queries(4):
            assert client.get(reverse(name, args=[token])).status_code == 200
    # The reschedule page: 11, and the schedule version for its cache.
    with django_assert_max_num_queries(12):
        assert client.get(reverse("booking:appointment-reschedule", args=[token])).status_code == 200


def test_back_after_booking_for_two_shows_the_pair(client, couples):
    start = at(TUESDAY, "14:00")
    book_pair_through_pages(client, start)
    token = Appointment.objects.get(seat=1).manage_token
    back = client.get(pair_url("booking:review", start=start), follow=True)
    assert back.redirect_chain[-1][0] == reverse("booking:appointment-confirmed", args=[token])
    assert "You have booked this appointment" in back.content.decode()
    assert Appointment.objects.count() == 2


def test_details_for_one_cannot_confirm_a_booking_for_two(client, couples):
    start = at(TUESDAY, "14:00")
    assert client.post(url("booking:details", start=start), DETAILS).status_code == 302
    # The address changed to "for two" after the details for one were saved: no guest yet.
    response = client.post(pair_url("booking:review", start=start))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("booking:details", args=["swedish"]))
    assert "party=2" in response["Location"]
    assert not Appointment.objects.exists()


def test_a_pair_whose_time_was_taken_keeps_both_guests_details(client, couples, swedish, anna):
    start = at(TUESDAY, "14:00")
    assert client.post(pair_url("booking:details", start=start), {**DETAILS, **GUEST}).status_code == 302
    book_directly(swedish, start, anna)  # one of the two therapists goes
    response = client.post(pair_url("booking:review", start=start))
    assert response.status_code == 409
    html = response.content.decode()
    assert "Noah Green" in html and "Eczema on the forearms" in html
    alternatives = [a["start"].strftime("%H:%M") for a in response.context["alternatives"]]
    assert alternatives and "14:00" not in alternatives
    assert "party=2" in response.context["alternatives"][0]["url"]
    assert Appointment.objects.count() == 1


def test_the_guest_cannot_give_the_bookers_own_email(client, couples):
    typed = {**DETAILS, **GUEST, "guest-email": "Olivia@Example.com"}
    response = client.post(pair_url("booking:details", start=at(TUESDAY, "14:00")), typed)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please give the second guest&#x27;s own email address, or leave it empty." in html
    assert 'value="Olivia@Example.com"' in html  # kept, to change
    assert "booking_details" not in client.session


def test_two_named_therapists_need_no_gender_choice(client, couples, swedish, anna):
    book_directly(swedish, at(TUESDAY, "10:00"), anna)
    page = client.get(pair_url("booking:times", therapist="anna", therapist2="ben", day=TUESDAY.isoformat()))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="gender"' not in html  # nobody is left to "any available"
    assert '<option value="anna" selected>Anna Price</option>' in html
    assert '<option value="ben" selected>Ben Hall</option>' in html
    assert "10:00" not in times_of(page) and "14:00" in times_of(page)
