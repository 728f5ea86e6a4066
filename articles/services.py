"""Writes for articles: publishing, hero image renditions, references."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from clinic import uploads

from .choices import ArticleStatus
from .models import Article, Reference


def article_publish(*, articles: Iterable[Article], now=None) -> int:
    """Publish articles; ones already scheduled keep their date."""
    now = now or timezone.now()
    count = 0
    for article in articles:
        article.status = ArticleStatus.PUBLISHED
        if article.published_at is None:
            article.published_at = now
        article.save(update_fields=["status", "published_at", "updated_at"])
        count += 1
    return count


def article_unpublish(*, articles: Iterable[Article]) -> int:
    count = 0
    for article in articles:
        article.status = ArticleStatus.DRAFT
        article.save(update_fields=["status", "updated_at"])
        count += 1
    return count


def article_references_set(*, article: Article, references: list[tuple[int, str, str]]) -> None:
    """Replace an article's references with (number, title, url) triples."""
    with transaction.atomic():
        article.references.all().delete()
        Reference.objects.bulk_create(
            Reference(article=article, number=n, title=title[:300], url=url[:500])
            for n, title, url in references
        )
    article.__dict__.pop("reference_list", None)
    article.__dict__.pop("body_html", None)


def article_renditions_build(*, article: Article) -> list[dict]:
    """Make resized WebP copies of the hero image, so pages can offer a srcset.

    Widths wider than the original are skipped: upscaling only adds bytes.
    """
    old = article.hero_renditions or []
    renditions: list[dict] = []
    if article.hero_image:
        article.hero_image.open("rb")
        try:
            with Image.open(article.hero_image) as original:
                image = _decoded_for_width(original, max(settings.ARTICLE_RENDITION_WIDTHS))
        finally:
            article.hero_image.close()
        stem = PurePath(article.hero_image.name).stem
        widths = [w for w in settings.ARTICLE_RENDITION_WIDTHS if w <= image.width] or [image.width]
        for width in widths:
            height = round(image.height * width / image.width)
            resized = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
            buffer = io.BytesIO()
            resized.save(buffer, "WEBP", quality=80, method=4)
            name = default_storage.save(
                f"articles/renditions/{stem}-{width}.webp", ContentFile(buffer.getvalue())
            )
            renditions.append({"width": width, "height": height, "name": name})
    kept = {r["name"] for r in renditions}
    # After the commit: if the edit is rolled back, the article still shows the old ones.
    uploads.files_delete_on_commit(names=[r.get("name") for r in old if r.get("name") not in kept])
    article.hero_renditions = renditions
    Article.objects.filter(pk=article.pk).update(hero_renditions=renditions)
    return renditions


def _decoded_for_width(original: Image.Image, width: int) -> Image.Image:
    """The picture upright, in RGB, decoded no larger than needed for ``width``: a JPEG
    decodes straight at 1/2, 1/4 or 1/8 scale (draft), and anything at least twice the
    size needed is first shrunk by a cheap whole-number factor, so memory follows the
    renditions, not the upload."""
    if original.format == "JPEG":
        # Both sides at least ``width``: still enough if the EXIF orientation turns it.
        original.draft("RGB", (width, width))
    # The shorter side too, for the same reason. The reduced copy keeps the EXIF data.
    factor = min(original.size) // width
    image = original.reduce(factor) if factor >= 2 else original
    # A new image either way (turned upright, or a copy): it outlives the open file.
    image = ImageOps.exif_transpose(image)
    return image.convert("RGB") if image.mode != "RGB" else image


def topics_get_or_create(*, names: Iterable[str]) -> list:
    from django.utils.text import slugify

    from .models import Topic

    topics = []
    for name in names:
        slug = slugify(name)[:60]
        if slug:
            topic, _ = Topic.objects.get_or_create(slug=slug, defaults={"name": name[:60]})
            topics.append(topic)
    return topics


def article_import(*, parsed, source: str, publish: bool = False, now=None) -> tuple[Article, str]:
    """Create or update the article imported from ``source``; never a duplicate.

    The article is found by the file it came from, else by its slug. Returns the article
    and what happened: "created", "updated" or "unchanged". A re-import keeps the status
    staff gave the article, unless ``publish`` asks to publish it.
    """
    with transaction.atomic():
        article = (
            Article.objects.select_for_update().filter(source_file=source).first()
            or Article.objects.select_for_update().filter(slug=parsed.slug).first()
        )
        created = article is None
        if created:
            article = Article(status=ArticleStatus.DRAFT)
        fields = {
            "title": parsed.title,
            "slug": article.slug if not created else parsed.slug,
            "summary": parsed.summary,
            "body": parsed.body,
            "source_file": source,
        }
        if parsed.author:
            fields["author_name"] = parsed.author
        references = sorted(parsed.references)
        topics = topics_get_or_create(names=parsed.topics)
        techniques = _techniques_named(parsed)
        changed = created or any(getattr(article, k) != v for k, v in fields.items())
        if not created:
            old_refs = sorted(article.references.values_list("number", "title", "url"))
            changed |= [tuple(r) for r in old_refs] != references and bool(references)
            changed |= bool(topics) and {t.pk for t in article.topics.all()} != {t.pk for t in topics}
            changed |= bool(techniques) and {t.pk for t in article.techniques.all()} != {
                t.pk for t in techniques
            }
        if publish and not article.is_live:
            article.status = ArticleStatus.PUBLISHED
            article.published_at = article.published_at or now or timezone.now()
            changed = True
        if not changed:
            return article, "unchanged"
        for key, value in fields.items():
            setattr(article, key, value)
        article.full_clean(exclude=["hero_image"])
        article.save()
        if topics:
            article.topics.set(topics)
        if techniques:
            article.techniques.set(techniques)
        if references or created:
            article_references_set(article=article, references=references)
    return article, "created" if created else "updated"


def _techniques_named(parsed) -> list:
    from booking.models import Technique

    if not parsed.techniques:
        return []
    found = list(Technique.objects.filter(slug__in=parsed.techniques))
    missing = sorted(set(parsed.techniques) - {t.slug for t in found})
    if missing:
        parsed.warnings.append(f"no technique called {', '.join(missing)}; not linked")
    return found
