"""The client's own pages (issue 14): sign in by an email link, their visits, rebooking,
moving a visit (another time, length or therapist), their data, deleting the account.

Every page past sign-in shows only the signed-in client's own records: an appointment of
anyone else is a 404, the same as one that does not exist."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from clinic import ratelimit

from .. import client_session, ics, notifications, selectors
from ..availability import SlotProblem
from ..forms import ANY, HealthAnswersForm, health_initial
from ..intake import answers_from_dict
from ..models import Appointment, Client, HealthQuestion, Technique, TechniqueLength, Therapist
from ..services import account, appointments, intake, privacy, signin, waitlist

# The booking pages' helpers, shared so a move here reads and behaves as one there.
from ..views import (
    ALTERNATIVES_SHOWN,
    _manage_rate_limited,
    _problem_page,
    _start_param,
    _times_context,
    _week_start,
)
from . import prefill
from .forms import RescheduleChoiceForm, RescheduleSlotForm, SignInForm

# The cookie that binds a sign-in link to the browser that asked for it.
BROWSER_COOKIE = "clinic_signin_browser"
BROWSER_COOKIE_SECONDS = 24 * 3600


def _browser_key(request) -> str:
    value = request.COOKIES.get(BROWSER_COOKIE, "")
    return value if 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() else ""


class ClientPageMixin:
    """Pages for a signed-in client; anyone else is sent to the sign-in page."""

    client: Client

    def dispatch(self, request, *args, **kwargs):
        client = client_session.signed_in_client(request)
        if client is None:
            return redirect("booking:account-signin")
        self.client = client
        return super().dispatch(request, *args, **kwargs)

    def own_appointment(self, appointment_id: int) -> Appointment:
        appointment = selectors.client_own_appointment(client=self.client, appointment_id=appointment_id)
        if appointment is None:
            raise Http404(_("No such appointment."))
        return appointment


# --------------------------------------------------------------------------- signing in


@method_decorator(never_cache, name="dispatch")
class SignInView(View):
    """The email form. Whatever the address, the same work and the same answer (the
    page that says to check the email), so nobody can learn whether it is known."""

    template_name = "booking/account/signin.html"

    def get(self, request):
        if client_session.signed_in_client(request) is not None:
            return redirect("booking:account-home")
        return render(request, self.template_name, {"form": SignInForm()})

    def post(self, request):
        form = SignInForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        email = form.cleaned_data["email"]
        window = settings.SIGNIN_LINK_RATE_WINDOW_SECONDS
        # Both counted every time, so neither can be dodged by tripping the other first.
        per_address = ratelimit.allow(
            scope="signin-email",
            key=email.strip().lower(),
            limit=settings.SIGNIN_LINK_RATE_LIMIT,
            window_seconds=window,
        )
        per_ip = ratelimit.allow(
            scope="signin-ip",
            key=ratelimit.client_address(request),
            limit=settings.SIGNIN_LINK_RATE_LIMIT_PER_IP,
            window_seconds=window,
        )
        if not (per_address and per_ip):
            return render(
                request, "booking/account/signin_limited.html", {"retry_minutes": window // 60}, status=429
            )
        browser_key = _browser_key(request) or signin.new_browser_key()
        signin.signin_link_request(email=email, browser_key=browser_key)
        response = redirect("booking:account-signin-sent")
        response.set_cookie(
            BROWSER_COOKIE,
            browser_key,
            max_age=BROWSER_COOKIE_SECONDS,
            httponly=True,
            secure=settings.SESSION_COOKIE_SECURE,
            samesite="Lax",
        )
        return response


@method_decorator(never_cache, name="dispatch")
class SignInSentView(View):
    def get(self, request):
        return render(request, "booking/account/signin_sent.html", {"minutes": settings.CLIENT_LINK_MINUTES})


LINK_PROBLEM_STATUS = {
    signin.LinkProblem.INVALID: 404,
    signin.LinkProblem.EXPIRED: 410,
    signin.LinkProblem.USED: 410,
    signin.LinkProblem.OTHER_BROWSER: 403,
}


@method_decorator(never_cache, name="dispatch")
class SignInLinkView(View):
    """The link from the email. In the browser that asked: signed in, once. Anywhere else
    (another device, a mail scanner): a page saying so, and the link still works where it
    was asked for."""

    def get(self, request, token):
        client, problem = signin.signin_link_use(token=token, browser_key=_browser_key(request))
        if problem is not None:
            return render(
                request,
                "booking/account/link_problem.html",
                {"problem": problem.value, "form": SignInForm(), "minutes": settings.CLIENT_LINK_MINUTES},
                status=LINK_PROBLEM_STATUS[problem],
            )
        client_session.sign_in(request, client)
        messages.success(request, _("You are signed in."))
        return redirect("booking:account-home")


class SignOutView(View):
    def post(self, request):
        client_session.sign_out(request)
        messages.success(request, _("You are signed out."))
        return redirect("booking:account-signin")


# --------------------------------------------------------------------------- the client's page


def _health_rows(latest) -> list[dict]:
    if latest is None:
        return []
    answers = answers_from_dict(latest.answers)
    questions = HealthQuestion.objects.filter(key__in=list(answers)).order_by("display_order", "pk")
    return [{"question": q, "answer": answers[q.key]} for q in questions]


@method_decorator(never_cache, name="dispatch")
class AccountView(ClientPageMixin, View):
    """Upcoming and past visits, each with its calendar file and what can be done with
    it; the latest health answers; the data download and the account's deletion."""

    def get(self, request):
        visits = selectors.client_own_visits(client=self.client)
        latest = intake.intake_latest(self.client)
        return render(
            request,
            "booking/account/home.html",
            {
                "client": self.client,
                "visits": visits,
                "latest_intake": latest,
                "health_rows": _health_rows(latest),
                # Times a waitlist offer holds for them: answered from their page too.
                "waitlist_offers": waitlist.offers_open_for(self.client),
                "zone": selectors.clinic_zone(),
            },
        )


