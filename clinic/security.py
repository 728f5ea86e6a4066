"""Security headers on every response: Content-Security-Policy (django-csp, with a
wider style rule for the staff admin) and Permissions-Policy."""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.urls import reverse

# The admin's own pages are free of inline script, but the staff schedule positions each
# block with a computed style attribute (top and height in per cent of the day), and a
# few admin previews size pictures the same way. Only style *attributes* are let in
# there, never inline <style> elements and never inline script. Browsers without the
# CSP 3 -attr/-elem directives fall back to style-src with 'unsafe-inline'.
ADMIN_POLICY_UPDATE = {
    "style-src": [UNSAFE_INLINE],
    "style-src-elem": [SELF],
    "style-src-attr": [UNSAFE_INLINE],
}


class ClinicCSPMiddleware(CSPMiddleware):
    """django-csp's middleware: the site-wide policy from settings, widened on /admin/ by
    ``ADMIN_POLICY_UPDATE``."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith(reverse("admin:index")):
            parts.update = {**(parts.update or {}), **ADMIN_POLICY_UPDATE}
        return parts


class PermissionsPolicyMiddleware:
    """Turn off browser features the site never uses (camera, microphone, location ...),
    so neither the site nor anything injected into it can ask for them."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.header = ", ".join(
            f"{feature}=({' '.join(allowed)})" for feature, allowed in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
