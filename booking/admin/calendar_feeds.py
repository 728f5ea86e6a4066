"""A therapist's calendar feed in the staff site (issue 15): make the link (shown once),
replace it, or stop it; managers see every live link and may stop any.

The rules (who may make or stop which link) live in ``booking.services.calendar_feeds``;
this page only reads, calls them and shows the answer.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from clinic import site

from .. import selectors
from ..models import CalendarFeed, Therapist
from ..services import calendar_feeds

FEED_ID = re.compile(r"[0-9]{1,18}")


class CalendarFeedView(TemplateView):
    template_name = "admin/booking/calendar_feed.html"
    admin_site = None

    def dispatch(self, request, *args, **kwargs):
        therapist = Therapist.objects.filter(user=request.user).first() if request.user.is_active else None
        # The therapist whose link this account may make and see, if any.
        self.own = therapist if therapist and calendar_feeds.may_make(request.user, therapist) else None
        self.manages = request.user.has_perm("booking.view_calendarfeed")
        if self.own is None and not self.manages:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, *, secret: str = "", **kwargs):
        context = {
            **self.admin_site.each_context(self.request),
            "title": _("Calendar on my phone") if self.own else _("Calendar links"),
            "own": self.own,
            "feed": selectors.calendar_feed_live(therapist=self.own) if self.own else None,
            "manages": self.manages,
            "feeds": list(selectors.calendar_feeds_live()) if self.manages else [],
        }
        if secret:
            path = reverse("booking:therapist_calendar", args=[secret])
            base = site.base_url()
            context["https_url"] = base + path
            # webcal:// asks the phone to subscribe (and keep reading it) rather than
            # import the events once.
            context["webcal_url"] = "webcal://" + base.split("://", 1)[-1] + path
        return context

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action")
        if action == "make":
            if self.own is None:
                raise PermissionDenied
            _feed, secret = calendar_feeds.calendar_feed_create(therapist=self.own, by=request.user)
            # Shown in this answer, not after a redirect: the secret is never stored,
            # not even in the session for the next page.
            context = self.get_context_data(secret=secret)
            return self.render_to_response(context)
        if action == "stop":
            feed = self._feed(request.POST.get("feed", ""))
            if calendar_feeds.calendar_feed_revoke(feed=feed, by=request.user):
                messages.success(
                    request,
                    _("The calendar link for %(therapist)s is stopped: phones get nothing more from it.")
                    % {"therapist": feed.therapist.name},
                )
            else:
                messages.info(request, _("That calendar link was already stopped."))
            return redirect("admin:booking_calendar_feed")
        messages.warning(request, _("Nothing was changed."))
        return redirect("admin:booking_calendar_feed")

    def _feed(self, raw: str) -> CalendarFeed:
        """The live feed the form names, if this account may stop it; otherwise a 404, so
        a changed id tells nothing about other people's links."""
        feed = None
        if FEED_ID.fullmatch(raw):
            feed = CalendarFeed.objects.select_related("therapist").filter(pk=int(raw)).first()
        if feed is None or not calendar_feeds.may_revoke(self.request.user, feed):
            raise Http404
        return feed