@method_decorator(never_cache, name="dispatch")
class VisitCalendarView(ClientPageMixin, View):
    def get(self, request, appointment_id):
        appointment = self.own_appointment(appointment_id)
        body = notifications.calendar_file(appointment, method=ics.Method.PUBLISH)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="massage-{appointment.reference}.ics"'
        return response


def _still_offered(
    appointment: Appointment,
) -> tuple[Technique | None, TechniqueLength | None, Therapist | None]:
    """The technique, length and therapist of ``appointment`` as far as they can still be
    booked online (a length or therapist no longer offered falls back to the defaults)."""
    technique = selectors.technique_list_active().filter(pk=appointment.technique_id).first()
    if technique is None:
        return None, None, None
    length = technique.lengths.filter(duration_minutes=appointment.duration_minutes).first()
    therapist = Therapist.objects.active().filter(pk=appointment.therapist_id, techniques=technique).first()
    return technique, length, therapist


class BookAgainView(ClientPageMixin, View):
    """Book the same again: the times page with the technique, length and therapist
    chosen, and the details ready (see prefill.draft_book_again)."""

    def get(self, request, appointment_id):
        appointment = self.own_appointment(appointment_id)
        technique, length, therapist = _still_offered(appointment)
        if technique is None:
            messages.info(request, _("That massage is not booked online at the moment; here is what is."))
            return redirect("booking:technique-list")
        prefill.draft_book_again(request, client=self.client, appointment=appointment)
        if length is None:
            return redirect("booking:technique-detail", technique=technique.slug)
        query = urlencode(
            {"length": length.duration_minutes, "therapist": therapist.slug if therapist else ANY}
        )
        return redirect(reverse("booking:times", args=[technique.slug]) + "?" + query)


class HealthUnchangedView(ClientPageMixin, View):
    def post(self, request):
        try:
            account.health_confirm_unchanged(client=self.client)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Thank you: your health answers are recorded as unchanged."))
        return redirect(reverse("booking:account-home") + "#health")


