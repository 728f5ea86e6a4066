"""Querysets compiled once, then run again with other values.

Building and compiling a queryset with subqueries costs the ORM milliseconds of Python
(the bookable-technique check: about 5 ms, against 0.1 ms in the database), on every
request of the booking flow. A :class:`Prepared` query is built once per thread and
database with a marker for each value that changes; later calls run the same SQL with
the values put where the markers were, and convert the rows as the ORM would.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    positions: dict[str, list[int]]  # value name -> where it goes in params
    compiler: Any
    converters: dict


class Prepared:
    """``build(**markers)`` returns the queryset; every name in ``names`` must reach the
    SQL as one parameter (or several, all the same value), unchanged: plain strings
    compared as they are (``slug=...``, ``key=...``), not values the ORM transforms."""

    def __init__(self, build: Callable[..., QuerySet], *names: str) -> None:
        self._build = build
        self._names = names
        self._local = threading.local()  # compilers hold their thread's connection

    def _compiled(self, alias: str) -> _Compiled:
        cache = self._local.__dict__.setdefault("by_alias", {})
        found = cache.get(alias)
        if found is not None:
            return found
        markers = {name: f"prepared-{name}-{uuid.uuid4().hex}" for name in self._names}
        compiler = self._build(**markers).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        positions = {
            name: [index for index, value in enumerate(params) if value == marker]
            for name, marker in markers.items()
        }
        missing = [name for name, found_at in positions.items() if not found_at]
        if missing:
            raise ValueError(f"prepared query: no parameter for {missing}")
        converters = compiler.get_converters([column for column, _sql, _alias in compiler.select])
        found = cache[alias] = _Compiled(sql, tuple(params), positions, compiler, converters)
        return found

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> list[tuple]:
        """The rows, in the queryset's select order, converted as the ORM converts them."""
        compiled = self._compiled(using)
        params = list(compiled.params)
        for name, found_at in compiled.positions.items():
            for index in found_at:
                params[index] = values[name]
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = [tuple(row) for row in compiled.compiler.apply_converters(rows, compiled.converters)]
        return rows
