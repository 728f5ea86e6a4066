"""Background tasks for booking, run by ``manage.py run_worker`` (``db_worker`` with a
heartbeat), and the recovery of tasks whose worker died.

Never lost: django-tasks-db marks a task RUNNING when a worker claims it and has no way
back if that worker is killed (``kill -9``, out of memory, a container restart). Workers
started with ``run_worker`` write a heartbeat; :func:`tasks_recover` (run by every such
worker, and by ``manage.py recover_tasks`` from cron) puts a RUNNING task whose worker
has stopped beating back in the queue, so another worker runs it.

Not sent twice: an email the mail server accepted is recorded (:class:`SentEmail`) at
once, before anything else can fail or hang, and a task checks that record before it
sends. Each email also has a stable Message-ID, so in the one window left (killed
between the server's "accepted" and that record) the copy sent again is the same message.

Logs and task results name appointments by reference, never by client name or address.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from . import notifications
from .models import Appointment, SentEmail, TaskWorker
from .notifications import STAFF_KINDS, SUPERSEDABLE, EmailKind, build_email, retry_delay

logger = logging.getLogger(__name__)


class EmailNotSent(Exception):
    """An email was not sent; the message names the appointment by reference only."""


class EmailRetrying(EmailNotSent):
    """This attempt failed for a reason that may pass (server down); a retry is queued."""


class EmailFailed(EmailNotSent):
    """Given up for good (refused, unbuildable, over the daily cap, or out of retries);
    the task shows as failed in the outbox for staff to act on."""


class WorkerLost(Exception):
    """Recorded on a task whose worker died running it too many times."""


def _scrub(text: str, appointment: Appointment) -> str:
    """``text`` with the client's name and address taken out (mail server replies quote them)."""
    for secret in {appointment.client_email, appointment.client_name, appointment.client_name.strip()}:
        if secret:
            text = text.replace(secret, "[client]").replace(secret.lower(), "[client]")
    return text


