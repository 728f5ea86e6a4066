"""The three techniques every clinic offers, and the default booking policy."""

from decimal import Decimal

from django.db import migrations

TECHNIQUES = [
    {
        "name": "Swedish",
        "slug": "swedish",
        "summary": "Long, flowing strokes with light to medium pressure to help you unwind.",
        "description": (
            "The classic full-body massage. Your therapist uses long gliding strokes, gentle "
            "kneading and rhythmic movements, working with the direction of blood flow back "
            "towards the heart. The pressure stays comfortable throughout, so most people "
            "leave feeling loose, warm and deeply relaxed."
        ),
        "suitable_for": (
            "A first massage, general stiffness, stress and poor sleep. A gentle choice if you "
            "are unsure what you need."
        ),
        "display_order": 1,
        "lengths": [(60, "55.00"), (90, "78.00")],
    },
    {
        "name": "Deep tissue",
        "slug": "deep-tissue",
        "summary": "Slow, firm work on the deeper layers of muscle and stubborn knots.",
        "description": (
            "Deep tissue massage works more slowly and with firmer, focused pressure to reach "
            "the deeper layers of muscle and the connective tissue around them. Your therapist "
            "concentrates on the areas that trouble you, such as the neck, shoulders or lower "
            "back, and checks the pressure with you as they go. You may feel a little tender "
            "for a day or two afterwards."
        ),
        "suitable_for": (
            "Long-standing tightness, desk-related neck and back pain, physical jobs and "
            "regular training."
        ),
        "display_order": 2,
        "lengths": [(60, "62.00"), (90, "88.00")],
    },
    {
        "name": "Shiatsu",
        "slug": "shiatsu",
        "summary": "Japanese pressure and stretches, given fully clothed on a padded mat.",
        "description": (
            "Shiatsu comes from Japan. You stay fully clothed in loose, comfortable clothes "
            "while your therapist uses thumbs, palms and elbows to apply rhythmic pressure "
            "along the body, combined with gentle stretches and joint rotations. It is calm "
            "and grounding, and no oil is used."
        ),
        "suitable_for": (
            "People who prefer to stay dressed, anyone who enjoys assisted stretching, and "
            "those looking for a calming, meditative session."
        ),
        "display_order": 3,
        "lengths": [(60, "58.00"), (75, "70.00")],
    },
]


def create(apps, schema_editor):
    Technique = apps.get_model("booking", "Technique")
    TechniqueLength = apps.get_model("booking", "TechniqueLength")
    BookingPolicy = apps.get_model("booking", "BookingPolicy")
    for data in TECHNIQUES:
        data = dict(data)
        lengths = data.pop("lengths")
        technique, created = Technique.objects.get_or_create(slug=data["slug"], defaults=data)
        if created:
            for minutes, price in lengths:
                TechniqueLength.objects.create(technique=technique, duration_minutes=minutes, price=Decimal(price))
    BookingPolicy.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("booking", "0002_no_overlap")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
