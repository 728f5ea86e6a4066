"""Writes a signed-in client makes on their own page (issue 14), apart from bookings
(``appointments``) and links (``signin``): their health answers between visits."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .. import intake as rules_engine
from ..choices import IntakeSource
from ..intake import Answer
from ..models import Client, HealthIntake
from . import intake


def health_confirm_unchanged(*, client: Client) -> HealthIntake:
    """The client says nothing has changed since their latest answers: recorded as a new
    intake with the same answers pointing to the one confirmed (``unchanged_since``), as a
    booking's "Nothing has changed" is (issue 11). Evaluated again: the rules may have
    changed since."""
    with transaction.atomic():
        latest = intake.intake_latest(client)
        if latest is None:
            raise ValidationError(_("There are no health answers to confirm yet."), code="no_answers")
        answers = rules_engine.answers_from_dict(latest.answers)
        evaluation = intake.intake_evaluate(technique=None, answers=answers)
        return HealthIntake.objects.create(
            client=client,
            answers=rules_engine.answers_to_dict(answers),
            outcome=evaluation.outcome,
            flags=list(evaluation.flags),
            flagged=evaluation.flagged,
            unchanged_since=latest,
            source=IntakeSource.ONLINE,
        )


def health_update(*, client: Client, answers: Mapping[str, Answer]) -> HealthIntake:
    """New health answers given on the client's page (not for a booking yet): stored as an
    intake of their own, never overwriting earlier ones. The next booking offers them back."""
    evaluation = intake.intake_evaluate(technique=None, answers=answers)
    return HealthIntake.objects.create(
        client=client,
        answers=rules_engine.answers_to_dict(answers),
        outcome=evaluation.outcome,
        flags=list(evaluation.flags),
        flagged=evaluation.flagged,
        source=IntakeSource.ONLINE,
    )
