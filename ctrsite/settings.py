"""Settings for CTR Studio, all read from the environment in this one place.

Every variable has a default that runs the app on one machine with no servers: SQLite under
``var/`` and a file-system Celery broker under ``var/broker``. Production sets ``DATABASE_URL``
(PostgreSQL through psycopg 3), ``CELERY_BROKER_URL`` (Redis), ``SECRET_KEY`` and ``DEBUG=0``.
The README has the table of variables.
"""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from mlcore.paths import shared_data_dir

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("CTRSTUDIO_VAR_DIR", BASE_DIR / "var")).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local development).")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "datasets",
    "jobs",
    "modeling",
    "uplift",
    "attributes",
    "registry",
    "filestore",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ctrsite.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ctrsite.urls"

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

WSGI_APPLICATION = "ctrsite.wsgi.application"

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'ctrstudio.sqlite3'}"
# Health checks: a connection broken by a database restart is replaced at the next request.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web process read while a worker writes progress; IMMEDIATE transactions and
    # a generous timeout avoid "database is locked" between the two processes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "ctrsite.staticfinders.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploaded datasets and job artifacts: private, never served under a public URL. Downloads go
# through views that check the owner.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media")).resolve()

# --- Object storage (filestore/) -------------------------------------------------------------
# The source of truth for dataset files and job folders. "local" (default): MEDIA_ROOT itself, no
# copies (one host, today's behaviour). "s3": any S3-compatible store (AWS, MinIO, moto) through
# django-storages; each host's MEDIA_ROOT is then only its working area, and workers stage dataset
# copies into a bounded cache (WORKER_CACHE_DIR, WORKER_CACHE_MAX_MB, least recently used first).
OBJECT_STORAGE = os.environ.get("OBJECT_STORAGE", "s3" if os.environ.get("AWS_STORAGE_BUCKET_NAME") else "local")
if OBJECT_STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured(f"OBJECT_STORAGE must be local or s3, not {OBJECT_STORAGE!r}.")
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "ctrstudio")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME", "us-east-1")
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY") or None
AWS_S3_ADDRESSING_STYLE = os.environ.get("AWS_S3_ADDRESSING_STYLE", "path")  # MinIO/moto want path style
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_DEFAULT_ACL = None
AWS_S3_FILE_OVERWRITE = True
AWS_QUERYSTRING_EXPIRE = int(os.environ.get("OBJECT_STORAGE_URL_SECONDS", "300"))  # presigned download links
OBJECT_STORAGE_CREATE_BUCKET = env_bool("OBJECT_STORAGE_CREATE_BUCKET", False)
# The store's address as browsers reach it, for presigned download links ("" = AWS_S3_ENDPOINT_URL).
OBJECT_STORAGE_PUBLIC_URL = os.environ.get("OBJECT_STORAGE_PUBLIC_URL", "")
STORAGES["objects"] = (
    {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"file_overwrite": True}}
    if OBJECT_STORAGE == "s3"
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"}  # at MEDIA_ROOT, following its changes
)
WORKER_CACHE_DIR = Path(os.environ.get("WORKER_CACHE_DIR", MEDIA_ROOT / "cache")).resolve()
WORKER_CACHE_MAX_MB = float(os.environ.get("WORKER_CACHE_MAX_MB", "20480"))
# While a job runs, its log is copied to the store at most this often (seconds).
OBJECT_STORAGE_LOG_SECONDS = float(os.environ.get("OBJECT_STORAGE_LOG_SECONDS", "15"))

