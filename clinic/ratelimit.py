"""A small fixed-window rate limit, counted in a table of its own (clinic.models)."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from .models import RateLimitCounter

logger = logging.getLogger(__name__)

# Each misconfiguration is logged once per process, not on every request.
_warned: set[str] = set()
# The window (per window length) this process last dropped finished windows in.
_purged: dict[int, int] = {}


def _warn_once(code: str, message: str) -> None:
    if code not in _warned:
        _warned.add(code)
        logger.warning(message)


def client_address(request: HttpRequest) -> str:
    """The client's IP address. Behind ``TRUSTED_PROXY_COUNT`` proxies, the entry the
    outermost trusted proxy appended to X-Forwarded-For (entries before it are whatever
    the client chose to send, so they are never trusted)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies:
        forwarded = [part.strip() for part in header.split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
        _warn_once(
            "too-few-forwarded",
            f"TRUSTED_PROXY_COUNT is {proxies} but a request came with {len(forwarded)} "
            "X-Forwarded-For entries: is the proxy really in front of every request? "
            "Using the connection's address.",
        )
    elif header:
        # Behind a proxy with the default setting every client has the proxy's address,
        # so the whole clinic would share one rate limit.
        _warn_once(
            "untrusted-forwarded",
            "Requests arrive with X-Forwarded-For but TRUSTED_PROXY_COUNT is 0, so every "
            "client behind the proxy shares one rate limit. Set TRUSTED_PROXY_COUNT to the "
            "number of reverse proxies in front of the site (see README, Configuration).",
        )
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def allow(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt for ``key``; False once it has made more than ``limit`` in the
    current window. Shared by every server process, and exact under concurrency."""
    window_index = int(time.time() // window_seconds)
    key_hash = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()
    now = timezone.now()
    table = connection.ops.quote_name(RateLimitCounter._meta.db_table)
    # One statement creates or increments the row and returns the new count, so two
    # attempts at the same moment never both read the same count.
    upsert = (
        f"INSERT INTO {table} (key_hash, window_index, count, expires_at) VALUES (%s, %s, 1, %s) "
        f"ON CONFLICT (key_hash, window_index) DO UPDATE SET count = {table}.count + 1 "
        "RETURNING count"
    )
    params = [
        key_hash,
        window_index,
        connection.ops.adapt_datetimefield_value(now + timedelta(seconds=window_seconds)),
    ]
    # The first attempt this process sees in a new window drops the windows that are
    # over (once per window in each process is enough, so a new visitor's first request
    # does not usually pay for it). PostgreSQL does it in the same statement (a DELETE in
    # a WITH: the rows it removes are past windows, never the one counted here).
    purge = _purged.get(window_seconds) != window_index
    if purge:
        _purged[window_seconds] = window_index
    together = purge and connection.vendor == "postgresql"
    if together:
        upsert = f"WITH purged AS (DELETE FROM {table} WHERE expires_at < %s) {upsert}"
        params.insert(0, connection.ops.adapt_datetimefield_value(now))
    with connection.cursor() as cursor:
        cursor.execute(upsert, params)
        count = cursor.fetchone()[0]
        if purge and not together:
            # One plain statement: the ORM's delete() wraps even a single DELETE in a
            # transaction of its own (three statements on SQLite, whose BEGIN IMMEDIATE
            # also waits for the write lock).
            cursor.execute(
                f"DELETE FROM {table} WHERE expires_at < %s", [connection.ops.adapt_datetimefield_value(now)]
            )
    return count <= limit
