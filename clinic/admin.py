"""The staff site: Django's admin with the clinic's names and the schedule page."""

from __future__ import annotations

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ValidationError
from django.db import DataError, NotSupportedError, connection, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

# Lookups the admin lets any local field take from the query string, but which no admin
# page uses and the database may refuse at run time: a pattern PostgreSQL cannot compile
# ("invalid regular expression"), or a range the admin passes on as a plain string.
UNSAFE_LOOKUPS = {"regex", "iregex", "range"}


def unreadable_query(request) -> bool:
    """A query string no admin page can use: a NUL character (PostgreSQL refuses it in any
    text, so a list filter or an autocomplete search would fail), or a regex lookup."""
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return True
        if UNSAFE_LOOKUPS & set(key.split("__")[1:]):
            return True
    return False


class ForgivingChangeList(ChangeList):
    """Django's change list, reading filters that Python cannot even turn into SQL as
    filters it cannot use, as Django does with other bad filters (back to the whole list
    with ``?e=1``), not as a server error. Examples: a date hierarchy beyond the calendar
    (``?start__year=2147483648``, or December 9999 whose next month is in year 10000), a
    year lookup by hand (``?start__year__gte=99999999999``), a lookup the database does
    not support, or a NUL character the PostgreSQL driver refuses."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error

    def get_results(self, request):
        # The first queries with the filters. Python's errors are raised while the SQL is
        # built, before it is sent; DataError is the database refusing a value (PostgreSQL:
        # a time zone offset beyond 16 hours, "2026-01-01T00:00-23:59"). Requests run in
        # autocommit (no ATOMIC_REQUESTS), so the connection is still usable afterwards;
        # inside a transaction (a caller's, a test's) PostgreSQL would refuse every later
        # statement of it, so there the queries of a filtered list get a savepoint to fail
        # in (an unfiltered list sends the database no value of the visitor's to refuse).
        try:
            if connection.in_atomic_block and self.get_filters_params():
                with transaction.atomic():
                    return super().get_results(request)
            return super().get_results(request)
        except (OverflowError, ValueError, NotSupportedError, DataError) as error:
            raise IncorrectLookupParameters(error) from error


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django's, with an id beyond SQLite's integers ("Python int too large to convert to
    SQLite INTEGER", raised before the query is sent) read as a choice that does not exist."""

    def _check_values(self, value):
        try:
            return super()._check_values(value)
        except OverflowError:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": "…"}
            ) from None


