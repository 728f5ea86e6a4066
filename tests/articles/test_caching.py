"""The article page cache (articles/caching.py): one stored copy per page a visitor can
get, whatever tracking tags the address carries."""

import pytest

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
