"""Template helpers for page metadata: canonical links and JSON-LD."""

from __future__ import annotations

import json

from django import template
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

register = template.Library()

# The same escapes as Django's json_script: "</script>" inside a value cannot end the tag.
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.simple_tag(takes_context=True)
def canonical_url(context) -> str:
    """This page's address without tracking or search parameters: only the ones the view
    names in ``canonical_params`` (the article list's topic and page) are kept."""
    request = context.get("request")
    if request is None:  # the 400 page is drawn without its request (clinic/views.py)
        return ""
    params = context.get("canonical_params", ())
    kept = {k: request.GET[k] for k in params if request.GET.get(k) and request.GET[k] != "1"}
    query = f"?{urlencode(kept)}" if kept else ""
    return request.build_absolute_uri(request.path) + query


@register.simple_tag
def jsonld(data: dict):
    """A schema.org JSON-LD block, safely escaped for an HTML page."""
    payload = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_ESCAPES)
    # The payload is already escaped for a <script> element above; HTML-escaping it
    # again would turn its quotes into entities and break the JSON.
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))  # noqa: S308


@register.simple_tag(takes_context=True)
def clinic_jsonld(context):
    request = context.get("request")
    if request is None:  # the 400 page: no request to take the site's address from
        return ""
    clinic = settings.CLINIC
    return jsonld(
        {
            "@context": "https://schema.org",
            "@type": "HealthAndBeautyBusiness",
            "name": clinic["name"],
            "description": clinic["tagline"],
            "url": request.build_absolute_uri("/"),
            "telephone": clinic["phone"],
            "email": clinic["email"],
            "address": clinic["address"],
            "logo": request.build_absolute_uri(static("img/logo.svg")),
        }
    )


@register.simple_tag(takes_context=True)
def article_jsonld(context, article):
    request = context["request"]
    data = {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": article.title,
        "description": article.summary,
        "datePublished": article.published_at,
        "dateModified": article.updated_at,
        "author": {"@type": "Organization", "name": article.author_name},
        "publisher": {"@type": "Organization", "name": settings.CLINIC["name"]},
        "mainEntityOfPage": request.build_absolute_uri(article.get_absolute_url()),
        "wordCount": len(article.body.split()),
        "keywords": [t.name for t in article.topics.all()],
    }
    if article.hero_image:
        data["image"] = request.build_absolute_uri(article.hero_src)
    if refs := article.reference_list:
        data["citation"] = [r.title for r in refs]
    return jsonld(data)


@register.filter
def split(value: str, separator: str) -> list[str]:
    """Split a string, for short fixed lists written in a template."""
    return str(value).split(separator)
