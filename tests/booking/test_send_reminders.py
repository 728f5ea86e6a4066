from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from booking import services
from booking.choices import AppointmentSource
from tests.factories import TechniqueFactory, TechniqueLengthFactory, TherapistFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_command_queues_reminders_and_the_worker_sends_them_once():
    technique = TechniqueFactory(name="Swedish", slug="swedish")
    length = TechniqueLengthFactory(technique=technique, duration_minutes=60)
    therapist = TherapistFactory(techniques=[technique], hours={d: [("00:00", "23:45")] for d in range(7)})
    start = (timezone.now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    services.appointment_book(
        technique=technique,
        length=length,
        start=start,
        therapist=therapist,
        client=services.ClientDetails("Olivia", "olivia@example.com", "07700 900101"),
        source=AppointmentSource.STAFF,
        allow_outside_hours=True,
        notify=False,
    )
    out = StringIO()
    call_command("send_reminders", stdout=out)
    call_command("send_reminders", stdout=out)
    assert out.getvalue().splitlines() == ["Reminders queued: 1", "Reminders queued: 0"]
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0", verbosity=0)
    [reminder] = mail.outbox
    assert reminder.subject.startswith("Reminder: Swedish massage")
    assert reminder.to == ["Olivia <olivia@example.com>"]
