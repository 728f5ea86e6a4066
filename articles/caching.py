"""Whole-page caching of the public article pages for visitors.

Rendering an article page costs a few milliseconds of Python; serving a stored copy
costs almost nothing. The cache key carries a version of the content (the newest
change and the number of articles), so an edit in the admin makes every worker's
copy stale with no signals or invalidation, and the minute in the key lets scheduled
articles appear on time.

Reading that version from the database on every request was most of what a stored page
cost (a query, and on PostgreSQL Django's ``SELECT 1`` health check before it): the
article page ran at 60% of a trivial view's rate on PostgreSQL with Redis. So each
process reads it at most once every ``ARTICLE_PAGE_RECHECK_SECONDS`` (1) and serves its
own recent pages under it in between: a page served again is then no round trip at all,
and an edit, publication or unpublication committed by any process on any host is
shown by every process within that many seconds (``0``: at once, a query per request).
Stored pages are answered by a middleware near the top of the stack, with the headers
they were stored with, before the session, CSRF, messages and URL machinery run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils.http import urlencode

from clinic.recent import RecentValues

from .models import Article

# A stored page: the body and the headers the middleware inside ours gave it.
Page = tuple[bytes, tuple[tuple[str, str], ...]]

_VERSION_SQL = "SELECT MAX({updated}), COUNT(*) FROM {table}"


def content_version() -> str:
    """One query: changes whenever an article is added, edited (references and topics
    are edited on the article's page, which saves it) or removed. A topic renamed on its
    own shows within the cache timeout.

    Plain SQL rather than ``aggregate()``: building the ORM query cost more than running
    it."""
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


class PageStore:
    """This process's article pages: the content version as last read from the database
    (at most ``ARTICLE_PAGE_RECHECK_SECONDS`` old) and the recently served pages, under
    the same versioned keys as the shared cache.

    The version is read *before* a page is rendered, so a key never holds content older
    than its version: a process still on the old version for a moment may store a newer
    page under the old key, never an older page under the new one."""

    def __init__(self, *, size: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        # A few hundred pages of some tens of kilobytes: a few megabytes per process.
        self.pages = RecentValues(size=size)
        # One entry, (version, when it was read): a RecentValues so that tests empty it
        # with every other per-process store (clinic.recent.clear_all).
        self.memo = RecentValues(size=1)
        # Address path -> the query parameters its page is made from (one view each),
        # learnt when a page is stored, so the middleware can make the key itself.
        self.params = RecentValues(size=1024)
        self.clock = clock

    def version(self) -> str:
        now = self.clock()
        memo = self.memo.get("version")
        if memo is not None and now - memo[1] < settings.ARTICLE_PAGE_RECHECK_SECONDS:
            return memo[0]
        # The time is taken before the read: an edit committed after it is seen by the
        # read that follows at most ARTICLE_PAGE_RECHECK_SECONDS later.
        version = content_version()
        self.memo.put("version", (version, now))
        return version

    def get(self, key: str) -> Page | None:
        stored = self.pages.get(key)
        if stored is None:
            stored = cache.get(key)
            if stored is not None:
                self.pages.put(key, stored)
        return stored

    def put(self, key: str, page: Page, seconds: int) -> None:
        cache.set(key, page, seconds)
        self.pages.put(key, page)


# This process's store (gunicorn's workers are processes: one each).
store = PageStore()


def _minute() -> int:
    return int(time.time() // 60)


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


def _page_key(request, params: tuple[str, ...]) -> str:
    # The minute is part of the key so scheduled articles go live within a minute.
    address = hashlib.sha256(_page_address(request, params).encode()).hexdigest()
    # "articlepage", not the old "page": those entries held the body alone.
    return f"articlepage:{store.version()}:{_minute()}:{address}"


def _stored_response(stored: Page) -> HttpResponse:
    content, headers = stored
    return HttpResponse(content, headers=dict(headers))


def cache_for_visitors(view, *, params: tuple[str, ...] = ()):
    """Serve visitors a stored copy of the page while the content is unchanged.

    ``params`` names the query parameters the page is made from; the copy is kept per
    combination of their values, and any other parameter shares it. A page rendered here
    is stored by :class:`ArticlePageCacheMiddleware` on its way out, with the headers the
    inner middleware gave it; later requests for it are answered by that middleware."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        seconds = settings.ARTICLE_PAGE_CACHE_SECONDS
        if not seconds or not _cacheable(request):
            return view(request, *args, **kwargs)
        key = _page_key(request, params)
        # Stored by another process (or before this one learnt the address): serve it.
        stored = store.get(key)
        if stored is not None:
            return _stored_response(stored)
        response = view(request, *args, **kwargs)
        if hasattr(response, "render"):
            response.render()
        response.article_page = (key, params)
        return response

    return wrapper


class ArticlePageCacheMiddleware:
    """Answer a visitor's request for a stored article page before the rest of the
    middleware and the URL resolver run: they would only add the headers already stored
    with the page (``X-Frame-Options``, ``Content-Length``, ``Vary``). It sits after the
    security, CSP and Permissions-Policy middleware, so those headers are still made for
    every response, and before everything that reads sessions or cookies, which a
    visitor without them does not need.

    A page is stored on its way out, once the article view marked it (``article_page``)
    and it answered 200 with no cookie set: drafts, scheduled articles (404 for visitors)
    and anything personal never are. This process learns from it which query parameters
    that address's page is made from, so later requests compute the same key here."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        seconds = settings.ARTICLE_PAGE_CACHE_SECONDS
        if not seconds or not _cacheable(request):
            return self.get_response(request)
        params = store.params.get(request.path)
        if params is not None:
            stored = store.get(_page_key(request, params))
            if stored is not None:
                return _stored_response(stored)
        response = self.get_response(request)
        marked = getattr(response, "article_page", None)
        if marked is not None and response.status_code == 200 and not response.cookies:
            key, params = marked
            store.put(key, (response.content, tuple(response.items())), seconds)
            store.params.put(request.path, params)
        return response
