"""Put back in the queue the tasks whose worker died (safe from cron, any number at once)."""

from django.core.management.base import BaseCommand

from booking.tasks import tasks_recover


class Command(BaseCommand):
    help = (
        "Queue again each task left RUNNING by a worker that stopped (no heartbeat for "
        "TASK_WORKER_TIMEOUT seconds); mark failed one that lost TASK_MAX_WORKER_LOSSES workers."
    )

    def handle(self, *args, **options) -> None:
        recovery = tasks_recover()
        if options["verbosity"] and (recovery.requeued or recovery.given_up):
            self.stdout.write(f"Queued again: {recovery.requeued}; given up: {recovery.given_up}")
