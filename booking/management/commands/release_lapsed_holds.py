"""Release waitlist holds whose window has passed and offer the times to the next in line.
Safe to run from cron every minute, again and again, and from several machines at once."""

from django.core.management.base import BaseCommand

from booking.services import waitlist


class Command(BaseCommand):
    help = "Release waitlist holds past their window (WAITLIST_HOLD_MINUTES) and offer the times onward."

    def add_arguments(self, parser):
        parser.add_argument(
            "--catch-up",
            action="store_true",
            help=(
                "Also offer any free time that suits a waiting entry, on every day clients can book "
                "(a catch-up for time freed outside the booking services; say hourly)."
            ),
        )

    def handle(self, *args, catch_up=False, **options):
        sweep = waitlist.holds_release_lapsed()
        self.stdout.write(f"Holds released: {sweep.released}; waitlist entries ended: {sweep.ended}")
        if catch_up:
            offers = waitlist.offers_catch_up()
            self.stdout.write(f"Offers made: {len(offers)}")
