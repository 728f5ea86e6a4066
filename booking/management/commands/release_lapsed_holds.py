"""Release waitlist holds whose window has passed and offer the times to the next in line.
Safe to run from cron every minute, again and again, and from several machines at once."""

from django.core.management.base import BaseCommand

from booking.services import waitlist


class Command(BaseCommand):
    help = "Release waitlist holds past their window (WAITLIST_HOLD_MINUTES) and offer the times onward."

    def handle(self, *args, **options):
        sweep = waitlist.holds_release_lapsed()
        self.stdout.write(f"Holds released: {sweep.released}; waitlist entries ended: {sweep.ended}")
