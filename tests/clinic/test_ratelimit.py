from django.test import RequestFactory

from clinic import ratelimit


def test_allows_the_limit_then_refuses_per_key():
    allowed = [ratelimit.allow(scope="t", key="a", limit=3, window_seconds=60) for _ in range(5)]
    assert allowed == [True, True, True, False, False]
    assert ratelimit.allow(scope="t", key="b", limit=3, window_seconds=60)
    assert ratelimit.allow(scope="other", key="a", limit=3, window_seconds=60)


def test_client_address_ignores_forwarded_for_unless_a_proxy_is_trusted(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5")
    settings.TRUSTED_PROXY_COUNT = 0
    assert ratelimit.client_address(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    # The entry our proxy added, not the one the client may have forged before it.
    assert ratelimit.client_address(request) == "203.0.113.5"
