import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone

from articles.views import ArticleDetailView, ArticleListView
from tests.factories import (
    ArticleFactory,
    DraftArticleFactory,
    ReferenceFactory,
    TherapistFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db


def make_articles(n: int, topics_each: int = 3, refs_each: int = 3):
    topics = [TopicFactory(name=f"Topic {i}") for i in range(max(topics_each, 1) * 2)]
    articles = []
    for i in range(n):
        article = ArticleFactory(topics=topics[i % 2 : i % 2 + topics_each])
        for number in range(1, refs_each + 1):
            ReferenceFactory(article=article, number=number)
        articles.append(article)
    return articles


def test_url_names_resolve():
    assert reverse("articles:article-list") == "/articles/"
    assert reverse("articles:article-detail", kwargs={"slug": "x"}) == "/articles/x/"
    assert reverse("articles:article-feed") == "/articles/feed/"
    assert resolve("/articles/").func.view_class is ArticleListView
    assert resolve("/articles/sleep/").func.view_class is ArticleDetailView


def test_list_shows_published_newest_first_ten_a_page(client):
    old = ArticleFactory(title="Oldest", published_at=timezone.now() - timedelta(days=30))
    for _ in range(10):
        ArticleFactory()
    DraftArticleFactory(title="Secret draft")
    ArticleFactory(title="Future piece", published_at=timezone.now() + timedelta(days=1))
    response = client.get("/articles/")
    assert response.status_code == 200
    page = response.context["articles"]
    assert len(page) == 10
    assert old not in page
    html = response.content.decode()
    assert "Secret draft" not in html and "Future piece" not in html
    assert response.context["paginator"].count == 11
    second = client.get("/articles/?page=2")
    assert list(second.context["articles"]) == [old]


def test_list_filters_by_topic_and_searches(client):
    sleep = TopicFactory(name="Sleep")
    a = ArticleFactory(title="Rest well", topics=[sleep])
    b = ArticleFactory(title="Circulation basics", body="blood flow")
    response = client.get("/articles/", {"topic": "sleep"})
    assert list(response.context["articles"]) == [a]
    assert response.context["topic"] == sleep
    response = client.get("/articles/", {"q": "blood"})
    assert list(response.context["articles"]) == [b]
    assert "1 article matching" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["?page=abc", "?page=99999", "?page=-1", "?page=", "?q=" + "x" * 5000, "?q=%00%ff", "?q=<script>"],
)
def test_list_bad_input_gives_a_normal_page(client, query):
    article = ArticleFactory()
    response = client.get("/articles/" + query)
    assert response.status_code == 200
    if "page" in query:
        # Not a number, or past the end: the nearest real page, never an error.
        assert list(response.context["articles"]) == [article]


def test_search_text_is_escaped_and_cut(client):
    response = client.get("/articles/", {"q": "<script>alert(1)</script>"})
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    long = client.get("/articles/", {"q": "y" * 5000})
    assert long.context["query"] == "y" * 200


def test_unknown_topic_and_slug_are_404_with_the_site_page(client):
    assert client.get("/articles/?topic=%00").status_code == 404
    assert client.get("/articles/?topic=a%20b").status_code == 404
    response = client.get("/articles/?topic=not-a-topic")
    assert response.status_code == 404
    assert "We can’t find that page" in response.content.decode()
    assert client.get("/articles/no-such-article/").status_code == 404
    assert client.get("/articles/" + "a" * 300 + "/").status_code == 404


def test_detail_page_content_and_metadata(client):
    topic = TopicFactory(name="Stress")
    article = ArticleFactory(
        title="Calm at last",
        summary="How massage settles the nervous system.",
        topics=[topic],
        body="## Rest and digest\n\nMassage may calm you [1]. " + "word " * 400,
    )
    ReferenceFactory(article=article, number=1, title="A calm study", url="https://example.org/calm")
    related = ArticleFactory(title="Related one", topics=[topic])
    ArticleFactory(title="Another")
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Calm at last · " in html
    assert '<meta name="description" content="How massage settles the nervous system.">' in html
    assert f'<link rel="canonical" href="http://testserver{article.get_absolute_url()}">' in html
    assert '<meta property="og:title" content="Calm at last">' in html
    assert '<meta property="og:type" content="article">' in html
    assert "2 min read" in html
    assert "<h2>Rest and digest</h2>" in html
    assert 'href="#ref-1"' in html and 'id="ref-1"' in html
    assert 'href="https://example.org/calm"' in html
    assert "Book a massage" in html
    assert response.context["related"][0] == related
    assert len(response.context["related"]) == 2
    blocks = [b.split("</script>")[0] for b in html.split('<script type="application/ld+json">')[1:]]
    article_ld = [json.loads(b) for b in blocks if '"Article"' in b][0]
    assert article_ld["headline"] == "Calm at last"
    assert article_ld["citation"] == ["A calm study"]


