"""Rooms and their features (issue 12): managers set them up, reception sees them.

A room that appointments point at cannot be deleted (the database refuses too: the
appointment's room is PROTECT); the delete page says so, lists the upcoming ones with
links, and points to "in use" (untick to retire the room) instead."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import roles, selectors
from ..choices import OCCUPYING_STATUSES
from ..models import Room, RoomFeature
from ..services import rooms as room_services


@admin.register(RoomFeature)
class RoomFeatureAdmin(admin.ModelAdmin):
    list_display = ["name", "room_list", "technique_list"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rooms", "techniques")

    @admin.display(description=gettext_lazy("rooms with it"))
    def room_list(self, obj: RoomFeature) -> str:
        return ", ".join(r.name for r in obj.rooms.all()) or "—"

    @admin.display(description=gettext_lazy("needed by"))
    def technique_list(self, obj: RoomFeature) -> str:
        return ", ".join(t.name for t in obj.techniques.all()) or "—"


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "capacity",
        "feature_list",
        "turnover_minutes",
        "active",
        "upcoming",
        "display_order",
    ]
    list_editable = ["display_order"]
    list_filter = ["active", "capacity", "features"]
    search_fields = ["name"]
    filter_horizontal = ["features"]
    ordering = ["display_order", "name", "id"]
    fields = ["name", "capacity", "features", "turnover_minutes", "active", "display_order"]
    delete_confirmation_template = "admin/booking/room/delete_confirmation.html"
    # Deleting goes through the one page that can explain a refusal (and the service).
    actions = None

    def get_queryset(self, request):
        upcoming = Q(
            appointments__start__gte=timezone.now(),
            appointments__status__in=OCCUPYING_STATUSES,
            appointments__seat=1,  # a session for two is one session in the room
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related("features")
            .annotate(upcoming_count=Count("appointments", filter=upcoming))
        )

    @admin.display(description=gettext_lazy("features"))
    def feature_list(self, obj: Room) -> str:
        return ", ".join(f.name for f in obj.features.all()) or "—"

    @admin.display(description=gettext_lazy("upcoming sessions"), ordering="upcoming_count")
    def upcoming(self, obj: Room) -> str:
        count = obj.upcoming_count
        if not count:
            return "0"
        url = reverse("admin:booking_appointment_changelist") + f"?room__id__exact={obj.pk}&when=upcoming"
        return format_html('<a href="{}">{}</a>', url, count)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            warn_roomless_techniques(request)
        return super().changelist_view(request, extra_context)

    # ------------------------------------------------------------------ delete

    def get_deleted_objects(self, objs, request):
        """Appointments (past ones too) keep a room: list the upcoming ones, with links,
        as what protects it, instead of Django's list of every row."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not protected:
            return deleted, model_count, perms_needed, protected
        zone = selectors.clinic_zone()
        protected = []
        for room in objs:
            holdings = selectors.room_holdings(room=room)
            for a in holdings.upcoming:
                when = formats.date_format(a.start.astimezone(zone), "D j M Y, H:i")
                protected.append(
                    format_html(
                        '<a href="{}">{}</a>: {}, {} ({})',
                        reverse("admin:booking_appointment_change", args=[a.pk]),
                        a.reference,
                        when,
                        a.technique.name,
                        a.therapist.name,
                    )
                )
            more = holdings.upcoming_count - len(holdings.upcoming)
            if more > 0:
                protected.append(
                    ngettext("and %(n)s more upcoming", "and %(n)s more upcoming", more) % {"n": more}
                )
            if holdings.past_count:
                protected.append(
                    ngettext(
                        "%(n)s past or cancelled appointment (kept as the record of where it happened)",
                        "%(n)s past or cancelled appointments (kept as the record of where they happened)",
                        holdings.past_count,
                    )
                    % {"n": holdings.past_count}
                )
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        room_services.room_delete(room=obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except room_services.RoomInUse as refused:
            # Booked between the confirmation page and the click: nothing was deleted.
            self.message_user(request, " ".join(refused.messages), messages.ERROR)
            return HttpResponseRedirect(request.path)


def warn_roomless_techniques(request, technique_id: int | None = None) -> list[selectors.RoomlessTechnique]:
    """Tell a manager about offered techniques no room in use can host: clients cannot
    book them online (the booking pages leave them out). Returns those it named (none
    for other roles: they cannot change rooms)."""
    if not roles.is_manager(request.user):
        return []
    roomless = selectors.techniques_without_room(technique_id=technique_id)
    for found in roomless:
        name = found.technique.name
        if found.for_two_only:
            text = _(
                "No room for two has what %(name)s needs, so it is offered online for one client "
                "only. Add a room with two tables and those features, or untick “also for two”."
            ) % {"name": name}
        else:
            text = _(
                "No room in use has everything %(name)s needs (missing: %(missing)s), so clients "
                "cannot book it online and staff cannot book it either. Add the feature to a room, "
                "or change what %(name)s needs."
            ) % {"name": name, "missing": ", ".join(f.name for f in found.missing)}
        messages.warning(request, text)
    return roomless
