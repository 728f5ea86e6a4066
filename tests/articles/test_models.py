from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils import timezone

from articles.choices import ArticleStatus
from articles.models import Article
from tests.conftest import make_image_bytes
from tests.factories import ArticleFactory, DraftArticleFactory, ReferenceFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_published_excludes_drafts_and_scheduled():
    live = ArticleFactory()
    DraftArticleFactory()
    ArticleFactory(published_at=timezone.now() + timedelta(days=3))
    assert list(Article.objects.published()) == [live]


def test_visible_to_staff_includes_drafts_but_not_for_visitors(rf):
    ArticleFactory()
    DraftArticleFactory()
    assert Article.objects.visible_to(StaffFactory()).count() == 2
    assert Article.objects.visible_to(UserFactory()).count() == 1


def test_search_covers_title_summary_and_body():
    a = ArticleFactory(title="Sleep better")
    b = ArticleFactory(summary="About lymphocytes")
    c = ArticleFactory(body="The parasympathetic system calms you.")
    assert list(Article.objects.search("sleep")) == [a]
    assert list(Article.objects.search("LYMPHO")) == [b]
    assert list(Article.objects.search("parasympathetic")) == [c]
    assert Article.objects.search("   ").count() == 3


def test_image_needs_alt_text():
    article = ArticleFactory.build(hero_image=SimpleUploadedFile("a.jpg", make_image_bytes()))
    with pytest.raises(ValidationError) as info:
        article.full_clean()
    assert "hero_image_alt" in info.value.message_dict


def test_publishing_without_a_date_means_now():
    article = DraftArticleFactory.build()
    article.status = ArticleStatus.PUBLISHED
    article.clean()
    assert article.published_at is not None
    assert abs((timezone.now() - article.published_at).total_seconds()) < 5


def test_reading_time_rounds_to_whole_minutes_and_is_at_least_one():
    assert ArticleFactory.build(body="word " * 10).reading_minutes == 1
    assert ArticleFactory.build(body="word " * 1000).reading_minutes == 5


def test_body_html_links_citations_to_existing_references():
    article = ArticleFactory(body="Helps [1], maybe [2].")
    ReferenceFactory(article=article, number=1)
    article = Article.objects.prefetch_related("references").get(pk=article.pk)
    assert 'href="#ref-1"' in article.body_html
    assert "#ref-2" not in article.body_html


def test_reference_numbers_are_unique_per_article():
    article = ArticleFactory()
    ReferenceFactory(article=article, number=1)
    with pytest.raises(IntegrityError):
        ReferenceFactory(article=article, number=1)


def test_slug_is_unique():
    ArticleFactory(slug="same")
    with pytest.raises(IntegrityError):
        ArticleFactory(slug="same")