class ForgivingChangeListMixin:
    """What the site adds to every model admin (see ``ClinicAdminSite.register``)."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", ModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        # An admin with a change list of its own keeps it.
        return ForgivingChangeList if changelist is ChangeList else changelist

    def response_action(self, request, queryset):
        # Django filters by the selected ids as posted; one that is not an id of this
        # model (or beyond the database's integers) would fail inside the query.
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                self.opts.pk.clean(value, None)
        except ValidationError:
            self.message_user(
                request, _("The selection could not be read; nothing was changed."), messages.WARNING
            )
            return None
        return super().response_action(request, queryset)


class ClinicAdminSite(admin.AdminSite):
    site_title = settings.CLINIC["name"]
    site_header = _("%(name)s: staff") % {"name": settings.CLINIC["name"]}
    index_title = _("Run the clinic")

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every model admin, other apps' included (the task results), gets the forgiving
        change list, so no filter typed into an address is a server error."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ForgivingChangeListMixin):
            admin_class = type(
                admin_class.__name__,
                (ForgivingChangeListMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def admin_view(self, view, cacheable=False):
        """Every admin page, Django's and other apps' included, answers a query string it
        cannot read with a 400 page, before any list filter or search reaches the database."""

        @wraps(view)
        def guarded(request, *args, **kwargs):
            if unreadable_query(request):
                context = {**self.each_context(request), "title": _("This address cannot be read")}
                return TemplateResponse(request, "admin/bad_query.html", context, status=400)
            return view(request, *args, **kwargs)

        return super().admin_view(guarded, cacheable)

    def has_permission(self, request):
        """Django's rule (an active staff account), and the session has done what two-factor
        sign-in asks of that account (clinic/otp.py)."""
        from clinic import otp

        return super().has_permission(request) and otp.session_passes(request)

    def login(self, request, extra_context=None):
        """Django's admin sign-in page, with the clinic's two steps (clinic/staff_views.py)."""
        from clinic.staff_views import StaffLoginView

        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": _("Sign in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        return StaffLoginView.as_view(extra_context=context)(request)

    def get_urls(self):
        from booking.admin.calendar_feeds import CalendarFeedView
        from booking.admin.reports import ReportsView
        from booking.admin.schedule import ScheduleView
        from booking.admin.workspace import MarkView, MyDaysView
        from clinic import staff_views

        schedule = self.admin_view(ScheduleView.as_view(admin_site=self))
        reports = self.admin_view(ReportsView.as_view(admin_site=self))
        my_days = self.admin_view(MyDaysView.as_view(admin_site=self))
        my_days_mark = self.admin_view(MarkView.as_view(admin_site=self))
        # The code step and first-time setup come before the account is signed in, so
        # they check the half-done sign-in themselves rather than the admin's permission.
        before_sign_in = [
            path(
                "two-factor/code/",
                never_cache(staff_views.TwoFactorVerifyView.as_view()),
                name="two_factor_verify",
            ),
            path(
                "two-factor/setup/",
                never_cache(staff_views.TwoFactorSetupView.as_view()),
                name="two_factor_setup",
            ),
        ]
        signed_in = [
            path(
                "two-factor/", self.admin_view(staff_views.TwoFactorAccountView.as_view()), name="two_factor"
            ),
            path(
                "two-factor/backup-codes/",
                self.admin_view(staff_views.BackupCodesView.as_view()),
                name="two_factor_backup_codes",
            ),
        ]
        # Before the model URLs, so the app's catch-all does not take them.
        return [
            path("booking/schedule/", schedule, name="booking_schedule"),
            path("booking/reports/", reports, name="booking_reports"),
            path("booking/reports/<slug:slug>.csv", reports, name="booking_reports_csv"),
            path("booking/my-days/", my_days, name="booking_my_days"),
            path("booking/my-days/<str:appointment_id>/mark/", my_days_mark, name="booking_my_days_mark"),
            path(
                "booking/calendar-feed/",
                self.admin_view(CalendarFeedView.as_view(admin_site=self)),
                name="booking_calendar_feed",
            ),
            *before_sign_in,
            *signed_in,
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        from booking.admin.rooms import warn_roomless_techniques

        # A technique no room can host is hidden from clients: tell the manager at once.
        warn_roomless_techniques(request)
        return super().index(request, extra_context)

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        user = request.user
        if user.has_perm("booking.add_calendarfeed") or user.has_perm("booking.view_calendarfeed"):
            for app in apps:
                if app["app_label"] == "booking":
                    # A therapist's own calendar link (issue 15); managers see everyone's.
                    app["models"].insert(
                        0,
                        {
                            "name": _("Calendar on my phone")
                            if not user.has_perm("booking.view_calendarfeed")
                            else _("Calendar links"),
                            "object_name": "CalendarFeed",
                            "perms": {"add": False, "change": False, "delete": False, "view": True},
                            "admin_url": reverse("admin:booking_calendar_feed", current_app=self.name),
                            "add_url": None,
                            "view_only": True,
                        },
                    )
        pages = []
        if user.has_perm("booking.view_appointment"):
            # The schedule is the page reception lives on: first in the booking app, on the
            # index and in the sidebar.
            pages.append(("Schedule", _("Schedule (day view)"), "admin:booking_schedule"))
            if getattr(user, "therapist", None) is not None:
                # A therapist's own days come before everyone's (issue 15).
                pages.insert(0, ("MyDays", _("My days"), "admin:booking_my_days"))
        if user.has_perm("booking.view_reports"):
            # The manager's reports (issue 15), next to the schedule.
            pages.append(("Reports", _("Reports"), "admin:booking_reports"))
        for app in apps:
            if app["app_label"] == "booking":
                app["models"][:0] = [
                    {
                        "name": name,
                        "object_name": object_name,
                        "perms": {"add": False, "change": False, "delete": False, "view": True},
                        "admin_url": reverse(url_name, current_app=self.name),
                        "add_url": None,
                        "view_only": True,
                    }
                    for object_name, name, url_name in pages
                ]
        return apps
