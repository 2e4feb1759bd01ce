"""Settings for the checkout, read from the environment.

With no variables set this runs the embedded defaults (SQLite under var/, a Celery broker on
the filesystem, the in-memory channel layer, email to the console and var/outbox/, the
simulator gateway). DATABASE_URL, REDIS_URL and STRIPE_SECRET_KEY switch to the real services.
With DEBUG off the process refuses to start without SECRET_KEY, ALLOWED_HOSTS and SITE_URL.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# Production must bring its own secrets; the embedded default key is only for DEBUG.
# SITE_URL is the address links in emails point to. The demo derives it from PORT (which
# `make demo` exports and serves on), so `PORT=8080 make demo` mails links to port 8080;
# production must say where it is really served (a proxy's https name, not the app's port).
if DEBUG:
    SECRET_KEY = env_str(
        "SECRET_KEY", "insecure-demo-key-only-for-debug-never-in-production-0123456789"
    )
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
    SITE_URL = env_str("SITE_URL") or f"http://127.0.0.1:{env_int('PORT', 8000)}"
else:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    SITE_URL = env_str("SITE_URL")
    missing = [
        n
        for n, v in (
            ("SECRET_KEY", SECRET_KEY),
            ("ALLOWED_HOSTS", ALLOWED_HOSTS),
            ("SITE_URL", SITE_URL),
        )
        if not v
    ]
    if missing:
        raise ImproperlyConfigured(
            "DEBUG is off, so these environment variables are required: " + ", ".join(missing)
        )
SITE_URL = SITE_URL.rstrip("/")
if urlsplit(SITE_URL).scheme not in {"http", "https"} or not urlsplit(SITE_URL).netloc:
    raise ImproperlyConfigured(f"SITE_URL must be an absolute http(s) URL, got {SITE_URL!r}")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "axes",
    "outbox",
    "accounts",
    "payments",
    "checkout",
    "support",
]

MIDDLEWARE = [
    # First, so every response (redirects and errors from the others too) carries the id.
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that answers, so every page (a 400 from the guard below too) carries it.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # The shopper's own time zone (the `tz` cookie) for every time a page shows.
    "config.shopper_time.ShopperTimeZoneMiddleware",
    # After the locale, so the 400 speaks the visitor's language; before sessions are read,
    # CSRF parses the form, or a view queries the database with what it was sent.
    "config.input_guard.RejectControlCharactersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout raised by authentication into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
# Threads per web process running HTTP requests (config/asgi.py). Keep DB_POOL_MAX at least this.
WEB_THREADS = env_int("WEB_THREADS", 4)

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
                "django.template.context_processors.i18n",
                "checkout.context_processors.cart",
            ],
            "libraries": {
                "shopper_time": "config.templatetags.shopper_time",
                "links": "config.templatetags.links",
            },
            # `{% field form.x %}` on every form page without a `{% load %}`.
            "builtins": ["config.templatetags.fields"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
# PostgreSQL: each web process and worker keeps a bounded pool of connections (psycopg-pool,
# Django 5.2's built-in pool) instead of one connection per request thread. Daphne runs every
# sync view in a thread of its own, so without the pool N concurrent requests open N connections
# and, past PostgreSQL's max_connections (100 by default), the extra ones fail "too many
# clients". With it a request waits up to DB_POOL_TIMEOUT seconds for a free connection.
# Budget: processes x DB_POOL_MAX (+ workers x their pool) must stay below max_connections
# minus superuser_reserved_connections (3); see the README ("Database connections").
DB_POOL = env_bool("DB_POOL", True)
DB_POOL_MIN = env_int("DB_POOL_MIN", 2)
DB_POOL_MAX = env_int("DB_POOL_MAX", 10)
DB_POOL_TIMEOUT = env_float("DB_POOL_TIMEOUT", 20.0)
# libpq gives up on a server that does not accept the connection within this many seconds
# (its minimum is 2), so a dead database is an error, not a hung request.
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5)
if DATABASE_URL:
    # The pool keeps connections itself, so Django's own persistence must stay off (Django
    # refuses CONN_MAX_AGE with a pool).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        _db_options = DATABASES["default"].setdefault("OPTIONS", {})
        _db_options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
        # Behind PgBouncer in transaction mode a named cursor would outlive its transaction.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool(
            "DB_DISABLE_SERVER_SIDE_CURSORS", False
        )
        if DB_POOL:
            _db_options["pool"] = {
                "min_size": DB_POOL_MIN,
                "max_size": DB_POOL_MAX,
                "timeout": DB_POOL_TIMEOUT,
            }
else:
    # SQLite by default. WAL lets readers run beside the one writer, IMMEDIATE takes the write lock
    # at BEGIN (so two writers queue instead of failing on upgrade), and the busy timeout makes the
    # web process and the worker wait for each other instead of raising "database is locked".
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "checkout.sqlite3"),
            # Kept open between requests: opening a SQLite connection (and running the PRAGMAs
            # below on it) on every request cost a sync worker more than the page's own query,
            # and several worker processes opening at once queued on the file's locks.
            "CONN_MAX_AGE": env_int("SQLITE_CONN_MAX_AGE", 600),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker, channel layer -----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# Every cache call is bounded: a stopped Redis refuses at once, a frozen one (a full disk, a
# paused VM, SIGSTOP) would otherwise hold the request for redis-py's 5 s default or forever.
# Rate limits and throttles fail open when the cache does not answer (accounts/ratelimit.py);
# sign-in lockouts live in the database (axes' database handler), so they hold regardless.
CACHE_CONNECT_TIMEOUT = env_float("CACHE_CONNECT_TIMEOUT", 0.5)
CACHE_SOCKET_TIMEOUT = env_float("CACHE_SOCKET_TIMEOUT", 0.5)


def redis_cache(url: str) -> dict[str, object]:
    """The cache on Redis at `url` (a function so the fault tests build the very same one on
    their private server)."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "checkout",
        # Passed to redis-py's connection pool. No retries: redis-py's Connection does not
        # retry unless told to, and a retry would only double the wait on a frozen server.
        "OPTIONS": {
            "socket_connect_timeout": CACHE_CONNECT_TIMEOUT,
            "socket_timeout": CACHE_SOCKET_TIMEOUT,
        },
    }


