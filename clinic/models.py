"""Tables of the project package itself."""

from django.db import models


class RateLimitCounter(models.Model):
    """Attempts one key (a hashed address or manage link) made in one fixed window.

    A table rather than the cache: the counter is shared by every server process without
    Redis, and one INSERT ... ON CONFLICT DO UPDATE counts atomically on SQLite and
    PostgreSQL alike (the database cache's incr() is a read then a write, so concurrent
    attempts would be lost)."""

    # sha256 of scope and key: no address or link is stored in the clear.
    key_hash = models.CharField(max_length=64)
    window_index = models.BigIntegerField(help_text="Unix time divided by the window's length.")
    count = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key_hash", "window_index"], name="ratelimit_key_window")
        ]

    def __str__(self) -> str:
        return f"{self.key_hash[:8]}… {self.window_index}: {self.count}"
