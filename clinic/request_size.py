"""Refuse a request body larger than any form of the site can need, before it is read.

Django limits the form fields it holds in memory (``DATA_UPLOAD_MAX_MEMORY_SIZE``), but an
uploaded file is received whole, to memory or a temporary file, before any form sees it:
a 2 GB "doctor's note" would be written to disk only to be refused for its size. The
declared length says it first, so the answer comes before a byte of the body is read:
413 with the site's page, which says the limit and what to do.

A web server in front should have the same limit (nginx ``client_max_body_size``); this
is the one that holds when gunicorn faces the clients itself, or the proxy's limit is
forgotten.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.template import loader


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # not a number: Django's own parsing answers 400 later
        if length > settings.MAX_REQUEST_BYTES:
            return too_large()
        return self.get_response(request)


def too_large() -> HttpResponse:
    # Rendered without the request, like the 400 page (clinic.views.bad_request): its
    # body is not to be touched, and the session and CSRF middleware have not run.
    html = loader.get_template("413.html").render(
        {"clinic": settings.CLINIC, "limit": settings.MAX_REQUEST_BYTES}
    )
    # No "Connection: close" of our own: a WSGI application may not set hop-by-hop
    # headers (the server decides what happens to the unread body and the connection).
    return HttpResponse(html, status=413)
