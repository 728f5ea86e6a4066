"""Booking pages and the availability API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import DetailView, ListView

from clinic import ratelimit

from . import availability as engine
from . import (
    availability_cache,
    client_session,
    drafts,
    explanations,
    ics,
    notifications,
    schedule_version,
    selectors,
)
from .account import prefill as account_prefill
from .availability import SlotProblem
from .choices import AppointmentStatus, RuleOutcome, TherapistGender, TherapistPreference
from .forms import (
    ANY,
    GENDER_CHOICES,
    AvailabilityQueryForm,
    ClientDetailsForm,
    GuestDetailsForm,
    RescheduleSlotForm,
    RescheduleTimesForm,
    SlotForm,
    TimesForm,
    client_details_from,
    details_initial,
    health_initial,
)
from .intake import answers_from_dict
from .models import Appointment, HealthIntake, HealthQuestion, Technique, TechniqueLength, Therapist
from .services import appointments, consent, intake


class TechniqueListView(ListView):
    """The techniques clients can book, with lengths and prices."""

    template_name = "booking/technique_list.html"
    context_object_name = "techniques"

    def get_queryset(self):
        return selectors.technique_list_active()


class TechniqueDetailView(DetailView):
    template_name = "booking/technique_detail.html"
    context_object_name = "technique"
    slug_url_kwarg = "technique"

    def get_queryset(self):
        return selectors.technique_list_active()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["therapists"] = selectors.therapist_cards(technique=self.object)
        context["step"] = 1
        # Coming back from a later step keeps what was chosen; otherwise the length staff
        # marked, or the shortest.
        lengths = {str(length.duration_minutes) for length in self.object.lengths.all()}
        chosen = self.request.GET.get("length", "")
        preselected = self.object.preselected_length()
        context["chosen_length"] = (
            chosen if chosen in lengths else str(preselected.duration_minutes) if preselected else ""
        )
        context["chosen_therapist"] = self.request.GET.get("therapist", ANY)
        # Issue 12: "for one" or "for two" when the technique is offered for two; the
        # second seat and the gender preference are chosen on the times page and kept.
        context["chosen_party"] = "2" if self.object.for_two and self.request.GET.get("party") == "2" else "1"
        context["kept"] = {
            key: self.request.GET[key]
            for key in ("therapist2", "gender")
            if re.fullmatch(r"[-\w]{1,100}", self.request.GET.get(key, ""))
        }
        return context


class AvailabilityApiView(View):
    """Free start times per day, as JSON, for the booking pages' JavaScript and others.

    Bad parameters get a 400 with a JSON error naming the parameter; never a 500.
    """

    def get(self, request):
        # First, before the look-ups the form makes: the checked query and the answer
        # are then at least as new as this version (see booking/availability_cache.py).
        version = schedule_version.current()
        # What the form's fields read from the query string, and nothing else.
        raw = [request.GET.get(name) for name in AvailabilityQueryForm.base_fields]
        cleaned = availability_cache.checked_queries.get(version=version, raw=raw)
        if cleaned is None:
            form = AvailabilityQueryForm(request.GET)
            if not form.is_valid():
                return JsonResponse(
                    {"error": {field: [str(e) for e in errors] for field, errors in form.errors.items()}},
                    status=400,
                )
            cleaned = form.cleaned_data
            availability_cache.checked_queries.put(version=version, raw=raw, cleaned=cleaned)
        technique = cleaned["technique"]
        length = cleaned["length_obj"]
        therapist = cleaned["therapist"]
        zone = selectors.clinic_zone()
        now = timezone.now()
        first_day = cleaned["start"] or now.astimezone(zone).date()
        days = cleaned["days"] or 7
        party, gender = cleaned["party"], cleaned["gender"]
        pair = {"party_size": 2, "therapists": (therapist, None)} if party == 2 else {}
        free = availability_cache.availability(
            technique=technique,
            length=length,
            first_day=first_day,
            days=days,
            therapist=None if party == 2 else therapist,
            now=now,
            version=version,
            gender=gender,
            **pair,
        )
        slugs, merged = free.slugs, free.merged
        return JsonResponse(
            {
                "time_zone": str(zone),
                "technique": technique.slug,
                "length": length.duration_minutes,
                "therapist": therapist.slug if therapist else "any",
                "party": party,
                "gender": gender or "any",
                "days": [
                    {
                        "date": day.isoformat(),
                        "times": [
                            {
                                "start": start.astimezone(zone).isoformat(),
                                "therapists": [slugs[pk] for pk in therapist_ids],
                            }
                            for start, therapist_ids in merged.get(day, [])
                        ],
                    }
                    for day in sorted(merged)
                ],
            }
        )


# --------------------------------------------------------------------------- the booking flow

ALTERNATIVES_SHOWN = 6


def _technique_or_404(slug: str) -> Technique:
    technique = selectors.technique_for_booking(slug)
    if technique is None:
        raise Http404("No such technique")
    return technique


def _choice_query(
    *,
    length: TechniqueLength,
    therapist: Therapist | None,
    party: int = 1,
    therapist2: Therapist | None = None,
    gender: str | None = None,
    **extra,
) -> str:
    params = {"length": length.duration_minutes, "therapist": therapist.slug if therapist else ANY}
    # Only what differs from a session for one with no preference: a single's address
    # stays as it always was.
    if party == 2:
        params.update(party=2, therapist2=therapist2.slug if therapist2 else ANY)
    if gender:
        params["gender"] = gender
    params.update({key: value for key, value in extra.items() if value is not None})
    return urlencode(params)


def _choice_kwargs(cleaned: dict) -> dict:
    """A cleaned booking choice as :func:`_choice_query`'s keywords."""
    return {
        "length": cleaned["length"],
        "therapist": cleaned["therapist"],
        "party": cleaned.get("party") or 1,
        "therapist2": cleaned.get("therapist2"),
        "gender": cleaned.get("gender"),
    }


