"""Production settings pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys

from tests.conftest import ROOT


def _env(**changes: str) -> dict[str, str]:
    env = {**os.environ, **changes}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set in this process for Playwright only
    return env


def test_check_deploy_is_clean_in_production_mode():
    env = _env(
        STUDIO_PRODUCTION="1",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="studio.example.org",
        DEBUG="0",
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_production_refuses_to_start_without_a_real_secret_key():
    env = _env(STUDIO_PRODUCTION="1", SECRET_KEY="")
    out = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "SECRET_KEY" in out.stderr
