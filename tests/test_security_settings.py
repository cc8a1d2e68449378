"""Production security comes from the environment: with the README's production variables and
DEBUG=0, ``manage.py check --deploy`` reports no warning at all; without SECRET_KEY the server
refuses to start (issue 11)."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0", "ALLOWED_HOSTS": "ctr.example.com", "CSRF_TRUSTED_ORIGINS": "https://ctr.example.com",
    "SECURE_SSL_REDIRECT": "1", "SECURE_HSTS_SECONDS": "31536000", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1", "SECURE_COOKIES": "1", "SECURE_PROXY_SSL_HEADER": "1",
}


def _manage(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    base.update({"DJANGO_SETTINGS_MODULE": "ctrsite.settings", "CTRSTUDIO_VAR_DIR": str(tmp_path),
                 "STATIC_ROOT": str(tmp_path / "static")}, **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=base, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow  # a fresh Django process with every app loaded (~20 s on 2 busy cores)
def test_check_deploy_passes_with_no_warning_when_the_production_variables_are_set(tmp_path):
    run = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING",
                  SECRET_KEY=secrets.token_urlsafe(60), **PRODUCTION)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNINGS" not in run.stdout + run.stderr and "no issues" in run.stdout


@pytest.mark.slow
def test_check_deploy_names_what_is_missing_without_them(tmp_path):
    run = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", DEBUG="0",
                  SECRET_KEY=secrets.token_urlsafe(60))
    assert run.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in run.stderr


def test_the_server_refuses_to_start_with_debug_off_and_no_secret_key(tmp_path):
    run = _manage(tmp_path, "check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert run.returncode != 0 and "SECRET_KEY must be set" in run.stderr
