"""Managers and reception get the waitlist's permissions (booking.roles.WAITLIST_PERMISSIONS)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from booking.roles import WAITLIST_PERMISSIONS


def grant(apps, schema_editor):
    app_config = apps.get_app_config("booking")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in WAITLIST_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="booking", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0025_waitlist_entries_offers"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
