"""Delete doctors' notes uploaded for online bookings that were never confirmed (the
draft has expired). Safe to run from cron, e.g. hourly: it only removes unclaimed uploads."""

from django.core.management.base import BaseCommand

from booking.services import intake


class Command(BaseCommand):
    help = "Delete doctors' notes uploaded for online bookings that were never confirmed."

    def handle(self, *args, **options):
        deleted = intake.doctor_notes_abandoned_delete()
        self.stdout.write(f"Abandoned doctors' notes deleted: {deleted}")
