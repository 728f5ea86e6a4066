"""Writes for therapists' calendar feeds (issue 15): make a link, stop one, note its use.

The link's secret is made here, handed back once, and only its hash is stored, so the
table (or a copy of the database) opens no feed. Who may do what: a therapist makes and
stops the link to their own appointments; a manager may stop anyone's.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import CalendarFeed, Therapist, calendar_feed_hash

SECRET_BYTES = 32  # 43 characters in the address (selectors.FEED_SECRET_SHAPE)
# last_used_at is a rough "still in use?" for staff, not a log: one write an hour at most.
TOUCH_EVERY = timedelta(hours=1)


def _own(user, therapist: Therapist) -> bool:
    return user.is_active and therapist.user_id is not None and therapist.user_id == user.pk


def may_make(user, therapist: Therapist) -> bool:
    """The link is shown only to the therapist it belongs to: nobody makes one for another."""
    return _own(user, therapist) and user.has_perm("booking.add_calendarfeed")


def may_revoke(user, feed: CalendarFeed) -> bool:
    return user.has_perm("booking.change_calendarfeed") or may_make(user, feed.therapist)


@transaction.atomic
def calendar_feed_create(*, therapist: Therapist, by) -> tuple[CalendarFeed, str]:
    """A new link for ``therapist``'s calendar, replacing (stopping) any live one.
    Returns the feed and its secret, which is never stored and cannot be shown again."""
    if not may_make(by, therapist):
        raise PermissionDenied
    # Two clicks at once queue here, so the second replaces the first rather than
    # failing on the one-live-link constraint.
    list(Therapist.objects.select_for_update().filter(pk=therapist.pk).values_list("pk", flat=True))
    now = timezone.now()
    CalendarFeed.objects.filter(therapist=therapist, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=by
    )
    secret = secrets.token_urlsafe(SECRET_BYTES)
    feed = CalendarFeed.objects.create(
        therapist=therapist, token_hash=calendar_feed_hash(secret), created_by=by
    )
    return feed, secret


def calendar_feed_revoke(*, feed: CalendarFeed, by) -> bool:
    """Stop the link: from now on its address is a 404. False if it was already stopped."""
    if not may_revoke(by, feed):
        raise PermissionDenied
    now = timezone.now()
    stopped = CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=by
    )
    if stopped:
        feed.revoked_at, feed.revoked_by = now, by
    return bool(stopped)


def calendar_feed_touch(*, feed: CalendarFeed, now: datetime) -> None:
    """Note that a calendar read the feed, at most once an hour (no write on most reads;
    the condition keeps simultaneous reads from writing twice)."""
    if feed.last_used_at is not None and now - feed.last_used_at < TOUCH_EVERY:
        return
    CalendarFeed.objects.filter(pk=feed.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_EVERY)
    ).update(last_used_at=now)
    feed.last_used_at = now
