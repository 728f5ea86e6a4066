"""Staff screens for booking. Appointments are written through the booking services,
so the admin can never double-book: a clash is a form error naming the other booking."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from . import roles, services
from .choices import AppointmentSource, AppointmentStatus
from .models import (
    Appointment,
    BookingPolicy,
    Closure,
    Technique,
    TechniqueLength,
    Therapist,
    TimeOff,
    WorkingHours,
)


class TechniqueLengthInline(admin.TabularInline):
    model = TechniqueLength
    extra = 1
    min_num = 1


@admin.register(Technique)
class TechniqueAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "buffer_minutes", "display_order"]
    list_editable = ["active", "display_order"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    inlines = [TechniqueLengthInline]


class WorkingHoursFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        periods = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("start") or not data.get("end"):
                continue
            periods.append((data["weekday"], data["start"], data["end"], form))
        periods.sort(key=lambda p: (p[0], p[1]))
        for (day_a, _start_a, end_a, _form_a), (day_b, start_b, _end_b, form_b) in zip(
            periods, periods[1:], strict=False
        ):
            if day_a == day_b and start_b < end_a:
                raise ValidationError(
                    _("Two periods on %(day)s overlap (%(start)s starts before the other ends).")
                    % {
                        "day": form_b.instance.get_weekday_display() or day_b,
                        "start": start_b.strftime("%H:%M"),
                    },
                    code="overlap",
                )


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    extra = 1


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(Therapist)
class TherapistAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "technique_list"]
    list_filter = ["active", "techniques"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    filter_horizontal = ["techniques"]
    inlines = [WorkingHoursInline, TimeOffInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("techniques")

    @admin.display(description=_("offers"))
    def technique_list(self, obj: Therapist) -> str:
        return ", ".join(t.name for t in obj.techniques.all())


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["reason", "first_day", "last_day"]
    date_hierarchy = "first_day"


@admin.register(BookingPolicy)
class BookingPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "min_notice_minutes",
        "horizon_days",
        "slot_step_minutes",
        "cancellation_cutoff_hours",
    ]

    def has_add_permission(self, request):
        return not BookingPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class AppointmentAdminForm(forms.ModelForm):
    """Creates and moves appointments through the booking services, during validation,
    so that any clash comes back as a form error rather than a database error page."""

    length = forms.ModelChoiceField(
        queryset=TechniqueLength.objects.select_related("technique"),
        required=False,
        help_text=_("For a new appointment: the length and price to book."),
    )
    allow_outside_hours = forms.BooleanField(
        required=False,
        label=_("Book outside working hours"),
        help_text=_(
            "Tick to book a therapist outside their working hours. "
            "Closures and other appointments still apply."
        ),
    )

    class Meta:
        model = Appointment
        fields = [
            "therapist", "technique", "start", "status",
            "client_name", "client_email", "client_phone", "client_notes",
            "pregnant", "recent_injury", "health_conditions",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            if self.instance.pk is None:
                self._book(cleaned)
            else:
                self._change(cleaned)
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        return cleaned

    def _client(self, cleaned) -> services.ClientDetails:
        return services.ClientDetails(
            name=cleaned["client_name"],
            email=cleaned["client_email"],
            phone=cleaned["client_phone"],
            notes=cleaned.get("client_notes", ""),
            pregnant=cleaned.get("pregnant", False),
            recent_injury=cleaned.get("recent_injury", ""),
            health_conditions=cleaned.get("health_conditions", ""),
        )

    def _book(self, cleaned) -> None:
        length = cleaned.get("length")
        if length is None:
            raise ValidationError(_("Choose the length to book."))
        if cleaned.get("status") not in (None, "", AppointmentStatus.CONFIRMED):
            raise ValidationError(_("New appointments start as confirmed."))
        self.instance = services.appointment_book(
            technique=cleaned["technique"],
            length=length,
            start=cleaned["start"],
            client=self._client(cleaned),
            therapist=cleaned["therapist"],
            source=AppointmentSource.STAFF,
            allow_outside_hours=cleaned.get("allow_outside_hours", False),
        )

    def _change(self, cleaned) -> None:
        original = Appointment.objects.get(pk=self.instance.pk)
        if cleaned["technique"] != original.technique:
            raise ValidationError(_("To change the technique, cancel and book again."))
        moved = cleaned["start"] != original.start or cleaned["therapist"] != original.therapist
        if moved:
            services.appointment_reschedule(
                appointment=original,
                new_start=cleaned["start"],
                therapist=cleaned["therapist"],
                allow_outside_hours=cleaned.get("allow_outside_hours", False),
            )
        if (
            cleaned["status"] == AppointmentStatus.CANCELLED
            and original.status != AppointmentStatus.CANCELLED
        ):
            services.appointment_cancel(appointment=original)
        elif (
            original.status == AppointmentStatus.CANCELLED
            and cleaned["status"] != AppointmentStatus.CANCELLED
        ):
            raise ValidationError(_("A cancelled appointment cannot be revived; book a new one."))
        self.instance.refresh_from_db()


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    form = AppointmentAdminForm
    list_display = [
        "start",
        "therapist",
        "technique",
        "duration_minutes",
        "client_name",
        "client_phone",
        "status",
        "source",
    ]
    list_filter = ["status", "source", "therapist", "technique", "start"]
    search_fields = ["client_name", "client_email", "client_phone", "reference"]
    date_hierarchy = "start"
    list_select_related = ["therapist", "technique"]
    readonly_fields = [
        "reference",
        "duration_minutes",
        "price",
        "buffer_minutes",
        "end",
        "source",
        "created_at",
        "updated_at",
        "policy_agreed_at",
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if roles.sees_only_own_appointments(request.user):
            # Lists, searches and change pages all go through here, so a therapist can
            # reach no one else's appointment by any of them.
            therapist = getattr(request.user, "therapist", None)
            return queryset.filter(therapist=therapist) if therapist else queryset.none()
        return queryset

    def get_fields(self, request, obj=None):
        fields = ["therapist", "technique", "length", "start", "allow_outside_hours", "status"]
        if obj is not None:
            fields = ["reference", "therapist", "technique", "duration_minutes", "price", "start", "end",
                      "allow_outside_hours", "status", "source"]  # fmt: skip
        fields += ["client_name", "client_email", "client_phone", "client_notes"]
        fields += ["pregnant", "recent_injury", "health_conditions"]
        return fields + (["policy_agreed_at"] if obj is not None else [])

    def save_model(self, request, obj, form, change):
        # The form already booked or moved the appointment through the services; this
        # saves only plain edits (client details, completed, no-show).
        obj.save()
