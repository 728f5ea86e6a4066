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
    },
    THERAPIST: {
        "booking.appointment": ("view",),
        "booking.therapist": ("view",),
        "booking.workinghours": ("view",),
        "booking.timeoff": ("view",),
    },
}

# Sign-in lockouts (django-axes): managers see the failed attempts and unlock an account
# by deleting its attempts. Granted by their own migration (booking 0013), which runs
# after the axes tables exist; the first roles migration cannot see them.
LOCKOUT_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {"axes.accessattempt": ("view", "delete"), "axes.accesslog": ("view",)},
}

# Staff sign-in (issue 15): managers read the sign-in log and remove a member of staff's
# two-factor setup (a lost phone). Reception no longer sees the email outbox. Granted and
# revoked by their own migration (booking 0027), after those apps' tables exist.
SIGNIN_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {
        "clinic.signinevent": ("view",),
        "otp_totp.totpdevice": ("view", "delete"),
        "otp_static.staticdevice": ("view", "delete"),
    },
}
SIGNIN_REVOKED: dict[str, dict[str, tuple[str, ...]]] = {
    RECEPTION: {"django_tasks_database.dbtaskresult": ("view",)},
}


# Rooms (issue 12), granted by their own migration (booking 0022) once the models exist:
# managers set rooms up; reception sees them (to choose one when booking by phone).
ROOM_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {"booking.room": _ALL, "booking.roomfeature": _ALL},
    RECEPTION: {"booking.room": ("view",), "booking.roomfeature": ("view",)},
}


def role_names(user) -> frozenset[str]:
    """The user's group names, read once per user object (that is, once per request):
    admin pages ask about the role several times."""
    names = getattr(user, "_clinic_role_names", None)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        user._clinic_role_names = names
    return names


def sees_only_own_appointments(user) -> bool:
    """A therapist's account (and no wider role) sees only that therapist's appointments."""
    if user.is_superuser:
        return False
    return not role_names(user) & {MANAGER, RECEPTION}


def is_manager(user) -> bool:
    return user.is_superuser or MANAGER in role_names(user)


# Client records, health data and treatment notes (issue 11), granted by their own
# migration (booking 0016) once the models exist. Codenames, not actions: some are custom.
# Object-level limits (a therapist sees only their own clients' records and notes; reception
# sees flags, never answers or note contents) are applied by the admin and selectors.
CLIENT_RECORD_PERMISSIONS: dict[str, tuple[str, ...]] = {
    MANAGER: (
        *(f"{action}_client" for action in _ALL),
        "view_health_data",
        "export_client",
        "erase_client",
        "merge_clients",
        *(f"{action}_healthquestion" for action in _ALL),
        *(f"{action}_healthrule" for action in _ALL),
        "add_policytext",
        "view_policytext",
        "view_consent",
        "view_healthintake",
        "view_doctornote",
        "change_doctornote",
        "view_treatmentnote",
        "view_all_treatment_notes",
        "view_noteaddendum",
        "view_healthdataaccess",
    ),
    RECEPTION: (
        "add_client",
        "change_client",
        "view_client",
        "view_policytext",
        "view_consent",
        "add_consent",
        "change_doctornote",
    ),
    THERAPIST: (
        "view_client",
        "view_health_data",
        "view_healthintake",
        "view_doctornote",
        "add_treatmentnote",
        "change_treatmentnote",
        "view_treatmentnote",
        "add_noteaddendum",
        "view_noteaddendum",
    ),
}


# Waitlist (issue 14), granted by booking 0023: managers and reception see and manage the
# waitlist and offer times by hand; therapists do not see it (it names clients).
WAITLIST_PERMISSIONS: dict[str, tuple[str, ...]] = {
    MANAGER: (*(f"{action}_waitlistentry" for action in _ALL), "view_waitlistoffer"),
    RECEPTION: (*(f"{action}_waitlistentry" for action in _ALL), "view_waitlistoffer"),
}


# Time-off requests (issue 15), granted by booking 0030: a therapist asks (and sees and
# withdraws their own, a limit the admin applies); managers approve or decline; reception
# sees them (to plan the desk). Decisions are written by services.time_off_requests.
TIME_OFF_REQUEST_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {"booking.timeoffrequest": ("view", "change")},
    RECEPTION: {"booking.timeoffrequest": ("view",)},
    THERAPIST: {"booking.timeoffrequest": ("add", "view")},
}


# Therapists' calendar feeds (issue 15), granted by booking 0028: a therapist (or a
# manager who also sees clients) makes and stops the link to their own appointments;
# managers see every live link and may stop any (a lost phone, someone leaving).
CALENDAR_FEED_PERMISSIONS: dict[str, tuple[str, ...]] = {
    MANAGER: ("add_calendarfeed", "view_calendarfeed", "change_calendarfeed"),
    THERAPIST: ("add_calendarfeed",),
}
