"""A worker killed mid-send (``kill -9``) loses no email and sends none twice.

Real ``manage.py run_worker`` processes run against the test database (committed data:
``transaction=True``) and send through a small SMTP server in this file that can stall a
session at a chosen point. Each stall is waited for, then the worker is killed with
SIGKILL and another started; every wait has a deadline, and no assertion is about time.
"""

from __future__ import annotations

import email
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from booking import notifications, services
from booking.choices import AppointmentSource
from booking.models import SentEmail
from tests.conftest import LONDON
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 90  # seconds: generous, the machine may be busy; a pass never waits this long


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Django's backend. A message counts as delivered only when the
    server answers 250 to it, as a real server commits it."""

    server: FakeSMTPServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def hang_until_client_gone(self) -> None:
        self.server.stalled.set()
        self.rfile.readline()  # returns when the killed worker's socket closes

    def handle(self) -> None:
        self.reply("220 fake.test ESMTP")
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.reply("250 fake.test")
            elif command.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                self.reply("250 OK")
            elif command == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b".\n"):
                    if not data:
                        return  # the client went mid-message: nothing delivered
                    body.append(data)
                if self.server.take_stall("data"):
                    return self.hang_until_client_gone()
                with self.server.lock:
                    self.server.delivered.append(b"".join(body))
                self.reply("250 Queued")
            elif command == "QUIT":
                if self.server.take_stall("quit"):
                    return self.hang_until_client_gone()
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Not implemented")


class FakeSMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.lock = threading.Lock()
        self.delivered: list[bytes] = []
        # "data": the next message is read, then never answered; "quit": the next
        # goodbye is never answered (the message before it was accepted).
        self.stall_at: str | None = None
        self.stalled = threading.Event()

    def take_stall(self, point: str) -> bool:
        with self.lock:
            if self.stall_at == point:
                self.stall_at = None
                return True
            return False

    def stall_next(self, point: str | None) -> None:
        with self.lock:
            self.stall_at = point
        self.stalled.clear()

    def message_ids(self) -> Counter:
        with self.lock:
            return Counter(email.message_from_bytes(raw)["Message-ID"] for raw in self.delivered)


@pytest.fixture
def smtp_server():
    server = FakeSMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def workers(smtp_server, tmp_path):
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": "database",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.server_address[1]),
        "EMAIL_TIMEOUT": "300",  # the worker is killed long before it would give up
        "TASK_WORKER_TIMEOUT": "2",  # a silent worker counts as dead after 2 s
    }

    def start(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        command = [sys.executable, "manage.py", "run_worker", "--queue-name", "*", "--interval", "0.1"]
        command += ["--no-startup-delay", "--no-reload", "--worker-id", name]
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=log)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def worker_logs(tmp_path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in sorted(tmp_path.glob("*.log")))


def wait_for(condition, what: str, tmp_path) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}\n{worker_logs(tmp_path)}")
        time.sleep(0.1)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_killed_workers_lose_no_email_and_send_none_twice(workers, smtp_server, tmp_path):
    technique = TechniqueFactory(name="Swedish", slug="swedish")
    length = TechniqueLengthFactory(technique=technique, duration_minutes=60)
    therapist = TherapistFactory(techniques=[technique])
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    appointments = [
        services.appointment_book(
            technique=technique,
            length=length,
            start=datetime(day.year, day.month, day.day, hour, tzinfo=LONDON),
            therapist=therapist,
            client=services.ClientDetails(f"Client {hour}", f"client{hour}@example.com", "07700 900101"),
            source=AppointmentSource.STAFF,
            allow_outside_hours=True,
        )
        for hour in (10, 12, 14)
    ]
    first, second, third = (
        DBTaskResult.objects.get(args_kwargs__kwargs__appointment_id=a.pk) for a in appointments
    )
    expected = {
        notifications.message_id(notifications.EmailKind.CONFIRMATION, a, a.sequence) for a in appointments
    }

    # Worker A: the server accepts the first email, then hangs on the goodbye; kill -9.
    smtp_server.stall_next("quit")
    worker_a = workers("worker-a")
    wait_for(smtp_server.stalled.is_set, "the first email to stall at QUIT", tmp_path)
    kill(worker_a)
    assert DBTaskResult.objects.get(pk=first.pk).status == TaskResultStatus.RUNNING

    # Worker B: the server reads the second email and never answers; kill -9.
    smtp_server.stall_next("data")
    worker_b = workers("worker-b")
    wait_for(smtp_server.stalled.is_set, "an email to stall at DATA", tmp_path)
    kill(worker_b)

    # Worker C finds both tasks left running by dead workers and finishes everything.
    smtp_server.stall_next(None)
    worker_c = workers("worker-c")
    wait_for(
        lambda: not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists(),
        "every task to finish",
        tmp_path,
    )
    worker_c.send_signal(signal.SIGTERM)
    worker_c.wait(timeout=30)

    # Every email delivered exactly once.
    assert smtp_server.message_ids() == Counter(expected), worker_logs(tmp_path)
    assert SentEmail.objects.count() == 3
    # The first was run again after its worker died, and found already sent.
    first.refresh_from_db()
    assert first.return_value == "skipped: already sent"
    assert first.worker_ids[0] == "worker-a" and len(first.worker_ids) >= 2
    # The second was run again and sent this time.
    second.refresh_from_db()
    assert second.worker_ids[-1] == "worker-c" and second.return_value.startswith("sent: ")
    third.refresh_from_db()
    assert third.return_value.startswith("sent: ")
