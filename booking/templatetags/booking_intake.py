"""Template tags for the health intake on staff pages."""

from __future__ import annotations

from django import template

from ..admin import intake as admin_intake

register = template.Library()


@register.simple_tag(takes_context=True)
def client_health(context, client) -> dict:
    """The client's health answers, latest first, as the signed-in staff member may see
    them (recording the look): see :func:`booking.admin.intake.client_health_history`."""
    request = context.get("request")
    if request is None or client is None:
        return {"intakes": []}
    return admin_intake.client_health_history(request, client)
