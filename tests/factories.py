"""factory_boy factories for the project's models."""

from datetime import time, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from articles.choices import ArticleStatus
from articles.models import Article, Reference, Topic
from booking.models import Technique, TechniqueLength, Therapist, WorkingHours


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Topic {n}")
    slug = factory.LazyAttribute(lambda t: t.name.lower().replace(" ", "-"))


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Massage benefit number {n}")
    slug = factory.Sequence(lambda n: f"massage-benefit-{n}")
    summary = "What massage may do for you, in plain words."
    body = "## Why it helps\n\nMassage may ease tension [1].\n"
    status = ArticleStatus.PUBLISHED
    published_at = factory.Sequence(lambda n: timezone.now() - timedelta(days=1, minutes=n))

    @factory.post_generation
    def topics(self, create, extracted, **kwargs):
        if create and extracted:
            self.topics.set(extracted)


class DraftArticleFactory(ArticleFactory):
    status = ArticleStatus.DRAFT
    published_at = None


class ReferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reference

    article = factory.SubFactory(ArticleFactory)
    number = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"A study of massage, number {n}")
    url = factory.Sequence(lambda n: f"https://example.org/study/{n}")


# Booking ---------------------------------------------------------------------------


class TechniqueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Technique
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Technique {n}")
    slug = factory.Sequence(lambda n: f"technique-{n}")
    buffer_minutes = 15


class TechniqueLengthFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TechniqueLength
        django_get_or_create = ["technique", "duration_minutes"]

    technique = factory.SubFactory(TechniqueFactory)
    duration_minutes = 60
    price = "60.00"


class TherapistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Therapist
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Therapist {n:03d}")
    slug = factory.Sequence(lambda n: f"therapist-{n}")

    @factory.post_generation
    def techniques(self, create, extracted, **kwargs):
        if create and extracted:
            self.techniques.set(extracted)

    @factory.post_generation
    def hours(self, create, extracted, **kwargs):
        """hours={weekday: [("09:00", "18:00")]}; default Monday to Saturday 09:00-18:00."""
        if not create:
            return
        week = extracted if extracted is not None else {d: [("09:00", "18:00")] for d in range(6)}
        WorkingHours.objects.bulk_create(
            WorkingHours(therapist=self, weekday=d, start=time.fromisoformat(a), end=time.fromisoformat(b))
            for d, periods in week.items()
            for a, b in periods
        )


def user_in_role(role: str, username: str, therapist=None):
    """A staff account in one of the groups the roles migration creates, optionally linked
    to a therapist."""
    from django.contrib.auth.models import Group

    user = StaffFactory(username=username, is_superuser=False)
    user.groups.add(Group.objects.get(name=role))
    if therapist is not None:
        therapist.user = user
        therapist.save()
    return user


def appointment_row(therapist, technique, start, minutes=60, **extra):
    """An appointment written straight to the table, for tests that read or act on
    appointments rather than book them (so it may be in the past)."""
    from datetime import timedelta

    from booking.models import Appointment

    buffer = extra.pop("buffer_minutes", 15)
    fields = {
        "therapist": therapist,
        "technique": technique,
        "duration_minutes": minutes,
        "price": "55.00",
        "buffer_minutes": buffer,
        "start": start,
        "end": start + timedelta(minutes=minutes),
        "occupied_until": start + timedelta(minutes=minutes + buffer),
        "client_name": "Olivia Brown",
        "client_email": "olivia@example.com",
        "client_phone": "07700 900101",
        "source": "staff",
    }
    fields.update(extra)
    if fields.get("client") is None:
        fields["client"] = client_for(fields["client_name"], fields["client_email"], fields["client_phone"])
    return Appointment.objects.create(**fields)


# Clients -----------------------------------------------------------------------------


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "booking.Client"

    name = factory.Sequence(lambda n: f"Client {n:04d}")
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    phone = factory.Sequence(lambda n: f"+4477009{n % 100000:05d}")


def client_for(name: str, email: str, phone: str = ""):
    """The client record rows written straight to the table belong to: the one with this
    email (as online bookings find it), else a new one."""
    from booking.models import Client, email_key
    from booking.phones import phone_e164

    found = Client.objects.current().filter(email_key=email_key(email)).first() if email else None
    return found or Client.objects.create(name=name, email=email, phone=phone_e164(phone))


