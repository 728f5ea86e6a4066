"""Fixtures for browser tests: a real Chromium (Debian's, at /usr/bin/chromium) driven by Playwright.

Run with ``pytest -m browser tests/browser``. The tests talk to pytest-django's
``live_server``; the data they read is made with the factories, so they need
``transactional_db`` (the live server runs in another thread and cannot see data
inside the test's transaction).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an asyncio loop in this thread; Django would otherwise refuse
# ORM calls from the tests (SynchronousOnlyOperation). Must be set before any query runs.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_DIR = Path(__file__).resolve().parent
SCREENSHOT_DIR = BROWSER_DIR / "screenshots"

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Before "-m" deselection runs: every test in this folder is a browser test.
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Chromium at {CHROMIUM}, and it is not there. "
            "Install it with `apt-get install chromium` (do not use `playwright install`).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class RequestLog:
    """Every URL a page asks for, so tests can check none goes to a third party."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, request) -> None:
        self.urls.append(request.url)

    def foreign(self, live_server_url: str) -> list[str]:
        own = urlsplit(live_server_url).netloc
        return [
            url
            for url in self.urls
            if urlsplit(url).scheme not in {"data", "blob", "about"} and urlsplit(url).netloc != own
        ]


class PolicyViolations:
    """Console messages about anything the Content-Security-Policy blocked (an inline
    script or style, a foreign source): every page must be free of them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.messages.append(f"{message.location.get('url', '')}: {message.text}")


def _new_page(browser, options: dict):
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log = RequestLog()
    page.on("request", log)
    page.request_log = log
    violations = PolicyViolations()
    page.on("console", violations)
    page.policy_violations = violations
    return context, page


def _close(context, page) -> None:
    messages = page.policy_violations.messages
    context.close()
    assert messages == [], "The Content-Security-Policy blocked something:\n" + "\n".join(messages)


@pytest.fixture
def desktop_page(browser, live_server):
    context, page = _new_page(browser, DESKTOP)
    yield page
    _close(context, page)


@pytest.fixture
def phone_page(browser, live_server):
    context, page = _new_page(browser, PHONE)
    yield page
    _close(context, page)


@pytest.fixture
def nojs_page(browser, live_server):
    """A desktop page with JavaScript turned off: everything must still work from links and forms."""
    context, page = _new_page(browser, {**DESKTOP, "java_script_enabled": False})
    yield page
    _close(context, page)


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(options=DESKTOP)``: a page in a browser context of its own (its own cookies
    and session), for tests that need several visitors at once. All are closed afterwards."""
    opened = []

    def make(options: dict | None = None):
        context, page = _new_page(browser, options or DESKTOP)
        opened.append((context, page))
        return page

    yield make
    messages = [message for _context, page in opened for message in page.policy_violations.messages]
    for context, _page in opened:
        context.close()
    assert messages == [], "The Content-Security-Policy blocked something:\n" + "\n".join(messages)


def take_screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG (full page unless told otherwise) under tests/browser/screenshots/ (git-ignored)."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    path = SCREENSHOT_DIR / (name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def screenshot():
    return take_screenshot


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's source, downloaded (pinned, integrity-checked, cached on disk) once per session."""
    from tests.browser.axe import axe_source

    return axe_source()


@pytest.fixture
def axe(axe_script):
    """``axe(page, label)``: fail on serious or critical accessibility violations on the page."""
    from tests.browser.axe import assert_accessible

    return assert_accessible


@pytest.fixture
def articles(transactional_db):
    """Three published articles with topics and references, and one draft."""
    from articles.choices import ArticleStatus
    from tests.factories import ArticleFactory, ReferenceFactory, TopicFactory

    sleep = TopicFactory(name="Sleep", slug="sleep")
    stress = TopicFactory(name="Stress", slug="stress")
    back = TopicFactory(name="Back pain", slug="back-pain")

    sleep_article = ArticleFactory(
        title="Sleep more soundly after a massage",
        slug="sleep-more-soundly",
        summary="How a calm hour on the table can help you fall asleep.",
        body=(
            "## Why it helps\n\n"
            "Many people who struggle with insomnia fall asleep faster after massage [1].\n\n"
            "## What to expect\n\n"
            "A slow, gentle session in the evening works best for most clients [2].\n"
        ),
        topics=[sleep, stress],
    )
    ReferenceFactory(article=sleep_article, number=1, title="Massage and sleep quality: a review")
    ReferenceFactory(article=sleep_article, number=2, title="Evening relaxation and sleep onset")

    stress_article = ArticleFactory(
        title="Massage for everyday stress",
        slug="everyday-stress",
        summary="Tension builds up in the shoulders; massage lets it go.",
        body="## Less tension\n\nMassage may lower cortisol after a busy week [1].\n",
        topics=[stress],
    )
    ReferenceFactory(article=stress_article, number=1, title="Cortisol after massage therapy")

    back_article = ArticleFactory(
        title="Easing lower back pain",
        slug="lower-back-pain",
        summary="Deep tissue work for the muscles that hold you up all day.",
        body="## The muscles involved\n\nMassage may ease lower back pain in the short term [1].\n",
        topics=[back],
    )
    ReferenceFactory(article=back_article, number=1, title="Massage for low-back pain")

    draft = ArticleFactory(
        title="Secret draft about insomnia",
        slug="secret-draft",
        summary="Not ready yet.",
        body="Insomnia notes, not for visitors [1].\n",
        status=ArticleStatus.DRAFT,
        published_at=None,
        topics=[sleep],
    )
    ReferenceFactory(article=draft, number=1, title="Draft source")

    return {"sleep": sleep_article, "stress": stress_article, "back": back_article, "draft": draft}
