"""The CLI as a user runs it: real processes, a scratch data directory, exit codes and output."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


def calmesh(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calmesh", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user's environment with nothing configured: calmesh must use its embedded default."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")}
    return clean | {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}


def test_tenants_create_prints_the_key_once_and_refuses_duplicates(env: dict[str, str], tmp_path: Path) -> None:
    created = calmesh(env, "tenants", "create", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("cmk_")
    data_dir = tmp_path / "data" / "calmesh"
    assert (data_dir / "calmesh.db").exists()
    assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
    assert key.encode() not in (data_dir / "calmesh.db").read_bytes()  # only its hash is stored

    again = calmesh(env, "tenants", "create", "acme")
    assert again.returncode == 1
    assert again.stderr.strip() == "calmesh: error: a tenant named 'acme' already exists"

    listed = json.loads(calmesh(env, "tenants", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["acme"] and "apiKey" not in listed[0]
    assert "acme" in calmesh(env, "tenants", "list").stdout


def test_db_upgrade_reports_the_revision_and_bad_settings_fail_in_one_line(env: dict[str, str]) -> None:
    result = calmesh(env, "db", "upgrade")
    from calmesh.storage.migrate import head_revision

    assert result.returncode == 0 and f"revision {head_revision()} (head {head_revision()})" in result.stdout
    bad = calmesh(env | {"CALMESH_DATABASE_URL": "mysql://x"}, "db", "upgrade")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "CALMESH_DATABASE_URL" in bad.stderr and "Traceback" not in bad.stderr


def test_keys_rotate_keeps_credentials_readable(env: dict[str, str], tmp_path: Path) -> None:
    assert calmesh(env, "tenants", "create", "acme").returncode == 0
    key_file = tmp_path / "data" / "calmesh" / "master.key"
    before = json.loads(key_file.read_text())["current"]
    rotated = calmesh(env, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    after = json.loads(key_file.read_text())
    assert after["current"] != before and list(after["keys"]) == [after["current"]]
    assert f"no longer used: {before}" in " ".join(rotated.stdout.split())


def test_serve_runs_on_the_embedded_default_and_answers(env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "calmesh", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "calmesh serve did not come up in 30 s"
                time.sleep(0.2)
        assert response.json() == {"status": "ready", "database": "sqlite"}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    log_lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line.get("path") == "/readyz" and line.get("requestId") for line in log_lines)
