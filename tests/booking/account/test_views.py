"""The client's own pages (issue 14), through Django's test client: signing in by email
link, the client's page, rebooking, moving, their data and deleting the account."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from booking import client_session
from booking.choices import AppointmentStatus
from booking.models import Appointment, Client, ClientLink, HealthIntake
from booking.services import privacy
from tests.factories import HEALTH_NO, appointment_row

from .conftest import TUESDAY, ask_for_link, at, link_from, run_link_tasks, sign_in

pytestmark = pytest.mark.django_db


def signed_in_id(browser) -> int | None:
    return browser.session.get(client_session.SESSION_KEY)


def test_url_names():
    assert reverse("booking:account-home") == "/book/account/"
    assert reverse("booking:account-signin") == "/book/account/signin/"
    assert reverse("booking:account-visit-calendar", args=[5]) == "/book/account/visits/5/calendar.ics"


def test_the_header_links_to_your_bookings(client, db):
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("booking:account-home")}"' in html
    assert "Your bookings" in html
    # On the client's pages the header marks "Your bookings" as the current page, not "Book".
    signin = client.get(reverse("booking:account-signin")).content.decode()
    assert f'href="{reverse("booking:account-home")}" aria-current="page">Your bookings' in signin
    assert 'aria-current="page">Book<' not in signin


def test_the_client_page_sends_strangers_to_sign_in(client, db):
    response = client.get(reverse("booking:account-home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("booking:account-signin")


# --------------------------------------------------------------------------- enumeration


def test_known_and_unknown_addresses_get_the_same_answer_and_the_same_queued_work(client, olivia):
    known = ask_for_link(Browser(), "Olivia@Example.com ")
    unknown = ask_for_link(Browser(), "nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("booking:account-signin-sent")
    # One link row and one queued email task each: the same work whatever the address.
    tasks = DBTaskResult.objects.order_by("enqueued_at")
    assert [t.task_path for t in tasks] == ["booking.account.tasks.send_client_link_email"] * 2
    assert ClientLink.objects.count() == 2
    assert mail.outbox == []  # sent by the worker, not the web request
    sent_page = client.get(known["Location"])
    assert sent_page.status_code == 200
    assert "If we have bookings under that address" in sent_page.content.decode()
    run_link_tasks()
    # Only the client gets an email; the unknown address is not kept.
    assert [m.to for m in mail.outbox] == [["Olivia Brown <olivia@example.com>"]]
    assert list(ClientLink.objects.values_list("client_id", "email")) == [(olivia.pk, "")]


def test_a_bad_email_keeps_what_was_typed(client, db):
    response = client.post(reverse("booking:account-signin"), {"email": "not-an-email"})
    assert response.status_code == 400
    assert 'value="not-an-email"' in response.content.decode()
    assert ClientLink.objects.count() == 0


# --------------------------------------------------------------------------- the link


def test_the_link_signs_in_once_in_the_browser_that_asked(client, olivia):
    ask_for_link(client, "olivia@example.com")
    run_link_tasks()
    link = link_from(mail.outbox[-1])
    response = client.get(link)
    assert response.status_code == 302
    assert signed_in_id(client) == olivia.pk
    page = client.get(reverse("booking:account-home"))
    assert page.status_code == 200
    assert "Anna Price" in page.content.decode()
    # Used: a second opening signs nobody in.
    client.post(reverse("booking:account-signout"))
    again = client.get(link)
    assert again.status_code == 410
    assert "This link has been used" in again.content.decode()
    assert signed_in_id(client) is None


def test_an_expired_link_does_not_sign_in(client, olivia, now):
    ask_for_link(client, "olivia@example.com")
    run_link_tasks()
    now.move(16)
    response = client.get(link_from(mail.outbox[-1]))
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert signed_in_id(client) is None


def test_a_link_opened_in_another_browser_explains_and_is_not_used_up(client, olivia):
    ask_for_link(client, "olivia@example.com")
    run_link_tasks()
    link = link_from(mail.outbox[-1])
    other = Browser()
    response = other.get(link)
    assert response.status_code == 403
    html = response.content.decode()
    assert "Open the link where you asked for it" in html
    assert 'name="email"' in html  # asking again from here is one step
    assert signed_in_id(other) is None
    # Still good where it was asked for.
    assert client.get(link).status_code == 302
    assert signed_in_id(client) == olivia.pk


def test_a_tampered_link_is_a_404(client, olivia):
    ask_for_link(client, "olivia@example.com")
    run_link_tasks()
    link = link_from(mail.outbox[-1])
    assert client.get(link[:-3] + "x/").status_code == 404
    assert client.get(reverse("booking:account-signin-link", args=["junk"])).status_code == 404


def test_the_email_is_sent_once_when_the_task_runs_again(client, olivia):
    from booking.account.tasks import send_client_link_email

    ask_for_link(client, "olivia@example.com")
    kwargs = DBTaskResult.objects.get().args_kwargs["kwargs"]
    assert send_client_link_email.call(**kwargs).startswith("sent")
    assert send_client_link_email.call(**kwargs) == "skipped: already sent"
    assert len(mail.outbox) == 1


def test_an_erased_client_gets_no_link(client, olivia, now):
    Appointment.objects.update(status=AppointmentStatus.CANCELLED)
    privacy.client_erase(client=olivia, by=None)
    ask_for_link(client, "olivia@example.com")
    run_link_tasks()
    assert mail.outbox == []


# --------------------------------------------------------------------------- rate limits


def test_links_are_limited_per_address(client, olivia, settings):
    settings.SIGNIN_LINK_RATE_LIMIT = 2
    for _ in range(2):
        assert ask_for_link(Browser(REMOTE_ADDR="10.0.0.1"), "olivia@example.com").status_code == 302
    # A third for the same address, even from elsewhere and in other letter case: paused.
    refused = ask_for_link(Browser(REMOTE_ADDR="10.0.0.2"), "OLIVIA@example.com")
    assert refused.status_code == 429
    assert "Too many sign-in links" in refused.content.decode()
    assert ClientLink.objects.count() == 2
    # Another address is not held up.
    assert ask_for_link(Browser(REMOTE_ADDR="10.0.0.2"), "nobody@example.com").status_code == 302


def test_links_are_limited_per_ip_address(client, db, settings):
    settings.SIGNIN_LINK_RATE_LIMIT_PER_IP = 3
    browser = Browser(REMOTE_ADDR="10.0.0.9")
    for n in range(3):
        assert ask_for_link(browser, f"person{n}@example.com").status_code == 302
    assert ask_for_link(browser, "person9@example.com").status_code == 429
    assert ask_for_link(Browser(REMOTE_ADDR="10.0.0.10"), "person9@example.com").status_code == 302


# --------------------------------------------------------------------------- signing out, manage links


def test_signing_out(client, olivia):
    sign_in(client)
    response = client.post(reverse("booking:account-signout"))
    assert response.status_code == 302
    assert signed_in_id(client) is None
    assert client.get(reverse("booking:account-home"))["Location"] == reverse("booking:account-signin")


def test_signing_out_needs_a_post(client, olivia):
    sign_in(client)
    assert client.get(reverse("booking:account-signout")).status_code == 405
    assert signed_in_id(client) == olivia.pk


def test_the_manage_link_from_emails_works_without_signing_in(client, olivia_visit):
    token = olivia_visit.manage_token
    assert client.get(reverse("booking:appointment-manage", args=[token])).status_code == 200
    assert client.get(reverse("booking:appointment-calendar", args=[token])).status_code == 200


# --------------------------------------------------------------------------- the client's page


def test_the_page_lists_upcoming_and_past_visits_with_what_can_be_done(client, olivia, anna, swedish, now):
    from booking.models import Room

    room = Room.objects.create(name="Garden room")
    past = appointment_row(
        anna,
        swedish,
        at(TUESDAY, "10:00") - timedelta(days=14),
        client=olivia,
        status="completed",
        room=room,
        room_until=at(TUESDAY, "11:00") - timedelta(days=14),
    )
    sign_in(client)
    html = client.get(reverse("booking:account-home")).content.decode()
    upcoming = Appointment.objects.get(client=olivia, start__gt=past.start)
    assert "Tuesday 24 November 2026, 10:00–11:00" in html
    assert "Swedish, 60 minutes, with Anna Price" in html
    assert "room Garden room" in html
    assert "£55.00" in html
    assert "Completed" in html and "Confirmed" in html
    assert reverse("booking:account-visit-calendar", args=[upcoming.pk]) in html
    assert reverse("booking:account-visit-calendar", args=[past.pk]) in html
    assert reverse("booking:account-reschedule", args=[upcoming.pk]) in html
    assert reverse("booking:account-reschedule", args=[past.pk]) not in html
    assert reverse("booking:appointment-cancel", args=[upcoming.manage_token]) in html
    assert reverse("booking:account-book-again", args=[past.pk]) in html


def test_the_calendar_file_of_a_visit(client, olivia_visit):
    sign_in(client)
    response = client.get(reverse("booking:account-visit-calendar", args=[olivia_visit.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert f"appointment-{olivia_visit.reference}@".encode() in response.content


def test_a_client_never_sees_another_clients_visits(client, olivia_visit, stranger_visit):
    sign_in(client)
    html = client.get(reverse("booking:account-home")).content.decode()
    assert stranger_visit.reference not in html
    assert "Sam Stranger" not in html
    for name in (
        "account-visit-calendar",
        "account-book-again",
        "account-reschedule",
        "account-reschedule-confirm",
    ):
        response = client.get(reverse(f"booking:{name}", args=[stranger_visit.pk]))
        assert response.status_code == 404, name
    start = at(TUESDAY, "16:00").isoformat(timespec="minutes")
    confirm = reverse("booking:account-reschedule-confirm", args=[stranger_visit.pk]) + f"?start={start}"
    assert client.post(confirm).status_code == 404
    stranger_visit.refresh_from_db()
    assert stranger_visit.start == at(TUESDAY, "14:00")
    export = json.loads(client.get(reverse("booking:account-export")).content)
    text = json.dumps(export)
    assert stranger_visit.reference not in text
    assert "sam@example.com" not in text
    assert olivia_visit.reference in text


def test_the_page_runs_a_fixed_number_of_queries_with_1_or_200_visits(
    client, olivia, anna, swedish, django_assert_max_num_queries, health_questions
):
    from booking.intake import Answer
    from booking.services import account

    account.health_update(client=olivia, answers={"pregnancy": Answer(yes=False)})
    sign_in(client)
    with django_assert_max_num_queries(6):
        assert client.get(reverse("booking:account-home")).status_code == 200
    first = at(TUESDAY, "09:00") - timedelta(days=400)
    Appointment.objects.bulk_create(
        Appointment(
            client=olivia,
            therapist=anna,
            technique=swedish,
            duration_minutes=60,
            price="55.00",
            start=first + timedelta(days=n),
            end=first + timedelta(days=n, minutes=60),
            occupied_until=first + timedelta(days=n, minutes=75),
            client_name="Olivia Brown",
            client_email="olivia@example.com",
            client_phone="07700 900101",
            status="completed",
            reference=f"BULK{n:04d}",
        )
        for n in range(199)
    )
    assert Appointment.objects.filter(client=olivia).count() == 200
    with django_assert_max_num_queries(6):
        response = client.get(reverse("booking:account-home"))
    assert response.status_code == 200
    assert "The latest 20 of 199" in response.content.decode()


# --------------------------------------------------------------------------- book again


def test_book_again_opens_the_times_page_chosen_and_the_details_ready(client, olivia_visit, health_questions):
    sign_in(client)
    response = client.get(reverse("booking:account-book-again", args=[olivia_visit.pk]))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("booking:times", args=["swedish"])
    assert parse_qs(location.query) == {"length": ["60"], "therapist": ["anna"]}
    times = client.get(response["Location"])
    assert times.status_code == 200
    slot = at(TUESDAY, "15:00").isoformat(timespec="minutes")
    details = client.get(
        reverse("booking:details", args=["swedish"]) + f"?length=60&therapist=anna&start={slot}"
    )
    html = details.content.decode()
    assert 'value="Olivia Brown"' in html
    assert 'value="olivia@example.com"' in html


def test_book_again_with_agreement_given_before_books_in_two_presses(client, olivia_visit, health_questions):
    """Book again, a time, Continue, Confirm: the details need no typing when the client
    already agreed to the same wording."""
    from booking.services import consent

    consent.consents_record(
        client=olivia_visit.client,
        appointment=olivia_visit,
        given_name="Olivia Brown",
        policy_agreed=True,
        agreement=consent.Agreement(typed_name="Olivia Brown"),
        online=True,
    )
    from booking.intake import answers_from_dict
    from booking.services import account

    account.health_update(
        client=olivia_visit.client, answers=answers_from_dict({k[7:]: {"yes": False} for k in HEALTH_NO})
    )
    sign_in(client)
    client.get(reverse("booking:account-book-again", args=[olivia_visit.pk]))
    slot = at(TUESDAY, "15:00").isoformat(timespec="minutes")
    details_url = reverse("booking:details", args=["swedish"]) + f"?length=60&therapist=anna&start={slot}"
    form = client.get(details_url).context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    data = {k: ("on" if v is True else v) for k, v in data.items()}
    review = client.post(details_url, data)
    assert review.status_code == 302, review.content.decode()[:3000]
    booked = client.post(review["Location"])
    assert booked.status_code == 302
    new = Appointment.objects.get(start=at(TUESDAY, "15:00"))
    assert new.client == olivia_visit.client
    assert new.therapist.slug == "anna"


# --------------------------------------------------------------------------- moving a visit


def test_move_to_another_therapist_and_length_in_one_step(client, olivia_visit, ben):
    sign_in(client)
    start = at(TUESDAY, "15:00").isoformat(timespec="minutes")
    page = client.get(
        reverse("booking:account-reschedule", args=[olivia_visit.pk]) + "?length=90&therapist=ben"
    )
    assert page.status_code == 200
    confirm = (
        reverse("booking:account-reschedule-confirm", args=[olivia_visit.pk])
        + f"?length=90&therapist=ben&start={start}"
    )
    assert confirm.replace("&", "&amp;").replace("+", "%2B").split("start=")[0] in page.content.decode()
    assert client.get(confirm).status_code == 200
    assert client.post(confirm).status_code == 302
    olivia_visit.refresh_from_db()
    assert olivia_visit.therapist == ben
    assert olivia_visit.duration_minutes == 90
    assert olivia_visit.start == at(TUESDAY, "15:00")
    assert olivia_visit.end == at(TUESDAY, "16:30")
    assert str(olivia_visit.price) == str(olivia_visit.technique.lengths.get(duration_minutes=90).price)


def test_move_to_any_available_when_the_same_therapist_is_busy(client, olivia_visit, ben, anna, swedish):
    appointment_row(anna, swedish, at(TUESDAY, "15:00"), client_email="other@example.com")
    sign_in(client)
    start = at(TUESDAY, "15:00").isoformat(timespec="minutes")
    confirm = (
        reverse("booking:account-reschedule-confirm", args=[olivia_visit.pk])
        + f"?length=60&therapist=any&start={start}"
    )
    assert client.post(confirm).status_code == 302
    olivia_visit.refresh_from_db()
    assert (olivia_visit.therapist, olivia_visit.start) == (ben, at(TUESDAY, "15:00"))


def test_a_move_to_a_taken_time_keeps_the_old_one(client, olivia_visit, anna, swedish):
    appointment_row(anna, swedish, at(TUESDAY, "15:00"), client_email="other@example.com")
    sign_in(client)
    start = at(TUESDAY, "15:00").isoformat(timespec="minutes")
    confirm = (
        reverse("booking:account-reschedule-confirm", args=[olivia_visit.pk])
        + f"?length=60&therapist=anna&start={start}"
    )
    assert client.post(confirm).status_code == 409
    olivia_visit.refresh_from_db()
    assert (olivia_visit.therapist, olivia_visit.start) == (anna, at(TUESDAY, "10:00"))


def test_bad_move_input_is_a_400_not_a_500(client, olivia_visit):
    sign_in(client)
    base = reverse("booking:account-reschedule-confirm", args=[olivia_visit.pk])
    for query in (
        "?length=abc&start=x",
        "?length=45&start=2026-11-24T15:00",
        "?therapist=nobody&start=2026-11-24T15:00",
        "",
    ):
        assert client.get(base + query).status_code == 400, query


# --------------------------------------------------------------------------- health answers


def test_nothing_has_changed_records_an_unchanged_intake(client, olivia, health_questions):
    from booking.intake import Answer
    from booking.services import account

    first = account.health_update(client=olivia, answers={"pregnancy": Answer(yes=False)})
    sign_in(client)
    html = client.get(reverse("booking:account-home")).content.decode()
    assert "Nothing has changed" in html
    assert client.post(reverse("booking:account-health-unchanged")).status_code == 302
    latest = HealthIntake.objects.filter(client=olivia).order_by("-id").first()
    assert latest.pk != first.pk
    assert latest.unchanged_since == first
    assert latest.answers == first.answers


def test_update_health_answers(client, olivia, health_questions):
    sign_in(client)
    assert client.get(reverse("booking:account-health-update")).status_code == 200
    incomplete = client.post(reverse("booking:account-health-update"), {})
    assert incomplete.status_code == 400
    data = {**HEALTH_NO, "health_skin": "yes"}
    response = client.post(reverse("booking:account-health-update"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    latest = HealthIntake.objects.get(client=olivia)
    assert latest.answers["skin"]["yes"] is True


# --------------------------------------------------------------------------- data and deletion


def test_download_my_data(client, olivia_visit):
    sign_in(client)
    response = client.get(reverse("booking:account-export"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["client"]["email"] == "olivia@example.com"
    assert [a["reference"] for a in data["appointments"]] == [olivia_visit.reference]


def test_delete_my_account_needs_the_second_email_link(client, olivia_visit, now):
    Appointment.objects.filter(pk=olivia_visit.pk).update(status=AppointmentStatus.CANCELLED)
    olivia = olivia_visit.client
    sign_in(client)
    assert client.get(reverse("booking:account-erase")).status_code == 200
    assert client.post(reverse("booking:account-erase")).status_code == 302
    run_link_tasks()
    link = link_from(mail.outbox[-1])
    assert "delete" in mail.outbox[-1].subject.lower()
    # Opening the link (a mail scanner would) deletes nothing.
    page = Browser().get(link)
    assert page.status_code == 200
    olivia.refresh_from_db()
    assert olivia.erased_at is None
    response = client.post(link)
    assert response.status_code == 200
    olivia.refresh_from_db()
    assert olivia.erased_at is not None
    assert olivia.email == ""
    assert signed_in_id(client) is None
    assert client.post(link).status_code in (404, 410)


def test_delete_is_refused_while_visits_are_ahead(client, olivia_visit):
    sign_in(client)
    client.post(reverse("booking:account-erase"))
    run_link_tasks()
    link = link_from(mail.outbox[-1])
    response = client.post(link)
    assert response.status_code == 400
    assert "cancel them first" in response.content.decode()
    assert Client.objects.get(pk=olivia_visit.client_id).erased_at is None


def test_a_visit_past_the_cutoff_is_not_changed_online(client, olivia_visit, now):
    now.move(4 * 24 * 60 - 60)  # Monday 08:00: under 24 hours before Tuesday 10:00
    sign_in(client)
    html = client.get(reverse("booking:account-home")).content.decode()
    assert reverse("booking:account-reschedule", args=[olivia_visit.pk]) not in html
    assert "please call us" in html
    response = client.get(reverse("booking:account-reschedule", args=[olivia_visit.pk]))
    assert response.status_code == 302
    start = at(TUESDAY, "15:00").isoformat(timespec="minutes")
    confirm = reverse("booking:account-reschedule-confirm", args=[olivia_visit.pk]) + f"?start={start}"
    assert client.post(confirm).status_code == 302
    olivia_visit.refresh_from_db()
    assert olivia_visit.start == at(TUESDAY, "10:00")


def test_a_signed_in_client_finds_their_details_filled_in_on_any_booking(
    client, olivia_visit, health_questions
):
    Appointment.objects.filter(pk=olivia_visit.pk).update(client_notes="Firm pressure, not the neck")
    sign_in(client)
    slot = at(TUESDAY, "15:00").isoformat(timespec="minutes")
    html = client.get(
        reverse("booking:details", args=["swedish"]) + f"?length=60&therapist=any&start={slot}"
    ).content.decode()
    assert 'value="Olivia Brown"' in html and 'value="olivia@example.com"' in html
    assert "Firm pressure, not the neck" in html
    # Nobody else's: a visitor who is not signed in gets an empty form.
    other = Browser().get(
        reverse("booking:details", args=["swedish"]) + f"?length=60&therapist=any&start={slot}"
    )
    assert "Olivia" not in other.content.decode()
