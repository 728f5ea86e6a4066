"""Fuzzing: every address the URL resolver knows and every admin page, with a corpus of
nasty values, on whichever database the suite runs on (CI runs it on SQLite and
PostgreSQL). Any server error (an exception, or a 5xx status) fails the test, and the
failure lists each request that caused one.

What it sends, deterministically (a seeded generator picks among the corpus):
- public pages: each route with its parameters filled with real objects and with nasty
  values; each query parameter the page reads (and a few it does not) set to nasty
  values, one at a time and repeated; the booking forms posted with each field nasty;
- the staff site, as a superuser: every change list with each filter, the date hierarchy,
  search, ordering and paging nasty, and a hand-made lookup on every field; every add and
  change form posted back from a valid form with each field (inline and management fields
  included) nasty, several fields a request in long forms; actions with nasty selections;
  change, delete and history pages with odd ids. Inline form counts get every kind of
  nasty value but huge ones: Django caps those at 1,000 rows over the maximum, and
  drawing them takes seconds (a slow page, not an error);
- the staff site as each role (manager, reception, therapist): every admin page, and
  every change list with a sample of nasty filters.

Each request runs in a savepoint that is rolled back, so every one starts from the same
data and none can break the next (PostgreSQL aborts a transaction after an error).
"""

from __future__ import annotations

import logging
import random
import re
import warnings
from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from booking import roles
from booking.models import Appointment, Client, Closure, TimeOff, TimeOffRequest
from booking.services import appointments
from tests.conftest import LONDON
from tests.factories import (
    ArticleFactory,
    ReferenceFactory,
    TherapistFactory,
    TopicFactory,
    UserFactory,
    appointment_row,
    user_in_role,
)

pytestmark = pytest.mark.django_db

SEED = 20261201

# Values chosen to break parsers, converters, date arithmetic, databases and templates.
EDGE_DATES = [
    "9999-12-31", "0001-01-01", "0000-00-00", "2026-02-30", "1899-12-31", "2201-01-01",
    "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00-23:59", "2026-11-24T25:61",
    "2026-11-24T10:00:00+99:00", "10000-01-01", "-2026-01-01",
]  # fmt: skip
HUGE_NUMBERS = [
    str(2**31), str(2**31 - 1), str(2**63), str(2**64), "-1", "0", "-" + str(2**63 + 1),
    "1e309", "-1e309", "NaN", "Infinity", "1" * 400, "0x10", "1.5", "٣", "１２",
]  # fmt: skip
NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "%00",
    "a\x00b",
    "x" * 10_000,
    "\u202eevil\u202c",  # right-to-left override
    "\\ud800",  # a lone surrogate, escaped
    "\U0001f486\u200d\u2640\ufe0f",  # emoji with a joiner
    "\ufeff\u00a0\u3000",
    "../../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "' OR 1=1 --",
    '"; DROP TABLE booking_appointment; --',
    "<script>alert(1)</script>",
    "{{ request }}{% debug %}",
    "${7*7}",
    "\r\nSet-Cookie: x=1",
    "null",
    "[]",
    '{"a": 1}',
    "any",
    "__proto__",
    "(",
    "*",
    "%",
]
CORPUS = EDGE_DATES + HUGE_NUMBERS + NASTY_STRINGS
PATH_VALUES = [
    "x" * 300, "\x00", "..", "%2e%2e", "\u202e", "1" * 30, str(2**63), "-1", "a%00b", "\U0001f486",
]  # fmt: skip
# Query parameters any page might be sent, beside the ones it reads.
STRAY_PARAMS = ["page", "next", "q"]
# Per public page: the parameters it reads, with a valid value.
PUBLIC_PARAMS = {
    "articles:article-list": {"q": "massage", "topic": "back-pain", "page": "1"},
    "booking:technique-detail": {"length": "60", "therapist": "any"},
    "booking:availability-api": {"technique": "swedish", "length": "60", "therapist": "any", "start": "",
                                 "days": "7"},
    "booking:times": {"length": "60", "therapist": "any", "week": "", "day": ""},
    "booking:details": {"length": "60", "therapist": "any", "start": ""},
    "booking:review": {"length": "60", "therapist": "any", "start": ""},
    "booking:appointment-reschedule": {"week": "", "day": ""},
    "booking:appointment-reschedule-confirm": {"start": ""},
    "admin:login": {"next": "/admin/"},
    "admin:booking_schedule": {"date": "", "therapist": "", "view": "rooms", "new": "1"},
    "admin:booking_my_days": {"day": "2026-11-24", "therapist": ""},
    "admin:booking_appointment_add": {"start": "", "therapist": "", "technique": "", "from": "schedule"},
    "admin:autocomplete": {"term": "a", "app_label": "booking", "model_name": "appointment",
                           "field_name": "therapist", "page": "1"},
}  # fmt: skip
LOOKUPS = ["exact", "iexact", "contains", "in", "gt", "lte", "range", "isnull", "year", "date", "startswith"]
PLACEHOLDER = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


