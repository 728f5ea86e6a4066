import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def test_home_has_hero_latest_articles_and_booking_call_to_action(client):
    ArticleFactory(title="Sleep and massage")
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1" in html and "Book a massage" in html
    assert "Sleep and massage" in html
    assert 'href="#main"' in html and "Skip to content" in html
    assert reverse("booking:technique-list") in html


def test_base_layout_has_navigation_footer_and_local_bootstrap(client, settings):
    html = client.get("/").content.decode()
    for label in ("Home", "Articles", "Book"):
        assert f">{label}</a>" in html
    assert settings.CLINIC["address"] in html and settings.CLINIC["phone"] in html
    assert "Opening hours" in html
    assert "/static/bootstrap/css/bootstrap.min.css" in html
    # Nothing is fetched from other sites: no CDN, no web fonts, no trackers.
    assert "cdn" not in html.lower() and "googleapis" not in html


def test_admin_link_only_for_staff(staff_user):
    visitor, staff = Client(), Client()
    staff.force_login(staff_user)
    assert 'href="/admin/"' not in visitor.get("/").content.decode()
    assert 'href="/admin/"' in staff.get("/").content.decode()


def test_404_page_in_site_look(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We can’t find that page" in html and "site-header" in html


def test_500_page_renders_without_a_request_context(rf):
    from clinic.urls import handler500

    response = handler500(rf.get("/"))
    assert response.status_code == 500
    assert "Sorry, something went wrong" in response.content.decode()


def _break_the_home_page(monkeypatch):
    from clinic.views import HomeView

    def broken(self, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(HomeView, "get_context_data", broken)
    return Client(raise_request_exception=False)


def test_500_page_claims_staff_were_told_only_when_admins_get_the_email(monkeypatch, settings, mailoutbox):
    client = _break_the_home_page(monkeypatch)
    settings.ADMINS = []
    response = client.get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "have been told" not in html and "recorded" in html
    assert mailoutbox == []
    settings.ADMINS = [("Clinic admin", "it@example.com")]
    response = client.get("/")
    assert response.status_code == 500
    assert "Our staff have been told about it." in response.content.decode()
    assert [m.to for m in mailoutbox] == [["it@example.com"]]


def test_static_files_are_served_by_whitenoise_in_production_storage(settings):
    assert settings.STORAGES["staticfiles"]["BACKEND"] != ""
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


@pytest.mark.parametrize("path", ["a" * 300, "therapists/" + "a" * 300, "a" * 200 + "/" + "b" * 256])
def test_media_names_longer_than_the_file_system_allows_are_404(client, settings, path):
    (settings.MEDIA_ROOT / "therapists").mkdir(parents=True)
    assert client.get(f"/media/{path}").status_code == 404


def test_media_files_are_still_served(client, settings):
    (settings.MEDIA_ROOT / "therapists").mkdir(parents=True)
    (settings.MEDIA_ROOT / "therapists" / "photo.txt").write_text("hello")
    response = client.get("/media/therapists/photo.txt")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"


def test_a_form_sent_without_its_security_token_gets_a_page_in_the_sites_look(db):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(reverse("booking:technique-list"), {"anything": "1"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Please try that again" in html and "Nothing was booked or changed" in html
    assert "01227 123 456" in html
    # The site's own page: no inline style for the Content-Security-Policy to refuse.
    assert "<style" not in html and "Content-Security-Policy" in response.headers


def test_a_request_for_an_unknown_host_gets_the_400_page(db):
    response = Client(HTTP_HOST="evil.example").get("/")
    assert response.status_code == 400
    assert "We couldn’t understand that request" in response.content.decode()
