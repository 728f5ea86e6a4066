"""The site's own address, for links that leave the site (emails, calendar files).

``SITE_URL`` says it in production. On a developer's machine it is usually unset, and
the address is whatever ``runserver`` was given: then the address of the request being
served is used (the middleware below remembers it for the length of the request), and
emails queued by that request carry it to the worker, which has no request of its own.
"""

from __future__ import annotations

from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import DisallowedHost

FALLBACK = "http://127.0.0.1:8000"

_request_base: ContextVar[str] = ContextVar("clinic_request_base_url", default="")


def request_base_url() -> str:
    """The scheme and host of the request being served ("" outside a request, or when
    ``SITE_URL`` is set and nothing needs it)."""
    return _request_base.get()


def base_url(stored: str = "") -> str:
    """Where links should point: ``SITE_URL``, else ``stored`` (the address saved with a
    queued email), else the current request's, else runserver's default address."""
    return settings.SITE_URL or stored or request_base_url() or FALLBACK


class RequestBaseUrlMiddleware:
    """Remember the request's own address while ``SITE_URL`` is unset (development)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SITE_URL:
            return self.get_response(request)
        try:
            base = f"{request.scheme}://{request.get_host()}"
        except DisallowedHost:
            return self.get_response(request)  # Django answers that host with its own 400
        token = _request_base.set(base)
        try:
            return self.get_response(request)
        finally:
            _request_base.reset(token)
