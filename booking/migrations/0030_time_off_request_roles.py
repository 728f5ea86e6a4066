"""Time-off requests in the staff roles: therapists ask, managers decide, reception sees
(booking.roles.TIME_OFF_REQUEST_PERMISSIONS)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from booking.roles import TIME_OFF_REQUEST_PERMISSIONS


def _permissions(Permission, grants):
    for label, actions in grants.items():
        app_label, model = label.split(".")
        yield from Permission.objects.filter(
            content_type__app_label=app_label, codename__in=[f"{action}_{model}" for action in actions]
        )


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the new model's must exist now.
    app_config = apps.get_app_config("booking")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in TIME_OFF_REQUEST_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(Permission, grants))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in TIME_OFF_REQUEST_PERMISSIONS.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*_permissions(Permission, grants))


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0029_time_off_requests"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
