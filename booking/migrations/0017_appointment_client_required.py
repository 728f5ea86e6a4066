"""Every appointment belongs to a client: 0016 filled the existing rows, and every path
that books now sets it (booking.services.clients)."""

import django.db.models.deletion
from django.db import migrations, models


def clients_for_leftovers(apps, schema_editor):
    # Rows written between 0016 and this (none in a normal upgrade) get a client by email,
    # so the column can be made NOT NULL without losing an appointment.
    Appointment = apps.get_model("booking", "Appointment")
    Client = apps.get_model("booking", "Client")
    for appointment in Appointment.objects.filter(client__isnull=True).order_by("start"):
        key = (appointment.client_email or "").strip().lower()
        client = (
            Client.objects.filter(email_key=key, merged_into__isnull=True).first() if key else None
        ) or Client.objects.create(
            name=appointment.client_name, email=appointment.client_email.strip(), email_key=key
        )
        appointment.client = client
        appointment.save(update_fields=["client"])


class Migration(migrations.Migration):
    # PostgreSQL will not ALTER a table with pending foreign-key trigger events from the
    # update above in the same transaction: the data step commits first.
    atomic = False

    dependencies = [("booking", "0016_clients_from_appointments")]

    operations = [
        migrations.RunPython(clients_for_leftovers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="appointment",
            name="client",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="booking.client",
                verbose_name="client",
            ),
        ),
    ]