if REDIS_URL:
    CACHES = {"default": redis_cache(REDIS_URL)}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "checkout"},
        }
    }
    # CELERY_BROKER_URL may name a broker apart from the cache (and lets fault tests point a
    # worker at a Redis of their own).
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
    # A message a killed worker held comes back after the visibility timeout, so it is sized to
    # the longest task (plus margin), not an hour; the outbox sweep also delivers it sooner.
    # The short socket timeouts bound how long a request waits on a frozen broker at hand-off.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300),
        "socket_connect_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 2),
        "socket_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 2),
    }
else:
    # A file cache is shared by the web process and the worker, which local memory is not.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    # In memory, woken from request threads too (config/channel_layers.py).
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "config.channel_layers.ThreadSafeInMemoryChannelLayer"}
    }
    BROKER_DIR = VAR_DIR / "broker"
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }

CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "checkout")
# A hand-off to a dead broker gives up in about a second and a half (the outbox row is already
# committed; the sweep delivers it) instead of the default's retries holding the request.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_SOCKET_TIMEOUT", 2)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 30)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reconcile-payments": {"task": "payments.tasks.reconcile_payments", "schedule": 60.0},
    "retry-refunds": {"task": "payments.tasks.retry_refunds", "schedule": 60.0},
    "overdue-refunds": {"task": "payments.tasks.alert_overdue_refunds", "schedule": 600.0},
    "follow-ups": {"task": "checkout.tasks.send_follow_ups", "schedule": 300.0},
    "purge-deleted-addresses": {
        "task": "accounts.tasks.purge_deleted_addresses",
        "schedule": 60.0 * 60,
    },
    "support-overdue": {"task": "support.tasks.alert_overdue_tickets", "schedule": 120.0},
    "support-missed-chats": {"task": "support.tasks.expire_stale_chats", "schedule": 30.0},
    "outbox-sweep": {"task": "outbox.tasks.sweep", "schedule": float(OUTBOX_SWEEP_SECONDS)},
}
CELERY_TIMEZONE = "UTC"

