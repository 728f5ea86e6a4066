"""Checks on uploaded hero images: real images, of the formats and sizes we serve."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}


def validate_hero_image(file) -> None:
    """Reject anything that is not a JPEG, PNG or WebP of sensible size and dimensions."""
    _validate_image(file, min_width=settings.ARTICLE_IMAGE_MIN_WIDTH)


def validate_photo(file) -> None:
    """The same checks for portraits, which may be smaller than a hero image."""
    _validate_image(file, min_width=200)


def _validate_image(file, *, min_width: int) -> None:
    if file.size > settings.ARTICLE_IMAGE_MAX_BYTES:
        raise ValidationError(
            _("The image is %(size)s MB; the limit is %(limit)s MB."),
            code="image_too_large",
            params={
                "size": round(file.size / 1024 / 1024, 1),
                "limit": settings.ARTICLE_IMAGE_MAX_BYTES // 1024 // 1024,
            },
        )
    position = file.tell() if hasattr(file, "tell") else 0
    try:
        file.seek(0)
        # Image.open reads only the header: format and size are known before a single
        # pixel is decoded, so an oversized picture is refused without the cost of it.
        with Image.open(file) as image:
            image_format = image.format
            width, height = image.size
            _check_header(image_format, width, height, min_width=min_width)
            # verify() reads the whole file and spots truncated or corrupt data.
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            _("This file is not a readable image. Upload a JPEG, PNG or WebP picture."),
            code="invalid_image",
        ) from None
    finally:
        file.seek(position)


def _check_header(image_format: str | None, width: int, height: int, *, min_width: int) -> None:
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(
            _("%(format)s images are not accepted. Upload a JPEG, PNG or WebP picture."),
            code="image_format",
            params={"format": image_format},
        )
    limit = settings.ARTICLE_IMAGE_MAX_PIXELS
    megapixels = settings.ARTICLE_IMAGE_MAX_MEGAPIXELS
    if width > limit or height > limit or width * height > megapixels * 1_000_000:
        raise ValidationError(
            _(
                "The image is %(w)s×%(h)s pixels; at most %(limit)s pixels a side and "
                "%(megapixels)s megapixels, please. Make it smaller and upload it again."
            ),
            code="image_dimensions",
            params={"w": width, "h": height, "limit": limit, "megapixels": megapixels},
        )
    if width < min_width:
        raise ValidationError(
            _("The image is only %(w)s pixels wide; it needs at least %(min)s."),
            code="image_too_small",
            params={"w": width, "min": min_width},
        )
