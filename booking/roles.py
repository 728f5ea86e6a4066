"""Staff roles: the groups a data migration creates, and what each may do.

Manager: everything, techniques, prices, policy and articles included.
Reception: therapists' schedules, time off and all appointments; sees but does not change
techniques, prices, closures or the policy.
Therapist: sees their own appointments and schedule, read only.
"""

from __future__ import annotations

MANAGER = "Manager"
RECEPTION = "Reception"
THERAPIST = "Therapist"

_ALL = ("add", "change", "delete", "view")

PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {
        **{
            f"booking.{model}": _ALL
            for model in (
                "technique",
                "techniquelength",
                "therapist",
                "workinghours",
                "timeoff",
                "closure",
                "bookingpolicy",
                "appointment",
            )
        },
        **{f"articles.{model}": _ALL for model in ("article", "topic", "reference")},
        "django_tasks_database.dbtaskresult": ("view",),
    },
    RECEPTION: {
        "booking.therapist": ("view", "change"),
        "booking.workinghours": _ALL,
        "booking.timeoff": _ALL,
        "booking.appointment": ("add", "change", "view"),
        "booking.technique": ("view",),
        "booking.techniquelength": ("view",),
        "booking.closure": ("view",),
        "booking.bookingpolicy": ("view",),
        "django_tasks_database.dbtaskresult": ("view",),
    },
    THERAPIST: {
        "booking.appointment": ("view",),
        "booking.therapist": ("view",),
        "booking.workinghours": ("view",),
        "booking.timeoff": ("view",),
    },
}


def sees_only_own_appointments(user) -> bool:
    """A therapist's account (and no wider role) sees only that therapist's appointments."""
    if user.is_superuser:
        return False
    names = {group.name for group in user.groups.all()}
    return not names & {MANAGER, RECEPTION}


def is_manager(user) -> bool:
    return user.is_superuser or user.groups.filter(name=MANAGER).exists()
