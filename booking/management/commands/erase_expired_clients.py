"""Erase clients whose last visit is older than CLIENT_RETENTION_YEARS. Safe for cron:
an erased client is not erased again, and a failed run is simply finished by the next."""

from django.core.management.base import BaseCommand

from booking.services import privacy


class Command(BaseCommand):
    help = "Erase clients whose last visit is more than CLIENT_RETENTION_YEARS years ago."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count who would be erased.")

    def handle(self, *args, dry_run, **options):
        if dry_run:
            count = privacy.clients_past_retention().count()
            self.stdout.write(f"Would erase {count} client(s) past the retention period.")
            return
        count = privacy.clients_erase_expired()
        self.stdout.write(f"Erased {count} client(s) past the retention period.")