def _availability_kwargs(cleaned: dict) -> dict:
    """A cleaned booking choice as the selectors' keywords (week_availability, slot_check)."""
    party = cleaned.get("party") or 1
    kwargs = {
        "length": cleaned["length"],
        "therapist": cleaned["therapist"] if party == 1 else None,
        "gender": cleaned.get("gender"),
    }
    if party == 2:
        kwargs.update(party_size=2, therapists=(cleaned["therapist"], cleaned.get("therapist2")))
    return kwargs


def _saved_gender(request) -> str | None:
    """The gender a known client asked for before (their record's preference): the
    signed-in client's, or the one a "Book again" link named. None otherwise."""
    client = None
    if client_session.SESSION_KEY in request.session:
        client = client_session.signed_in_client(request)
    if client is None and drafts.RETURNING_KEY in request.session:
        returning = _returning_appointment(drafts.returning_appointment_id(request))
        client = returning.client if returning else None
    preference = client.therapist_preference if client else None
    return {
        TherapistPreference.FEMALE: TherapistGender.FEMALE,
        TherapistPreference.MALE: TherapistGender.MALE,
    }.get(preference)


def _start_param(start: datetime) -> str:
    # Local wall time with its offset: readable in the address bar, exact on the day
    # the clocks go back (when 01:30 happens twice).
    return start.astimezone(selectors.clinic_zone()).isoformat(timespec="minutes")


def _bad_choice(request, *, technique: Technique | None, errors, back_url: str, status: int = 400):
    """The page for input we cannot use: what was wrong, and a way back."""
    messages_list = []
    for field_errors in errors.values():
        messages_list.extend(str(error) for error in field_errors)
    return render(
        request,
        "booking/choice_invalid.html",
        {"technique": technique, "problems": messages_list, "back_url": back_url},
        status=status,
    )


def _problem_page(
    request,
    *,
    technique,
    start: datetime,
    check: selectors.SlotCheck,
    back_url: str,
    therapist: Therapist | None = None,
):
    """A time that cannot be booked for a reason other than "just taken": say which."""
    message = explanations.client_message(
        check.problem,
        policy=check.engine_policy,
        day=start.astimezone(selectors.clinic_zone()),
        closure_reason=check.closure_reason,
        therapist_name=therapist.name if therapist else "",
    )
    return _bad_choice(request, technique=technique, errors={"start": [message]}, back_url=back_url)


