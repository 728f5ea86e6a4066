"""Fixtures shared by every test."""

import io

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
