"""Queue reminder emails for appointments starting soon. Safe to run from cron every few
minutes, and from several machines at once: each appointment gets one reminder."""

from django.core.management.base import BaseCommand

from booking.services import appointments


class Command(BaseCommand):
    help = (
        "Queue a reminder email for each confirmed appointment starting within REMINDER_HOURS_BEFORE hours."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=None, help="Override REMINDER_HOURS_BEFORE.")

    def handle(self, *args, hours=None, **options):
        queued = appointments.reminders_queue(hours_before=hours)
        self.stdout.write(f"Reminders queued: {queued}")
