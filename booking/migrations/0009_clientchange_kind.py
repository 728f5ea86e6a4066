"""ClientChange stores what happened (a code and the times), not a translated sentence.
Existing rows are read back from their English sentences."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations, models

CANCELLED_TEXT = "Cancelled online by the client"
MOVED_PREFIX = "Moved online by the client: "
# How the sentences were written (strftime, English): "Tue 24 Nov 2026 10:00".
OLD_FORMAT = "%a %d %b %Y %H:%M"


def _parse(text: str, zone: ZoneInfo):
    try:
        return datetime.strptime(text.strip(), OLD_FORMAT).replace(tzinfo=zone)
    except ValueError:
        return None


def sentences_to_codes(apps, schema_editor):
    ClientChange = apps.get_model("booking", "ClientChange")
    zone = ZoneInfo(settings.CLINIC_TIME_ZONE)
    for change in ClientChange.objects.all():
        if change.summary.startswith(MOVED_PREFIX):
            before, _, after = change.summary[len(MOVED_PREFIX) :].partition("→")
            change.kind = "moved"
            change.previous_start = _parse(before, zone)
            change.new_start = _parse(after, zone)
        else:
            change.kind = "cancelled"
        change.save(update_fields=["kind", "previous_start", "new_start"])


def codes_to_sentences(apps, schema_editor):
    ClientChange = apps.get_model("booking", "ClientChange")
    zone = ZoneInfo(settings.CLINIC_TIME_ZONE)
    for change in ClientChange.objects.all():
        if change.kind == "moved" and change.previous_start and change.new_start:
            change.summary = (
                f"{MOVED_PREFIX}{change.previous_start.astimezone(zone):{OLD_FORMAT}} → "
                f"{change.new_start.astimezone(zone):{OLD_FORMAT}}"
            )
        elif change.kind == "moved":
            change.summary = MOVED_PREFIX.rstrip(": ")
        else:
            change.summary = CANCELLED_TEXT
        change.save(update_fields=["summary"])


class Migration(migrations.Migration):
    dependencies = [
        # After main's latest (numbered before this one was merged), so the graph stays one line.
        ("booking", "0014_security_detected_image_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="clientchange",
            name="kind",
            field=models.CharField(
                choices=[("cancelled", "Cancelled online by the client"), ("moved", "Moved online by the client")],
                default="cancelled",
                max_length=20,
                verbose_name="what",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="clientchange",
            name="new_start",
            field=models.DateTimeField(blank=True, null=True, verbose_name="moved to"),
        ),
        migrations.AddField(
            model_name="clientchange",
            name="previous_start",
            field=models.DateTimeField(blank=True, null=True, verbose_name="moved from"),
        ),
        migrations.AlterField(
            model_name="clientchange",
            name="summary",
            field=models.CharField(blank=True, max_length=300, verbose_name="what"),
        ),
        migrations.RunPython(sentences_to_codes, codes_to_sentences),
        migrations.RemoveField(model_name="clientchange", name="summary"),
    ]
