"""Therapists' calendar feeds: making, replacing and stopping links (booking.services.calendar_feeds)."""

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from booking import roles
from booking.models import CalendarFeed
from booking.services import calendar_feeds
from tests.factories import TherapistFactory, user_in_role


@pytest.fixture
def amara(db):
    therapist = TherapistFactory(name="Amara Osei")
    user_in_role(roles.THERAPIST, "amara", therapist=therapist)
    return therapist


@pytest.fixture
def ben(db):
    therapist = TherapistFactory(name="Ben Hale")
    user_in_role(roles.THERAPIST, "ben", therapist=therapist)
    return therapist


def test_create_stores_only_the_hash_of_the_secret(amara):
    feed, secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    assert len(secret) == 43
    feed.refresh_from_db()
    assert feed.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert feed.live and feed.created_by == amara.user and feed.therapist == amara
    # The secret is in no column of the row.
    row = CalendarFeed.objects.filter(pk=feed.pk).values().get()
    assert all(secret not in str(value) for value in row.values())


def test_a_new_link_replaces_the_live_one(amara):
    first, first_secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    second, second_secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    first.refresh_from_db()
    assert first.revoked_at is not None and first.revoked_by == amara.user
    assert second.live and first_secret != second_secret
    assert list(CalendarFeed.objects.filter(revoked_at__isnull=True)) == [second]


def test_the_database_allows_one_live_link_per_therapist(amara, ben):
    calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    calendar_feeds.calendar_feed_create(therapist=ben, by=ben.user)
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeed.objects.create(therapist=amara, token_hash="0" * 64)
    # A stopped link beside the live one is fine.
    CalendarFeed.objects.create(therapist=amara, token_hash="1" * 64, revoked_at=timezone.now())


def test_nobody_makes_a_link_for_another_therapist(amara, ben):
    manager = user_in_role(roles.MANAGER, "manager")
    reception = user_in_role(roles.RECEPTION, "reception")
    for user in (ben.user, manager, reception):
        with pytest.raises(PermissionDenied):
            calendar_feeds.calendar_feed_create(therapist=amara, by=user)
    assert not CalendarFeed.objects.exists()


def test_a_switched_off_account_makes_no_link(amara):
    amara.user.is_active = False
    amara.user.save()
    with pytest.raises(PermissionDenied):
        calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)


def test_a_therapist_stops_their_own_link_a_manager_anyones(amara, ben):
    manager = user_in_role(roles.MANAGER, "manager")
    own, _secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    assert calendar_feeds.calendar_feed_revoke(feed=own, by=amara.user) is True
    assert own.revoked_by == amara.user and not own.live
    # Stopping it again changes nothing.
    assert calendar_feeds.calendar_feed_revoke(feed=own, by=amara.user) is False

    bens, _secret = calendar_feeds.calendar_feed_create(therapist=ben, by=ben.user)
    with pytest.raises(PermissionDenied):
        calendar_feeds.calendar_feed_revoke(feed=bens, by=amara.user)
    with pytest.raises(PermissionDenied):
        calendar_feeds.calendar_feed_revoke(feed=bens, by=user_in_role(roles.RECEPTION, "reception"))
    assert calendar_feeds.calendar_feed_revoke(feed=bens, by=manager) is True
    bens.refresh_from_db()
    assert bens.revoked_by == manager and bens.revoked_at is not None


def test_use_is_noted_at_most_once_an_hour(amara, django_assert_num_queries):
    feed, _secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    now = timezone.now()
    with django_assert_num_queries(1):
        calendar_feeds.calendar_feed_touch(feed=feed, now=now)
    with django_assert_num_queries(0):
        calendar_feeds.calendar_feed_touch(feed=feed, now=now + timedelta(minutes=59))
    later = now + timedelta(minutes=61)
    calendar_feeds.calendar_feed_touch(feed=feed, now=later)
    feed.refresh_from_db()
    assert feed.last_used_at == later


def test_a_stale_copy_does_not_write_over_a_newer_reading(amara):
    feed, _secret = calendar_feeds.calendar_feed_create(therapist=amara, by=amara.user)
    now = timezone.now()
    stale = CalendarFeed.objects.get(pk=feed.pk)
    calendar_feeds.calendar_feed_touch(feed=feed, now=now)
    # Another process read the row before the first touch: its write is refused by the condition.
    calendar_feeds.calendar_feed_touch(feed=stale, now=now + timedelta(seconds=5))
    feed.refresh_from_db()
    assert feed.last_used_at == now
