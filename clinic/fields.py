"""Model fields shared by the apps."""

from __future__ import annotations

import json
from typing import Any

from encrypted_fields.fields import EncryptedTextField


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
