"""Production settings: secrets from files, `check --deploy`, the admin URL, static files.

The deploy checks run `manage.py` in a subprocess with the environment README.md documents
("Production settings"): DEBUG and FLOWSITE_TESTING unset, as in production.
"""

from __future__ import annotations

import importlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.urls import clear_url_caches

from flowsite.settings import secret

ROOT = Path(__file__).resolve().parents[2]


# --- secrets: NAME or NAME_FILE (django-environ's FileAwareEnv) ------------------------------------


def test_secret_reads_the_variable(monkeypatch):
    monkeypatch.setenv("FLOWSITE_T_SECRET", "plain")
    monkeypatch.delenv("FLOWSITE_T_SECRET_FILE", raising=False)
    assert secret("FLOWSITE_T_SECRET") == "plain"


def test_secret_reads_the_file_stripped(monkeypatch, tmp_path):
    path = tmp_path / "secret"
    path.write_text("  from-a-file\n")
    monkeypatch.delenv("FLOWSITE_T_SECRET", raising=False)
    monkeypatch.setenv("FLOWSITE_T_SECRET_FILE", str(path))
    assert secret("FLOWSITE_T_SECRET") == "from-a-file"


def test_secret_an_empty_file_variable_counts_as_unset(monkeypatch):
    """compose passes ``${VAR_FILE:-}``: an empty NAME_FILE must not hide NAME."""
    monkeypatch.setenv("FLOWSITE_T_SECRET", "plain")
    monkeypatch.setenv("FLOWSITE_T_SECRET_FILE", "")
    assert secret("FLOWSITE_T_SECRET") == "plain"


def test_secret_default_when_neither_is_set(monkeypatch):
    monkeypatch.delenv("FLOWSITE_T_SECRET", raising=False)
    monkeypatch.delenv("FLOWSITE_T_SECRET_FILE", raising=False)
    assert secret("FLOWSITE_T_SECRET") == ""
    assert secret("FLOWSITE_T_SECRET", default="fallback") == "fallback"


def test_secret_the_file_wins_over_the_variable(monkeypatch, tmp_path):
    """django-environ's documented precedence: a NAME_FILE that is set is read, NAME ignored."""
    path = tmp_path / "secret"
    path.write_text("from-a-file")
    monkeypatch.setenv("FLOWSITE_T_SECRET", "plain")
    monkeypatch.setenv("FLOWSITE_T_SECRET_FILE", str(path))
    assert secret("FLOWSITE_T_SECRET") == "from-a-file"


