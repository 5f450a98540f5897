"""Issue 11: the vault never prints its database password, however its start fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.launcher.ports import free_port
from services.vault.database import driver_url, mask_password
from services.vault.settings import VaultSettings
from tests.kit.service_tokens import SERVICE_TOKEN_ENV

pytestmark = pytest.mark.integration

PASSWORD = "Pw-canary-7f3a9e"


def run_vault(tmp_path: Path, database_url: str, log_format: str, **extra: str) -> str:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "SCHEMA_ATTEMPTS", "PORT")}
    env.update({"DATABASE_URL": database_url, "PORT": "0", "SCHEMA_ATTEMPTS": "1",
                "LOG_FORMAT": log_format, **SERVICE_TOKEN_ENV, **extra})
    done = subprocess.run(
        [sys.executable, "-m", "services.vault"], env=env, capture_output=True, text=True,
        timeout=120, cwd=tmp_path,
    )
    assert done.returncode != 0, "the vault should refuse to start"
    output = done.stdout + done.stderr
    (tmp_path / "vault.log").write_text(output)
    return output



REFUSED = f"postgresql://dne:{PASSWORD}@127.0.0.1:{{port}}/dne"


@pytest.mark.parametrize("log_format", ["json", "text"])
@pytest.mark.parametrize(
    ("url", "extra", "says"),
    [
        (f"mysql://dne:{PASSWORD}@db/dne", {}, "must be sqlite:/// or postgresql://"),
        (f"postgresql://dne:{PASSWORD}@db:notaport/dne", {}, "not a database URL"),
        (f"postgresql://dne:{PASSWORD}@db/dne", {"SCHEMA_ATTEMPTS": "many"}, "schema_attempts"),
        (f"postgresql://dne:{PASSWORD}@db/dne", {"LOG_LEVEL": "LOUD"}, "log_level"),
        (REFUSED + "?sslmode=bogus", {}, "sslmode"),
        (REFUSED, {}, "unavailable"),
    ],
    ids=["other-scheme", "bad-port", "bad-option", "bad-log-level", "bad-url-option",
         "server-refuses"],
)
def test_a_failed_start_never_prints_the_database_password(
    tmp_path: Path, url: str, extra: dict[str, str], says: str, log_format: str
) -> None:
    output = run_vault(tmp_path, url.format(port=free_port()), log_format, **extra)
    assert says in output
    assert PASSWORD not in output
    assert PASSWORD[:8] not in output


def test_the_settings_object_does_not_show_the_url() -> None:
    settings = VaultSettings(database_url=f"postgresql://dne:{PASSWORD}@db/dne")
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)


def test_messages_about_a_url_mask_its_password() -> None:
    url = f"postgresql://dne:{PASSWORD}@db:5432/dne"
    assert mask_password(f"cannot reach {url}") == "cannot reach postgresql://dne:***@db:5432/dne"
    assert mask_password(f"driver said {PASSWORD}", url) == "driver said ***"
    with pytest.raises(ValueError) as refused:
        driver_url(f"postgresql://dne:{PASSWORD}@db:port/dne")
    assert PASSWORD not in str(refused.value)