def _too_many(request, *, window_seconds: int, changes: bool = False):
    """The 429 page: paused for a while, nothing done, and the phone number."""
    return render(
        request, "429.html", {"retry_minutes": window_seconds // 60, "changes": changes}, status=429
    )


def _manage_rate_limited(request, appointment: Appointment):
    """The 429 page once a manage link, or an address, has made too many changes: each
    change emails the client, so it must not become a way to send mail."""
    window = settings.MANAGE_RATE_WINDOW_SECONDS
    # Both counted every time, so neither can be dodged by tripping the other first.
    per_link = ratelimit.allow(
        scope="manage-link",
        key=appointment.reference,
        limit=settings.MANAGE_RATE_LIMIT,
        window_seconds=window,
    )
    per_address = ratelimit.allow(
        scope="manage-address",
        key=ratelimit.client_address(request),
        limit=settings.MANAGE_RATE_LIMIT_PER_ADDRESS,
        window_seconds=window,
    )
    if per_link and per_address:
        return None
    return _too_many(request, window_seconds=window, changes=True)


def _day_items(week: availability_cache.CachedWeek, *, selected: date, link) -> list[dict]:
    items = []
    for summary in week.days:
        if summary.closed_reason:
            state, note = "closed", _("Closed: %(reason)s") % {"reason": summary.closed_reason}
        elif not summary.bookable:
            state, note = "unavailable", _("Not bookable online")
        elif not summary.working:
            # Nobody (or not the chosen therapist) works on this weekday at all.
            state, note = "closed", _("Not working") if week.named_therapist else _("Closed")
        elif not summary.starts:
            state, note = "full", _("No free times")
        else:
            count = len(summary.starts)
            state = "open"
            note = ngettext("%(count)s free time", "%(count)s free times", count) % {"count": count}
        items.append(
            {
                "day": summary.day,
                "state": state,
                "note": note,
                "url": link(summary.day),
                "selected": summary.day == selected,
            }
        )
    return items


def _times_context(
    *, week: availability_cache.CachedWeek, week_start: date, day: date | None, today: date, link, slot_link
) -> dict:
    """Everything the day strip and time list need, whether booking or rescheduling."""
    last_day = today + timedelta(days=week.policy.horizon_days)
    by_day = {summary.day: summary for summary in week.days}
    open_days = [s.day for s in week.days if s.starts and s.bookable and not s.closed_reason]
    if day not in by_day:
        day = open_days[0] if open_days else week.days[0].day
    selected = by_day[day]
    next_open_day = next((d for d in open_days if d > day), None)
    groups = engine.group_by_part_of_day(selected.starts, week.zone)
    previous_week = max(today, week_start - timedelta(days=7)) if week_start > today else None
    next_week = week_start + timedelta(days=7)
    return {
        "days": _day_items(week, selected=day, link=lambda d: link(week=week_start, day=d)),
        "selected_day": selected,
        "groups": [
            {
                "name": name,
                "label": PART_LABELS[name],
                "times": [
                    {"start": start.astimezone(week.zone), "url": slot_link(start)} for start in starts
                ],
            }
            for name, starts in groups.items()
        ],
        "previous_week_url": link(week=previous_week, day=None) if previous_week else None,
        "next_week_url": link(week=next_week, day=None) if next_week <= last_day else None,
        "week_start": week_start,
        "week_end": week.days[-1].day,
        "next_open_day": next_open_day,
        "next_open_url": link(week=week_start, day=next_open_day) if next_open_day else None,
    }


def _gender_label(gender: str | None) -> str:
    return str(dict(GENDER_CHOICES)[gender or ANY])


PART_LABELS = {"morning": _("Morning"), "afternoon": _("Afternoon"), "evening": _("Evening")}


def _week_start(requested: date | None, today: date, horizon_days: int) -> date:
    week_start = requested or today
    return min(max(week_start, today), today + timedelta(days=horizon_days))


class TimesView(View):
    """Step 3: a strip of days with what is free, then that day's free times."""

    template_name = "booking/times.html"

    def get(self, request, technique):
        technique = _technique_or_404(technique)
        query = request.GET
        if "gender" not in query:
            saved = _saved_gender(request)
            if saved:
                # A known client's preference, until they choose otherwise on this page.
                query = query.copy()
                query["gender"] = saved
        form = TimesForm(query, technique=technique)
        back = reverse("booking:technique-detail", args=[technique.slug])
        if not form.is_valid():
            return _bad_choice(request, technique=technique, errors=form.errors, back_url=back)
        length, therapist = form.cleaned_data["length"], form.cleaned_data["therapist"]
        choice = _choice_kwargs(form.cleaned_data)
        now = timezone.now()
        zone = selectors.clinic_zone()
        today = now.astimezone(zone).date()
        policy = selectors.policy_load()
        week_start = _week_start(
            form.cleaned_data["week"] or form.cleaned_data["day"], today, policy.horizon_days
        )
        week = availability_cache.week(
            technique=technique, first_day=week_start, now=now, **_availability_kwargs(form.cleaned_data)
        )
        base = reverse("booking:times", args=[technique.slug])
        details = reverse("booking:details", args=[technique.slug])

        def link(*, week: date | None, day: date | None) -> str:
            return f"{base}?{_choice_query(**choice, week=week, day=day)}"

        def slot_link(start: datetime) -> str:
            return f"{details}?{_choice_query(**choice, start=_start_param(start))}"

        party = choice["party"]
        context = {
            "technique": technique,
            "length": length,
            "therapist": therapist,
            "party": party,
            "therapist2": choice["therapist2"],
            "gender": choice["gender"] or ANY,
            "gender_label": _gender_label(choice["gender"]),
            "gender_choices": GENDER_CHOICES,
            # The gender matters only where we choose: a seat left to "any available".
            "asks_gender": therapist is None or (party == 2 and choice["therapist2"] is None),
            "seat_therapists": selectors.therapist_cards(technique=technique) if party == 2 else [],
            "day_shown": form.cleaned_data["day"],
            "step": 2,
            **_times_context(
                week=week,
                week_start=week_start,
                day=form.cleaned_data["day"],
                today=today,
                link=link,
                slot_link=slot_link,
            ),
        }
        return render(request, self.template_name, context)


class SlotStepMixin:
    """Steps 4 and 5 share their address: technique in the path, the choice and the start
    time in the query string, so the back button and a copied link both work."""

    def setup_choice(self, request, technique_slug: str, *, check: bool = True):
        """Read the choice from the address; ``check=False`` leaves the slot unchecked
        (the booking service checks it under its locks, and ``self.check`` stays None
        until a page needs it: see :meth:`ReviewView.post`)."""
        self.technique = _technique_or_404(technique_slug)
        self.form = SlotForm(request.GET, technique=self.technique)
        self.back_url = reverse("booking:technique-detail", args=[self.technique.slug])
        if not self.form.is_valid():
            return _bad_choice(
                request, technique=self.technique, errors=self.form.errors, back_url=self.back_url
            )
        self.length = self.form.cleaned_data["length"]
        self.therapist = self.form.cleaned_data["therapist"]
        self.start = self.form.cleaned_data["start"]
        # Issue 12: a session for two names a therapist (or any) per seat; the gender
        # limits whom "any available" may be.
        self.party = self.form.cleaned_data["party"]
        self.therapist2 = self.form.cleaned_data["therapist2"]
        self.gender = self.form.cleaned_data["gender"]
        self.check = self.slot_check() if check else None
        self.times_url = (
            reverse("booking:times", args=[self.technique.slug])
            + "?"
            + _choice_query(
                **self.choice_kwargs(),
                day=self.start.astimezone(selectors.clinic_zone()).date().isoformat(),
            )
        )
        if self.check is None:
            return None
        if self.check.problem == SlotProblem.TAKEN:
            # Taken by the booking this visitor has just made (Back after confirming):
            # show it, not "booked by someone else".
            booked = self.booked_here()
            if booked:
                return booked
        return self.problem_page()

    def problem_page(self):
        """The page for a slot that cannot be booked for a reason other than "taken", or
        None when it can be (or is just taken)."""
        if self.check.problem in (None, SlotProblem.TAKEN):
            return None
        return _problem_page(
            self.request,
            technique=self.technique,
            start=self.start,
            check=self.check,
            back_url=self.times_url,
            therapist=self.therapist,
        )

    def choice_kwargs(self) -> dict:
        return _choice_kwargs(self.form.cleaned_data)

    def choice(self) -> str:
        """This page's choice in one string, naming a booking attempt in the session."""
        therapist = self.therapist.slug if self.therapist else ANY
        start = self.start.astimezone(UTC).isoformat()
        choice = f"{self.technique.slug}|{self.length.duration_minutes}|{therapist}|{start}"
        if self.party == 2:
            choice += f"|two|{self.therapist2.slug if self.therapist2 else ANY}"
        if self.gender:
            choice += f"|{self.gender}"
        return choice

    def booked_here(self):
        token = drafts.booked_token(self.request, self.choice())
        if token is None:
            return None
        messages.info(self.request, _("You have booked this appointment. Here it is."))
        return redirect("booking:appointment-confirmed", token=token)

    def slot_check(self) -> selectors.SlotCheck:
        return selectors.slot_check(
            technique=self.technique,
            start=self.start,
            alternatives=ALTERNATIVES_SHOWN,
            **_availability_kwargs(self.form.cleaned_data),
        )

    def step_url(self, name: str, start: datetime | None = None) -> str:
        return (
            reverse(name, args=[self.technique.slug])
            + "?"
            + _choice_query(**self.choice_kwargs(), start=_start_param(start or self.start))
        )

    def base_context(self) -> dict:
        zone = selectors.clinic_zone()
        return {
            "technique": self.technique,
            "length": self.length,
            "therapist": self.therapist,
            "party": self.party,
            "therapist2": self.therapist2,
            "gender": self.gender,
            "gender_label": _gender_label(self.gender),
            "start_local": self.start.astimezone(zone),
            "end_local": (self.start + timedelta(minutes=self.length.duration_minutes)).astimezone(zone),
            "times_url": self.times_url,
            "policy": self.check.policy,
            "taken": self.check.problem == SlotProblem.TAKEN,
        }

    def alternatives(self, step_name: str) -> list[dict]:
        zone = selectors.clinic_zone()
        return [
            {"start": start.astimezone(zone), "url": self.step_url(step_name, start)}
            for start in self.check.alternatives
        ]


class DetailsView(SlotStepMixin, View):
    """Step 4: the client's details, health questions and the cancellation policy.

    The answers go through the clinic's rules at once: "please call" stops here (nothing
    is booked), "doctor's note" asks for the upload before going on. The booking service
    applies the rules again at "Confirm booking"."""

    template_name = "booking/details.html"

    def dispatch(self, request, *args, **kwargs):
        problem = self.setup_choice(request, kwargs["technique"])
        if problem:
            return problem
        self.questions = intake.questions_active()
        # Came by a "Book again" link: the answers given for that booking, to confirm or update.
        self.returning = _returning_appointment(drafts.returning_appointment_id(request))
        self.last_intake = (
            HealthIntake.objects.filter(appointment=self.returning).first() if self.returning else None
        )
        return super().dispatch(request, *args, **kwargs)

    def form_kwargs(self) -> dict:
        last = answers_from_dict(self.last_intake.answers) if self.last_intake else None
        return {"questions": self.questions, "last_answers": last}

    def guest_form(self, *args, **kwargs) -> GuestDetailsForm | None:
        """The second guest's form, for a session for two (None otherwise)."""
        if self.party != 2:
            return None
        return GuestDetailsForm(*args, questions=self.questions, **kwargs)

    def get(self, request, technique):
        draft = drafts.draft_details(request)
        guest_draft = (draft or {}).get("guest") if self.party == 2 else None
        if draft:
            initial = details_initial(draft)
        elif self.returning is not None:
            # Their details as they gave them for that booking.
            last = self.returning
            initial = {
                "name": last.client_name,
                "email": last.client_email,
                "phone": last.client_phone,
                **(health_initial(answers_from_dict(self.last_intake.answers)) if self.last_intake else {}),
            }
        elif (signed_in := client_session.signed_in_client(request)) is not None:
            # A signed-in client (issue 14): their saved details.
            initial = account_prefill.details_initial(signed_in, last=account_prefill.last_booking(signed_in))
        else:
            initial = {}
        form = ClientDetailsForm(initial=initial, **self.form_kwargs())
        guest = self.guest_form(
            initial=details_initial(guest_draft if isinstance(guest_draft, dict) else None)
        )
        return self.render(
            form,
            guest,
            needs_note=bool(draft and draft.get("doctor_note_token")),
            guest_needs_note=bool(isinstance(guest_draft, dict) and guest_draft.get("doctor_note_token")),
        )

    def post(self, request, technique):
        form = ClientDetailsForm(request.POST, request.FILES, **self.form_kwargs())
        guest = self.guest_form(request.POST, request.FILES)
        # Both checked, so every mistake on the page is shown at once.
        valid = form.is_valid()
        valid = (guest is None or guest.is_valid()) and valid
        if not valid:
            return self.render(form, guest)
        try:
            # Asked now, not only at Confirm, so nobody fills in everything to be refused.
            # The same words as at Confirm: they tell nothing more about the address.
            # The health rules come in the same query.
            rules = appointments.online_details_check(
                email=form.cleaned_data["email"], technique=self.technique
            )
        except ValidationError as error:
            form.add_error("email", error)
            return self.render(form, guest, status=400)
        if guest is not None and _same_email(guest.cleaned_data["email"], form.cleaned_data["email"]):
            # appointment_book_pair refuses it at Confirm; said here, beside the field.
            guest.add_error(
                "email", _("Please give the second guest's own email address, or leave it empty.")
            )
            return self.render(form, guest, status=400)
        evaluation = intake.intake_evaluate(
            technique=self.technique, answers=form.health_answers(), rules=rules
        )
        guest_evaluation = (
            intake.intake_evaluate(technique=self.technique, answers=guest.health_answers(), rules=rules)
            if guest
            else None
        )
        if RuleOutcome.CALL in (evaluation.outcome, guest_evaluation and guest_evaluation.outcome):
            # Nothing is kept: the answers are not needed for a booking that is not made.
            # (Which of the two answered so is not said: the page may be seen by both.)
            drafts.draft_forget(request)
            return render(
                request,
                "booking/intake_call.html",
                {**self.base_context(), "message": intake.call_message(), "step": 3},
            )
        previous = drafts.draft_details(request) or {}
        details = form.to_session()
        details["doctor_note_token"], needs_note = self.doctor_note(
            form, evaluation, previous.get("doctor_note_token") or ""
        )
        guest_needs_note = False
        if guest is not None:
            previous_guest = previous.get("guest") if isinstance(previous.get("guest"), dict) else {}
            details["guest"] = guest.to_session()
            details["guest"]["doctor_note_token"], guest_needs_note = self.doctor_note(
                guest, guest_evaluation, previous_guest.get("doctor_note_token") or ""
            )
        if form.cleaned_data.get("health_unchanged") and self.last_intake is not None:
            details["health_unchanged_since"] = self.last_intake.pk
        # The policy versions agreed to are the ones current as the client agrees, now.
        versions = consent.policy_versions_current()
        details["policy_versions"] = versions
        if guest is not None:
            details["guest"]["policy_versions"] = versions
        drafts.draft_save(request, details)
        if needs_note or guest_needs_note:
            # Their answers are kept; the page asks for the note (a bad file says why).
            bad_file = bool(form.errors or (guest is not None and guest.errors))
            return self.render(
                form,
                guest,
                status=400 if bad_file else 200,
                needs_note=needs_note,
                guest_needs_note=guest_needs_note,
            )
        if self.check.problem == SlotProblem.TAKEN:
            # Their details are saved: each alternative goes straight to the review.
            return self.render(form, guest, status=409)
        return redirect(self.step_url("booking:review"))

    def doctor_note(self, form: ClientDetailsForm, evaluation, previous_token: str) -> tuple[str, bool]:
        """One guest's doctor's note: the draft token to keep, and whether the note is
        still needed. An upload is checked and stored now; a bad one is a form error."""
        if evaluation.outcome != RuleOutcome.DOCTOR_NOTE:
            return previous_token, False
        upload = form.files.get(form.add_prefix("doctor_note"))
        token = previous_token
        if upload is not None:
            try:
                token = intake.doctor_note_upload(upload=upload).draft_token
            except ValidationError as error:
                form.add_error("doctor_note", error)
                return "", True
        if not intake.doctor_note_pending(token):
            return "", True
        return token, False

    def render(
        self,
        form,
        guest=None,
        status: int = 200,
        needs_note: bool = False,
        guest_needs_note: bool = False,
    ):
        error_count = len(form.errors) + (len(guest.errors) if guest is not None else 0)
        context = {
            **self.base_context(),
            "form": form,
            "guest_form": guest,
            "error_count": error_count,
            "step": 3,
            "needs_note": needs_note,
            "guest_needs_note": guest_needs_note,
            "last_intake": self.last_intake,
            # The words agreed to are the current versions (services.consent).
            "consent_texts": consent.policy_texts_current(),
            # Before the details are saved, alternatives lead back here; afterwards, on.
            "alternatives": self.alternatives(
                "booking:review" if self.request.method == "POST" else "booking:details"
            ),
        }
        return render(self.request, self.template_name, context, status=status)


def _same_email(guest: str, booker: str) -> bool:
    return bool(guest.strip()) and guest.strip().lower() == booker.strip().lower()


def _returning_appointment(appointment_id: int | None) -> Appointment | None:
    """The booking a "Book again" link named, unless its client has since been erased."""
    if appointment_id is None:
        return None
    return Appointment.objects.filter(pk=appointment_id, client__erased_at__isnull=True).first()


class BookAgainView(View):
    """The "Book again" link from a client's own pages: a signed, expiring token names
    the client, so their last answers can be offered. A bad token just starts afresh."""

    def get(self, request, token):
        appointment_id = drafts.rebook_appointment_id(token)
        if appointment_id is not None and _returning_appointment(appointment_id) is not None:
            drafts.returning_save(request, appointment_id)
        return redirect("booking:technique-list")


class ReviewView(SlotStepMixin, View):
    """Step 5: check everything, then confirm. The booking service has the last word."""

    template_name = "booking/review.html"

    def dispatch(self, request, *args, **kwargs):
        # Confirming does not check the slot first: the booking service checks it under
        # its locks, and its refusal says why (see post). One load of the day, not two.
        problem = self.setup_choice(request, kwargs["technique"], check=request.method != "POST")
        if problem:
            return problem
        self.details = drafts.draft_details(request)
        if self.details and self.party == 2 and not isinstance(self.details.get("guest"), dict):
            self.details = None  # a draft for one cannot book for two: ask for the guest
        if not self.details:
            # A confirmation sent again (a second click, Back then Confirm, a retry after
            # a lost response) shows the booking the first one made: the first dropped
            # the draft. (With the draft still there, the service answers a repeated key
            # with the first booking, under its lock.)
            key = drafts.clean_key(request.POST.get("confirmation_key")) if request.method == "POST" else None
            booked = selectors.appointment_by_idempotency_key(key) if key else None
            if booked is not None:
                return redirect("booking:appointment-confirmed", token=booked.manage_token)
            booked = self.booked_here()
            if booked:
                return booked
            messages.info(request, _("Please fill in your details first."))
            return redirect(self.step_url("booking:details"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, technique):
        return self.render(status=409 if self.check.problem == SlotProblem.TAKEN else 200)

    def post(self, request, technique):
        if not ratelimit.allow(
            scope="booking",
            key=ratelimit.client_address(request),
            limit=settings.BOOKING_RATE_LIMIT,
            window_seconds=settings.BOOKING_RATE_WINDOW_SECONDS,
        ):
            return _too_many(request, window_seconds=settings.BOOKING_RATE_WINDOW_SECONDS)
        key = drafts.clean_key(request.POST.get("confirmation_key")) or drafts.confirmation_key(
            request, self.choice()
        )
        try:
            if self.party == 2:
                # Both seats or neither, under one key: a repeat returns the same pair.
                appointment, _guest = appointments.appointment_book_pair(
                    technique=self.technique,
                    length=self.length,
                    start=self.start,
                    clients=(client_details_from(self.details), client_details_from(self.details["guest"])),
                    therapists=(self.therapist, self.therapist2),
                    gender=self.gender,
                    idempotency_key=key,
                )
            else:
                appointment = appointments.appointment_book(
                    technique=self.technique,
                    length=self.length,
                    therapist=self.therapist,
                    start=self.start,
                    client=client_details_from(self.details),
                    gender=self.gender,
                    idempotency_key=key,
                )
        except appointments.SlotUnavailable as error:
            self.check = self.slot_check()
            if error.code != "slot_taken":
                return self.problem_page() or self.render(status=400, error=" ".join(error.messages))
            # Taken by this visitor's own booking (another tab): show it.
            booked = self.booked_here()
            if booked:
                return booked
            # Someone else was quicker: show what is near instead, details kept.
            self.check.problem = SlotProblem.TAKEN
            return self.render(status=409)
        except ValidationError as error:
            # The time's own rules (notice, horizon, the grid) as the page says them;
            # anything else (the health rules, the cap, consent) above the button.
            self.check = self.slot_check()
            return self.problem_page() or self.render(status=400, error=" ".join(error.messages))
        drafts.booking_done(request, choice=self.choice(), token=appointment.manage_token)
        return redirect("booking:appointment-confirmed", token=appointment.manage_token)

    def render(self, status: int = 200, error: str = ""):
        context = {
            **self.base_context(),
            "details": self.details,
            "health_rows": _health_review_rows(self.details),
            "guest": self.details.get("guest") if self.party == 2 else None,
            "guest_health_rows": _health_review_rows(self.details["guest"]) if self.party == 2 else [],
            "details_url": self.step_url("booking:details"),
            "confirmation_key": drafts.confirmation_key(self.request, self.choice()),
            "step": 4,
            "error": error,
            "alternatives": self.alternatives("booking:review"),
        }
        return render(self.request, self.template_name, context, status=status)


def _health_review_rows(details: dict) -> list[dict]:
    """The draft's answers beside their questions, for the client to check."""
    answers = answers_from_dict(details.get("health"))
    questions = {question.key: question for question in HealthQuestion.objects.filter(key__in=answers)}
    return [
        {"question": questions[key], "answer": answer} for key, answer in answers.items() if key in questions
    ]


# --------------------------------------------------------------------------- after booking


class AppointmentTokenMixin:
    """Pages reached by the signed link from the client's email. A wrong or tampered
    token is a 404, the same as an unknown one, so nothing can be probed."""

    def load(self, token: str) -> Appointment:
        appointment = selectors.appointment_by_token(token)
        if appointment is None:
            raise Http404(_("This link is not valid. Please use the link in your confirmation email."))
        self.appointment = appointment
        self.policy = selectors.policy_load()
        self.now = timezone.now()
        self.deadline = selectors.client_change_deadline(appointment=appointment, policy=self.policy)
        self.can_change = appointment.status == AppointmentStatus.CONFIRMED and self.now <= self.deadline
        return appointment

    def party(self) -> list[Appointment]:
        """Both seats of a session for two (seat 1 first), or just the appointment."""
        if not hasattr(self, "_party"):
            self._party = appointments.appointment_party(self.appointment)
        return self._party

    def party_availability(self) -> dict:
        """The selectors' keywords for finding another time for the whole party: a pair
        keeps its two therapists and needs a room for two; both seats' own time is free."""
        party = self.party()
        if len(party) == 2:
            return {
                "therapist": None,
                "party_size": 2,
                "therapists": (party[0].therapist, party[1].therapist),
                "exclude_appointment_ids": tuple(seat.pk for seat in party),
            }
        return {"therapist": self.appointment.therapist, "exclude_appointment_id": self.appointment.pk}

    def appointment_context(self) -> dict:
        zone = selectors.clinic_zone()
        party = self.party()
        return {
            "seats": party if len(party) > 1 else [],
            "appointment": self.appointment,
            "token": self.appointment.manage_token,
            "start_local": self.appointment.start.astimezone(zone),
            "end_local": self.appointment.end.astimezone(zone),
            "deadline_local": self.deadline.astimezone(zone),
            "can_change": self.can_change,
            "policy": self.policy,
            "is_past": self.appointment.start <= self.now,
            "rebook_token": drafts.rebook_token(self.appointment.pk),
        }


@method_decorator(never_cache, name="dispatch")
class AppointmentConfirmedView(AppointmentTokenMixin, View):
    """Step 6: booked. The reference, the time, and what to do next."""

    def get(self, request, token):
        self.load(token)
        return render(
            request, "booking/appointment_confirmed.html", {**self.appointment_context(), "step": 5}
        )


@method_decorator(never_cache, name="dispatch")
class AppointmentManageView(AppointmentTokenMixin, View):
    def get(self, request, token):
        self.load(token)
        return render(request, "booking/appointment_manage.html", self.appointment_context())


@method_decorator(never_cache, name="dispatch")
class AppointmentCalendarView(AppointmentTokenMixin, View):
    """The appointment as an .ics file for the client's calendar."""

    def get(self, request, token):
        appointment = self.load(token)
        body = notifications.calendar_file(appointment, method=ics.Method.PUBLISH)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="massage-{appointment.reference}.ics"'
        return response


@method_decorator(never_cache, name="dispatch")
class AppointmentCancelView(AppointmentTokenMixin, View):
    """Ask "are you sure?", then cancel."""

    template_name = "booking/appointment_cancel.html"

    def get(self, request, token):
        self.load(token)
        if not self.can_change:
            return redirect("booking:appointment-manage", token=token)
        return render(request, self.template_name, self.appointment_context())

    def post(self, request, token):
        appointment = self.load(token)
        limited = _manage_rate_limited(request, appointment)
        if limited:
            return limited
        try:
            appointments.appointment_cancel(appointment=appointment, by_client=True)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _("Your appointments, for both of you, are cancelled. We have emailed you to confirm.")
                if len(self.party()) > 1
                else _("Your appointment is cancelled. We have emailed you to confirm."),
            )
        return redirect("booking:appointment-manage", token=token)


@method_decorator(never_cache, name="dispatch")
class AppointmentRescheduleView(AppointmentTokenMixin, View):
    """Pick a new time with the same therapist, on the same day strip as booking."""

    def get(self, request, token):
        appointment = self.load(token)
        if not self.can_change:
            return redirect("booking:appointment-manage", token=token)
        form = RescheduleTimesForm(request.GET)
        manage = reverse("booking:appointment-manage", args=[token])
        if not form.is_valid():
            return _bad_choice(request, technique=appointment.technique, errors=form.errors, back_url=manage)
        zone = selectors.clinic_zone()
        today = self.now.astimezone(zone).date()
        week_start = _week_start(
            form.cleaned_data["week"] or form.cleaned_data["day"], today, self.policy.horizon_days
        )
        week = availability_cache.week(
            technique=appointment.technique,
            length=appointment.length_as_booked(),
            first_day=week_start,
            now=self.now,
            **self.party_availability(),
        )
        base = reverse("booking:appointment-reschedule", args=[token])
        confirm = reverse("booking:appointment-reschedule-confirm", args=[token])

        def link(*, week: date | None, day: date | None) -> str:
            query = urlencode({k: v for k, v in {"week": week, "day": day}.items() if v is not None})
            return f"{base}?{query}"

        def slot_link(start: datetime) -> str:
            if start == appointment.start:
                return ""  # its own time: shown as the current one, not offered as a move
            return f"{confirm}?{urlencode({'start': _start_param(start)})}"

        context = {
            **self.appointment_context(),
            "rescheduling": True,
            "technique": appointment.technique,
            "therapist": appointment.therapist,
            **_times_context(
                week=week,
                week_start=week_start,
                day=form.cleaned_data["day"],
                today=today,
                link=link,
                slot_link=slot_link,
            ),
        }
        return render(request, "booking/times.html", context)


@method_decorator(never_cache, name="dispatch")
class AppointmentRescheduleConfirmView(AppointmentTokenMixin, View):
    """Old time and new side by side; confirming swaps them in one transaction."""

    template_name = "booking/reschedule_confirm.html"

    def dispatch(self, request, *args, **kwargs):
        appointment = self.load(kwargs["token"])
        if request.method == "POST":
            # Every attempt counts, whatever its fate, so a bad or repeated start cannot be
            # used to probe without limit.
            limited = _manage_rate_limited(request, appointment)
            if limited:
                return limited
        if not self.can_change:
            return redirect("booking:appointment-manage", token=kwargs["token"])
        form = RescheduleSlotForm(request.GET)
        self.back_url = reverse("booking:appointment-reschedule", args=[kwargs["token"]])
        if not form.is_valid():
            return _bad_choice(
                request, technique=appointment.technique, errors=form.errors, back_url=self.back_url
            )
        self.start = form.cleaned_data["start"]
        if self.start == appointment.start:
            return _bad_choice(
                request,
                technique=appointment.technique,
                errors={"start": [_("That is already your appointment's time. Choose a different time.")]},
                back_url=self.back_url,
            )
        self.check = self.slot_check()
        if self.check.problem not in (None, SlotProblem.TAKEN):
            return _problem_page(
                request,
                technique=appointment.technique,
                start=self.start,
                check=self.check,
                back_url=self.back_url,
                therapist=appointment.therapist,
            )
        return super().dispatch(request, *args, **kwargs)

    def slot_check(self) -> selectors.SlotCheck:
        # Leaving the appointment itself out: moving it to an overlapping time is fine.
        return selectors.slot_check(
            technique=self.appointment.technique,
            length=self.appointment.length_as_booked(),
            start=self.start,
            alternatives=ALTERNATIVES_SHOWN,
            **self.party_availability(),
        )

    def get(self, request, token):
        return self.render(status=409 if self.check.problem == SlotProblem.TAKEN else 200)

    def post(self, request, token):
        try:
            appointments.appointment_reschedule(
                appointment=self.appointment, new_start=self.start, by_client=True
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
        return redirect("booking:appointment-manage", token=token)

    def render(self, status: int = 200, error: str = ""):
        zone = selectors.clinic_zone()
        confirm = reverse("booking:appointment-reschedule-confirm", args=[self.appointment.manage_token])
        context = {
            **self.appointment_context(),
            "new_start_local": self.start.astimezone(zone),
            "new_end_local": (self.start + timedelta(minutes=self.appointment.duration_minutes)).astimezone(
                zone
            ),
            "taken": self.check.problem == SlotProblem.TAKEN,
            "error": error,
            "back_url": self.back_url,
            "alternatives": [
                {
                    "start": start.astimezone(zone),
                    "url": f"{confirm}?{urlencode({'start': _start_param(start)})}",
                }
                for start in self.check.alternatives
            ],
        }
        return render(self.request, self.template_name, context, status=status)
