import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import TherapistFactory

pytestmark = pytest.mark.django_db
API = "/book/api/availability/"


def next_weekday(weekday: int) -> datetime:
    """A date at least two days away that falls on the weekday (0 = Monday)."""
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=2)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def test_url_name():
    assert reverse("booking:availability-api") == API


def test_availability_lists_free_times_with_offsets_and_therapists(client, swedish):
    anna = TherapistFactory(name="Anna", slug="anna", techniques=[swedish])
    TherapistFactory(name="Ben", slug="ben", techniques=[swedish], hours={1: [("09:00", "12:00")]})
    tuesday = next_weekday(1)
    response = client.get(
        API, {"technique": "swedish", "length": 60, "start": tuesday.isoformat(), "days": 1}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["time_zone"] == "Europe/London"
    assert data["therapist"] == "any"
    [day] = data["days"]
    assert day["date"] == tuesday.isoformat()
    times = {t["start"][11:16]: t["therapists"] for t in day["times"]}
    assert times["09:00"] == ["anna", "ben"]
    assert times["11:00"] == ["anna", "ben"]
    assert times["11:15"] == ["anna"]  # Ben's morning ends at 12:00
    assert "17:00" in times and "17:15" not in times
    first = day["times"][0]["start"]
    assert datetime.fromisoformat(first).utcoffset() is not None
    # A booking removes its time and buffer, for that therapist only.
    appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=datetime.combine(tuesday, datetime.min.time(), tzinfo=LONDON).replace(hour=10),
        client=appointments.ClientDetails("A", "a@example.com", "1"),
        therapist=anna,
    )
    after = client.get(
        API,
        {"technique": "swedish", "length": 60, "therapist": "anna", "start": tuesday.isoformat(), "days": 1},
    )
    anna_times = [t["start"][11:16] for t in after.json()["days"][0]["times"]]
    # 09:00 would run into the 10:00 booking with its cleanup buffer; 11:15 is the first
    # start after the booking and its 15-minute buffer.
    assert "09:00" not in anna_times and "11:00" not in anna_times
    assert anna_times[0] == "11:15"


def test_every_requested_day_is_present_even_when_empty(client, swedish):
    TherapistFactory(techniques=[swedish])
    sunday = next_weekday(6)
    response = client.get(API, {"technique": "swedish", "length": 90, "start": sunday.isoformat(), "days": 3})
    days = response.json()["days"]
    assert [d["date"] for d in days] == [(sunday + timedelta(days=i)).isoformat() for i in range(3)]
    assert days[0]["times"] == [] and days[1]["times"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"length": 60}, "technique"),
        ({"technique": "nope", "length": 60}, "technique"),
        ({"technique": "swedish"}, "length"),
        ({"technique": "swedish", "length": "abc"}, "length"),
        ({"technique": "swedish", "length": 45}, "length"),
        ({"technique": "swedish", "length": 60, "therapist": "ghost"}, "therapist"),
        ({"technique": "swedish", "length": 60, "start": "2026-13-45"}, "start"),
        ({"technique": "swedish", "length": 60, "start": "yesterday"}, "start"),
        ({"technique": "swedish", "length": 60, "days": 0}, "days"),
        ({"technique": "swedish", "length": 60, "days": 32}, "days"),
        ({"technique": "swedish", "length": 60, "days": "many"}, "days"),
        ({"technique": "swedish" * 50, "length": 60}, "technique"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_parameter(client, swedish, params, field):
    TherapistFactory(techniques=[swedish])
    response = client.get(API, params)
    assert response.status_code == 400
    assert field in response.json()["error"]


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "1899-12-31", "2201-01-01"])
def test_dates_at_the_edge_of_the_calendar_are_a_json_400(client, swedish, start):
    TherapistFactory(techniques=[swedish])
    response = client.get(API, {"technique": "swedish", "length": 60, "start": start, "days": 31})
    assert response.status_code == 400
    assert response.json() == {"error": {"start": ["Choose a date between 1900 and 2200."]}}


def test_therapist_who_does_not_offer_the_technique_is_a_400(client, swedish):
    TherapistFactory(techniques=[swedish])
    TherapistFactory(slug="no-swedish")
    response = client.get(API, {"technique": "swedish", "length": 60, "therapist": "no-swedish"})
    assert response.status_code == 400 and "therapist" in response.json()["error"]


