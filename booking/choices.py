"""Choices used by the booking models."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AppointmentStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")
    NO_SHOW = "no_show", _("No-show")
    # A time kept for one waitlisted client for a short window (issue 14): it occupies
    # the therapist and room like a booking, so the database's no-overlap guarantee
    # covers it; it becomes CONFIRMED when taken and CANCELLED when it lapses.
    HELD = "held", _("Held for the waitlist")


# Statuses whose time stays taken: only a cancellation gives the time back.
OCCUPYING_STATUSES = (
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.HELD,
)


class AppointmentSource(models.TextChoices):
    ONLINE = "online", _("Online")
    STAFF = "staff", _("Staff")


class TherapistGender(models.TextChoices):
    # What "a female / male therapist" preferences match (TherapistPreference).
    UNSTATED = "unstated", _("Not stated")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class RoomCapacity(models.IntegerChoices):
    ONE = 1, _("One table")
    TWO = 2, _("Two tables (couples)")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Pressure(models.TextChoices):
    LIGHT = "light", _("Light")
    MEDIUM = "medium", _("Medium")
    FIRM = "firm", _("Firm")


class TherapistPreference(models.TextChoices):
    NONE = "none", _("No preference")
    NAMED = "named", _("A named therapist")
    FEMALE = "female", _("A female therapist")
    MALE = "male", _("A male therapist")


class RuleOutcome(models.TextChoices):
    """What an answer to a health question leads to, mildest first."""

    ALLOW = "allow", _("Allow")
    FLAG = "flag", _("Flag for the therapist")
    DOCTOR_NOTE = "doctor_note", _("Needs a doctor's note")
    CALL = "call", _("Cannot be booked online: please call")


# The strictest outcome of all the rules that match wins.
OUTCOME_SEVERITY = {
    RuleOutcome.ALLOW: 0,
    RuleOutcome.FLAG: 1,
    RuleOutcome.DOCTOR_NOTE: 2,
    RuleOutcome.CALL: 3,
}


class IntakeSource(models.TextChoices):
    ONLINE = "online", _("Online, by the client")
    STAFF = "staff", _("By staff, as told by the client")
    MIGRATED = "migrated", _("Carried over from the booking")


class PolicyKind(models.TextChoices):
    CANCELLATION = "cancellation", _("Cancellation policy")
    TREATMENT_CONSENT = "treatment_consent", _("Treatment consent")


class ConsentMethod(models.TextChoices):
    ONLINE_TICK = "online_tick", _("Ticked online")
    TYPED_NAME = "typed_name", _("Typed their name online")
    STAFF_PHONE = "staff_phone", _("Told staff (phone or in person)")


class BodyArea(models.TextChoices):
    HEAD = "head", _("Head and face")
    NECK = "neck", _("Neck")
    SHOULDERS = "shoulders", _("Shoulders")
    UPPER_BACK = "upper_back", _("Upper back")
    LOWER_BACK = "lower_back", _("Lower back")
    ARMS = "arms", _("Arms")
    HANDS = "hands", _("Hands")
    CHEST = "chest", _("Chest")
    ABDOMEN = "abdomen", _("Abdomen")
    HIPS = "hips", _("Hips and glutes")
    LEGS = "legs", _("Legs")
    FEET = "feet", _("Feet")


class HealthAccessKind(models.TextChoices):
    """What a member of staff looked at, for the record of who saw health data."""

    INTAKE = "intake", _("Health answers")
    NOTE = "note", _("Treatment note")
    DOCTOR_NOTE = "doctor_note", _("Doctor's note")
    CLIENT_RECORD = "client_record", _("Client record with health data")
    EXPORT = "export", _("Export of the client's data")


class WaitlistStatus(models.TextChoices):
    """Where a waitlist entry stands (issue 14)."""

    WAITING = "waiting", _("Waiting")
    # A time is held for this entry right now (one live offer at a time).
    OFFERED = "offered", _("Offered a time")
    BOOKED = "booked", _("Booked")
    LEFT = "left", _("Left the waitlist")
    # An offer went unanswered: the entry stops, so a silent client does not keep
    # blocking freed times from the people behind them.
    LAPSED = "lapsed", _("Did not answer an offer")
    ENDED = "ended", _("Dates passed")


# Entries still in line for a freed time.
WAITLIST_OPEN_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class OfferOutcome(models.TextChoices):
    PENDING = "", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Booked it")
    DECLINED = "declined", _("Said no thanks")
    LAPSED = "lapsed", _("No answer in time")
    WITHDRAWN = "withdrawn", _("Withdrawn by staff")


class PartOfDay(models.TextChoices):
    # The same parts as the times page (availability.PARTS_OF_DAY).
    MORNING = "morning", _("Morning (before 12:00)")
    AFTERNOON = "afternoon", _("Afternoon (12:00 to 17:00)")
    EVENING = "evening", _("Evening (from 17:00)")


class TimeOffRequestStatus(models.TextChoices):
    """Where a therapist's request for time off stands."""

    PENDING = "pending", _("Waiting for a manager")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")
