"""SQL compiled once with slots, run with new values: the database must answer exactly as
the queryset with those values would."""

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BigIntegerField, BooleanField, CharField, DateTimeField, F

from booking.models import Appointment, Therapist
from booking.prepared_sql import IExactSlot, Slot, SlotList, Statement
from tests.conftest import LONDON
from tests.factories import TherapistFactory, appointment_row

pytestmark = pytest.mark.django_db

ID = BigIntegerField()
MOMENT = DateTimeField()


def appointments(ids, after, before):
    return (
        Appointment.objects.filter(therapist_id__in=ids, start__gte=after, start__lt=before)
        .order_by("start", "pk")
        .values_list("pk", "therapist_id", "start")
    )


def test_a_statement_answers_as_the_queryset_with_the_same_values(swedish):
    anna, ben, cleo = (TherapistFactory(techniques=[swedish]) for _ in range(3))
    monday = datetime(2026, 11, 23, 9, tzinfo=LONDON)
    for day in range(4):
        for therapist in (anna, ben, cleo):
            appointment_row(therapist, swedish, monday + timedelta(days=day, hours=therapist.pk % 3))
    statement = Statement.of(
        appointments(SlotList("ids", ID, 2), Slot("after", MOMENT), Slot("before", MOMENT))
    )
    # Compiled once, run with several sets of values: never the values of an earlier run.
    for ids, after, before in [
        ([anna.pk, ben.pk], monday, monday + timedelta(days=2)),
        ([cleo.pk, anna.pk], monday + timedelta(days=1), monday + timedelta(days=4)),
        ([ben.pk, ben.pk], monday - timedelta(days=9), monday),
    ]:
        expected = [(pk, therapist) for pk, therapist, _ in appointments(ids, after, before)]
        rows = statement.run({"ids": ids, "after": after, "before": before})
        # (The times come as the driver gives them: SQLite's text; the ORM converts its own.)
        assert [(pk, therapist) for pk, therapist, _ in rows] == expected
        assert expected or after < monday  # the last has none: before any of them


def compiled(expression):
    return Therapist.objects.all().query.get_compiler(connection=connection).compile(expression)


def test_values_are_prepared_as_the_field_prepares_them():
    moment = datetime(2026, 3, 29, 2, 30, tzinfo=LONDON)  # just after the clocks went forward
    slot = Slot("at", MOMENT)
    assert slot.value({"at": moment}, connection) == MOMENT.get_db_prep_value(moment, connection)
    if connection.vendor == "sqlite":
        assert slot.value({"at": moment}, connection) == "2026-03-29 01:30:00"  # naive UTC text
    _, (first, second) = compiled(SlotList("ids", ID, 2))
    assert (first.value({"ids": ["7", 8]}, connection), second.value({"ids": ["7", 8]}, connection)) == (7, 8)


def test_no_slot_in_a_list_matches_nothing_as_an_empty_list_does(swedish):
    TherapistFactory(techniques=[swedish])
    with pytest.raises(EmptyResultSet):
        Statement.of(Therapist.objects.filter(pk__in=SlotList("ids", ID, 0)))
    # Within an OR the empty part is left out, as the ORM leaves out pk__in=[].
    either = Therapist.objects.filter(pk__in=SlotList("ids", ID, 0)) | Therapist.objects.filter(active=True)
    assert len(Statement.of(either).run({"ids": []})) == 1


def test_columns_are_converted_as_the_orm_converts_them(swedish):
    anna = TherapistFactory(techniques=[swedish])
    statement = Statement.of(Therapist.objects.filter(pk=Slot("pk", ID)).values_list("pk", "active"))
    (row,) = statement.run({"pk": anna.pk})
    assert tuple(row) == (anna.pk, True) and row[1] is True  # SQLite's 1 made a bool, as the ORM does


def test_instances_are_the_querysets_own_field_for_field(swedish):
    TherapistFactory(techniques=[swedish], name="Anna")
    TherapistFactory(techniques=[swedish], name="Ben", active=False)
    queryset = Therapist.objects.filter(active=Slot("active", BooleanField())).order_by("name")
    found = Statement.of(queryset).instances({"active": True})
    expected = list(Therapist.objects.filter(active=True).order_by("name"))
    assert [type(t) for t in found] == [Therapist] and found == expected
    names = [field.attname for field in Therapist._meta.concrete_fields]
    assert [[getattr(t, n) for n in names] for t in found] == [
        [getattr(t, n) for n in names] for t in expected
    ]
    assert not found[0]._state.adding  # loaded, as the ORM's own: saving updates it
    # Rows that are not whole instances cannot be made into them.
    with pytest.raises(TypeError):
        Statement.of(queryset.values_list("pk")).instances({"active": True})
    with pytest.raises(TypeError):
        Statement.of(queryset.only("name")).instances({"active": True})


def test_on_postgresql_ids_are_typed_as_the_column_is():
    sql, _ = compiled(SlotList("ids", ID, 2))
    if connection.vendor == "postgresql":
        assert sql == "(%s::bigint, %s::bigint)"
    else:
        assert sql == "(%s, %s)"


def test_an_iexact_slot_answers_as_iexact_with_the_same_value(swedish):
    # SQLite's iexact is a LIKE: the ORM escapes the wildcards of a plain value as it
    # compiles; a slot's value is escaped as the statement runs, so "a_b" finds itself only.
    anna = TherapistFactory(techniques=[swedish])
    monday = datetime(2026, 11, 23, 9, tzinfo=LONDON)
    emails = ["a_b@example.com", "axb@example.com", "A%B@Example.com", "ab@example.com", "OLIVIA@example.com"]
    for n, email in enumerate(emails):
        appointment_row(anna, swedish, monday + timedelta(hours=2 * n), client_email=email)

    def by_email(value):
        return (
            Appointment.objects.filter(IExactSlot(F("client_email"), value)).order_by("pk").values_list("pk")
        )

    statement = Statement.of(by_email(Slot("email", CharField())))
    for email, found in [
        ("a_b@example.com", 1),
        ("A%b@example.com", 1),
        ("olivia@EXAMPLE.com", 1),
        ("a%b@example.com", 1),
        ("nobody@example.com", 0),
    ]:
        queryset = Appointment.objects.filter(client_email__iexact=email).order_by("pk").values_list("pk")
        # The same SQL, the same parameters and the same rows as the ORM's own iexact.
        sql, params = queryset.query.sql_with_params()
        assert (statement.sql, statement.bind({"email": email}, connection)) == (sql, list(params))
        rows = [tuple(row) for row in statement.run({"email": email})]
        assert rows == list(queryset) and len(rows) == found, email
    # A plain value goes through iexact's own escaping.
    plain = by_email("a_b@example.com")
    assert list(plain) == list(
        Appointment.objects.filter(client_email__iexact="a_b@example.com").values_list("pk")
    )
