"""Staff screens for client records: the list with search by name, email or phone in any
format, the client's page (visits, counts, preferences, consents, and a place for the
health answers), "Book for this client", and merging duplicates.

A therapist's account sees only the clients they have or had appointments with: the list,
the search, the client pages and the appointment form's autocomplete all read through
:meth:`ClientAdmin.get_queryset`."""

from __future__ import annotations

from urllib.parse import urlencode

import phonenumbers
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import roles, selectors
from ..forms import PhoneField
from ..models import Client, Consent
from ..services import clients
from . import privacy as admin_privacy


class ClientAdminForm(forms.ModelForm):
    """The phone in any format, stored in international form; a tick to record that the
    details were checked with the client (then online input no longer changes them)."""

    phone = PhoneField(label=_("Phone"), required=False, e164=True, max_length=40)
    details_checked = forms.BooleanField(
        label=_("Details checked with the client now"),
        required=False,
        help_text=_(
            "Tick when you have confirmed the name, email and phone with the client. "
            "Details typed in online bookings then no longer change them."
        ),
    )

    class Meta:
        model = Client
        fields = [
            "name", "email", "phone", "date_of_birth",
            "pressure", "areas_to_avoid", "therapist_preference", "preferred_therapist", "preference_notes",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        number = self.instance.phone if self.instance.pk else None
        if number and "phone" not in self.data:
            # Shown as staff dial it: national for the clinic's country, else international.
            home = number.country_code == phonenumbers.country_code_for_region(
                settings.PHONENUMBER_DEFAULT_REGION
            )
            self.initial["phone"] = number.as_national if home else number.as_international

    def _get_validation_exclusions(self):
        # The form field has checked the number (possible, not "allocated today": see
        # booking.phones); the model field's stricter check would refuse real numbers.
        return {*super()._get_validation_exclusions(), "phone"}

    def validate_unique(self):
        try:
            super().validate_unique()
        except ValidationError as error:
            self._update_errors(error)
        # The address is unique among current records (a partial index Django's own check
        # does not see): say so on the field, not as a database error.
        key = (self.cleaned_data.get("email") or "").strip().lower()
        if key:
            others = Client.objects.current().filter(email_key=key).exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error(
                    "email",
                    _("Another client record has this email address. Merge the two records instead."),
                )


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientAdminForm
    list_display = ["name", "email", "phone_shown", "verified_at"]
    list_per_page = 50
    search_fields = ["name"]  # the real search is get_search_results (any phone format)
    search_help_text = _("Name, email, or phone number in any format (or four or more of its digits).")
    change_form_template = "admin/booking/client/change_form.html"
    # Agreeing to news is recorded where the client agrees (kept apart from booking), not typed here.
    readonly_fields = [
        "marketing_consent_at",
        "marketing_withdrawn_at",
        "verified_at",
        "created_at",
        "updated_at",
    ]
    actions = ["merge_selected"]
    fieldsets = [
        (None, {"fields": ["name", "email", "phone", "date_of_birth"]}),
        (
            _("Preferences"),
            {
                "fields": [
                    "pressure",
                    "areas_to_avoid",
                    "therapist_preference",
                    "preferred_therapist",
                    "preference_notes",
                ]
            },
        ),
        (
            _("News by email (apart from bookings)"),
            {"fields": ["marketing_consent_at", "marketing_withdrawn_at"]},
        ),
        (_("Record"), {"fields": ["details_checked", "verified_at", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        # Records merged away are kept for their history but are not anyone's client now.
        queryset = super().get_queryset(request).filter(merged_into__isnull=True)
        return selectors.clients_visible_to(request.user, queryset)

    def get_urls(self):
        contact = self.admin_site.admin_view(self.contact_view)
        return [
            path("<int:client_id>/contact.json", contact, name="booking_client_contact"),
            *super().get_urls(),
        ]

    def contact_view(self, request, client_id: int):
        """A client's contact details for the appointment form (static/js/admin_client_pick.js):
        only a client the user may see, else 404."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        record = get_object_or_404(self.get_queryset(request), pk=client_id)
        return JsonResponse(
            {
                "name": record.name,
                "email": record.email,
                "phone": record.phone.as_national if record.phone else "",
            }
        )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(selectors.client_search_q(search_term[:100])), False

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.has_change_permission(request, obj):
            # Read only: the tick means nothing there.
            return [(name, {**opts, "fields": [f for f in opts["fields"] if f != "details_checked"]})
                    for name, opts in fieldsets]  # fmt: skip
        return fieldsets

    @admin.display(description=_("phone"), ordering="phone")
    def phone_shown(self, obj: Client) -> str:
        return obj.phone.as_international if obj.phone else "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("details_checked"):
            clients.client_verify(client=obj, by=request.user, now=timezone.now())

    # ------------------------------------------------------------------ the client's page

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Built from the object the user may open (get_queryset), never the raw id.
        if obj is not None and obj.pk is not None:
            own = None
            if roles.sees_only_own_appointments(request.user):
                own = getattr(request.user, "therapist", None)
            context["visits"] = selectors.client_visits(client=obj, therapist=own)
            context["consents"] = list(
                Consent.objects.filter(client=obj)
                .select_related("policy", "appointment")
                .order_by("-agreed_at")
            )
            context["can_view_health"] = request.user.has_perm("booking.view_health_data")
            context["book_url"] = self.book_url(request, obj)
            context["client"] = obj
            # Export and erasure buttons, and (managers) who looked at the health data.
            context.update(admin_privacy.client_page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def book_url(self, request, obj: Client) -> str | None:
        if not request.user.has_perm("booking.add_appointment"):
            return None
        return reverse("admin:booking_appointment_add") + "?" + urlencode({"client": obj.pk})

    # ------------------------------------------------------------------ merging

    def has_merge_clients_permission(self, request) -> bool:
        return request.user.has_perm("booking.merge_clients")

    @admin.action(description=_("Merge two duplicate clients…"), permissions=["merge_clients"])
    def merge_selected(self, request, queryset):
        chosen = list(queryset.order_by("pk")[:3])
        if len(chosen) != 2:
            self.message_user(request, _("Select exactly two client records to merge."), messages.WARNING)
            return None
        if request.POST.get("post") == "yes":
            keep_id = request.POST.get("keep", "")
            keep = next((c for c in chosen if str(c.pk) == keep_id), None)
            if keep is None:
                self.message_user(request, _("Choose which record to keep."), messages.ERROR)
            else:
                duplicate = next(c for c in chosen if c.pk != keep.pk)
                try:
                    clients.client_merge(keep=keep, duplicate=duplicate, by=request.user)
                except ValidationError as error:
                    self.message_user(request, " ".join(error.messages), messages.ERROR)
                    return None
                self.message_user(
                    request,
                    _("%(duplicate)s was merged into %(keep)s; every appointment and record moved with it.")
                    % {"duplicate": duplicate.name, "keep": keep.name},
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge these two client records?"),
            "chosen": [(c, c.appointments.count()) for c in chosen],
            "opts": self.opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/booking/client/merge_confirmation.html", context)


def client_link(obj) -> str:
    """The appointment page's link to its client's page."""
    if obj is None or obj.client_id is None:
        return "—"
    url = reverse("admin:booking_client_change", args=[obj.client_id])
    return format_html('<a href="{}">{}</a>', url, obj.client.name)


def autocomplete_ids_guarded(field: forms.Field) -> None:
    """The autocomplete widget looks up the submitted value to show it again; a tampered
    value (letters, a 40-digit number) would be a database error there. Only plausible ids
    reach the look-up; the field itself says "Select a valid choice"."""
    widget = getattr(field.widget, "widget", field.widget)
    original = widget.optgroups

    def optgroups(name, value, attrs=None):
        plausible = [v for v in value if str(v).isascii() and str(v).isdigit() and len(str(v)) < 19]
        return original(name, plausible, attrs)

    widget.optgroups = optgroups
    # Where the page's script asks for a picked client's details ("0" stands for the id).
    widget.attrs["data-contact-url"] = reverse("admin:booking_client_contact", args=[0])
