"""``calmesh connect``, ``calmesh sync`` and ``calmesh status`` as an operator runs them: the real
console entry point in a subprocess, a fresh SQLite file and key file per test, and a real
Radicale on loopback (alice/secret)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.caldav_servers import RADICALE_PASSWORD, RADICALE_USER, CalDAVServer, radicale


def calmesh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calmesh", *args],
        check=False, env=env, cwd=env["HOME"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def module_radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalDAVServer]:
    """A Radicale of this module's own: ``calmesh sync`` syncs every calendar of the account
    (the CLI has no calendarsToSync), so it must not see the calendars of the whole session."""
    server = radicale(tmp_path_factory.mktemp("radicale-cli"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def caldav(module_radicale: CalDAVServer) -> CalDAVServer:
    module_radicale.ensure_running()  # a test that stopped it may have failed before restarting it
    return module_radicale


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh database and key file, loopback allowed, the password in PW."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")}
    return clean | {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "NO_COLOR": "1",
        "COLUMNS": "250",
        "CALMESH_DATABASE_URL": f"sqlite:///{tmp_path / 'calmesh.db'}",
        "CALMESH_KEY_FILE": str(tmp_path / "keys" / "master.key"),
        "CALMESH_ALLOW_PRIVATE_NETWORK": "true",
        "CALMESH_PROVIDER_TIMEOUT_SECONDS": "5",
        "PW": RADICALE_PASSWORD,
    }


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("calmesh: error: "), line
    return line


def connect(env: dict[str, str], server: CalDAVServer, *more: str) -> subprocess.CompletedProcess[str]:
    return calmesh(env, "connect", "caldav", server.url, "--username", RADICALE_USER, "--password-env", "PW", *more)


def connect_json(env: dict[str, str], server: CalDAVServer) -> dict[str, Any]:
    created: dict[str, Any] = json_of(connect(env, server, "--json"))
    return created


def event_ics(uid: str) -> str:
    return "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//other client//EN",
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
        "DTSTART:20260401T100000Z", "DTEND:20260401T110000Z", f"SUMMARY:Event {uid}",
        "END:VEVENT", "END:VCALENDAR", "",
    ])  # fmt: skip


async def calendar_with_events(server: CalDAVServer, count: int) -> tuple[str, str]:
    """A new calendar holding ``count`` events: its display name (unique) and URL."""
    name = f"CLI {uuid.uuid4().hex[:8]}"
    url = await server.mkcalendar(display_name=name)
    for n in range(count):
        await server.put_object(url, f"e{n}.ics", event_ics(f"{name}-{n}"))
    return name, url


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a Rich table, as cell texts."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in text.splitlines() if line.startswith("│")]


def row_of(rows: list[dict[str, Any]], calendar: str) -> dict[str, Any]:
    [row] = [r for r in rows if r["calendar"] == calendar]
    return row


# --- connect -------------------------------------------------------------------------------------


def test_connect_caldav_prints_the_id_and_json_without_the_password(env: dict[str, str], caldav: CalDAVServer) -> None:
    result = ok(connect(env, caldav))
    assert RADICALE_PASSWORD not in result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "connected CALDAV as int" in text

    created = connect_json(env, caldav)
    assert created["id"].startswith("int")
    assert created["provider"] == "CALDAV" and created["status"] == "ACTIVE"
    assert created["account"] == {"username": RADICALE_USER, "serverUrl": caldav.url}
    assert created["settings"]["syncDirection"] == "BOTH"  # camelCase, as the API shows it
    assert RADICALE_PASSWORD not in json.dumps(created)

    # Both land in the same (default) tenant, and the first command's id is the one it printed.
    listed = json_of(calmesh(env, "status", "--json"))
    assert [row["id"] for row in listed] == sorted(row["id"] for row in listed)
    assert created["id"] in [row["id"] for row in listed] and len(listed) == 2
    assert len({row["tenant_id"] for row in listed}) == 1
    first = next(row["id"] for row in listed if row["id"] != created["id"])
    assert first in text


def test_connect_with_a_wrong_password_fails_in_one_line_and_stores_nothing(
    env: dict[str, str], caldav: CalDAVServer
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex[:10]
    line = one_error_line(connect(env | {"PW": wrong}, caldav), 1)
    assert wrong not in line and "401" in line
    assert json_of(calmesh(env, "status", "--json")) == []


def test_connect_without_a_url_is_bad_input(env: dict[str, str]) -> None:
    line = one_error_line(calmesh(env, "connect", "caldav", "--username", "alice", "--password-env", "PW"), 2)
    assert "serverUrl" in line


# --- sync and status -----------------------------------------------------------------------------


async def test_sync_pulls_what_the_server_holds_and_status_shows_it(env: dict[str, str], caldav: CalDAVServer) -> None:
    first, first_url = await calendar_with_events(caldav, 3)
    second, _ = await calendar_with_events(caldav, 1)
    integration = connect_json(env, caldav)["id"]

    before = " ".join(ok(calmesh(env, "status")).stdout.split())
    assert integration in before and "ACTIVE" in before

    synced = json_of(calmesh(env, "sync", "--json"))
    assert synced["failures"] == []
    rows = synced["calendars"]
    assert {r["integration"] for r in rows} == {integration}
    assert (row_of(rows, first)["pulled"], row_of(rows, second)["pulled"]) == (3, 1)
    for row in (row_of(rows, first), row_of(rows, second)):
        assert (row["pushed"], row["conflicts"], row["problems"], row["error"]) == (0, 0, 0, None)

    # Nothing changed: a second sync of that integration pulls nothing; a new object is pulled alone.
    again = json_of(calmesh(env, "sync", integration, "--json"))
    assert (row_of(again["calendars"], first)["pulled"], row_of(again["calendars"], second)["pulled"]) == (0, 0)
    await caldav.put_object(first_url, "late.ics", event_ics(f"{first}-late"))
    table = ok(calmesh(env, "sync"))
    assert "pulled" in table.stdout and "deleted there" in table.stdout
    pulled = {cells[1]: cells[2] for cells in table_rows(table.stdout) if cells[0] == integration}
    assert pulled == {first: "1", second: "0"}

    status = json_of(calmesh(env, "status", "--json"))
    [row] = status
    assert (row["id"], row["provider"], row["account"], row["state"]) == (integration, "CALDAV", RADICALE_USER, "ACTIVE")
    assert row["last_sync_at"] is not None and row["last_error"] is None
    shown = ok(calmesh(env, "status")).stdout
    assert "integrations" in shown and "last_sync_at" in shown
    [cells] = table_rows(shown)
    assert cells[:5] == [integration, row["tenant_id"], "CALDAV", RADICALE_USER, "ACTIVE"]


async def test_sync_full_pulls_everything_again(env: dict[str, str], caldav: CalDAVServer) -> None:
    name, _ = await calendar_with_events(caldav, 2)
    integration = connect_json(env, caldav)["id"]
    assert row_of(json_of(calmesh(env, "sync", "--json"))["calendars"], name)["pulled"] == 2
    full = json_of(calmesh(env, "sync", integration, "--full", "--json"))
    assert full["failures"] == [] and row_of(full["calendars"], name)["error"] is None


def test_sync_of_an_unknown_integration_fails(env: dict[str, str]) -> None:
    result = calmesh(env, "sync", "int_nope", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert json.loads(result.stdout)["failures"] == [{"integration": "int_nope", "error": "no such integration"}]


async def test_sync_with_the_server_stopped_fails_and_names_the_failure(env: dict[str, str], caldav: CalDAVServer) -> None:
    name, _ = await calendar_with_events(caldav, 1)
    integration = connect_json(env, caldav)["id"]
    address = f"127.0.0.1:{caldav.port}"

    caldav.stop()
    try:
        failed = calmesh(env, "sync", "--full")
        assert failed.returncode == 1, (failed.stdout, failed.stderr)
        assert "Traceback" not in failed.stderr
        text = " ".join(failed.stdout.split())
        assert f"{integration}:" in text and address in text
        as_json = calmesh(env, "sync", "--full", "--json")
        assert as_json.returncode == 1
        [failure] = json.loads(as_json.stdout)["failures"]
        assert failure["integration"] == integration and address in failure["error"]
        assert RADICALE_PASSWORD not in failed.stdout + as_json.stdout

        [row] = json_of(calmesh(env, "status", "--json"))
        assert row["state"] == "ERROR" and address in row["last_error"]
    finally:
        caldav.start()

    recovered = json_of(calmesh(env, "sync", "--json"))
    assert recovered["failures"] == [] and row_of(recovered["calendars"], name)["pulled"] == 1
    [row] = json_of(calmesh(env, "status", "--json"))
    assert (row["state"], row["last_error"]) == ("ACTIVE", None)
