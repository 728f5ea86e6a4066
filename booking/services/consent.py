"""Consent: the versioned texts clients agree to (the cancellation policy, the treatment
consent) and the record of who agreed to which version, when and how.

A text is never edited: publishing a change makes a new version, so every booking keeps
pointing at the words its client actually saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.text import single_line

from ..choices import ConsentMethod, PolicyKind
from ..models import Appointment, Client, Consent, PolicyText
from ..prepared_sql import Statement


def name_key(name: str) -> str:
    """A name as compared for the typed consent: case and spacing ignored."""
    return " ".join(single_line(name or "").split()).casefold()


def policy_text_current(kind: PolicyKind | str) -> PolicyText | None:
    """The version of ``kind`` clients agree to now (the newest), or None if never written."""
    return PolicyText.objects.filter(kind=kind).order_by("-version").first()


@lru_cache(maxsize=4)
def _policy_texts_statement(vendor: str) -> Statement:
    """Every version of every kind, newest first, compiled once (see
    booking/prepared_sql.py): the details page reads them when shown and when sent, and
    building the query cost the ORM several times the database's answer (issue 13)."""
    return Statement.of(PolicyText.objects.order_by("kind", "-version"))


def policy_texts_current() -> dict[str, PolicyText]:
    """The newest version of every kind, keyed by kind, in one query."""
    newest: dict[str, PolicyText] = {}
    for text in _policy_texts_statement(connection.vendor).instances({}, connection):
        newest.setdefault(text.kind, text)
    return newest


def policy_versions_current() -> dict[str, int]:
    """The id of the newest version of every kind, keyed by kind (one query): what a
    client agrees to when they send the details form, kept with their draft (see
    :class:`Agreement`)."""
    return {kind: text.pk for kind, text in policy_texts_current().items()}


def policy_text_publish(*, kind: PolicyKind | str, body: str, by=None) -> PolicyText:
    """Publish new wording of ``kind`` as its next version. Old versions stay as they were:
    bookings that agreed to them keep them."""
    if kind not in PolicyKind.values:
        raise ValidationError(_("Unknown kind of text."), code="bad_kind")
    body = (body or "").strip()
    if not body:
        raise ValidationError(_("The wording cannot be empty."), code="empty")
    for _attempt in range(3):
        try:
            with transaction.atomic():
                latest = PolicyText.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0
                return PolicyText.objects.create(
                    kind=kind,
                    version=latest + 1,
                    body=body,
                    created_by=by if getattr(by, "pk", None) else None,
                )
        except IntegrityError:
            # Two managers published at once; the unique (kind, version) refused the
            # second. Read the new latest and try again.
            continue
    raise ValidationError(_("Someone else is publishing this text; please try again."), code="busy")


@dataclass(frozen=True)
class Agreement:
    """What a booking says about consent, as it travels in the booking's client details."""

    typed_name: str = ""  # the full name typed under the treatment consent (online)
    by_phone: bool = False  # staff: the client agreed on the phone or in person
    recorded_by: object = None  # the staff user who took the agreement
    # Online: the versions current when the client ticked and typed (sent the details
    # form), by kind: what they agreed to, recorded as such at "Confirm booking" even if
    # a newer version was published in between. None: the versions current when recorded.
    versions: Mapping[str, int] | None = None


def has_agreed_to_treatment(client: Client) -> bool:
    """Whether ``client`` has ever agreed to the treatment consent (any version)."""
    return Consent.objects.filter(client=client, policy__kind=PolicyKind.TREATMENT_CONSENT).exists()


def consents_record(
    *,
    client: Client,
    appointment: Appointment | None,
    given_name: str,
    policy_agreed: bool,
    agreement: Agreement | None,
    online: bool,
    now: datetime | None = None,
) -> list[Consent]:
    """Record which current versions the client agreed to for this booking, when and how.

    Online: the ticked cancellation policy (method "online tick"); the treatment consent
    by the full name typed, which must be the name given (case and spaces ignored). When
    the online form asked (``agreement`` given), the tick is required, and so is the typed
    name on a client's first visit. (The form itself asks everyone: whether to ask must not
    tell a visitor that an address is known here.) Staff: "agreed by phone" records both
    texts, with who took it. ``agreement=None`` is a caller that asks nothing (imports,
    demo data): only a ticked policy is recorded.
    Raises ValidationError (codes ``policy_not_agreed``, ``consent_name_required``,
    ``consent_name_mismatch``); called inside the booking's transaction, nothing is booked.
    """
    now = now or timezone.now()
    if agreement is not None and agreement.versions is not None:
        # Ids kept server-side in the visitor's draft: no query.
        texts = {
            kind: PolicyText(pk=pk, kind=kind)
            for kind, pk in agreement.versions.items()
            if kind in PolicyKind.values and isinstance(pk, int)
        }
    else:
        texts = policy_texts_current()
    cancellation = texts.get(PolicyKind.CANCELLATION)
    treatment = texts.get(PolicyKind.TREATMENT_CONSENT)
    rows: list[Consent] = []
    taken_by = agreement.recorded_by if agreement is not None else None

    def add(policy: PolicyText | None, method: ConsentMethod, typed: str = "") -> None:
        if policy is None:
            return  # nothing written yet to agree to (a fresh database before migrations)
        rows.append(
            Consent(
                client=client,
                appointment=appointment,
                policy=policy,
                agreed_at=now,
                method=method,
                typed_name=typed,
                recorded_by=taken_by if getattr(taken_by, "pk", None) else None,
            )
        )

    if online:
        if agreement is not None and not policy_agreed:
            raise ValidationError(
                _("Please agree to the cancellation policy to book."), code="policy_not_agreed"
            )
        if policy_agreed:
            add(cancellation, ConsentMethod.ONLINE_TICK)
        if agreement is None:
            return Consent.objects.bulk_create(rows)
        typed = single_line(agreement.typed_name or "")
        if typed:
            if name_key(typed) != name_key(given_name):
                raise ValidationError(
                    _("The name typed under the treatment consent must be the name you gave: %(name)s.")
                    % {"name": given_name},
                    code="consent_name_mismatch",
                )
            add(treatment, ConsentMethod.TYPED_NAME, typed)
        elif treatment is not None and not has_agreed_to_treatment(client):
            raise ValidationError(
                _("Please type your full name to agree to the treatment consent."),
                code="consent_name_required",
            )
    elif agreement is not None and agreement.by_phone:
        add(cancellation, ConsentMethod.STAFF_PHONE)
        add(treatment, ConsentMethod.STAFF_PHONE)
    return Consent.objects.bulk_create(rows)


def consents_of(client: Client):
    """A client's consent records, newest first, with the text and booking (one query):
    for the client page."""
    return (
        Consent.objects.filter(client=client)
        .select_related("policy", "appointment", "recorded_by")
        .order_by("-agreed_at", "-pk")
    )