# Every upload streams to a temporary file on disk, never into the web process's memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
FILE_UPLOAD_HANDLERS = [
    "datasets.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Django's upload temp files go to a folder of ours, so the sweep (datasets/sweep.py) can remove the
# ones a killed request left behind; staging folders of unfinished uploads are swept too.
FILE_UPLOAD_TEMP_DIR = str(Path(os.environ.get("FILE_UPLOAD_TEMP_DIR", VAR_DIR / "upload-tmp")).resolve())
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
UPLOAD_STALE_SECONDS = float(os.environ.get("UPLOAD_STALE_SECONDS", str(6 * 3600)))
UPLOAD_SWEEP_EVERY_SECONDS = float(os.environ.get("UPLOAD_SWEEP_EVERY_SECONDS", "600"))
DATASET_MAX_UPLOAD_BYTES = int(os.environ.get("DATASET_MAX_UPLOAD_MB", "2048")) * 1024 * 1024
# A gzip'd CSV may not expand past this many bytes of text (checked while streaming).
DATASET_MAX_DECOMPRESSED_BYTES = int(os.environ.get("DATASET_MAX_DECOMPRESSED_MB", "20480")) * 1024 * 1024
# Uploads larger than this are profiled by a worker (dataset status `profiling`), not in the request.
DATASET_INLINE_PROFILE_BYTES = int(float(os.environ.get("DATASET_INLINE_PROFILE_MB", "8")) * 1024 * 1024)
# Chunked, resumable uploads: largest chunk accepted per PUT, and where unfinished uploads live
# (one `<id>.part` file per upload session; staging folders of single-request uploads live under
# MEDIA_ROOT/datasets/_staging/).
DATASET_UPLOAD_CHUNK_BYTES = int(os.environ.get("DATASET_UPLOAD_CHUNK_MB", "16")) * 1024 * 1024
DATASET_UPLOAD_SESSIONS_DIR = os.environ.get("DATASET_UPLOAD_SESSIONS_DIR", "")  # "" = MEDIA_ROOT/datasets/_uploads
UPLOAD_SWEEP_DIRS = env_list(
    "UPLOAD_SWEEP_DIRS",
    f"{MEDIA_ROOT / 'datasets' / '_staging'},{FILE_UPLOAD_TEMP_DIR},"
    f"{DATASET_UPLOAD_SESSIONS_DIR or MEDIA_ROOT / 'datasets' / '_uploads'}")
# The currency the planner shows revenue, costs and values in; empty: "units of `<revenue column>`".
REVENUE_CURRENCY = os.environ.get("REVENUE_CURRENCY", "").strip()
# Real public datasets for the demo loader (never copied into the repository).
SHARED_DATA_DIR = shared_data_dir()

# --- Celery ----------------------------------------------------------------------------------
# The default broker is kombu's file-system transport: each queued message is a file under
# var/broker, so queued jobs survive a restart of the worker (and of the web server) with no
# server to run. A message being worked on is acknowledged late; if a worker dies, the job is
# put back on the queue (see jobs/recovery.py) and resumes from its last epoch checkpoint.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Redis: a message not acknowledged within the visibility timeout is delivered again.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "7200"))}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_CREATE_MISSING_QUEUES = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queue names the job router uses; docker-compose and the Makefile start workers on them.
JOB_QUEUE_CPU = os.environ.get("JOB_QUEUE_CPU", "cpu")
JOB_QUEUE_GPU = os.environ.get("JOB_QUEUE_GPU", "gpu")
# A worker is live when it reported within this many seconds; a running job whose heartbeat is
# older than JOB_STALE_SECONDS is considered orphaned and put back on the queue.
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "10"))
JOB_STALE_SECONDS = float(os.environ.get("JOB_STALE_SECONDS", "120"))
JOB_PROGRESS_MIN_INTERVAL = float(os.environ.get("JOB_PROGRESS_MIN_INTERVAL", "1.0"))
# The reconciler (jobs/reconciler.py, run by every worker at start and with its heartbeat) sends a
# queued job's message again when it was sent longer ago than this and is no longer on the broker.
JOB_REQUEUE_AFTER_SECONDS = float(os.environ.get("JOB_REQUEUE_AFTER_SECONDS", "60"))
# The runner retries its database writes across a connection blip for at most this long.
JOB_DB_RETRY_SECONDS = float(os.environ.get("JOB_DB_RETRY_SECONDS", "60"))
JOB_SUBMIT_RETRY_SECONDS = float(os.environ.get("JOB_SUBMIT_RETRY_SECONDS", "10"))  # a web request waits less
# A job does not start, and no checkpoint is written, with less free space than this in its folder.
JOB_MIN_FREE_MB = float(os.environ.get("JOB_MIN_FREE_MB", "100"))
JOB_LOG_TAIL_LINES = int(os.environ.get("JOB_LOG_TAIL_LINES", "300"))
TORCH_THREADS = int(os.environ.get("TORCH_THREADS", "0"))  # 0: PyTorch's default
# Multi-device jobs (a CTR job's `devices` parameter, README "Multi-device jobs"): at most JOB_MAX_DEVICES
# per job; a job asking for N > 1 GPUs goes to the queue "<JOB_QUEUE_GPU>-x<N>" (gpu-x2, ...), which only
# workers on hosts with at least N GPUs consume. A rank gives up on a collective after JOB_DDP_TIMEOUT_SECONDS.
JOB_MAX_DEVICES = int(os.environ.get("JOB_MAX_DEVICES", "8"))
JOB_DDP_TIMEOUT_SECONDS = float(os.environ.get("JOB_DDP_TIMEOUT_SECONDS", "600"))

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "ctrsite.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CTR Studio API",
    "DESCRIPTION": "Upload datasets, launch training jobs and read their held-out metrics.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DatasetStatusEnum": "datasets.models.Dataset.Status",
        "JobStatusEnum": "jobs.models.Job.Status",
    },
}

# --- Security in production -----------------------------------------------------------------
# Off by default so that `docker compose up` answers on plain http://localhost; behind TLS set
# SECURE_SSL_REDIRECT=1 SECURE_HSTS_SECONDS=31536000 SECURE_HSTS_INCLUDE_SUBDOMAINS=1
# SECURE_HSTS_PRELOAD=1 SECURE_COOKIES=1 (and SECURE_PROXY_SSL_HEADER=1 behind a proxy that sets
# X-Forwarded-Proto): `manage.py check --deploy` then reports no warning (README, tests/test_security_settings.py).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
