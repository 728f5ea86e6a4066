"""booking.services.signin: the clients' email links (issue 14)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django_tasks_db.models import DBTaskResult

from booking.models import Client, ClientLink
from booking.services import signin
from tests.conftest import LONDON
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=LONDON).astimezone(UTC)
BROWSER = "b" * 32


def sign_in_link(client: Client, *, browser: str = BROWSER, now=NOW) -> ClientLink:
    link = signin.signin_link_request(email=client.email, browser_key=browser, now=now)
    # What the task does on finding the client.
    ClientLink.objects.filter(pk=link.pk).update(client=client, email="")
    return ClientLink.objects.get(pk=link.pk)


def test_asking_queues_one_email_task_and_keeps_only_a_hash_of_the_browser(db):
    link = signin.signin_link_request(email=" Someone@Example.com", browser_key=BROWSER, now=NOW)
    assert link.email == "someone@example.com"
    assert link.client is None
    assert BROWSER not in link.browser_hash and len(link.browser_hash) == 64
    assert link.expires_at == NOW + timedelta(minutes=15)
    assert DBTaskResult.objects.get().args_kwargs["kwargs"] == {"link_id": link.pk}


def test_a_link_signs_in_once(db):
    client = ClientFactory()
    token = signin.link_token(sign_in_link(client))
    assert signin.signin_link_use(token=token, browser_key=BROWSER, now=NOW) == (client, None)
    assert signin.signin_link_use(token=token, browser_key=BROWSER, now=NOW) == (
        None,
        signin.LinkProblem.USED,
    )


def test_a_link_works_for_its_minutes_only(db, settings):
    settings.CLIENT_LINK_MINUTES = 15
    token = signin.link_token(sign_in_link(ClientFactory()))
    late = NOW + timedelta(minutes=15)
    assert signin.signin_link_use(token=token, browser_key=BROWSER, now=late) == (
        None,
        signin.LinkProblem.EXPIRED,
    )


def test_another_browser_is_refused_without_using_the_link_up(db):
    client = ClientFactory()
    token = signin.link_token(sign_in_link(client))
    for other in ("", "c" * 32):
        assert signin.signin_link_use(token=token, browser_key=other, now=NOW) == (
            None,
            signin.LinkProblem.OTHER_BROWSER,
        )
    assert signin.signin_link_use(token=token, browser_key=BROWSER, now=NOW) == (client, None)


def test_tampered_foreign_and_wrong_purpose_tokens_are_invalid(db):
    client = ClientFactory()
    link = sign_in_link(client)
    token = signin.link_token(link)
    erase = signin.link_token(signin.erase_link_request(client=client, now=NOW))
    link.secret = "not-the-secret"
    for bad in (
        token[:-2] + "xx",
        "junk",
        ":" * 20,
        signin.link_token(link),
        erase,
        "99999999999999999999.a:b",
    ):
        assert (
            signin.signin_link_use(token=bad, browser_key=BROWSER, now=NOW)[1] == signin.LinkProblem.INVALID
        )


def test_a_link_of_an_erased_or_merged_client_signs_nobody_in(db):
    client = ClientFactory()
    token = signin.link_token(sign_in_link(client))
    Client.objects.filter(pk=client.pk).update(erased_at=NOW)
    assert signin.signin_link_use(token=token, browser_key=BROWSER, now=NOW)[1] == signin.LinkProblem.INVALID


def test_erasing_by_link_is_refused_while_visits_are_ahead_and_the_link_kept(db, anna_visit):
    client = anna_visit.client
    token = signin.link_token(signin.erase_link_request(client=client, now=NOW))
    with pytest.raises(ValidationError) as info:
        signin.erase_link_use(token=token, now=NOW)
    assert info.value.code == "upcoming"
    assert ClientLink.objects.get(purpose="erase").used_at is None
    anna_visit.status = "cancelled"
    anna_visit.save()
    erased = signin.erase_link_use(token=token, now=NOW)
    assert erased.pk == client.pk
    client.refresh_from_db()
    assert client.erased_at is not None
    with pytest.raises(ValidationError):
        signin.erase_link_use(token=token, now=NOW)


def test_old_links_are_purged_with_the_addresses_typed(db):
    signin.signin_link_request(email="someone@example.com", browser_key=BROWSER, now=NOW)
    assert signin.links_purge(now=NOW + timedelta(hours=2)) == 0
    assert signin.links_purge(now=NOW + timedelta(days=2)) == 1
    assert not ClientLink.objects.exists()


@pytest.fixture
def anna_visit(swedish):
    from tests.factories import TherapistFactory, appointment_row

    anna = TherapistFactory(techniques=[swedish])
    return appointment_row(anna, swedish, datetime(2027, 1, 5, 10, 0, tzinfo=LONDON))


@pytest.mark.django_db(transaction=True)
def test_a_link_opened_ten_times_at_once_signs_in_once():
    from tests.booking.test_concurrency import race

    client = ClientFactory()
    link = signin.signin_link_request(email=client.email, browser_key=BROWSER)
    ClientLink.objects.filter(pk=link.pk).update(client=client, email="")
    token = signin.link_token(link)
    outcomes = race([lambda: signin.signin_link_use(token=token, browser_key=BROWSER)] * 10)
    assert sorted(str(problem) for _client, problem in outcomes) == ["None"] + ["used"] * 9
