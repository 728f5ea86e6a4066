"""python manage.py demo_data — fill a development site with demo content (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic import demo


class Command(BaseCommand):
    help = "Load demo articles and demo staff logins. Safe to run again: it updates, never duplicates."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never on a real clinic's site)."
        )
        parser.add_argument(
            "--port",
            type=int,
            default=8000,
            help="The port runserver listens on, for the admin address printed at the end (default 8000).",
        )

    def handle(self, *args, force, port, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: this looks like production. "
                "Use --force if it is not."
            )
        for article, action in demo.load_demo_articles():
            self.stdout.write(f"  article {action}: {article.title}")
        booking = demo.load_demo_booking()
        self.stdout.write(
            f"  therapists: {booking['therapists']}, appointments added: {booking['appointments_created']}"
        )
        username, password = demo.ensure_demo_staff()
        roles = demo.ensure_demo_role_users()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"  Superuser login (everything, staff accounts too): username: {username}  password: {password}"
        )
        for role, role_user, role_password in roles:
            self.stdout.write(f"  {role} login: username: {role_user}  password: {role_password}")
        self.stdout.write(
            "  Two-factor sign-in: superusers, managers and therapists type a code after the "
            "password. Add the key to an authenticator app (a time-based key), or type one of "
            "the backup codes (each works once; running demo_data again makes new ones):"
        )
        two_factor = demo.ensure_demo_two_factor([username, *(role_user for _, role_user, _ in roles)])
        for account, key, codes in two_factor:
            self.stdout.write(f"    {account}: key {key}  backup codes: {', '.join(codes[:3])}")
        base = settings.SITE_URL or f"http://127.0.0.1:{port}"
        self.stdout.write(
            self.style.WARNING(
                f"Staff admin: {base}/admin/ (if runserver prints another address, add /admin/ to that one)"
            )
        )