class Fuzzer:
    """Sends requests, each in a rolled-back savepoint, and records every server error."""

    def __init__(self, client, who: str):
        self.client = client
        # The test client re-raises a view's exception instead of rendering the 500 page.
        self.client.raise_request_exception = True
        self.who = who
        self.last_response = None
        self.failures: list[str] = []
        self.sent = 0
        self.rng = random.Random(SEED)

    def send(self, method: str, url: str, data=None) -> tuple[int, str]:
        self.sent += 1
        try:
            with warnings.catch_warnings(), transaction.atomic():
                # The suite turns RuntimeWarnings into errors; a date typed into a date-time
                # filter by hand only warns in production ("received a naive datetime").
                warnings.filterwarnings("ignore", r".*received a naive datetime", RuntimeWarning)
                if method == "get":
                    response = self.client.get(url, data or {})
                else:
                    response = self.client.post(url, data or {})
                transaction.set_rollback(True)
            self.last_response = response
        except Exception as error:  # noqa: BLE001 - any exception is the finding
            self.failures.append(f"{self.who}: {method.upper()} {shown(url, data)} -> {error!r:.300}")
            return 500, ""
        if response.status_code >= 500:
            self.failures.append(f"{self.who}: {method.upper()} {shown(url, data)} -> {response.status_code}")
        body = response.content.decode(errors="replace") if not getattr(response, "streaming", False) else ""
        return response.status_code, body

    def pick(self, values: list[str], n: int) -> list[str]:
        return self.rng.sample(values, min(n, len(values)))


def shown(url: str, data) -> str:
    text = url if not data else f"{url} {urlencode(data, doseq=True)}"
    return text if len(text) < 300 else text[:300] + f"... ({len(text)} characters)"


# ------------------------------------------------------------------ the world to fuzz


