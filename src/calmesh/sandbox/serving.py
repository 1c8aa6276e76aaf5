"""Serving any ASGI app with uvicorn in a background thread on loopback.

:func:`serve_in_thread` binds the socket itself with :func:`bind_socket` (so ``port=0`` picks a
free port and the URL is known before the first request), runs ``uvicorn.Server`` on it in a
daemon thread with its own event loop, and returns once the server accepts connections.
:meth:`RunningApp.stop` asks it to exit and waits for the thread. Uvicorn's logging setup is left
alone (``log_config=None``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

__all__ = ["RunningApp", "bind_socket", "serve_in_thread"]

#: How long :func:`serve_in_thread` waits for the server to start, in seconds.
START_TIMEOUT_SECONDS = 15.0


@dataclass
class RunningApp:
    """An app being served; :attr:`url` has no trailing slash."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread
    socket: socket.socket

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to exit, wait for its thread, and release the socket."""
        self.server.should_exit = True
        self.thread.join(timeout)
        self.socket.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``port=0``: a free one), ready for ``uvicorn.Server.run(sockets=…)``.

    Raises OSError (the socket closed) when the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_in_thread(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0) -> RunningApp:
    """Serve ``app`` on ``host:port`` (``port=0``: a free one) from a background thread."""
    sock = bind_socket(host, port)
    family = sock.family
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host=host, port=bound_port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"asgi-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError(f"the ASGI server on {host}:{bound_port} did not start")
        time.sleep(0.005)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return RunningApp(f"http://{shown}:{bound_port}", server, thread, sock)
