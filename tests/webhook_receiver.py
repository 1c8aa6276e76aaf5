"""A scriptable webhook receiver: a real HTTP server on loopback, in a thread.

Each request takes the next step of the receiver's script (then :attr:`Receiver.default` once
the script is used up):

- an ``int``: answer with that status (an empty JSON object as the body);
- :data:`HANG`: do not answer — the request stays open until the sender hangs up (then it is
  marked ``abandoned``) or :meth:`Receiver.release` (then it is answered 200);
- :data:`RESET`: drop the connection without an answer (a TCP reset);
- ``("redirect", location)``: answer 302 with that ``Location``.

Every request is recorded (body bytes, headers, arrival ``time.time()``, what was answered)
before the step runs, so a test can see a request that is still hanging.
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["HANG", "RESET", "Received", "Receiver", "Step", "wait_until"]

HANG: Literal["hang"] = "hang"
RESET: Literal["reset"] = "reset"

Step = int | Literal["hang", "reset"] | tuple[Literal["redirect"], str]


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]
    arrived_at: float
    step: Any
    #: The status answered, once answered (None while hanging, or after a reset).
    answered: int | None = None
    #: A hanging request whose sender hung up (timed out, or was killed).
    abandoned: bool = False
    finished_at: float | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    @property
    def event_id(self) -> str | None:
        return self.header("Calmesh-Event-Id")


@dataclass
class Receiver:
    url: str
    script: list[Any] = field(default_factory=list)
    default: Any = 200
    requests: list[Received] = field(default_factory=list)
    #: The most requests that were open (neither answered nor given up by the sender) at once.
    max_open: int = 0
    _open: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- scripting -----------------------------------------------------------------------

    def set_script(self, steps: Iterable[Step], default: Step | None = None) -> None:
        with self._lock:
            self.script = list(steps)
            if default is not None:
                self.default = default

    def release(self) -> None:
        """Let every hanging request (and every later HANG step) go on."""
        self._released.set()

    # --- what arrived --------------------------------------------------------------------

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    @property
    def open_requests(self) -> int:
        with self._lock:
            return len(self._open)

    def successes(self) -> list[Received]:
        return [r for r in self.snapshot() if r.answered is not None and 200 <= r.answered < 300]

    def close(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- serving -------------------------------------------------------------------------

    def _next_step(self) -> Any:
        if self.script:
            return self.script.pop(0)
        return self.default

    @classmethod
    def start(cls, script: Iterable[Step] = (), default: Step = 200) -> Receiver:
        receiver_box: list[Receiver] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver = receiver_box[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    step = receiver._next_step()
                    record = Received(self.path, body, dict(self.headers.items()), time.time(), step)
                    receiver.requests.append(record)
                    # A request the sender already gave up on may not have noticed yet (its
                    # handler polls): it is not counted as open alongside this one.
                    still_open = [c for c in receiver._open if not _sender_gone(c)]
                    receiver.max_open = max(receiver.max_open, len(still_open) + 1)
                    receiver._open.append(self.connection)
                try:
                    self._perform(receiver, record, step)
                finally:
                    with receiver._lock:
                        receiver._open.remove(self.connection)

            def _perform(self, receiver: Receiver, record: Received, step: Any) -> None:
                if step == HANG:
                    deadline = time.monotonic() + 120
                    while not receiver._released.wait(timeout=0.02):
                        if _sender_gone(self.connection) or time.monotonic() > deadline:
                            record.abandoned, record.finished_at = True, time.time()
                            self.close_connection = True
                            return
                    step = 200
                if step == RESET:
                    # SO_LINGER 0: close() sends RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    record.finished_at = time.time()
                    return
                headers: dict[str, str] = {}
                if isinstance(step, tuple) and step[0] == "redirect":
                    status, headers = 302, {"Location": step[1]}
                else:
                    status = int(step)
                payload = b"{}"
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True  # the sender gave up (timeout, killed)
                    return
                record.answered, record.finished_at = status, time.time()

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender that hung up is part of the tests

        server = Server(("127.0.0.1", 0), Handler)
        receiver = cls(url=f"http://127.0.0.1:{server.server_address[1]}/hooks", script=list(script), default=default)
        receiver._server = server
        receiver_box.append(receiver)
        receiver._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        receiver._thread.start()
        return receiver


def _sender_gone(connection: socket.socket) -> bool:
    """Whether the sender closed the connection (gave up, or was killed)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


async def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes, letting the event loop run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(interval)
    return condition()
