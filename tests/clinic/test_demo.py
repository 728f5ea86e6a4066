from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from articles.models import Article, Topic
from clinic import demo

pytestmark = pytest.mark.django_db

BENEFITS = {
    "circulation": ["blood flow", "circulation"],
    "tension and flexibility": ["tension", "flexib"],
    "endorphins and mood": ["endorphin", "mood"],
    "pain and recovery": ["soreness", "recover"],
    "immunity": ["lymphocyte", "immune"],
    "stress": ["parasympathetic", "cortisol"],
    "sleep": ["sleep"],
    "range of motion": ["range of motion"],
    "back and neck pain": ["back pain", "neck"],
}


def test_demo_data_is_idempotent_and_covers_every_benefit(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("demo_data", stdout=out)
    call_command("demo_data", stdout=out)
    articles = list(Article.objects.published().prefetch_related("topics", "references"))
    assert len(articles) >= 5
    assert Article.objects.count() == len(articles)
    assert all(a.topics.exists() and a.references.exists() and a.hero_renditions for a in articles)
    text = " ".join(a.body.lower() for a in articles)
    for benefit, words in BENEFITS.items():
        assert all(w in text for w in words), benefit
    assert Topic.objects.count() >= 5
    assert "Superuser login (everything, staff accounts too): username: demo-admin" in out.getvalue()
    # Without SITE_URL, the admin address is runserver's default, not a promise about 8000.
    settings.SITE_URL = ""
    printed = StringIO()
    call_command("demo_data", "--port", "8123", stdout=printed)
    assert "Staff admin: http://127.0.0.1:8123/admin/" in printed.getvalue()
    assert ":8000" not in printed.getvalue()
    user = authenticate(username=demo.DEMO_STAFF_USERNAME, password=demo.DEMO_STAFF_PASSWORD)
    assert user is not None and user.is_staff
    # One login per role, printed, each in its group; the therapist's linked to a therapist.
    for role, username, _therapist in demo.DEMO_ROLE_USERS:
        assert f"{role} login: username: {username}" in out.getvalue()
        member = authenticate(username=username, password=demo.DEMO_STAFF_PASSWORD)
        assert member is not None and member.is_staff and not member.is_superuser
        assert [g.name for g in member.groups.all()] == [role]
    assert (
        authenticate(username="demo-therapist", password=demo.DEMO_STAFF_PASSWORD).therapist.name
        == "Amara Osei"
    )
    # Accounts that must use two-factor sign-in have an authenticator whose key is printed
    # (the same on every run) and backup codes that work; reception needs none.
    from django_otp.plugins.otp_static.models import StaticToken

    from clinic import otp

    for account in ("demo-admin", "demo-manager", "demo-therapist"):
        user = get_user_model().objects.get(username=account)
        key = otp.secret_for_typing(otp.authenticator(user))
        assert f"{account}: key {key}" in printed.getvalue() and f"{account}: key {key}" in out.getvalue()
        first_code = printed.getvalue().split(f"{account}: key {key}  backup codes: ")[1].split(",")[0]
        assert StaticToken.objects.filter(device__user=user, token=first_code).exists()
    assert not otp.has_two_factor(get_user_model().objects.get(username="demo-reception"))
    # The diary has a past (marked completed or no-show) and a future, for the schedule.
    from django.utils import timezone

    from booking.models import Appointment

    now = timezone.now()
    past = Appointment.objects.filter(end__lte=now)
    assert past.exists() and set(past.values_list("status", flat=True)) <= {"completed", "no_show"}
    assert Appointment.objects.filter(start__gt=now, status="confirmed").exists()


def test_demo_data_refuses_to_run_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="Refusing"):
        call_command("demo_data", stdout=StringIO())


def test_demo_ships_a_starting_health_rule_set_labelled_for_review(db):
    from booking.choices import RuleOutcome
    from booking.models import HealthRule
    from clinic.demo import DEMO_RULE_LABEL, load_demo_health_rules
    from tests.factories import seed_health_questions

    seed_health_questions()
    assert load_demo_health_rules() == 8
    assert load_demo_health_rules() == 0  # once only: the clinic's own rules are kept
    rules = {
        (r.question.key, r.number_min, r.number_max): r for r in HealthRule.objects.select_related("question")
    }
    assert rules["pregnancy", None, 12].outcome == RuleOutcome.CALL
    assert rules["pregnancy", 13, None].outcome == RuleOutcome.FLAG
    assert rules["injury_or_surgery", None, None].outcome == RuleOutcome.DOCTOR_NOTE
    assert rules["illness_or_fever", None, None].outcome == RuleOutcome.CALL
    assert all(DEMO_RULE_LABEL in rule.staff_note for rule in rules.values())


@pytest.mark.django_db
def test_demo_appointments_all_have_a_client_and_desk_clients_have_a_history():
    from booking.models import Appointment, Client
    from clinic.demo import load_demo_booking

    load_demo_booking()
    assert Appointment.objects.exists()
    assert not Appointment.objects.filter(client__isnull=True).exists()
    olivia = Client.objects.filter(email_key="olivia-brown@example.com").first()
    assert olivia is not None and olivia.appointments.count() > 1


@pytest.mark.django_db
def test_demo_rooms_hold_every_booking_and_the_shiatsu_ones_have_the_mat():
    from django.db.models import Count

    from booking.models import Appointment, Room, Technique, Therapist
    from clinic.demo import load_demo_booking, load_demo_rooms

    load_demo_booking()
    assert load_demo_rooms() == {"rooms": 3}  # again: nothing doubled
    rooms = {r.name: r for r in Room.objects.prefetch_related("features")}
    assert list(rooms) == ["Garden room", "Quiet room", "Couples suite"]
    assert rooms["Couples suite"].capacity == 2
    shiatsu = Technique.objects.get(slug="shiatsu")
    assert [f.name for f in shiatsu.required_features.all()] == ["Floor mat"]
    assert Technique.objects.get(slug="swedish").for_two
    assert Therapist.objects.get(name="Keiko Tanaka").preferred_room == rooms["Quiet room"]
    # Every booking got a room; Shiatsu only ever in the room with the mat.
    assert not Appointment.objects.filter(room__isnull=True).exists()
    assert set(Appointment.objects.filter(technique=shiatsu).values_list("room__name", flat=True)) == {
        "Quiet room"
    }
    # And some sessions for two: two seats, one reference, in the suite.
    pairs = Appointment.objects.values("reference").annotate(seats=Count("pk")).filter(seats=2)
    assert pairs.exists()
    assert set(
        Appointment.objects.filter(reference__in=pairs.values("reference")).values_list(
            "room__name", flat=True
        )
    ) == {"Couples suite"}
