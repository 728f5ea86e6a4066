"""Fixtures shared by every test."""

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from tests.factories import StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _plain_static_and_media(settings, tmp_path):
    # Hashed static names need collectstatic first; tests use plain names, and a
    # throwaway folder for uploads so nothing lands in the project's media/.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    # An empty collected-static folder keeps WhiteNoise from warning that there is none.
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STATIC_ROOT.mkdir()
    # Every test starts with an empty cache: a page kept by one test must not answer another.
    # Tests keep it in memory, so those without a database can use it too; the database
    # cache the site uses by default has tests of its own (tests/clinic/test_checks.py).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    cache.clear()
    # ... and so do the per-process copies in front of it (article pages, availability).
    from clinic import recent

    recent.clear_all()
    # Article pages: the content version read on every request, so a test sees its own
    # edits at once; tests/articles/test_caching.py tests the interval itself.
    settings.ARTICLE_PAGE_RECHECK_SECONDS = 0
    # Many tests book several times for one made-up client; the tests of the cap itself
    # set the limit they need.
    settings.BOOKING_MAX_UPCOMING_PER_EMAIL = 1000


@pytest.fixture(autouse=True)
def _force_login_passes_two_factor(monkeypatch):
    """``client.force_login()`` (and ``login()``) stands for a whole sign-in, second step included: a staff
    account gets an authenticator and a session verified by it, as after typing its code
    (whatever groups the test gives the account afterwards). The sign-in steps themselves are
    tested through the pages (tests/clinic/test_staff_views.py)."""
    from django.test import Client

    original = Client._login

    def _login(self, user, backend=None):
        # Both force_login() and login() end here.
        original(self, user, backend)
        from clinic import otp, staff_session

        if user.is_staff:
            from django_otp import DEVICE_ID_SESSION_KEY
            from django_otp.plugins.otp_totp.models import TOTPDevice

            device = otp.authenticator(user) or TOTPDevice.objects.create(user=user, name="Test app")
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            # The idle clock starts at sign-in, as the sign-in pages start it.
            session[staff_session.LAST_SEEN_KEY] = int(staff_session.time.time())
            session.save()

    monkeypatch.setattr(Client, "_login", _login)


@pytest.fixture
def staff_user(db):
    return StaffFactory(username="staff")


@pytest.fixture
def visitor_user(db):
    return UserFactory(username="visitor")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def make_image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (1200, 700)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 160, 140)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def image_bytes():
    return make_image_bytes


LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def swedish(db):
    """The Swedish technique from the data migration, 60 and 90 minutes, 15-minute buffer."""
    from booking.models import Technique

    technique = Technique.objects.get(slug="swedish")
    technique.buffer_minutes = 15
    technique.save()
    return technique


@pytest.fixture
def swedish_60(swedish):
    return swedish.lengths.get(duration_minutes=60)


@pytest.fixture
def monday_morning():
    """'Now' for booking tests: Monday 23 November 2026, 08:00 in London."""
    return datetime(2026, 11, 23, 8, 0, tzinfo=LONDON)


@pytest.fixture
def client_details():
    from booking.services.appointments import ClientDetails

    return ClientDetails(name="Olivia Brown", email="olivia@example.com", phone="07700 900101")


@pytest.fixture
def encryption_salts(settings):
    """Call with a list of salts to encrypt (first) and decrypt with from now on. The
    encrypted fields keep keys derived once, so they are reset on each change and again
    at the end, after the original salts are back."""
    from clinic.fields import encryption_keys_reset

    original = settings.SALT_KEY

    def use(salts: list[str]) -> None:
        settings.SALT_KEY = list(salts)
        encryption_keys_reset()

    yield use
    settings.SALT_KEY = original
    encryption_keys_reset()


@pytest.fixture
def private_media(settings, tmp_path, monkeypatch):
    """Doctors' notes go to a throwaway private folder (the storage is built once, with
    the model, so the setting alone would not move it)."""
    from django.core.files.storage import FileSystemStorage

    from booking.models import DoctorNote

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    field = DoctorNote._meta.get_field("file")
    monkeypatch.setattr(
        field, "storage", FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)
    )
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def private_files(private_media):
    """The private storage itself, for tests that read and write note files directly."""
    from booking.models import DoctorNote

    return DoctorNote._meta.get_field("file").storage
