"""Let managers see sign-in lockouts and unlock accounts (django-axes' access attempts)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from booking.roles import LOCKOUT_PERMISSIONS


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure axes' exist now.
    app_config = apps.get_app_config("axes")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in LOCKOUT_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for label, actions in grants.items():
            app_label, model = label.split(".")
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in LOCKOUT_PERMISSIONS.items():
        for group in Group.objects.filter(name=role):
            for label, actions in grants.items():
                app_label, model = label.split(".")
                group.permissions.remove(
                    *Permission.objects.filter(
                        content_type__app_label=app_label,
                        codename__in=[f"{action}_{model}" for action in actions],
                    )
                )


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0012_sent_email_and_task_worker"),
        ("axes", "0010_accessattemptexpiration"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
