"""ShieldX settings: one module, read from the environment.

With nothing set, an embedded default serves a first try: SQLite (WAL), Django's
in-process cache and Celery tasks run in-process. Under pytest, unset
DATABASE_URL/REDIS_URL point at the local PostgreSQL and Redis instead, because the
suite tests the real thing. ``SHIELDX_ENV=production`` refuses weak secrets.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from shieldx import testrun
from shieldx.env import envbool, envint, envlist, envsecret, envstr
from shieldx.masking.phones import parse_phone_regions

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("SHIELDX_VAR_DIR", str(BASE_DIR / "var")))

SHIELDX_ENV = envstr("SHIELDX_ENV", "development")
if SHIELDX_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"SHIELDX_ENV must be 'development' or 'production', got {SHIELDX_ENV!r}")
PRODUCTION = SHIELDX_ENV == "production"
TESTING = "pytest" in sys.modules

# Which app's routes this process serves: credits|shadow|camouflage|all (web roles);
# worker and beat serve the operational routes only.
SHIELDX_ROLE = envstr("SHIELDX_ROLE", "all")
if SHIELDX_ROLE not in {"all", "credits", "shadow", "camouflage", "worker", "beat"}:
    raise ImproperlyConfigured(f"SHIELDX_ROLE must be one of all|credits|shadow|camouflage|worker|beat, got {SHIELDX_ROLE!r}")

# --- secrets -------------------------------------------------------------------------
_DEV_SECRET = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105 - refused in production
SECRET_KEY = envsecret("SECRET_KEY")
if PRODUCTION:
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure") or SECRET_KEY == _DEV_SECRET:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set to a random value of at least 50 characters "
            "in production; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )
elif not SECRET_KEY:
    SECRET_KEY = _DEV_SECRET

DEBUG = envbool("DEBUG", False) and not PRODUCTION
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this service answers to in production")

# --- applications --------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "shieldx",
    "credits",
    "shadow",
    "camouflage",
    "console",
]

MIDDLEWARE = [
    "shieldx.middleware.RequestIdMiddleware",
    # Before the request metrics: an invented method must never become a metric label.
    "shieldx.middleware.StandardMethodsMiddleware",
    "shieldx.middleware.RequestMetricsMiddleware",
    "shieldx.middleware.BodySizeLimitMiddleware",
    "shieldx.middleware.KeysOnlyInHeaderMiddleware",
    "shieldx.middleware.RequestSanityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static (admin, the offline API docs' assets) from gunicorn, with far-future caching.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Browser pages only (admin, console): the JSON API skips these (shieldx/middleware.py).
    "shieldx.middleware.PageSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # CSRF and frame options stay for every path: cheap, and `check --deploy` looks for them by name.
    "django.middleware.csrf.CsrfViewMiddleware",
    "shieldx.middleware.PageAuthenticationMiddleware",
    "shieldx.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shieldx.urls"
WSGI_APPLICATION = "shieldx.wsgi.application"
APPEND_SLASH = False

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
            ],
        },
    },
]

# --- database ------------------------------------------------------------------------
_DEFAULT_TEST_DB = "postgres://postgres@127.0.0.1:5432/shieldx"
DATABASE_URL = envsecret("DATABASE_URL") or (_DEFAULT_TEST_DB if TESTING else "")
if PRODUCTION and not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL (or DATABASE_URL_FILE) must be set in production; the SQLite default is for a first try only")
if DATABASE_URL:
    # Persistent connections: opening one per request made consume 5x slower here.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
    if TESTING and "sqlite" not in DATABASES["default"]["ENGINE"]:
        DATABASES["default"]["TEST"] = {"NAME": testrun.database_name()}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["connect_timeout"] = envint("DATABASE_CONNECT_TIMEOUT", 3, minimum=1)
        # Server-side binding lets psycopg prepare the hot statements (key lookup, lock,
        # the ledger write) once per connection instead of PostgreSQL re-planning them.
        if envbool("DATABASE_SERVER_SIDE_BINDING", True):
            options.update(server_side_binding=True, prepare_threshold=envint("DATABASE_PREPARE_THRESHOLD", 2, minimum=0))
        DATABASES["default"]["ENGINE"] = "shieldx.db.postgresql"  # metrics + circuit breaker
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "shieldx.sqlite3",
            "OPTIONS": {
                # IMMEDIATE transactions take the write lock up front, so concurrent
                # writers wait (busy timeout) instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
# Write requests run pipelined on PostgreSQL (shieldx/db): fewer round trips. Off for
# poolers or proxies that cannot carry psycopg's pipeline mode.
DATABASE_PIPELINE = envbool("DATABASE_PIPELINE", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASE_ENGINE = "postgresql" if "postgresql" in DATABASES["default"]["ENGINE"] else "sqlite"

# --- cache and Redis -----------------------------------------------------------------
# Each test run leases Redis databases of its own, so it never touches a dev server's
# keys or another run's (shieldx/testrun.py); TEST_REDIS_AUX_URL is for real workers' brokers.
if TESTING:
    REDIS_URL, TEST_REDIS_AUX_URL = testrun.redis_urls(envsecret("REDIS_URL") or "redis://127.0.0.1:6379")
else:
    REDIS_URL = envsecret("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("SHIELDX_CACHE_PREFIX", "shieldx-test" if TESTING else "shieldx"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "shieldx"}}

# --- Celery --------------------------------------------------------------------------
CELERY_BROKER_URL = envsecret("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = envsecret("CELERY_RESULT_BACKEND") or REDIS_URL or None
# Without a broker, tasks run in-process: the embedded default needs no worker. Tests run
# tasks in-process too, except those that start a real worker and say so.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL or envbool("CELERY_TASK_ALWAYS_EAGER", TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
# A child killed mid-task is otherwise acknowledged and its work lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "credits-expire-holds": {"task": "credits.expire_holds", "schedule": 30.0},
    "credits-expire-grants": {"task": "credits.expire_grants", "schedule": 30.0},
    # Webhook retries, and any event whose after-commit queueing was lost.
    "credits-deliver-due-events": {"task": "credits.deliver_due_events", "schedule": 15.0},
    "credits-purge-idempotency-records": {"task": "credits.purge_idempotency_records", "schedule": 3600.0},
    "credits-verify-audit-chains": {"task": "credits.verify_audit_chains", "schedule": 3600.0},
}
# Shadow evaluations: samples per batch task; the queue their tasks go to (a dedicated
# worker pool can take it); a pause per batch for failure drills and tests only.
SHADOW_BATCH_SIZE = envint("SHADOW_BATCH_SIZE", 100, minimum=1)
SHADOW_CELERY_QUEUE = envstr("SHADOW_CELERY_QUEUE", "celery")
SHADOW_BATCH_DELAY_MS = envint("SHADOW_BATCH_DELAY_MS", 0, minimum=0)
# A waiting POST /shadow/evaluate holds a sync web worker: at most this many workers of
# one gunicorn wait at once (default: a third of them, at least one), each at most
# SHADOW_MAX_WAIT_SECONDS; other requests answer 202 with Location at once. gunicorn.conf.py
# publishes the worker count as SHIELDX_WEB_WORKERS.
SHADOW_MAX_WAIT_SECONDS = envint("SHADOW_MAX_WAIT_SECONDS", 60, minimum=0)
SHADOW_WAIT_SLOTS = envint("SHADOW_WAIT_SLOTS", max(1, envint("SHIELDX_WEB_WORKERS", 3, minimum=1) // 3), minimum=0)
# No task may hold a worker child for ever, nor grow without bound: the soft limit raises
# SoftTimeLimitExceeded in the task (a shadow batch then fails its evaluation with a
# reason), the hard limit kills the child; a child whose memory passed the ceiling after
# a task is replaced (KiB, Celery's unit); SHIELDX_WORKER_MEMORY_LIMIT_MB caps each
# child's heap while a task runs (RLIMIT_DATA: a MemoryError, not an OOM-killed pod).
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT + 30, minimum=CELERY_TASK_SOFT_TIME_LIMIT + 1)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = envint("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 600 * 1024, minimum=0) or None
SHIELDX_WORKER_MEMORY_LIMIT_MB = envint("SHIELDX_WORKER_MEMORY_LIMIT_MB", 0, minimum=0)

# --- REST framework and OpenAPI ------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shieldx.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["shieldx.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["shieldx.ratelimit.ApiKeyRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["shieldx.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "shieldx.parsers.JSONNegotiation",
    "EXCEPTION_HANDLER": "shieldx.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ShieldX Platform API",
    "DESCRIPTION": "Prepaid credits, shadow evaluation of detection rules, and payment-data protection.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Assets come from drf-spectacular-sidecar, so /api/docs works with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The apps' hooks shape their own bodies first; the base's then closes every request
    # object, adds the headers and the tenant id's pattern (CONTRACT §1a).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "shadow.openapi.postprocess",
        "camouflage.openapi.postprocess",
        "shieldx.openapi.postprocess",
    ],
}

# Per-query timing and counting by django-prometheus (django_db_execute_total,
# django_db_query_duration_seconds): off by default, it costs the hot path and feeds no alert.
SHIELDX_DB_QUERY_METRICS = envbool("SHIELDX_DB_QUERY_METRICS", False)

# Webhook URLs may be http and reach loopback, private and link-local addresses (tests,
# private networks); off, they must be https and resolve to public addresses (SSRF).
SHIELDX_WEBHOOK_ALLOW_PRIVATE = envbool("SHIELDX_WEBHOOK_ALLOW_PRIVATE", False)

# Requests per minute per API key; 0 turns limiting off.
SHIELDX_RATE_LIMIT = envint("SHIELDX_RATE_LIMIT", 6000, minimum=0)

# Circuit breakers (per process): consecutive failures that open one, seconds before a
# half-open probe, probes admitted while half-open.
SHIELDX_BREAKER_FAIL_MAX = envint("SHIELDX_BREAKER_FAIL_MAX", 3, minimum=1)
SHIELDX_BREAKER_RESET_SECONDS = envint("SHIELDX_BREAKER_RESET_SECONDS", 5, minimum=1)
SHIELDX_BREAKER_HALF_OPEN_CALLS = envint("SHIELDX_BREAKER_HALF_OPEN_CALLS", 1, minimum=1)

# Request bodies: 10 MiB, dataset uploads 100 MiB (CONTRACT §1).
SHIELDX_MAX_BODY_BYTES = envint("SHIELDX_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)
SHIELDX_MAX_UPLOAD_BYTES = envint("SHIELDX_MAX_UPLOAD_BYTES", 100 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = SHIELDX_MAX_UPLOAD_BYTES

# --- camouflage keyring --------------------------------------------------------------
# "1:<base64 of 32 bytes>,2:<…>": the highest version encrypts; versions from
# SHIELDX_KEYRING_MIN_VERSION up decrypt (0: every version). Parsed and validated by
# camouflage's system check, which fails in production when it is missing; elsewhere a
# development keyring derived from SECRET_KEY serves, and the check says so.
SHIELDX_KEYRING = envsecret("SHIELDX_KEYRING")
SHIELDX_KEYRING_MIN_VERSION = envint("SHIELDX_KEYRING_MIN_VERSION", 0, minimum=0)

# --- PII masking ----------------------------------------------------------------------
# Regions whose phone numbers are recognised without `+` (CONTRACT §5a); applied to the
# masker by ShieldxConfig.ready.
try:
    SHIELDX_PHONE_REGIONS = parse_phone_regions(os.environ.get("SHIELDX_PHONE_REGIONS"))
except ValueError as exc:
    raise ImproperlyConfigured(f"SHIELDX_PHONE_REGIONS: {exc}") from None

# --- security ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    # TLS ends at the ingress; probes and scrapes reach pods over plain HTTP.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [f"https://{host}" for host in ALLOWED_HOSTS if "*" not in host])

# --- i18n and static -----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Outside production, WhiteNoise finds files in the apps directly (no collectstatic step);
# the production image collects them at build time.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing

# --- metrics -------------------------------------------------------------------------
# Several gunicorn workers share counters through files in this directory.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# Tenant and rule ids as labels (shadow_rule_f1_score): off by default, because they are
# values clients chose and each one adds series (CONTRACT §1a).
SHIELDX_METRICS_TENANT_LABELS = envbool("SHIELDX_METRICS_TENANT_LABELS", False)

# --- logging -------------------------------------------------------------------------
LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "shieldx.logs.RequestIdFilter"},
        "mask_pii": {"()": "shieldx.logs.MaskPIIFilter"},
        "redact_keys": {"()": "shieldx.keyguard.RedactApiKeysFilter"},
    },
    "formatters": {"json": {"()": "shieldx.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id", "mask_pii", "redact_keys"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        "celery": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "gunicorn.error": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}
