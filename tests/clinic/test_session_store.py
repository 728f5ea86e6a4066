"""Database sessions written in one statement each (clinic/session_store.py)."""

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic import session_store


def statements(captured) -> list[str]:
    return [q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries]


def test_the_site_uses_it():
    assert settings.SESSION_ENGINE == "clinic.session_store"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_new_session_is_one_insert_and_a_change_one_update():
    store = session_store.SessionStore()
    store["draft"] = "kept"
    with CaptureQueriesContext(connection) as created:
        store.save()
    # No "does this key exist?" look-up, no BEGIN or COMMIT around the insert.
    assert statements(created) == ["INSERT"]
    store["draft"] = "changed"
    with CaptureQueriesContext(connection) as changed:
        store.save()
    assert statements(changed) == ["UPDATE"]
    again = session_store.SessionStore(session_key=store.session_key)
    assert again["draft"] == "changed"


@pytest.mark.django_db
def test_inside_a_transaction_a_new_session_keeps_its_savepoint_and_a_change_needs_none():
    store = session_store.SessionStore()
    store["draft"] = "kept"
    with CaptureQueriesContext(connection) as created:
        store.save()
    assert statements(created) == ["SAVEPOINT", "INSERT", "RELEASE"]
    store["draft"] = "changed"
    with CaptureQueriesContext(connection) as changed:
        store.save()
    assert statements(changed) == ["UPDATE"]


@pytest.mark.django_db
def test_a_key_already_taken_is_refused_and_create_draws_another(monkeypatch):
    taken = session_store.SessionStore()
    taken["who"] = "first"
    taken.save()
    keys = iter([taken.session_key, "b" * 32])
    monkeypatch.setattr(session_store, "get_random_string", lambda *args: next(keys))
    second = session_store.SessionStore()
    second["who"] = "second"
    second.save()
    assert second.session_key == "b" * 32
    # The first session is untouched.
    assert session_store.SessionStore(session_key=taken.session_key)["who"] == "first"


@pytest.mark.django_db
def test_a_session_deleted_meanwhile_is_not_written_back():
    store = session_store.SessionStore()
    store["draft"] = "kept"
    store.save()
    Session.objects.filter(session_key=store.session_key).delete()
    store["draft"] = "changed"
    # As Django's own backend: the middleware turns this into "session interrupted".
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.exists()
