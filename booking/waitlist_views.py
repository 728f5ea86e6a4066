"""Waitlist pages (issue 14): join from the times page, see or leave an entry, and answer
an offer from the email link. Thin: each calls one service and maps its refusal to words."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from clinic import ratelimit

from . import selectors
from .choices import OfferOutcome, WaitlistStatus
from .client_session import signed_in_client
from .forms import ANY, HealthAnswersForm, health_initial
from .intake import answers_from_dict
from .models import WaitlistEntry, WaitlistOffer
from .services import intake, waitlist
from .views import _bad_choice, _technique_or_404, _too_many
from .waitlist_forms import WaitlistJoinForm

ALL_PARTS = ["morning", "afternoon", "evening"]


def _entry_signer() -> signing.Signer:
    # A salt of its own: no value signed elsewhere on the site is a valid entry link.
    return signing.Signer(salt="booking.waitlist-entry")


def entry_token(entry: WaitlistEntry) -> str:
    return _entry_signer().sign(f"{entry.pk}.{entry.secret}")


def _entry_by_token(token: str) -> WaitlistEntry | None:
    try:
        value = _entry_signer().unsign(token)
    except signing.BadSignature:
        return None
    pk, _sep, secret = value.partition(".")
    if not pk.isdigit():
        return None
    entry = (
        WaitlistEntry.objects.select_related("technique", "length", "therapist").filter(pk=int(pk)).first()
    )
    if entry is None or not constant_time_compare(entry.secret, secret):
        return None
    return entry


@method_decorator(never_cache, name="dispatch")
class WaitlistJoinView(View):
    """ "Tell me if a time frees up". Signed-in clients join in one tap (the times page posts
    the week shown); others see this form once, with the choice filled in, and add who
    to tell."""

    template_name = "booking/waitlist/join.html"

    def get(self, request, technique):
        technique = _technique_or_404(technique)
        client = signed_in_client(request)
        form = WaitlistJoinForm(
            initial=self._initial(request.GET, technique), technique=technique, needs_details=client is None
        )
        return self.render(form, technique=technique, client=client)

    def post(self, request, technique):
        technique = _technique_or_404(technique)
        client = signed_in_client(request)
        form = WaitlistJoinForm(request.POST, technique=technique, needs_details=client is None)
        if request.POST.get("quick") and client is None:
            # From the times page without a sign-in: ask for the details, no errors yet.
            form = WaitlistJoinForm(
                initial=self._initial(request.POST, technique), technique=technique, needs_details=True
            )
            return self.render(form, technique=technique, client=None)
        if not form.is_valid():
            if request.POST.get("quick"):
                back = reverse("booking:technique-detail", args=[technique.slug])
                return _bad_choice(request, technique=technique, errors=form.errors, back_url=back)
            return self.render(form, technique=technique, client=client, status=400)
        if client is None and not ratelimit.allow(
            scope="waitlist-join",
            key=ratelimit.client_address(request),
            limit=settings.BOOKING_RATE_LIMIT,
            window_seconds=settings.BOOKING_RATE_WINDOW_SECONDS,
        ):
            return _too_many(request, window_seconds=settings.BOOKING_RATE_WINDOW_SECONDS)
        data = form.cleaned_data
        wish = waitlist.Wish(
            technique=technique,
            length=data["length"],
            therapist=data["therapist"],
            first_day=data["first_day"],
            last_day=data["last_day"],
            parts=frozenset(data["parts"]),
        )
        try:
            entry = waitlist.entry_join(
                wish=wish,
                client=client,
                name=data.get("name", ""),
                email=data.get("email", ""),
                phone=data.get("phone", ""),
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self.render(form, technique=technique, client=client, status=400)
        return redirect("booking:waitlist-entry", token=entry_token(entry))

    def _initial(self, query, technique) -> dict:
        """The choice carried from the times page; anything unreadable is left to the form."""
        today = timezone.now().astimezone(selectors.clinic_zone()).date()
        initial = {
            "length": query.get("length"),
            "therapist": query.get("therapist") or ANY,
            "first_day": query.get("first_day") or query.get("day") or query.get("week") or today,
            "last_day": query.get("last_day") or "",
            "parts": query.getlist("parts") or ALL_PARTS,
        }
        if not initial["last_day"]:
            try:
                from datetime import date

                first = date.fromisoformat(str(initial["first_day"]))
            except ValueError:
                first = today
            initial["last_day"] = first + timedelta(days=6)
        return initial

    def render(self, form, *, technique, client, status: int = 200):
        length = form.initial.get("length") or (form.data.get("length") if form.is_bound else None)
        context = {"form": form, "technique": technique, "client": client, "length_minutes": length}
        return render(self.request, self.template_name, context, status=status)


@method_decorator(never_cache, name="dispatch")
class WaitlistEntryView(View):
    """The client's entry, by the link shown after joining: what they wait for, and leaving."""

    template_name = "booking/waitlist/entry.html"

    def load(self, token: str) -> WaitlistEntry:
        entry = _entry_by_token(token)
        if entry is None:
            raise Http404(_("This link is not valid."))
        return entry

    def get(self, request, token):
        entry = self.load(token)
        return render(request, self.template_name, {"entry": entry, "token": token})

    def post(self, request, token):
        entry = waitlist.entry_leave(entry=self.load(token))
        return render(request, self.template_name, {"entry": entry, "token": token, "left": True})


