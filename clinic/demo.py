"""Demo content: the clinic's articles with generated pictures, and a staff login."""

from __future__ import annotations

import io
import math
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFilter

from articles.importers import parse_file
from articles.models import Article
from articles.services import article_import, article_renditions_build

DEMO_ARTICLES = Path(__file__).resolve().parent.parent / "articles" / "demo_articles"
DEMO_STAFF_USERNAME = "demo-admin"
DEMO_STAFF_PASSWORD = "demo-clinic-2026"

# Calm palettes for the generated pictures: (top colour, bottom colour, shape colour).
PALETTES = [
    ((206, 224, 214), (120, 160, 140), (247, 243, 236)),
    ((236, 226, 208), (190, 160, 120), (255, 250, 240)),
    ((214, 222, 236), (120, 140, 180), (244, 246, 252)),
    ((226, 214, 230), (150, 120, 160), (250, 244, 250)),
    ((220, 232, 222), (80, 120, 100), (235, 245, 238)),
    ((240, 222, 210), (180, 120, 100), (252, 244, 238)),
]


def demo_picture(index: int, width: int = 1600, height: int = 900) -> bytes:
    """A soft abstract picture (gradient and pebbles), so demo articles look finished."""
    top, bottom, shape = PALETTES[index % len(PALETTES)]
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line(
            [(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    pebbles = ImageDraw.Draw(overlay)
    for n in range(5):
        cx = width * (0.25 + 0.12 * n + 0.03 * math.sin(index + n))
        cy = height * (0.72 - 0.05 * n + 0.04 * math.cos(index * 2 + n))
        rx, ry = 220 - n * 30, 110 - n * 14
        pebbles.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=shape + (190,))
    overlay = overlay.filter(ImageFilter.GaussianBlur(2))
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def load_demo_articles(*, now=None) -> list[tuple[Article, str]]:
    now = now or timezone.now()
    results = []
    for index, path in enumerate(sorted(DEMO_ARTICLES.glob("*.md"))):
        parsed = parse_file(path)
        article, action = article_import(parsed=parsed, source=path.name, publish=True, now=now)
        if action == "created":
            # Spread the dates out so the list reads like a real archive.
            article.published_at = now - timedelta(days=9 * (len(results) + 1))
            article.save(update_fields=["published_at"])
        if not article.hero_image:
            article.hero_image.save(f"demo-{index}.jpg", ContentFile(demo_picture(index)), save=False)
            article.hero_image_alt = "A soft abstract picture of smooth pebbles in calm colours"
            article.save(update_fields=["hero_image", "hero_image_alt"])
            article_renditions_build(article=article)
        results.append((article, action))
    return results


def ensure_demo_staff() -> tuple[str, str]:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=DEMO_STAFF_USERNAME, defaults={"email": "demo-admin@localhost"}
    )
    user.is_staff = True
    user.is_superuser = True
    user.set_password(DEMO_STAFF_PASSWORD)
    user.save()
    return DEMO_STAFF_USERNAME, DEMO_STAFF_PASSWORD


# One login per staff role, to try what each may see: (role, username, therapist's name).
DEMO_ROLE_USERS = [
    ("Manager", "demo-manager", None),
    ("Reception", "demo-reception", None),
    ("Therapist", "demo-therapist", "Amara Osei"),
]


def ensure_demo_role_users() -> list[tuple[str, str, str]]:
    """Create (or reset) one user per role; the therapist's is linked to a demo therapist."""
    from django.contrib.auth.models import Group

    from booking.models import Therapist

    user_model = get_user_model()
    created = []
    for role, username, therapist_name in DEMO_ROLE_USERS:
        user, _ = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@localhost"}
        )
        user.is_staff = True
        user.is_superuser = False
        user.set_password(DEMO_STAFF_PASSWORD)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        if therapist_name:
            Therapist.objects.filter(name=therapist_name).update(user=user)
        created.append((role, username, DEMO_STAFF_PASSWORD))
    return created


def ensure_demo_two_factor(usernames) -> list[tuple[str, str, list[str]]]:
    """Two-factor sign-in for the demo accounts that must use it, so the Quick start still
    signs in: each keeps one authenticator (the same key on every run, so an app already
    holding it keeps working) and gets fresh backup codes. Returns (username, the key to
    type into an authenticator app, backup codes) for demo_data to print."""
    from clinic import otp

    user_model = get_user_model()
    printed = []
    for username in usernames:
        user = user_model.objects.get(username=username)
        if not otp.two_factor_required(user):
            continue
        device = otp.authenticator(user)
        if device is None:
            device = otp.authenticator_setup_start(user=user)
            device.confirmed = True
            device.save(update_fields=["confirmed"])
        codes = otp.backup_codes_make(user=user, request=None)
        printed.append((username, otp.secret_for_typing(device), codes))
    return printed


