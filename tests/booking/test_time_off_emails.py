"""booking.time_off_emails: what the therapist is told, in the clinic's time and words."""

from __future__ import annotations

from datetime import datetime

import pytest

from booking.choices import TimeOffRequestStatus
from booking.models import TimeOffRequest
from booking.time_off_emails import build_email
from tests.conftest import LONDON
from tests.factories import TherapistFactory, user_in_role

pytestmark = pytest.mark.django_db


def test_an_approval_in_clinic_time_with_a_link_to_the_request(settings):
    settings.SITE_URL = "https://clinic.example"
    anna = TherapistFactory(name="Anna Field", slug="anna")
    user_in_role("Therapist", "anna", anna)
    request = TimeOffRequest.objects.create(
        therapist=anna,
        # Stored in UTC; 29 March 2027 is in British Summer Time.
        start=datetime(2027, 3, 29, 8, 0, tzinfo=LONDON),
        end=datetime(2027, 4, 2, 18, 0, tzinfo=LONDON),
        reason="Family <wedding>",
        status=TimeOffRequestStatus.APPROVED,
        decision_note="Enjoy it.\nSee you on the 5th.",
    )
    message = build_email(request)
    assert message.subject == "Time off approved: Monday 29 March 2027, 08:00"
    assert "From:   Monday 29 March 2027, 08:00" in message.body
    assert "Until:  Friday 2 April 2027, 18:00" in message.body
    assert "Reason: Family <wedding>" in message.body  # plain text is not escaped
    assert f"https://clinic.example/admin/booking/timeoffrequest/{request.pk}/change/" in message.body
    html = message.alternatives[0][0]
    assert "Family &lt;wedding&gt;" in html and "Enjoy it.<br>See you on the 5th." in html
    assert message.extra_headers["Message-ID"] == f"<time-off-request.{request.pk}.approved@clinic.example>"
