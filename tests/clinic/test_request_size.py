"""A request body over MAX_REQUEST_BYTES (clinic/request_size.py) is refused with the
site's 413 page before any of it is read; smaller ones go through."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.models import RateLimitCounter

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"  # a note far over the limit follows


def test_a_body_over_the_limit_gets_the_413_page_and_reaches_no_view(client, settings):
    settings.MAX_REQUEST_BYTES = 64 * 1024
    note = SimpleUploadedFile("scan.pdf", PDF + b"0" * (100 * 1024), content_type="application/pdf")
    response = client.post(reverse("booking:account-signin"), {"email": "a@example.com", "doctor_note": note})
    html = response.content.decode()
    assert response.status_code == 413
    assert "That was too large to send" in html and "at most 64.0 KB" in html
    # The site's page, with the site's headers.
    assert "Content-Security-Policy" in response and "Willow Massage Clinic" in html
    assert not RateLimitCounter.objects.exists()  # the sign-in view never ran (it counts first)


def test_the_limit_is_said_in_megabytes(client, settings):
    settings.MAX_REQUEST_BYTES = 3 * 1024 * 1024
    response = client.post(reverse("home"), {"x": "y" * (3 * 1024 * 1024)})
    assert response.status_code == 413 and "at most 3.0 MB" in response.content.decode()


def test_a_body_under_the_limit_goes_through(client, settings):
    settings.MAX_REQUEST_BYTES = 64 * 1024
    response = client.post(reverse("booking:account-signin"), {"email": "a@example.com"})
    assert response.status_code in (200, 302)
    assert RateLimitCounter.objects.exists()


def test_a_declared_length_that_is_not_a_number_is_left_to_django(client):
    response = client.get(reverse("home"), CONTENT_LENGTH="lots")
    assert response.status_code == 200


def test_the_413_answer_carries_no_hop_by_hop_header(client, settings):
    """A WSGI server refuses them from the application (wsgiref answered 500)."""
    from wsgiref.util import is_hop_by_hop

    settings.MAX_REQUEST_BYTES = 1024
    response = client.post(reverse("home"), {"x": "y" * 2048})
    assert response.status_code == 413
    assert not [name for name in response.headers if is_hop_by_hop(name)]
