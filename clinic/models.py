"""Tables of the project package itself."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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


class SignInEvent(models.Model):
    """One staff sign-in event: who (when known), what happened, when, from which address.

    Never a password, a code or a secret; the username is the one typed, so a failure
    for an account that does not exist can still be seen. Written by clinic/signin_log.py."""

    class Kind(models.TextChoices):
        SIGNED_IN = "signed_in", _("Signed in")
        FAILED = "failed", _("Wrong username or password")
        SECOND_FACTOR_FAILED = "second_factor_failed", _("Wrong two-factor code")
        LOCKED_OUT = "locked_out", _("Refused: signing in is paused")
        SESSION_EXPIRED = "session_expired", _("Signed out after being idle")
        TWO_FACTOR_SET_UP = "two_factor_set_up", _("Two-factor sign-in set up")
        BACKUP_CODES_MADE = "backup_codes_made", _("New backup codes made")
        BACKUP_CODE_USED = "backup_code_used", _("Signed in with a backup code")
        TWO_FACTOR_REMOVED = "two_factor_removed", _("Two-factor sign-in removed")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset email sent")
        PASSWORD_RESET = "password_reset", _("Password reset by email link")

    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("what happened"), max_length=32, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(_("username typed"), max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("For two-factor changes made by a manager for someone else."),
    )

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("sign-in event")
        verbose_name_plural = _("sign-in log")
        indexes = [models.Index(fields=["user", "-at"], name="signin_user_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.username or self.user_id})"
