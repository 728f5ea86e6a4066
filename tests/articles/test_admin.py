import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from articles.choices import ArticleStatus
from articles.models import Article
from tests.conftest import make_image_bytes
from tests.factories import ArticleFactory, DraftArticleFactory, TopicFactory

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "title": "New article",
        "slug": "new-article",
        "summary": "Short summary.",
        "body": "Body text [1].",
        "hero_image_alt": "",
        "status": ArticleStatus.DRAFT,
        "published_at_0": "",
        "published_at_1": "",
        "author_name": "The clinic team",
        "references-TOTAL_FORMS": "1",
        "references-INITIAL_FORMS": "0",
        "references-MIN_NUM_FORMS": "0",
        "references-MAX_NUM_FORMS": "1000",
        "references-0-number": "1",
        "references-0-title": "A source",
        "references-0-url": "https://example.org/a",
    }
    data.update(overrides)
    return data


def test_changelist_shows_status_topics_and_filters(staff_client, django_assert_max_num_queries):
    topic = TopicFactory(name="Sleep")
    for _ in range(20):
        ArticleFactory(topics=[topic])
    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse("admin:articles_article_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sleep" in html and "Published" in html
    assert staff_client.get(reverse("admin:articles_article_changelist"), {"q": "benefit"}).status_code == 200


def test_add_article_with_reference_and_image_builds_renditions(staff_client):
    image = SimpleUploadedFile("hero.jpg", make_image_bytes("JPEG", (1300, 700)), content_type="image/jpeg")
    response = staff_client.post(
        reverse("admin:articles_article_add"),
        form_data(hero_image=image, hero_image_alt="Hands on a shoulder"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article = Article.objects.get(slug="new-article")
    assert article.references.get().url == "https://example.org/a"
    assert [r["width"] for r in article.hero_renditions] == [480, 800, 1200]


def test_image_without_alt_text_is_a_form_error_not_a_crash(staff_client):
    image = SimpleUploadedFile("hero.jpg", make_image_bytes(), content_type="image/jpeg")
    response = staff_client.post(reverse("admin:articles_article_add"), form_data(hero_image=image))
    assert response.status_code == 200
    assert "Describe the image for people who cannot see it." in response.content.decode()
    assert not Article.objects.exists()


def test_non_image_upload_is_a_form_error(staff_client):
    fake = SimpleUploadedFile("hero.jpg", b"not an image at all", content_type="image/jpeg")
    response = staff_client.post(
        reverse("admin:articles_article_add"), form_data(hero_image=fake, hero_image_alt="x")
    )
    assert response.status_code == 200
    assert not Article.objects.exists()


def test_duplicate_reference_number_is_a_form_error(staff_client):
    data = form_data(
        **{
            "references-TOTAL_FORMS": "2",
            "references-1-number": "1",
            "references-1-title": "Same number",
            "references-1-url": "",
        }
    )
    response = staff_client.post(reverse("admin:articles_article_add"), data)
    assert response.status_code == 200
    assert not Article.objects.exists()


def test_publish_and_unpublish_actions(staff_client):
    drafts = [DraftArticleFactory() for _ in range(2)]
    url = reverse("admin:articles_article_changelist")
    staff_client.post(url, {"action": "publish", "_selected_action": [a.pk for a in drafts]})
    assert Article.objects.published().count() == 2
    staff_client.post(url, {"action": "unpublish", "_selected_action": [drafts[0].pk]})
    assert Article.objects.published().count() == 1
