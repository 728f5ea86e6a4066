"""booking.services.account: health answers a client gives on their own page (issue 14)."""

import pytest
from django.core.exceptions import ValidationError

from booking.intake import Answer
from booking.models import HealthIntake
from booking.services import account
from tests.factories import ClientFactory, seed_health_questions

pytestmark = pytest.mark.django_db


def test_nothing_has_changed_needs_earlier_answers_and_then_points_to_them(db):
    seed_health_questions()
    client = ClientFactory()
    with pytest.raises(ValidationError):
        account.health_confirm_unchanged(client=client)
    given = account.health_update(client=client, answers={"skin": Answer(yes=True, details="Eczema")})
    again = account.health_confirm_unchanged(client=client)
    assert again.unchanged_since == given
    assert again.answers == given.answers
    assert again.appointment is None
    assert HealthIntake.objects.filter(client=client).count() == 2