# Rooms (issue 12): (name, tables, features, turnover minutes). Shiatsu needs the floor
# mat, so only the Quiet room takes it; Swedish is also offered for two, in the suite.
DEMO_FEATURES = [("Floor mat", "floor-mat"), ("Shower", "shower")]
DEMO_ROOMS = [
    ("Garden room", 1, ["shower"], 10),
    ("Quiet room", 1, ["floor-mat"], 10),
    ("Couples suite", 2, ["shower"], 15),
]
DEMO_TECHNIQUE_NEEDS = {"shiatsu": ["floor-mat"]}
DEMO_FOR_TWO = ["swedish"]
# (therapist, gender, preferred room, most hands-on minutes a day)
DEMO_THERAPIST_ROOMS = {
    "Amara Osei": ("female", "Garden room", 360),
    "Tom Hughes": ("male", "Couples suite", None),
    "Keiko Tanaka": ("female", "Quiet room", 300),
    "Rhys Morgan": ("male", None, None),
}


def load_demo_rooms() -> dict[str, int]:
    """The demo's rooms and features, what techniques need, and each therapist's gender,
    preferred room and daily limit. Idempotent: matched by name and slug."""
    from booking.models import Room, RoomFeature, Technique, Therapist

    features = {
        slug: RoomFeature.objects.get_or_create(slug=slug, defaults={"name": name})[0]
        for name, slug in DEMO_FEATURES
    }
    rooms = {}
    for order, (name, tables, has, turnover) in enumerate(DEMO_ROOMS, start=1):
        room, _created = Room.objects.get_or_create(
            name=name, defaults={"capacity": tables, "turnover_minutes": turnover, "display_order": order}
        )
        room.features.set([features[slug] for slug in has])
        rooms[name] = room
    for technique in Technique.objects.filter(slug__in=[*DEMO_TECHNIQUE_NEEDS, *DEMO_FOR_TWO]):
        technique.required_features.set(
            [features[slug] for slug in DEMO_TECHNIQUE_NEEDS.get(technique.slug, [])]
        )
        if technique.slug in DEMO_FOR_TWO and not technique.for_two:
            technique.for_two = True
            technique.save(update_fields=["for_two"])
    for name, (gender, room_name, daily) in DEMO_THERAPIST_ROOMS.items():
        Therapist.objects.filter(name=name).update(
            gender=gender, preferred_room=rooms.get(room_name), max_daily_minutes=daily
        )
    return {"rooms": len(rooms)}


