"""Staff screens for booking. Appointments are written through the booking services,
so the admin can never double-book: a clash is a form error naming the other booking."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from axes import admin as axes_admin
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic import uploads

from .. import availability as engine
from .. import dayplan, exports, roles, selectors
from ..choices import AppointmentSource, AppointmentStatus, TherapistGender
from ..forms import PhoneField, parse_iso_date, validate_clinic_date
from ..models import (
    Appointment,
    BookingPolicy,
    Closure,
    Room,
    Technique,
    TechniqueLength,
    Therapist,
    TimeOff,
    WorkingHours,
)
from ..phones import phone_e164
from ..services import appointments, consent, schedules, waitlist


class SaveRefused(Exception):
    """A service refused the save; the admin's transaction rolls back every step of it."""

    def __init__(self, error: ValidationError):
        super().__init__(error)
        self.messages = error.messages


class ServiceSaveMixin:
    """For admins whose save path calls services that validate and write in one step.

    Django runs the whole admin save (form, inlines, log) in one transaction. When a
    service refuses, the save raises :class:`SaveRefused`, which rolls all of it back
    (emails included: they are queued in the same transaction), and the page is shown
    again with the input kept and the service's reasons as form errors."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SaveRefused as refused:
            request.booking_refused = refused.messages
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refused = getattr(request, "booking_refused", None)
        if not refused:
            return form

        def clean(self):
            cleaned = super(refusing, self).clean()
            if not self.errors:
                raise ValidationError(refused)
            return cleaned

        refusing = type(form.__name__, (form,), {"clean": clean})
        return refusing


# Dates staff type are held to the clinic's years, as the booking pages' are: year 9999
# would overflow the availability checks, and a closure from year 1 to 9999 would make
# every booking page walk through millions of days.
CLINIC_DATES = {
    models.DateField: {"validators": [validate_clinic_date]},
    models.DateTimeField: {"validators": [validate_clinic_date]},
}


class TechniqueLengthFormSet(BaseInlineFormSet):
    """One length at most is chosen in advance (the database refuses two as well)."""

    def _ticked(self) -> list[forms.ModelForm]:
        return [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and form.cleaned_data.get("is_default")
            and not form.cleaned_data.get("DELETE")
        ]

    def clean(self):
        super().clean()
        if len(self._ticked()) > 1:
            raise ValidationError(
                _("Tick “chosen in advance” for one length at most."), code="several_defaults"
            )

    def save(self, commit=True):
        if commit and self.instance.pk is not None:
            # Untick the old choice first: rows are saved in order, and the database
            # allows one ticked length at any moment.
            keep = [form.instance.pk for form in self._ticked() if form.instance.pk is not None]
            self.model.objects.filter(technique=self.instance, is_default=True).exclude(pk__in=keep).update(
                is_default=False
            )
        return super().save(commit)


class TechniqueLengthInline(admin.TabularInline):
    model = TechniqueLength
    formset = TechniqueLengthFormSet
    extra = 1
    min_num = 1
    verbose_name = _("length and price")
    verbose_name_plural = _("lengths and prices")


# Paths under /book/ that a technique's slug would shadow.
RESERVED_SLUGS = {"manage", "confirmed", "api", "admin", "static", "media", "account", "again"}


class TechniqueAdminForm(forms.ModelForm):
    class Meta:
        model = Technique
        fields = [
            "name", "slug", "summary", "description", "suitable_for", "image",
            "buffer_minutes", "active", "display_order", "required_features", "for_two",
        ]  # fmt: skip
        widgets = {"required_features": forms.CheckboxSelectMultiple}
        help_texts = {
            "required_features": _(
                "Only rooms with all of these are booked for it (for example a floor mat for "
                "Shiatsu). Ignored while the clinic has no rooms set up."
            )
        }

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise ValidationError(
                _("“%(slug)s” is used by the booking pages' own addresses; choose another."),
                code="reserved",
                params={"slug": slug},
            )
        return slug


@admin.register(Technique)
class TechniqueAdmin(admin.ModelAdmin):
    form = TechniqueAdminForm
    list_display = [
        "name", "lengths_and_prices", "buffer_minutes", "room_needs", "for_two", "active", "display_order",
    ]  # fmt: skip
    list_editable = ["active", "display_order"]
    list_filter = ["active", "for_two"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    inlines = [TechniqueLengthInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lengths", "required_features")

    @admin.display(description=_("needs a room with"))
    def room_needs(self, obj: Technique) -> str:
        return ", ".join(f.name for f in obj.required_features.all()) or "—"

    def save_model(self, request, obj, form, change):
        # A picture replaced or cleared is deleted once the change is committed.
        replaced = uploads.replaced_file_names(form, ["image"])
        super().save_model(request, obj, form, change)
        uploads.files_delete_on_commit(names=replaced)

    @admin.display(description=_("lengths and prices"))
    def lengths_and_prices(self, obj: Technique) -> str:
        return ", ".join(f"{length.duration_minutes} min £{length.price}" for length in obj.lengths.all())

    def _warn_hidden_online(self, request, technique_id: int | None = None) -> None:
        """An offered technique nobody can give is hidden from clients: say so, and why."""
        reasons = {
            "no_therapist": _(
                "Nobody taking bookings offers %(name)s, so clients cannot book it online. Tick it "
                "under “Offers” on a therapist's page, or untick “Offered” here."
            ),
            "no_length": _("%(name)s has no length and price yet, so clients cannot book it online."),
            "no_room": _(
                "No room in use has everything %(name)s needs, so clients cannot book it online. "
                "Give a room the features it needs, or change what it needs here."
            ),
        }
        # Rooms (issue 12): no room that suits it is its own reason, said by the rooms admin.
        roomless = {
            found.technique.pk
            for found in admin_rooms.warn_roomless_techniques(request, technique_id=technique_id)
        }
        for technique, reason in selectors.techniques_hidden_online(technique_id=technique_id):
            if reason == "no_room" and technique.pk in roomless:
                continue  # said above, with what is missing
            messages.warning(request, reasons[reason] % {"name": technique.name})

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._warn_hidden_online(request)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and object_id.isascii() and object_id.isdigit() and len(object_id) < 19:
            self._warn_hidden_online(request, technique_id=int(object_id))
        return super().change_view(request, object_id, form_url, extra_context)


class WorkingHoursFormSet(BaseInlineFormSet):
    """The week's periods, checked by the schedules service's own rule (no overlaps)."""

    def periods(self) -> list[tuple]:
        kept = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("start") or not data.get("end"):
                continue
            if data.get("weekday") is None:
                continue  # the row's own error says so
            kept.append((data["weekday"], data["start"], data["end"]))
        return kept

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        schedules.working_hours_validate(self.periods())


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    extra = 1
    ordering = ["weekday", "start"]
    verbose_name = _("working period")
    verbose_name_plural = _("working hours (one row per period; two rows on a day make a break between them)")


class TimeOffForm(forms.ModelForm):
    keep_appointments = forms.BooleanField(
        required=False,
        label=_("Keep booked appointments"),
        help_text=_("Tick to save this time off even though appointments are booked in it."),
    )

    class Meta:
        model = TimeOff
        fields = ["start", "end", "reason"]


class TimeOffFormSet(BaseInlineFormSet):
    """Time off over booked appointments is the staff's call, but never a silent one: the
    schedules service names each appointment and asks for the box to be ticked."""

    def changed_forms(self):
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not form.has_changed():
                continue
            if not data.get("start") or not data.get("end") or data["start"] >= data["end"]:
                continue
            yield form, data

    def clean(self):
        super().clean()
        therapist = self.instance
        if therapist.pk is None:
            return
        for form, data in self.changed_forms():
            try:
                schedules.time_off_clashes(
                    therapist=therapist,
                    start=data["start"],
                    end=data["end"],
                    keep_booked=data.get("keep_appointments", False),
                )
            except ValidationError as error:
                form.add_error(None, error)


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    form = TimeOffForm
    formset = TimeOffFormSet
    extra = 0
    fields = ["start", "end", "reason", "keep_appointments"]
    ordering = ["-start"]
    formfield_overrides = CLINIC_DATES


class TherapistAdminForm(forms.ModelForm):
    # Not required: a page opened before rooms and preferences existed (or a script)
    # that sends no gender keeps "not stated" rather than failing the whole save.
    gender = forms.ChoiceField(
        label=_("gender"), choices=TherapistGender.choices, required=False, initial=TherapistGender.UNSTATED
    )

    class Meta:
        model = Therapist
        fields = ["name", "gender"]  # the admin adds the rest from its fieldsets

    def clean_gender(self):
        return self.cleaned_data.get("gender") or TherapistGender.UNSTATED


@admin.register(Therapist)
class TherapistAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = TherapistAdminForm
    list_display = ["name", "active", "technique_list", "hours", "gender", "preferred_room"]
    list_filter = ["active", "techniques", "gender"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    filter_horizontal = ["techniques"]
    inlines = [WorkingHoursInline, TimeOffInline]
    readonly_fields = ["photo_preview", "weekly_grid", "schedule_link"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "active", "user", "schedule_link"]}),
        (_("What they offer"), {"fields": ["techniques", "bio"]}),
        (
            _("Room, limits and gender"),
            {
                "fields": [
                    "preferred_room",
                    "max_daily_minutes",
                    "max_continuous_minutes",
                    "gender",
                ],  # fmt: skip
                "description": _(
                    "Online booking never offers a time that would take them past a limit. "
                    "Gender is matched when a client asks for a female or male therapist."
                ),
            },
        ),
        (_("Photo"), {"fields": ["photo", "photo_preview"]}),
        (_("The week at a glance"), {"fields": ["weekly_grid"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("preferred_room")
            .prefetch_related("techniques", "working_hours")
        )

    def save_model(self, request, obj, form, change):
        # A photo replaced or cleared is deleted once the change is committed.
        replaced = uploads.replaced_file_names(form, ["photo"])
        super().save_model(request, obj, form, change)
        uploads.files_delete_on_commit(names=replaced)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # The linked account decides whose clients a therapist login sees: managers only.
        return fields if roles.is_manager(request.user) else [*fields, "user"]

    @admin.display(description=_("offers"))
    def technique_list(self, obj: Therapist) -> str:
        return ", ".join(t.name for t in obj.techniques.all())

    @admin.display(description=_("working hours"))
    def hours(self, obj: Therapist) -> str:
        return dayplan.week_summary(selectors.working_periods(obj)) or _("none set")

    @admin.display(description=_("photo as shown"))
    def photo_preview(self, obj: Therapist) -> str:
        if not obj.photo:
            return _("No photo: the booking pages show their initials.")
        return format_html(
            '<img src="{}" alt="{}" width="120" height="120" style="object-fit:cover;border-radius:50%">',
            obj.photo.url,
            _("Photo of %(name)s") % {"name": obj.name},
        )

    @admin.display(description=_("weekly hours"))
    def weekly_grid(self, obj: Therapist) -> str:
        if obj.pk is None:
            return _("Save first, then add working hours below.")
        rows = format_html_join(
            "",
            '<tr><th scope="row">{}</th><td>{}</td></tr>',
            (
                (day, periods or _("Not working"))
                for day, periods in dayplan.week_rows(selectors.working_periods(obj))
            ),
        )
        return format_html(
            '<table class="weekly-grid"><caption>{}</caption><tbody>{}</tbody></table>',
            _("As saved; change it in “Working hours” below."),
            rows,
        )

    @admin.display(description=_("schedule"))
    def schedule_link(self, obj: Therapist) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:booking_schedule") + f"?therapist={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("This week’s schedule"))

    def save_formset(self, request, form, formset, change):
        """Hours and time off are written by the schedules services, which check their
        rules again; anything else the default way."""
        if isinstance(formset, WorkingHoursFormSet):
            self._save_working_hours(formset)
        elif isinstance(formset, TimeOffFormSet):
            self._save_time_off(request, formset)
        else:
            super().save_formset(request, form, formset, change)

    def _save_working_hours(self, formset: WorkingHoursFormSet) -> None:
        try:
            done = schedules.working_hours_set(therapist=formset.instance, periods=formset.periods())
        except ValidationError as error:
            raise SaveRefused(error) from None
        # What Django's change message reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = done.added, [], done.removed

    def _save_time_off(self, request, formset: TimeOffFormSet) -> None:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        kept: list[Appointment] = []
        for form in formset.deleted_forms:
            if form.instance.pk is not None:
                schedules.time_off_delete(time_off=form.instance)
                formset.deleted_objects.append(form.instance)
        for subform, data in formset.changed_forms():
            arguments = {
                "start": data["start"],
                "end": data["end"],
                "reason": data.get("reason", ""),
                "keep_booked": data.get("keep_appointments", False),
            }
            try:
                if subform.instance.pk is None:
                    saved, clashes = schedules.time_off_add(therapist=formset.instance, **arguments)
                    formset.new_objects.append(saved)
                else:
                    saved, clashes = schedules.time_off_update(time_off=subform.instance, **arguments)
                    formset.changed_objects.append((saved, subform.changed_data))
            except ValidationError as error:
                raise SaveRefused(error) from None
            kept.extend(clashes)
        if kept:
            self.message_user(
                request,
                _(
                    "Time off saved over booked appointments, which still stand: %(list)s. "
                    "Move or cancel them."
                )
                % {"list": schedules.appointments_listed(kept)},
                messages.WARNING,
            )


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["reason", "first_day", "last_day"]
    date_hierarchy = "first_day"
    formfield_overrides = CLINIC_DATES

    # Waitlist (issue 14): days a closure no longer covers may have free time to offer.
    def save_model(self, request, obj, form, change):
        before = (
            Closure.objects.filter(pk=obj.pk).values_list("first_day", "last_day").first() if change else None
        )
        super().save_model(request, obj, form, change)
        if before:
            waitlist.time_freed(first_day=before[0], last_day=before[1])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        waitlist.time_freed(first_day=obj.first_day, last_day=obj.last_day)

    def delete_queryset(self, request, queryset):
        spans = list(queryset.values_list("first_day", "last_day"))
        super().delete_queryset(request, queryset)
        for first_day, last_day in spans:
            waitlist.time_freed(first_day=first_day, last_day=last_day)


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
        # One row only, and only for those allowed to add it (managers).
        return super().has_add_permission(request) and not BookingPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class AppointmentAdminForm(forms.ModelForm):
    """Checks the shape of the input only. Saving books or changes the appointment
    through the booking services, which hold every rule (see :class:`ServiceSaveMixin`);
    a clash comes back as a form error rather than a database error page."""

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
    agreed_by_phone = forms.BooleanField(
        required=False,
        label=_("Client agreed by phone"),
        help_text=_(
            "Tick when you have read the cancellation policy and the treatment consent to the "
            "client (or they agreed in person). Recorded with your name and the versions agreed."
        ),
    )
    # Set by the admin before saving: who took the client's agreement.
    staff_user = None
    # Rooms (issue 12): left empty, the booking services pick the best free room.
    # Its own name, not the model field's: the form must not write the room onto the
    # appointment in memory before the services have checked it.
    room_choice = forms.ModelChoiceField(
        queryset=Room.objects.active(),
        required=False,
        label=_("Room"),
        empty_label=_("Best free room (chosen for you)"),
        help_text=_("Leave as it is to let the system pick a free room that suits the massage."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "room_choice" in self.fields and self.instance.room_id:
            # An appointment keeps showing its room even after the room is retired.
            field = self.fields["room_choice"]
            field.queryset = Room.objects.filter(Q(active=True) | Q(pk=self.instance.room_id))
            field.empty_label = _("Best free room (chosen again)")
            self.initial.setdefault("room_choice", self.instance.room_id)
        if self.instance.pk is None and "length" in self.fields:
            # Shown (and required) only when booking; a move keeps the length booked.
            self.fields["length"].required = True
        if "client" in self.fields:
            # Clients: pick a record, or type the details of someone new (the contact
            # fields then fill from the record when left empty).
            self.fields["client"].required = False
            self.fields["client"].help_text = _(
                "Type a few letters of the name, email or phone. Leave empty for a new client."
            )
            for name in ("client_name", "client_email", "client_phone"):
                self.fields[name].required = False
            admin_clients.autocomplete_ids_guarded(self.fields["client"])
        if "client_phone" in self.fields and (
            self.instance.pk is None or phone_e164(self.instance.client_phone or "")
        ):
            # Checked like the online form's; an old booking's unreadable number does not
            # block other changes to it.
            self.fields["client_phone"] = PhoneField(
                label=self.fields["client_phone"].label,
                required=self.fields["client_phone"].required,
                max_length=40,
            )

    class Meta:
        model = Appointment
        fields = [
            "therapist", "technique", "start", "status", "client",
            "client_name", "client_email", "client_phone", "client_notes",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and not self.errors and cleaned.get("length") is None:
            raise ValidationError(_("Choose the length to book."))
        self._clean_client(cleaned)
        return cleaned

    def _clean_client(self, cleaned) -> None:
        """Clients: the contact details of this booking come from the picked record when
        left empty; without a record they must be typed (they make a new client)."""
        if "client" not in self.fields:
            return
        record = cleaned.get("client")
        if record is not None:
            fill = {
                "client_name": record.name,
                "client_email": record.email,
                "client_phone": str(record.phone or ""),
            }
            for name, value in fill.items():
                if not cleaned.get(name) and name not in self.errors:
                    cleaned[name] = value
        for name in ("client_name", "client_email", "client_phone"):
            if not cleaned.get(name) and name not in self.errors:
                self.add_error(
                    name,
                    ValidationError(
                        _("Pick a client above, or fill this in for a new client."), code="required"
                    ),
                )

    def _get_validation_exclusions(self):
        # The record is chosen (or made) by the booking service, not saved from the form.
        return {*super()._get_validation_exclusions(), "client"}

    def _client(self) -> appointments.ClientDetails:
        cleaned = self.cleaned_data
        return appointments.ClientDetails(
            name=cleaned["client_name"],
            email=cleaned["client_email"],
            phone=cleaned["client_phone"],
            notes=cleaned.get("client_notes", ""),
            record=cleaned.get("client"),
            # The health answers taken on the phone, when asked (admin_intake).
            health=admin_intake.health_from_form(self),
            agreement=consent.Agreement(
                by_phone=bool(cleaned.get("agreed_by_phone")), recorded_by=self.staff_user
            ),
        )

    def save(self, commit=True) -> Appointment:
        """Book or change through the services; raises :class:`SaveRefused`."""
        cleaned = self.cleaned_data
        # A room chosen (or, for a change, chosen anew) by staff; otherwise the services
        # keep the room or pick one themselves (a move keeps it only if it is still free).
        chosen = cleaned.get("room_choice")
        changed = self.instance.pk is None or "room_choice" in self.changed_data
        room = {"room": chosen} if chosen is not None and changed else {}
        try:
            if self.instance.pk is None:
                self.instance = appointments.appointment_book(
                    technique=cleaned["technique"],
                    length=cleaned["length"],
                    start=cleaned["start"],
                    client=self._client(),
                    therapist=cleaned["therapist"],
                    source=AppointmentSource.STAFF,
                    allow_outside_hours=cleaned.get("allow_outside_hours", False),
                    status=cleaned.get("status") or AppointmentStatus.CONFIRMED,
                    **room,
                )
            else:
                self.instance = appointments.appointment_update(
                    appointment=self.instance,
                    therapist=cleaned["therapist"],
                    technique=cleaned["technique"],
                    start=cleaned["start"],
                    status=cleaned["status"],
                    client=self._client(),
                    allow_outside_hours=cleaned.get("allow_outside_hours", False),
                    **room,
                )
        except ValidationError as error:
            raise SaveRefused(error) from None
        self.save_m2m = lambda: None  # the admin calls it; an appointment has no many-to-many
        return self.instance


class WhenFilter(admin.SimpleListFilter):
    """Quick date choices, in the clinic's days (not UTC days)."""

    title = _("date")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [
            ("today", _("Today")),
            ("tomorrow", _("Tomorrow")),
            ("this_week", _("This week (Mon–Sun)")),
            ("next_7_days", _("Next 7 days")),
            ("upcoming", _("From today on")),
            ("past", _("Before today")),
        ]

    def queryset(self, request, queryset):
        zone = selectors.clinic_zone()
        today = timezone.now().astimezone(zone).date()
        monday = today - timedelta(days=today.weekday())
        spans = {
            "today": (today, today),
            "tomorrow": (today + timedelta(days=1), today + timedelta(days=1)),
            "this_week": (monday, monday + timedelta(days=6)),
            "next_7_days": (today, today + timedelta(days=6)),
            "upcoming": (today, None),
            "past": (None, today - timedelta(days=1)),
        }
        if self.value() not in spans:
            return queryset
        return queryset.on_local_days(*spans[self.value()], zone=zone)


