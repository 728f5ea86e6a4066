"""The article page cache (articles/caching.py): one stored copy per page a visitor can
get, whatever tracking tags the address carries."""

import pytest
from django.test import Client

from articles import caching, services
from tests.factories import ArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.ARTICLE_PAGE_CACHE_SECONDS = 300


def test_tracking_tags_share_one_stored_copy_of_an_article(client, django_assert_num_queries):
    article = ArticleFactory(title="Sleep better")
    url = article.get_absolute_url()
    assert client.get(url, {"utm_source": "first"}).status_code == 200
    # Every other tag value is served the stored copy: only the content version is read.
    for value in range(50):
        with django_assert_num_queries(1):
            response = client.get(url, {"utm_source": f"news-{value}", "fbclid": value})
        assert "Sleep better" in response.content.decode()
    with django_assert_num_queries(1):
        assert client.get(url).status_code == 200


def test_the_list_is_kept_per_topic_and_page_not_per_tag(client, django_assert_num_queries):
    sleep, stress = TopicFactory(name="Sleep"), TopicFactory(name="Stress")
    ArticleFactory(title="Rest well", topics=[sleep])
    ArticleFactory(title="Unwind", topics=[stress])
    assert "Rest well" in client.get("/articles/", {"topic": "sleep", "utm_campaign": "a"}).content.decode()
    with django_assert_num_queries(1):
        shared = client.get("/articles/", {"utm_campaign": "b", "topic": "sleep"})
    assert "Rest well" in shared.content.decode()
    # Another topic or page is another page: rendered, not taken from the first one.
    other = client.get("/articles/", {"topic": "stress", "utm_campaign": "a"}).content.decode()
    assert "Unwind" in other and "Rest well" not in other
    assert client.get("/articles/", {"topic": "sleep", "page": "2"}).context is not None


def test_paging_links_and_canonical_address_carry_no_tracking_tags(client):
    for i in range(12):
        ArticleFactory(title=f"Article {i}")
    html = client.get("/articles/", {"utm_source": "mail", "page": "2"}).content.decode()
    assert "utm_source" not in html
    assert '<link rel="canonical" href="http://testserver/articles/?page=2">' in html
    # An article's own canonical address never takes the list's parameters.
    article = ArticleFactory()
    detail = client.get(article.get_absolute_url(), {"page": "3", "topic": "x"}).content.decode()
    assert f'<link rel="canonical" href="http://testserver{article.get_absolute_url()}">' in detail


def test_a_page_served_again_by_the_same_process_skips_the_shared_cache(
    client, settings, django_assert_num_queries
):
    # The site's own shared cache, in the database: a hit there is a query of its own.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "clinic_cache"}
    }
    article = ArticleFactory(title="Sleep better")
    url = article.get_absolute_url()
    assert client.get(url).status_code == 200
    # Only the content version is read; the page comes from this process's copy.
    with django_assert_num_queries(1):
        assert "Sleep better" in client.get(url).content.decode()
    # An edit is seen at once: the version in the key changes, in both layers.
    article.title = "Sleep much better"
    article.save()
    assert "Sleep much better" in client.get(url).content.decode()


