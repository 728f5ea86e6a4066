"""What can be booked, who works when, and the appointments themselves."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date, tzinfo
from pathlib import PurePath

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedTextField
from phonenumber_field.modelfields import PhoneNumberField

from clinic.fields import EncryptedJSONField
from clinic.text import single_line
from clinic.uploads import DetectedFormatImageField
from clinic.validators import validate_hero_image, validate_photo

from .availability import day_span
from .choices import (
    OCCUPYING_STATUSES,
    AppointmentSource,
    AppointmentStatus,
    ConsentMethod,
    HealthAccessKind,
    IntakeSource,
    OfferOutcome,
    PolicyKind,
    Pressure,
    RoomCapacity,
    RuleOutcome,
    TherapistGender,
    TherapistPreference,
    TimeOffRequestStatus,
    WaitlistStatus,
    Weekday,
)


def _random_name(folder: str, filename: str) -> str:
    # Random names: no clashes, and nothing from the uploader's disk leaks into URLs.
    return f"{folder}/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()[:6]}"


def technique_upload_to(instance, filename: str) -> str:
    return _random_name("booking/techniques", filename)


def therapist_upload_to(instance, filename: str) -> str:
    return _random_name("booking/therapists", filename)


class TechniqueQuerySet(models.QuerySet):
    def active(self) -> TechniqueQuerySet:
        return self.filter(active=True)

    def bookable(self) -> TechniqueQuerySet:
        """Offered, in at least one length, by at least one therapist taking bookings, and
        (when the clinic uses rooms) with a room that has everything it needs: what the
        booking pages list. Anything less leads a client to a week of nothing."""
        return self.active().filter(
            models.Exists(Therapist.objects.filter(active=True, techniques=models.OuterRef("pk"))),
            models.Exists(TechniqueLength.objects.filter(technique=models.OuterRef("pk"))),
            self.room_suits(),
        )

    @staticmethod
    def room_suits() -> Q:
        """The clinic uses no rooms, or an active room has every feature the technique
        needs (no needed feature the room lacks)."""
        room_lacks = Room.features.through.objects.filter(
            room_id=models.OuterRef(models.OuterRef("pk")), roomfeature_id=models.OuterRef("roomfeature_id")
        )
        missing = Technique.required_features.through.objects.filter(
            technique_id=models.OuterRef(models.OuterRef("pk"))
        ).filter(~models.Exists(room_lacks))
        suitable = Room.objects.filter(active=True).filter(~models.Exists(missing))
        return ~models.Exists(Room.objects.filter(active=True)) | models.Exists(suitable)


class Technique(models.Model):
    """A kind of massage clients can book, such as Swedish or Shiatsu."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    summary = models.CharField(_("summary"), max_length=200, blank=True, help_text=_("One line for lists."))
    description = models.TextField(_("description"), blank=True, help_text=_("What it is and how it feels."))
    suitable_for = models.TextField(_("who it suits"), blank=True)
    image = DetectedFormatImageField(
        _("picture"), upload_to=technique_upload_to, blank=True, validators=[validate_hero_image]
    )
    buffer_minutes = models.PositiveSmallIntegerField(
        _("cleanup buffer (minutes)"),
        default=15,
        validators=[MaxValueValidator(120)],
        help_text=_("Time kept free after each appointment to reset the room."),
    )
    active = models.BooleanField(_("offered"), default=True, help_text=_("Untick to stop online booking."))
    display_order = models.PositiveSmallIntegerField(_("order"), default=0)
    # Rooms (issue 12): what the room must have for this technique (a mat for Shiatsu);
    # ignored while the clinic has no rooms set up.
    required_features = models.ManyToManyField(
        "RoomFeature",
        related_name="techniques",
        blank=True,
        verbose_name=_("needs a room with"),
    )
    for_two = models.BooleanField(
        _("also for two"),
        default=False,
        help_text=_("Also offer it as a session for two: two therapists, the same time, one room for two."),
    )

    objects = TechniqueQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name

    def preselected_length(self) -> TechniqueLength | None:
        """The length the booking page chooses in advance: the one staff marked, else the
        shortest (not the longest and dearest). Reads prefetched ``lengths``."""
        lengths = sorted(self.lengths.all(), key=lambda length: length.duration_minutes)
        return next((length for length in lengths if length.is_default), lengths[0] if lengths else None)


