"""Discovery paths and failures: wrong passwords, dead servers, URLs that are not CalDAV, SSRF.

Real servers where a real server can show it (Radicale's 401, a stopped server); a scripted
HTTP server on loopback where the situation needs a server that misbehaves on purpose (HTML
pages, garbage XML, an iCloud-style calendar home on another host).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from calmesh.errors import (
    InvalidInput,
    ProviderAuthFailed,
    ProviderProtocolError,
    ProviderUnreachable,
    SyncCursorExpired,
    UnsafeUrl,
)
from calmesh.providers.base import ProviderConfig
from calmesh.providers.caldav import PRESETS, open_caldav
from calmesh.providers.caldav.presets import server_url_for

if TYPE_CHECKING:
    from tests.caldav_servers import CalDAVServer

pytest_plugins = ["tests.caldav_servers"]


# --- a scripted HTTP server ------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: str = ""
    content_type: str = "application/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedServer:
    """Answers (method, path) with what the test put in ``routes``; 404 otherwise."""

    httpd: ThreadingHTTPServer
    #: An answer, or a function of the request body giving one.
    routes: dict[tuple[str, str], Answer | Callable[[bytes], Answer]] = field(default_factory=dict)
    #: Every request as (method, path, Content-Type).
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: When set, every request gets this answer (a plain website, say).
    answer_everything: Answer | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def _handler(script: Callable[[], ScriptedServer]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            server = script()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.seen.append((self.command, self.path, self.headers.get("Content-Type")))
            route = server.routes.get((self.command, self.path), Answer(404, "nope", "text/plain"))
            answer = server.answer_everything or (route if isinstance(route, Answer) else route(body))
            payload = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PROPFIND = do_REPORT = do_PUT = do_DELETE = do_OPTIONS = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def scripted() -> Iterator[Callable[[], ScriptedServer]]:
    """A factory of scripted servers, each on its own loopback port, all closed at teardown."""
    started: list[tuple[ScriptedServer, threading.Thread]] = []

    def make() -> ScriptedServer:
        holder: list[ScriptedServer] = []
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(lambda: holder[0]))
        httpd.daemon_threads = True
        server = ScriptedServer(httpd)
        holder.append(server)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield make
    for server, thread in started:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join()


def multistatus(*responses: str) -> str:
    return f'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">{"".join(responses)}</d:multistatus>'


def response(href: str, props: str, status: str = "HTTP/1.1 200 OK") -> str:
    return f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>{props}</d:prop><d:status>{status}</d:status></d:propstat></d:response>"


def config(url: str, **account: str) -> ProviderConfig:
    return ProviderConfig({"serverUrl": url, "username": "u", **account}, {"password": "pw-s3cret"}, allow_private_network=True)


# --- credentials and reachability (real servers) -----------------------------------------------


async def test_a_wrong_password_is_auth_failed_and_never_echoed(radicale_server: CalDAVServer) -> None:
    radicale_server.ensure_running()
    wrong = ProviderConfig(
        {"serverUrl": radicale_server.url, "username": "alice"}, {"password": "hunter2-wrong"}, allow_private_network=True
    )
    async with open_caldav(wrong) as provider:
        with pytest.raises(ProviderAuthFailed) as raised:
            await provider.list_calendars()
    assert "hunter2-wrong" not in str(raised.value)
    assert "username or password" in str(raised.value)


async def test_a_stopped_server_is_unreachable(caldav_server: CalDAVServer) -> None:
    caldav_server.stop()
    try:
        async with open_caldav(caldav_server.provider_config()) as provider:
            with pytest.raises(ProviderUnreachable) as raised:
                await provider.list_calendars()
    finally:
        caldav_server.start()
    assert str(caldav_server.port) in str(raised.value)


async def test_a_loopback_server_is_refused_unless_private_networks_are_allowed(caldav_server: CalDAVServer) -> None:
    async with open_caldav(caldav_server.provider_config(allow_private_network=False)) as provider:
        with pytest.raises(UnsafeUrl):
            await provider.list_calendars()


# --- not CalDAV ----------------------------------------------------------------------------------


async def test_a_website_is_not_a_caldav_server(scripted: Callable[[], ScriptedServer]) -> None:
    site = scripted()
    site.answer_everything = Answer(200, "<!doctype html><html><body>Welcome</body></html>", "text/html; charset=utf-8")
    async with open_caldav(config(site.url)) as provider:
        with pytest.raises(ProviderProtocolError) as raised:
            await provider.list_calendars()
    assert str(raised.value).startswith(f"{site.url} is not a CalDAV server:")


@pytest.mark.parametrize("status", [404, 405])
async def test_a_server_refusing_propfind_is_not_a_caldav_server(
    scripted: Callable[[], ScriptedServer], status: int
) -> None:
    server = scripted()
    server.answer_everything = Answer(status, "no", "text/plain")
    async with open_caldav(config(server.url + "dav/")) as provider:
        with pytest.raises(ProviderProtocolError, match="is not a CalDAV server: PROPFIND answered HTTP"):
            await provider.list_calendars()


async def test_a_dav_server_without_principal_is_not_a_caldav_server(scripted: Callable[[], ScriptedServer]) -> None:
    server = scripted()
    server.answer_everything = Answer(207, multistatus(response("/", "<d:resourcetype><d:collection/></d:resourcetype>")))
    async with open_caldav(config(server.url)) as provider:
        with pytest.raises(ProviderProtocolError, match="no current-user-principal or calendar-home-set"):
            await provider.list_calendars()


async def test_garbage_xml_after_discovery_is_a_protocol_error(scripted: Callable[[], ScriptedServer]) -> None:
    server = scripted()
    home = "<c:calendar-home-set><d:href>/home/</d:href></c:calendar-home-set>"
    server.routes[("PROPFIND", "/dav/")] = Answer(207, multistatus(response("/dav/", home)))
    server.routes[("PROPFIND", "/home/")] = Answer(207, "<d:multistatus xmlns:d='DAV:'><d:response>")
    async with open_caldav(config(server.url + "dav/")) as provider:
        with pytest.raises(ProviderProtocolError, match="not valid WebDAV XML"):
            await provider.list_calendars()
    # Every WebDAV body went out as XML (Xandikos answers 415 otherwise).
    assert {content_type for method, _, content_type in server.seen if method == "PROPFIND"} == {
        "application/xml; charset=utf-8"
    }


async def test_discovery_keeps_propfind_through_a_302_and_follows_a_home_on_another_host(
    scripted: Callable[[], ScriptedServer],
) -> None:
    """The iCloud shape: the principal lives on one host, the calendar home on a partition host."""
    front, partition = scripted(), scripted()
    partition_home = f"http://localhost:{partition.port}/1234/calendars/"
    front.routes[("PROPFIND", "/.well-known/caldav")] = Answer(302, "", "text/plain", {"Location": "/principals/"})
    front.routes[("PROPFIND", "/principals/")] = Answer(
        207, multistatus(response("/principals/", "<d:current-user-principal><d:href>/1234/principal/</d:href></d:current-user-principal>"))
    )
    front.routes[("PROPFIND", "/1234/principal/")] = Answer(
        207, multistatus(response("/1234/principal/", f"<c:calendar-home-set><d:href>{partition_home}</d:href></c:calendar-home-set>"))
    )
    calendar_props = (
        "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>Home</d:displayname>"
        '<c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set>'
        "<d:current-user-privilege-set><d:privilege><d:read/></d:privilege></d:current-user-privilege-set>"
    )
    tasks_props = (
        "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>Reminders</d:displayname>"
        '<c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set>'
    )
    partition.routes[("PROPFIND", "/1234/calendars/")] = Answer(
        207,
        multistatus(
            response("/1234/calendars/", "<d:resourcetype><d:collection/></d:resourcetype>"),
            response(f"{partition_home}home/", calendar_props),
            response("/1234/calendars/tasks/", tasks_props),
            response("/1234/calendars/home/", "<d:displayname/>", "HTTP/1.1 404 Not Found"),
        ),
    )

    async with open_caldav(config(front.url)) as provider:
        calendars = await provider.list_calendars()

    assert [(c.id, c.name, c.read_only, c.is_primary) for c in calendars] == [
        (f"{partition_home}home/", "Home", True, True)
    ]
    assert [(m, p) for m, p, _ in front.seen] == [
        ("PROPFIND", "/.well-known/caldav"),
        ("PROPFIND", "/principals/"),
        ("PROPFIND", "/1234/principal/"),
    ]


# --- presets -------------------------------------------------------------------------------------


def test_presets_give_the_server_url() -> None:
    assert server_url_for({"preset": "icloud"}) == "https://caldav.icloud.com/"
    assert server_url_for({"preset": "fastmail"}) == "https://caldav.fastmail.com/"
    assert server_url_for({"preset": "nextcloud", "serverUrl": "https://cloud.example.com/"}) == (
        "https://cloud.example.com/remote.php/dav/"
    )
    assert server_url_for({"serverUrl": "https://dav.example.com/"}) == "https://dav.example.com/"
    assert set(PRESETS) == {"icloud", "fastmail", "nextcloud"}


@pytest.mark.parametrize(
    "account", [{"preset": "nextcloud"}, {"preset": "gmail"}, {}], ids=["nextcloud-without-url", "unknown", "nothing"]
)
def test_an_incomplete_account_is_invalid_input(account: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        server_url_for(account)


# --- sync edge cases no local server shows ---------------------------------------------------------


def ics_event(uid: str) -> str:
    return (
        "BEGIN:VCALENDAR&#13;\nVERSION:2.0&#13;\nPRODID:-//t//EN&#13;\nBEGIN:VEVENT&#13;\n"
        f"UID:{uid}&#13;\nDTSTAMP:20260101T000000Z&#13;\nDTSTART:20270101T100000Z&#13;\n"
        "END:VEVENT&#13;\nEND:VCALENDAR&#13;\n"
    )


def member(href: str, etag: str, data: str | None = None) -> str:
    props = f"<d:getetag>{etag}</d:getetag>"
    if data is not None:
        props += f"<c:calendar-data>{data}</c:calendar-data>"
    return response(href, props)


async def test_a_truncated_sync_continues_from_the_new_token(scripted: Callable[[], ScriptedServer]) -> None:
    """RFC 6578 §3.6 paging, the collection listed as its own member (iCloud), data fetched by multiget."""
    server = scripted()

    def report(body: bytes) -> Answer:
        if b"calendar-multiget" in body:
            assert b"<d:href>/cal/b.ics</d:href>" in body and b"a.ics" not in body
            return Answer(207, multistatus(member("/cal/b.ics", '"b1"', ics_event("b"))))
        if b"<d:sync-token>t1</d:sync-token>" in body:
            return Answer(
                207,
                multistatus(
                    "<d:response><d:href>/cal/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>",
                    member("/cal/a.ics", '"a1"', ics_event("a")),
                    member("/cal/gone.ics", '"g1"', ics_event("gone")),
                    "<d:sync-token>t2</d:sync-token>",
                ),
            )
        assert b"<d:sync-token>t2</d:sync-token>" in body
        return Answer(
            207,
            multistatus(
                member("/cal/", '"collection"'),
                member("/cal/b.ics", '"b1"'),
                "<d:response><d:href>/cal/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>",
                "<d:sync-token>t3</d:sync-token>",
            ),
        )

    server.routes[("REPORT", "/cal/")] = report
    async with open_caldav(config(server.url)) as provider:
        changes = await provider.changes(server.url + "cal/", "sync:t1")

    assert sorted((item.id, item.etag, item.uid) for item in changes.items) == [
        ("/cal/a.ics", '"a1"', "a"),
        ("/cal/b.ics", '"b1"', "b"),
    ]
    assert changes.deleted == ("/cal/gone.ics",) and changes.cursor == "sync:t3" and not changes.full


async def test_a_server_refusing_sync_collection_falls_back_to_the_ctag(scripted: Callable[[], ScriptedServer]) -> None:
    server = scripted()
    server.routes[("REPORT", "/cal/")] = lambda body: (
        Answer(501, "", "text/plain")
        if b"sync-collection" in body
        else Answer(207, multistatus(member("/cal/a.ics", '"a1"', ics_event("a"))))
    )
    server.routes[("PROPFIND", "/cal/")] = lambda body: Answer(
        207,
        multistatus(
            response("/cal/", '<cs:getctag xmlns:cs="http://calendarserver.org/ns/">c1</cs:getctag>')
            if b"getctag" in body
            else response("/cal/", "<d:sync-token>t1</d:sync-token>")
        ),
    )
    async with open_caldav(config(server.url)) as provider:
        with pytest.raises(SyncCursorExpired):
            await provider.changes(server.url + "cal/", "sync:t1")
        full = await provider.changes(server.url + "cal/", None)
        unchanged = await provider.changes(server.url + "cal/", full.cursor, {"/cal/a.ics": '"a1"'})

    assert full.cursor == "ctag:c1" and [item.uid for item in full.items] == ["a"]
    assert unchanged.items == () and unchanged.cursor == "ctag:c1"
