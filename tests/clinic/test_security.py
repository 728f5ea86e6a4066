"""Security headers (clinic/security.py): Content-Security-Policy and Permissions-Policy
on every response, and public pages that need no inline script or style."""

from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import HEALTH_NO, ArticleFactory, ReferenceFactory, TherapistFactory, TopicFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=LONDON)
START = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
# Script types a browser runs; anything else (JSON-LD) is a data block CSP never applies to.
RUNNABLE_SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


class InlineFinder(HTMLParser):
    """Collects what a strict policy (no 'unsafe-inline') would block: inline scripts,
    <style> elements and style or on* attributes, unless they carry a nonce."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        nonce = "nonce" in attributes
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "style" and not nonce:
            self.found.append("<style> element")
        if tag == "script":
            kind = (attributes.get("type") or "").strip().lower()
            runnable = kind in RUNNABLE_SCRIPT_TYPES
            self._script = "" if runnable and not attributes.get("src") and not nonce else None

    def handle_data(self, data):
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.found.append(f"inline <script>{self._script[:60]!r}")
            self._script = None


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def test_the_finder_spots_what_a_strict_policy_blocks():
    assert inline_code('<script type="application/ld+json">{"a": 1}</script>') == []
    assert inline_code('<script src="/static/x.js"></script><script nonce="n">ok()</script>') == []
    assert len(inline_code("<script>alert(1)</script>")) == 1
    assert len(inline_code('<div style="color:red" onclick="x()"><style>p{}</style></div>')) == 3
    assert len(inline_code('<a href="javascript:alert(1)">x</a>')) == 1


@pytest.fixture
def public_pages(monkeypatch, swedish):
    """Every kind of public page, as a visitor gets it: (name, response)."""
    monkeypatch.setattr(timezone, "now", lambda: NOW.astimezone(UTC))
    topic = TopicFactory(name="Sleep")
    article = ArticleFactory(topics=[topic], body="## Why\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\nCited [1].")
    ReferenceFactory(article=article, number=1)
    anna = TherapistFactory(name="Anna Price", slug="anna", techniques=[swedish])
    appointment = appointments.appointment_book(
        technique=swedish,
        length=swedish.lengths.get(duration_minutes=60),
        start=START,
        therapist=anna,
        client=appointments.ClientDetails("Olivia Brown", "olivia@example.com", "07700 900101"),
        notify=False,
    )
    choice = {"length": 60, "therapist": "any", "start": datetime(2026, 11, 25, 11, 0, tzinfo=LONDON)}
    client = Client()
    urls = {
        "home": "/",
        "article list": "/articles/?topic=sleep",
        "article": article.get_absolute_url(),
        "techniques": reverse("booking:technique-list"),
        "technique": reverse("booking:technique-detail", args=["swedish"]),
        "times": reverse("booking:times", args=["swedish"]) + "?length=60&therapist=any",
        "details": reverse("booking:details", args=["swedish"]) + "?" + urlencode(choice),
        "confirmed": reverse("booking:appointment-confirmed", args=[appointment.manage_token]),
        "manage": reverse("booking:appointment-manage", args=[appointment.manage_token]),
        "reschedule": reverse("booking:appointment-reschedule", args=[appointment.manage_token]),
        "not found": "/no/such/page/",
    }
    pages = {name: client.get(url) for name, url in urls.items()}
    details = {
        "name": "Olivia Brown",
        "email": "olivia@example.com",
        "phone": "07700 900101",
        **HEALTH_NO,
        "agree_policy": "on",
        "consent_name": "Olivia Brown",
    }
    review = client.post(urls["details"], details)
    assert review.status_code == 302, review.content.decode()[:500]
    pages["review"] = client.get(review["Location"])
    pages["details with errors"] = client.post(urls["details"], {"name": ""})
    return pages


def test_every_public_page_has_the_strict_policy_and_no_inline_code(public_pages):
    for name, response in public_pages.items():
        assert response.status_code in (200, 404) or name == "details with errors", name
        policy = directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], name
        assert policy["style-src"] == ["'self'"], name
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], name
        assert "camera=()" in response["Permissions-Policy"], name
        assert inline_code(response.content.decode()) == [], name


def test_no_public_template_holds_inline_code():
    """Every public template, including pages the test above does not reach (the 429
    page, the cancel and move confirmations): their source has no inline code either.
    Emails are not web pages, and the admin has its own policy."""
    from django.conf import settings

    root = settings.BASE_DIR / "templates"
    public = [
        path
        for path in root.rglob("*.html")
        if path.relative_to(root).parts[0] != "admin" and "email" not in path.relative_to(root).parts
    ]
    assert len(public) > 20
    found = {str(path.relative_to(root)): inline_code(path.read_text()) for path in public}
    assert {name: code for name, code in found.items() if code} == {}


def test_the_500_page_has_no_inline_code(rf):
    from clinic.urls import handler500

    assert inline_code(handler500(rf.get("/")).content.decode()) == []


def test_headers_on_the_admin_with_style_attributes_allowed_but_no_inline_script(staff_client):
    for url in ("/admin/login/", "/admin/", reverse("admin:booking_schedule")):
        response = Client().get(url) if url == "/admin/login/" else staff_client.get(url)
        assert response.status_code == 200, url
        policy = directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src-attr"] == ["'unsafe-inline'"] and policy["style-src-elem"] == ["'self'"]
        assert "geolocation=()" in response["Permissions-Policy"]
        blocked = [found for found in inline_code(response.content.decode()) if " style=" not in found]
        assert blocked == [], url


def test_headers_on_files_and_errors_too(client):
    for response in (client.get("/robots.txt"), client.get("/sitemap.xml"), client.get("/nothing/")):
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert response["Permissions-Policy"].startswith("accelerometer=()")
