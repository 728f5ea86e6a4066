"""System checks for settings that fail silently: shown by `manage.py check --deploy`."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@checks.register(checks.Tags.security, deploy=True)
def check_trusted_proxy(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Behind an HTTPS proxy with TRUSTED_PROXY_COUNT=0 every client has the proxy's
    address, so the whole clinic shares one booking rate limit."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not settings.TRUSTED_PROXY_COUNT:
        return [
            checks.Warning(
                "BEHIND_HTTPS_PROXY is set but TRUSTED_PROXY_COUNT is 0: every client is seen "
                "with the proxy's address and shares one rate limit.",
                hint="Set TRUSTED_PROXY_COUNT to the number of reverse proxies in front of the "
                "site (1 for one nginx or Caddy).",
                id="clinic.W001",
            )
        ]
    return []


@checks.register(checks.Tags.caches, deploy=True)
def check_shared_cache(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A cache in each process's memory is not shared by the workers."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return [
            checks.Warning(
                f"The default cache ({backend.rsplit('.', 1)[-1]}) is not shared by the server's processes.",
                hint="Leave CACHES at its default (the database cache) or set REDIS_URL.",
                id="clinic.W002",
            )
        ]
    return []
