"""Django's database sessions, with one statement per write instead of up to four.

Django's own ``db`` backend asks whether a new random key exists before inserting it, and
wraps every write in ``transaction.atomic()`` (BEGIN and COMMIT, or a savepoint). Neither
is needed for what it guards: a single INSERT or UPDATE is atomic by itself; a duplicate
key (32 random characters: it does not happen in practice) is refused by the primary key
and ``create()`` simply draws another; an UPDATE that finds no row changes nothing. Only
an INSERT inside someone else's transaction keeps the savepoint, so a refusal there
cannot spoil that transaction. Every page that writes the session (the booking flow's
details and confirmation among them) saves two or three round trips.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import IntegrityError, connections, router
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self) -> str:
        # No "does it exist?" query: the insert refuses a duplicate and create() retries.
        return get_random_string(32, VALID_KEY_CHARS)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        using = router.db_for_write(self.model)
        if must_create and connections[using].in_atomic_block:
            return super().save(must_create=True)  # a savepoint shields the caller's transaction
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        if must_create:
            try:
                obj.save(force_insert=True, using=using)
            except IntegrityError:
                raise CreateError from None
            return None
        updated = (
            self.model.objects.using(using)
            .filter(pk=obj.pk)
            .update(session_data=obj.session_data, expire_date=obj.expire_date)
        )
        if not updated:
            # Deleted meanwhile (signed out in another tab, cleared): as Django's backend.
            raise UpdateError
        return None
