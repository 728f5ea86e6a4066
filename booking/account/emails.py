"""What the clients' link emails say (sign in, confirm deleting the account)."""

from __future__ import annotations

from email.headerregistry import Address
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from clinic import site
from clinic.text import single_line

from ..models import ClientLink
from ..services import signin

URL_NAMES = {
    ClientLink.Purpose.SIGN_IN: "booking:account-signin-link",
    ClientLink.Purpose.ERASE: "booking:account-erase-confirm",
}


def link_url(link: ClientLink, *, site_url: str = "") -> str:
    return site.base_url(site_url) + reverse(URL_NAMES[link.purpose], args=[signin.link_token(link)])


def message_id(link: ClientLink) -> str:
    """The same Message-ID every time this email is sent (a repeat after a crash is
    recognisably the same message)."""
    host = urlsplit(settings.SITE_URL).hostname or "clinic.invalid"
    return f"<link.{link.purpose}.{link.pk}@{host}>"


def build_email(link: ClientLink, *, site_url: str = "") -> EmailMultiAlternatives:
    client = link.client
    context = {
        "client_name": single_line(client.name),
        "url": link_url(link, site_url=site_url),
        "minutes": settings.CLIENT_LINK_MINUTES,
        "clinic": settings.CLINIC,
        "site_url": site.base_url(site_url),
    }
    folder = f"booking/account/email/{link.purpose}"
    subject = " ".join(render_to_string(f"{folder}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{folder}.txt", context),
        to=[str(Address(display_name=single_line(client.name), addr_spec=client.email))],
        reply_to=[settings.CLINIC["email"]],
        headers={"Message-ID": message_id(link)},
    )
    message.attach_alternative(render_to_string(f"{folder}.html", context), "text/html")
    return message