class HealthUpdateView(ClientPageMixin, View):
    """New health answers, between visits: the questions with the latest answers filled in."""

    template_name = "booking/account/health_update.html"

    def form(self, data=None):
        latest = intake.intake_latest(self.client)
        return HealthAnswersForm(
            data,
            questions=intake.questions_active(),
            initial=health_initial(answers_from_dict(latest.answers)) if latest else None,
        )

    def get(self, request):
        form = self.form()
        return render(request, self.template_name, {"form": form})

    def post(self, request):
        form = self.form(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        account.health_update(client=self.client, answers=form.health_answers())
        messages.success(request, _("Thank you: your health answers are updated."))
        return redirect(reverse("booking:account-home") + "#health")


# --------------------------------------------------------------------------- moving a visit


class RescheduleMixin(ClientPageMixin):
    """A move chosen on the client's page: another time, and perhaps another length or
    therapist ("any available" too). One service call swaps it in one transaction."""

    def setup_move(self, request, appointment_id, form_class):
        self.appointment = self.own_appointment(appointment_id)
        self.policy = selectors.policy_load()
        self.now = timezone.now()
        deadline = selectors.client_change_deadline(appointment=self.appointment, policy=self.policy)
        if self.appointment.status != "confirmed" or self.now > deadline:
            messages.info(request, _("This visit can no longer be changed online. Please call the clinic."))
            return redirect("booking:account-home")
        therapists = list(Therapist.objects.offering(self.appointment.technique).order_by("name", "pk"))
        self.form = form_class(request.GET, appointment=self.appointment, therapists=therapists)
        if not self.form.is_valid():
            return render(
                request,
                "booking/choice_invalid.html",
                {
                    "technique": self.appointment.technique,
                    "problems": [str(e) for errors in self.form.errors.values() for e in errors],
                    "back_url": reverse("booking:account-home"),
                },
                status=400,
            )
        self.length = self.form.cleaned_data["length"]
        self.therapist = self.form.cleaned_data["therapist"]
        return None

    def effective_length(self) -> TechniqueLength:
        return self.length or self.appointment.length_as_booked()

    def choice_params(self, **extra) -> dict:
        params = {
            "length": self.effective_length().duration_minutes,
            "therapist": self.therapist.slug if self.therapist else ANY,
        }
        params.update({k: v for k, v in extra.items() if v is not None})
        return params


@method_decorator(never_cache, name="dispatch")
class RescheduleView(RescheduleMixin, View):
    template_name = "booking/account/reschedule.html"

    def get(self, request, appointment_id):
        problem = self.setup_move(request, appointment_id, RescheduleChoiceForm)
        if problem:
            return problem
        zone = selectors.clinic_zone()
        today = self.now.astimezone(zone).date()
        week_start = _week_start(
            self.form.cleaned_data["week"] or self.form.cleaned_data["day"], today, self.policy.horizon_days
        )
        week = selectors.week_availability(
            technique=self.appointment.technique,
            length=self.effective_length(),
            therapist=self.therapist,
            first_day=week_start,
            now=self.now,
            exclude_appointment_id=self.appointment.pk,
        )
        base = reverse("booking:account-reschedule", args=[self.appointment.pk])
        confirm = reverse("booking:account-reschedule-confirm", args=[self.appointment.pk])
        same = (
            self.length is None
            and self.therapist is not None
            and self.therapist.pk == self.appointment.therapist_id
        )

        def link(*, week: date | None, day: date | None) -> str:
            return f"{base}?{urlencode(self.choice_params(week=week, day=day))}"

        def slot_link(start: datetime) -> str:
            if same and start == self.appointment.start:
                return ""  # its own time: shown as the current one, not offered as a move
            return f"{confirm}?{urlencode(self.choice_params(start=_start_param(start)))}"

        context = {
            "appointment": self.appointment,
            "form": self.form,
            "start_local": self.appointment.start.astimezone(zone),
            "length": self.effective_length(),
            "therapist": self.therapist,
            "policy": self.policy,
            **_times_context(
                week=week,
                week_start=week_start,
                day=self.form.cleaned_data["day"],
                today=today,
                link=link,
                slot_link=slot_link,
            ),
        }
        return render(request, self.template_name, context)


@method_decorator(never_cache, name="dispatch")
class RescheduleConfirmView(RescheduleMixin, View):
    template_name = "booking/account/reschedule_confirm.html"

    def dispatch(self, request, *args, **kwargs):
        client = client_session.signed_in_client(request)
        if client is None:
            return redirect("booking:account-signin")
        self.client = client
        appointment = self.own_appointment(kwargs["appointment_id"])
        if request.method == "POST":
            limited = _manage_rate_limited(request, appointment)
            if limited:
                return limited
        problem = self.setup_move(request, kwargs["appointment_id"], RescheduleSlotForm)
        if problem:
            return problem
        self.start = self.form.cleaned_data["start"]
        self.back_url = (
            reverse("booking:account-reschedule", args=[self.appointment.pk])
            + "?"
            + urlencode(
                self.choice_params(day=self.start.astimezone(selectors.clinic_zone()).date().isoformat())
            )
        )
        self.check = self.slot_check()
        if self.check.problem not in (None, SlotProblem.TAKEN):
            return _problem_page(
                request,
                technique=self.appointment.technique,
                start=self.start,
                check=self.check,
                back_url=self.back_url,
                therapist=self.therapist,
            )
        return View.dispatch(self, request, *args, **kwargs)

    def slot_check(self) -> selectors.SlotCheck:
        return selectors.slot_check(
            technique=self.appointment.technique,
            length=self.effective_length(),
            therapist=self.therapist,
            start=self.start,
            exclude_appointment_id=self.appointment.pk,
            alternatives=ALTERNATIVES_SHOWN,
        )

    def get(self, request, appointment_id):
        return self.render(status=409 if self.check.problem == SlotProblem.TAKEN else 200)

    def post(self, request, appointment_id):
        try:
            appointments.appointment_reschedule(
                appointment=self.appointment,
                new_start=self.start,
                therapist=self.therapist,
                any_therapist=self.therapist is None,
                length=self.length,
                by_client=True,
            )
        except appointments.SlotUnavailable as error:
            if error.code != "slot_taken":
                return self.render(status=400, error=" ".join(error.messages))
            self.check = self.slot_check()
            self.check.problem = SlotProblem.TAKEN
            return self.render(status=409)
        except ValidationError as error:
            return self.render(status=400, error=" ".join(error.messages))
        messages.success(request, _("Your appointment has been moved. We have emailed you the new time."))
        return redirect("booking:account-home")

    def render(self, status: int = 200, error: str = ""):
        zone = selectors.clinic_zone()
        confirm = reverse("booking:account-reschedule-confirm", args=[self.appointment.pk])
        length = self.effective_length()
        context = {
            "appointment": self.appointment,
            "start_local": self.appointment.start.astimezone(zone),
            "new_start_local": self.start.astimezone(zone),
            "new_end_local": (self.start + timedelta(minutes=length.duration_minutes)).astimezone(zone),
            "length": length,
            "therapist": self.therapist,
            "taken": self.check.problem == SlotProblem.TAKEN,
            "error": error,
            "back_url": self.back_url,
            "alternatives": [
                {
                    "start": start.astimezone(zone),
                    "url": f"{confirm}?{urlencode(self.choice_params(start=_start_param(start)))}",
                }
                for start in self.check.alternatives
            ],
        }
        return render(self.request, self.template_name, context, status=status)


# --------------------------------------------------------------------------- their data


class ExportView(ClientPageMixin, View):
    """Everything held about the client, as JSON (privacy.client_export, recorded as a
    look at their health data, by "client online")."""

    def get(self, request):
        data = privacy.client_export(client=self.client, by=signin.ClientOnline())
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="my-data.json"'
        return response


@method_decorator(never_cache, name="dispatch")
class EraseRequestView(ClientPageMixin, View):
    """Delete my account: explained, then a confirmation link by email (a second proof
    that the person is the address's owner, and a pause to think)."""

    template_name = "booking/account/erase_request.html"

    def get(self, request):
        upcoming = selectors.client_own_visits(client=self.client)
        has_upcoming = any(v.appointment.status == "confirmed" for v in upcoming.upcoming)
        return render(request, self.template_name, {"has_upcoming": has_upcoming})

    def post(self, request):
        signin.erase_link_request(client=self.client)
        messages.success(
            request,
            _("We have emailed you a link to confirm. It works for %(minutes)s minutes.")
            % {"minutes": settings.CLIENT_LINK_MINUTES},
        )
        return redirect("booking:account-home")


@method_decorator(never_cache, name="dispatch")
class EraseConfirmView(View):
    """The link from the deletion email: a page with one button (a mail scanner opening
    the link deletes nothing), then the erasure and signing out."""

    template_name = "booking/account/erase_confirm.html"

    def problem_page(self, request, problem: str):
        return render(
            request,
            "booking/account/link_problem.html",
            {"problem": problem, "erase": True, "minutes": settings.CLIENT_LINK_MINUTES},
            status=LINK_PROBLEM_STATUS[signin.LinkProblem(problem)],
        )

    def get(self, request, token):
        check = signin.link_find(token=token, purpose=signin.Purpose.ERASE)
        if check.problem is not None:
            return self.problem_page(request, check.problem.value)
        return render(request, self.template_name, {})

    def post(self, request, token):
        try:
            client = signin.erase_link_use(token=token)
        except ValidationError as error:
            if error.code == "upcoming":
                return render(
                    request, self.template_name, {"error": signin.upcoming_erase_message()}, status=400
                )
            return self.problem_page(request, error.code)
        signed_in = client_session.signed_in_client(request)
        if signed_in is None or signed_in.pk == client.pk:
            client_session.sign_out(request)
        return render(request, "booking/account/erased.html")
