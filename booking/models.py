"""What can be booked, who works when, and the appointments themselves."""

from __future__ import annotations

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
from django.utils.translation import gettext_lazy as _

from articles.validators import validate_hero_image, validate_photo
from clinic.text import single_line
from clinic.uploads import DetectedFormatImageField

from .availability import day_span
from .choices import OCCUPYING_STATUSES, AppointmentSource, AppointmentStatus, Weekday


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
        """Offered, in at least one length, by at least one therapist taking bookings:
        what the booking pages list. Anything less leads a client to a week of nothing."""
        return self.active().filter(
            models.Exists(Therapist.objects.filter(active=True, techniques=models.OuterRef("pk"))),
            models.Exists(TechniqueLength.objects.filter(technique=models.OuterRef("pk"))),
        )


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
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

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
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="time_off_start_before_end")
        ]

    def __str__(self) -> str:
        return f"{self.therapist}: {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"

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
            return f"{self.reason} ({self.first_day:%d %b %Y})"
        return f"{self.reason} ({self.first_day:%d %b} to {self.last_day:%d %b %Y})"

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
    status = models.CharField(
        _("status"), max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.CONFIRMED
    )
    client_name = models.CharField(_("client name"), max_length=120)
    client_email = models.EmailField(_("client email"))
    client_phone = models.CharField(_("client phone"), max_length=40)
    client_notes = models.TextField(_("notes for the therapist"), blank=True, max_length=2000)
    # Health questions asked before a massage. Special-category data: only staff who need
    # it see it (see the staff roles), and it is never put in emails.
    pregnant = models.BooleanField(_("pregnant"), default=False)
    recent_injury = models.TextField(
        _("recent injuries or surgery"), blank=True, max_length=1000, help_text=_("As told by the client.")
    )
    health_conditions = models.TextField(
        _("conditions or medication"), blank=True, max_length=1000, help_text=_("As told by the client.")
    )
    policy_agreed_at = models.DateTimeField(
        _("agreed to the cancellation policy"), null=True, blank=True, editable=False
    )
    reference = models.CharField(
        _("reference"), max_length=12, unique=True, default=new_reference, editable=False
    )
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
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["therapist", "start"], name="appointment_therapist_start")]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="appointment_start_before_end"),
            models.CheckConstraint(
                condition=Q(occupied_until__gte=F("end")), name="appointment_buffer_after_end"
            ),
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
    keeps the client's own changes beside them."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="client_changes")
    at = models.DateTimeField(_("when"), auto_now_add=True)
    summary = models.CharField(_("what"), max_length=300)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("client change")

    def __str__(self) -> str:
        return f"{self.appointment.reference}: {self.summary}"


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
