"""System checks for settings that fail silently, and the default shared cache."""

import os

import pytest
from django.core.cache import caches

from clinic import checks

DATABASE_CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "clinic_cache"}


def test_https_proxy_without_a_trusted_proxy_count_is_a_deploy_warning(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXY_COUNT = 0
    assert [m.id for m in checks.check_trusted_proxy(None)] == ["clinic.W001"]
    settings.TRUSTED_PROXY_COUNT = 1
    assert checks.check_trusted_proxy(None) == []


def test_no_proxy_configured_is_not_warned_about(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.TRUSTED_PROXY_COUNT = 0
    assert checks.check_trusted_proxy(None) == []


def test_a_cache_in_each_process_is_a_deploy_warning(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert [m.id for m in checks.check_shared_cache(None)] == ["clinic.W002"]
    settings.CACHES = {"default": DATABASE_CACHE}
    assert checks.check_shared_cache(None) == []


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="REDIS_URL chooses Redis")
def test_the_default_cache_is_the_database_cache():
    import clinic.settings

    # The module's own value: the test run swaps in a memory cache for speed.
    assert clinic.settings.CACHES["default"] == DATABASE_CACHE


@pytest.mark.django_db
def test_migrations_make_the_database_cache_table(settings):
    # No separate createcachetable step: `migrate` made the table the test database uses.
    settings.CACHES = {"default": DATABASE_CACHE}
    cache = caches["default"]
    cache.set("greeting", "hello", 30)
    assert cache.get("greeting") == "hello"
