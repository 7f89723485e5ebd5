"""flowsite settings: everything comes from the environment (django-environ).

Two environments, named by FLOWSITE_ENV (the Rails/Phoenix convention):

- ``development`` (the default, for a checkout): DEBUG on, a fixed insecure secret key, SQLite
  and a filesystem Celery broker under ./var, so `make demo` and every manage.py command work
  with nothing set and no server running;
- ``production`` (the Docker image sets it): DEBUG off, secure defaults, and DJANGO_SECRET_KEY
  required.

A ``.env`` file next to manage.py (FLOWSITE_DOTENV names another) is read when present; the
environment wins over it. Any variable may instead come from the file ``NAME_FILE`` names
(docker secrets), through django-environ's FileAwareEnv. A setting that is missing or wrong
stops the process with one line naming the variable (see ``fail``), not a traceback.
See README, "Configuration".
"""

from pathlib import Path
from typing import NoReturn

import environ
from celery.schedules import crontab
from environ.fileaware_mapping import FileAwareMapping
from kombu import Exchange, Queue

from trades import queues

BASE_DIR = Path(__file__).resolve().parent.parent


def fail(message: str) -> NoReturn:
    """Stop with one line on stderr: a missing or wrong setting is the operator's to fix, and a
    40-line traceback hides the one line that says how."""
    raise SystemExit(f"flowsite: {message}")


env = environ.FileAwareEnv()
env.ENVIRON = FileAwareMapping(cache=False)  # each read sees the file as it is now
# The tests set their own environment; an operator's .env must not leak into them.
if not env.bool("FLOWSITE_TESTING", default=False):
    ENV_FILE = Path(env.str("FLOWSITE_DOTENV", default=str(BASE_DIR / ".env")))
    if ENV_FILE.is_file():
        environ.Env.read_env(ENV_FILE)


def secret(name: str, default: str = "") -> str:
    """A secret from ``NAME``, or from the file ``NAME_FILE`` names (which wins), stripped of the
    newline an editor or ``echo`` leaves at its end. Empty counts as unset (``NAME=`` in .env,
    compose's ``${NAME:-}``)."""
    try:
        return env.str(name, default="").strip() or default
    except OSError as exc:
        fail(f"{name}_FILE={env.str(f'{name}_FILE', default='')!r} cannot be read: {exc.strerror}")


FLOWSITE_ENV = env.str("FLOWSITE_ENV", default="development")
if FLOWSITE_ENV not in ("development", "production"):
    fail(f"FLOWSITE_ENV must be 'development' or 'production', not {FLOWSITE_ENV!r}")
PRODUCTION = FLOWSITE_ENV == "production"
VAR_DIR = Path(env.str("FLOWSITE_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
TESTING = env.bool("FLOWSITE_TESTING", default=False)

SECRET_KEY = secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION and not TESTING:
        fail(
            "DJANGO_SECRET_KEY is not set (FLOWSITE_ENV=production needs one): "
            "export DJANGO_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "insecure-development-only-key"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# --- Security ---------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/ (`manage.py check --deploy`)
# Secure by default; relaxed when DEBUG (`make demo` over plain http) or under the tests.
_SECURE_DEFAULT = not (DEBUG or TESTING)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_SECURE_DEFAULT)
# Load balancers probe /healthz over plain http inside the network: no redirect for it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Behind a TLS-terminating proxy that sets it (and strips it from clients): "HTTP_X_FORWARDED_PROTO,https".
if _proxy_header := env.list("SECURE_PROXY_SSL_HEADER", default=[]):
    if len(_proxy_header) != 2:
        fail("SECURE_PROXY_SSL_HEADER must be 'HEADER,value', e.g. 'HTTP_X_FORWARDED_PROTO,https'")
    SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1])
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_SECURE_DEFAULT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_SECURE_DEFAULT)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _SECURE_DEFAULT else 0)
# Opt-in: they bind every subdomain, and leaving the preload list takes months.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Origins (scheme included) allowed to POST, e.g. the admin behind a proxy: "https://flow.example.com".
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The admin's URL prefix; something less guessable than "admin/" keeps scanners off the login page.
ADMIN_URL = env.str("ADMIN_URL", default="admin/")
if not ADMIN_URL.endswith("/") or ADMIN_URL.startswith("/"):
    fail(f"ADMIN_URL must end with '/' and not start with one, not {ADMIN_URL!r}")
