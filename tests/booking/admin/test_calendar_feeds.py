"""The calendar feed page in the staff site (booking.admin.calendar_feeds): a therapist
makes, replaces and stops their own link; managers see and stop everyone's; nobody else."""

import re

import pytest
from django.urls import reverse

from booking import roles
from booking.models import CalendarFeed
from booking.services import calendar_feeds
from tests.factories import StaffFactory, TherapistFactory, user_in_role

pytestmark = pytest.mark.django_db

URL = "/admin/booking/calendar-feed/"
FEED_LINK = re.compile(r"https://clinic\.example(/book/calendar/[A-Za-z0-9_-]{43}\.ics)")


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://clinic.example"


@pytest.fixture
def amara():
    therapist = TherapistFactory(name="Amara Osei")
    user_in_role(roles.THERAPIST, "amara", therapist=therapist)
    return therapist


@pytest.fixture
def ben():
    therapist = TherapistFactory(name="Ben Hale")
    user_in_role(roles.THERAPIST, "ben", therapist=therapist)
    return therapist


def _make(client) -> str:
    """Press "Make my calendar link"; the feed's path as shown on the page."""
    response = client.post(URL, {"action": "make"})
    assert response.status_code == 200
    match = FEED_LINK.search(response.content.decode())
    assert match
    return match.group(1)


def test_the_address_is_named_in_the_admin():
    assert reverse("admin:booking_calendar_feed") == URL


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post(URL, {"action": "make"}).status_code == 302
    assert not CalendarFeed.objects.exists()


def test_reception_and_unlinked_staff_are_refused(client, amara):
    for user in (
        user_in_role(roles.RECEPTION, "desk"),
        user_in_role(roles.THERAPIST, "newcomer"),  # no therapist linked to the account
        StaffFactory(username="nobody", is_superuser=False),
    ):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"action": "make"}).status_code == 403
    assert not CalendarFeed.objects.exists()


def test_a_therapist_makes_a_link_shown_once_that_works(client, amara):
    client.force_login(amara.user)
    page = client.get(URL)
    assert page.status_code == 200
    assert "Make my calendar link" in page.content.decode()

    response = client.post(URL, {"action": "make"})
    body = response.content.decode()
    path = FEED_LINK.search(body).group(1)
    assert f'href="webcal://clinic.example{path}"' in body
    assert "Add to my phone&#x27;s calendar" in body or "Add to my phone's calendar" in body
    assert "iPhone" in body and "Android" in body
    assert "no-store" in response["Cache-Control"]
    secret = path.removeprefix("/book/calendar/").removesuffix(".ics")
    # Not kept anywhere: neither in the session for a later page nor in the table.
    assert secret not in str(dict(client.session))
    feed = CalendarFeed.objects.get(therapist=amara, revoked_at__isnull=True)
    assert secret not in feed.token_hash
    assert client.get(path).status_code == 200

    # The page afterwards says a link exists, without showing it again.
    later = client.get(URL).content.decode()
    assert "You have a calendar link" in later and secret not in later and "webcal://" not in later


def test_a_new_link_replaces_the_old_one(client, amara):
    client.force_login(amara.user)
    old = _make(client)
    new = _make(client)
    assert old != new
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert CalendarFeed.objects.filter(therapist=amara, revoked_at__isnull=True).count() == 1


def test_a_therapist_stops_their_own_link(client, amara):
    client.force_login(amara.user)
    path = _make(client)
    feed = CalendarFeed.objects.get(therapist=amara, revoked_at__isnull=True)
    response = client.post(URL, {"action": "stop", "feed": feed.pk}, follow=True)
    assert response.status_code == 200
    assert "is stopped" in response.content.decode()
    assert client.get(path).status_code == 404
    feed.refresh_from_db()
    assert feed.revoked_by == amara.user
    # Pressing it again (another tab) says so.
    again = client.post(URL, {"action": "stop", "feed": feed.pk}, follow=True)
    assert "already stopped" in again.content.decode()


def test_a_therapist_cannot_stop_or_see_another_therapists_link(client, amara, ben):
    bens, _secret = calendar_feeds.calendar_feed_create(therapist=ben, by=ben.user)
    client.force_login(amara.user)
    assert "Ben Hale" not in client.get(URL).content.decode()
    assert client.post(URL, {"action": "stop", "feed": bens.pk}).status_code == 404
    bens.refresh_from_db()
    assert bens.live


@pytest.mark.parametrize("tampered", ["", "abc", "-1", "1.5", "99999999999999999999", "1\x00", "٣"])
def test_tampered_feed_ids_are_404(client, amara, tampered):
    client.force_login(amara.user)
    _make(client)
    assert client.post(URL, {"action": "stop", "feed": tampered}).status_code == 404
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1


def test_an_unknown_action_changes_nothing(client, amara):
    client.force_login(amara.user)
    response = client.post(URL, {"action": "delete-everything"}, follow=True)
    assert response.status_code == 200 and "Nothing was changed" in response.content.decode()
    assert not CalendarFeed.objects.exists()


def test_a_manager_sees_live_links_and_stops_one(client, amara, ben, django_assert_max_num_queries):
    calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    _bens, ben_secret = calendar_feeds.calendar_feed_create(therapist=ben, by=ben.user)
    for n in range(10):
        other = TherapistFactory(name=f"Extra {n}")
        user_in_role(roles.THERAPIST, f"extra{n}", therapist=other)
        calendar_feeds.calendar_feed_create(therapist=other, by=other.user)
    manager = user_in_role(roles.MANAGER, "boss")
    client.force_login(manager)
    with django_assert_max_num_queries(15):
        page = client.get(URL)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Amara Osei" in body and "Ben Hale" in body and "Extra 9" in body
    # A manager without a therapist of their own has no link to make.
    assert "Make my calendar link" not in body
    assert client.post(URL, {"action": "make"}).status_code == 403

    response = client.post(URL, {"action": "stop", "feed": _bens.pk}, follow=True)
    assert "Ben Hale is stopped" in response.content.decode()
    assert client.get(reverse("booking:therapist_calendar", args=[ben_secret])).status_code == 404
    assert "Ben Hale" not in client.get(URL).content.decode()


def test_the_page_is_in_the_booking_menu_for_therapists_and_managers(client, amara):
    client.force_login(amara.user)
    assert URL in client.get(reverse("admin:index")).content.decode()
    client.force_login(user_in_role(roles.RECEPTION, "desk"))
    assert URL not in client.get(reverse("admin:index")).content.decode()