def test_drafts_and_scheduled_are_404_for_visitors_but_shown_to_staff(staff_user):
    client, staff_client = Client(), Client()
    staff_client.force_login(staff_user)
    draft = DraftArticleFactory(title="Work in progress")
    scheduled = ArticleFactory(published_at=timezone.now() + timedelta(days=2))
    for article in (draft, scheduled):
        assert client.get(article.get_absolute_url()).status_code == 404
        response = staff_client.get(article.get_absolute_url())
        assert response.status_code == 200
        assert "only staff can see this page" in response.content.decode()
        assert '<meta name="robots" content="noindex">' in response.content.decode()


@pytest.mark.parametrize("count", [2, 30])
def test_list_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries, count):
    make_articles(count)
    # Content version (for the page cache), count, page, topics, topic menu.
    with django_assert_max_num_queries(5):
        assert client.get("/articles/").status_code == 200
    with django_assert_max_num_queries(5):
        assert client.get("/articles/", {"topic": "topic-1", "q": "massage"}).status_code == 200


@pytest.mark.parametrize("count", [2, 30])
def test_detail_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries, count):
    articles = make_articles(count, refs_each=count)
    # Content version, article, topics, references, techniques, related and their topics.
    with django_assert_max_num_queries(7):
        assert client.get(articles[0].get_absolute_url()).status_code == 200


@pytest.mark.parametrize("count", [2, 30])
def test_home_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries, count):
    make_articles(count)
    with django_assert_max_num_queries(2):
        response = client.get("/")
    assert response.status_code == 200
    assert len(response.context["latest_articles"]) == min(count, 3)


def test_call_to_action_links_to_the_articles_techniques(client):
    from booking.models import Technique

    article = ArticleFactory()
    article.techniques.set(Technique.objects.filter(slug__in=["swedish", "shiatsu", "deep-tissue"]))
    # Deep tissue is mentioned but nobody taking bookings offers it: no link to a dead end.
    TherapistFactory(techniques=Technique.objects.filter(slug__in=["swedish", "shiatsu"]))
    html = client.get(article.get_absolute_url()).content.decode()
    assert 'href="/book/swedish/"' in html and 'href="/book/shiatsu/"' in html
    assert 'href="/book/deep-tissue/"' not in html
    assert "mentions Swedish and Shiatsu massage" in html  # their own case, not "swedish"
    assert ">Book Swedish</a>" in html and ">Book Shiatsu</a>" in html


def test_visitors_get_a_cached_copy_until_the_content_changes(client, settings, django_assert_num_queries):
    settings.ARTICLE_PAGE_CACHE_SECONDS = 300
    article = ArticleFactory(title="First title")
    assert "First title" in client.get(article.get_absolute_url()).content.decode()
    with django_assert_num_queries(1):  # only the content version
        again = client.get(article.get_absolute_url())
    assert "First title" in again.content.decode()
    article.title = "Edited title"
    article.save()
    assert "Edited title" in client.get(article.get_absolute_url()).content.decode()


def test_staff_and_searches_are_never_served_from_the_cache(staff_user, settings):
    settings.ARTICLE_PAGE_CACHE_SECONDS = 300
    draft = DraftArticleFactory(title="Staff only")
    staff = Client()
    staff.force_login(staff_user)
    assert staff.get(draft.get_absolute_url()).status_code == 200
    assert Client().get(draft.get_absolute_url()).status_code == 404
    ArticleFactory(title="Rest well")
    assert "Rest well" in Client().get("/articles/", {"q": "rest"}).content.decode()
    assert "Rest well" not in Client().get("/articles/", {"q": "nothing"}).content.decode()
