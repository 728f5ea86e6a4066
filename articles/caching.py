"""Whole-page caching of the public article pages for visitors.

Rendering an article page costs a few milliseconds of Python; serving a stored copy
costs almost nothing. The cache key carries a version of the content (the newest
change and the number of articles), so an edit in the admin makes every worker's
copy stale at once with no signals or invalidation, and a short timeout lets
scheduled articles appear on time.
"""

from __future__ import annotations

import hashlib
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import urlencode

from clinic.recent import RecentValues

from .models import Article

_VERSION_SQL = "SELECT MAX({updated}), COUNT(*) FROM {table}"


def content_version() -> str:
    """One query: changes whenever an article is added, edited (references and topics
    are edited on the article's page, which saves it) or removed. A topic renamed on its
    own shows within the cache timeout.

    Plain SQL rather than ``aggregate()``: building the ORM query cost more than running
    it, and this runs on every cached page served (it was two thirds of a cached hit)."""
    sql = _VERSION_SQL.format(
        updated=connection.ops.quote_name(Article._meta.get_field("updated_at").column),
        table=connection.ops.quote_name(Article._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        changed, count = cursor.fetchone()
    # The raw value (a datetime, or SQLite's text): only equality matters in a key,
    # which must hold no spaces.
    return f"{changed}-{count}".replace(" ", "_")


# This process's most recently served pages, in front of the shared cache, under the
# same versioned keys (see clinic/recent.py). A few hundred pages of some tens of
# kilobytes: a few megabytes per process at most.
recent_pages = RecentValues(size=256)


def _cacheable(request) -> bool:
    # Staff (anyone with a session) see drafts and their own edits; messages belong to
    # one person; searches are too varied to be worth keeping.
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
        and not request.GET.get("q")
    )


def _page_address(request, params: tuple[str, ...]) -> str:
    # Only what the page is made from: tracking tags (?utm_source=...) and other
    # parameters the page ignores would otherwise store one copy per value.
    used = [(name, request.GET.get(name, "")) for name in params if request.GET.get(name)]
    return f"{request.scheme}://{request.get_host()}{request.path}?{urlencode(used)}"


def cache_for_visitors(view, *, params: tuple[str, ...] = ()):
    """Serve visitors a stored copy of the page while the content is unchanged.

    ``params`` names the query parameters the page is made from; the copy is kept per
    combination of their values, and any other parameter shares it."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        seconds = settings.ARTICLE_PAGE_CACHE_SECONDS
        if not seconds or not _cacheable(request):
            return view(request, *args, **kwargs)
        # The minute is part of the key so scheduled articles go live within a minute.
        minute = int(timezone.now().timestamp() // 60)
        address = hashlib.sha256(_page_address(request, params).encode()).hexdigest()
        key = f"page:{content_version()}:{minute}:{address}"
        stored = recent_pages.get(key)
        if stored is None:
            stored = cache.get(key)
            if stored is not None:
                recent_pages.put(key, stored)
        if stored is not None:
            content, content_type = stored
            return HttpResponse(content, content_type=content_type)
        response = view(request, *args, **kwargs)
        if hasattr(response, "render"):
            response.render()
        if response.status_code == 200 and not response.cookies:
            page = (response.content, response["Content-Type"])
            cache.set(key, page, seconds)
            recent_pages.put(key, page)
        return response

    return wrapper