# --- Outbox (side effects of state changes; not OUTBOX_DIR, which is the email folder) -------
# A failed delivery is tried again after OUTBOX_RETRY_SECONDS, doubling up to the maximum;
# after OUTBOX_MAX_ATTEMPTS tries it is given up, logged as an error and mailed to ADMINS.
OUTBOX_RETRY_SECONDS = env_int("OUTBOX_RETRY_SECONDS", 30)
OUTBOX_RETRY_MAX_SECONDS = env_int("OUTBOX_RETRY_MAX_SECONDS", 3600)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
# The sweep delivers due rows whose hand-off was lost, oldest first, a bounded batch within a
# time budget (well under the visibility timeout), leaving rows due less than the grace to
# their hand-off still in flight.
OUTBOX_SWEEP_BATCH = env_int("OUTBOX_SWEEP_BATCH", 100)
OUTBOX_SWEEP_BUDGET_SECONDS = env_int("OUTBOX_SWEEP_BUDGET_SECONDS", 20)
OUTBOX_HANDOFF_GRACE_SECONDS = env_int("OUTBOX_HANDOFF_GRACE_SECONDS", 10)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "checkout:product_list"
LOGOUT_REDIRECT_URL = "checkout:product_list"
PASSWORD_RESET_TIMEOUT = 60 * 60