@pytest.mark.parametrize("therapists", [2, 20])
def test_api_runs_a_fixed_number_of_queries(client, swedish, django_assert_max_num_queries, therapists):
    team = [TherapistFactory(techniques=[swedish]) for _ in range(therapists)]
    length = swedish.lengths.get(duration_minutes=60)
    monday = next_weekday(0)
    for offset in range(3):
        for therapist in team:
            start = datetime.combine(monday + timedelta(days=offset), datetime.min.time(), tzinfo=LONDON)
            appointments.appointment_book(
                technique=swedish, length=length, start=start.replace(hour=9), therapist=therapist,
                client=appointments.ClientDetails("A", "a@example.com", "1"),
            )  # fmt: skip
    assert Appointment.objects.count() == therapists * 3
    with django_assert_max_num_queries(9):
        response = client.get(
            API, {"technique": "swedish", "length": 60, "start": monday.isoformat(), "days": 31}
        )
    assert response.status_code == 200


def test_technique_list_shows_active_techniques_with_prices(client, swedish, django_assert_max_num_queries):
    swedish.lengths.update(price="55.00")
    Technique = swedish.__class__
    inactive = Technique.objects.get(slug="shiatsu")
    TherapistFactory(techniques=[swedish, inactive, Technique.objects.get(slug="deep-tissue")])
    inactive.active = False
    inactive.save()
    with django_assert_max_num_queries(2):
        response = client.get(reverse("booking:technique-list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="technique-swedish"' in html and 'id="technique-deep-tissue"' in html
    assert 'id="technique-shiatsu"' not in html
    assert "£55.00" in html
    assert reverse("booking:technique-detail", args=["swedish"]) in html
    # Names keep their own case in buttons and titles.
    assert 'Book Swedish<span class="visually-hidden"> massage</span>' in html
    assert "Book Deep tissue<span" in html
    assert "<title>Book Swedish massage · " in client.get("/book/swedish/").content.decode()


def test_a_technique_nobody_can_give_is_not_offered_online(client, swedish):
    """Offered, but no therapist taking bookings offers it: it used to be listed (first)
    and led to a week of "No free times"."""
    Technique = swedish.__class__
    deep = Technique.objects.get(slug="deep-tissue")
    TherapistFactory(name="Away", techniques=[deep], active=False)  # not taking bookings
    TherapistFactory(name="Keiko", techniques=[swedish])
    html = client.get(reverse("booking:technique-list")).content.decode()
    assert 'id="technique-swedish"' in html
    assert 'id="technique-deep-tissue"' not in html and 'id="technique-shiatsu"' not in html
    assert client.get("/book/deep-tissue/").status_code == 404
    assert client.get("/book/deep-tissue/times/?length=60&therapist=any").status_code == 404
    response = client.get(API, {"technique": "deep-tissue", "length": 60})
    assert response.status_code == 400 and "technique" in response.json()["error"]
    # Offered by someone again: back online.
    TherapistFactory(techniques=[deep])
    assert client.get("/book/deep-tissue/").status_code == 200
    # ... but not without a length to book.
    swedish.lengths.all().delete()
    assert client.get("/book/swedish/").status_code == 404


def test_technique_detail_and_unknown_technique(client, swedish):
    TherapistFactory(name="Keiko", techniques=[swedish])
    response = client.get("/book/swedish/")
    assert response.status_code == 200 and "Keiko" in response.content.decode()
    assert client.get("/book/no-such-technique/").status_code == 404


def checked_length(html: str) -> list[str]:
    return re.findall(r'name="length" id="length-(\d+)" value="\d+" required checked', html)


def test_the_shortest_length_is_chosen_in_advance_unless_staff_mark_one(client, swedish):
    """It used to be the second (the longest and dearest of two)."""
    TherapistFactory(techniques=[swedish])
    assert checked_length(client.get("/book/swedish/").content.decode()) == ["60"]
    swedish.lengths.filter(duration_minutes=90).update(is_default=True)
    assert checked_length(client.get("/book/swedish/").content.decode()) == ["90"]
    # Coming back from a later step keeps the client's own choice; a length not offered
    # falls back to the marked one rather than leaving nothing chosen.
    assert checked_length(client.get("/book/swedish/?length=60").content.decode()) == ["60"]
    assert checked_length(client.get("/book/swedish/?length=45").content.decode()) == ["90"]


def test_one_length_at_most_is_chosen_in_advance_in_the_database(swedish):
    from django.db import IntegrityError, transaction

    swedish.lengths.filter(duration_minutes=60).update(is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        swedish.lengths.filter(duration_minutes=90).update(is_default=True)


@pytest.mark.parametrize(
    ("zone", "spring", "fall"),
    [("Europe/London", "2027-03-28", "2027-10-31"), ("America/New_York", "2027-03-14", "2027-11-07")],
)
def test_api_on_days_when_clocks_change(client, swedish, settings, zone, spring, fall):
    from booking.models import BookingPolicy

    settings.CLINIC_TIME_ZONE = zone
    policy = BookingPolicy.load()
    policy.horizon_days = 366
    policy.save()
    # Both change days are Sundays: a night shift from midnight to 04:00 wall-clock time.
    TherapistFactory(techniques=[swedish], hours={6: [("00:00", "04:00")]})
    params = {"technique": "swedish", "length": 60, "days": 1}

    spring_times = client.get(API, {**params, "start": spring}).json()["days"][0]["times"]
    starts = [datetime.fromisoformat(t["start"]) for t in spring_times]
    # 00:00-04:00 wall clock is only three real hours that night: starts 00:00 to 03:00
    # less the missing hour (02:00-03:00 in New York, 01:00-02:00 in London).
    assert all(s.hour != (2 if zone == "America/New_York" else 1) for s in starts)
    assert len(starts) == len(set(starts)) == (3 * 60 - 60) // 15 + 1
    assert all(b - a >= timedelta(minutes=15) for a, b in zip(starts, starts[1:], strict=False))

    fall_times = client.get(API, {**params, "start": fall}).json()["days"][0]["times"]
    starts = [datetime.fromisoformat(t["start"]) for t in fall_times]
    instants = [s.timestamp() for s in starts]
    # Five real hours that night; no instant twice, none overlapping in order.
    assert instants == sorted(set(instants))
    assert len(starts) == (5 * 60 - 60) // 15 + 1
    assert {s.utcoffset() for s in starts} == {
        datetime(2027, 7, 1, tzinfo=ZoneInfo(zone)).utcoffset(),
        datetime(2027, 1, 1, tzinfo=ZoneInfo(zone)).utcoffset(),
    }


def test_availability_for_two_and_by_gender(client, swedish):
    from booking.choices import TherapistGender
    from booking.models import Room

    swedish.for_two = True
    swedish.save()
    TherapistFactory(name="Anna", slug="anna", gender=TherapistGender.FEMALE, techniques=[swedish])
    TherapistFactory(
        name="Ben",
        slug="ben",
        gender=TherapistGender.MALE,
        techniques=[swedish],
        hours={1: [("09:00", "12:00")]},
    )
    Room.objects.create(name="Oak", capacity=2)
    tuesday = next_weekday(1)
    query = {"technique": "swedish", "length": 60, "start": tuesday.isoformat(), "days": 1}

    def times(**extra):
        response = client.get(API, {**query, **extra})
        assert response.status_code == 200, response.content
        return {t["start"][11:16]: t["therapists"] for t in response.json()["days"][0]["times"]}

    # For two: only while both work (Ben until 12:00), both named for the start.
    pair = times(party=2)
    assert "09:00" in pair and "11:00" in pair and "11:15" not in pair and "14:00" not in pair
    assert sorted(pair["09:00"]) == ["anna", "ben"]
    # A male therapist: Ben's morning only.
    male = times(gender="male")
    assert "11:00" in male and "14:00" not in male and male["09:00"] == ["ben"]
    assert client.get(API, {**query, "gender": "other"}).status_code == 400


def test_availability_for_two_of_a_technique_for_one_is_a_400(client, swedish):
    TherapistFactory(techniques=[swedish])
    response = client.get(API, {"technique": "swedish", "length": 60, "party": 2})
    assert response.status_code == 400
    assert "party" in response.json()["error"]
