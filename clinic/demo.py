"""Demo content: the clinic's articles with generated pictures, and a staff login."""

from __future__ import annotations

import io
import math
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFilter

from articles.importers import parse_file
from articles.models import Article
from articles.services import article_import, article_renditions_build

DEMO_ARTICLES = Path(__file__).resolve().parent.parent / "articles" / "demo_articles"
DEMO_STAFF_USERNAME = "demo-admin"
DEMO_STAFF_PASSWORD = "demo-clinic-2026"

# Calm palettes for the generated pictures: (top colour, bottom colour, shape colour).
PALETTES = [
    ((206, 224, 214), (120, 160, 140), (247, 243, 236)),
    ((236, 226, 208), (190, 160, 120), (255, 250, 240)),
    ((214, 222, 236), (120, 140, 180), (244, 246, 252)),
    ((226, 214, 230), (150, 120, 160), (250, 244, 250)),
    ((220, 232, 222), (80, 120, 100), (235, 245, 238)),
    ((240, 222, 210), (180, 120, 100), (252, 244, 238)),
]


def demo_picture(index: int, width: int = 1600, height: int = 900) -> bytes:
    """A soft abstract picture (gradient and pebbles), so demo articles look finished."""
    top, bottom, shape = PALETTES[index % len(PALETTES)]
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line(
            [(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    pebbles = ImageDraw.Draw(overlay)
    for n in range(5):
        cx = width * (0.25 + 0.12 * n + 0.03 * math.sin(index + n))
        cy = height * (0.72 - 0.05 * n + 0.04 * math.cos(index * 2 + n))
        rx, ry = 220 - n * 30, 110 - n * 14
        pebbles.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=shape + (190,))
    overlay = overlay.filter(ImageFilter.GaussianBlur(2))
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def load_demo_articles(*, now=None) -> list[tuple[Article, str]]:
    now = now or timezone.now()
    results = []
    for index, path in enumerate(sorted(DEMO_ARTICLES.glob("*.md"))):
        parsed = parse_file(path)
        article, action = article_import(parsed=parsed, source=path.name, publish=True, now=now)
        if action == "created":
            # Spread the dates out so the list reads like a real archive.
            article.published_at = now - timedelta(days=9 * (len(results) + 1))
            article.save(update_fields=["published_at"])
        if not article.hero_image:
            article.hero_image.save(f"demo-{index}.jpg", ContentFile(demo_picture(index)), save=False)
            article.hero_image_alt = "A soft abstract picture of smooth pebbles in calm colours"
            article.save(update_fields=["hero_image", "hero_image_alt"])
            article_renditions_build(article=article)
        results.append((article, action))
    return results


def ensure_demo_staff() -> tuple[str, str]:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=DEMO_STAFF_USERNAME, defaults={"email": "demo-admin@localhost"}
    )
    user.is_staff = True
    user.is_superuser = True
    user.set_password(DEMO_STAFF_PASSWORD)
    user.save()
    return DEMO_STAFF_USERNAME, DEMO_STAFF_PASSWORD