# Lock one account from one client after 5 failures for 15 minutes; failures during the lockout
# do not restart the clock, so the wait we show is honest. The accounts issue adds the per-IP limit.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
# Sign-in ignores the email's letter case, so the lockout must count it the same way.
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_VERBOSE = False
# Behind a proxy set AXES_IPWARE_PROXY_COUNT so one proxy address cannot lock everyone out.
AXES_IPWARE_PROXY_COUNT = env_int("AXES_IPWARE_PROXY_COUNT", 0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

# --- Accounts: SMS, rate limits, addresses (issue 7) -----------------------------------------
# django-ipware is not installed, so axes would read REMOTE_ADDR (the proxy's address): the
# client IP for axes, our limits and API throttles comes from AXES_IPWARE_PROXY_COUNT instead.
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
# After axes' backend: the per-IP spraying limit, the per-account hourly cap, sign-in rate.
AUTHENTICATION_BACKENDS.insert(1, "accounts.backends.SignInLimitsBackend")
# axes has one failure limit for every parameter combination, so the higher per-IP limit
# (failed sign-ins to any accounts from one IP) is ours, counted in the cache.
ACCOUNTS_IP_FAILURE_LIMIT = env_int("ACCOUNTS_IP_FAILURE_LIMIT", 50)
ACCOUNTS_IP_FAILURE_WINDOW_MINUTES = env_int("ACCOUNTS_IP_FAILURE_WINDOW_MINUTES", 15)
# ASVS 2.2.1: at most 100 failed sign-ins an hour on one account, from all clients together.
ACCOUNTS_ACCOUNT_FAILURE_LIMIT = env_int("ACCOUNTS_ACCOUNT_FAILURE_LIMIT", 100)
# name: (hits, per seconds). Keys are the client IP, or the email/phone/user as typed.
ACCOUNTS_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "login_ip": (env_int("ACCOUNTS_LOGIN_PER_MINUTE", 30), 60),
    "register_ip": (env_int("ACCOUNTS_REGISTER_PER_HOUR", 10), 3600),
    "reset_ip": (20, 3600),
    "reset_target": (5, 3600),
    "sms_send_minute": (env_int("SMS_RESEND_PER_MINUTE", 1), 60),
    "sms_send_hour": (env_int("SMS_RESEND_PER_HOUR", 5), 3600),
    "sms_send_ip": (20, 3600),
    "code_check_ip": (30, 600),
    "claim_email": (3, 3600),
    # Pages that ask for the current password (change password, delete account), per account.
    "reauth": (5, 900),
}
# SMS: "accounts.sms.OutboxSmsBackend" (console + var/outbox/, the default),
# "accounts.sms.ConsoleSmsBackend", or a provider's backend with the same interface.
SMS_BACKEND = env_str("SMS_BACKEND", "accounts.sms.OutboxSmsBackend")
SMS_CODE_MINUTES = env_int("SMS_CODE_MINUTES", 10)  # ASVS 2.7.2: at most 10 minutes
SMS_CODE_MAX_GUESSES = env_int("SMS_CODE_MAX_GUESSES", 5)
# Soft-deleted addresses stay restorable this long, then a periodic task purges them.
ADDRESS_RESTORE_DAYS = env_int("ADDRESS_RESTORE_DAYS", 30)
# A "claim my guest orders" link emailed from the profile works this long.
ORDER_CLAIM_MAX_AGE_SECONDS = env_int("ORDER_CLAIM_MAX_AGE_SECONDS", 60 * 60 * 24)

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "config.mail.OutboxEmailBackend")
OUTBOX_DIR = Path(env_str("OUTBOX_DIR", str(VAR_DIR / "outbox")))
# Who hears about payments nobody could confirm (comma-separated addresses).
ADMINS = [(a, a) for a in env_list("ADMINS", "carol@example.com" if DEBUG else "")]
SERVER_EMAIL = env_str("SERVER_EMAIL", "Checkout <alerts@example.com>")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Checkout <shop@example.com>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# --- Shop and payments ----------------------------------------------------------------------
SHOP_CURRENCY = env_str("SHOP_CURRENCY", "USD").upper()
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
# Where the library sends API calls; empty is Stripe's own https://api.stripe.com.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
# The simulator signs its asynchronous events like Stripe does, with its own secret: derived
# from SECRET_KEY one way, so knowing it (it signs events anyone could see) reveals nothing of
# the key that signs sessions and password-reset links.
SIMULATOR_WEBHOOK_SECRET = env_str(
    "SIMULATOR_WEBHOOK_SECRET",
    "whsec_simulator_"
    + hmac.new(SECRET_KEY.encode(), b"simulator-webhook", hashlib.sha256).hexdigest(),
)
# Adyen for cards (issue 15): the gateway exists only when the key and merchant account are set.
# ADYEN_HMAC_KEY (hex) verifies its notifications; ADYEN_CHECKOUT_URL points the library at
# another Checkout API base (the tests' local fake); live needs Adyen's live URL prefix.
ADYEN_API_KEY = env_str("ADYEN_API_KEY")
ADYEN_MERCHANT_ACCOUNT = env_str("ADYEN_MERCHANT_ACCOUNT")
ADYEN_HMAC_KEY = env_str("ADYEN_HMAC_KEY")
ADYEN_ENVIRONMENT = env_str("ADYEN_ENVIRONMENT", "test").lower()
ADYEN_LIVE_PREFIX = env_str("ADYEN_LIVE_PREFIX")
ADYEN_CHECKOUT_URL = env_str("ADYEN_CHECKOUT_URL")
ADYEN_HTTP_TIMEOUT_SECONDS = env_int("ADYEN_HTTP_TIMEOUT_SECONDS", 30)
if ADYEN_ENVIRONMENT not in {"test", "live"}:
    raise ImproperlyConfigured("ADYEN_ENVIRONMENT must be test or live")
if ADYEN_HMAC_KEY and not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", ADYEN_HMAC_KEY):
    # Adyen gives the key in hex; any other value would refuse every notification as forged.
    raise ImproperlyConfigured("ADYEN_HMAC_KEY must be the hex key from Adyen's Customer Area")
if ADYEN_API_KEY and not ADYEN_HMAC_KEY and not DEBUG:
    raise ImproperlyConfigured("ADYEN_HMAC_KEY is required with ADYEN_API_KEY")