class FakeClock:
    """A process's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def processes(settings, monkeypatch):
    """Two web processes: each its own PageStore (version memo and recent pages), both in
    front of the same shared cache; ``serve(name, url)`` asks one of them for a page."""
    settings.ARTICLE_PAGE_RECHECK_SECONDS = 1
    # One minute throughout: a new minute would render the page afresh (scheduled articles).
    monkeypatch.setattr(caching, "_minute", lambda: 29_000_000)
    clock = FakeClock()
    stores = {"a": caching.PageStore(clock=clock), "b": caching.PageStore(clock=clock)}

    def serve(name: str, url: str):
        monkeypatch.setattr(caching, "store", stores[name])
        return Client().get(url)

    return clock, serve


def test_within_the_recheck_interval_a_page_served_again_costs_no_query(processes, django_assert_num_queries):
    clock, serve = processes
    url = ArticleFactory(title="Sleep better").get_absolute_url()
    assert serve("a", url).status_code == 200
    with django_assert_num_queries(0):
        for _ in range(20):
            assert "Sleep better" in serve("a", url).content.decode()
    # Once the interval has passed the version is read again: one query, no rendering.
    clock.now += 1
    with django_assert_num_queries(1):
        assert "Sleep better" in serve("a", url).content.decode()


def test_an_edit_shows_on_every_process_within_the_interval(processes):
    clock, serve = processes
    article = ArticleFactory(title="Sleep better")
    url = article.get_absolute_url()
    for name in ("a", "b"):
        assert "Sleep better" in serve(name, url).content.decode()
    article.title = "Sleep much better"
    article.save()  # by a third process, the admin's
    # Inside the interval a process may still serve its own copy (the stated bound);
    # once it has passed, every process shows the edit.
    clock.now += 1
    for name in ("a", "b"):
        assert "Sleep much better" in serve(name, url).content.decode()


def test_a_process_that_has_not_seen_a_page_gets_the_current_one(processes):
    clock, serve = processes
    article = ArticleFactory(title="Sleep better")
    url = article.get_absolute_url()
    assert "Sleep better" in serve("a", url).content.decode()
    article.title = "Sleep much better"
    article.save()
    # Process b reads the version for its first page: the edit, at once.
    assert "Sleep much better" in serve("b", url).content.decode()


def test_an_unpublished_article_leaves_every_process_within_the_interval(processes):
    clock, serve = processes
    article = ArticleFactory(title="Withdrawn advice")
    url = article.get_absolute_url()
    listed = ArticleFactory(title="Still here")
    for name in ("a", "b"):
        assert serve(name, url).status_code == 200
        assert "Withdrawn advice" in serve(name, "/articles/").content.decode()
    services.article_unpublish(articles=[article])
    clock.now += 1
    for name in ("a", "b"):
        assert serve(name, url).status_code == 404
        html = serve(name, "/articles/").content.decode()
        assert "Withdrawn advice" not in html and listed.title in html
    # ... and it stays gone: the 404 was not stored, nor was the draft for anyone.
    assert serve("b", url).status_code == 404


def test_a_draft_previewed_by_staff_is_never_stored_for_visitors(processes, staff_user):
    clock, serve = processes
    article = ArticleFactory(title="Coming soon", status="draft", published_at=None)
    url = article.get_absolute_url()
    staff = Client()
    staff.force_login(staff_user)
    assert "Coming soon" in staff.get(url).content.decode()
    for name in ("a", "b"):
        assert serve(name, url).status_code == 404


def test_a_stored_page_is_answered_before_the_inner_middleware_with_the_same_headers(processes):
    clock, serve = processes
    url = ArticleFactory(title="Sleep better").get_absolute_url()
    fresh = serve("a", url)
    assert fresh.context is not None  # rendered
    stored = serve("a", url)
    assert stored.context is None  # not rendered ...
    assert not hasattr(stored.wsgi_request, "session")  # ... nor seen by the session middleware
    assert stored.content == fresh.content
    # Security headers made afresh (CSP, Permissions-Policy, nosniff ...) and those stored
    # with the page (X-Frame-Options, Content-Length) are all there, as on the first answer.
    assert dict(stored.headers) == dict(fresh.headers)
    for name in (
        "Content-Security-Policy",
        "Permissions-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
    ):
        assert stored.headers[name]


def test_another_process_serves_a_stored_page_from_the_shared_cache(processes, django_assert_num_queries):
    clock, serve = processes
    article = ArticleFactory(title="Sleep better")
    url = article.get_absolute_url()
    fresh = serve("a", url)
    # Changed behind the cache's back (update() keeps the version): b must use a's copy.
    type(article).objects.filter(pk=article.pk).update(title="Written behind the cache")
    with django_assert_num_queries(1):  # b's first version read; the page is a's
        shared = serve("b", url)
    assert shared.content == fresh.content and dict(shared.headers) == dict(fresh.headers)
