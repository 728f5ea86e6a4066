"""What the booking pages fill in for a signed-in client: their saved details, their
latest health answers, and their agreement when they already agreed to the same wording."""

from __future__ import annotations

from django.http import HttpRequest

from .. import drafts
from ..intake import answers_from_dict, answers_to_dict
from ..models import Appointment, Client, Consent
from ..services import consent, intake


def details_initial(client: Client, *, last: Appointment | None = None) -> dict:
    """The details form's contact fields from the client's record (the booking ``last``
    for what the record lacks, and for the notes to the therapist)."""
    return {
        "name": client.name or (last.client_name if last else ""),
        "email": client.email or (last.client_email if last else ""),
        "phone": str(client.phone) if client.phone else (last.client_phone if last else ""),
        "notes": last.client_notes if last else "",
    }


def last_booking(client: Client) -> Appointment | None:
    """The client's latest booking: its notes to the therapist are offered again."""
    return client.appointments.order_by("-start", "-pk").first()


def _agreed_to_current_wording(client: Client) -> bool:
    """Whether the client has agreed to every current policy text, in these versions."""
    current = consent.policy_texts_current()
    if not current:
        return False
    agreed = set(
        Consent.objects.filter(client=client, policy__in=current.values()).values_list("policy_id", flat=True)
    )
    return all(text.pk in agreed for text in current.values())


def draft_book_again(request: HttpRequest, *, client: Client, appointment: Appointment) -> None:
    """Put a ready draft in the session for booking ``appointment`` again: the details page
    then shows everything filled in (the latest health answers to check, the agreement
    when the wording is the one they agreed to before) and one press goes on to review.
    The booking pages and service check it all again, as for anyone."""
    details = details_initial(client, last=appointment)
    latest = intake.intake_latest(client)
    agreed = _agreed_to_current_wording(client)
    details.update(
        {
            "agree_policy": agreed,
            "consent_name": details["name"] if agreed else "",
            "health": answers_to_dict(answers_from_dict(latest.answers)) if latest else {},
            "doctor_note_token": "",
        }
    )
    drafts.draft_save(request, details)