PAYMENTS_GATEWAY = "stripe" if STRIPE_SECRET_KEY else "simulator"
# Alipay direct and WeChat Pay direct (issue 15): each is configured only when all of its
# credentials are set; an empty value means "not configured" and get_gateway refuses it.
ALIPAY_APP_ID = env_str("ALIPAY_APP_ID")
ALIPAY_PRIVATE_KEY = env_str("ALIPAY_PRIVATE_KEY")  # our app's RSA2 private key (PEM)
ALIPAY_PUBLIC_KEY = env_str("ALIPAY_PUBLIC_KEY")  # Alipay's public key (PEM)
ALIPAY_GATEWAY_URL = env_str("ALIPAY_GATEWAY_URL", "https://openapi.alipay.com/gateway.do")
ALIPAY_TIMEOUT_SECONDS = env_float("ALIPAY_TIMEOUT_SECONDS", 10.0)
WECHATPAY_MCHID = env_str("WECHATPAY_MCHID")
WECHATPAY_APPID = env_str("WECHATPAY_APPID")
WECHATPAY_PRIVATE_KEY = env_str("WECHATPAY_PRIVATE_KEY")  # our merchant API private key (PEM)
WECHATPAY_CERT_SERIAL = env_str("WECHATPAY_CERT_SERIAL")  # serial of our merchant API cert
WECHATPAY_APIV3_KEY = env_str("WECHATPAY_APIV3_KEY")  # 32 characters; decrypts notifications
# WeChat Pay's platform public key and its id ("PUB_KEY_ID_..."): answers and notifications
# are verified with it, so no platform certificate is ever downloaded.
WECHATPAY_PLATFORM_PUBLIC_KEY = env_str("WECHATPAY_PLATFORM_PUBLIC_KEY")
WECHATPAY_PLATFORM_PUBLIC_KEY_ID = env_str("WECHATPAY_PLATFORM_PUBLIC_KEY_ID")
WECHATPAY_BASE_URL = env_str("WECHATPAY_BASE_URL", "https://api.mch.weixin.qq.com")
WECHATPAY_CONNECT_TIMEOUT_SECONDS = env_float("WECHATPAY_CONNECT_TIMEOUT_SECONDS", 5.0)
WECHATPAY_TIMEOUT_SECONDS = env_float("WECHATPAY_TIMEOUT_SECONDS", 10.0)
# Unsettled attempts (sent, unknown, processing) are read back from the provider after this long,
# and failed with `confirmation_timeout` once they are older than the limit.
PAYMENTS_RECONCILE_AFTER_SECONDS = env_int("PAYMENTS_RECONCILE_AFTER_SECONDS", 60)
PAYMENTS_CONFIRMATION_LIMIT_MINUTES = env_int("PAYMENTS_CONFIRMATION_LIMIT_MINUTES", 30)
# A 3D Secure, redirect or QR step nobody finished is canceled after this long, so the order can
# be paid another way (the customer can also cancel it at once from the order or checkout page).
PAYMENTS_ACTION_EXPIRY_MINUTES = env_int("PAYMENTS_ACTION_EXPIRY_MINUTES", 15)
# A refund the provider did not answer is sent again with the same key after this delay, then
# with a doubling delay (at most an hour); past the give-up age it is failed with `no_answer`,
# its amount is given back and staff are told to check the provider's dashboard.
PAYMENTS_REFUND_RETRY_SECONDS = env_int("PAYMENTS_REFUND_RETRY_SECONDS", 300)
PAYMENTS_REFUND_GIVE_UP_HOURS = env_int("PAYMENTS_REFUND_GIVE_UP_HOURS", 24)
# Customers may ask for a refund of a paid order this many days after paying; agents answer
# each request within this many hours (the queue's target, highlighted when passed).
REFUND_REQUEST_WINDOW_DAYS = env_int("REFUND_REQUEST_WINDOW_DAYS", 30)
REFUND_REQUEST_RESPONSE_HOURS = env_int("REFUND_REQUEST_RESPONSE_HOURS", 48)
# How long after a charge each provider still accepts a refund of it (days). A wallet withdrawal
# does not plan a refund of a top-up older than this: the page offers a ticket instead.
PAYMENTS_REFUND_WINDOW_DAYS = {"stripe": 180, "simulator": 180, "alipay": 365, "wechatpay": 365}
# Circuit breaker per method: over a rolling window, technical failures (timeouts, outages, 5xx;
# never customer declines) above a share of at least MIN_VOLUME attempts degrade the method, and
# above a higher share open the circuit for a cool-down, after which one probe decides.
PAYMENTS_HEALTH_WINDOW_SECONDS = env_int("PAYMENTS_HEALTH_WINDOW_SECONDS", 300)
PAYMENTS_HEALTH_MIN_VOLUME = env_int("PAYMENTS_HEALTH_MIN_VOLUME", 5)
PAYMENTS_HEALTH_DEGRADED_PERCENT = env_int("PAYMENTS_HEALTH_DEGRADED_PERCENT", 20)
PAYMENTS_HEALTH_OPEN_PERCENT = env_int("PAYMENTS_HEALTH_OPEN_PERCENT", 50)
PAYMENTS_HEALTH_COOLDOWN_SECONDS = env_int("PAYMENTS_HEALTH_COOLDOWN_SECONDS", 60)
# A probe that has not been counted after this long (it never reached the provider, or its
# answer was lost) is released, so the next attempt can probe: the circuit never stays shut.
PAYMENTS_HEALTH_PROBE_TIMEOUT_SECONDS = env_int("PAYMENTS_HEALTH_PROBE_TIMEOUT_SECONDS", 120)
# Risk rules, checked before an attempt is sent. Each yields allow, review (sent, flagged for
# staff) or refuse (never sent; the customer is told what they can do and until when).
# Velocity that refuses counts one buyer (account, email, card); an address alone is not a buyer
# (carrier NAT, offices, everyone trying the demo on one machine), so it only asks for review.
# With the simulator every shopper shares each test card's fingerprint and one person plays many
# scenarios in a row, so the demo's per-buyer limits are generous.
_RISK_DEMO = PAYMENTS_GATEWAY == "simulator"
RISK_VELOCITY_WINDOW_MINUTES = env_int("RISK_VELOCITY_WINDOW_MINUTES", 10)
RISK_VELOCITY_REVIEW = env_int("RISK_VELOCITY_REVIEW", 20 if _RISK_DEMO else 5)
RISK_VELOCITY_REFUSE = env_int("RISK_VELOCITY_REFUSE", 200 if _RISK_DEMO else 10)
RISK_IP_VELOCITY_REVIEW = env_int("RISK_IP_VELOCITY_REVIEW", 20)
RISK_NEW_ACCOUNT_HOURS = env_int("RISK_NEW_ACCOUNT_HOURS", 24)
RISK_NEW_ACCOUNT_REVIEW_AMOUNT = env_int("RISK_NEW_ACCOUNT_REVIEW_AMOUNT", 50_000)
RISK_NEW_ACCOUNT_REFUSE_AMOUNT = env_int("RISK_NEW_ACCOUNT_REFUSE_AMOUNT", 500_000)
RISK_FAILURE_STREAK = env_int("RISK_FAILURE_STREAK", 10 if _RISK_DEMO else 5)
RISK_FAILURE_STREAK_MINUTES = env_int("RISK_FAILURE_STREAK_MINUTES", 10 if _RISK_DEMO else 60)
# A webhook event whose processing keeps failing (the sweeper tries it again every minute) is
# given up after this many tries, and staff are emailed once.
PAYMENTS_WEBHOOK_MAX_TRIES = env_int("PAYMENTS_WEBHOOK_MAX_TRIES", 10)
# How long the simulator's slow scenarios take to settle.
SIMULATOR_SETTLE_SECONDS = env_int("SIMULATOR_SETTLE_SECONDS", 3)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    # Per client IP (as accounts.client_ip reads it) for guests, per account when signed in;
    # a throttled request gets 429, Retry-After and a translated detail saying when.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.AnonThrottle", "accounts.api.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "300/min"),
        "user": env_str("API_THROTTLE_USER", "1000/min"),
    },
    # Every error an API view lets out, domain errors included, as {"error", "detail", ...}.
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Checkout API",
    "DESCRIPTION": (
        "Products, orders and payments. Amounts are integers in the currency's minor unit."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from our own static files: the docs work with no network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "checkout.models.OrderStatus",
        "RefundStatusEnum": "payments.models.Refund.Status",
        "PaymentStatusEnum": "payments.models.PaymentAttempt.Status",
    },
}

