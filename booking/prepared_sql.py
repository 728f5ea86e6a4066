"""SQL compiled once per process and shape, run again with new values.

Building and compiling a queryset costs the ORM about a millisecond a statement, several
times what the database takes to answer an availability lookup's small queries (issue 13:
about 7 ms of the load for one therapist and one day was the ORM's). A query written with
:class:`Slot` for each value that changes from call to call compiles to SQL whose
parameters are those slots; :meth:`Statement.run` puts the call's values in their place,
prepared for the database as the field would prepare them (``get_db_prep_value``), so the
database sees exactly what the queryset itself would send (the tests compare the two).

The querysets stay the source of the SQL: only their compiling is done once, by functions
cached on the *shape* of the query (how many ids, which filters), never on the values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Field, Model, QuerySet
from django.db.models.lookups import IExact
from django.db.models.query import ModelIterable


class Slot(Expression):
    """A value given when the statement runs (``values[name]``, or ``values[name][index]``
    for one of a list), compiled as a placeholder whose parameter is the slot itself."""

    def __init__(self, name: str, output_field: Field, index: int | None = None) -> None:
        super().__init__(output_field=output_field)
        self.name = name
        self.index = index

    def __repr__(self) -> str:
        return f"Slot({self.name!r}{'' if self.index is None else f', {self.index}'})"

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def value(self, values: Mapping[str, Any], db: BaseDatabaseWrapper) -> Any:
        given = values[self.name]
        if self.index is not None:
            given = given[self.index]
        return self.output_field.get_db_prep_value(given, db, prepared=False)


class SlotList(Expression):
    """A list of ``count`` values given when the statement runs (``values[name]``), for
    ``__in``: compiled as "(%s, ..., %s)" with a :class:`Slot` per item. With no item it
    matches nothing, as an empty list does (``EmptyResultSet``)."""

    def __init__(self, name: str, output_field: Field, count: int) -> None:
        super().__init__(output_field=output_field)
        self.name = name
        self.count = count

    def __repr__(self) -> str:
        return f"SlotList({self.name!r}, {self.count})"

    def as_sql(self, compiler, connection, placeholder: str = "%s"):
        if not self.count:
            raise EmptyResultSet
        field = self.output_field
        return (
            f"({', '.join([placeholder] * self.count)})",
            [Slot(self.name, field, index) for index in range(self.count)],
        )

    def as_postgresql(self, compiler, connection):
        # Typed as the column is: psycopg2 sends 7 as an integer, and the GiST index of an
        # exclusion constraint (btree_gist) compares a bigint column with bigints only, so
        # "therapist_id = 7" could not use its therapist column; "7::bigint" can.
        return self.as_sql(compiler, connection, placeholder=f"%s::{self.output_field.db_type(connection)}")


# Converts one column's value as the ORM would (e.g. SQLite's 0/1 to a bool).
Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Statement:
    """SQL with its parameters: constants, and :class:`Slot` s filled in per run; and, when
    built from a queryset, the ORM's converters of the columns that need one."""

    sql: str
    params: tuple
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...] = ()
    # The model whose instances the rows are, when built from a queryset of its instances
    # with their own columns only (no values(), no select_related): see :meth:`instances`.
    model: type[Model] | None = None

    @classmethod
    def of(cls, queryset: QuerySet) -> Statement:
        """The queryset's SQL (with its slots) and its columns' converters.

        Raises ``EmptyResultSet`` as compiling it would (e.g. an ``__in`` of no slots)."""
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        whole_rows = (
            queryset._iterable_class is ModelIterable
            and not queryset.query.select_related
            and not queryset.query.deferred_loading[0]
        )
        return cls(
            sql=sql,
            params=tuple(params),
            converters=tuple(
                (position, tuple(found), column) for position, (found, column) in converters.items()
            ),
            model=queryset.model if whole_rows else None,
        )

    def bind(self, values: Mapping[str, Any], db: BaseDatabaseWrapper) -> list:
        """The parameters for ``values``: each slot's value as its field prepares it."""
        return [param.value(values, db) if isinstance(param, Slot) else param for param in self.params]

    def instances(self, values: Mapping[str, Any], db: BaseDatabaseWrapper | None = None) -> list[Model]:
        """The rows as model instances, as the queryset itself would give them (its
        columns are the model's concrete fields, in order)."""
        if self.model is None:
            raise TypeError("instances() needs a Statement built from a queryset of whole model rows")
        db = db or connections[DEFAULT_DB_ALIAS]
        names = [field.attname for field in self.model._meta.concrete_fields]
        return [self.model.from_db(db.alias, names, row) for row in self.run(values, db)]

    def run(self, values: Mapping[str, Any], db: BaseDatabaseWrapper | None = None) -> list[Sequence]:
        """Every row, as the database driver returns it (tuples), or as lists with the
        converted columns when there are converters. ``db``: the default connection
        itself, when the caller has it (each use of ``django.db.connection`` looks it up
        anew)."""
        db = db or connections[DEFAULT_DB_ALIAS]
        with db.cursor() as cursor:
            cursor.execute(self.sql, self.bind(values, db))
            rows = cursor.fetchall()
        if not self.converters:
            return rows
        converted = []
        for row in map(list, rows):
            for position, found, column in self.converters:
                value = row[position]
                for converter in found:
                    value = converter(value, column, db)
                row[position] = value
            converted.append(row)
        return converted


class _LikeEscapedSlot(Slot):
    """A slot whose value is escaped as ``iexact`` escapes a plain value (see
    :class:`IExactSlot`)."""

    def value(self, values: Mapping[str, Any], db: BaseDatabaseWrapper) -> Any:
        return db.ops.prep_for_iexact_query(super().value(values, db))


class IExactSlot(IExact):
    """``field__iexact`` with a :class:`Slot` for its value, as
    ``filter(IExactSlot(F("email"), Slot("email", CharField())))``. The ORM escapes a
    plain value for ``iexact`` as it compiles (on SQLite, whose ``iexact`` is a LIKE, the
    wildcards ``%`` and ``_`` of an address such as ``a_b@example.com``); a slot's value
    is escaped the same way when the statement runs instead."""

    def process_rhs(self, compiler, connection):
        if not isinstance(self.rhs, Slot):
            return super().process_rhs(compiler, connection)
        return "%s", [_LikeEscapedSlot(self.rhs.name, self.rhs.output_field, self.rhs.index)]
