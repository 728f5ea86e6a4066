"""Writes for clients' email links (issue 14): signing in without a password, and
confirming that a client wants their account deleted.

A link is a row (:class:`~booking.models.ClientLink`) and a signed token naming it: single
use (claimed by a conditional update), expiring after ``CLIENT_LINK_MINUTES``. A sign-in
link is bound to the browser that asked for it (a random cookie whose hash the row keeps):
opened anywhere else it signs nobody in and says why.

No account enumeration: asking for a sign-in link does the same work whatever the address
(one row, one queued task); the task looks the address up and emails only a client.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from clinic import site

from ..models import Client, ClientLink, email_key
from . import privacy

logger = logging.getLogger(__name__)

Purpose = ClientLink.Purpose


class LinkProblem(StrEnum):
    """Why a link does not work; the pages choose the words."""

    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    OTHER_BROWSER = "other_browser"


@dataclass(frozen=True)
class LinkCheck:
    link: ClientLink | None
    problem: LinkProblem | None


def _signer() -> signing.Signer:
    # A salt of its own: nothing signed elsewhere on the site is a valid link.
    return signing.Signer(salt="booking.client-link")


def link_token(link: ClientLink) -> str:
    return _signer().sign(f"{link.pk}.{link.secret}")


def new_browser_key() -> str:
    """The random value of the cookie that binds a sign-in link to one browser."""
    return secrets.token_urlsafe(24)


def _browser_hash(browser_key: str) -> str:
    return hashlib.sha256(browser_key.encode()).hexdigest() if browser_key else ""


def _expiry(now: datetime) -> datetime:
    return now + timedelta(minutes=settings.CLIENT_LINK_MINUTES)


def _queue_email(link: ClientLink) -> None:
    """Queue the link's email in the caller's transaction (the durable task backend), or
    after the commit (the immediate backend, development), as notifications.notify does."""
    from ..account.tasks import send_client_link_email  # tasks import this module

    args: dict = {"link_id": link.pk}
    if not settings.SITE_URL and site.request_base_url():
        args["site_url"] = site.request_base_url()
    if send_client_link_email.get_backend().supports_defer:
        send_client_link_email.enqueue(**args)
    else:
        transaction.on_commit(lambda: send_client_link_email.enqueue(**args))


def signin_link_request(*, email: str, browser_key: str, now: datetime | None = None) -> ClientLink:
    """Someone asked for a sign-in link for ``email`` from the browser holding
    ``browser_key``. The same work whether or not a client has that address: one row and
    one queued task; the task decides whether an email goes."""
    now = now or timezone.now()
    with transaction.atomic():
        link = ClientLink.objects.create(
            purpose=Purpose.SIGN_IN,
            email=email_key(email),
            browser_hash=_browser_hash(browser_key),
            expires_at=_expiry(now),
        )
        _queue_email(link)
    return link


def erase_link_request(*, client: Client, now: datetime | None = None) -> ClientLink:
    """A signed-in client asked to delete their account: email them a link to confirm."""
    now = now or timezone.now()
    with transaction.atomic():
        link = ClientLink.objects.create(purpose=Purpose.ERASE, client=client, expires_at=_expiry(now))
        _queue_email(link)
    return link


def link_find(
    *, token: str, purpose: str, browser_key: str | None = None, now: datetime | None = None
) -> LinkCheck:
    """The link ``token`` names, and what (if anything) stops it working now. Reads only:
    a link opened in another browser is not used up by being looked at."""
    now = now or timezone.now()
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        return LinkCheck(None, LinkProblem.INVALID)
    raw_id, _dot, secret = value.partition(".")
    if not raw_id.isdigit() or len(raw_id) > 18:
        return LinkCheck(None, LinkProblem.INVALID)
    link = ClientLink.objects.select_related("client").filter(pk=int(raw_id), purpose=purpose).first()
    if link is None or not constant_time_compare(link.secret, secret):
        return LinkCheck(None, LinkProblem.INVALID)
    if link.used_at is not None:
        return LinkCheck(link, LinkProblem.USED)
    if link.expires_at <= now:
        return LinkCheck(link, LinkProblem.EXPIRED)
    if link.client is None or link.client.erased_at is not None or link.client.merged_into_id is not None:
        return LinkCheck(link, LinkProblem.INVALID)
    if browser_key is not None and not (
        link.browser_hash and constant_time_compare(link.browser_hash, _browser_hash(browser_key))
    ):
        return LinkCheck(link, LinkProblem.OTHER_BROWSER)
    return LinkCheck(link, None)


def _claim(link: ClientLink, now: datetime) -> bool:
    """Use the link up; False when another request used it a moment before."""
    return bool(
        ClientLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(used_at=now)
    )


def signin_link_use(
    *, token: str, browser_key: str, now: datetime | None = None
) -> tuple[Client | None, LinkProblem | None]:
    """Use a sign-in link opened in the browser holding ``browser_key`` (may be empty).
    Returns the client to sign in, or the problem (the link is then left as it was,
    unless it was already used)."""
    now = now or timezone.now()
    check = link_find(token=token, purpose=Purpose.SIGN_IN, browser_key=browser_key, now=now)
    if check.problem is not None:
        return None, check.problem
    if not _claim(check.link, now):
        return None, LinkProblem.USED
    logger.info("Client %s signed in by email link %s", check.link.client_id, check.link.pk)
    return check.link.client, None


class ClientOnline:
    """Who did it, for the privacy services' records, when the client did it themselves
    (there is no staff user): recorded as "client online"."""

    pk = None

    def get_username(self) -> str:
        return "client online"


def erase_link_use(*, token: str, now: datetime | None = None) -> Client:
    """Erase the account a confirmation link names (privacy.client_erase: personal and
    health data removed, visits kept as anonymous rows). Raises ValidationError with
    the :class:`LinkProblem` as code, or privacy's ``upcoming`` refusal (the link is then
    not used up, so it works once the visits are cancelled)."""
    now = now or timezone.now()
    with transaction.atomic():
        check = link_find(token=token, purpose=Purpose.ERASE, now=now)
        if check.problem is not None:
            raise ValidationError(check.problem.value, code=check.problem.value)
        client = check.link.client
        privacy.client_erase(client=client, by=ClientOnline())
        if not _claim(check.link, now):
            raise ValidationError(LinkProblem.USED.value, code=LinkProblem.USED.value)
        # Other links of this client must not outlive it.
        ClientLink.objects.filter(client=client, used_at__isnull=True).update(used_at=now)
    logger.info("Client %s erased their account by email link %s", client.pk, check.link.pk)
    return client


def links_purge(*, now: datetime | None = None) -> int:
    """Delete links a day past their expiry (and so the addresses typed with them)."""
    now = now or timezone.now()
    deleted, _by_model = ClientLink.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    return deleted


def upcoming_erase_message() -> str:
    return _("You have appointments still to come. Please cancel them first, then delete your account.")
