"""The settings module refuses unsafe production setups; run in fresh processes."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
STRONG_KEY = "p9V$k2-LmQ7#rT4zW8xN1bC6dF3gH5jK0sA_eY*uI&oP!vB@nM%"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Start from this process's environment without what the test run itself set.
    dropped = {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refuses_to_start_with_debug_off_and_no_secret_key():
    result = manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_refuses_to_start_with_debug_off_and_no_health_data_salt():
    result = manage("check", DEBUG="false", SECRET_KEY=STRONG_KEY, FIELD_ENCRYPTION_SALT="")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_SALT is not set" in result.stderr


def test_starts_with_debug_off_and_a_health_data_salt():
    result = manage(
        "check", DEBUG="false", SECRET_KEY=STRONG_KEY, FIELD_ENCRYPTION_SALT="new-salt,old-salt",
        ALLOWED_HOSTS="clinic.example.org",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_under_production_settings():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="false", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="clinic.example.org",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_on_starts_with_the_development_key():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_sqlite_uses_immediate_transactions(settings):
    options = settings.DATABASES["default"].get("OPTIONS", {})
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert options["transaction_mode"] == "IMMEDIATE"
    else:
        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def test_clinic_time_zone_is_the_site_time_zone(settings):
    assert (
        settings.TIME_ZONE == settings.CLINIC_TIME_ZONE == os.environ.get("CLINIC_TIME_ZONE", "Europe/London")
    )
    assert settings.USE_TZ is True