class DateRangeFilter(admin.ListFilter):
    """From and to dates (inclusive, the clinic's days), typed or picked."""

    title = _("date range")
    template = "admin/booking/date_range_filter.html"
    parameters = ("from_date", "to_date")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, date | None] = {}
        for name in self.parameters:
            raw = params.pop(name, [""])
            raw = raw[-1] if isinstance(raw, list) else raw
            try:
                self.values[name] = parse_iso_date(raw) if raw else None
            except ValueError:
                self.values[name] = None
                messages.warning(
                    request,
                    _("“%(value)s” is not a date (write it as 2026-11-24); that end of the range is ignored.")
                    % {"value": raw[:40]},
                )

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        first, last = self.values["from_date"], self.values["to_date"]
        if first is None and last is None:
            return queryset
        return queryset.on_local_days(first, last, zone=selectors.clinic_zone())

    def choices(self, changelist):
        # One "choice": what the template needs to draw its little form and keep the
        # other filters in hidden fields.
        keep = {k: v for k, v in changelist.params.items() if k not in self.parameters}
        yield {
            "hidden": [(k, item) for k, v in keep.items() for item in (v if isinstance(v, list) else [v])],
            "from_date": self.values["from_date"],
            "to_date": self.values["to_date"],
            "clear": changelist.get_query_string(remove=list(self.parameters)),
        }