# When set, every API endpoint (and the MCP server over HTTP) wants "Authorization: Bearer <API_TOKEN>"
# (or a user's token, admin → API tokens); unset and no user token: open.
API_TOKEN = secret("API_TOKEN")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # django-ninja: its docs page (Swagger UI) served from its own static files, not a CDN
    "trades",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the collected static files (the admin's CSS) under gunicorn; right after security.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "flowsite.urls"
WSGI_APPLICATION = "flowsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database -------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode, so the worker writes while the API reads.
DATABASES = {"default": env.db_url_config(secret("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'flowsite.sqlite3'}"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if test_name := env.str("FLOWSITE_TEST_DB_NAME", default=""):
        # A unique test database per run, so concurrent runs never collide.
        DATABASES["default"]["TEST"] = {"NAME": test_name}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The flow board's sign-in: any active user (the admin still wants staff).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/board/"

LANGUAGE_CODE = "en-us"
# Traders think in New York time: the admin and every page show it (stored values stay UTC).
TIME_ZONE = "America/New_York"
USE_I18N = True
USE_TZ = True
# ISO dates, 24-hour times with their zone (flowsite/formats/en/formats.py).
FORMAT_MODULE_PATH = ["flowsite.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Production serves hashed, compressed files from STATIC_ROOT (`manage.py collectstatic`, which the
# Dockerfile runs at build). DEBUG and the tests serve them from the apps, no collectstatic needed.
_STATIC_FROM_APPS = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if _STATIC_FROM_APPS
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = _STATIC_FROM_APPS
WHITENOISE_AUTOREFRESH = _STATIC_FROM_APPS

# --- Celery ---------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport under ./var/broker (demo only; use Redis).
# (A host in the URL, though the transport ignores it: kombu warns at every connection without one.)
CELERY_BROKER_URL = secret("CELERY_BROKER_URL", default="filesystem://localhost/")
# Prefix of every Redis key flowsite writes (the broker's and the listener lock's): several
# installations, or test runs, can share one Redis.
REDIS_KEY_PREFIX = env.str("CELERY_KEY_PREFIX", default="")
_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Its folders are made when a process starts (flowsite/local_state.py), not here.
    # kombu's filesystem transport, but writing each message atomically (see flowsite/broker.py).
    # https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-transport
    CELERY_BROKER_TRANSPORT = "flowsite.broker:FilesystemTransport"
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.filesystem.html
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        # Exchange tables (pidbox, fanout); kombu's default is ./control in the working directory.
        "control_folder": str(_BROKER_DIR / "control"),
        # A polling transport: with prefetch 1 a worker takes at most one message per poll,
        # so kombu's default of 1 s would cap it at one batch per second.
        "polling_interval": 0.01,
    }
else:
    # redis:// and rediss:// use kombu's Redis transport with flowsite's fixes (a worker survives a
    # Redis restart, and a live worker holds a lease on the batches it has taken): flowsite/celery.py
    # registers flowsite/redis_transport.py under kombu's own names.
    # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
    # A message not acked within this many seconds is handed out again. Workers renew the lease on
    # what they hold every CELERY_UNACKED_LEASE_INTERVAL seconds, so only a dead worker's batches
    # reach it: they are back in work within about visibility + restore interval (70 s).
    _VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=60)
    _LEASE_INTERVAL = env.float("CELERY_UNACKED_LEASE_INTERVAL", default=5.0)
    if not 0 < 3 * _LEASE_INTERVAL <= _VISIBILITY_TIMEOUT:
        fail("CELERY_UNACKED_LEASE_INTERVAL must be above 0 and at most a third of CELERY_VISIBILITY_TIMEOUT")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _VISIBILITY_TIMEOUT,
        "unacked_lease_interval": _LEASE_INTERVAL,
        # How often each worker sweeps for messages whose visibility timeout ran out (a worker
        # died holding them). kombu's default sweeps every 10 s × 10 = 100 s; every 10 s is cheap.
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": 1,
        # A worker that dies holding the sweep's mutex stops every sweep until it expires (kombu: 300 s).
        "unacked_mutex_expire": 30,
        # A broker that drops packets must not hang the listener's publisher forever.
        "socket_connect_timeout": env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=5.0),
    }
    if REDIS_KEY_PREFIX:
        # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-late
CELERY_TASK_ACKS_LATE = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-reject-on-worker-lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-prefetch-multiplier
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-ignore-result
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup opens a new database connection for every task unless this is set (it then
# closes one every so many tasks); a connection was about a third of a small batch's cost. A task
# that fails or retries closes its connections (flowsite/celery.py), so one broken mid-query by a
# time limit is never reused: the reason Celery went back to closing after every task.
# https://github.com/celery/celery/pull/9824
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-serializer (registered in
# flowsite/celery.py); json is still accepted, for messages sent before an upgrade.
CELERY_TASK_SERIALIZER = "orjson"
CELERY_ACCEPT_CONTENT = ["orjson", "json"]
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-compression (registered there too)
CELERY_TASK_COMPRESSION = "lz4"
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend (none: results unused)
CELERY_RESULT_BACKEND = None
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-time-limit
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-routes
# Task and queue names are written once, in trades/queues.py.
CELERY_TASK_ROUTES = {task: {"queue": queue} for task, queue in queues.ROUTES.items()}
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT
# Declared, so Flower's broker page and the workers know every queue before a message reaches it.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-queues
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in queues.QUEUES]
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-send-task-events
# Task events feed Flower and the benchmark (one event per batch, not per trade).
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=True)
CELERY_TASK_SEND_SENT_EVENT = False
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-retry-on-startup
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Polygon / Massive ------------------------------------------------------------------
POLYGON_API_KEY = secret("POLYGON_API_KEY")
POLYGON_FEED = env.str("POLYGON_FEED", default="delayed")  # "delayed" or "realtime"
if POLYGON_FEED not in ("delayed", "realtime"):
    fail(f"POLYGON_FEED must be 'delayed' or 'realtime', not {POLYGON_FEED!r}")
# A full ws://host:port or wss://host that overrides the feed's host (the local feed, a proxy).
POLYGON_WS_URL = env.str("POLYGON_WS_URL", default="")

# --- Reference data (Polygon REST) ----------------------------------------------------------
POLYGON_REST_URL = env.str("POLYGON_REST_URL", default="https://api.polygon.io")
POLYGON_REST_CONNECT_TIMEOUT = env.float("POLYGON_REST_CONNECT_TIMEOUT", default=5.0)
POLYGON_REST_READ_TIMEOUT = env.float("POLYGON_REST_READ_TIMEOUT", default=30.0)
POLYGON_REST_RETRIES = env.int("POLYGON_REST_RETRIES", default=5)  # for 429 and 5xx, with backoff
# Backfills pace their REST calls to this, over every worker together (trades/services/pacing.py):
# 5 for a free plan, under 6,000 (100 a second) for a paid one as Polygon asks; 0: no limit.
POLYGON_REST_MAX_PER_MINUTE = env.float("POLYGON_REST_MAX_PER_MINUTE", default=0.0)
# Flat files (backfill --source flatfiles): Polygon's S3-compatible endpoint and its own keys (the
# dashboard's "Accessing Flat Files (S3)", not the API key). The local feed serves them too.
POLYGON_FLATFILES_URL = env.str("POLYGON_FLATFILES_URL", default="https://files.massive.com")
POLYGON_FLATFILES_KEY_ID = env.str("POLYGON_FLATFILES_KEY_ID", default="")
POLYGON_FLATFILES_SECRET = env.str("POLYGON_FLATFILES_SECRET", default="")
POLYGON_FLATFILES_BUCKET = env.str("POLYGON_FLATFILES_BUCKET", default="flatfiles")
# A rule judged on data older than this marks the trade `stale_reference` (seconds).
OPEN_INTEREST_MAX_AGE_SECONDS = env.int("OPEN_INTEREST_MAX_AGE_SECONDS", default=36 * 3600)  # published daily
SPOT_MAX_AGE_SECONDS = env.int("SPOT_MAX_AGE_SECONDS", default=15 * 60)
STRIKES_MAX_AGE_SECONDS = env.int("STRIKES_MAX_AGE_SECONDS", default=4 * 24 * 3600)
# Celery beat, in New York time (crontab fields: minute hour day-of-week).
REFRESH_CONTRACTS_CRON = env.str("REFRESH_CONTRACTS_CRON", default="0 7 mon-fri")
REFRESH_OPEN_INTEREST_CRON = env.str("REFRESH_OPEN_INTEREST_CRON", default="15 8,12,16 mon-fri")
SPOT_REFRESH_SECONDS = env.float("SPOT_REFRESH_SECONDS", default=60.0)  # while the market is open
# Contracts met on the T.* firehose that are not known yet are fetched on demand, at most this
# often per worker (Celery rate limit syntax).
REFERENCE_ON_DEMAND = env.bool("REFERENCE_ON_DEMAND", default=True)
REFERENCE_ON_DEMAND_RATE = env.str("REFERENCE_ON_DEMAND_RATE", default="5/s")


def _crontab(spec: str) -> crontab:
    minute, hour, day_of_week = spec.split()
    return crontab(minute=minute, hour=hour, day_of_week=day_of_week)


# https://docs.celeryq.dev/en/stable/userguide/configuration.html#timezone (beat's crontabs: market time)
CELERY_TIMEZONE = "America/New_York"
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html#beat-entries
CELERY_BEAT_SCHEDULE = {
    "refresh-conditions-and-exchanges": {"task": queues.REFRESH_CONDITIONS, "schedule": _crontab("0 6 mon-fri")},
    "refresh-contracts": {"task": queues.REFRESH_CONTRACTS, "schedule": _crontab(REFRESH_CONTRACTS_CRON)},
    "refresh-open-interest": {"task": queues.REFRESH_OPEN_INTEREST, "schedule": _crontab(REFRESH_OPEN_INTEREST_CRON)},
    "refresh-spot": {"task": queues.REFRESH_SPOT, "schedule": SPOT_REFRESH_SECONDS},
    "refresh-dividends": {"task": queues.REFRESH_DIVIDENDS, "schedule": _crontab("5 6 mon-fri")},
}

# --- Orders (profiles that judge orders; ../shared/FLOW.md) ---------------------------------------
# Prints of the underlyings such profiles watch are kept for grouping from this premium up (dollars):
# a sweep's prints are rarely smaller, and the firehose's many $200 prints would swell the log and the book.
ORDER_PRINT_MIN_PREMIUM = env.float("ORDER_PRINT_MIN_PREMIUM", default=5_000.0)
ORDER_PRINT_RETENTION_DAYS = env.int("ORDER_PRINT_RETENTION_DAYS", default=7)
# Per contract and minute: the day volume of opening inference, and the premium an insight's
# baseline averages over the past 20 trading days (35 calendar days hold them, holidays included).
VOLUME_COUNT_RETENTION_DAYS = env.int("VOLUME_COUNT_RETENTION_DAYS", default=35)
# The closer's in-memory book forgets orders that ended this long (event time) before the watermark;
# a print later than that (a long outage's gap fill) groups only with the prints left around it.
ORDER_BOOK_HORIZON_SECONDS = env.float("ORDER_BOOK_HORIZON_SECONDS", default=900.0)
# Beat closes the orders the watermark has passed (only it does) and judges orders a dead worker left.
ORDER_CLOSE_SECONDS = env.float("ORDER_CLOSE_SECONDS", default=0.5)
# Side and sentiment from the NBBO at an order's first print, one REST look-up per candidate order.
ORDER_QUOTES = env.bool("ORDER_QUOTES", default=True)
QUOTE_READ_TIMEOUT = env.float("QUOTE_READ_TIMEOUT", default=2.0)
QUOTE_CONCURRENCY = env.int("QUOTE_CONCURRENCY", default=4)  # look-ups at once, per worker process
QUOTES_REFUSED_RETRY_SECONDS = env.float("QUOTES_REFUSED_RETRY_SECONDS", default=3600.0)
CELERY_BEAT_SCHEDULE["close-orders"] = {
    "task": queues.CLOSE_ORDERS,
    "schedule": ORDER_CLOSE_SECONDS,
    # Ticks do not pile up while no worker runs, and one still runs behind a minute of queued batches.
    "options": {"expires": 60},
}
CELERY_BEAT_SCHEDULE["purge-kept-prints"] = {"task": queues.PURGE_KEPT_PRINTS, "schedule": _crontab("30 4 *")}
# What the stock did next (trades/services/outcomes.py): after the close, and each hour of the
# evening for bars that come late.
CELERY_BEAT_SCHEDULE["refresh-outcomes"] = {"task": queues.REFRESH_OUTCOMES, "schedule": _crontab("20 16-20 mon-fri")}

# --- Webhooks ------------------------------------------------------------------------------
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)  # seconds
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)  # seconds
# A delivery claimed by a worker that did not finish within this is tried again (the worker died).
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=60)
# Each delivery's first attempt goes out from the worker that stored the hit, right after the
# commit, on this many threads of each worker process (a hop to the webhooks queue saved: the
# alert's latency). When they are all busy, or with 0, the first attempt goes through the
# webhooks queue as retries always do.
WEBHOOK_FIRST_ATTEMPT_THREADS = env.int("WEBHOOK_FIRST_ATTEMPT_THREADS", default=4)
# How often beat sweeps for deliveries that are due or stuck.
WEBHOOK_SWEEP_SECONDS = env.float("WEBHOOK_SWEEP_SECONDS", default=15.0)
# Waits up to this long ride on a Celery countdown; longer ones stay in the database for the
# sweeper (Redis hands a message out again once its visibility timeout has passed).
WEBHOOK_COUNTDOWN_MAX_SECONDS = env.int("WEBHOOK_COUNTDOWN_MAX_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["sweep-webhooks"] = {"task": queues.SWEEP_WEBHOOKS, "schedule": WEBHOOK_SWEEP_SECONDS}
# Endpoints that take digests: each sends one when its period is up (WebhookEndpoint.digest_minutes).
CELERY_BEAT_SCHEDULE["send-digests"] = {"task": queues.SEND_DIGESTS, "schedule": 60.0, "options": {"expires": 60}}

# --- Batches that fail --------------------------------------------------------------------
# A batch task (ingest, on-demand lookups) that fails for any reason but the database being away
# is tried this many times in all, then kept whole as a dead letter (admin, `manage.py deadletters`).
BATCH_MAX_ATTEMPTS = env.int("BATCH_MAX_ATTEMPTS", default=4)

# --- Listener tuning ---------------------------------------------------------------------
STREAM_BATCH_TRADES = env.int("STREAM_BATCH_TRADES", default=5000)  # publish after N trades
STREAM_BATCH_MS = env.int("STREAM_BATCH_MS", default=25)  # ... or T milliseconds after the previous batch
STREAM_BUFFER_TRADES = env.int("STREAM_BUFFER_TRADES", default=2_000_000)  # bound before dropping
STREAM_STATS_SECONDS = env.float("STREAM_STATS_SECONDS", default=5.0)
STREAM_SUBSCRIPTION_REFRESH_SECONDS = env.float("STREAM_SUBSCRIPTION_REFRESH_SECONDS", default=5.0)
# Workers re-read profiles and watchlists at most this often (the 5-second promise).
FLOW_CONFIG_TTL_SECONDS = env.float("FLOW_CONFIG_TTL_SECONDS", default=2.0)
# The listener lock (one listener per Polygon account): Redis when the broker is Redis,
# otherwise a lock file.
STREAM_LOCK_URL = env.str("STREAM_LOCK_URL", default=CELERY_BROKER_URL)
STREAM_LOCK_FILE = VAR_DIR / "stream.lock"
# Redis key of the listener lock (the broker's key prefix keeps test runs apart), and its
# lease: a listener that dies without releasing frees the lock after this many seconds.
STREAM_LOCK_KEY = env.str("STREAM_LOCK_KEY", default=REDIS_KEY_PREFIX + "flowsite:stream:lock")
STREAM_LOCK_LEASE_SECONDS = env.float("STREAM_LOCK_LEASE_SECONDS", default=30.0)
# How long a stopping listener waits for the broker to take what it still holds.
STREAM_FLUSH_TIMEOUT_SECONDS = env.float("STREAM_FLUSH_TIMEOUT_SECONDS", default=10.0)
# The longest wait between two connection attempts (waits double from 0.5 s up to it).
STREAM_RECONNECT_MAX_SECONDS = env.float("STREAM_RECONNECT_MAX_SECONDS", default=30.0)
# Gaps: after every reconnect (and restart) the trades sent while the listener was away are fetched
# over REST for the watched underlyings and judged like live ones. Longer gaps are recorded but
# left to a backfill; the margin widens the REST window on both sides (prints arrive a little out
# of time order); beat queues again the gaps no worker has begun to fill (their queueing was lost).
STREAM_GAP_FILL_MAX_SECONDS = env.float("STREAM_GAP_FILL_MAX_SECONDS", default=3600.0)
STREAM_GAP_MARGIN_MS = env.int("STREAM_GAP_MARGIN_MS", default=1000)
STREAM_GAP_SWEEP_SECONDS = env.float("STREAM_GAP_SWEEP_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE["sweep-gaps"] = {"task": queues.SWEEP_GAPS, "schedule": STREAM_GAP_SWEEP_SECONDS}

# --- Logging ---------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# Celery logs every task received and succeeded at INFO: one pair per batch, most of the output.
# They show with LOG_TASKS on (the default with LOG_LEVEL=DEBUG); failures and retries always show.
LOG_TASKS = env.bool("LOG_TASKS", default=LOG_LEVEL == "DEBUG")
_TASK_CHATTER_LEVEL = "INFO" if LOG_TASKS else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "websockets": {"level": "WARNING"},
        "celery.app.trace": {"level": _TASK_CHATTER_LEVEL},
        "celery.worker.strategy": {"level": _TASK_CHATTER_LEVEL},
        "celery.beat": {"level": _TASK_CHATTER_LEVEL},  # "Sending due task …" at every tick
    },
}

