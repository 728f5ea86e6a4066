"""A small per-process store of recently used values, in front of the shared cache.

Only for values stored under keys that already say how fresh they are (a content or
schedule version read from the database for each request): a copy here is then exactly
as fresh as the shared one, and serving it saves the round trip to the shared cache (a
query on the database cache table, or a call to Redis) on every hit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

_ALL: list[RecentValues] = []


class RecentValues:
    """The ``size`` most recently used values, least recent dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: OrderedDict[str, Any] = OrderedDict()
        self.lock = threading.Lock()  # gunicorn's threaded workers share the process
        _ALL.append(self)

    def get(self, key: str) -> Any | None:
        with self.lock:
            value = self.values.get(key)
            if value is not None:
                self.values.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self.values[key] = value
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.values.clear()


def clear_all() -> None:
    """Empty every store (tests: the database, and so its versions, starts again)."""
    for store in _ALL:
        store.clear()
