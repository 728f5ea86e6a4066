import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from articles.validators import validate_hero_image
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
    from articles.validators import validate_photo

    validate_photo(SimpleUploadedFile("me.jpg", make_image_bytes("JPEG", (400, 400))))
    with pytest.raises(ValidationError):
        validate_photo(SimpleUploadedFile("tiny.jpg", make_image_bytes("JPEG", (100, 100))))


def test_a_6000_pixel_square_is_refused_and_a_phone_photo_accepted(settings):
    assert (settings.ARTICLE_IMAGE_MAX_PIXELS, settings.ARTICLE_IMAGE_MAX_MEGAPIXELS) == (5000, 20)
    # A flat colour compresses to a few kilobytes, well under the byte limit.
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.png", make_image_bytes("PNG", (6000, 6000))))
    assert info.value.code == "image_dimensions"
    assert "6000×6000" in info.value.messages[0]
    # Under 5000 a side but over 20 megapixels.
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.png", make_image_bytes("PNG", (4800, 4800))))
    assert info.value.code == "image_dimensions"
    validate_hero_image(SimpleUploadedFile("phone.jpg", make_image_bytes("JPEG", (4032, 3024))))


def test_oversized_pictures_are_refused_from_the_header_without_decoding(monkeypatch):
    from PIL import Image, ImageFile, PngImagePlugin

    data = make_image_bytes("PNG", (6000, 6000))

    def never(*args, **kwargs):
        raise AssertionError("the picture was read past its header")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    monkeypatch.setattr(Image.Image, "verify", never)
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "verify", never)
    monkeypatch.setattr(Image.Image, "load", never)
    with pytest.raises(ValidationError) as info:
        validate_hero_image(SimpleUploadedFile("a.png", data))
    assert info.value.code == "image_dimensions"
