from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Booking"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import drafts

        # A visitor's session is cut to the draft's two hours; signing in keeps the data,
        # so give a member of staff the usual length back.
        user_logged_in.connect(drafts.restore_session_length, dispatch_uid="booking.drafts")
