"""Uploaded pictures (clinic/uploads.py): the stored extension is the detected format,
and a replaced or cleared picture is deleted once the change is committed."""

import mimetypes

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from articles.choices import ArticleStatus
from booking.models import Therapist
from clinic.uploads import detected_suffix
from tests.conftest import make_image_bytes
from tests.factories import ArticleFactory, TherapistFactory

pytestmark = pytest.mark.django_db


def therapist_form(therapist, **extra):
    data = {
        "name": therapist.name, "slug": therapist.slug, "bio": "", "active": "on",
        "working_hours-TOTAL_FORMS": "0", "working_hours-INITIAL_FORMS": "0",
        "working_hours-MIN_NUM_FORMS": "0", "working_hours-MAX_NUM_FORMS": "1000",
        "time_off-TOTAL_FORMS": "0", "time_off-INITIAL_FORMS": "0",
        "time_off-MIN_NUM_FORMS": "0", "time_off-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    data.update(extra)
    return data


def upload_photo(client, therapist, filename, data, **extra):
    photo = SimpleUploadedFile(filename, data, content_type="application/octet-stream")
    url = f"/admin/booking/therapist/{therapist.pk}/change/"
    return client.post(url, therapist_form(therapist, photo=photo, **extra))


def test_detected_suffix_reads_the_bytes_not_the_name():
    assert detected_suffix(ContentFile(make_image_bytes("PNG"), name="a.pdf")) == ".png"
    assert detected_suffix(ContentFile(make_image_bytes("JPEG"), name="a.eps")) == ".jpg"
    assert detected_suffix(ContentFile(make_image_bytes("WEBP"), name="a.html")) == ".webp"
    assert detected_suffix(ContentFile(b"%PDF-1.4 not a picture", name="a.png")) == ""


@pytest.mark.parametrize(
    ("filename", "fmt", "suffix", "content_type"),
    [("cv.pdf", "PNG", ".png", "image/png"), ("logo.eps", "JPEG", ".jpg", "image/jpeg")],
)
def test_a_picture_under_another_name_is_stored_as_what_it_is(
    staff_client, filename, fmt, suffix, content_type
):
    therapist = TherapistFactory(hours={})
    response = upload_photo(staff_client, therapist, filename, make_image_bytes(fmt, (400, 400)))
    assert response.status_code == 302, response.content.decode()[:2000]
    therapist.refresh_from_db()
    assert therapist.photo.name.endswith(suffix)
    # The extension is what decides the Content-Type it is served with.
    assert mimetypes.guess_type(therapist.photo.name)[0] == content_type


def test_saving_a_file_in_code_follows_the_bytes_too():
    article = ArticleFactory(hero_image_alt="x")
    article.hero_image.save("hero.pdf", ContentFile(make_image_bytes("PNG")))
    assert article.hero_image.name.endswith(".png")


def test_a_replaced_photo_is_deleted_once_the_change_is_committed(
    staff_client, django_capture_on_commit_callbacks
):
    therapist = TherapistFactory(hours={})
    upload_photo(staff_client, therapist, "first.jpg", make_image_bytes("JPEG", (400, 400)))
    first = Therapist.objects.get().photo.name
    assert default_storage.exists(first)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_photo(staff_client, therapist, "second.png", make_image_bytes("PNG", (400, 400)))
    assert response.status_code == 302
    second = Therapist.objects.get().photo.name
    assert second != first and default_storage.exists(second)
    assert not default_storage.exists(first)


def test_a_cleared_photo_is_deleted_and_a_refused_change_deletes_nothing(
    staff_client, django_capture_on_commit_callbacks
):
    therapist = TherapistFactory(hours={})
    upload_photo(staff_client, therapist, "first.jpg", make_image_bytes("JPEG", (400, 400)))
    first = Therapist.objects.get().photo.name
    url = f"/admin/booking/therapist/{therapist.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        refused = staff_client.post(url, therapist_form(therapist, name="", **{"photo-clear": "on"}))
    assert refused.status_code == 200  # the form comes back with its error
    assert default_storage.exists(first)
    with django_capture_on_commit_callbacks(execute=True):
        cleared = staff_client.post(url, therapist_form(therapist, **{"photo-clear": "on"}))
    assert cleared.status_code == 302
    assert Therapist.objects.get().photo.name == ""
    assert not default_storage.exists(first)


def test_a_replaced_hero_image_goes_with_its_renditions(staff_client, django_capture_on_commit_callbacks):
    article = ArticleFactory(hero_image_alt="Old", status=ArticleStatus.PUBLISHED)
    article.hero_image.save("old.jpg", ContentFile(make_image_bytes("JPEG", (1300, 700))))
    from articles import services

    old_files = [article.hero_image.name] + [
        r["name"] for r in services.article_renditions_build(article=article)
    ]
    assert all(default_storage.exists(name) for name in old_files)
    new = SimpleUploadedFile("new.webp", make_image_bytes("WEBP", (1300, 700)), content_type="image/webp")
    data = {
        "title": article.title, "slug": article.slug, "summary": article.summary, "body": article.body,
        "hero_image": new, "hero_image_alt": "New", "status": ArticleStatus.PUBLISHED,
        "published_at_0": article.published_at.strftime("%d/%m/%Y"),
        "published_at_1": article.published_at.strftime("%H:%M:%S"),
        "author_name": article.author_name,
        "references-TOTAL_FORMS": "0", "references-INITIAL_FORMS": "0",
        "references-MIN_NUM_FORMS": "0", "references-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/admin/articles/article/{article.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    article.refresh_from_db()
    assert article.hero_image.name.endswith(".webp") and default_storage.exists(article.hero_image.name)
    assert all(default_storage.exists(r["name"]) for r in article.hero_renditions)
    assert not any(default_storage.exists(name) for name in old_files)