# --- Security -------------------------------------------------------------------------------
# Django's database sessions, read with a written-out statement (config/sessions.py).
SESSION_ENGINE = "config.sessions"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # The health check is polled over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy on every response (django-csp): scripts and styles only from our own
# static files (no inline code, so an injected <script> or style= does nothing), nothing may
# frame us, forms post only to us. Stripe's origins are allowed only when Stripe is configured,
# as Stripe's integration security guide lists them for Stripe.js and its 3D Secure frames.
# Websockets (chat, live order status) go to this same host: CSP3 browsers count ws:/wss: to
# our own host as 'self'; SITE_URL's ws origin is listed too for browsers that do not.


def content_security_policy(*, stripe: bool, site_url: str) -> dict[str, object]:
    site = urlsplit(site_url)
    site_ws = ("wss://" if site.scheme == "https" else "ws://") + site.netloc
    stripe_js = ["https://js.stripe.com", "https://*.js.stripe.com"] if stripe else []
    directives: dict[str, list[object]] = {  # strings, and the NONCE sentinel
        "default-src": [SELF],
        # NONCE is only sent when a page asks for one (request.csp_nonce); none of ours does.
        "script-src": [SELF, NONCE, *stripe_js],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", *(["https://*.stripe.com"] if stripe else [])],
        "connect-src": [SELF, site_ws, *(["https://api.stripe.com"] if stripe else [])],
        "frame-src": [*stripe_js, "https://hooks.stripe.com"] if stripe else [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
    if not stripe:
        # With Stripe a payment form's answer can redirect to the bank's or the wallet's page
        # (hooks.stripe.com and beyond), which form-action would block; the simulator's pages
        # are all ours.
        directives["form-action"] = [SELF]
    return {"DIRECTIVES": directives}


CONTENT_SECURITY_POLICY = content_security_policy(
    stripe=bool(STRIPE_SECRET_KEY or STRIPE_PUBLISHABLE_KEY), site_url=SITE_URL
)

# --- Logging and error tracking ------------------------------------------------------------
# LOG_FORMAT=json (the default with DEBUG off): one JSON object a line, for a log shipper.
# LOG_FORMAT=text (the default in development): plain lines. Both carry the request id.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
# Errors are emailed to ADMINS (when DEBUG is off) at most once per distinct error per window,
# so a flood of the same failure is one email, not one per request.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.logs.RequestIdFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "json": {"()": "config.logs.JsonFormatter"},
        "text": {"()": "config.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "config.error_mail.ThrottledAdminEmailHandler",
            "window_seconds": env_int("ERROR_EMAIL_WINDOW_SECONDS", 15 * 60),
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Replaces the handlers Django's default logging gives "django" (its unthrottled
        # mail_admins among them); records still reach the console through the root.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
    },
}
# Sentry is on only with a DSN. Traces are off unless a rate (0.0 to 1.0) is given.
SENTRY_DSN = env_str("SENTRY_DSN")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_RELEASE = env_str("SENTRY_RELEASE")
SENTRY_TRACES_SAMPLE_RATE = env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0)
if not 0.0 <= SENTRY_TRACES_SAMPLE_RATE <= 1.0:
    raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE must be between 0 and 1")