@pytest.fixture(autouse=True)
def _quiet_request_logs():
    # Thousands of expected 400s and 404s would each be logged, refused lookups with a
    # traceback; the test reports what matters itself.
    loggers = [logging.getLogger(name) for name in ("django.request", "django.security")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def world(settings, swedish, swedish_60):
    settings.BOOKING_RATE_LIMIT = 100_000
    settings.MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
    (settings.MEDIA_ROOT / "therapists").mkdir()
    topic = TopicFactory(name="Back pain", slug="back-pain")
    article = ArticleFactory(topics=[topic])
    ReferenceFactory(article=article)
    therapist = TherapistFactory(name="Amara Osei", slug="amara", techniques=[swedish])
    other = TherapistFactory(techniques=[swedish])
    day = timezone.now().astimezone(LONDON).date() + timedelta(days=3)
    while day.weekday() != 1:
        day += timedelta(days=1)
    start = datetime.combine(day, time(10), tzinfo=LONDON)
    appointment = appointments.appointment_book(
        technique=swedish,
        length=swedish_60,
        start=start,
        therapist=therapist,
        client=appointments.ClientDetails(
            name="Olivia Brown", email="olivia@example.com", phone="07700 900101"
        ),
    )
    appointment_row(other, swedish, start - timedelta(days=14), status="completed")
    for who in (therapist, other):
        TimeOff.objects.create(therapist=who, start=start + timedelta(days=1), end=start + timedelta(days=2))
    Closure.objects.create(
        first_day=day + timedelta(days=30), last_day=day + timedelta(days=31), reason="Bank"
    )
    users = {
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
        "manager": user_in_role(roles.MANAGER, "manager"),
        "reception": user_in_role(roles.RECEPTION, "reception"),
        "therapist": user_in_role(roles.THERAPIST, "amara", therapist=therapist),
    }
    # Waitlist (issue 14): an entry with a time held for it, so its pages open for real.
    from booking.services import waitlist

    wish = waitlist.Wish(swedish, swedish_60, None, day, day, frozenset({"morning", "afternoon"}))
    entry = waitlist.entry_join(wish=wish, name="Nina Park", email="nina@example.com", phone="07700 900123")
    offer = waitlist.offer_create(
        entry=entry, start=start + timedelta(hours=6), offered_by=users["superuser"]
    )
    # Time-off requests (issue 15): one waiting for a decision, so its pages open for real.
    TimeOffRequest.objects.create(
        therapist=therapist,
        start=start + timedelta(days=7),
        end=start + timedelta(days=7, hours=8),
        requested_by=users["therapist"],
    )
    return {
        "waitlist_entry": entry,
        "waitlist_offer": offer,
        "article": article,
        "appointment": appointment,
        "client": Client.objects.create(name="Sam Lee", email="sam.lee@example.com"),
        "free_start": (start + timedelta(hours=3)).isoformat(timespec="minutes"),
        "users": users,
        "day": day,
    }


def routes():
    """(route with placeholders, namespaced name) for every URL pattern."""

    def walk(resolver, prefix, namespace):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if pattern.namespace else namespace
                yield from walk(pattern, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}".lstrip(":") if pattern.name else ""
                yield prefix + str(pattern.pattern), name

    for route, name in walk(get_resolver(), "", ""):
        yield route.replace("^", "").replace("$", "").replace("\\", ""), name


def fill(route: str, values: dict[str, str]) -> str:
    def value(match):
        name = match["name"] or match["rname"]
        return quote(values.get(name, "1"), safe="")

    return "/" + PLACEHOLDER.sub(value, route)


def real_values(name: str, world) -> list[dict[str, str]]:
    """Path parameters from real objects, for a pattern's name."""
    appointment = world["appointment"]
    if name.startswith("admin:"):
        short = name.removeprefix("admin:")
        if short == "app_list":
            return [
                {"app_label": label} for label in sorted({m._meta.app_label for m in admin.site._registry})
            ]
        if short.startswith("booking_client_") and "client" in world:
            # The privacy pages (export, erasure) of a real client.
            pk = str(world["client"].pk)
            return [{"client_id": pk, "object_id": pk, "id": pk}]
        if short == "booking_reports_csv":
            # Issue 15: a real report's CSV (the path's other values are fuzzed below).
            return [{"slug": "utilisation-weeks"}]
        if short == "view_on_site":
            ct = ContentType.objects.get_for_model(type(world["article"]))
            return [{"content_type_id": str(ct.pk), "object_id": str(world["article"].pk)}]
        for model in admin.site._registry:
            prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
            if short.startswith(prefix):
                first = model._default_manager.order_by("pk").first()
                return [{"object_id": str(first.pk) if first else "1", "id": str(first.pk) if first else "1"}]
        return [{}]
    if name in ("booking:account-signin-link", "booking:account-erase-confirm"):
        # A real, unused link of the client's (issue 14): a sign-in link opened in a
        # browser that did not ask for it is refused (403), a deletion link asks first.
        from datetime import timedelta

        from django.utils import timezone

        from booking.models import ClientLink
        from booking.services import signin

        purpose = ClientLink.Purpose.SIGN_IN if name.endswith("signin-link") else ClientLink.Purpose.ERASE
        link = ClientLink.objects.create(
            purpose=purpose, client=appointment.client, expires_at=timezone.now() + timedelta(days=1)
        )
        return [{"token": signin.link_token(link)}]
    if name == "booking:therapist_calendar":
        # A live calendar feed of the therapist's (issue 15); each new one replaces the last.
        from booking.services import calendar_feeds

        user = world["users"]["therapist"]
        _feed, secret = calendar_feeds.calendar_feed_create(therapist=user.therapist, by=user)
        return [{"secret": secret}]
    if name in ("booking:waitlist-offer", "booking:waitlist-entry"):
        from booking.waitlist_views import entry_token

        token = (
            world["waitlist_offer"].token if name.endswith("offer") else entry_token(world["waitlist_entry"])
        )
        return [{"token": token}]
    return [
        {
            "technique": "swedish",
            "slug": world["article"].slug,
            "token": appointment.manage_token,
            "path": "therapists/none.jpg",
            "url": "nowhere/",
        }
    ]


def bad_tokens(world) -> list[str]:
    from django.core import signing

    from booking.models import manage_signer

    token = world["appointment"].manage_token
    return [
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token + token,
        manage_signer().sign("ZZZZZZZZ.secret"),
        signing.Signer(key="not-the-secret-key", salt="booking.appointment-manage").sign("ZZZZZZZZ.secret"),
        token.replace(":", "%3A"),
        ":" * 50,
    ]


def query_defaults(name: str, world) -> dict[str, str]:
    params = dict(PUBLIC_PARAMS.get(name, {}))
    if name == "admin:booking_my_days":
        # Issue 15: a superuser has no days of their own; managers look at a therapist's.
        params["therapist"] = str(world["appointment"].therapist_id)
    if params.get("start") == "" and not name.startswith("admin:"):
        start = world["free_start"]
        params["start"] = start[:10] if name == "booking:availability-api" else start
    return params


# ------------------------------------------------------------------ HTML forms


class FormFields(HTMLParser):
    """The fields of the page's main POST form (the admin's ``<model>_form``, or the first
    POST form that is not the log-out button), as a browser would submit them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fields: list[tuple[str, str]] = []
        self.depth = 0  # inside the chosen form
        self.done = False
        self.select: str | None = None
        self.select_options: list[tuple[str, bool]] = []
        self.select_multiple = False
        self.option: tuple[str, bool] | None = None
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self.done and not self.depth:
            if (a.get("method") or "").lower() == "post" and a.get("id") != "logout-form":
                self.depth = 1
            return
        if not self.depth:
            return
        if tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value") or ("on" if kind == "checkbox" else "")))
        elif tag == "select" and a.get("name"):
            self.select, self.select_options, self.select_multiple = a["name"], [], "multiple" in a
        elif tag == "option" and self.select is not None:
            self.select_options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self.textarea, self.text = a["name"], ""

    def handle_data(self, data):
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "form":
            self.depth, self.done = 0, True
        elif tag == "select" and self.select is not None:
            chosen = [v for v, selected in self.select_options if selected]
            if not chosen and not self.select_multiple:
                chosen = [v for v, _ in self.select_options if v][:1]
            self.fields.extend((self.select, v) for v in chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None


def form_data(body: str) -> dict[str, list[str]]:
    parser = FormFields()
    parser.feed(body)
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data


def values_for(field: str, fuzz: Fuzzer) -> list[str]:
    """A nasty value shaped like the field, and one from anywhere in the corpus."""
    lowered = field.lower()
    if lowered.endswith("_forms"):
        # An inline's form count: huge ones are capped by Django at 1,000 rows beyond the
        # maximum, which then take seconds to validate and draw; the rest of the corpus is
        # tried, and those seconds are left out of a test that must stay quick.
        return [fuzz.rng.choice(["-1", "NaN", "1e309", "٣", "", "\x00", "1.5", "x", "12", "0"])]
    if any(word in lowered for word in ("date", "day", "start", "end", "_0", "week", "at")):
        shaped = EDGE_DATES
    elif any(word in lowered for word in ("time", "_1")):
        shaped = ["25:61", "23:59:60", "24:00", "-1:00", "99999999:00"]
    elif any(
        word in lowered
        for word in (
            "length",
            "minutes",
            "hours",
            "days",
            "price",
            "order",
            "id",
            "forms",
            "number",
            "priority",
            "therapist",
            "technique",
            "page",
        )
    ):
        shaped = HUGE_NUMBERS
    else:
        shaped = NASTY_STRINGS
    return [fuzz.rng.choice(shaped), fuzz.rng.choice(CORPUS)]


def post_each_field(fuzz: Fuzzer, url: str, base: dict[str, list[str]], posts: int = 8) -> None:
    """The valid form, then every field nasty: one at a time for short forms; for long
    ones (inline rows), a few fields at a time (each field's own check still runs) so
    that a form costs at most ``posts`` requests."""
    fuzz.send("post", url, base)
    fields = [field for field in sorted(base) if field != "csrfmiddlewaretoken"]
    fuzz.rng.shuffle(fields)
    size = max(1, -(-len(fields) // posts))
    for first in range(0, len(fields), size):
        changed = {
            field: [fuzz.rng.choice(values_for(field, fuzz))] for field in fields[first : first + size]
        }
        fuzz.send("post", url, {**base, **changed})
    # Everything nasty at once, and every field repeated; the inline forms' counts stay
    # as they were (fuzzed above already; see values_for).
    counts = {field: values for field, values in base.items() if field.endswith("_FORMS")}
    fuzz.send("post", url, {**{field: [fuzz.rng.choice(CORPUS)] for field in base}, **counts})
    fuzz.send(
        "post",
        url,
        {**{field: [*values, fuzz.rng.choice(CORPUS)] for field, values in base.items()}, **counts},
    )


# ------------------------------------------------------------------ public pages


def test_public_pages_never_answer_with_a_server_error(client, world):
    fuzz = Fuzzer(client, "visitor")
    reached: dict[str, int] = {}
    public = [(route, name) for route, name in routes() if not route.startswith("admin/")]
    assert len(public) >= 15, public
    for route, name in public:
        for real in real_values(name, world):
            url = fill(route, real)
            params = query_defaults(name, world)
            reached[url], _ = fuzz.send("get", url, params)
            # Each path parameter nasty in turn.
            for placeholder in PLACEHOLDER.finditer(route):
                key = placeholder["name"] or placeholder["rname"]
                nasty = PATH_VALUES + (bad_tokens(world) if key == "token" else [])
                for value in nasty:
                    fuzz.send("get", fill(route, {**real, key: value}), params)
            # Each query parameter nasty in turn, then all repeated with odd partners.
            for key in [*params, *STRAY_PARAMS]:
                for value in fuzz.pick(CORPUS, 5):
                    fuzz.send("get", url, {**params, key: value})
            if params:
                fuzz.send(
                    "get", url, {key: [value, fuzz.rng.choice(CORPUS)] for key, value in params.items()}
                )
    # The real values really open each page (the picture file does not exist), so the
    # nasty ones are tried against pages that work.
    refused = {url: status for url, status in reached.items() if status >= 400}
    # A client's sign-in link opened in a browser that did not ask for it (issue 14).
    signin_links = {url for url in refused if url.startswith("/book/account/signin/") and url.count("/") == 5}
    assert {refused.pop(url) for url in signin_links} == {403}
    assert refused == {"/media/therapists%2Fnone.jpg": 404, "/book/account/signout/": 405}
    # The booking flow's forms, posted from a valid start with each field nasty.
    details = f"/book/swedish/details/?{urlencode(query_defaults('booking:details', world))}"
    status, body = fuzz.send("get", details)
    assert status == 200, body[:2000]
    post_each_field(fuzz, details, form_data(body))
    review = f"/book/swedish/review/?{urlencode(query_defaults('booking:review', world))}"
    fuzz.send("post", review)
    token = world["appointment"].manage_token
    for url in (f"/book/manage/{token}/cancel/", f"/book/manage/{token}/reschedule/confirm/"):
        for value in fuzz.pick(CORPUS, 6):
            fuzz.send("post", url + "?" + urlencode({"start": value}), {"start": value})
    # Static and uploaded files with odd names (served by WhiteNoise and by Django).
    for value in PATH_VALUES:
        for prefix in ("/static/", "/media/", "/media/therapists/"):
            fuzz.send("get", prefix + quote(value, safe=""))
    assert not fuzz.failures, f"{len(fuzz.failures)} of {fuzz.sent} requests failed:\n" + "\n".join(
        fuzz.failures
    )


# ------------------------------------------------------------------ the staff site


def admin_routes():
    return [(route, name) for route, name in routes() if route.startswith("admin/") and name]


def changelist_params(fuzz: Fuzzer, url: str) -> tuple[list[str], object]:
    """The parameters a change list reads: its filters', the date hierarchy's, and Django's."""
    status, _ = fuzz.send("get", url)
    response = fuzz.last_response
    if status != 200 or not response.context or "cl" not in response.context:
        return [], None
    changelist = response.context["cl"]
    params = ["q", "o", "p", "e", "all", "_popup", "_to_field", "_facets"]
    for spec in changelist.filter_specs:
        params += spec.expected_parameters()
    if changelist.date_hierarchy:
        params += [f"{changelist.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    return [p for p in dict.fromkeys(params) if p], changelist


def fuzz_changelist(fuzz: Fuzzer, url: str, values_per_param: int, lookups: bool) -> None:
    params, changelist = changelist_params(fuzz, url)
    for param in params:
        for value in fuzz.pick(CORPUS, values_per_param):
            fuzz.send("get", url, {param: value})
    if changelist is None:
        return
    hierarchy = changelist.date_hierarchy
    if hierarchy:
        edges = [("9999", "12", "31"), ("1", "1", "1"), ("2147483648", "1", "1"),
                 ("2026", "2147483648", "1"), ("2026", "2", "30"), ("9999", "12", None)]  # fmt: skip
        for year, month, day in edges:
            query = {f"{hierarchy}__year": year, f"{hierarchy}__month": month}
            if day:
                query[f"{hierarchy}__day"] = day
            fuzz.send("get", url, query)
    if lookups:
        # A hand-made lookup on every field, as the admin allows on its own model's fields.
        for field in changelist.model._meta.get_fields():
            if not getattr(field, "concrete", False) or isinstance(field, models.ManyToManyField):
                continue
            name = field.name if not field.is_relation else f"{field.name}__id"
            lookup = fuzz.rng.choice(LOOKUPS)
            fuzz.send("get", url, {f"{name}__{lookup}": fuzz.rng.choice(CORPUS)})
    # Actions on nasty selections.
    for value in fuzz.pick(CORPUS, 3):
        action = fuzz.rng.choice(
            [*(a for a in getattr(changelist.model_admin, "actions", None) or []), value]
        )
        fuzz.send("post", url, {"action": action, "_selected_action": [value], "index": value})


def fuzz_admin_forms(fuzz: Fuzzer, route: str, name: str, world) -> None:
    """Post the change form back with each field nasty; post it to the add page too."""
    for real in real_values(name, world):
        url = fill(route, real)
        status, body = fuzz.send("get", url)
        if status != 200:
            continue
        base = form_data(body)
        if not base:
            continue
        post_each_field(fuzz, url, base)
        if name.endswith("_change"):
            # The same data as a new object: no inline rows yet, no ids.
            add = url.rsplit("/", 3)[0] + "/add/"
            added = {
                key: (["0"] if key.endswith("-INITIAL_FORMS") else values)
                for key, values in base.items()
                if not re.search(r"-\d+-id$", key)
            }
            fuzz.send("post", add, added)


def fuzz_admin(fuzz: Fuzzer, world, *, thorough: bool) -> dict[str, int]:
    """Fuzz every admin address; return the status of each one opened with real values."""
    reached: dict[str, int] = {}
    for route, name in admin_routes():
        short = name.removeprefix("admin:")
        if short in ("logout", "password_change"):
            continue  # would end the session the rest of the run needs
        for real in real_values(name, world):
            url = fill(route, real)
            params = query_defaults(name, world)
            reached[url], _ = fuzz.send("get", url, params)
            for key in params:
                for value in fuzz.pick(CORPUS, 3 if thorough else 1):
                    fuzz.send("get", url, {**params, key: value})
            fuzz.send("get", url, {**params, **{key: fuzz.rng.choice(CORPUS) for key in STRAY_PARAMS}})
            for placeholder in PLACEHOLDER.finditer(route):
                key = placeholder["name"] or placeholder["rname"]
                for value in fuzz.pick(PATH_VALUES, 2 if thorough else 1):
                    fuzz.send("get", fill(route, {**real, key: value}))
        if short.endswith("_changelist"):
            fuzz_changelist(fuzz, fill(route, {}), 2 if thorough else 1, lookups=thorough)
        if thorough and (short.endswith("_change") or short.endswith("_add")):
            fuzz_admin_forms(fuzz, route, name, world)
    # Every page also under a NUL and an enormous query string.
    fuzz.send("get", "/admin/?" + "a=" + "b" * 10_000)
    fuzz.send("get", "/admin/booking/appointment/?" + "&".join(f"status__exact={i}" for i in range(500)))
    return reached


def test_staff_site_never_answers_with_a_server_error_for_a_superuser(client, world):
    client.force_login(world["users"]["superuser"])
    fuzz = Fuzzer(client, "superuser")
    reached = fuzz_admin(fuzz, world, thorough=True)
    assert fuzz.sent > 500
    # Every page opens with real values, but what the site refuses to everyone: adding
    # sign-in records or task results, deleting task results, a second booking policy, or
    # deleting the policy.
    uuid = re.compile(r"/[0-9a-f-]{36}/")
    # A time-off request's id depends on the database's sequence (PostgreSQL does not
    # restart it between tests).
    request_id = re.compile(r"(?<=/timeoffrequest/)\d+(?=/)")
    refused = {
        request_id.sub("<id>", uuid.sub("/<id>/", url)): status
        for url, status in reached.items()
        if status >= 400
    }
    assert refused == {
        "/admin/axes/accessattempt/add/": 403,
        "/admin/axes/accessfailurelog/add/": 403,
        "/admin/axes/accesslog/add/": 403,
        # Issue 15: the sign-in log is written only by sign-ins; two-factor devices only by
        # their owner's setup (clinic/otp.py).
        "/admin/clinic/signinevent/add/": 403,
        "/admin/clinic/signinevent/1/delete/": 403,
        "/admin/otp_totp/totpdevice/add/": 403,
        "/admin/otp_static/staticdevice/add/": 403,
        "/admin/django_tasks_database/dbtaskresult/add/": 403,
        "/admin/django_tasks_database/dbtaskresult/<id>/delete/": 403,
        "/admin/booking/bookingpolicy/add/": 403,
        "/admin/booking/bookingpolicy/1/delete/": 403,
        # The record of looks at health data is evidence: nobody adds or deletes it.
        "/admin/booking/healthdataaccess/add/": 403,
        "/admin/booking/healthdataaccess/1/delete/": 403,
        # The world holds no doctor's note file; marking one received is a POST only.
        "/admin/booking/doctornote/1/file/": 404,
        "/admin/booking/doctornote/received/1/": 405,
        # Issue 15: marking from My days is a POST only.
        "/admin/booking/my-days/1/mark/": 405,
        # Issue 11: policy texts and treatment notes are never deleted; only a therapist
        # (a Therapist linked to the account) writes a note; there is no note 1 to open.
        "/admin/booking/policytext/1/delete/": 403,
        "/admin/booking/treatmentnote/add/": 403,
        "/admin/booking/treatmentnote/1/change/": 404,
        "/admin/booking/treatmentnote/1/history/": 404,
        "/admin/booking/treatmentnote/1/delete/": 403,
        # Issue 14: waitlist entries are taken off the list, never deleted (their offers stay).
        f"/admin/booking/waitlistentry/{world['waitlist_entry'].pk}/delete/": 403,
        # Issue 15: a time-off request is asked by a therapist (the superuser is none), never
        # deleted, and withdrawn by a POST.
        "/admin/booking/timeoffrequest/add/": 403,
        "/admin/booking/timeoffrequest/<id>/delete/": 403,
        "/admin/booking/timeoffrequest/<id>/withdraw/": 405,
    }
    assert not fuzz.failures, f"{len(fuzz.failures)} of {fuzz.sent} requests failed:\n" + "\n".join(
        fuzz.failures
    )


@pytest.mark.parametrize("role", ["manager", "reception", "therapist"])
def test_staff_site_never_answers_with_a_server_error_for_each_role(client, world, role):
    assert Group.objects.filter(name__iexact=role).exists()
    client.force_login(world["users"][role])
    fuzz = Fuzzer(client, role)
    fuzz_admin(fuzz, world, thorough=False)
    assert not fuzz.failures, f"{len(fuzz.failures)} of {fuzz.sent} requests failed:\n" + "\n".join(
        fuzz.failures
    )


def test_the_fuzzer_sees_a_server_error(client, world, monkeypatch):
    """The harness itself: a view that fails is reported, with its address."""
    from booking import views

    def broken(*args, **kwargs):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(views.availability_cache, "week", broken)
    fuzz = Fuzzer(client, "visitor")
    fuzz.send("get", "/book/swedish/times/", {"length": "60"})
    assert fuzz.failures == [
        "visitor: GET /book/swedish/times/ length=60 -> OverflowError('date value out of range')"
    ]
    assert Appointment.objects.count() == 3  # two bookings and the waitlist's hold
