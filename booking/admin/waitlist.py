"""The waitlist in the staff workspace (issue 14): who waits for what and since when, the
offers made and their outcome; staff add a client, offer a time by hand, withdraw an
offer or take an entry off the list. Every change goes through services.waitlist.

Managers and reception (booking 0023); therapists do not see it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..choices import AppointmentSource, PartOfDay
from ..forms import ClinicDateTimeField
from ..models import Therapist, WaitlistEntry, WaitlistOffer
from ..services import waitlist


class WaitlistEntryAdminForm(forms.ModelForm):
    """Adding a client to the waitlist: the same rules as online (services.waitlist)."""

    parts = forms.MultipleChoiceField(
        label=_("Times of day"),
        choices=PartOfDay.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[p.value for p in PartOfDay],
    )

    class Meta:
        model = WaitlistEntry
        fields = ["client", "technique", "length", "therapist", "first_day", "last_day"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.wish = waitlist.Wish(
            technique=cleaned["technique"],
            length=cleaned["length"],
            therapist=cleaned.get("therapist"),
            first_day=cleaned["first_day"],
            last_day=cleaned["last_day"],
            parts=frozenset(cleaned["parts"]),
        )
        try:
            waitlist.wish_validate(self.wish)
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        return cleaned


class OfferInline(admin.TabularInline):
    model = WaitlistOffer
    extra = 0
    can_delete = False
    fields = ["start", "held_with", "offered_at", "expires_at", "outcome", "answered_at", "offered_by"]
    readonly_fields = fields
    ordering = ["-offered_at"]

    @admin.display(description=_("therapist"))
    def held_with(self, offer):
        return offer.appointment.therapist

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("appointment__therapist", "offered_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HandOfferForm(forms.Form):
    start = ClinicDateTimeField(
        label=_("Start"),
        help_text=_("Clinic time, e.g. 2026-11-24 14:30."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    therapist = forms.ModelChoiceField(
        queryset=Therapist.objects.active(),
        required=False,
        label=_("Therapist"),
        help_text=_("Empty: the entry's therapist, or anyone free."),
    )


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    form = WaitlistEntryAdminForm
    list_display = [
        "client",
        "technique",
        "length",
        "therapist_or_any",
        "days",
        "status",
        "created_at",
        "offers",
    ]
    list_filter = ["status", "technique", "source"]
    search_fields = ["client__name", "client__email_key"]
    list_select_related = ["client", "technique", "length__technique", "therapist"]
    autocomplete_fields = ["client"]
    inlines = [OfferInline]
    actions = ["take_off_list"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(offer_count=Count("offers"))

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new entry has no offers

    @admin.display(description=_("therapist"))
    def therapist_or_any(self, entry):
        return entry.therapist or _("Any")

    @admin.display(description=_("days"))
    def days(self, entry):
        parts = ", ".join(str(PartOfDay(p).label).split(" (")[0].lower() for p in sorted(entry.parts()))
        return f"{entry.first_day:%d %b} – {entry.last_day:%d %b} ({parts})"

    @admin.display(description=_("offers made"), ordering="offer_count")
    def offers(self, entry):
        return entry.offer_count

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["client", "technique", "length", "therapist", "first_day", "last_day", "status", "source",
                "created_at", "offer_link"]  # fmt: skip

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client", "technique", "length", "therapist", "first_day", "last_day", "parts"]
        return self.get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description=_("offer a time"))
    def offer_link(self, entry):
        if entry.status != "waiting":
            return _("Only a waiting entry can be offered a time.")
        url = reverse("admin:booking_waitlistentry_offer", args=[entry.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Offer a time by hand"))

    def save_model(self, request, obj, form, change):
        if change:
            return  # read only once made; changes go through the actions
        form.instance = waitlist.entry_join(
            wish=form.wish, client=form.cleaned_data["client"], source=AppointmentSource.STAFF
        )

    def has_delete_permission(self, request, obj=None):
        return False  # the history of offers stays; take an entry off the list instead

    @admin.action(description=_("Take off the waitlist (releases a held time)"), permissions=["change"])
    def take_off_list(self, request, queryset):
        for entry in queryset:
            waitlist.entry_leave(entry=entry)
        self.message_user(request, _("Taken off the waitlist."), messages.SUCCESS)

    def get_urls(self):
        offer = self.admin_site.admin_view(self.offer_view)
        return [
            path("<int:object_id>/offer/", offer, name="booking_waitlistentry_offer"),
            *super().get_urls(),
        ]

    def offer_view(self, request, object_id):
        """Offer a time by hand: held and emailed like an automatic offer."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        entry = get_object_or_404(
            WaitlistEntry.objects.select_related("client", "technique", "length"), pk=object_id
        )
        form = HandOfferForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                waitlist.offer_create(
                    entry=entry,
                    start=form.cleaned_data["start"],
                    therapist=form.cleaned_data["therapist"],
                    offered_by=request.user,
                    now=timezone.now(),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, _("The time is held and the offer emailed."), messages.SUCCESS)
                return redirect("admin:booking_waitlistentry_change", entry.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Offer a time to %(client)s") % {"client": entry.client},
            "entry": entry,
            "form": form,
            "opts": self.model._meta,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(request, "admin/booking/waitlist_offer.html", context, status=status)
