"""Words for why a time cannot be booked. The engine and the selectors give codes
(:class:`~booking.availability.SlotProblem`) and facts; this is the one place that turns
them into sentences, for clients and for staff, through translation and Django's date
formatting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.translation import gettext as _

from . import availability as engine
from .availability import SlotProblem
from .selectors import Obstacle, TherapistProblem


def clock(moment) -> str:
    """A wall time, 24-hour hours and minutes (10:00)."""
    return formats.time_format(moment, "H:i")


def client_message(
    problem: SlotProblem,
    *,
    policy: engine.Policy,
    day: datetime | None = None,
    closure_reason: str = "",
    therapist_name: str = "",
) -> str:
    """Why a client cannot book a time, in words they can act on. ``therapist_name`` is
    given when only one therapist could take the booking (named, or the only one)."""
    if problem == SlotProblem.PAST:
        return _("That time has already passed.")
    if problem == SlotProblem.NOTICE:
        return _(
            "Online bookings need at least %(hours)s hours' notice; please call us for sooner times."
        ) % {"hours": f"{policy.min_notice.total_seconds() / 3600:g}"}
    if problem == SlotProblem.HORIZON:
        return _("Online booking opens %(days)s days ahead; that time is too far away.") % {
            "days": policy.horizon.days
        }
    if problem == SlotProblem.OFF_GRID:
        return _("Please choose one of the offered start times.")
    if problem == SlotProblem.CLOSED:
        when = formats.date_format(day, "l j F") if day else _("that day")
        if closure_reason:
            return _("The clinic is closed on %(day)s: %(reason)s. Please choose another day.") % {
                "day": when,
                "reason": closure_reason,
            }
        return _("The clinic is closed on %(day)s. Please choose another day.") % {"day": when}
    if problem == SlotProblem.DAY_OFF:
        weekday = formats.date_format(day, "l") if day else _("that day")
        if therapist_name:
            return _("%(name)s does not work on %(weekday)ss. Please choose another day.") % {
                "name": therapist_name,
                "weekday": weekday,
            }
        return _("The clinic is closed on %(weekday)ss. Please choose another day.") % {"weekday": weekday}
    if problem in (SlotProblem.OUTSIDE_HOURS, SlotProblem.OVERNIGHT):
        return _("Nobody is working at that time. Please choose one of the offered start times.")
    if problem == SlotProblem.TIME_OFF:
        return _("The therapist is away at that time. Please choose another time.")
    if problem == SlotProblem.DAY_LIMIT:
        if therapist_name:
            return _("%(name)s is fully booked that day. Please choose another day.") % {
                "name": therapist_name
            }
        return _("Our therapists are fully booked that day. Please choose another day.")
    if problem == SlotProblem.STRETCH_LIMIT:
        return _("The therapist needs a break at that time. Please choose a time a little earlier or later.")
    if problem == SlotProblem.NO_ROOM:
        return _("All our treatment rooms are taken at that time. Please choose another time.")
    return _("Sorry, this time was just taken by someone else. Please choose another time.")


def staff_messages(
    obstacles: Sequence[Obstacle],
    *,
    therapist_name: str,
    technique_name: str,
    start: datetime,
    duration: timedelta,
    zone: ZoneInfo,
) -> list[str]:
    """What stands in the way of a staff booking, naming each thing staff can move."""
    local = start.astimezone(zone)
    end = (start + duration).astimezone(zone)
    messages = []
    for obstacle in obstacles:
        problem = obstacle.problem
        if problem == SlotProblem.OFF_GRID:
            shown = formats.time_format(local, "H:i:s") if local.second else clock(local)
            messages.append(
                _("Start times are on 5-minute marks (10:00, 10:05 …); %(start)s is not.") % {"start": shown}
            )
        elif problem == SlotProblem.OVERNIGHT:
            messages.append(_("An appointment must end on the day it starts; this one runs past midnight."))
        elif problem == TherapistProblem.INACTIVE:
            messages.append(_("%(name)s is not taking bookings (not active).") % {"name": therapist_name})
        elif problem == TherapistProblem.NOT_OFFERED:
            messages.append(
                _("%(name)s does not offer %(technique)s.")
                % {"name": therapist_name, "technique": technique_name}
            )
        elif problem == SlotProblem.TAKEN and obstacle.appointment is not None:
            other = obstacle.appointment
            messages.append(
                _(
                    "Overlaps %(reference)s: %(client)s, %(technique)s %(start)s–%(end)s "
                    "(room free again at %(free)s, after cleanup)."
                )
                % {
                    "reference": other.reference,
                    "client": other.client_name,
                    "technique": other.technique.name,
                    "start": clock(other.start.astimezone(zone)),
                    "end": clock(other.end.astimezone(zone)),
                    "free": clock(other.occupied_until.astimezone(zone)),
                }
            )
        elif problem == SlotProblem.TIME_OFF and obstacle.time_off is not None:
            absence = obstacle.time_off
            messages.append(
                _("%(name)s has time off from %(start)s to %(end)s%(reason)s.")
                % {
                    "name": therapist_name,
                    "start": formats.date_format(absence.start.astimezone(zone), "D d M H:i"),
                    "end": formats.date_format(absence.end.astimezone(zone), "D d M H:i"),
                    "reason": f" ({absence.reason})" if absence.reason else "",
                }
            )
        elif problem == SlotProblem.CLOSED:
            messages.append(
                _("The clinic is closed on %(day)s: %(reason)s.")
                % {"day": formats.date_format(local, "l d F"), "reason": obstacle.closure_reason}
            )
        elif problem == SlotProblem.OUTSIDE_HOURS:
            hours = ", ".join(f"{clock(p.start)}–{clock(p.end)}" for p in obstacle.periods) or _(
                "not working"
            )
            messages.append(
                _(
                    "%(start)s–%(end)s is outside %(name)s's working hours on %(weekday)s (%(hours)s). "
                    "Tick “Book outside working hours” to book it anyway."
                )
                % {
                    "start": clock(local),
                    "end": clock(end),
                    "name": therapist_name,
                    "weekday": formats.date_format(local, "l"),
                    "hours": hours,
                }
            )
        elif problem == SlotProblem.HORIZON:
            messages.append(_("That time is too far ahead to book."))
        elif problem == SlotProblem.DAY_LIMIT:
            messages.append(
                _("This would take %(name)s over their most hands-on minutes for the day.")
                % {"name": therapist_name}
            )
        elif problem == SlotProblem.STRETCH_LIMIT:
            messages.append(
                _("This would give %(name)s too long a stretch without a 15-minute break.")
                % {"name": therapist_name}
            )
        elif problem == SlotProblem.NO_ROOM:
            messages.append(
                _("No suitable room is free for %(technique)s then.") % {"technique": technique_name}
            )
    return messages


# Rooms and therapist limits, for staff (issue 12) ------------------------------------


def staff_room_messages(clashes, *, zone: ZoneInfo) -> list[str]:
    """Which session holds each room staff could use, and until when (the room's turnover
    included): "Room 2 is taken 10:00–11:15 by ABCD2345 (Swedish, Ana Lopez)."
    ``clashes`` are (room, appointment) pairs from ``selectors.room_clashes``."""
    return [
        _("%(room)s is taken %(start)s–%(until)s by %(reference)s (%(technique)s, %(client)s).")
        % {
            "room": room.name,
            "start": clock(other.start.astimezone(zone)),
            "until": clock(other.room_until.astimezone(zone)),
            "reference": other.reference,
            "technique": other.technique.name,
            "client": other.client_name,
        }
        for room, other in clashes
    ]


def staff_no_room_message(*, technique_name: str, party_size: int = 1) -> str:
    """No room in use has what the technique needs (or two tables, for two)."""
    if party_size == 2:
        return _("No room in use has two tables and what %(technique)s needs.") % {
            "technique": technique_name
        }
    return _("No room in use has what %(technique)s needs.") % {"technique": technique_name}


def staff_limit_message(problem: SlotProblem, *, therapist, day: datetime) -> str:
    """The therapist's own limit that the booking would pass, and how to book anyway."""
    if problem == SlotProblem.DAY_LIMIT:
        text = _("That would take %(name)s past %(minutes)s hands-on minutes on %(day)s.") % {
            "name": therapist.name,
            "minutes": therapist.max_daily_minutes,
            "day": formats.date_format(day, "l d F"),
        }
    else:
        text = _(
            "That would give %(name)s more than %(minutes)s hands-on minutes without a 15-minute break."
        ) % {"name": therapist.name, "minutes": therapist.max_continuous_minutes}
    return text + " " + _("Tick “Book outside working hours” to book it anyway.")
