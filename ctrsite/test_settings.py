"""Settings for the test suite: the normal settings plus a test secret and a fast password hasher.

The database and broker still come from ``DATABASE_URL`` / ``CELERY_BROKER_URL`` so CI runs the
same tests against PostgreSQL and Redis.
"""
import os

from pathlib import Path

os.environ.setdefault("SECRET_KEY", "insecure-test-only-key")
# Tests keep their database file, media and broker folder apart from the app's var/.
os.environ.setdefault("CTRSTUDIO_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not memory, so that worker processes started by the tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
JOB_PROGRESS_MIN_INTERVAL = 0.3
WORKER_HEARTBEAT_SECONDS = 2
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns when it is missing)
