"""manage.py erase_expired_clients: erases clients past CLIENT_RETENTION_YEARS; safe to
run from cron again and again; --dry-run only counts."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from booking.models import Client
from tests.factories import client_with_health_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_files")]


def run(*args: str) -> str:
    out = StringIO()
    call_command("erase_expired_clients", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_and_recent(settings):
    settings.CLIENT_RETENTION_YEARS = 2
    now = timezone.now()
    old, _ = client_with_health_record(start=now - timedelta(days=3 * 366))
    recent, _ = client_with_health_record(
        name="Grace Hopper", email="grace@example.com", start=now - timedelta(days=300)
    )
    return old, recent


def test_dry_run_counts_and_erases_nothing(old_and_recent):
    assert run("--dry-run") == "Would erase 1 client(s) past the retention period.\n"
    assert not Client.objects.filter(erased_at__isnull=False).exists()


def test_erases_only_clients_past_the_retention_period_and_again_nothing(old_and_recent):
    old, recent = old_and_recent
    assert run() == "Erased 1 client(s) past the retention period.\n"
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.name == f"Erased client #{old.pk}" and old.erased_at is not None
    assert recent.name == "Grace Hopper" and recent.erased_at is None
    assert run() == "Erased 0 client(s) past the retention period.\n"


def test_the_retention_period_comes_from_the_setting(old_and_recent, settings):
    settings.CLIENT_RETENTION_YEARS = 10
    assert run() == "Erased 0 client(s) past the retention period.\n"
