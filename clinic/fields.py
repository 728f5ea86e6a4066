"""Model fields shared by the apps."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.apps import apps
from django.db import models
from encrypted_fields.fields import EncryptedFieldMixin, EncryptedTextField


class EncryptedJSONField(EncryptedTextField):
    """JSON (answers, flags, body areas) encrypted whole, as one Fernet token.

    The library's own JSON field encrypts each value but leaves the keys and the shape in
    clear text, which would show which health questions were answered, and turns every
    value into a string. Here the whole document is one ciphertext and comes back with its
    types. Not searchable in SQL, by design.
    """

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        # Straight to the cipher: the text field's own preparation would read the JSON
        # back through to_python() and store an empty list or dict as NULL.
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        return self.f.encrypt(text.encode("utf-8")).decode("utf-8")

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, dict | list | bool | int | float):
            return value
        text = super().to_python(value)  # decrypts a stored token; passes plain text through
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            return text

    def value_to_string(self, obj) -> str:
        return json.dumps(self.value_from_object(obj))


# --------------------------------------------------------------------------- keys


def encrypted_fields() -> list[tuple[type[models.Model], list[EncryptedFieldMixin]]]:
    """Every concrete model with encrypted columns, and those fields."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]
        if fields:
            found.append((model, fields))
    return found


def encryption_keys_reset() -> None:
    """Forget the keys every encrypted field derived from the settings.

    The library derives each field's keys once (cached properties ``keys`` and ``f`` on the
    field instance, which lives as long as the process). A process that changes SECRET_KEY,
    SECRET_KEY_FALLBACKS or SALT_KEY after the first encrypted read (a test's ``settings``
    fixture, the rotation command) must call this, or the old keys keep being used.
    """
    for _model, fields in encrypted_fields():
        for field in fields:
            for name in ("keys", "f"):
                field.__dict__.pop(name, None)


def fernet_current() -> Fernet:
    """The key that encrypts: SECRET_KEY with the first FIELD_ENCRYPTION_SALT."""
    return Fernet(_any_field().keys[0])


def fernet_all() -> MultiFernet:
    """Every key that still decrypts (all salts, SECRET_KEY and its fallbacks), the current
    one first: ``rotate()`` moves a token under the current key."""
    return MultiFernet([Fernet(key) for key in _any_field().keys])


def _any_field() -> EncryptedFieldMixin:
    # All fields derive the same keys from the same settings; any one of them will do.
    return encrypted_fields()[0][1][0]
