import pytest

from booking.choices import HealthAccessKind
from booking.models import Client, HealthDataAccess
from booking.services import privacy
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_a_look_at_health_data_is_recorded_with_who_and_what():
    client = Client.objects.create(name="Ada Lovelace", email="ada@example.com")
    staff = StaffFactory(username="amara")
    privacy.health_access_record(user=staff, client=client, kind=HealthAccessKind.INTAKE, object_id=7)
    access = HealthDataAccess.objects.get()
    assert (access.user, access.username, access.client, access.kind, access.object_id) == (
        staff,
        "amara",
        client,
        HealthAccessKind.INTAKE,
        7,
    )
    assert access.at is not None
