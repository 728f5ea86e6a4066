"""Writes for rooms. Setting a room up is plain admin editing; taking one away is not:
a room that appointments point at (past ones included: they are the clinic's record of
where a massage happened) cannot be deleted, only made inactive."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import Appointment, Room


class RoomInUse(ValidationError):
    """The room holds appointments (code ``room_in_use``); make it inactive instead."""


def room_delete(*, room: Room) -> None:
    """Delete ``room`` if no appointment, past or future, points at it; else raise
    :class:`RoomInUse`.

    The room's row is locked first: the booking services lock the rooms they book, so a
    booking racing this delete either finishes before the check (and is seen) or waits
    and then finds the room gone, rather than leaving a dangling reference."""
    with transaction.atomic():
        locked = Room.objects.select_for_update().filter(pk=room.pk).first()
        if locked is None:
            return  # already gone
        if Appointment.objects.filter(room=locked).exists():
            raise RoomInUse(
                _("%(room)s holds appointments, so it cannot be deleted. Make it inactive instead.")
                % {"room": locked.name},
                code="room_in_use",
            )
        locked.delete()
