from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Booking"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from . import drafts, schedule_version

        # A visitor's session is cut to the draft's two hours; signing in keeps the data,
        # so give a member of staff the usual length back.
        user_logged_in.connect(drafts.restore_session_length, dispatch_uid="booking.drafts")
        # The schedule version's triggers, after every migrate (a later migration that
        # rebuilds a table on SQLite drops that table's triggers).
        post_migrate.connect(
            schedule_version.on_post_migrate, sender=self, dispatch_uid="booking.schedule_version"
        )
