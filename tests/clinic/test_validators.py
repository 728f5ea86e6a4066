import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from clinic.validators import validate_hero_image
from tests.conftest import make_image_bytes


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepts_jpeg_png_webp(fmt):
    validate_hero_image(SimpleUploadedFile(f"a.{fmt.lower()}", make_image_bytes(fmt)))


def test_rejects_a_gif():
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.gif", make_image_bytes("GIF")))
    assert info.value.code == "image_format"


def test_rejects_text_pretending_to_be_an_image():
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.jpg", b"<?php echo 1; ?>"))
    assert info.value.code == "invalid_image"


def test_rejects_a_truncated_image():
    data = make_image_bytes("PNG")
    with pytest.raises(ValidationError):
        validate_hero_image(SimpleUploadedFile("a.png", data[: len(data) // 2]))


def test_rejects_too_small_and_too_large(settings):
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.jpg", make_image_bytes("JPEG", (400, 300))))
    assert info.value.code == "image_too_small"
    settings.ARTICLE_IMAGE_MAX_PIXELS = 1000
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.jpg", make_image_bytes("JPEG", (1200, 700))))
    assert info.value.code == "image_dimensions"
    settings.ARTICLE_IMAGE_MAX_BYTES = 100
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.jpg", make_image_bytes("JPEG")))
    assert info.value.code == "image_too_large"


def test_portrait_photos_may_be_smaller_than_hero_images():
    from clinic.validators import validate_photo

    validate_photo(SimpleUploadedFile("me.jpg", make_image_bytes("JPEG", (400, 400))))
    with pytest.raises(ValidationError):
        validate_photo(SimpleUploadedFile("tiny.jpg", make_image_bytes("JPEG", (100, 100))))