@method_decorator(never_cache, name="dispatch")
class WaitlistOfferView(View):
    """The offer from the email: the time held, until when, "Book it" and "No thanks".
    Answers are POSTs: a mail scanner that opens the link changes nothing."""

    template_name = "booking/waitlist/offer.html"

    def load(self, token: str) -> WaitlistOffer:
        offer = (
            WaitlistOffer.objects.select_related("appointment__technique", "appointment__therapist", "entry")
            .filter(token=token)
            .first()
        )
        if offer is None:
            raise Http404(_("This link is not valid. Please use the link in your email."))
        return offer

    def get(self, request, token):
        offer = self.load(token)
        return self.render(offer, declining=request.GET.get("answer") == "no")

    def post(self, request, token):
        answer = request.POST.get("answer")
        if answer not in ("book", "no"):
            return self.render(self.load(token), error=_("Please choose Book it or No thanks."), status=400)
        if answer == "book":
            return self.book(token)
        try:
            waitlist.offer_decline(token=token, leave=bool(request.POST.get("leave")))
        except waitlist.OfferNotFound:
            raise Http404(_("This link is not valid. Please use the link in your email.")) from None
        except ValidationError as error:
            return self.render(self.load(token), error=" ".join(error.messages), status=409)
        return redirect("booking:waitlist-offer", token=token)

    def book(self, token):
        offer = self.load(token)
        answers, note_token, form = {}, "", None
        if self.is_open(offer):
            # The health questions, as before every online booking (see services.waitlist).
            form = self.health_form(offer, self.request.POST, self.request.FILES)
            if not form.is_valid():
                # The note's field stays once shown (the page's hidden needs_note says so),
                # with or without a file chosen.
                shown = bool(self.request.POST.get("needs_note"))
                return self.render(offer, form=form, needs_note=shown, status=400)
            answers = form.health_answers()
            upload = form.cleaned_data.get("doctor_note")
            if upload is not None:
                try:
                    note_token = intake.doctor_note_upload(upload=upload).draft_token
                except ValidationError as error:
                    form.add_error("doctor_note", error)
                    return self.render(offer, form=form, needs_note=True, status=400)
        # Not open (answered, or past its window): the service says which; a repeat of
        # "Book it" lands on the booking made.
        try:
            offer = waitlist.offer_accept(token=token, answers=answers, doctor_note_token=note_token)
        except waitlist.OfferNotFound:
            raise Http404(_("This link is not valid. Please use the link in your email.")) from None
        except ValidationError as error:
            if form is not None and error.code == "intake_call":
                # Nothing booked; the time stays held for them while they call.
                return self.render(offer, form=form, call=intake.call_message())
            if form is not None and error.code == "intake_doctor_note":
                return self.render(offer, form=form, needs_note=True)
            return self.render(self.load(token), error=" ".join(error.messages), status=409)
        return redirect("booking:appointment-confirmed", token=offer.appointment.manage_token)

    @staticmethod
    def is_open(offer: WaitlistOffer) -> bool:
        return offer.outcome == OfferOutcome.PENDING and timezone.now() < offer.expires_at

    def health_form(self, offer: WaitlistOffer, data=None, files=None) -> HealthAnswersForm:
        # Their latest answers are filled in only when they are signed in: the offer link
        # alone (an email may be forwarded) shows no health data.
        initial = None
        signed_in = signed_in_client(self.request)
        if signed_in is not None and signed_in.pk == offer.entry.client_id:
            latest = intake.intake_latest(signed_in)
            initial = health_initial(answers_from_dict(latest.answers)) if latest else None
        return HealthAnswersForm(data, files, questions=intake.questions_active(), initial=initial, note=True)

    def render(
        self,
        offer: WaitlistOffer,
        *,
        declining: bool = False,
        error: str = "",
        status: int = 200,
        form: HealthAnswersForm | None = None,
        needs_note: bool = False,
        call: str = "",
    ):
        zone = selectors.clinic_zone()
        appointment = offer.appointment
        is_open = self.is_open(offer)
        if form is None and is_open and not declining:
            form = self.health_form(offer)
        context = {
            "offer": offer,
            "appointment": appointment,
            "start_local": appointment.start.astimezone(zone),
            "end_local": appointment.end.astimezone(zone),
            "expires_local": offer.expires_at.astimezone(zone),
            "open": is_open,
            "declining": declining,
            "error": error,
            "still_waiting": offer.entry.status == WaitlistStatus.WAITING,
            "policy": selectors.policy_load(),
            "form": form,
            "needs_note": needs_note,
            "call_message": call,
        }
        return render(self.request, self.template_name, context, status=status)