@admin.register(Appointment)
class AppointmentAdmin(ServiceSaveMixin, admin.ModelAdmin):
    form = AppointmentAdminForm
    list_display = [
        "when",
        "reference",
        "therapist",
        "technique_and_length",
        "room",
        "client_name",
        "client_phone",
        "status",
        "source",
    ]
    list_display_links = ["when", "client_name"]
    list_filter = [WhenFilter, DateRangeFilter, "status", "therapist", "room", "technique", "source"]
    search_fields = ["client_name", "client_email", "client_phone", "reference"]
    date_hierarchy = "start"
    list_select_related = ["therapist", "technique", "room"]
    list_per_page = 50
    autocomplete_fields = ["client"]

    class Media:
        js = ["js/admin_client_pick.js"]

    actions = ["mark_completed", "mark_no_show", "cancel_selected", "export_csv"]
    change_form_template = "admin/booking/appointment/change_form.html"
    formfield_overrides = CLINIC_DATES
    readonly_fields = [
        "reference",
        "duration_minutes",
        "price",
        "buffer_minutes",
        "end",
        "source",
        "created_at",
        "updated_at",
        "client_record",
        "consents_agreed",
    ]

    def lookup_allowed(self, lookup, value, request=None):
        # The client page links to "all of this client's appointments" (still filtered by
        # get_queryset, so a therapist sees only their own).
        return lookup == "client__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("client record"))
    def client_record(self, obj: Appointment) -> str:
        return admin_clients.client_link(obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if roles.sees_only_own_appointments(request.user):
            # Lists, searches and change pages all go through here, so a therapist can
            # reach no one else's appointment by any of them.
            therapist = getattr(request.user, "therapist", None)
            return queryset.filter(therapist=therapist) if therapist else queryset.none()
        return queryset

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            # Booking on the phone: the health questions (data, not code) are asked too.
            kwargs["form"] = admin_intake.form_with_health_fields(kwargs.get("form", self.form))
        return super().get_form(request, obj, change, **kwargs)

    def get_ordering(self, request):
        # Upcoming first: today and later in time order, then the past, latest first.
        zone = selectors.clinic_zone()
        today_start = engine.day_span(timezone.now().astimezone(zone).date(), zone)[0]
        upcoming = Q(start__gte=today_start)
        return [
            Case(When(upcoming, then=Value(0)), default=Value(1)).asc(),
            Case(When(upcoming, then=F("start"))).asc(nulls_last=True),
            F("start").desc(),
        ]

    @admin.display(description=_("when"), ordering="start")
    def when(self, obj: Appointment) -> str:
        return formats.date_format(obj.start.astimezone(selectors.clinic_zone()), "D j M Y, H:i")

    @admin.display(description=_("technique"), ordering="technique__name")
    def technique_and_length(self, obj: Appointment) -> str:
        return f"{obj.technique.name}, {obj.duration_minutes} min"

    @admin.display(description=_("consent"))
    def consents_agreed(self, obj: Appointment) -> str:
        """Which versions of the policy texts this booking agreed to, when and how (read only:
        a consent is a record of what happened)."""
        rows = obj.consents.select_related("policy", "recorded_by").order_by("policy__kind", "agreed_at")
        zone = selectors.clinic_zone()
        lines = format_html_join(
            "",
            "<li>{} v{}: {}, {}{}</li>",
            (
                (
                    c.policy.get_kind_display(),
                    c.policy.version,
                    c.get_method_display(),
                    formats.date_format(c.agreed_at.astimezone(zone), "D j M Y, H:i"),
                    (f" ({_('by')} {c.recorded_by.get_username()})" if c.recorded_by else "")
                    + (f" — “{c.typed_name}”" if c.typed_name else ""),
                )
                for c in rows
            ),
        )
        return format_html('<ul class="consent-list">{}</ul>', lines) if lines else _("None recorded")

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [path("export.csv", export, name="booking_appointment_export"), *super().get_urls()]

    # ------------------------------------------------------------------ actions

    def _mark(self, request, queryset, status: str, done: str) -> None:
        marked, refused = 0, []
        for appointment in queryset:
            try:
                appointments.appointment_mark(appointment=appointment, status=status)
            except ValidationError as error:
                refused.extend(error.messages)
                continue
            self.log_change(
                request, appointment, _("Status: %(before)s → %(after)s") % {
                    "before": appointment.get_status_display(), "after": AppointmentStatus(status).label}
            )  # fmt: skip
            marked += 1
        if marked:
            self.message_user(
                request,
                ngettext("%(n)s appointment marked %(done)s.", "%(n)s appointments marked %(done)s.", marked)
                % {"n": marked, "done": done},
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, _("Not changed: %(reason)s") % {"reason": reason}, messages.WARNING)

    @admin.action(description=_("Mark as completed"), permissions=["change"])
    def mark_completed(self, request, queryset):
        self._mark(request, queryset, AppointmentStatus.COMPLETED, _("completed"))

    @admin.action(description=_("Mark as no-show"), permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._mark(request, queryset, AppointmentStatus.NO_SHOW, _("no-show"))

    @admin.action(description=_("Cancel, and email the clients"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        queryset = queryset.select_related("therapist", "technique")
        if request.POST.get("post") != "yes":
            # Emails go to clients: show exactly who, and ask once more.
            context = {
                **self.admin_site.each_context(request),
                "title": _("Cancel these appointments?"),
                "appointments": list(queryset),
                "queryset": queryset,
                "opts": self.opts,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "zone": selectors.clinic_zone(),
            }
            return TemplateResponse(request, "admin/booking/appointment/cancel_confirmation.html", context)
        cancelled, refused = 0, []
        for appointment in queryset:
            try:
                appointments.appointment_cancel(appointment=appointment)
            except ValidationError as error:
                refused.append(f"{appointment.reference}: {' '.join(error.messages)}")
                continue
            self.log_change(request, appointment, _("Cancelled (action); cancellation email queued"))
            cancelled += 1
        if cancelled:
            self.message_user(
                request,
                ngettext(
                    "%(n)s appointment cancelled; the client is being emailed.",
                    "%(n)s appointments cancelled; each client is being emailed.",
                    cancelled,
                )
                % {"n": cancelled},
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, _("Not cancelled: %(reason)s") % {"reason": reason}, messages.WARNING)
        return None

    @admin.action(description=_("Export selected to CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return self._csv_response(queryset)

    def export_view(self, request):
        """The whole filtered list as CSV: the change list's own filters and search."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            self.message_user(
                request, _("Those filters could not be read; nothing was exported."), messages.ERROR
            )
            return redirect("admin:booking_appointment_changelist")
        return self._csv_response(changelist.queryset)

    def _csv_response(self, queryset) -> HttpResponse:
        zone = selectors.clinic_zone()
        stamp = timezone.now().astimezone(zone)
        # Waitlist holds (issue 14), live or lapsed, are not bookings: not exported.
        queryset = (
            queryset.bookings().select_related("therapist", "technique", "room").order_by("start", "pk")
        )
        response = HttpResponse(exports.csv_text(queryset, zone), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="appointments-{stamp:%Y%m%d-%H%M}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    # ------------------------------------------------------------------ pages

    def get_fields(self, request, obj=None):
        fields = ["therapist", "technique", "length", "start", "room_choice", "allow_outside_hours", "status"]
        consent_fields = ["agreed_by_phone"] if obj is None else ["consents_agreed"]
        if obj is not None:
            fields = ["reference", "therapist", "technique", "duration_minutes", "price", "start", "end",
                      "room_choice", "allow_outside_hours", "status", "source"]  # fmt: skip
        if (obj is None or obj.room_id is None) and not selectors.clinic_has_rooms():
            # Rooms are optional: a clinic without any sees no room field at all.
            fields.remove("room_choice")
        fields += ["client"] if obj is None else ["client_record"]
        fields += ["client_name", "client_email", "client_phone", "client_notes"]
        if obj is None:
            fields += admin_intake.health_field_names()
        return fields + consent_fields

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Built from the object the user may open, never from the raw id in the address.
        if obj is not None and obj.pk is not None:
            context["history"] = selectors.appointment_history(appointment=obj)
            # Health flags for everyone; answers only for those allowed (admin_intake).
            context["health_panel"] = admin_intake.appointment_health_panel(request, obj)
            # Treatment note (issue 11): a link for those who may write or read it.
            context["treatment_note"] = admin_notes.note_link(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        # The schedule's free gaps link here with the therapist and an ISO start time.
        raw = request.GET.get("start", "")
        try:
            start = datetime.fromisoformat(raw) if raw else None
            if start is not None and timezone.is_aware(start):
                initial["start"] = start.astimezone(selectors.clinic_zone())
            else:
                initial.pop("start", None)
        except (ValueError, OverflowError):
            initial.pop("start", None)
        self._initial_client(request, initial)
        return initial

    def _initial_client(self, request, initial: dict) -> None:
        """Clients: "Book for this client" links here with ?client=<id>; the form opens
        with the record picked and the contact details filled. An id that is not a number,
        unknown, or not the user's to see is dropped (the form opens empty, never a 500)."""
        raw = initial.pop("client", None)
        raw = raw[-1] if isinstance(raw, list) else raw
        if not raw or not str(raw).isascii() or not str(raw).isdigit() or len(str(raw)) > 18:
            return
        visible = selectors.clients_visible_to(request.user).filter(merged_into__isnull=True)
        record = visible.filter(pk=int(raw)).first()
        if record is None:
            self.message_user(request, _("That client record was not found."), messages.WARNING)
            return
        initial.update(
            client=record.pk,
            client_name=record.name,
            client_email=record.email,
            client_phone=record.phone.as_national if record.phone else "",
        )

    def construct_change_message(self, request, form, formsets, add=False):
        """Before and after for each changed field, so the history reads "Start: 10:00 →
        11:00", not just "Changed start". Health answers are special-category data: the
        log says they changed, not what they say."""
        if add or not form.changed_data:
            return super().construct_change_message(request, form, formsets, add)
        zone = selectors.clinic_zone()

        def shown(name, value):
            if isinstance(value, datetime):
                return formats.date_format(value.astimezone(zone), "D j M Y H:i")
            field = form.fields[name]
            if hasattr(field, "choices") and not isinstance(field, forms.ModelChoiceField):
                return str(dict(field.choices).get(value, value))
            if isinstance(field, forms.ModelChoiceField) and value not in (None, ""):
                # The new value is an object already; the initial one is a key: one row.
                try:
                    return str(field.to_python(value))
                except ValidationError:
                    return str(value)
            return str(value) if value not in ("", None) else "—"

        parts = []
        for name in form.changed_data:
            label = str(form.fields[name].label or name)
            if name in ("allow_outside_hours", "length"):
                continue  # instructions for this save, not data of the appointment
            if name == "client_notes":
                # The client's own words may hold health details: say that, not what.
                parts.append(_("%(field)s changed") % {"field": label})
                continue
            before = shown(name, form.initial.get(name))
            after = shown(name, form.cleaned_data.get(name))
            parts.append(f"{label}: {before} → {after}")
        return "; ".join(parts) or str(_("Saved without changes"))

    def response_add(self, request, obj, post_url_continue=None):
        """Booked from a free gap of the schedule: back to that day, the new booking
        highlighted (unless staff asked to go on editing or to add another)."""
        if request.GET.get("from") == "schedule" and not {"_continue", "_addanother"} & set(request.POST):
            zone = selectors.clinic_zone()
            self.message_user(
                request,
                _("Booked %(reference)s: %(name)s, %(when)s. It is marked “Just booked” below.")
                % {
                    "reference": obj.reference,
                    "name": obj.client_name,
                    "when": formats.date_format(obj.start.astimezone(zone), "D j M, H:i"),
                },
                messages.SUCCESS,
            )
            day = obj.start.astimezone(zone).date().isoformat()
            query = urlencode({"date": day, "new": obj.pk})
            return redirect(f"{reverse('admin:booking_schedule')}?{query}#appointment-{obj.pk}")
        return super().response_add(request, obj, post_url_continue)

    def save_form(self, request, form, change):
        # The services validate and write in one step (book, move, cancel, mark, edit).
        form.staff_user = request.user
        return form.save()

    def save_model(self, request, obj, form, change):
        pass  # written by save_form, through the services


# The task results, shown to staff as the email outbox; client records, treatment notes
# (SOAP), the versioned policy texts, and the health intake (issue 11).
from . import clients as admin_clients  # noqa: E402, I001
from . import intake as admin_intake  # noqa: E402
from . import notes as admin_notes  # noqa: E402
from . import outbox  # noqa: E402, F401
from . import rooms as admin_rooms  # noqa: E402

# --------------------------------------------------------------------------- sign-in lockouts

if admin.site.is_registered(AccessAttempt):
    # django-axes' "Clean up expired attempts" reads the time of the request from an
    # attribute it sets only while someone signs in, so from the list it failed with a
    # server error every time. The action itself is unchanged.
    admin.site.unregister(AccessAttempt)

    @admin.register(AccessAttempt)
    class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
        @admin.action(description=axes_admin.AccessAttemptAdmin.cleanup_expired_attempts.short_description)
        def cleanup_expired_attempts(self, request, queryset):
            AxesProxyHandler.update_request(request)
            return super().cleanup_expired_attempts(request, queryset)


# Privacy: who looked at health data; a client's export and erasure. Time-off requests
# (issue 15): therapists ask, managers approve or decline.
from . import privacy, timeoff_requests  # noqa: E402, F401, I001
