"""One settings module; every difference between machines comes from the environment.

Defaults give a working single-machine site: SQLite, local media files, Redis on
localhost. `STUDIO_PRODUCTION=1` turns on the hardening that `check --deploy` wants.
See the configuration table in README.md.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


PRODUCTION = env_bool("STUDIO_PRODUCTION")
DEBUG = env_bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = env("SECRET_KEY") or ("" if PRODUCTION else "dev-only-insecure-key-change-me")
if PRODUCTION and len(SECRET_KEY) < 50:
    raise RuntimeError("STUDIO_PRODUCTION needs a SECRET_KEY of at least 50 random characters")
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "webapp",
    "playground",
    "styletransfer",
    "detection",
    "learn",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webapp.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

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
                "webapp.context_processors.nav_tools",
                "webapp.context_processors.studio_site",
            ],
        },
    },
]

# SQLite by default; a file even under test so that worker processes started by the
# tests share the database with the test run.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {
        "NAME": env("SQLITE_TEST_NAME", str(BASE_DIR / "test-db.sqlite3"))
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# One backend: Django's password check behind the log-in attempt limits (webapp/accounts.py).
AUTHENTICATION_BACKENDS = ["webapp.accounts.ThrottledModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
# Media is never served at a public URL: every file goes through a view that checks
# the job's owner, so MEDIA_URL only names the storage's base.
MEDIA_URL = "/media/"
# Uploads, checkpoints and results: local files by default (one machine, nothing else to
# run); with several machines, an S3-compatible object store (MinIO, AWS S3) named by
# STORAGE_URL, e.g. s3://studio-media/prefix?endpoint=http://10.0.0.5:9000&region=eu-west-1
# (keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). See docs/operations.md.
STORAGE_URL = env("STORAGE_URL")
STORAGE_RETRIES = env_int("STORAGE_RETRIES", 5)  # attempts of one request to the store
STORAGE_TIMEOUT_S = float(env("STORAGE_TIMEOUT_S", "10"))  # connect and read, per attempt


def storage_backend(storage_url: str) -> dict:
    """STORAGES["default"] for a STORAGE_URL ("": local files under MEDIA_ROOT)."""
    from urllib.parse import parse_qs, urlsplit

    if not storage_url:
        return {"BACKEND": env("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")}
    url = urlsplit(storage_url)
    if url.scheme != "s3" or not url.netloc:
        raise RuntimeError(
            f"STORAGE_URL must look like s3://bucket[/prefix]?endpoint=...: {storage_url!r}"
        )
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": url.netloc,
            "location": url.path.strip("/"),
            "endpoint_url": query.get("endpoint"),
            "region_name": query.get("region", "us-east-1"),
            "addressing_style": query.get("addressing", "path"),
            "file_overwrite": True,  # one PUT replaces an object whole: never half-written
            "default_acl": None,
            "querystring_auth": True,
            "client_config": Config(
                retries={"max_attempts": STORAGE_RETRIES, "mode": "standard"},
                connect_timeout=STORAGE_TIMEOUT_S,
                read_timeout=STORAGE_TIMEOUT_S,
            ),
        },
    }


STORAGES = {
    "default": storage_backend(STORAGE_URL),
    "staticfiles": {
        "BACKEND": "webapp.staticfiles.ModuleStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# Where model weights and datasets live (fetched by `manage.py fetch_models`).
STUDIO_DATA_DIR = Path(env("STUDIO_DATA_DIR", str(BASE_DIR / "data")))
os.environ.setdefault("STUDIO_DATA_DIR", str(STUDIO_DATA_DIR))

# --- Redis: Celery broker and Channels layer -------------------------------------------
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": env("CHANNEL_LAYER_BACKEND", "channels_redis.core.RedisChannelLayer"),
        "CONFIG": {
            # channels_redis blocks on Redis for 5 s (BZPOPMIN); redis-py's default read
            # timeout is also 5 s, so a job socket with nothing to say for 5 s would die.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env("CHANNELS_PREFIX", "studio"),
        },
    }
}

# --- Jobs: one place for every limit -----------------------------------------------------
JOB_MAX_RUNTIME_S = env_int("JOB_MAX_RUNTIME_S", 2 * 3600)  # hard limit of any job run
JOB_HEARTBEAT_S = float(env("JOB_HEARTBEAT_S", "5"))  # a running job beats this often
JOB_STALE_AFTER_S = float(env("JOB_STALE_AFTER_S", "60"))  # no beat for this long: dead
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)  # claims before the reaper gives up
JOB_REAPER_INTERVAL_S = float(env("JOB_REAPER_INTERVAL_S", "15"))  # how often beat reaps
JOB_PUBLISH_INTERVAL_S = float(env("JOB_PUBLISH_INTERVAL_S", "0.25"))  # progress throttle
# The largest message a page may put in a job's inbox (webapp/inbox.py): a camera frame.
JOB_INBOX_MAX_BYTES = env_int("JOB_INBOX_MAX_BYTES", 8 * 1024 * 1024)
# A teach job stops serving (and frees its worker) this long after its page sent a frame.
TEACH_IDLE_S = float(env("TEACH_IDLE_S", "10"))
JOB_CANCEL_POLL_S = float(env("JOB_CANCEL_POLL_S", "0.5"))
# Style transfer refines a print larger than this in tiles of this many pixels, sharing
# STYLE_TILE_OVERLAP px with each neighbour (both multiples of 16): what a job is made with
# is stored in its recipe, so changing these changes new jobs only.
STYLE_TILE_SIZE = env_int("STYLE_TILE_SIZE", 1024)
STYLE_TILE_OVERLAP = env_int("STYLE_TILE_OVERLAP", 128)
DASHBOARD_PUSH_INTERVAL_S = float(env("DASHBOARD_PUSH_INTERVAL_S", "2"))
DASHBOARD_HISTORY_INTERVAL_S = float(env("DASHBOARD_HISTORY_INTERVAL_S", "10"))  # the charts
# A queue whose oldest job has waited longer than this is shown in red on the dashboard.
DASHBOARD_OLDEST_QUEUED_WARN_S = float(env("DASHBOARD_OLDEST_QUEUED_WARN_S", "300"))
# /metrics answers a staff session, or `Authorization: Bearer <METRICS_TOKEN>` when set.
METRICS_TOKEN = env("METRICS_TOKEN")
USER_MAX_ACTIVE_JOBS = env_int("USER_MAX_ACTIVE_JOBS", 5)  # queued + running + paused
# The cost budget of one job, checked against each kind's estimate before it is queued;
# the worker also stops a job whose memory passes JOB_MAX_MEMORY_MB.
JOB_MAX_MEMORY_MB = env_int("JOB_MAX_MEMORY_MB", 8192)
# Engine queues by the size of job their workers hold, smallest first: a job goes to the
# first whose live workers can all hold it (webapp.jobs.job_route); a big GPU host's
# worker consumes "gpu,gpu-large", a small one "gpu".
JOB_QUEUES = [q for q in env("JOB_QUEUES", "gpu,gpu-large").split(",") if q]
JOB_MAX_PAUSE_S = env_int("JOB_MAX_PAUSE_S", 24 * 3600)  # a longer pause ends the run
# Preemptive fair share: when another user's job has waited this long on a full pool, a
# running job whose kind can checkpoint yields (checkpoint, requeue, resume) – after it
# has run at least JOB_FAIR_SHARE_MIN_RUN_S, so nothing yields back and forth. 20 s,
# plus one heartbeat and one step to checkpoint, keeps the wait under 30 s. 0: never.
JOB_FAIR_SHARE_WAIT_S = float(env("JOB_FAIR_SHARE_WAIT_S", "20"))
JOB_FAIR_SHARE_MIN_RUN_S = float(env("JOB_FAIR_SHARE_MIN_RUN_S", "20"))
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000)  # one picture
UPLOAD_MAX_SIDE = env_int("UPLOAD_MAX_SIDE", 20_000)  # pixels on a picture's longest side
# All pictures of one submission together, counted from their headers: what the worker
# will have to decode for it (the web process never decodes them).
UPLOAD_MAX_REQUEST_PIXELS = env_int("UPLOAD_MAX_REQUEST_PIXELS", 200_000_000)
UPLOAD_MAX_REQUEST_BYTES = env_int("UPLOAD_MAX_REQUEST_BYTES", 100 * 1024 * 1024)  # one POST
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Extra job kinds to register (a module path); the tests use it for their own kind.
STUDIO_EXTRA_JOB_KINDS = [m for m in env("STUDIO_EXTRA_JOB_KINDS").split(",") if m]

# --- Log-in, sign-up and websocket limits (counted in Redis, across web processes) ---------
LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
LOGIN_LOCKOUT_S = env_int("LOGIN_LOCKOUT_S", 15 * 60)  # counting window and lock-out length
SIGNUP_MAX_PER_ADDRESS = env_int("SIGNUP_MAX_PER_ADDRESS", 5)  # new accounts per window
SIGNUP_WINDOW_S = env_int("SIGNUP_WINDOW_S", 3600)
WS_MAX_PER_USER = env_int("WS_MAX_PER_USER", 20)  # one more closes the user's oldest (4429)
WS_RESYNC_INTERVAL_S = float(env("WS_RESYNC_INTERVAL_S", "1"))  # per socket; extra are merged
# Sockets of one web process reading a snapshot (connecting or resyncing) at once.
WS_SNAPSHOT_CONCURRENCY = env_int("WS_SNAPSHOT_CONCURRENCY", 8)

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # the database is the source of truth, not Celery results
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True  # a message is acknowledged only after the job finished
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a child killed mid-job puts the message back
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a busy GPU worker holds no one else's jobs
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"webapp.tasks.run_job": {"queue": "gpu"}}
CELERY_TASK_TIME_LIMIT = JOB_MAX_RUNTIME_S + 120
CELERY_TASK_SOFT_TIME_LIMIT = JOB_MAX_RUNTIME_S
# Redis redelivers an unacknowledged message after this long; it must outlast any job
# or a long job would be handed to a second worker while the first still runs it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("BROKER_VISIBILITY_TIMEOUT_S", JOB_MAX_RUNTIME_S + 3600),
    "unacked_restore_interval": float(env("BROKER_RESTORE_INTERVAL_S", "10")),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE = {
    "reap-stale-jobs": {
        "task": "webapp.tasks.reap_stale_jobs",
        "schedule": JOB_REAPER_INTERVAL_S,
        # A worker busy with a long job must not find a pile of reaper runs afterwards.
        "options": {"expires": JOB_REAPER_INTERVAL_S},
    },
}

# --- Production hardening -----------------------------------------------------------------
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}},
}
