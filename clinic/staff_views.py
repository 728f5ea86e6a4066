"""Staff sign-in pages in the admin's look: the password step, the two-factor code step,
guided two-factor setup, the backup codes shown once, the account's two-factor page, and
"Forgot your password?" (Django's reset by email, rate limited). The rules live in
clinic/otp.py and the log in clinic/signin_log.py; these views only call them."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, login, user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, TemplateView
from django_otp import login as otp_login

from clinic import otp, ratelimit, staff_session
from clinic.signin import lockout_response
from clinic.signin_log import Kind, signin_event_record

BACKUP_CODES_ONCE_KEY = "clinic_backup_codes_once"
# Fewer backup codes than this left: the sign-in says so.
FEW_BACKUP_CODES = 3


def admin_context(request, title) -> dict:
    return {**admin.site.each_context(request), "title": title, "subtitle": None}


def safe_next(request, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return url
    return reverse("admin:index")


def landing_url(user, next_url: str) -> str:
    """Where a sign-in lands. A therapist who asked for no page in particular starts on
    their own days (issue 15: on a phone, today's visits are what they came for); anyone
    else, or anyone who followed a link, goes where they were going."""
    if (
        next_url == reverse("admin:index")
        and getattr(user, "therapist", None) is not None
        and user.has_perm("booking.view_appointment")
    ):
        return reverse("admin:booking_my_days")
    return next_url


def sign_in_complete(request, *, user, device, backup_code: bool = False) -> None:
    """The second step passed: sign the account in, with the device that verified it
    remembered in the session (django-otp), and log it."""
    next_url = otp.pending_next(request)
    otp.pending_clear(request)
    user.otp_device = device
    login(request, user, backend=user.backend)
    otp_login(request, device)
    staff_session.stamp(request)
    request.session["clinic_next"] = next_url
    signin_event_record(
        kind=Kind.BACKUP_CODE_USED if backup_code else Kind.SIGNED_IN, request=request, user=user
    )


# --------------------------------------------------------------------------- step one: password


class StaffLoginView(auth_views.LoginView):
    """Django's admin sign-in form. A right password either signs in (an account that need
    not use two-factor sign-in and has not set it up) or leads to the second step."""

    form_class = AdminAuthenticationForm
    template_name = "admin/login.html"

    def form_valid(self, form):
        user = form.get_user()
        next_url = landing_url(user, self.get_success_url())
        if otp.two_factor_required(user) or otp.has_two_factor(user):
            otp.pending_start(self.request, user=user, backend=user.backend, next_url=next_url)
            step = "admin:two_factor_verify" if otp.has_two_factor(user) else "admin:two_factor_setup"
            return redirect(step)
        login(self.request, user)
        staff_session.stamp(self.request)
        self.request.session[otp.PASSWORD_ONLY_KEY] = True
        signin_event_record(kind=Kind.SIGNED_IN, request=self.request, user=user)
        return redirect(next_url)

    def form_invalid(self, form):
        username = self.request.POST.get("username", "")
        # A refusal while locked out is logged by the lockout page (clinic/signin.py).
        if username and not getattr(self.request, "axes_locked_out", False):
            signin_event_record(kind=Kind.FAILED, request=self.request, username=username)
        return super().form_invalid(form)


# --------------------------------------------------------------------------- step two: a code


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


class PendingMixin:
    """Pages of the second step: only for the account whose password was just right."""

    def dispatch(self, request, *args, **kwargs):
        self.user = otp.pending_user(request)
        if self.user is None:
            messages.warning(request, _("Please sign in again: the second step waits only a few minutes."))
            return redirect("admin:login")
        self.credentials = {"username": self.user.get_username()}
        if request.method == "POST" and not AxesProxyHandler.is_allowed(request, self.credentials):
            return lockout_response(request, credentials=self.credentials)
        return super().dispatch(request, *args, **kwargs)

    def wrong_code(self, form, message):
        """Counted like a wrong password: enough of them pause signing in (django-axes)."""
        signin_event_record(kind=Kind.SECOND_FACTOR_FAILED, request=self.request, user=self.user)
        user_login_failed.send(sender=type(self), credentials=self.credentials, request=self.request)
        if getattr(self.request, "axes_locked_out", False):
            return lockout_response(self.request, credentials=self.credentials)
        form.add_error("code", message)
        return self.form_invalid(form)


class TwoFactorVerifyView(PendingMixin, FormView):
    form_class = CodeForm
    template_name = "admin/two_factor/verify.html"

    def get(self, request, *args, **kwargs):
        if not otp.has_two_factor(self.user):
            return redirect("admin:two_factor_setup")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**admin_context(self.request, _("Two-factor sign-in")), **super().get_context_data(**kwargs)}

    def form_valid(self, form):
        check = otp.second_factor_check(user=self.user, token=form.cleaned_data["code"])
        if check.device is None:
            if check.throttled:
                return self.wrong_code(
                    form, _("Too many wrong codes in a row: wait a minute, then try again.")
                )
            return self.wrong_code(
                form,
                _(
                    "That code is not right. Type the 6 digits your app shows now, "
                    "or one of your backup codes."
                ),
            )
        sign_in_complete(self.request, user=self.user, device=check.device, backup_code=check.backup_code)
        if check.backup_code:
            left = otp.backup_codes_left(self.user)
            if left <= FEW_BACKUP_CODES:
                messages.warning(
                    self.request,
                    _("You have %(left)d backup codes left: make new ones on your two-factor page.")
                    % {"left": left},
                )
        return redirect(safe_next(self.request, self.request.session.pop("clinic_next", "")))


class TwoFactorSetupView(FormView):
    """Guided setup: scan the QR code (or type the secret), confirm one code, then see the
    backup codes once. On the first sign-in of an account that must use it (only while it
    has no authenticator yet: a password alone never replaces one), or later from the
    account's own two-factor page."""

    form_class = CodeForm
    template_name = "admin/two_factor/setup.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and admin.site.has_permission(request):
            self.user, self.first_sign_in = request.user, False
        else:
            self.user, self.first_sign_in = otp.pending_user(request), True
            if self.user is None:
                return redirect(f"{reverse('admin:login')}?{REDIRECT_FIELD_NAME}={request.path}")
            if otp.has_two_factor(self.user):
                return redirect("admin:two_factor_verify")
            credentials = {"username": self.user.get_username()}
            if request.method == "POST" and not AxesProxyHandler.is_allowed(request, credentials):
                return lockout_response(request, credentials=credentials)
        self.device = otp.authenticator_setup_start(user=self.user)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **admin_context(self.request, _("Set up two-factor sign-in")),
            **super().get_context_data(**kwargs),
            "qr_svg": otp.qr_code_svg(self.device),
            "secret": otp.secret_for_typing(self.device),
            "first_sign_in": self.first_sign_in,
            "required": otp.two_factor_required(self.user),
        }

    def form_valid(self, form):
        codes = otp.authenticator_setup_confirm(
            user=self.user, token=form.cleaned_data["code"], request=self.request
        )
        if codes is None:
            message = _("That code is not right. Type the 6 digits the app shows for this clinic now.")
            if self.first_sign_in:
                self.credentials = {"username": self.user.get_username()}
                return PendingMixin.wrong_code(self, form, message)
            form.add_error("code", message)
            return self.form_invalid(form)
        device = otp.authenticator(self.user)
        if self.first_sign_in:
            sign_in_complete(self.request, user=self.user, device=device)
        else:
            otp_login(self.request, device)
            self.request.session["clinic_next"] = reverse("admin:two_factor")
        self.request.session[BACKUP_CODES_ONCE_KEY] = codes
        return redirect("admin:two_factor_backup_codes")


