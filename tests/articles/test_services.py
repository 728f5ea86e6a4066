import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from articles import services
from articles.choices import ArticleStatus
from articles.importers import parse_markdown, parse_text
from articles.models import Article
from tests.conftest import make_image_bytes
from tests.factories import ArticleFactory, DraftArticleFactory

pytestmark = pytest.mark.django_db


def test_publish_sets_date_but_keeps_a_scheduled_one():
    draft = DraftArticleFactory()
    later = timezone.now() + timedelta(days=5)
    scheduled = DraftArticleFactory(published_at=later)
    assert services.article_publish(articles=[draft, scheduled]) == 2
    draft.refresh_from_db()
    scheduled.refresh_from_db()
    assert draft.status == scheduled.status == ArticleStatus.PUBLISHED
    assert draft.published_at is not None
    assert scheduled.published_at == later


def test_unpublish():
    article = ArticleFactory()
    services.article_unpublish(articles=[article])
    article.refresh_from_db()
    assert article.status == ArticleStatus.DRAFT
    assert not Article.objects.published().exists()


def test_renditions_are_webp_at_configured_widths_and_replace_old_ones(django_capture_on_commit_callbacks):
    article = ArticleFactory(hero_image_alt="Pebbles")
    article.hero_image.save("hero.jpg", ContentFile(make_image_bytes("JPEG", (1000, 500))))
    renditions = services.article_renditions_build(article=article)
    # 1200 is wider than the original, so it is not made.
    assert [r["width"] for r in renditions] == [480, 800]
    assert renditions[0]["height"] == 240
    assert all(default_storage.exists(r["name"]) and r["name"].endswith(".webp") for r in renditions)
    article.refresh_from_db()
    assert article.hero_renditions == renditions
    assert "480w" in article.hero_srcset and "800w" in article.hero_srcset
    first = renditions
    article.hero_image.save("other.png", ContentFile(make_image_bytes("PNG", (1300, 600))))
    with django_capture_on_commit_callbacks() as callbacks:
        second = services.article_renditions_build(article=article)
    assert [r["width"] for r in second] == [480, 800, 1200]
    # The old ones go only once the change is committed: a rollback would still show them.
    assert all(default_storage.exists(r["name"]) for r in first)
    for callback in callbacks:
        callback()
    assert not any(default_storage.exists(r["name"]) for r in first)


@pytest.mark.parametrize(
    ("fmt", "size", "sizes"),
    [
        ("JPEG", (4000, 3000), [(480, 640), (800, 1067), (1200, 1600)]),
        ("PNG", (5000, 3000), [(480, 800), (800, 1333), (1200, 2000)]),
    ],
)
def test_renditions_of_a_large_photo_keep_its_shape_and_orientation(fmt, size, sizes):
    from PIL import Image

    article = ArticleFactory(hero_image_alt="Stones")
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the camera on its side: shown turned 90° clockwise
    Image.new("RGB", size, (90, 120, 100)).save(buffer, fmt, exif=exif)
    article.hero_image.save("big.jpg", ContentFile(buffer.getvalue()))
    renditions = services.article_renditions_build(article=article)
    assert [(r["width"], r["height"]) for r in renditions] == sizes
    with Image.open(default_storage.open(renditions[-1]["name"])) as largest:
        assert largest.size == sizes[-1]


def test_import_creates_a_draft_then_updates_without_duplicating():
    parsed = parse_text("A Title\n\nFirst paragraph.")
    article, action = services.article_import(parsed=parsed, source="a.txt")
    assert action == "created" and article.status == ArticleStatus.DRAFT
    again, action = services.article_import(parsed=parse_text("A Title\n\nFirst paragraph."), source="a.txt")
    assert action == "unchanged" and again.pk == article.pk
    changed, action = services.article_import(parsed=parse_text("A New Title\n\nEdited."), source="a.txt")
    assert action == "updated" and changed.pk == article.pk
    assert Article.objects.count() == 1
    changed.refresh_from_db()
    assert changed.title == "A New Title"
    # The web address stays put, so links to the article keep working.
    assert changed.slug == "a-title"


def test_import_publish_and_reimport_keeps_staff_status():
    parsed = parse_markdown(
        "---\ntitle: T\ntopics: Sleep, Stress\n---\nBody [1].\n\n## References\n\n1. Src https://e.org/x\n"
    )
    article, _ = services.article_import(parsed=parsed, source="t.md", publish=True)
    assert article.is_live
    assert sorted(t.name for t in article.topics.all()) == ["Sleep", "Stress"]
    assert list(article.references.values_list("number", "url")) == [(1, "https://e.org/x")]
    services.article_unpublish(articles=[article])
    services.article_import(parsed=parsed, source="t.md")
    article.refresh_from_db()
    assert article.status == ArticleStatus.DRAFT


def test_import_links_named_techniques_and_reports_unknown_ones():
    parsed = parse_markdown("---\ntitle: T2\ntechniques: swedish, reiki\n---\nBody.\n")
    article, _ = services.article_import(parsed=parsed, source="t2.md")
    assert [t.slug for t in article.techniques.all()] == ["swedish"]
    assert any("reiki" in w for w in parsed.warnings)