def test_secret_an_unreadable_file_stops_with_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("FLOWSITE_T_SECRET", raising=False)
    monkeypatch.setenv("FLOWSITE_T_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match=r"^flowsite: FLOWSITE_T_SECRET_FILE='.*missing' cannot be read: No such file"):
        secret("FLOWSITE_T_SECRET")


# --- manage.py in production mode --------------------------------------------------------------


def documented_production_env() -> dict[str, str]:
    """The `KEY=value` lines of the first sh block under README's "## Production settings"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Production settings\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "README's Production settings section has no sh block"
    variables = {}
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip().removeprefix("export ").strip()
        if "=" in line:
            name, value = line.split("=", 1)
            variables[name] = value
    return variables


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """README's production variables (the secret key generated as it says); DEBUG and the test flag unset."""
    documented = documented_production_env()
    assert "$(" in documented["DJANGO_SECRET_KEY"], "the README generates the key"
    # What `$(python3 -c 'import secrets; print(secrets.token_urlsafe(N))')` prints.
    documented = {k: secrets.token_urlsafe(50) if "$(" in v else v for k, v in documented.items()}
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "FLOWSITE_TESTING", "FLOWSITE_TEST_DB_NAME"}}
    env |= documented
    env |= {
        "FLOWSITE_VAR_DIR": str(tmp_path / "var"),
        "PYTHONWARNINGS": "error::UserWarning",  # whitenoise warns about a missing STATIC_ROOT
    }
    return env | extra


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_readme_documents_the_secure_variables():
    documented = documented_production_env()
    assert documented["FLOWSITE_ENV"] == "production"
    assert {"DJANGO_SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "API_TOKEN", "ADMIN_URL"} <= set(documented)
    assert "DEBUG" not in documented


def test_check_deploy_has_no_warnings_with_the_documented_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_reads_the_secret_key_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets.token_urlsafe(50) + "\n")
    env = production_env(tmp_path, DJANGO_SECRET_KEY_FILE=str(key_file))
    del env["DJANGO_SECRET_KEY"]
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_a_secret_key_stops_with_one_line(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    for argv in (["check"], ["help"], ["flowconfig", "export"]):
        result = manage(env, *argv)
        assert result.returncode == 1, argv
        assert result.stderr.strip().splitlines() == [
            "flowsite: DJANGO_SECRET_KEY is not set (FLOWSITE_ENV=production needs one): "
            "export DJANGO_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
        ], argv


def test_a_wrong_setting_stops_with_one_line_naming_it(tmp_path):
    result = manage(production_env(tmp_path, POLYGON_FEED="fast"), "check")
    assert result.returncode == 1
    assert result.stderr.strip() == "flowsite: POLYGON_FEED must be 'delayed' or 'realtime', not 'fast'"


def test_check_deploy_warns_on_the_insecure_defaults_it_guards(tmp_path):
    """The guard is real: turning a documented setting off brings its warning back."""
    result = manage(
        production_env(tmp_path, SECURE_HSTS_PRELOAD="false"), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    assert "security.W021" in result.stderr + result.stdout


def test_debug_still_works_over_plain_http(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SECRET_KEY", "FLOWSITE_TESTING"}}
    env |= {"DEBUG": "1", "FLOWSITE_VAR_DIR": str(tmp_path / "var")}
    result = manage(env, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.STORAGES['staticfiles']['BACKEND'])"
    )
    shown = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert shown.stdout.split() == [
        "False",
        "False",
        "False",
        "0",
        "django.contrib.staticfiles.storage.StaticFilesStorage",
    ]


def checkout_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh checkout's environment: nothing of flowsite's set, no .env (FLOWSITE_DOTENV points nowhere)."""
    ours = {"DEBUG", "DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_KEY_PREFIX", "FLOWSITE_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("FLOWSITE_")}
    return env | {"FLOWSITE_VAR_DIR": str(tmp_path / "var"), "FLOWSITE_DOTENV": str(tmp_path / ".env")} | extra


def test_a_checkout_runs_every_command_with_nothing_set(tmp_path):
    """The development default: `manage.py help` lists flowsite's commands, and they run, without DEBUG=1."""
    env = checkout_env(tmp_path)
    listed = manage(env, "help")
    assert listed.returncode == 0, listed.stderr
    assert "[trades]" in listed.stdout and "flowconfig" in listed.stdout and "refresh_reference" in listed.stdout
    assert manage(env, "migrate", "--verbosity", "0").returncode == 0
    exported = manage(env, "flowconfig", "export")
    assert exported.returncode == 0, exported.stderr
    assert '"profiles"' in exported.stdout
    assert manage(env, "stream", "--help").returncode == 0


def test_importing_the_settings_changes_nothing_on_disk_and_a_command_makes_its_folders(tmp_path):
    env = checkout_env(tmp_path)
    script = "import django; django.setup(); from django.conf import settings; print(settings.VAR_DIR)"
    shown = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert not (tmp_path / "var").exists()

    assert manage(env, "check").returncode == 0
    assert sorted(path.name for path in (tmp_path / "var" / "broker").iterdir()) == ["control", "processed", "queue"]


def test_the_dotenv_file_is_read_and_the_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("POLYGON_FEED=realtime\nADMIN_URL=from-dotenv/\n")
    env = checkout_env(tmp_path, ADMIN_URL="from-environment/")
    script = "import django; django.setup(); from django.conf import settings as s; print(s.POLYGON_FEED, s.ADMIN_URL)"
    shown = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert shown.stdout.split() == ["realtime", "from-environment/"], shown.stderr


def test_dotenv_is_ignored_by_git_and_the_example_documents_every_secret():
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    example = (ROOT / ".env.example").read_text()
    for name in ("FLOWSITE_ENV", "DJANGO_SECRET_KEY", "POLYGON_API_KEY", "DATABASE_URL", "CELERY_BROKER_URL"):
        assert f"{name}=" in example, name


PRODUCTION_STATIC = """
import django
django.setup()
from django.conf import settings
from django.test import Client
assert settings.STORAGES["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
client = Client(SERVER_NAME="flow.example.com")
login = f"/{settings.ADMIN_URL}login/"
assert client.get(login).status_code == 301  # SECURE_SSL_REDIRECT
assert client.get("/healthz").status_code in (200, 503)  # exempt: load balancers probe over http
page = client.get(login, secure=True)
assert page.status_code == 200, page.status_code
assert page["Strict-Transport-Security"].startswith("max-age=")
css = next(part.split('"')[0] for part in page.content.decode().split('href="') if "base." in part.split('"')[0])
assert css.startswith("/static/admin/css/base.") and css != "/static/admin/css/base.css", css
served = client.get(css, secure=True)
assert served.status_code == 200 and "text/css" in served["Content-Type"], served.status_code
print("served", css)
"""


def test_production_serves_the_admin_css_after_collectstatic(tmp_path):
    """What the Dockerfile does (see tests/project/test_compose.py): collectstatic at build, then whitenoise serves."""
    env = production_env(tmp_path)
    collected = manage(env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert (tmp_path / "var" / "static" / "staticfiles.json").exists()
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_STATIC], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "served /static/admin/css/base." in result.stdout


# --- in the tests (as with DEBUG): static files without collectstatic ------------------------------


def test_whitenoise_serves_the_admin_css_from_the_apps(client: Client, settings):
    assert settings.MIDDLEWARE[:2] == [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)  # type: ignore[attr-defined]


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_url(settings) -> Iterator[str]:
    import flowsite.urls

    settings.ADMIN_URL = "ops-7f3c/"
    importlib.reload(flowsite.urls)
    clear_url_caches()
    yield "/ops-7f3c/"
    settings.ADMIN_URL = "admin/"
    importlib.reload(flowsite.urls)
    clear_url_caches()


@pytest.mark.django_db
def test_the_admin_is_behind_a_login(client: Client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_admin_url_moves_the_admin(client: Client, admin_url: str):
    response = client.get(admin_url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{admin_url}login/")
    assert client.get("/admin/").status_code == 404