if SENTRY_DSN:
    from config.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL", "support@example.com")
# Support desk: first-response targets by ticket priority (minutes), chat timings, chat limits.
SUPPORT_FIRST_RESPONSE_MINUTES = {
    40: env_int("SUPPORT_RESPONSE_URGENT_MINUTES", 30),
    30: env_int("SUPPORT_RESPONSE_HIGH_MINUTES", 120),
    20: env_int("SUPPORT_RESPONSE_NORMAL_MINUTES", 480),
    10: env_int("SUPPORT_RESPONSE_LOW_MINUTES", 1440),
}
SUPPORT_CHAT_ACCEPT_SECONDS = env_int("SUPPORT_CHAT_ACCEPT_SECONDS", 120)
SUPPORT_PRESENCE_TTL = env_int("SUPPORT_PRESENCE_TTL", 90)
SUPPORT_CHAT_RATE_MESSAGES = env_int("SUPPORT_CHAT_RATE_MESSAGES", 8)
SUPPORT_CHAT_RATE_SECONDS = env_int("SUPPORT_CHAT_RATE_SECONDS", 10)
# (count, seconds): new tickets and chats per client address; transcripts per chat.
SUPPORT_RATE_LIMITS = {
    "write_ip": (env_int("SUPPORT_WRITES_PER_HOUR", 20), 3600),
    "transcript": (3, 3600),
}
# /metrics answers staff, or a scraper sending "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env_str("METRICS_TOKEN")