def _describe(exc: BaseException, appointment: Appointment) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        detail = "; ".join(
            f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for code, reply in exc.recipients.values()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        detail = f"{exc.smtp_code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
    else:
        detail = str(exc)
    return _scrub(f"{type(exc).__name__}: {detail}", appointment)


def is_permanent(exc: BaseException) -> bool:
    """A refusal of this recipient or this message (5xx): trying again cannot help.

    Everything else (connection refused, timeouts, 4xx, and also a wrong password or
    sender, which staff can fix) is retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _reply in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _sent_today(recipient: str, now: datetime) -> int:
    return SentEmail.objects.filter(recipient=recipient, sent_at__gt=now - timedelta(days=1)).count()


@task()
def send_appointment_email(
    *,
    appointment_id: int,
    kind: str,
    sequence: int,
    attempt: int = 1,
    site_url: str = "",
    previous_start: str | None = None,
) -> str:
    """Send one email about an appointment; if the mail server fails, queue a retry.
    ``site_url``: the site's address for links, stored when ``SITE_URL`` is unset.
    ``previous_start``: for a staff notice of a move, the time it had before (ISO 8601).

    Returns what happened, which the task result records for staff to see; raises
    :class:`EmailRetrying` or :class:`EmailFailed` when the email did not go.
    """
    email_kind = EmailKind(kind)
    appointment = (
        Appointment.objects.select_related("technique", "therapist").filter(pk=appointment_id).first()
    )
    if appointment is None:
        return "skipped: the appointment no longer exists"
    reference = appointment.reference
    if email_kind in SUPERSEDABLE and appointment.sequence != sequence:
        # The appointment changed again after this email was queued; the email queued by
        # that change tells the client the current state instead.
        return "skipped: superseded by a later change"
    if SentEmail.objects.filter(appointment=appointment, kind=kind, sequence=sequence).exists():
        # This task was run before by a worker that died after the server took the email.
        return "skipped: already sent"
    now = timezone.now()
    recipient = notifications.recipient(email_kind, appointment)
    cap = settings.EMAIL_MAX_PER_RECIPIENT_PER_DAY
    if email_kind not in STAFF_KINDS and _sent_today(recipient, now) >= cap:
        logger.warning("Not sending %s email for %s: its recipient had %s emails today", kind, reference, cap)
        raise EmailFailed(
            f"{kind} email for {reference} not sent: its address already had {cap} emails from us "
            "in the last 24 hours (EMAIL_MAX_PER_RECIPIENT_PER_DAY)"
        )
    try:
        message = build_email(
            email_kind,
            appointment,
            sequence=sequence,
            previous_start=parse_datetime(previous_start) if previous_start else None,
            now=now,
            site_url=site_url,
        )
    except Exception as exc:
        # A bad address or a template error: the same every time, so no retry.
        logger.error("Cannot build %s email for %s (%s)", kind, reference, type(exc).__name__)
        raise EmailFailed(
            f"{kind} email for {reference} could not be made: {_describe(exc, appointment)}"
        ) from None
    mail = get_connection()
    try:
        # Opened here, not by send_messages(), so the "accepted" is recorded below before
        # the goodbye (QUIT), which a slow server can hold up for as long as it likes.
        mail.open()
        mail.send_messages([message])
    except (smtplib.SMTPException, OSError) as exc:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mail.close()
        detail = _describe(exc, appointment)
        # The immediate backend (development) has no worker to retry later.
        can_retry = send_appointment_email.get_backend().supports_defer
        if is_permanent(exc) or attempt >= settings.EMAIL_MAX_ATTEMPTS or not can_retry:
            logger.error("Giving up on %s email for %s (attempt %s): %s", kind, reference, attempt, detail)
            raise EmailFailed(f"{kind} email for {reference} not sent, attempt {attempt}: {detail}") from None
        run_after = timezone.now() + retry_delay(attempt)
        send_appointment_email.using(run_after=run_after).enqueue(
            appointment_id=appointment_id,
            kind=kind,
            sequence=sequence,
            attempt=attempt + 1,
            site_url=site_url,
            **({"previous_start": previous_start} if previous_start else {}),
        )
        logger.warning("Could not send %s email for %s (%s); retry at %s", kind, reference, detail, run_after)
        # Raise so this attempt shows as failed, with its error, in the task results.
        raise EmailRetrying(f"{kind} email for {reference}, attempt {attempt}: {detail}") from None
    # A savepoint: a duplicate (another run recorded it first) must not spoil a caller's transaction.
    with contextlib.suppress(IntegrityError), transaction.atomic():
        SentEmail.objects.create(
            appointment=appointment,
            kind=kind,
            sequence=sequence,
            recipient=recipient,
            message_id=message.extra_headers["Message-ID"],
            sent_at=timezone.now(),
        )
    with contextlib.suppress(smtplib.SMTPException, OSError):
        mail.close()
    return f"sent: Message-ID {message.extra_headers['Message-ID']}"


# Recovery of tasks whose worker died -------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    requeued: int
    given_up: int


def worker_timeout() -> timedelta:
    return timedelta(seconds=settings.TASK_WORKER_TIMEOUT)


def worker_beat(worker_id: str, *, now: datetime | None = None) -> None:
    """Record that ``worker_id`` is alive."""
    now = now or timezone.now()
    if not TaskWorker.objects.filter(pk=worker_id).update(seen_at=now):
        with contextlib.suppress(IntegrityError), transaction.atomic():
            TaskWorker.objects.create(worker_id=worker_id, seen_at=now)


def tasks_recover(*, now: datetime | None = None, restarted_worker: str | None = None) -> Recovery:
    """Put back in the queue each RUNNING task whose worker has stopped: started more than
    ``TASK_WORKER_TIMEOUT`` seconds ago by a worker with no heartbeat since then (workers
    run without a heartbeat, plain ``db_worker``, count as stopped once a task has run that
    long). A task that has lost ``TASK_MAX_WORKER_LOSSES`` workers is marked failed
    instead, for staff to see, rather than take down worker after worker.

    ``restarted_worker``: the id of a worker starting up; a task still RUNNING under that
    id belongs to its previous life (a worker restarted with a fixed ``--worker-id``), and
    is recovered at once, whatever the heartbeat says.

    Safe to run anywhere, any number of times at once: each task is changed by an update
    that only matches while it is still RUNNING from the same start.
    """
    now = now or timezone.now()
    cutoff = now - worker_timeout()
    alive = set(TaskWorker.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True))
    requeued = given_up = 0
    # Few rows: at most one running task per worker.
    for result in DBTaskResult.objects.running().only("id", "started_at", "worker_ids"):
        last_worker = result.worker_ids[-1] if result.worker_ids else None
        restarted = restarted_worker is not None and last_worker == restarted_worker
        silent = last_worker not in alive and (result.started_at is None or result.started_at < cutoff)
        if not (restarted or silent):
            continue  # running, perhaps slowly, on a live worker
        same_run = DBTaskResult.objects.filter(
            pk=result.pk, status=TaskResultStatus.RUNNING, started_at=result.started_at
        )
        if len(result.worker_ids) >= settings.TASK_MAX_WORKER_LOSSES:
            given_up += same_run.update(
                status=TaskResultStatus.FAILED,
                finished_at=now,
                exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
                traceback=(
                    f"The worker running this task stopped without finishing it {len(result.worker_ids)} "
                    "times (killed, out of memory or restarted); it is not run again."
                ),
            )
            logger.error("Task %s lost %s workers; marked failed", result.pk, len(result.worker_ids))
        elif same_run.update(status=TaskResultStatus.READY):
            requeued += 1
            logger.warning("Task %s was left running by a stopped worker; queued again", result.pk)
    # Forget workers gone for a day; their tasks were recovered long ago.
    TaskWorker.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
    return Recovery(requeued=requeued, given_up=given_up)


class Heartbeat(threading.Thread):
    """Beats for one worker process and recovers other workers' stalled tasks, every
    quarter of the timeout. Dies with the process, which is the point: a killed worker
    stops beating."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.interval = max(settings.TASK_WORKER_TIMEOUT / 4, 0.5)
        self.stopping = threading.Event()

    def beat(self, *, starting: bool = False) -> None:
        try:
            # Beat first: this worker's own running task is never taken for a dead one.
            worker_beat(self.worker_id)
            # Starting, nothing can be running under this worker's id yet: anything that
            # is was left by its previous life.
            tasks_recover(restarted_worker=self.worker_id if starting else None)
        except DatabaseError as exc:
            logger.warning("Worker heartbeat failed (%s); trying again", type(exc).__name__)
        finally:
            close_old_connections()

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.interval):
                self.beat()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=self.interval + 5)


# Waitlist (issue 14) -----------------------------------------------------------------


@task()
def waitlist_match(*, first_day: str, last_day: str, therapist_id: int | None = None) -> str:
    """Offer time freed on the clinic's days ``first_day`` to ``last_day`` (ISO dates) to
    the waitlist, first joined first (services.waitlist.offers_make). Run again after a
    worker died, it offers nothing twice: offered entries are claimed and times held."""
    from datetime import date

    from .services import waitlist  # the services import this module's tasks

    offers = waitlist.offers_make(
        first_day=date.fromisoformat(first_day),
        last_day=date.fromisoformat(last_day),
        therapist_id=therapist_id,
    )
    # Offers by id only: task results are shown to staff and kept; no client names.
    return f"offered {len(offers)}: " + ", ".join(str(offer.pk) for offer in offers)
