"""A real HTTP server on loopback that plays every kind of feed host the provider meets.

``http.server.ThreadingHTTPServer`` in a thread, one per test module. The route picks the
behaviour, so tests never share switches:

==============================  ==========================================================
``/files/<corpus path>``        the corpus file, with ETag and Last-Modified; 304 to a
                                matching If-None-Match or If-Modified-Since
``/plain/<corpus path>``        the corpus file, no validators
``/gzip/<corpus path>``         the corpus file gzip-compressed (Content-Encoding: gzip)
``/mutable/<key>``              what the test put in ``server.feeds[key]`` (body, etag|None)
``/html`` ``/json`` ``/vcard``  not a calendar
``/text``                       plain text
``/empty``                      200 with no body
``/big/<n>``                    n bytes, with Content-Length
``/endless``                    never ends (no Content-Length) until the client goes away
``/bomb/<n>``                   n zero bytes gzip-compressed (a few KB on the wire)
``/status/<code>``              that status
``/hop/<n>/<rest>``             n redirects, then ``/<rest>``
``/loop``                       redirects to itself
``/redirect-to?url=<url>``      one redirect to ``url``
``/slow``                       sleeps before the headers
``/trickle``                    headers at once, then one byte every 50 ms for seconds
==============================  ==========================================================

Every request is logged in ``server.log`` (path, query and headers) so tests can tell what was sent
and whether a refused request ever arrived.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

CORPUS = (Path(__file__).parents[3] / ".." / "shared" / "corpus" / "ics").resolve()
#: What a secret feed URL carries; no error message may ever show it.
TOKEN = "s3cr3t-T0KEN-7f9c2a"
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)

HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>\n"
JSON = b'{"error": "not found", "items": []}'
VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n"


@dataclass(frozen=True)
class Logged:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FeedHandler)
        self.log: list[Logged] = []
        self.feeds: dict[str, tuple[bytes, str | None]] = {}
        self.stopping = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str, *, scheme: str = "http") -> str:
        """A URL of this server for ``path``, carrying the secret token in its query."""
        return f"{scheme}://127.0.0.1:{self.server_address[1]}{path}?token={TOKEN}"

    def paths(self) -> list[str]:
        return [entry.path for entry in self.log]

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hung up on purpose (size or time limit) is part of the tests.
        pass


class FeedHandler(BaseHTTPRequestHandler):
    server: FeedServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        self.server.log.append(Logged(path, query, {k.lower(): v for k, v in self.headers.items()}))
        try:
            self._route(path, query)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "text/calendar; charset=utf-8", **(headers or {})}
        if status != 304:
            headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _validated(self, body: bytes, etag: str | None, last_modified: str | None) -> None:
        match = etag is not None and self.headers.get("If-None-Match") == etag
        since = last_modified is not None and self.headers.get("If-Modified-Since") == last_modified
        headers = {}
        if etag is not None:
            headers["ETag"] = etag
        if last_modified is not None:
            headers["Last-Modified"] = last_modified
        if match or (since and "If-None-Match" not in self.headers):
            self._send(304, headers=headers)
        else:
            self._send(200, body, headers)

    def _corpus(self, rest: str) -> bytes:
        return (CORPUS / rest).read_bytes()

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        head, _, rest = path.lstrip("/").partition("/")
        if head == "files":
            body = self._corpus(rest)
            self._validated(body, f'"{hashlib.sha1(body).hexdigest()}"', LAST_MODIFIED)
        elif head == "plain":
            self._send(200, self._corpus(rest))
        elif head == "gzip":
            self._send(200, gzip.compress(self._corpus(rest)), {"Content-Encoding": "gzip"})
        elif head == "mutable":
            body, etag = self.server.feeds[rest]
            self._validated(body, etag, None)
        elif head == "html":
            self._send(200, HTML, {"Content-Type": "text/html; charset=utf-8"})
        elif head == "json":
            self._send(200, JSON, {"Content-Type": "application/json"})
        elif head == "vcard":
            self._send(200, VCARD, {"Content-Type": "text/vcard"})
        elif head == "text":
            self._send(200, b"Calendar moved, see the new page.\n", {"Content-Type": "text/plain"})
        elif head == "empty":
            self._send(200)
        elif head == "big":
            self._send(200, b"BEGIN:VCALENDAR\r\n" + b"X" * int(rest))
        elif head == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            self.wfile.write(b"BEGIN:VCALENDAR\r\n")
            chunk = b"X-FILLER:" + b"x" * 65_000 + b"\r\n"
            while not self.server.stopping.is_set():
                self.wfile.write(chunk)
        elif head == "bomb":
            self._send(200, gzip.compress(b"\0" * int(rest)), {"Content-Encoding": "gzip"})
        elif head == "status":
            self._send(int(rest), b"nope\n", {"Content-Type": "text/plain"})
        elif head == "hop":
            count, _, target = rest.partition("/")
            left = int(count)
            location = f"/hop/{left - 1}/{target}" if left > 1 else f"/{target}"
            self._send(302, headers={"Location": f"{location}?token={TOKEN}"})
        elif head == "loop":
            self._send(302, headers={"Location": f"/loop?token={TOKEN}"})
        elif head == "redirect-to":
            self._send(302, headers={"Location": query["url"][0]})
        elif head == "slow":
            self.server.stopping.wait(3.0)
            self._send(200, self._corpus("ical4j/samples/valid/blalor.ics"))
        elif head == "trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            for _ in range(60):
                if self.server.stopping.wait(0.05):
                    break
                self.wfile.write(b"X")
                self.wfile.flush()
        else:
            self._send(404, b"no such route\n", {"Content-Type": "text/plain"})


def require_corpus() -> None:
    if not CORPUS.is_dir():
        reason = f"the shared iCalendar corpus is not at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer()
    thread = threading.Thread(target=feed_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield feed_server
    finally:
        feed_server.stopping.set()
        feed_server.shutdown()
        feed_server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _fresh_log(server: FeedServer) -> None:
    server.log.clear()
    server.feeds.clear()
