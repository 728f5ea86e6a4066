"""Uploaded pictures: stored under an extension that matches what the file really is,
and deleted from storage once an edit that replaced or cleared them is committed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models.fields.files import ImageFieldFile
from PIL import Image, UnidentifiedImageError

# Pillow's name for a format -> the extension it is stored (and so served) under.
IMAGE_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def detected_suffix(content) -> str:
    """The extension for the picture in ``content``, from its bytes (Pillow reads only the
    header); "" for anything else, which storage then serves as plain bytes."""
    position = content.tell() if hasattr(content, "tell") else 0
    try:
        content.seek(0)
        with Image.open(content) as image:
            image_format = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        image_format = None
    finally:
        content.seek(position)
    return IMAGE_SUFFIXES.get(image_format, "")


class DetectedFormatImageFieldFile(ImageFieldFile):
    def save(self, name, content, save=True):
        # "photo.pdf" holding PNG bytes is stored as ….png: the extension decides the
        # Content-Type the file is served with, so it must say what the file is.
        name = str(PurePath(name or "image").with_suffix(detected_suffix(content)))
        super().save(name, content, save)


class DetectedFormatImageField(models.ImageField):
    """An ImageField whose stored name ends in the detected format's extension, whatever
    the uploaded file was called."""

    attr_class = DetectedFormatImageFieldFile


def files_delete_on_commit(*, names: Iterable[str], storage=default_storage) -> None:
    """Delete stored files once the current transaction commits (at once outside one).
    Never before: a rolled-back edit still points at them."""
    names = [name for name in names if name]
    if not names:
        return

    def delete() -> None:
        for name in names:
            storage.delete(name)

    # robust: a file already gone (or a storage hiccup) must not turn a saved edit into
    # an error page; it is logged.
    transaction.on_commit(delete, robust=True)


def replaced_file_names(form, fields: Iterable[str]) -> list[str]:
    """The stored names of the files a valid model form is about to replace or clear."""
    names = []
    for field in fields:
        if field in form.changed_data:
            old = form.initial.get(field)
            if old and getattr(old, "name", None):
                names.append(old.name)
    return names
