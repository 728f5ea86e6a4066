"""Client records from today's appointments, without losing a field.

- One client per normalised email (case and spaces ignored); name and phone from the
  client's latest booking. Each appointment keeps its own contact details as given.
- The health answers on each appointment become that visit's intake (encrypted), answers
  to the questions this migration seeds; the old columns stay until the new flow no
  longer needs them.
- The cancellation policy and treatment consent become version 1 texts; each booking's
  "agreed to the cancellation policy" time becomes a consent record.
- The staff roles get the new permissions (booking.roles.CLIENT_RECORD_PERMISSIONS).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from booking.roles import CLIENT_RECORD_PERMISSIONS

# The clinic's starting questions: managers edit the wording, help and rules in the admin.
QUESTIONS = [
    ("pregnancy", "Are you pregnant?", "Massage in pregnancy is adapted; your therapist will prepare for it.",
     "", "How many weeks?"),
    ("injury_or_surgery", "Have you had an injury or surgery in the last six months?",
     "Anything still healing: sprains, fractures, operations.", "What and when?", ""),
    ("conditions", "Do you have a medical condition we should know about?",
     "For example high blood pressure, diabetes, varicose veins, epilepsy, cancer treatment.",
     "Which condition?", ""),
    ("blood_thinners", "Do you take blood thinners or other regular medication?",
     "Blood thinners (such as warfarin or apixaban) change how firm a massage can be.", "Which medication?", ""),
    ("skin", "Do you have a skin condition, rash, open wound or infection?",
     "We avoid affected areas; some conditions need to settle first.", "Where and what?", ""),
    ("illness_or_fever", "Have you been unwell or had a fever in the last week?",
     "Massage can make an infection worse; we may suggest another day.", "", ""),
    ("oil_allergy", "Are you allergic to any oils, nuts or fragrances?",
     "We can use an unscented, nut-free oil.", "What are you allergic to?", ""),
]

CANCELLATION_TEXT = (
    "You can change or cancel your appointment online until {hours} hours before it starts. "
    "After that, please call us; we may charge for late cancellations and missed appointments."
)
TREATMENT_TEXT = (
    "I confirm that the health information I have given is true and complete to the best of my "
    "knowledge, that I will tell my therapist of any change, and that I consent to massage "
    "treatment. I understand that massage is not a substitute for medical care."
)


def _key(email):
    return (email or "").strip().lower()


def forwards(apps, schema_editor):
    Appointment = apps.get_model("booking", "Appointment")
    Client = apps.get_model("booking", "Client")
    HealthQuestion = apps.get_model("booking", "HealthQuestion")
    HealthIntake = apps.get_model("booking", "HealthIntake")
    PolicyText = apps.get_model("booking", "PolicyText")
    Consent = apps.get_model("booking", "Consent")
    BookingPolicy = apps.get_model("booking", "BookingPolicy")

    for order, (key, text, help_text, details, number) in enumerate(QUESTIONS):
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

    policy = BookingPolicy.objects.filter(pk=1).first()
    hours = policy.cancellation_cutoff_hours if policy else 24
    cancellation, _ = PolicyText.objects.get_or_create(
        kind="cancellation", version=1, defaults={"body": CANCELLATION_TEXT.format(hours=hours)}
    )
    PolicyText.objects.get_or_create(kind="treatment_consent", version=1, defaults={"body": TREATMENT_TEXT})

    clients = {}
    # Latest booking first: its name and phone are the client's most recent details.
    for appointment in Appointment.objects.order_by("-created_at", "-pk").iterator():
        key = _key(appointment.client_email)
        client = clients.get(key)
        if client is None:
            client = Client.objects.filter(email_key=key).first() if key else None
            if client is None:
                client = Client.objects.create(
                    name=appointment.client_name,
                    email=appointment.client_email.strip(),
                    email_key=key,
                    phone=appointment.client_phone,
                )
            clients[key] = client
        appointment.client_id = client.pk
        appointment.save(update_fields=["client"])
        answers = {}
        if appointment.pregnant:
            answers["pregnancy"] = {"yes": True, "details": "", "number": None}
        if appointment.recent_injury:
            answers["injury_or_surgery"] = {"yes": True, "details": appointment.recent_injury, "number": None}
        if appointment.health_conditions:
            answers["conditions"] = {"yes": True, "details": appointment.health_conditions, "number": None}
        if answers or appointment.source == "online":
            HealthIntake.objects.create(
                client=client,
                appointment=appointment,
                answers=answers,
                outcome="flag" if answers else "allow",
                flags=sorted(answers),
                flagged=bool(answers),
                source="migrated",
            )
        if appointment.policy_agreed_at:
            Consent.objects.create(
                client=client,
                appointment=appointment,
                policy=cancellation,
                agreed_at=appointment.policy_agreed_at,
                method="online_tick",
            )


def backwards(apps, schema_editor):
    Appointment = apps.get_model("booking", "Appointment")
    Appointment.objects.update(client=None)
    for name in ("Consent", "HealthIntake", "PolicyText", "HealthQuestion", "Client"):
        apps.get_model("booking", name).objects.all().delete()


def grant(apps, schema_editor):
    app_config = apps.get_app_config("booking")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in CLIENT_RECORD_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="booking", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0015_clients_health_notes"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
