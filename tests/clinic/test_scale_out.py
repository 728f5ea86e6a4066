"""The deployment a growing clinic group runs: several servers and several task workers on
one PostgreSQL (and one Redis, when there is one).

Two gunicorn servers and two ``manage.py run_worker`` processes run against the test
database. Clients race for the same times across both servers (their details sent to one
server, their confirmation to the other: the session is shared too), and the test checks
that no time is booked twice, that every email is sent exactly once, that a page stored
by one server is served by the other, that the availability one server cached is not
served by either once a booking commits, and that the booking rate limit counts attempts
on both servers together. Every wait has a deadline; nothing is asserted about time.

PostgreSQL only: SQLite is one file on one machine, which is the thing this deployment
goes beyond (its one-writer-at-a-time locking is tested in tests/booking/test_concurrency.py).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from booking.choices import AppointmentStatus
from booking.models import Appointment, SentEmail
from tests.booking.test_worker_crash import FakeSMTPServer, database_url
from tests.conftest import LONDON
from tests.factories import (
    HEALTH_NO,
    ArticleFactory,
    TechniqueFactory,
    TechniqueLengthFactory,
    TherapistFactory,
    seed_health_questions,
)

pytestmark = [
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="several servers share one PostgreSQL; SQLite is one machine's file (CI runs this on PG)",
    ),
    # Committed data the servers can see.
    pytest.mark.django_db(transaction=True),
]

WAIT = 90  # seconds: generous for a busy machine; a pass never waits this long
# Each server re-reads the articles' version this often (seconds): the bound on how long
# it may serve a page edited elsewhere.
ARTICLE_RECHECK = 1
REDIS_URL = os.environ.get("SCALE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
RATE_LIMIT = 3


def redis_reachable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    server = FakeSMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def cluster(smtp_server, tmp_path):
    """Two servers (base URLs) and two workers sharing the test database and one cache."""
    # Plain static names: the servers render pages without a collectstatic run.
    (tmp_path / "scale_settings.py").write_text(
        "from clinic.settings import *  # noqa: F403\n"
        "STORAGES = {**STORAGES, 'staticfiles': "  # noqa: F405
        "{'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}}\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scale_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(settings.BASE_DIR)]),
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "TRUSTED_PROXY_COUNT": "1",  # each test client says its address in X-Forwarded-For
        "BOOKING_RATE_LIMIT": str(RATE_LIMIT),
        "BOOKING_MAX_UPCOMING_PER_EMAIL": "100",
        "ARTICLE_PAGE_CACHE_SECONDS": "300",
        "ARTICLE_PAGE_RECHECK_SECONDS": str(ARTICLE_RECHECK),
        "TASKS_BACKEND": "database",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.server_address[1]),
        "SITE_URL": "http://127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if redis_reachable(REDIS_URL):
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()  # a database of its own, emptied
        env["REDIS_URL"] = REDIS_URL
    else:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM clinic_cache")
    processes: list[subprocess.Popen] = []

    def start(name: str, command: list[str]) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=log)
        processes.append(process)
        return process

    bases = []
    for name in ("server-a", "server-b"):
        port = free_port()
        start(
            name,
            [
                sys.executable,
                "-m",
                "gunicorn",
                "clinic.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
        )
        bases.append(f"http://127.0.0.1:{port}")
    for name in ("worker-a", "worker-b"):
        start(name, [
            sys.executable, "manage.py", "run_worker", "--queue-name", "*", "--interval", "0.1",
            "--no-startup-delay", "--no-reload", "--worker-id", name,
        ])  # fmt: skip
    try:
        for base in bases:
            wait_for(lambda base=base: up(base), f"{base} to answer", tmp_path)
        yield {"servers": bases, "cache": "redis" if "REDIS_URL" in env else "database", "logs": tmp_path}
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def logs(tmp_path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(tmp_path.glob("*.log"))
    )


def wait_for(condition, what: str, tmp_path) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}\n{logs(tmp_path)}")
        time.sleep(0.2)


def up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/book/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Visitor:
    """One browser: its own cookies and its own address (sent as X-Forwarded-For)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect
        )

    def request(self, url: str, data: dict | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        # One host name for both servers, as a load balancer in front of them passes on.
        headers = {"X-Forwarded-For": self.address, "Host": "127.0.0.1"}
        request = urllib.request.Request(url, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode(), response.headers.get("Location", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace"), error.headers.get("Location", "")

    def book(
        self, *, details_on: str, confirm_on: str, start: datetime, therapist: str, email: str, barrier=None
    ):
        """Send the details to one server and the confirmation to the other."""
        query = urllib.parse.urlencode({"length": 60, "therapist": therapist, "start": start.isoformat()})
        status, page, _ = self.request(f"{details_on}/book/swedish/details/?{query}")
        assert status == 200, page[:2000]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        details = {
            "csrfmiddlewaretoken": token,
            "name": "Scale Client",
            "email": email,
            "phone": "07700 900101",
            **HEALTH_NO,
            "agree_policy": "on",
            "consent_name": "Scale Client",
            "website": "",
        }
        status, page, location = self.request(f"{details_on}/book/swedish/details/?{query}", details)
        assert status == 302, page[:3000]
        if barrier is not None:
            barrier.wait(timeout=WAIT)
        status, page, location = self.request(f"{confirm_on}{location}", {"csrfmiddlewaretoken": token})
        return status


def free_times(base: str, day, therapist: str) -> set[str]:
    query = urllib.parse.urlencode(
        {"technique": "swedish", "length": 60, "therapist": therapist, "start": day.isoformat(), "days": 1}
    )
    import json

    with urllib.request.urlopen(f"{base}/book/api/availability/?{query}", timeout=60) as response:
        data = json.loads(response.read())
    return {entry["start"] for day in data["days"] for entry in day["times"]}


def test_two_servers_and_two_workers_share_one_database_and_one_cache(cluster, smtp_server):
    a, b = cluster["servers"]
    # The migrations' rows may have been emptied by an earlier transactional test.
    swedish = TechniqueFactory(name="Swedish", slug="swedish")
    if not swedish.lengths.filter(duration_minutes=60).exists():
        TechniqueLengthFactory(technique=swedish, duration_minutes=60)
    seed_health_questions()
    TherapistFactory(name="Anna", slug="anna", techniques=[swedish])
    TherapistFactory(name="Ben", slug="ben", techniques=[swedish])
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    while day.weekday() > 4:
        day += timedelta(days=1)

    def at(hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)

    # Both servers cache the day's free times before anyone books.
    for base in (a, b):
        assert {at(10).isoformat(), at(12).isoformat()} <= free_times(base, day, "anna")

    # The race: four clients for 10:00 and four for 12:00, each sending details to one
    # server and confirming on the other, all confirmations released together.
    barrier = threading.Barrier(8)
    outcomes: list = [None] * 8

    def client(i: int) -> None:
        servers = (a, b) if i % 2 else (b, a)
        try:
            outcomes[i] = Visitor(f"198.51.100.{i + 1}").book(
                details_on=servers[0], confirm_on=servers[1], start=at(10 if i < 4 else 12),
                therapist="anna", email=f"racer{i}@example.com", barrier=barrier,
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001 - the outcome is asserted below
            outcomes[i] = error
            barrier.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT * 2)
    assert Counter(outcomes) == Counter({302: 2, 409: 6}), (outcomes, logs(cluster["logs"]))
    booked = Appointment.objects.filter(status=AppointmentStatus.CONFIRMED)
    assert sorted(a.start for a in booked) == [at(10), at(12)]

    # Neither server offers the booked times any more, whatever it had cached.
    for base in (a, b):
        offered = free_times(base, day, "anna")
        assert at(10).isoformat() not in offered and at(12).isoformat() not in offered
        assert at(14).isoformat() in offered

    # The rate limit counts attempts on both servers together: one address, alternating.
    statuses = [
        Visitor("203.0.113.7").book(
            details_on=(a, b)[n % 2],
            confirm_on=(b, a)[n % 2],
            start=at(10 + 2 * n),
            therapist="ben",
            email="steady@example.com",
        )  # fmt: skip
        for n in range(RATE_LIMIT + 1)
    ]
    assert statuses == [302] * RATE_LIMIT + [429], statuses

    # Every email (a confirmation and a staff notice per booking) sent once, by either worker.
    wait_for(
        lambda: (
            DBTaskResult.objects.exists()
            and not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists()
        ),
        "every email task to finish",
        cluster["logs"],
    )
    ids = smtp_server.message_ids()
    assert ids and set(ids.values()) == {1}, ids
    assert len(ids) == SentEmail.objects.count() == DBTaskResult.objects.count()
    assert Appointment.objects.count() == 2 + RATE_LIMIT

    # A page one server stored is served by the other from the shared cache: the body is
    # changed behind the cache's back (its version, the edit time, kept), and server B
    # still shows what server A stored. A real edit is then seen by both within the
    # recheck interval (a server may serve its own copy until its version is a second old).
    article = ArticleFactory(title="Sleep better", body="The first words.")
    for _attempt in range(3):
        minute = int(time.time() // 60)  # the page cache's key has the minute in it
        assert "The first words." in Visitor("192.0.2.1").request(f"{a}{article.get_absolute_url()}")[1]
        type(article).objects.filter(pk=article.pk).update(body="Words written behind the cache.")
        page_b = Visitor("192.0.2.2").request(f"{b}{article.get_absolute_url()}")[1]
        if int(time.time() // 60) == minute:
            break
        type(article).objects.filter(pk=article.pk).update(body="The first words.")
    assert "The first words." in page_b, f"server B did not use server A's copy ({cluster['cache']} cache)"
    article.refresh_from_db()
    article.body = "An edit everyone sees."
    article.save()
    time.sleep(ARTICLE_RECHECK)
    for base in (a, b):
        assert (
            "An edit everyone sees." in Visitor("192.0.2.3").request(f"{base}{article.get_absolute_url()}")[1]
        )
