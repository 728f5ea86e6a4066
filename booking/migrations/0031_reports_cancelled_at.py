"""Reports (issue 15): when each appointment was cancelled, so the reports can tell a late
cancellation from an early one, and a permission to see the reports, granted to managers.

Appointments cancelled before this field existed take the time of the client's own online
cancellation where there is one, else the last time the row changed (the cancellation
itself, for most)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce

from booking.roles import REPORT_PERMISSIONS


def backfill(apps, schema_editor):
    Appointment = apps.get_model("booking", "Appointment")
    ClientChange = apps.get_model("booking", "ClientChange")
    cancelled_online = ClientChange.objects.filter(
        appointment__reference=OuterRef("reference"), kind="cancelled"
    ).order_by("at")
    Appointment.objects.filter(status="cancelled", cancelled_at__isnull=True).update(
        cancelled_at=Coalesce(Subquery(cancelled_online.values("at")[:1]), "updated_at")
    )


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure this one exists now.
    app_config = apps.get_app_config("booking")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in REPORT_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="booking", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in REPORT_PERMISSIONS.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="booking", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0030_time_off_request_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="appointment",
            options={"ordering": ["start"], "permissions": [("view_reports", "Can see the clinic's reports")]},
        ),
        migrations.AddField(
            model_name="appointment",
            name="cancelled_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="cancelled at"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(grant, revoke),
    ]
