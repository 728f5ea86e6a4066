"""Staff sign-in (issue 15): managers may read the sign-in log and remove someone's
two-factor setup; reception no longer sees the email outbox (booking.roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from booking.roles import SIGNIN_PERMISSIONS, SIGNIN_REVOKED


def _permissions(apps, label, actions):
    Permission = apps.get_model("auth", "Permission")
    app_label, model = label.split(".")
    return Permission.objects.filter(
        content_type__app_label=app_label, codename__in=[f"{action}_{model}" for action in actions]
    )


def _ensure_permissions(apps):
    # Permissions are normally created after all migrations; make sure these exist now.
    for app_label in ("clinic", "otp_totp", "otp_static", "django_tasks_database"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def grant(apps, schema_editor):
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    for role, grants in SIGNIN_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for label, actions in grants.items():
            group.permissions.add(*_permissions(apps, label, actions))
    for role, grants in SIGNIN_REVOKED.items():
        for group in Group.objects.filter(name=role):
            for label, actions in grants.items():
                group.permissions.remove(*_permissions(apps, label, actions))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, grants in SIGNIN_PERMISSIONS.items():
        for group in Group.objects.filter(name=role):
            for label, actions in grants.items():
                group.permissions.remove(*_permissions(apps, label, actions))
    for role, grants in SIGNIN_REVOKED.items():
        for group in Group.objects.filter(name=role):
            for label, actions in grants.items():
                group.permissions.add(*_permissions(apps, label, actions))


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0026_waitlist_roles"),
        ("clinic", "0003_signinevent"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