# --- Health ------------------------------------------------------------------------------
# GET /healthz (for load balancers): 503 when any of these is exceeded.
HEALTH_LISTENER_MAX_AGE_SECONDS = env.float("HEALTH_LISTENER_MAX_AGE_SECONDS", default=30.0)  # heartbeat age
# A listener alive but not connected to the feed for longer than this is unhealthy too.
HEALTH_LISTENER_DISCONNECTED_MAX_SECONDS = env.float("HEALTH_LISTENER_DISCONNECTED_MAX_SECONDS", default=120.0)
HEALTH_QUEUE_MAX = env.int("HEALTH_QUEUE_MAX", default=100_000)  # messages waiting in ingest/reference/webhooks
HEALTH_ORDERS_MAX_AGE_SECONDS = env.float("HEALTH_ORDERS_MAX_AGE_SECONDS", default=60.0)  # oldest waiting batch
HEALTH_WEBHOOK_MAX_AGE_SECONDS = env.float("HEALTH_WEBHOOK_MAX_AGE_SECONDS", default=3600.0)  # oldest undelivered
HEALTH_DEAD_LETTERS_MAX = env.int("HEALTH_DEAD_LETTERS_MAX", default=0)  # batches waiting to be replayed
# Each check's time bound: Redis socket timeouts, the PostgreSQL statement timeout and connect timeout.
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=2.0)
# The Redis the broker check pings and whose queues it measures (the broker itself by default).
HEALTH_BROKER_URL = env.str("HEALTH_BROKER_URL", default=CELERY_BROKER_URL)
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # libpq waits forever for an unreachable server by default; bound every connection attempt.
    # https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-CONNECT-TIMEOUT
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
