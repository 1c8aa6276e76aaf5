"""Real CalDAV servers for tests: Radicale and Xandikos as subprocesses on loopback.

Register with ``pytest_plugins = ["tests.caldav_servers"]`` (root ``tests/conftest.py``). Then:

* ``radicale_server`` / ``xandikos_server`` (session scope) — one server each, started on a free
  127.0.0.1 port with its own storage folder, stopped at the end of the session.
  Radicale checks credentials (htpasswd, user ``alice``, password ``secret``: a wrong password
  gets 401); Xandikos has no authentication for plain HTTP, so its username and password are
  None.
* ``caldav_server`` — parametrized over both (ids ``radicale`` and ``xandikos``), restarted if
  an earlier test left it stopped.

Each yields a :class:`CalDAVServer`. Tests share a server, so each should work in its own
calendar: ``url = await server.mkcalendar()``. To play "another client changed the server",
use :meth:`~CalDAVServer.put_object` / :meth:`~CalDAVServer.delete_object` (raw HTTP, no
calmesh code). :meth:`~CalDAVServer.stop` and :meth:`~CalDAVServer.start` restart the server on
the same port and storage. :meth:`~CalDAVServer.write_raw_object` stores bytes the server
would refuse over HTTP (Radicale: a file in its folder — though Radicale then hides objects
it cannot parse; Xandikos: a git commit in the calendar's repository).

Servers facts met here: Radicale 3.9 defaults to ``auth.type = denyall`` and waits one second
after a wrong password (``--auth-delay 0`` here, to keep tests fast); Xandikos answers 415 to a
PROPFIND without an XML content type.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

import httpx
import pytest

from calmesh.providers.base import ProviderConfig

__all__ = [
    "CalDAVServer",
    "caldav_server",
    "radicale_server",
    "xandikos_server",
]

RADICALE_USER = "alice"
RADICALE_PASSWORD = "secret"
_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 10.0

# Radicale's "owner_only" rights, plus calendars named readonly-* that their owner may only
# read (a read-only calendar for list_calendars tests). First matching section wins.
_RADICALE_RIGHTS = """\
[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[read-only-calendars]
user: .+
collection: {user}/readonly-[^/]+
permissions: r

[calendars]
user: .+
collection: {user}/[^/]+
permissions: rw
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CalDAVServer:
    """One running (or stopped) CalDAV server and helpers that talk to it over raw HTTP."""

    #: "radicale" or "xandikos".
    name: str
    port: int
    storage_dir: Path
    #: Path of the account's calendar home set ("/alice/", "/user/calendars/").
    home_path: str
    username: str | None
    password: str | None
    command: list[str]
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    # --- addresses and configs -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root URL, what a user would type as serverUrl."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def home_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.home_path}"

    def calendar_url_for(self, name: str) -> str:
        """The URL a calendar collection called ``name`` has (or would have) under the home set."""
        return f"{self.home_url}{name}/"

    @property
    def auth(self) -> httpx.BasicAuth | None:
        if self.username is None:
            return None
        return httpx.BasicAuth(self.username, self.password or "")

    def account(self) -> dict[str, str]:
        """``ProviderConfig.account`` for this server."""
        account = {"serverUrl": self.url}
        if self.username is not None:
            account["username"] = self.username
        return account

    def secrets(self) -> dict[str, str]:
        return {"password": self.password} if self.password is not None else {}

    def provider_config(self, **changes: object) -> ProviderConfig:
        """A ProviderConfig for this server; loopback is allowed unless ``changes`` say otherwise."""
        values: dict[str, object] = {
            "account": self.account(),
            "secrets": self.secrets(),
            "allow_private_network": True,
            "timeout_seconds": 10.0,
        }
        values.update(changes)
        return ProviderConfig(**values)  # type: ignore[arg-type]

    # --- process -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server on its port and storage; returns once it accepts connections."""
        if self.running:
            return
        self._close_log()
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")  # closed in stop()
        env = {k: v for k, v in os.environ.items() if k != "RADICALE_CONFIG"}
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        self._wait_until_listening()

    def stop(self) -> None:
        """Stop the server (its storage stays); connections to its port are refused afterwards."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()

    def ensure_running(self) -> None:
        if not self.running:
            self.stop()  # reap a crashed process and close its log
            self.start()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise RuntimeError(f"{self.name} exited with {code} at start:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {self.port} in time:\n{self.log_tail()}")

    @property
    def log_path(self) -> Path:
        """The server's output, next to (not inside) its storage."""
        return self.storage_dir.parent / f"{self.name}.log"

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # --- raw HTTP helpers ------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(auth=self.auth, timeout=10.0)

    async def mkcalendar(
        self,
        name: str | None = None,
        *,
        display_name: str | None = None,
        color: str | None = None,
        components: tuple[str, ...] = ("VEVENT",),
        time_zone: str | None = None,
    ) -> str:
        """MKCALENDAR a fresh calendar under the home set; its URL (ending in ``/``).

        ``name`` is the collection's name when it is free; servers live for the whole session,
        so when a collection of that name exists already a random suffix is added — always use
        the URL returned. ``components`` is its supported-calendar-component-set (add "VTODO"
        to store tasks); ``time_zone`` (a TZID) sets its calendar-timezone.
        """
        name = name or f"cal-{uuid.uuid4().hex[:12]}"
        comps = "".join(f'<c:comp name="{c}"/>' for c in components)
        props = [f"<c:supported-calendar-component-set>{comps}</c:supported-calendar-component-set>"]
        if display_name is not None:
            props.append(f"<d:displayname>{escape(display_name)}</d:displayname>")
        if color is not None:
            props.append(f"<i:calendar-color>{escape(color)}</i:calendar-color>")
        if time_zone is not None:
            zone = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calmesh tests//EN\r\nBEGIN:VTIMEZONE\r\n"
                f"TZID:{time_zone}\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\n"
                "TZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
            )
            props.append(f"<c:calendar-timezone>{escape(zone)}</c:calendar-timezone>")
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:i="http://apple.com/ns/ical/">'
            f"<d:set><d:prop>{''.join(props)}</d:prop></d:set></c:mkcalendar>"
        )
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        async with self._client() as client:
            url = self.calendar_url_for(name)
            response = await client.request("MKCALENDAR", url, content=body.encode(), headers=headers)
            if response.status_code in (403, 405, 409) and "resource-must-be-null" in response.text:
                # Taken (Radicale 409, Xandikos 403): an earlier test used the name.
                url = self.calendar_url_for(f"{name}-{uuid.uuid4().hex[:8]}")
                response = await client.request("MKCALENDAR", url, content=body.encode(), headers=headers)
        assert response.status_code == 201, f"MKCALENDAR {url}: {response.status_code} {response.text}"
        return url

    async def put_object(
        self, calendar_url: str, name: str, ics_text: str | bytes, *, etag: str | None = None
    ) -> str:
        """PUT ``ics_text`` as ``{calendar_url}{name}`` (create or overwrite); the new ETag.

        ``etag`` sends ``If-Match``. Fails the test if the server refuses the object.
        """
        content = ics_text.encode() if isinstance(ics_text, str) else ics_text
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if etag is not None:
            headers["If-Match"] = etag
        async with self._client() as client:
            response = await client.put(calendar_url + name, content=content, headers=headers)
            assert response.status_code in (200, 201, 204), f"PUT {name}: {response.status_code} {response.text}"
            found = response.headers.get("ETag")
            if found is None:
                found = (await client.get(calendar_url + name)).headers.get("ETag")
        assert found is not None
        return str(found)

    async def delete_object(self, calendar_url: str, name: str) -> None:
        """DELETE ``{calendar_url}{name}`` unconditionally; a missing object is fine."""
        async with self._client() as client:
            response = await client.delete(calendar_url + name)
        assert response.status_code in (200, 204, 404), f"DELETE {name}: {response.status_code}"

    async def get_object(self, calendar_url: str, name: str) -> tuple[str, str] | None:
        """The object's text and ETag, or None when it does not exist."""
        async with self._client() as client:
            response = await client.get(calendar_url + name)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, f"GET {name}: {response.status_code}"
        return response.text, str(response.headers.get("ETag"))

    # --- behind the server's back ----------------------------------------------------------

    def collection_dir(self, calendar_url: str) -> Path:
        """Where the server keeps the calendar's objects."""
        path = unquote(urlsplit(calendar_url).path).strip("/")
        if self.name == "radicale":
            return self.storage_dir / "collection-root" / path
        return self.storage_dir / path

    def write_raw_object(self, calendar_url: str, name: str, data: bytes) -> None:
        """Store ``data`` as object ``name`` without the server validating it.

        Radicale: written into its folder (Radicale skips objects it cannot parse when it
        lists, so clients never see them). Xandikos: committed to the calendar's git repository.
        """
        target = self.collection_dir(calendar_url)
        (target / name).write_bytes(data)
        if self.name == "xandikos":
            from dulwich import porcelain

            porcelain.add(str(target), [str(target / name)])
            porcelain.commit(str(target), message=b"raw object", author=b"t <t@example.com>", committer=b"t <t@example.com>")

    def create_read_only_calendar(self, name: str, *, display_name: str | None = None) -> str:
        """A calendar the user may read but not write (Radicale only: Xandikos has no rights)."""
        if self.name != "radicale":
            raise NotImplementedError(f"{self.name} has no per-calendar rights")
        if not name.startswith("readonly-"):
            name = f"readonly-{name}"
        folder = self.storage_dir / "collection-root" / RADICALE_USER / name
        folder.mkdir(parents=True)
        props = {"tag": "VCALENDAR", "C:supported-calendar-component-set": "VEVENT"}
        if display_name is not None:
            props["D:displayname"] = display_name
        (folder / ".Radicale.props").write_text(json.dumps(props))
        return self.calendar_url_for(name)