class TechniqueLength(models.Model):
    """One length a technique is offered in, with its price."""

    technique = models.ForeignKey(Technique, on_delete=models.CASCADE, related_name="lengths")
    duration_minutes = models.PositiveSmallIntegerField(
        _("length (minutes)"), validators=[MinValueValidator(15), MaxValueValidator(240)]
    )
    price = models.DecimalField(
        _("price (£)"), max_digits=7, decimal_places=2, validators=[MinValueValidator(0)]
    )
    is_default = models.BooleanField(
        _("chosen in advance"),
        default=False,
        help_text=_(
            "Already chosen when a client opens the booking page. One length at most; "
            "with none ticked, the shortest is chosen."
        ),
    )

    class Meta:
        ordering = ["technique", "duration_minutes"]
        constraints = [
            models.UniqueConstraint(fields=["technique", "duration_minutes"], name="technique_length_unique"),
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="technique_length_positive"),
            models.UniqueConstraint(
                fields=["technique"], condition=Q(is_default=True), name="technique_length_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.technique.name}, {self.duration_minutes} min"


class RoomFeature(models.Model):
    """Something a room has that a technique may need: a floor mat, a shower, two tables."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("room feature")

    def __str__(self) -> str:
        return self.name


class RoomQuerySet(models.QuerySet):
    def active(self) -> RoomQuerySet:
        return self.filter(active=True)


class Room(models.Model):
    """A treatment room. Optional: with no active rooms, bookings need no room at all
    (a single-room or home-visit practice does not model them)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    capacity = models.PositiveSmallIntegerField(
        _("tables"), choices=RoomCapacity.choices, default=RoomCapacity.ONE
    )
    features = models.ManyToManyField(
        RoomFeature, related_name="rooms", blank=True, verbose_name=_("features")
    )
    turnover_minutes = models.PositiveSmallIntegerField(
        _("turnover (minutes)"),
        default=0,
        validators=[MaxValueValidator(120)],
        help_text=_("Time to reset the room after each session (linen), apart from the therapist's cleanup."),
    )
    active = models.BooleanField(_("in use"), default=True)
    display_order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = RoomQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "name", "id"]
        verbose_name = _("room")
        constraints = [
            models.CheckConstraint(condition=Q(capacity__in=[1, 2]), name="room_capacity_one_or_two"),
        ]

    def __str__(self) -> str:
        return self.name


class TherapistQuerySet(models.QuerySet):
    def active(self) -> TherapistQuerySet:
        return self.filter(active=True)

    def offering(self, technique: Technique) -> TherapistQuerySet:
        return self.filter(techniques=technique)


class Therapist(models.Model):
    """A massage therapist who takes appointments."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    bio = models.TextField(_("short biography"), blank=True)
    photo = DetectedFormatImageField(
        _("photo"), upload_to=therapist_upload_to, blank=True, validators=[validate_photo]
    )
    techniques = models.ManyToManyField(
        Technique, related_name="therapists", blank=True, verbose_name=_("offers")
    )
    active = models.BooleanField(_("taking bookings"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="therapist",
        verbose_name=_("staff account"),
        help_text=_("Lets this therapist sign in and see their own schedule."),
    )
    # Issue 12: what "a female / male therapist" matches, the room they like to work in,
    # and how much hands-on work a day (and in one stretch) their hands can take.
    gender = models.CharField(
        _("gender"), max_length=10, choices=TherapistGender.choices, default=TherapistGender.UNSTATED
    )
    preferred_room = models.ForeignKey(
        Room,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="preferred_by",
        verbose_name=_("preferred room"),
    )
    max_daily_minutes = models.PositiveSmallIntegerField(
        _("most hands-on minutes a day"),
        null=True,
        blank=True,
        validators=[MinValueValidator(15), MaxValueValidator(24 * 60)],
        help_text=_("Leave empty for no limit."),
    )
    max_continuous_minutes = models.PositiveSmallIntegerField(
        _("most minutes back to back"),
        null=True,
        blank=True,
        validators=[MinValueValidator(15), MaxValueValidator(24 * 60)],
        help_text=_("Hands-on minutes without a break of at least 15 minutes. Leave empty for no limit."),
    )

    objects = TherapistQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def initials(self) -> str:
        return "".join(part[0] for part in self.name.split()[:2]).upper()


class WorkingHours(models.Model):
    """One period a therapist works on a weekday, in the clinic's wall-clock time."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        ordering = ["therapist", "weekday", "start"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="working_hours_start_before_end"),
        ]

    def __str__(self) -> str:
        start, end = formats.time_format(self.start, "H:i"), formats.time_format(self.end, "H:i")
        return f"{self.get_weekday_display()} {start}–{end}"

    def clean(self) -> None:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValidationError({"end": _("The period must end after it starts.")}, code="end_before_start")


