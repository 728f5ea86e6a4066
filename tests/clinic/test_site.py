"""clinic/site.py: the address links in emails point at."""

from django.http import HttpResponse
from django.test import RequestFactory

from clinic import site


def test_site_url_has_the_last_word(settings):
    settings.SITE_URL = "https://clinic.example"
    assert site.base_url() == "https://clinic.example"
    assert site.base_url("http://localhost:8123") == "https://clinic.example"


def test_without_site_url_the_request_or_the_stored_address_is_used(settings):
    settings.SITE_URL = ""
    seen = {}

    def view(request):
        seen["inside"] = site.base_url()
        return HttpResponse()

    middleware = site.RequestBaseUrlMiddleware(view)
    middleware(RequestFactory().get("/", HTTP_HOST="localhost:8123"))
    assert seen["inside"] == "http://localhost:8123"
    # Only for the length of that request.
    assert site.request_base_url() == ""
    assert site.base_url() == site.FALLBACK == "http://127.0.0.1:8000"
    # What a queued email stored wins over the fallback.
    assert site.base_url("http://localhost:8123") == "http://localhost:8123"


def test_a_host_django_refuses_is_not_remembered(settings):
    settings.SITE_URL = ""
    seen = {}

    def view(request):
        seen["inside"] = site.request_base_url()
        return HttpResponse()

    site.RequestBaseUrlMiddleware(view)(RequestFactory().get("/", HTTP_HOST="evil.example"))
    assert seen["inside"] == ""


def test_nothing_is_remembered_when_site_url_is_set(settings):
    settings.SITE_URL = "https://clinic.example"
    seen = {}

    def view(request):
        seen["inside"] = site.request_base_url()
        return HttpResponse()

    site.RequestBaseUrlMiddleware(view)(RequestFactory().get("/", HTTP_HOST="localhost:8123"))
    assert seen["inside"] == ""
