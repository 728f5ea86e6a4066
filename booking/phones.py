"""Phone numbers as the clinic reads them: any usual format, in the clinic's region
(PHONENUMBER_DEFAULT_REGION), stored and matched in international form (E.164)."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings

# What a typed phone number may contain: digits, a leading +, spaces, brackets, dashes, dots.
PHONE_RE = r"^\+?[0-9 ()\-.]{3,40}$"


def phone_e164(raw: str) -> str:
    """``raw`` in international form (+447700900123), read in the clinic's region; empty
    when it cannot be a phone number.

    "Possible" (the right length for its country), not "allocated today": libphonenumber's
    list of ranges lags behind new ones (and calls Ofcom's drama numbers, 07700 900xxx,
    invalid), and refusing a real client's number is worse than keeping one nobody answers."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 40 or not re.fullmatch(PHONE_RE, raw):
        return ""
    try:
        number = phonenumbers.parse(raw, settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_digits(term: str) -> str:
    """The digits to look for inside stored numbers when ``term`` looks like part of a
    phone number (at least four digits, nothing but phone punctuation): a leading 0 or
    00 is the trunk or international prefix, which E.164 does not keep. Else empty."""
    term = term.strip()
    if not re.fullmatch(r"\+?[0-9 ()\-.]+", term):
        return ""
    digits = re.sub(r"\D", "", term)
    if len(digits) < 4:
        return ""
    return digits.lstrip("0") if not term.startswith("+") else digits