def _book_demo_pairs(*, techniques, today, now, zone) -> int:
    """A few sessions for two in the coming days (the suite's first free time each day)."""
    from booking import selectors
    from booking.choices import AppointmentSource
    from booking.services import appointments

    booked = 0
    for slug in DEMO_FOR_TWO:
        technique = techniques.get(slug)
        if technique is None:
            continue
        length = min(technique.lengths.all(), key=lambda length: length.duration_minutes, default=None)
        if length is None:
            continue
        for offset in (1, 3, 5):
            day = today + timedelta(days=offset)
            free = selectors.free_starts(
                technique=technique, length=length, first_day=day, days=1, now=now, party_size=2
            )
            starts = [
                start for start, _ids in free.merged().get(day, []) if start.astimezone(zone).minute == 0
            ]
            if not starts:
                continue
            (first, first_phone), (second, second_phone) = DEMO_CLIENTS[offset], DEMO_CLIENTS[offset + 1]
            try:
                appointments.appointment_book_pair(
                    technique=technique,
                    length=length,
                    start=starts[len(starts) // 2],
                    clients=(
                        appointments.ClientDetails(
                            name=first, email=f"pair{offset}-1@example.com", phone=first_phone
                        ),
                        appointments.ClientDetails(
                            name=second, email=f"pair{offset}-2@example.com", phone=second_phone
                        ),
                    ),
                    source=AppointmentSource.STAFF,
                    now=now,
                    notify=False,
                )
                booked += 2
            except appointments.SlotUnavailable:
                continue
    return booked


# Four therapists with different weeks: (name, bio, techniques, {weekday: [(from, to), ...]}).
DEMO_THERAPISTS = [
    (
        "Amara Osei",
        "Amara trained in Swedish and deep tissue massage and loves helping desk workers "
        "loosen tight necks and shoulders.",
        ["swedish", "deep-tissue"],
        {d: [("09:00", "13:00"), ("14:00", "18:00")] for d in range(5)},
    ),
    (
        "Tom Hughes",
        "A former physiotherapy assistant, Tom focuses on recovery for runners, climbers and "
        "anyone training hard.",
        ["deep-tissue", "swedish"],
        {d: [("11:00", "15:00"), ("15:30", "19:00")] for d in (1, 2, 3, 4)} | {5: [("09:00", "14:00")]},
    ),
    (
        "Keiko Tanaka",
        "Keiko studied Shiatsu in Osaka and brings a calm, grounding style to every session.",
        ["shiatsu", "swedish"],
        {d: [("10:00", "13:00"), ("14:00", "17:00")] for d in (0, 2, 4, 5)},
    ),
    (
        "Rhys Morgan",
        "Rhys offers all three techniques and is happy to combine them in one session.",
        ["swedish", "deep-tissue", "shiatsu"],
        {d: [("08:00", "12:00"), ("12:45", "16:00")] for d in (0, 1, 3)} | {5: [("10:00", "16:00")]},
    ),
]
DEMO_CLIENTS = [
    ("Olivia Brown", "07700 900101"), ("Jack Wilson", "07700 900102"), ("Amelia Clarke", "07700 900103"),
    ("Harry Patel", "07700 900104"), ("Isla Evans", "07700 900105"), ("George Khan", "07700 900106"),
    ("Mia Roberts", "07700 900107"), ("Noah Walker", "07700 900108"), ("Ava Wright", "07700 900109"),
    ("Leo Thompson", "07700 900110"),
]  # fmt: skip


def load_demo_booking(*, now=None) -> dict[str, int]:
    """Therapists, hours, some time off and a realistic spread of appointments.

    Idempotent: therapists are matched by slug; appointments are only added when the
    demo has none yet in the coming fortnight.
    """
    import random
    from datetime import datetime, time

    from django.utils.text import slugify

    from booking import selectors
    from booking.choices import AppointmentSource, AppointmentStatus
    from booking.models import Appointment, Closure, Technique, Therapist, TimeOff, WorkingHours
    from booking.services import appointments

    now = now or timezone.now()
    zone = selectors.clinic_zone()
    load_demo_health_rules()
    techniques = {t.slug: t for t in Technique.objects.prefetch_related("lengths")}
    therapists = []
    for name, bio, offers, week in DEMO_THERAPISTS:
        therapist, created = Therapist.objects.get_or_create(
            slug=slugify(name), defaults={"name": name, "bio": bio}
        )
        therapist.techniques.set([techniques[s] for s in offers if s in techniques])
        if created or not therapist.working_hours.exists():
            WorkingHours.objects.filter(therapist=therapist).delete()
            WorkingHours.objects.bulk_create(
                WorkingHours(
                    therapist=therapist, weekday=day, start=time.fromisoformat(a), end=time.fromisoformat(b)
                )
                for day, periods in week.items()
                for a, b in periods
            )
        therapists.append(therapist)
    load_demo_rooms()
    for therapist in therapists:
        therapist.refresh_from_db()  # their gender, preferred room and limit, just set
    techniques = {t.slug: t for t in Technique.objects.prefetch_related("lengths")}
    today = now.astimezone(zone).date()
    keiko = therapists[2]
    if not TimeOff.objects.filter(therapist=keiko).exists():
        first = today + timedelta(days=10)
        TimeOff.objects.create(
            therapist=keiko,
            start=datetime.combine(first, time.min, tzinfo=zone),
            end=datetime.combine(first + timedelta(days=3), time.min, tzinfo=zone),
            reason="Training course",
        )
    if not Closure.objects.exists():
        training_day = date_of_next_month_first(today)
        Closure.objects.create(first_day=training_day, last_day=training_day, reason="Staff training day")
    created = 0
    # Last week too, so the schedule and the list have a past to mark and export.
    recent = Appointment.objects.filter(
        start__gte=now - timedelta(days=7), start__lt=now + timedelta(days=14)
    )
    if not recent.exists():
        # Sessions for two first, while the couples suite is free.
        created += _book_demo_pairs(techniques=techniques, today=today, now=now, zone=zone)
        rng = random.Random(2026)  # the same spread every time
        for offset in range(-7, 14):
            day = today + timedelta(days=offset)
            # Past days and today were booked by the desk: the staff rules allow any time.
            by_desk = offset <= 0
            for therapist in therapists:
                for technique in therapist.techniques.all():
                    length = rng.choice(list(technique.lengths.all()))
                    slots = (
                        selectors.free_starts(
                            technique=technique,
                            length=length,
                            first_day=day,
                            days=1,
                            therapist=therapist,
                            now=now,
                            staff=by_desk,
                        )
                        .by_therapist.get(therapist.pk, {})
                        .get(day, [])
                    )
                    # Book about half of what is free, on the hour or half hour.
                    for start in [s for s in slots if s.astimezone(zone).minute in (0, 30)][::3]:
                        if rng.random() < 0.5:
                            continue
                        name, phone = rng.choice(DEMO_CLIENTS)
                        try:
                            source = (
                                AppointmentSource.STAFF
                                if by_desk
                                else rng.choice([AppointmentSource.ONLINE, AppointmentSource.STAFF])
                            )
                            # Online: one address per booking, or the online cap per address
                            # would stop the demo diary filling up. The desk uses each
                            # person's own address, so their client record has a history.
                            email = (
                                f"{slugify(name)}@example.com"
                                if source == AppointmentSource.STAFF
                                else f"{slugify(name)}+{created}@example.com"
                            )
                            booked = appointments.appointment_book(
                                technique=technique,
                                length=length,
                                start=start,
                                therapist=therapist,
                                client=appointments.ClientDetails(
                                    name=name, email=email, phone=phone, health=_demo_health(rng)
                                ),
                                source=source,
                                now=now,
                                notify=False,  # no emails to made-up clients
                            )
                            created += 1
                            if booked.end <= now:
                                status = (
                                    AppointmentStatus.NO_SHOW
                                    if rng.random() < 0.1
                                    else AppointmentStatus.COMPLETED
                                )
                                appointments.appointment_mark(appointment=booked, status=status, now=now)
                        except appointments.SlotUnavailable:
                            continue
    return {"therapists": len(therapists), "appointments_created": created}


# A starting rule set for the health questions (seeded by booking migration 0016), for
# the clinic to review: (question, from, up to, outcome, note for the therapist).
DEMO_HEALTH_RULES = [
    ("pregnancy", None, 12, "call", "First trimester: talk to the client before booking."),
    ("pregnancy", 13, None, "flag", "Pregnancy massage: side-lying, no deep abdominal work."),
    ("blood_thinners", None, None, "flag", "Blood thinners: lighter pressure, watch for bruising."),
    ("injury_or_surgery", None, None, "doctor_note", "Recent surgery or injury: doctor's note first."),
    ("illness_or_fever", None, None, "call", "Unwell or feverish: suggest another day."),
    ("skin", None, None, "flag", "Skin condition: avoid affected areas."),
    ("oil_allergy", None, None, "flag", "Allergy: unscented, nut-free oil."),
    ("conditions", None, None, "flag", "Medical condition: read the details before starting."),
]
DEMO_RULE_LABEL = "Starting rule, for the clinic to review."

# Health answers some demo bookings bring (each only leads to a flag).
DEMO_HEALTH_ANSWERS = [
    {"blood_thinners": {"yes": True, "details": "Warfarin", "number": None}},
    {"pregnancy": {"yes": True, "details": "", "number": 22}},
    {"oil_allergy": {"yes": True, "details": "Almond oil", "number": None}},
    {"skin": {"yes": True, "details": "Eczema on the forearms", "number": None}},
]


def load_demo_health_rules() -> int:
    """The starting rule set, once: nothing is added when the clinic has rules already."""
    from booking.models import HealthQuestion, HealthRule

    if HealthRule.objects.exists():
        return 0
    questions = {question.key: question for question in HealthQuestion.objects.all()}
    rules = [
        HealthRule(
            question=questions[key],
            number_min=low,
            number_max=high,
            outcome=outcome,
            staff_note=f"{note} {DEMO_RULE_LABEL}",
        )
        for key, low, high, outcome, note in DEMO_HEALTH_RULES
        if key in questions
    ]
    HealthRule.objects.bulk_create(rules)
    return len(rules)


def _demo_health(rng):
    from booking.intake import answers_from_dict

    # About one booking in four brings a yes; the rest answer no to everything.
    if rng.random() < 0.75:
        return {}
    return answers_from_dict(rng.choice(DEMO_HEALTH_ANSWERS))


def date_of_next_month_first(today):
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)
