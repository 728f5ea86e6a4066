"""Staff sign-in in the admin (clinic/admin_security.py) and who sees what: the sign-in
log and two-factor devices for managers; the email outbox no longer for reception."""

import pytest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import otp
from clinic.models import SignInEvent
from clinic.signin_log import signin_event_record
from tests.factories import user_in_role

pytestmark = pytest.mark.django_db

PAGES = {
    "outbox": "/admin/django_tasks_database/dbtaskresult/",
    "sign-in log": "/admin/clinic/signinevent/",
    "authenticators": "/admin/otp_totp/totpdevice/",
    "backup codes": "/admin/otp_static/staticdevice/",
}


@pytest.fixture
def event(db):
    user = user_in_role("Reception", "someone")
    return signin_event_record(kind=SignInEvent.Kind.FAILED, request=None, user=user)


@pytest.mark.parametrize("role", ["Reception", "Therapist"])
def test_reception_and_therapists_cannot_open_the_outbox_or_the_sign_in_log(client, role, event):
    client.force_login(user_in_role(role, "person"))
    for name, url in PAGES.items():
        assert client.get(url).status_code == 403, name
    assert client.get(f"/admin/clinic/signinevent/{event.pk}/change/").status_code == 403
    index = client.get("/admin/").content.decode()
    for words in ("Email outbox", "Sign-in log", "Authenticator apps"):
        assert words not in index


def test_a_manager_reads_the_sign_in_log_and_the_outbox(client, event):
    client.force_login(user_in_role("Manager", "mia"))
    for name, url in PAGES.items():
        assert client.get(url).status_code == 200, name
    page = client.get(PAGES["sign-in log"]).content.decode()
    assert "Wrong username or password" in page and "someone" in page
    index = client.get("/admin/").content.decode()
    for words in ("Email outbox", "Sign-in log", "Two-factor sign-in: authenticator apps"):
        assert words in index
    # Developer words are gone from the sections a person reads.
    assert ">Emails<" in index
    for words in ("Tasks Database Backend", "Task results", "Axes", "OTP_"):
        assert words not in index


def test_the_sign_in_log_cannot_be_changed_or_deleted_even_by_a_manager(client, event):
    client.force_login(user_in_role("Manager", "mia"))
    assert client.get("/admin/clinic/signinevent/add/").status_code == 403
    assert client.get(f"/admin/clinic/signinevent/{event.pk}/delete/").status_code == 403
    response = client.post(f"/admin/clinic/signinevent/{event.pk}/change/", {"kind": "signed_in"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.kind == SignInEvent.Kind.FAILED


def test_a_manager_removes_a_lost_phone_and_it_is_logged(client):
    manager = user_in_role("Manager", "mia")
    therapist = user_in_role("Therapist", "amara")
    device = otp.authenticator_setup_start(user=therapist)
    device.confirmed = True
    device.save()
    otp.backup_codes_make(user=therapist, request=None)
    client.force_login(manager)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    # The secret is never shown, not even to a manager.
    assert device.key not in page
    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=therapist).exists()
    assert not StaticDevice.objects.filter(user=therapist).exists()
    removed = SignInEvent.objects.get(kind=SignInEvent.Kind.TWO_FACTOR_REMOVED)
    assert removed.user == therapist and removed.by == manager