# Privacy (issue 11) ------------------------------------------------------------------


def client_with_health_record(
    *, name="Ada Lovelace", email="ada.lovelace@example.com", phone="07911 123456", start=None, therapist=None
):
    """A client with one past appointment holding every kind of personal and health data:
    an intake with answers, a doctor's note file, a treatment note with an addendum, a
    consent with a typed name. Returns (client, appointment)."""
    from datetime import UTC, datetime

    from django.core.files.base import ContentFile

    from booking.models import (
        Client,
        Consent,
        DoctorNote,
        HealthIntake,
        NoteAddendum,
        PolicyText,
        TreatmentNote,
    )
    from clinic.fields import fernet_current

    client = Client.objects.create(
        name=name,
        email=email,
        phone=phone,
        date_of_birth="1985-12-10",
        pressure="firm",
        areas_to_avoid="left knee",
        preference_notes="Prefers quiet sessions",
    )
    therapist = therapist or TherapistFactory()
    technique = TechniqueFactory()
    start = start or datetime(2026, 3, 2, 10, tzinfo=UTC)
    appointment = appointment_row(
        therapist,
        technique,
        start,
        client=client,
        client_name=name,
        client_email=email,
        client_phone=phone,
        client_notes="Bad back since the marathon",
        status="completed",
    )
    HealthIntake.objects.create(
        client=client,
        appointment=appointment,
        answers={"conditions": {"yes": True, "details": "Sciatica and Zorbex tablets", "number": None}},
        outcome="flag",
        flags=["conditions"],
        flagged=True,
    )
    note = DoctorNote(client=client, appointment=appointment, content_type="application/pdf")
    # Encrypted with the fields' keys, as services.intake stores uploads.
    token = fernet_current().encrypt(b"%PDF-1.4 Dr Who says fine")
    note.file.save("letter.bin", ContentFile(token), save=False)
    note.save()
    policy = PolicyText.objects.filter(kind="treatment_consent").order_by("-version").first()
    if policy is None:  # flushed by a transactional test
        policy = PolicyText.objects.create(kind="treatment_consent", version=1, body="I agree to treatment.")
    Consent.objects.create(
        client=client,
        appointment=appointment,
        policy=policy,
        agreed_at=start,
        method="typed_name",
        typed_name=name,
    )
    treatment = TreatmentNote.objects.create(
        appointment=appointment,
        subjective="Sciatica flaring",
        objective="Tight piriformis",
        areas=["lower_back"],
        assessment="Improving",
        plan="Stretch daily",
    )
    NoteAddendum.objects.create(note=treatment, text="Also mentioned a headache")
    return client, appointment


# --------------------------------------------------------------------------- health intake

# The questions booking migration 0016 seeds, each answered no, as the details form posts them.
HEALTH_QUESTION_KEYS = (
    "pregnancy",
    "injury_or_surgery",
    "conditions",
    "blood_thinners",
    "skin",
    "illness_or_fever",
    "oil_allergy",
)
HEALTH_NO = {f"health_{key}": "no" for key in HEALTH_QUESTION_KEYS}


def seed_health_questions() -> None:
    """The questions booking migration 0016 seeds, again: a transactional test's flush
    empties the tables the migrations filled."""
    from importlib import import_module

    from booking.models import HealthQuestion

    seed = import_module("booking.migrations.0016_clients_from_appointments")
    for order, (key, text, help_text, details, number) in enumerate(seed.QUESTIONS):
        HealthQuestion.objects.get_or_create(
            key=key,
            defaults={
                "text": text,
                "help_text": help_text,
                "details_label": details,
                "number_label": number,
                "display_order": order,
            },
        )


def health_rule(key: str, outcome: str, **extra):
    """A rule for the seeded question ``key``."""
    from booking.models import HealthQuestion, HealthRule

    seed_health_questions()
    return HealthRule.objects.create(question=HealthQuestion.objects.get(key=key), outcome=outcome, **extra)
