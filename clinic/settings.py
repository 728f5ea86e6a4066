"""Settings for the clinic site, read from the environment.

Every value has a safe default for local use; production sets the environment
(see README.md, "Configuration"). With DEBUG off the site refuses to start on the
development secret key.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from xstatic.pkg import bootstrap as xstatic_bootstrap

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


DEBUG = env_bool("DEBUG", False)

# Only ever used on a developer's machine: with DEBUG off the site will not start on it.
DEV_SECRET_KEY = "dev-only-secret-key-never-use-in-production-0123456789abcdefghij"
SECRET_KEY = os.environ.get("SECRET_KEY", "") or DEV_SECRET_KEY
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. With DEBUG off the clinic site refuses to start on the "
        "development key: set SECRET_KEY to a long random value (or DEBUG=true locally)."
    )

# Health answers, doctors' notes and treatment notes are encrypted at rest
# (django-fernet-encrypted-fields): each key is derived from SECRET_KEY (and its
# SECRET_KEY_FALLBACKS) with a salt from FIELD_ENCRYPTION_SALT, newest first. The first
# salt encrypts; every listed one still decrypts. Rotation: put a new salt first, run
# `manage.py reencrypt_health_data`, then drop the old salt (README, "Health data").
DEV_FIELD_ENCRYPTION_SALT = "dev-only-health-data-salt"
SALT_KEY = env_list("FIELD_ENCRYPTION_SALT", "") or [DEV_FIELD_ENCRYPTION_SALT]
if not DEBUG and SALT_KEY == [DEV_FIELD_ENCRYPTION_SALT]:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_SALT is not set. With DEBUG off the clinic site refuses to start "
        "without it: health data is encrypted with keys derived from it and SECRET_KEY."
    )
# Clinical records are kept this many years after a client's last visit, then
# `manage.py erase_expired_clients` (daily, from cron) erases the client (README, "Health data").
CLIENT_RETENTION_YEARS = env_int("CLIENT_RETENTION_YEARS", 8)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Django's admin with the clinic's site (titles, the schedule page): clinic/admin.py.
    "clinic.apps.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles so runserver serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    # Staff sign-in lockouts (django-axes), named in plain words (clinic/apps.py).
    "clinic.apps.SignInLockoutsConfig",
    "phonenumber_field",
    "django_tasks",
    # The emails queue, shown to managers as the "Email outbox" (clinic/apps.py).
    "clinic.apps.EmailOutboxConfig",
    # Two-factor sign-in for staff (clinic/otp.py): authenticator apps and backup codes.
    "django_otp",
    "clinic.apps.AuthenticatorAppsConfig",
    "clinic.apps.BackupCodesConfig",
    "clinic",
    "articles",
    "booking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (clinic/security.py).
    "clinic.security.ClinicCSPMiddleware",
    "clinic.security.PermissionsPolicyMiddleware",
    # A body larger than MAX_REQUEST_BYTES is refused before it is read (clinic/request_size.py).
    "clinic.request_size.RequestSizeLimitMiddleware",
    # Stored article pages for visitors, answered before the middleware below: only the
    # headers above are made afresh (articles/caching.py).
    "articles.caching.ArticlePageCacheMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): has this session passed the second factor (clinic/otp.py).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Signs staff out after STAFF_IDLE_MINUTES without a request (clinic/staff_session.py).
    "clinic.staff_session.StaffIdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clinic.site.RequestBaseUrlMiddleware",
    # Last: turns a locked-out sign-in into the lockout page (clinic/signin.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.clinic",
            ],
        },
    },
]

WSGI_APPLICATION = "clinic.wsgi.application"

# SQLite by default (a file beside manage.py); PostgreSQL when DATABASE_URL says so.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE takes the write lock when a transaction starts, so two bookings
    # cannot both read "free" and then both write: writers queue instead of racing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file beside the database (not memory): concurrency tests need threads
    # with connections of their own to the same database.
    _db_path = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_db_path.with_name(f".test-{_db_path.name}"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
USE_I18N = True
# 24-hour times in the admin too, and no seconds in time boxes (clinic/formats/en_GB).
FORMAT_MODULE_PATH = ["clinic.formats"]
USE_TZ = True
# Datetimes are stored in UTC; the clinic's own zone is what people see and think in.
CLINIC_TIME_ZONE = os.environ.get("CLINIC_TIME_ZONE", "Europe/London")
TIME_ZONE = CLINIC_TIME_ZONE

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Bootstrap comes from the xstatic-bootstrap package: no CDN, nothing vendored.
    ("bootstrap", xstatic_bootstrap.BASE_DIR),
]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", "") or BASE_DIR / "media")
# Files only staff may fetch (doctors' notes): never under MEDIA_ROOT, never served by URL.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", "") or BASE_DIR / "private")
# Phone numbers typed without a country code are read as this region's (E.164 stored).
PHONENUMBER_DEFAULT_REGION = os.environ.get("CLINIC_PHONE_REGION", "GB")
PHONENUMBER_DB_FORMAT = "E164"
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Hashed file names never change content, so browsers may keep them for a year.
WHITENOISE_MAX_AGE = 31536000 if not DEBUG else 0
# Uploaded images are limited again by the image validators; this caps a whole request.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A whole request body, files included: two 5 MB doctor's notes (a session for two) and
# the form. Larger is refused with a 413 before it is read (clinic/request_size.py).
MAX_REQUEST_BYTES = env_int("CLINIC_MAX_REQUEST_MB", 12) * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o644

# Shared by every server process with no extra service: Django's database cache, whose
# table the migration clinic/0002_cache_table makes. Redis when REDIS_URL is set. (The
# rate limits count in a table of their own, clinic.models.RateLimitCounter.)
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "clinic_cache"}
    )
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LOGIN_URL = "admin:login"
# A form sent without its security token gets a page in the site's look (clinic/views.py).
CSRF_FAILURE_VIEW = "clinic.views.csrf_failure"
# Sign-in throttling (django-axes, clinic/signin.py): the lockout check runs first.
AUTHENTICATION_BACKENDS = [
    "clinic.signin.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After SIGNIN_FAILURE_LIMIT wrong passwords for one username, or from one address,
# signing in is refused for SIGNIN_LOCKOUT_MINUTES after the last failure. Failures while
# locked out do not extend the pause. A manager unlocks early by deleting the account's
# "Access attempts" in the admin.
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "clinic.signin.lockout_response"
# The same client address as the booking rate limit (honours TRUSTED_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "clinic.signin.client_ip"
# No start-up banner on every manage.py command; lockouts are still logged.
AXES_VERBOSE = False
# Where a sign-in lands when its ?next= is missing or unsafe (another site): staff only
# sign in to the admin, and Django's default /accounts/profile/ does not exist here.
LOGIN_REDIRECT_URL = "admin:index"

# Two-factor sign-in (django-otp, clinic/otp.py). Managers, therapists and superusers
# must use it (they see health data); reception may. The authenticator app's name for
# the clinic, and how many backup codes a member of staff gets at a time.
OTP_TOTP_ISSUER = os.environ.get("CLINIC_NAME", "Willow Massage Clinic")
STAFF_BACKUP_CODES = 10
# Minutes the password step is remembered while the second factor is asked for.
STAFF_TWO_FACTOR_PENDING_MINUTES = 5
# A staff session ends after this many minutes without a request (clinic/staff_session.py).
# Visitors' sessions keep their own rules (BOOKING_DRAFT_SECONDS).
STAFF_IDLE_MINUTES = env_int("STAFF_IDLE_MINUTES", 30)
# "Forgot your password?" (Django's reset by email, staff accounts only): requests one
# address may make per hour before a 429 page; and emails one account may get per hour
# (past it the page looks the same, but nothing is sent).
PASSWORD_RESET_RATE_LIMIT = env_int("PASSWORD_RESET_RATE_LIMIT", 5)
PASSWORD_RESET_EMAILS_PER_ACCOUNT = 3
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_MINUTES", 60) * 60

# Email: console in development; SMTP (or any backend) from the environment in production.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Willow Massage Clinic <hello@localhost>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
CLINIC_STAFF_EMAIL = os.environ.get("CLINIC_STAFF_EMAIL", "reception@localhost")
ADMINS = [("Clinic admin", a) for a in env_list("ADMINS", "")]

# The clinic's public details, shown in the header, footer and structured data.
CLINIC = {
    "name": os.environ.get("CLINIC_NAME", "Willow Massage Clinic"),
    "tagline": os.environ.get("CLINIC_TAGLINE", "Massage therapy for body and mind"),
    "address": os.environ.get("CLINIC_ADDRESS", "12 Orchard Lane, Canterbury CT1 2AB"),
    "phone": os.environ.get("CLINIC_PHONE", "01227 123 456"),
    "email": os.environ.get("CLINIC_EMAIL", "hello@willow-clinic.example"),
    # One "label: hours" pair per line, separated by ";".
    "opening_hours": [
        tuple(part.strip() for part in line.split("=", 1))
        for line in os.environ.get(
            "CLINIC_OPENING_HOURS",
            "Monday to Friday=09:00 to 19:00;Saturday=09:00 to 17:00;Sunday=Closed",
        ).split(";")
        if "=" in line
    ],
}

# Production hardening. `manage.py check --deploy` reports nothing with DEBUG off.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Database sessions, one statement per write (clinic/session_store.py says why).
SESSION_ENGINE = "clinic.session_store"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    if env_bool("BEHIND_HTTPS_PROXY", False):
        # Trust the proxy's header only when told we sit behind one that sets it.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp 4 format): the site's own scripts, styles, fonts and
# pictures only; no inline script or style, no plugins, no framing, forms post only here.
# Bootstrap's CSS draws its small icons (select arrows, ticks) as data: images.
# JSON-LD blocks (type="application/ld+json") are data, never run, so CSP does not apply
# to them. The admin adds style attributes: see clinic/security.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Browser features no page uses, refused for the site and anything embedded in it.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Django logs the address of every 4xx/5xx answer; a calendar feed's address is its
    # secret, so it is cut from those lines (clinic/logfilters.py).
    "filters": {"hide_feed_secrets": {"()": "clinic.logfilters.HideFeedSecrets"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["hide_feed_secrets"]},
    },
}

# Articles: uploaded hero images.
ARTICLE_IMAGE_MAX_BYTES = 5 * 1024 * 1024
# Pictures are decoded in the web worker to make renditions: 20 megapixels (a 12 MP phone
# photo fits) keeps that near 100 MB and a second or two; 6000×6000 took 490 MB and 5 s.
ARTICLE_IMAGE_MAX_PIXELS = 5000  # a side
ARTICLE_IMAGE_MAX_MEGAPIXELS = 20
ARTICLE_IMAGE_MIN_WIDTH = 800
ARTICLE_RENDITION_WIDTHS = (480, 800, 1200)
# Seconds a visitor's copy of an article page may be reused (0 turns the cache off).
ARTICLE_PAGE_CACHE_SECONDS = env_int("ARTICLE_PAGE_CACHE_SECONDS", 0 if DEBUG else 300)
# Each process re-reads the articles' version from the database at most this often and
# serves its own copies in between, so an edit or publication shows on every process and
# host within this many seconds (0: at once, at the price of a query per page served).
ARTICLE_PAGE_RECHECK_SECONDS = env_int("ARTICLE_PAGE_RECHECK_SECONDS", 1)

# The public address of the site, for links in emails (sent by a worker, with no request).
# Unset with DEBUG on, links use the address of the request that caused the email (the
# host and port runserver was given; clinic/site.py).
SITE_URL = os.environ.get("SITE_URL", "" if DEBUG else "http://127.0.0.1:8000").rstrip("/")

# Background tasks (emails). The database backend stores each task in the same
# transaction as the booking that caused it, and `manage.py db_worker` runs them. In
# development the immediate backend runs them at once (after the commit), so emails show
# up on the console without a worker.
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "immediate" if DEBUG else "database")
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[TASKS_BACKEND]
    }
}
# A failed email is tried again after 1, 2, 4 ... minutes (at most an hour apart), this
# many times in all: about two days before it is given up and left for staff to see.
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 55)
# Emails to one client address in any 24 hours, past which the clinic sends no more (the
# outbox shows them as not sent): anyone can type any address into the booking form.
# Staff notices are not counted.
EMAIL_MAX_PER_RECIPIENT_PER_DAY = env_int("EMAIL_MAX_PER_RECIPIENT_PER_DAY", 20)
# A task worker (`manage.py run_worker`) beats every quarter of this many seconds; a task
# left running by a worker silent this long (killed, out of memory) is run again by
# another. Also the longest a task may run under a plain `db_worker` before it is.
TASK_WORKER_TIMEOUT = env_int("TASK_WORKER_TIMEOUT", 60)
# A task whose worker died this many times is marked failed rather than run again.
TASK_MAX_WORKER_LOSSES = env_int("TASK_MAX_WORKER_LOSSES", 3)

# Online booking limits against abuse.
# Booking submissions one address (IP) may make in the window before getting a 429.
BOOKING_RATE_LIMIT = env_int("BOOKING_RATE_LIMIT", 10)
BOOKING_RATE_WINDOW_SECONDS = env_int("BOOKING_RATE_WINDOW_SECONDS", 3600)
# Upcoming appointments one email address may hold online (staff bookings are not capped).
BOOKING_MAX_UPCOMING_PER_EMAIL = env_int("BOOKING_MAX_UPCOMING_PER_EMAIL", 3)
# Behind a reverse proxy, the client's address is the last X-Forwarded-For entry the
# proxy appended; set to 1 only when such a proxy is really in front.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Cancellations and moves through one manage link, and from one address, per window.
MANAGE_RATE_LIMIT = env_int("MANAGE_RATE_LIMIT", 5)
MANAGE_RATE_LIMIT_PER_ADDRESS = env_int("MANAGE_RATE_LIMIT_PER_ADDRESS", 20)
MANAGE_RATE_WINDOW_SECONDS = env_int("MANAGE_RATE_WINDOW_SECONDS", 3600)
# Clients' sign-in and account links by email (issue 14): how long a link works, and
# how many links one email address, and one IP address, may ask for per window.
CLIENT_LINK_MINUTES = env_int("CLIENT_LINK_MINUTES", 15)
SIGNIN_LINK_RATE_LIMIT = env_int("SIGNIN_LINK_RATE_LIMIT", 5)
SIGNIN_LINK_RATE_LIMIT_PER_IP = env_int("SIGNIN_LINK_RATE_LIMIT_PER_IP", 20)
SIGNIN_LINK_RATE_WINDOW_SECONDS = env_int("SIGNIN_LINK_RATE_WINDOW_SECONDS", 3600)
# Therapists' calendar feeds (issue 15): downloads one IP address may make per hour. A
# phone asks every 15 minutes or so; a clinic's Wi-Fi (or Google's calendar servers)
# puts many phones behind one address, hence the room.
CALENDAR_FEED_RATE_LIMIT = env_int("CALENDAR_FEED_RATE_LIMIT", 600)
# An unfinished booking (the details and health answers a visitor typed) is kept this
# long, then dropped; a visitor's session ends as soon with it. Staff sessions keep
# Django's default length.
BOOKING_DRAFT_SECONDS = env_int("BOOKING_DRAFT_SECONDS", 2 * 3600)
# Reminder emails go this many hours before an appointment (`manage.py send_reminders`,
# run from cron every few minutes, queues them).
REMINDER_HOURS_BEFORE = env_int("REMINDER_HOURS_BEFORE", 24)
# Waitlist (issue 14): how long a freed time is held for the client it is offered to
# before it goes to the next in line (`manage.py release_lapsed_holds` from cron).
WAITLIST_HOLD_MINUTES = env_int("WAITLIST_HOLD_MINUTES", 30)
