"""Move every encrypted value (health answers, treatment notes, doctors' note files) to
the current key.

Key rotation: put the new salt first in FIELD_ENCRYPTION_SALT (keeping the old one after
it), restart, run this, then drop the old salt. Safe to run again or while the site runs.
"""

from django.core.management.base import BaseCommand, CommandError

from booking.services import privacy


class Command(BaseCommand):
    help = "Re-encrypt health data under the first FIELD_ENCRYPTION_SALT (after adding a new salt first)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = privacy.health_data_reencrypt(batch_size=batch_size)
        self.stdout.write(
            f"Re-encrypted: {result.rewritten}; already under the current key: {result.current}; "
            f"unreadable with every listed key: {result.unreadable}; "
            f"doctor's note files missing from storage: {result.missing_files}"
        )
        if result.unreadable:
            raise CommandError(
                "Some values could not be decrypted with any listed key (left as they are). "
                "Do not drop an old salt or SECRET_KEY fallback until this reports none."
            )
