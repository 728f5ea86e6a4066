import logging

import pytest
from django.test import RequestFactory

from clinic import ratelimit
from clinic.models import RateLimitCounter
from tests.booking.test_concurrency import race


@pytest.mark.django_db
def test_allows_the_limit_then_refuses_per_key():
    allowed = [ratelimit.allow(scope="t", key="a", limit=3, window_seconds=60) for _ in range(5)]
    assert allowed == [True, True, True, False, False]
    assert ratelimit.allow(scope="t", key="b", limit=3, window_seconds=60)
    assert ratelimit.allow(scope="other", key="a", limit=3, window_seconds=60)


# Transactional: a request runs in autocommit, where a transaction of the purge's own
# would show as statements of its own.
@pytest.mark.django_db(transaction=True)
def test_counters_keep_no_address_in_the_clear_and_old_windows_are_dropped(
    monkeypatch, django_assert_num_queries
):
    ratelimit.allow(scope="t", key="203.0.113.5", limit=3, window_seconds=60)
    row = RateLimitCounter.objects.get()
    assert "203.0.113.5" not in row.key_hash and len(row.key_hash) == 64
    # An hour later the next window starts, and the finished one is deleted.
    later = ratelimit.time.time() + 3600
    monkeypatch.setattr(ratelimit.time, "time", lambda: later)
    monkeypatch.setattr(ratelimit.timezone, "now", lambda: row.expires_at + ratelimit.timedelta(seconds=3600))
    from django.db import connection

    # The purge costs one plain DELETE beside the count (on PostgreSQL, in the same
    # statement), not a transaction of its own: a booking's confirm stays at its 15.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert ratelimit.allow(scope="t", key="other", limit=3, window_seconds=60)
    assert list(RateLimitCounter.objects.values_list("count", flat=True)) == [1]
    assert RateLimitCounter.objects.get().pk != row.pk


@pytest.mark.django_db(transaction=True)
def test_simultaneous_attempts_are_all_counted():
    # The database cache's incr() reads then writes, so attempts at the same moment were
    # lost; the counter table's single upsert counts every one.
    outcomes = race([lambda: ratelimit.allow(scope="race", key="a", limit=5, window_seconds=3600)] * 12)
    assert sorted(outcomes, key=str) == [False] * 7 + [True] * 5, outcomes
    assert RateLimitCounter.objects.get().count == 12


def test_client_address_ignores_forwarded_for_unless_a_proxy_is_trusted(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5")
    settings.TRUSTED_PROXY_COUNT = 0
    assert ratelimit.client_address(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    # The entry our proxy added, not the one the client may have forged before it.
    assert ratelimit.client_address(request) == "203.0.113.5"


def test_forwarded_for_without_a_trusted_proxy_is_logged_once(settings, caplog, monkeypatch):
    monkeypatch.setattr(ratelimit, "_warned", set())
    settings.TRUSTED_PROXY_COUNT = 0
    proxied = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    with caplog.at_level(logging.WARNING, logger="clinic.ratelimit"):
        ratelimit.client_address(RequestFactory().get("/", REMOTE_ADDR="10.0.0.1"))
        assert caplog.records == []
        for _ in range(3):
            assert ratelimit.client_address(proxied) == "10.0.0.1"
    assert len(caplog.records) == 1
    assert "TRUSTED_PROXY_COUNT is 0" in caplog.records[0].getMessage()
    assert "203.0.113.5" not in caplog.records[0].getMessage()


def test_a_trusted_proxy_that_is_not_there_is_logged_once(settings, caplog, monkeypatch):
    monkeypatch.setattr(ratelimit, "_warned", set())
    settings.TRUSTED_PROXY_COUNT = 1
    direct = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7")
    with caplog.at_level(logging.WARNING, logger="clinic.ratelimit"):
        assert ratelimit.client_address(direct) == "198.51.100.7"
        assert ratelimit.client_address(direct) == "198.51.100.7"
    assert len(caplog.records) == 1
    assert "TRUSTED_PROXY_COUNT is 1" in caplog.records[0].getMessage()