class TimeOff(models.Model):
    """Time a therapist is away: holiday, training, sick leave."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("until"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["therapist", "start"]
        verbose_name = _("time off")
        verbose_name_plural = _("time off")
        # The availability load asks for the time off that ends after its window starts:
        # the index reads only current and future time off, never the past (time off has
        # no longest length that would bound its start from below, as appointments have).
        indexes = [models.Index(fields=["therapist", "end"], name="time_off_therapist_end")]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="time_off_start_before_end")
        ]

    def __str__(self) -> str:
        def shown(moment):
            return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")

        return f"{self.therapist}: {shown(self.start)} to {shown(self.end)}"

    def clean(self) -> None:
        if self.start and self.end and self.start >= self.end:
            raise ValidationError({"end": _("Time off must end after it starts.")}, code="end_before_start")


class Closure(models.Model):
    """Days the whole clinic is closed, such as public holidays."""

    first_day = models.DateField(_("first day"))
    last_day = models.DateField(_("last day"), help_text=_("The same as the first day for a single day."))
    reason = models.CharField(_("reason"), max_length=200)

    class Meta:
        ordering = ["first_day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_day__lte=F("last_day")), name="closure_first_before_last"
            )
        ]

    def __str__(self) -> str:
        if self.first_day == self.last_day:
            return f"{self.reason} ({formats.date_format(self.first_day, 'd M Y')})"
        first, last = formats.date_format(self.first_day, "d M"), formats.date_format(self.last_day, "d M Y")
        return f"{self.reason} ({first} to {last})"

    def clean(self) -> None:
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise ValidationError({"last_day": _("The last day cannot be before the first.")}, code="order")


class BookingPolicy(models.Model):
    """The clinic's booking rules (one row), editable by managers."""

    min_notice_minutes = models.PositiveIntegerField(
        _("minimum notice (minutes)"),
        default=120,
        help_text=_("Online bookings must start at least this far ahead."),
    )
    horizon_days = models.PositiveIntegerField(
        _("booking horizon (days)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(366)],
        help_text=_("How far ahead clients can book online."),
    )
    slot_step_minutes = models.PositiveSmallIntegerField(
        _("slot step (minutes)"),
        default=15,
        choices=[(5, "5"), (10, "10"), (15, "15"), (20, "20"), (30, "30"), (60, "60")],
        help_text=_("Start times offered: every 15 minutes means 9:00, 9:15, 9:30…"),
    )
    cancellation_cutoff_hours = models.PositiveIntegerField(
        _("cancellation cutoff (hours)"),
        default=24,
        help_text=_("Clients can cancel or reschedule online until this many hours before the start."),
    )

    class Meta:
        verbose_name = _("booking policy")
        verbose_name_plural = _("booking policy")

    def __str__(self) -> str:
        return str(_("Booking policy"))

    def save(self, *args, **kwargs):
        self.pk = 1  # there is only ever one policy
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> BookingPolicy:
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


def private_storage():
    """Storage for files only staff may fetch (doctors' notes): outside MEDIA_ROOT, so no
    web server or /media/ URL ever serves them; views stream them after a permission check."""
    from django.core.files.storage import FileSystemStorage

    return FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)


def email_key(email: str) -> str:
    """How an email address is matched to a client: case and surrounding spaces ignored."""
    return (email or "").strip().lower()


class ClientQuerySet(models.QuerySet):
    def current(self) -> ClientQuerySet:
        """Clients not erased and not merged into another record."""
        return self.filter(erased_at__isnull=True, merged_into__isnull=True)


