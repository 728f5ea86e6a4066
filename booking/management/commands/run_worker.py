"""``db_worker`` with a heartbeat: tasks left running by a worker that died are run again."""

from django_tasks_db.management.commands.db_worker import Command as DBWorkerCommand

from booking.tasks import Heartbeat


class Command(DBWorkerCommand):
    help = (
        "Run the background task worker (same options as db_worker). It records a heartbeat and "
        "puts back in the queue any task left running by a worker that stopped beating."
    )

    def handle(self, *args, **options) -> None:
        heartbeat = Heartbeat(options["worker_id"])
        # Beat (and recover) before claiming anything, then keep beating beside the worker.
        heartbeat.beat(starting=True)
        heartbeat.start()
        try:
            super().handle(*args, **options)
        finally:
            heartbeat.stop()