class BackupCodesView(TemplateView):
    """The backup codes, once: they are dropped from the session as they are shown."""

    template_name = "admin/two_factor/backup_codes.html"

    def get(self, request, *args, **kwargs):
        codes = request.session.pop(BACKUP_CODES_ONCE_KEY, None)
        if not codes:
            return redirect("admin:two_factor")
        context = {
            **admin_context(request, _("Your backup codes")),
            "codes": codes,
            "next_url": safe_next(request, request.session.pop("clinic_next", "")),
        }
        response = self.render_to_response(context)
        response["Cache-Control"] = "no-store"
        return response


class TwoFactorAccountView(TemplateView):
    """The signed-in account's two-factor page: what is set up, new backup codes, set up
    or replace the authenticator, and (only for accounts that need not use it) turn it off."""

    template_name = "admin/two_factor/account.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return {
            **admin_context(self.request, _("Two-factor sign-in")),
            "device": otp.authenticator(user),
            "codes_left": otp.backup_codes_left(user),
            "required": otp.two_factor_required(user),
        }

    def post(self, request, *args, **kwargs):
        user = request.user
        action = request.POST.get("action")
        if action == "backup-codes" and otp.has_two_factor(user):
            request.session[BACKUP_CODES_ONCE_KEY] = otp.backup_codes_make(user=user, request=request)
            request.session["clinic_next"] = reverse("admin:two_factor")
            return redirect("admin:two_factor_backup_codes")
        if action == "turn-off" and not otp.two_factor_required(user) and otp.has_two_factor(user):
            otp.two_factor_remove(user=user, request=request)
            request.session[otp.PASSWORD_ONLY_KEY] = True
            messages.success(request, _("Two-factor sign-in is off for your account."))
            return redirect("admin:two_factor")
        messages.warning(request, _("Nothing was changed."))
        return redirect("admin:two_factor")


# --------------------------------------------------------------------------- forgot your password


class StaffPasswordResetForm(PasswordResetForm):
    """Django's reset form for staff accounts only, at most a few emails an hour per
    account, each logged. The page after it is the same whether or not an account has
    that address, so it tells nobody who works here."""

    def get_users(self, email):
        return (user for user in super().get_users(email) if user.is_staff)

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        user = context["user"]
        if not ratelimit.allow(
            scope="password-reset-account",
            key=str(user.pk),
            limit=settings.PASSWORD_RESET_EMAILS_PER_ACCOUNT,
            window_seconds=3600,
        ):
            return
        super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)
        signin_event_record(kind=Kind.PASSWORD_RESET_REQUESTED, request=None, user=user)


class AdminLookMixin:
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        return {**admin.site.each_context(self.request), **context}


class StaffPasswordResetView(AdminLookMixin, auth_views.PasswordResetView):
    form_class = StaffPasswordResetForm
    success_url = reverse_lazy("password_reset_done")

    def post(self, request, *args, **kwargs):
        if not ratelimit.allow(
            scope="password-reset",
            key=ratelimit.client_address(request),
            limit=settings.PASSWORD_RESET_RATE_LIMIT,
            window_seconds=3600,
        ):
            context = {**admin_context(request, _("Too many requests")), "retry_minutes": 60}
            return render(request, "registration/password_reset_limited.html", context, status=429)
        return super().post(request, *args, **kwargs)


class StaffPasswordResetDoneView(AdminLookMixin, auth_views.PasswordResetDoneView):
    pass


class StaffPasswordResetConfirmView(AdminLookMixin, auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        signin_event_record(kind=Kind.PASSWORD_RESET, request=self.request, user=form.user)
        return response


class StaffPasswordResetCompleteView(AdminLookMixin, auth_views.PasswordResetCompleteView):
    pass
