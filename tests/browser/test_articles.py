"""A visitor reads about massage, on a phone and on a desktop, in a real Chromium."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import take_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = ["phone", "desktop"]


def assert_no_third_party_requests(page, live_server):
    log = page.request_log
    assert log.urls, "the page made no requests at all; the request log is not wired up"
    assert any("/static/" in url for url in log.urls), "expected the site's own CSS/JS to load"
    assert log.foreign(live_server.url) == [], "requests left the site for a third party"


def open_nav_if_collapsed(page, viewport):
    toggler = page.get_by_role("button", name="Show menu")
    nav_articles = page.locator("#main-nav").get_by_role("link", name="Articles", exact=True)
    if viewport == "phone":
        expect(toggler).to_be_visible()
        expect(nav_articles).to_be_hidden()
        expect(toggler).to_have_attribute("aria-expanded", "false")
        toggler.click()
        expect(toggler).to_have_attribute("aria-expanded", "true")
        # Bootstrap animates the menu open ("collapsing"); it is done once it has "show".
        expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))
        expect(nav_articles).to_be_visible()
        expect(page.locator("#main-nav").get_by_role("link", name="Book", exact=True)).to_be_visible()
        take_screenshot(page, "phone-menu", full_page=False)
    else:
        expect(toggler).to_be_hidden()
        expect(nav_articles).to_be_visible()
    return nav_articles


def wait_for_scroll_to_settle(page):
    """Bootstrap turns on smooth scrolling: wait until the page stops moving."""
    page.evaluate(
        """() => new Promise(resolve => {
            let last = window.scrollY, still = 0;
            const tick = () => {
                if (window.scrollY === last) { if (++still >= 10) return resolve(); }
                else { still = 0; last = window.scrollY; }
                requestAnimationFrame(tick);
            };
            requestAnimationFrame(tick);
        })"""
    )


def assert_no_sideways_scroll(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"


def ld_json_blocks(page) -> list[dict]:
    texts = page.locator('script[type="application/ld+json"]').all_text_contents()
    assert texts, "no JSON-LD on the page"
    blocks = []
    for text in texts:
        try:
            blocks.append(json.loads(text))
        except json.JSONDecodeError as error:
            pytest.fail(f"JSON-LD is not valid JSON ({error}): {text[:120]}…", pytrace=False)
    return blocks


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_visitor_reads_an_article(viewport, request, live_server, articles, axe):
    page = request.getfixturevalue(f"{viewport}_page")
    sleep, stress, back = articles["sleep"], articles["stress"], articles["back"]

    # Home: the promise, the way to book, and the latest articles.
    response = page.goto(live_server.url + "/")
    assert response.status == 200
    expect(page.locator("h1")).to_have_text(re.compile(r"Time to breathe out"))
    book = page.locator("main").get_by_role("link", name="Book a massage").first
    expect(book).to_be_visible()
    expect(book).to_have_attribute("href", "/book/")
    latest = page.locator("section[aria-labelledby=latest-title] .article-card .card-title")
    expect(latest).to_have_text([sleep.title, stress.title, back.title])
    expect(page.get_by_text(articles["draft"].title)).to_have_count(0)
    take_screenshot(page, f"{viewport}-home")
    assert_no_sideways_scroll(page)
    axe(page, f"{viewport} home")

    # To the article list through the main navigation.
    open_nav_if_collapsed(page, viewport).click()
    expect(page).to_have_url(live_server.url + "/articles/")
    expect(page.locator("h1")).to_have_text("The benefits of massage")
    cards = page.locator(".article-card .card-title")
    expect(cards).to_have_count(3)
    expect(page.locator("#main-nav a[aria-current=page]")).to_have_text("Articles")
    take_screenshot(page, f"{viewport}-articles")
    assert_no_sideways_scroll(page)
    axe(page, f"{viewport} article list")

    # Search: one published article mentions insomnia (the draft does too, but is hidden).
    page.get_by_label("Search articles").fill("insomnia")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/articles/\?q=insomnia$"))
    expect(page.get_by_role("status")).to_have_text("1 article matching “insomnia”.")
    expect(cards).to_have_text([sleep.title])
    for other in (stress, back, articles["draft"]):
        expect(page.get_by_role("link", name=other.title)).to_have_count(0)
    take_screenshot(page, f"{viewport}-search")
    assert_no_sideways_scroll(page)

    # The article itself.
    page.get_by_role("link", name=sleep.title).click()
    article_url = live_server.url + sleep.get_absolute_url()
    expect(page).to_have_url(article_url)
    expect(page.locator("h1")).to_have_text(sleep.title)
    expect(page.locator(".article-meta")).to_contain_text(re.compile(r"\b1 min read\b"))
    expect(page.locator(".article-body h2").first).to_have_text("Why it helps")

    references = page.locator("section.references")
    expect(references.get_by_role("heading", name="References")).to_be_visible()
    expect(references.locator("ol > li")).to_have_count(2)
    ref_1 = references.locator("li#ref-1")
    expect(ref_1).to_contain_text("Massage and sleep quality: a review")

    cta = page.locator("aside.book-cta")
    expect(cta.get_by_role("link", name="Book a massage")).to_have_attribute("href", "/book/")

    take_screenshot(page, f"{viewport}-article")
    assert_no_sideways_scroll(page)
    axe(page, f"{viewport} article")

    # The citation marker jumps to its source in the references list.
    citation = page.locator('sup.citation a[href="#ref-1"]')
    expect(citation).to_have_count(1)
    expect(citation).to_have_text("[1]")
    citation.click()
    expect(page).to_have_url(article_url + "#ref-1")
    wait_for_scroll_to_settle(page)
    assert page.evaluate("window.scrollY") > 0, "the page did not scroll to the reference"
    expect(ref_1).to_be_in_viewport(ratio=0.95)  # allow for sub-pixel rounding
    # Near the foot of a short page the browser cannot scroll the reference right to the
    # top; it must be fully on screen (checked above) and not hidden above the top edge.
    top = ref_1.bounding_box()["y"]
    assert top > -1, f"reference 1 is above the top of the screen ({top}px)"
    assert page.evaluate("document.querySelector(':target')?.id") == "ref-1"
    take_screenshot(page, f"{viewport}-citation", full_page=False)  # what the visitor sees after the jump

    assert_no_third_party_requests(page, live_server)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_article_page_metadata(viewport, request, live_server, articles):
    """What search engines and link previews read: canonical URL, description, Open Graph, JSON-LD."""
    page = request.getfixturevalue(f"{viewport}_page")
    sleep = articles["sleep"]
    article_url = live_server.url + sleep.get_absolute_url()
    # Tracking parameters must not end up in the canonical address.
    response = page.goto(article_url + "?utm_source=newsletter")
    assert response.status == 200

    head = page.locator("head")
    expect(head.locator('link[rel="canonical"]')).to_have_attribute("href", article_url)
    expect(head.locator('meta[name="description"]')).to_have_attribute("content", sleep.summary)
    expect(head.locator('meta[property="og:title"]')).to_have_attribute("content", sleep.title)
    expect(head.locator('meta[property="og:type"]')).to_have_attribute("content", "article")

    # Every JSON-LD block must be valid JSON, or search engines ignore it.
    blocks = ld_json_blocks(page)
    article_ld = [block for block in blocks if block.get("@type") == "Article"]
    assert len(article_ld) == 1
    assert article_ld[0]["headline"] == sleep.title
    assert article_ld[0]["mainEntityOfPage"] == article_url
    assert article_ld[0]["citation"] == [
        "Massage and sleep quality: a review",
        "Evening relaxation and sleep onset",
    ]
    assert any(block.get("@type") == "HealthAndBeautyBusiness" for block in blocks)
    assert_no_third_party_requests(page, live_server)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_draft_is_not_found_for_visitors(viewport, request, live_server, articles):
    page = request.getfixturevalue(f"{viewport}_page")
    response = page.goto(live_server.url + articles["draft"].get_absolute_url())
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("We can’t find that page")
    expect(page.get_by_text(articles["draft"].title)).to_have_count(0)
    expect(page.locator('meta[name="robots"]')).to_have_attribute("content", "noindex")
    take_screenshot(page, f"{viewport}-404")
    assert_no_third_party_requests(page, live_server)


def test_skip_link_is_first_and_moves_focus_to_main(desktop_page, live_server, articles):
    page = desktop_page
    page.goto(live_server.url + "/")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).not_to_be_in_viewport()  # parked off-screen until focused

    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    take_screenshot(page, "desktop-skip-link")

    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + "/#main")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab continues from the content, not from the top of the page.
    page.keyboard.press("Tab")
    focused_in_main = page.evaluate("document.querySelector('main').contains(document.activeElement)")
    assert focused_in_main
    assert_no_third_party_requests(page, live_server)


def test_menu_works_on_a_phone_without_javascript(new_page, live_server, articles):
    """The menu button needs JavaScript to open the menu; without it the button did
    nothing and the links were out of reach. Now the links are shown and the button is not."""
    from tests.browser.conftest import PHONE

    page = new_page({**PHONE, "java_script_enabled": False})
    page.goto(live_server.url + "/")
    expect(page.get_by_role("button", name="Show menu")).to_be_hidden()
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Home", "Articles", "Book"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    take_screenshot(page, "phone-nojs-menu", full_page=False)
    assert_no_sideways_scroll(page)
    nav.get_by_role("link", name="Articles", exact=True).click()
    expect(page).to_have_url(live_server.url + "/articles/")
    nav.get_by_role("link", name="Book", exact=True).click()
    expect(page).to_have_url(live_server.url + "/book/")
    # With JavaScript the button is there and opens the menu, as before.
    page = new_page(PHONE)
    page.goto(live_server.url + "/")
    open_nav_if_collapsed(page, "phone")