class Client(models.Model):
    """A person who has massages here: one record across all their visits."""

    name = models.CharField(_("name"), max_length=120)
    email = models.EmailField(_("email"), blank=True)
    # email_key() of the email: what online bookings match on. Unique when present, so two
    # simultaneous first bookings with one new address end with one client.
    email_key = models.CharField(max_length=254, blank=True, editable=False)
    phone = PhoneNumberField(_("phone"), blank=True, help_text=_("Any format; stored in international form."))
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    pressure = models.CharField(_("preferred pressure"), max_length=10, choices=Pressure.choices, blank=True)
    areas_to_avoid = models.TextField(_("areas to avoid"), blank=True, max_length=1000)
    therapist_preference = models.CharField(
        _("therapist preference"),
        max_length=10,
        choices=TherapistPreference.choices,
        default=TherapistPreference.NONE,
    )
    preferred_therapist = models.ForeignKey(
        "Therapist",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="preferred_by",
        verbose_name=_("preferred therapist"),
        help_text=_("Used when the preference is a named therapist."),
    )
    preference_notes = models.TextField(_("other preferences"), blank=True, max_length=2000)
    # Marketing is asked and recorded apart from booking: agreeing to one never implies the other.
    marketing_consent_at = models.DateTimeField(_("agreed to news by email"), null=True, blank=True)
    marketing_withdrawn_at = models.DateTimeField(_("withdrew from news by email"), null=True, blank=True)
    # When staff last checked the details with the client: details a client types online
    # never overwrite verified ones unless they are newer and the client confirmed them.
    verified_at = models.DateTimeField(_("details verified"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
        editable=False,
    )
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["phone"], name="client_phone")]
        constraints = [
            models.UniqueConstraint(
                fields=["email_key"],
                condition=~Q(email_key="") & Q(merged_into__isnull=True),
                name="client_email_key_unique",
            ),
        ]
        permissions = [
            ("view_health_data", "Can see health answers and doctor's notes"),
            ("export_client", "Can export everything held about a client"),
            ("erase_client", "Can erase a client"),
            ("merge_clients", "Can merge duplicate clients"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # A derived column, not a side effect: it must always match the email it comes from.
        self.email_key = email_key(self.email)
        if kwargs.get("update_fields") is not None and "email" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "email_key"}
        super().save(*args, **kwargs)


def manage_signer() -> signing.Signer:
    # A salt of its own: a value signed anywhere else on the site is never a valid token.
    return signing.Signer(salt="booking.appointment-manage")


def new_reference() -> str:
    # Short enough to read over the phone; no 0/O or 1/I to confuse.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def new_secret() -> str:
    return secrets.token_urlsafe(24)


class AppointmentQuerySet(models.QuerySet):
    def occupying(self) -> AppointmentQuerySet:
        return self.filter(status__in=OCCUPYING_STATUSES)

    def on_local_days(self, first: date | None, last: date | None, *, zone: tzinfo) -> AppointmentQuerySet:
        """Appointments starting on the clinic's days ``first`` to ``last`` (inclusive;
        either end may be open). Local days, so 00:30 BST is the day it says."""
        queryset = self
        if first is not None:
            queryset = queryset.filter(start__gte=day_span(first, zone)[0])
        if last is not None:
            queryset = queryset.filter(start__lt=day_span(last, zone)[1])
        return queryset

    def bookings(self) -> AppointmentQuerySet:
        """Appointments a client booked: not the waitlist's holds, live or lapsed (a hold
        keeps ``held_until`` until it is accepted, when it becomes a booking)."""
        return self.filter(held_until__isnull=True)

    def overlapping(self, start, end) -> AppointmentQuerySet:
        """Appointments whose occupied time (with buffer) meets [start, end)."""
        return self.filter(start__lt=end, occupied_until__gt=start)


class Appointment(models.Model):
    """A booked massage: who, what, when (UTC), for whom."""

    therapist = models.ForeignKey(Therapist, on_delete=models.PROTECT, related_name="appointments")
    technique = models.ForeignKey(Technique, on_delete=models.PROTECT, related_name="appointments")
    duration_minutes = models.PositiveSmallIntegerField(_("length (minutes)"))
    price = models.DecimalField(_("price (£)"), max_digits=7, decimal_places=2)
    buffer_minutes = models.PositiveSmallIntegerField(_("cleanup buffer (minutes)"), default=0)
    start = models.DateTimeField(_("start"), db_index=True)
    end = models.DateTimeField(_("end"))
    # end + buffer: the time the therapist and room are taken. Stored so the database can
    # index it and refuse overlaps itself.
    occupied_until = models.DateTimeField(_("occupied until"), editable=False)
    # The room (issue 12), empty when the clinic has no rooms. room_until = end + the
    # room's turnover: the time the room is taken, which the database keeps from
    # overlapping (migration 0021, PostgreSQL).
    room = models.ForeignKey(
        Room,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("room"),
    )
    room_until = models.DateTimeField(_("room taken until"), null=True, blank=True, editable=False)
    # A session for two is two appointments with one reference and manage link: seat 1
    # (the one who booked) and seat 2 (their guest), booked, moved and cancelled together.
    seat = models.PositiveSmallIntegerField(_("seat"), default=1, editable=False)
    # Until when a HELD appointment (a waitlist offer) keeps its time.
    held_until = models.DateTimeField(_("held until"), null=True, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.CONFIRMED
    )
    # The person across visits; every path that books sets it (services.clients).
    client = models.ForeignKey(
        Client,
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("client"),
    )
    # The contact details as given for this booking (what emails use); the client record
    # holds the person's current, verified details.
    client_name = models.CharField(_("client name"), max_length=120)
    client_email = models.EmailField(_("client email"))
    client_phone = models.CharField(_("client phone"), max_length=40)
    client_notes = models.TextField(_("notes for the therapist"), blank=True, max_length=2000)
    # Health answers live in HealthIntake (one per visit, encrypted), not here.
    reference = models.CharField(_("reference"), max_length=12, default=new_reference, editable=False)
    manage_secret = models.CharField(max_length=64, default=new_secret, editable=False)
    source = models.CharField(
        _("booked via"), max_length=10, choices=AppointmentSource.choices, default=AppointmentSource.STAFF
    )
    sequence = models.PositiveIntegerField(default=0, editable=False, help_text="Calendar revision number.")
    # The one-time key of the online confirmation that made this booking: a repeated or
    # concurrent "Confirm booking" carries the same key, and the unique index lets only
    # one of them insert. Empty (NULL) for staff bookings.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    # Set, once, by the conditional update in services.reminders_queue(): the row itself
    # decides which of several reminder runs queues the email. Cleared when the time moves.
    reminder_queued_at = models.DateTimeField(_("reminder queued"), null=True, blank=True, editable=False)
    # When it was cancelled, by the client or by staff (set by appointment_cancel): the
    # reports tell a late cancellation (inside the policy's cutoff) from an early one.
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        # The manager's reports (issue 15): figures across all therapists and revenue.
        permissions = [("view_reports", "Can see the clinic's reports")]
        indexes = [
            models.Index(fields=["therapist", "start"], name="appointment_therapist_start"),
            models.Index(fields=["room", "start"], name="appointment_room_start"),
            # A client's visits in time order: the reports' "returning client" check (one
            # probe per client of the range instead of reading all their visits), the
            # client's own page and history.
            models.Index(fields=["client", "start"], name="appointment_client_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="appointment_start_before_end"),
            models.CheckConstraint(
                condition=Q(occupied_until__gte=F("end")), name="appointment_buffer_after_end"
            ),
            models.CheckConstraint(
                condition=Q(room__isnull=True, room_until__isnull=True)
                | Q(room__isnull=False, room_until__gte=F("end")),
                name="appointment_room_until_after_end",
            ),
            models.CheckConstraint(condition=Q(seat__in=[1, 2]), name="appointment_seat_one_or_two"),
            models.UniqueConstraint(fields=["reference", "seat"], name="appointment_reference_seat"),
            # On PostgreSQL the migration 0002_no_overlap also adds an exclusion
            # constraint: one therapist never has two occupying appointments whose time,
            # buffer included, overlaps. It lives in a migration, not here, because
            # Django would try to create it on SQLite too.
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.client_name}, {self.technique} with {self.therapist}"

    def get_absolute_url(self) -> str:
        return reverse("admin:booking_appointment_change", args=[self.pk])

    def clean(self) -> None:
        # However the name was typed (a textarea paste keeps CR/LF), it is stored as one
        # plain line: it goes into email headers, greetings and the schedule.
        self.client_name = single_line(self.client_name or "")

    @property
    def manage_token(self) -> str:
        """The signed, unguessable key of the client's manage link."""
        return manage_signer().sign(f"{self.reference}.{self.manage_secret}")

    @property
    def occupies_time(self) -> bool:
        return self.status in OCCUPYING_STATUSES

    def length_as_booked(self) -> TechniqueLength:
        """The length and price as booked (unsaved), even if the technique's lengths have
        changed since: a move keeps what the client agreed to."""
        return TechniqueLength(
            technique=self.technique, duration_minutes=self.duration_minutes, price=self.price
        )


class ClientChange(models.Model):
    """A change a client made online (cancel, move), for the appointment's history.

    Changes made in the admin are in Django's admin log, which needs a staff user; this
    keeps the client's own changes beside them. It stores what happened (a code and the
    times), and the words are chosen when it is shown."""

    class Kind(models.TextChoices):
        CANCELLED = "cancelled", _("Cancelled online by the client")
        MOVED = "moved", _("Moved online by the client")

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="client_changes")
    at = models.DateTimeField(_("when"), auto_now_add=True)
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    previous_start = models.DateTimeField(_("moved from"), null=True, blank=True)
    new_start = models.DateTimeField(_("moved to"), null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("client change")

    def __str__(self) -> str:
        return f"{self.appointment.reference}: {self.get_kind_display()}"


class SentEmail(models.Model):
    """One email about an appointment that the mail server accepted.

    Written by the email task as soon as the server accepts the message, and checked
    before sending: a task run again after its worker died (see ``booking.tasks``) finds
    the email already sent and does not send it twice. Also counts emails per recipient
    for the daily cap."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="sent_emails")
    kind = models.CharField(_("kind"), max_length=30)
    sequence = models.PositiveIntegerField(_("revision"))
    recipient = models.EmailField(_("recipient"), help_text=_("Lower-cased address the email went to."))
    message_id = models.CharField(_("Message-ID"), max_length=255)
    sent_at = models.DateTimeField(_("sent"))

    class Meta:
        ordering = ["sent_at"]
        verbose_name = _("sent email")
        constraints = [
            models.UniqueConstraint(fields=["appointment", "kind", "sequence"], name="sent_email_once")
        ]
        indexes = [models.Index(fields=["recipient", "sent_at"], name="sent_email_recipient_day")]

    def __str__(self) -> str:
        return f"{self.appointment_id} {self.kind} #{self.sequence}"


class TaskWorker(models.Model):
    """A running task worker's heartbeat (``manage.py run_worker``).

    A task left RUNNING by a worker whose heartbeat stopped (killed, out of memory,
    container restarted) is run again by another worker; see ``booking.tasks``."""

    worker_id = models.CharField(_("worker id"), max_length=64, primary_key=True)
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("task worker")

    def __str__(self) -> str:
        return self.worker_id


class HealthQuestion(models.Model):
    """A question asked before a massage; managers edit the wording and the help."""

    key = models.SlugField(
        _("code"), max_length=40, unique=True, help_text=_("A short fixed name the rules refer to.")
    )
    text = models.CharField(_("question"), max_length=200)
    help_text = models.CharField(_("help"), max_length=300, blank=True)
    details_label = models.CharField(
        _("details to ask for"),
        max_length=120,
        blank=True,
        help_text=_("Asked when the answer is yes, e.g. 'Which medication?'. Empty: none."),
    )
    number_label = models.CharField(
        _("number to ask for"),
        max_length=120,
        blank=True,
        help_text=_("Asked when the answer is yes, e.g. 'How many weeks?'. Empty: none."),
    )
    active = models.BooleanField(_("asked"), default=True)
    display_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["display_order", "id"]

    def __str__(self) -> str:
        return self.text


class HealthRule(models.Model):
    """What a yes (or a number in a range) to a health question leads to, for one
    technique or for all. The strictest matching rule wins."""

    question = models.ForeignKey(HealthQuestion, on_delete=models.CASCADE, related_name="rules")
    technique = models.ForeignKey(
        "Technique",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="health_rules",
        help_text=_("Empty: every technique."),
    )
    number_min = models.PositiveIntegerField(
        _("from (number)"), null=True, blank=True, help_text=_("Only when the number is at least this.")
    )
    number_max = models.PositiveIntegerField(
        _("up to (number)"), null=True, blank=True, help_text=_("Only when the number is at most this.")
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=RuleOutcome.choices)
    staff_note = models.CharField(
        _("note for the therapist"), max_length=300, blank=True, help_text=_("Why, and what to do.")
    )
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["question", "technique", "number_min"]
        constraints = [
            models.CheckConstraint(
                condition=Q(number_min__isnull=True)
                | Q(number_max__isnull=True)
                | Q(number_min__lte=F("number_max")),
                name="health_rule_range_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.question.key}: {self.get_outcome_display()}"


class HealthIntake(models.Model):
    """The health answers a client gave for one visit: what was true then, never
    overwritten. Encrypted at rest."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="intakes")
    appointment = models.OneToOneField(
        "Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="intake"
    )
    # {question key: {"yes": bool, "details": str, "number": int | None}}
    answers = EncryptedJSONField(_("answers"), default=dict, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=RuleOutcome.choices, default=RuleOutcome.ALLOW
    )
    # The question keys flagged for the therapist, encrypted like the answers; `flagged`
    # alone is plain so lists can be filtered without decrypting.
    flags = EncryptedJSONField(_("flags"), default=list, blank=True)
    flagged = models.BooleanField(_("has flags"), default=False)
    unchanged_since = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The earlier answers the client confirmed had not changed."),
    )
    source = models.CharField(
        _("given"), max_length=10, choices=IntakeSource.choices, default=IntakeSource.ONLINE
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("given at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"{self.client} ({self.created_at:%Y-%m-%d})" if self.created_at else str(self.client)


class DoctorNote(models.Model):
    """A doctor's note a rule asked for: uploaded by the client, or marked received by staff."""

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, null=True, blank=True, related_name="doctor_notes"
    )
    appointment = models.ForeignKey(
        "Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="doctor_notes"
    )
    file = models.FileField(_("file"), storage=private_storage, upload_to="doctor-notes/", blank=True)
    content_type = models.CharField(max_length=50, blank=True, editable=False)
    # Links an upload made during an online booking to the booking once it is confirmed.
    draft_token = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    uploaded_at = models.DateTimeField(_("uploaded"), null=True, blank=True)
    received_at = models.DateTimeField(_("marked received"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("doctor's note")
        verbose_name_plural = _("doctors' notes")

    def __str__(self) -> str:
        return str(_("Doctor's note %(id)s")) % {"id": self.pk}


class PolicyText(models.Model):
    """One version of a text clients agree to. A change is a new version; bookings keep
    the version they agreed to."""

    kind = models.CharField(_("text"), max_length=20, choices=PolicyKind.choices)
    version = models.PositiveIntegerField(_("version"), editable=False)
    body = models.TextField(_("wording"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["kind", "-version"]
        get_latest_by = "version"
        verbose_name = _("policy text")
        constraints = [models.UniqueConstraint(fields=["kind", "version"], name="policy_text_version_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"


class Consent(models.Model):
    """A client's agreement to one version of a policy text, for one booking."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    appointment = models.ForeignKey(
        "Appointment", on_delete=models.CASCADE, null=True, blank=True, related_name="consents"
    )
    policy = models.ForeignKey(PolicyText, on_delete=models.PROTECT, related_name="consents")
    agreed_at = models.DateTimeField(_("agreed at"))
    method = models.CharField(_("how"), max_length=12, choices=ConsentMethod.choices)
    typed_name = models.CharField(_("name typed"), max_length=120, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-agreed_at"]

    def __str__(self) -> str:
        return f"{self.client}: {self.policy}"


class TreatmentNote(models.Model):
    """The treating therapist's clinical note (SOAP) for one appointment. Signing locks it;
    later corrections are addenda. Encrypted at rest."""

    appointment = models.OneToOneField("Appointment", on_delete=models.PROTECT, related_name="treatment_note")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # null=True: the encrypted field stores an empty text as NULL (nothing to encrypt).
    subjective = EncryptedTextField(_("subjective (what the client reports)"), blank=True, null=True)
    objective = EncryptedTextField(_("objective (what you found and did)"), blank=True, null=True)
    areas = EncryptedJSONField(_("areas treated"), default=list, blank=True)  # BodyArea codes
    pressure = models.CharField(_("pressure used"), max_length=10, choices=Pressure.choices, blank=True)
    assessment = EncryptedTextField(_("assessment"), blank=True, null=True)
    plan = EncryptedTextField(_("plan"), blank=True, null=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True, editable=False)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # Notes are never deleted; a manager may withdraw one (logged).
    deleted_at = models.DateTimeField(_("withdrawn"), null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("view_all_treatment_notes", "Can read every therapist's treatment notes")]

    def __str__(self) -> str:
        return str(_("Treatment note for %(reference)s")) % {"reference": self.appointment.reference}


class NoteAddendum(models.Model):
    """A correction or addition to a signed treatment note, with its author and time."""

    note = models.ForeignKey(TreatmentNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = EncryptedTextField(_("addendum"))
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = _("note addenda")

    def __str__(self) -> str:
        return str(_("Addendum to %(note)s")) % {"note": self.note}


class HealthDataAccess(models.Model):
    """One look by staff at a client's health data or notes: who, when, what."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    # Kept as written at the time, so the record survives the account.
    username = models.CharField(max_length=150)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, null=True, related_name="health_accesses")
    kind = models.CharField(max_length=20, choices=HealthAccessKind.choices)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("health data access")
        verbose_name_plural = _("health data accesses")

    def __str__(self) -> str:
        return f"{self.username}: {self.get_kind_display()} ({self.at:%Y-%m-%d %H:%M})"


class ClientLink(models.Model):
    """A one-use link emailed to a client (issue 14): to sign in, or to confirm erasing
    their account. The link carries the row's id and secret, signed; the row says whether
    it was sent, used, and until when it works."""

    class Purpose(models.TextChoices):
        SIGN_IN = "sign_in", _("Sign in")
        ERASE = "erase", _("Delete the account")

    purpose = models.CharField(_("for"), max_length=10, choices=Purpose.choices)
    # The address typed on the sign-in page, kept only until the email task has looked it
    # up (then blanked, or the row deleted when no client has it): the page does the same
    # work whether or not the address is known, and the look-up happens in the task.
    email = models.EmailField(_("email typed"), blank=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    secret = models.CharField(max_length=64, default=new_secret, editable=False)
    # sha256 of the random cookie of the browser that asked: the link signs in only there.
    browser_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("asked"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    # Set by the email task once the mail server accepted the email, and checked before
    # sending, so a task run again after its worker died does not send it twice.
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("client link")
        indexes = [models.Index(fields=["expires_at"], name="client_link_expires")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} #{self.pk}"


class ScheduleVersion(models.Model):
    """A clinic-wide counter that every change to what can be booked moves on (one row).

    Database triggers (installed by ``booking.schedule_version``) bump it inside the
    writing transaction, so cached availability keyed by it is never older than the
    last committed change."""

    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("schedule version")

    def __str__(self) -> str:
        return str(self.value)


# Waitlist (issue 14) ------------------------------------------------------------------


class WaitlistEntry(models.Model):
    """A client waiting for a time to free up: what, with whom, which days and parts of day."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="waitlist_entries")
    technique = models.ForeignKey(Technique, on_delete=models.CASCADE, related_name="waitlist_entries")
    length = models.ForeignKey(
        TechniqueLength, on_delete=models.CASCADE, related_name="waitlist_entries", verbose_name=_("length")
    )
    therapist = models.ForeignKey(
        Therapist,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="waitlist_entries",
        help_text=_("Empty: any therapist."),
    )
    first_day = models.DateField(_("from"))
    last_day = models.DateField(_("until"))
    morning = models.BooleanField(_("mornings"), default=True)
    afternoon = models.BooleanField(_("afternoons"), default=True)
    evening = models.BooleanField(_("evenings"), default=True)
    status = models.CharField(
        _("status"), max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    source = models.CharField(
        _("joined via"), max_length=10, choices=AppointmentSource.choices, default=AppointmentSource.ONLINE
    )
    # The secret of the client's link to their entry (to leave the list without signing in).
    secret = models.CharField(max_length=64, default=new_secret, editable=False)
    created_at = models.DateTimeField(_("joined"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        # Joining order: the first in line is offered first.
        ordering = ["created_at", "id"]
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist")
        indexes = [models.Index(fields=["status", "first_day", "last_day"], name="waitlist_open_days")]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_day__lte=F("last_day")), name="waitlist_first_before_last"
            ),
            models.CheckConstraint(
                condition=Q(morning=True) | Q(afternoon=True) | Q(evening=True),
                name="waitlist_some_part_of_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} · {self.technique} ({self.get_status_display()})"

    def parts(self) -> set[str]:
        return {name for name in ("morning", "afternoon", "evening") if getattr(self, name)}


def new_offer_token() -> str:
    return secrets.token_urlsafe(32)


class WaitlistOffer(models.Model):
    """A freed time offered to one waitlist entry, held for it (a HELD appointment) until
    ``expires_at``; answered once: accepted, declined, lapsed or withdrawn."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="waitlist_offer", verbose_name=_("held time")
    )
    # The time offered (a copy of the hold's start), so one entry is never offered the same
    # time twice (the unique constraint below), whatever happens to the hold.
    start = models.DateTimeField(_("time offered"))
    offered_at = models.DateTimeField(_("offered"))
    expires_at = models.DateTimeField(_("held until"))
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=OfferOutcome.choices, default=OfferOutcome.PENDING, blank=True
    )
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    # The one-use key of the "Book it" and "No thanks" links; useless once answered.
    token = models.CharField(max_length=64, unique=True, default=new_offer_token, editable=False)
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: offered automatically when the time freed up."),
    )

    class Meta:
        ordering = ["-offered_at", "-id"]
        verbose_name = _("waitlist offer")
        constraints = [
            models.UniqueConstraint(fields=["entry", "start"], name="waitlist_offer_once_per_time"),
            models.UniqueConstraint(
                fields=["entry"], condition=Q(outcome=""), name="waitlist_offer_one_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} @ {self.start:%Y-%m-%d %H:%M}"


# Time-off requests (issue 15) ---------------------------------------------------------


class TimeOffRequest(models.Model):
    """A therapist asking for time off; a manager approves it (which records the TimeOff)
    or declines it. Written only by services.time_off_requests."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="time_off_requests")
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("until"))
    reason = models.CharField(
        _("reason"), max_length=200, blank=True, help_text=_("Optional, a few words: holiday, training.")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=TimeOffRequestStatus.choices, default=TimeOffRequestStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    created_at = models.DateTimeField(_("asked"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.TextField(
        _("note to the therapist"),
        max_length=1000,
        blank=True,
        help_text=_("Optional; goes in the email. Say why, when declining."),
    )
    time_off = models.OneToOneField(
        TimeOff,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="request",
        verbose_name=_("time off recorded"),
    )
    # Set by the email task once the mail server accepted the decision email, and checked
    # before sending, so a task run again does not send it twice.
    decision_emailed_at = models.DateTimeField(_("therapist emailed"), null=True, blank=True)
    # The same for the notice telling managers a request arrived.
    arrival_emailed_at = models.DateTimeField(_("managers emailed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("time-off request")
        verbose_name_plural = _("time-off requests")
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")),
                name="time_off_request_start_before_end",
                violation_error_message=_("The time off must end after it starts."),
            ),
            # The same dates asked twice while the first is still waiting (a double submit).
            models.UniqueConstraint(
                fields=["therapist", "start", "end"],
                condition=Q(status="pending"),
                name="time_off_request_one_pending",
            ),
        ]
        indexes = [models.Index(fields=["status", "start"], name="time_off_request_status")]

    def __str__(self) -> str:
        def shown(moment):
            return formats.date_format(timezone.localtime(moment), "D j M Y H:i")

        return f"{self.therapist}: {shown(self.start)} to {shown(self.end)}"


# Therapists' calendar feeds (issue 15) -----------------------------------------------


def calendar_feed_hash(secret: str) -> str:
    """How a feed's secret is looked up: its sha256, so the table alone opens no feed."""
    return hashlib.sha256(secret.encode()).hexdigest()


class CalendarFeed(models.Model):
    """A therapist's private calendar subscription: a secret address their phone's
    calendar reads their own appointments from, until it is revoked or replaced."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="calendar_feeds")
    # sha256 of the secret in the address; the secret itself is shown once and never stored.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("made"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Roughly when a calendar last read it (updated at most hourly: no write per fetch).
    last_used_at = models.DateTimeField(_("last read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("calendar feed")
        constraints = [
            # A new link replaces the old one; the database keeps it to one live link each.
            models.UniqueConstraint(
                fields=["therapist"], condition=Q(revoked_at__isnull=True), name="calendar_feed_one_live"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.therapist_id} #{self.pk}"

    @property
    def live(self) -> bool:
        return self.revoked_at is None