# --- factories -----------------------------------------------------------------------------


def radicale(storage_dir: Path, port: int | None = None) -> CalDAVServer:
    """A Radicale server (not started) with htpasswd auth for alice/secret."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    users = storage_dir / "users"
    users.write_text(f"{RADICALE_USER}:{RADICALE_PASSWORD}\n")
    rights = storage_dir / "rights"
    rights.write_text(_RADICALE_RIGHTS)
    port = port or free_port()
    command = [
        sys.executable, "-m", "radicale",
        "--config",  # no value: read no config file, only these flags
        "--server-hosts", f"127.0.0.1:{port}",
        "--auth-type", "htpasswd",
        "--auth-htpasswd-filename", str(users),
        "--auth-htpasswd-encryption", "plain",
        "--auth-delay", "0",
        "--rights-type", "from_file",
        "--rights-file", str(rights),
        "--storage-filesystem-folder", str(storage_dir / "data"),
        "--logging-level", "warning",
    ]  # fmt: skip
    return CalDAVServer(
        name="radicale",
        port=port,
        storage_dir=storage_dir / "data",
        home_path=f"/{RADICALE_USER}/",
        username=RADICALE_USER,
        password=RADICALE_PASSWORD,
        command=command,
    )


def xandikos(storage_dir: Path, port: int | None = None) -> CalDAVServer:
    """A Xandikos server (not started), single user at /user/, no authentication."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    command = [
        sys.executable, "-m", "xandikos", "serve",
        "-d", str(storage_dir / "data"),
        "--defaults",
        "-l", "127.0.0.1",
        "-p", str(port),
        "--current-user-principal", "/user/",
        "--state-dir", str(storage_dir / "state"),
        "--no-detect-systemd",
    ]  # fmt: skip
    return CalDAVServer(
        name="xandikos",
        port=port,
        storage_dir=storage_dir / "data",
        home_path="/user/calendars/",
        username=None,
        password=None,
        command=command,
    )


def _running(server: CalDAVServer) -> Iterator[CalDAVServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalDAVServer]:
    """Radicale on a free loopback port for the whole session (alice/secret)."""
    yield from _running(radicale(tmp_path_factory.mktemp("radicale")))


@pytest.fixture(scope="session")
def xandikos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalDAVServer]:
    """Xandikos on a free loopback port for the whole session (no auth)."""
    yield from _running(xandikos(tmp_path_factory.mktemp("xandikos")))


@pytest.fixture(params=["radicale", "xandikos"])
def caldav_server(request: pytest.FixtureRequest) -> CalDAVServer:
    """Each test runs once per server; a server an earlier test stopped is started again."""
    server: CalDAVServer = request.getfixturevalue(f"{request.param}_server")
    server.ensure_running()
    return server
