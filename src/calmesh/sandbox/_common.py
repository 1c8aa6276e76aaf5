"""What every emulator in :mod:`calmesh.sandbox` shares: its Python face, the request wrapper, faults, history, notifications.

* :class:`Emulator` — the base of each emulator's facade (``GoogleSandbox``, ``ZoomSandbox``):
  client id and secret, the lock, :attr:`~Emulator.base_url`, :meth:`~Emulator.serve` (uvicorn in
  a background thread), injected delays, token expiry and revocation, what happened
  (``requests``, ``notifications``, ``serving_seconds``), ``reset`` and ``close``. It also serves
  the admin endpoints every emulator has under its admin path (no auth): ``GET`` (an overview:
  client id, base URL, the emulator's own state, the history's counts), ``POST …/tokens`` ``{"email", "scopes"?}``, ``…/faults``,
  ``…/delays`` ``{"seconds", "times"?, "path"?}`` and ``…/reset`` ``{"seed"?: true}``; the
  subclass adds its own (:func:`admin_action` turns ``body → answer`` functions into them).
* :class:`Wrapper` turns handlers into Starlette endpoints. Each request is parsed once into a
  :class:`Call` (query pairs, JSON or form body), then:

  1. an injected delay (:class:`FaultBook`) is slept — not counted as serving time;
  2. an injected fault answers instead of the handler, in the endpoint's error shape;
  3. the handler runs, timed into the serving time; an exception of the emulator's
     :class:`ErrorStyle` becomes that service's error answer, anything else a 500 in its shape;
  4. the request and its answer are recorded as a :class:`RecordedRequest`.

  Admin endpoints (kind ``"admin"``) skip 1, 2 and 4. Which JSON an error becomes is the
  emulator's business: it passes an :class:`ErrorStyle`.
* :class:`FaultBook` — injected faults and delays: the next requests matching a rule fail or
  answer slowly. A rule matches when its ``path`` regex is found in the request path
  (``re.search``; None matches every path) and its ``method`` (if given) is the request's. Each
  rule serves ``times`` requests, then goes.
* :class:`History` — the requests answered, the notifications sent and the serving time, bounded.
* :class:`Sender` — a daemon thread running its own asyncio loop and an ``httpx.AsyncClient``,
  for emulators that call out (push notifications, webhooks). Messages are handed over from any
  thread with :meth:`Sender.submit` and never block the caller; messages with the same key go
  out one after another, in order.
* :class:`Outbox` — the base of an emulator's notifications (Google's push channels, Zoom's
  webhooks): a :class:`Sender`, the waits between retries, a timeout per POST, a record of every
  attempt.
* :func:`zone` — an IANA time zone by name, None for an unknown or unsafe name.

The OAuth parts the emulators share (consent pages, redirects, PKCE) are in
:mod:`calmesh.sandbox._oauth`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calmesh.sandbox.serving import RunningApp, serve_in_thread

__all__ = [
    "HISTORY",
    "Call",
    "Delay",
    "Emulator",
    "EndpointKind",
    "ErrorStyle",
    "Fault",
    "FaultBook",
    "Handler",
    "History",
    "Outbox",
    "RecordedRequest",
    "Sender",
    "TokenAuthority",
    "Wrapper",
    "admin_action",
    "admin_body",
    "json_bytes",
    "zone",
]

#: How many requests and notifications an emulator remembers (the oldest are forgotten first).
HISTORY = 20_000

EndpointKind = Literal["api", "oauth", "page", "admin"]

M = TypeVar("M")
N = TypeVar("N")
T = TypeVar("T")


# --- requests as handlers see them, and as tests read them back ------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox answered, for asserting what a client sent."""

    method: str
    path: str
    #: Query parameters in order, repeated ones repeated.
    query: list[tuple[str, str]]
    #: Header names in lower case.
    headers: dict[str, str]
    #: The raw body.
    body: bytes
    #: The JSON body, if it was JSON.
    json: Any
    #: The form fields, if the body was form-encoded.
    form: dict[str, str] | None
    status: int
    #: The JSON answered, if any (shared with the sandbox: do not modify).
    response: Any


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    query: list[tuple[str, str]]
    json: Any
    form: dict[str, str] | None
    payload: Any = None
    after: list[Callable[[], None]] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.url.path

    def param(self, name: str) -> str | None:
        """The query parameter ``name`` (the first one if repeated)."""
        for key, value in self.query:
            if key == name:
                return value
        return None

    def params(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    def field(self, name: str) -> str | None:
        """A form field, else the query parameter of that name."""
        if self.form is not None and name in self.form:
            return self.form[name]
        return self.param(name)

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def reply(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        """A JSON answer (recorded with the request)."""
        self.payload = payload
        return Response(json_bytes(payload), status_code=status, headers=headers, media_type="application/json; charset=UTF-8")

    def later(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the answer has been sent."""
        self.after.append(action)


Handler = Callable[[Call], Awaitable[Response]]


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# --- injected faults and delays ----------------------------------------------------------------


@dataclass
class Fault:
    status: int
    #: A named error (Google's ``reason``; an OAuth ``error``), if the test gave one.
    reason: str | None
    #: A numeric or string error code (Zoom's ``code``), if the test gave one.
    code: int | str | None
    message: str | None
    #: The ``Retry-After`` header to send, if any (seconds, or a date).
    retry_after: int | str | None
    path: re.Pattern[str] | None
    method: str | None
    times: int


@dataclass
class Delay:
    seconds: float
    path: re.Pattern[str] | None
    times: int


class FaultBook:
    """The pending fault and delay rules, in the order they were added; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._delays: list[Delay] = []

    def add_fault(
        self,
        status: int,
        *,
        reason: str | None = None,
        code: int | str | None = None,
        times: int = 1,
        path: str | None = None,
        method: str | None = None,
        retry_after: int | str | None = None,
        message: str | None = None,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError("an injected fault needs an error status (400-599)")
        compiled = re.compile(path) if path is not None else None
        with self._lock:
            self._faults.append(
                Fault(status, reason, code, message, retry_after, compiled, method.upper() if method else None, times)
            )

    def add_delay(self, seconds: float, *, times: int = 1, path: str | None = None) -> None:
        compiled = re.compile(path) if path is not None else None
        with self._lock:
            self._delays.append(Delay(seconds, compiled, times))

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first fault rule matching this request (one use of it spent), if any."""
        with self._lock:
            for fault in self._faults:
                if (fault.method is None or fault.method == method.upper()) and _matches(fault.path, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def take_delay(self, path: str) -> float:
        """Seconds to wait before answering this request (0 when no rule matches)."""
        with self._lock:
            for delay in self._delays:
                if _matches(delay.path, path):
                    delay.times -= 1
                    if delay.times <= 0:
                        self._delays.remove(delay)
                    return delay.seconds
            return 0.0

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()


def _matches(pattern: re.Pattern[str] | None, path: str) -> bool:
    return pattern is None or pattern.search(path) is not None


# --- what happened -----------------------------------------------------------------------------


class History(Generic[N]):
    """Requests answered, notifications sent (``N``: the emulator's record type), serving time."""

    def __init__(self, lock: threading.RLock, limit: int = HISTORY) -> None:
        self._lock = lock
        self._requests: deque[RecordedRequest] = deque(maxlen=limit)
        self._notifications: deque[N] = deque(maxlen=limit)
        self._serving = 0.0

    def record_request(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def record_notification(self, notification: N) -> None:
        with self._lock:
            self._notifications.append(notification)

    def add_serving_time(self, seconds: float) -> None:
        with self._lock:
            self._serving += seconds

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def notifications(self) -> list[N]:
        with self._lock:
            return list(self._notifications)

    @property
    def serving_seconds(self) -> float:
        with self._lock:
            return self._serving

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._notifications.clear()
            self._serving = 0.0


# --- the request wrapper -----------------------------------------------------------------------


class ErrorStyle(Protocol):
    """How one emulator's errors look on the wire (given to :class:`Wrapper`)."""

    #: Exceptions handlers raise on purpose; :meth:`render` turns them into answers.
    errors: tuple[type[Exception], ...]

    def render(self, call: Call, kind: EndpointKind, error: Exception) -> Response:
        """The answer for one of :attr:`errors` (or for what the other methods return)."""
        ...

    def parse_error(self, kind: EndpointKind) -> Exception:
        """What a body that is neither a form nor JSON answers."""
        ...

    def fault_error(self, kind: EndpointKind, fault: Fault) -> Exception:
        """What an injected fault answers on this kind of endpoint."""
        ...

    def internal_error(self, kind: EndpointKind) -> Exception:
        """What a handler that failed unexpectedly answers (the failure is logged)."""
        ...


@dataclass(frozen=True)
class Wrapper:
    """Turns handlers into Starlette endpoints that record, inject faults and time themselves."""

    faults: FaultBook
    record: Callable[[RecordedRequest], None]
    add_serving_time: Callable[[float], None]
    style: ErrorStyle
    logger: logging.Logger
    #: How log lines name the emulator ("Google sandbox" …).
    name: str = "sandbox"

    def __call__(self, handler: Handler, kind: EndpointKind) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, handler, kind)

        return endpoint

    async def _serve(self, request: Request, handler: Handler, kind: EndpointKind) -> Response:
        style = self.style
        body = await request.body()
        query = parse_qsl(request.url.query, keep_blank_values=True)
        call = Call(request, query, None, None)
        response: Response | None = None
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body and content_type == "application/x-www-form-urlencoded":
            call.form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif body:
            try:
                call.json = json.loads(body)
            except ValueError:
                response = style.render(call, kind, style.parse_error(kind))
        if kind != "admin":
            delay = self.faults.take_delay(call.path)
            if delay > 0:
                await asyncio.sleep(delay)
            fault = self.faults.take_fault(call.method, call.path) if response is None else None
            if fault is not None:
                response = style.render(call, kind, style.fault_error(kind, fault))
                if fault.retry_after is not None:
                    response.headers["Retry-After"] = str(fault.retry_after)
        if response is None:
            started = time.perf_counter()
            try:
                response = await handler(call)
            except style.errors as exc:
                response = style.render(call, kind, exc)
            except Exception:
                self.logger.exception("the %s failed on %s %s", self.name, call.method, call.path)
                response = style.render(call, kind, style.internal_error(kind))
            if kind != "admin":
                self.add_serving_time(time.perf_counter() - started)
        if call.after:
            actions = list(call.after)
            response.background = BackgroundTask(_run_all, actions)
        if kind != "admin":
            self.record(
                RecordedRequest(
                    method=call.method,
                    path=call.path,
                    query=query,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                    json=call.json,
                    form=call.form,
                    status=response.status_code,
                    response=call.payload,
                )
            )
        return response


def _run_all(actions: list[Callable[[], None]]) -> None:
    for action in actions:
        action()


def admin_body(call: Call) -> dict[str, Any]:
    """An admin endpoint's JSON object body (or its form fields)."""
    if isinstance(call.json, dict):
        return call.json
    return dict(call.form or {})


def admin_action(
    action: Callable[[dict[str, Any]], Any],
    *,
    refused: tuple[type[Exception], ...] = (KeyError, ValueError, TypeError),
    status: int = 200,
) -> Handler:
    """An admin endpoint answering ``action(body)`` as JSON; one of the ``refused`` errors is a 400 ``{"error"}``."""

    async def endpoint(call: Call) -> Response:
        try:
            answer = action(admin_body(call))
        except refused as exc:
            return call.reply({"error": str(exc)}, 400)
        return call.reply(answer, status)

    return endpoint


# --- a sender thread ---------------------------------------------------------------------------


class Sender(Generic[M]):
    """A daemon thread with an event loop and an HTTP client; messages of one key go in order.

    ``deliver(client, message)`` does the work (retries included); ``key(message)`` names the
    queue a message waits in. The thread starts with the first message and ends with
    :meth:`close` (pending messages are dropped).
    """

    def __init__(
        self,
        deliver: Callable[[httpx.AsyncClient, M], Awaitable[None]],
        key: Callable[[M], str],
        name: str,
    ) -> None:
        self._deliver = deliver
        self._key = key
        self._name = name
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._order: dict[str, asyncio.Lock] = {}

    def submit(self, message: M) -> None:
        """Queue ``message`` (from any thread; never waits for the receiver)."""
        loop = self._running_loop()
        loop.call_soon_threadsafe(self._spawn, message)

    def run(self, work: Callable[[httpx.AsyncClient], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Run ``work(client)`` on the sender's loop; its result arrives in the future."""
        loop = self._running_loop()

        async def job() -> T:
            assert self._client is not None
            return await work(self._client)

        return asyncio.run_coroutine_threadsafe(job(), loop)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._thread is None or not self._thread.is_alive() or self._loop is None:
                ready = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(ready,), name=self._name, daemon=True)
                self._thread.start()
                ready.wait(10)
            assert self._loop is not None
            return self._loop

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        # trust_env=False: receivers are on loopback; a proxy from the environment must not intercept.
        async with httpx.AsyncClient(trust_env=False) as client:
            self._client = client
            ready.set()
            await self._stopping.wait()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._loop = None

    def _spawn(self, message: M) -> None:
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, message: M) -> None:
        assert self._client is not None
        order = self._order.setdefault(self._key(message), asyncio.Lock())
        async with order:
            await self._deliver(self._client, message)

    def close(self) -> None:
        with self._guard:
            thread, loop, stopping = self._thread, self._loop, self._stopping
            self._thread = None
        if thread is None or loop is None or stopping is None:
            return
        try:
            loop.call_soon_threadsafe(stopping.set)
        except RuntimeError:
            return  # the loop already ended
        thread.join(timeout=10)


# --- outgoing notifications --------------------------------------------------------------------


class Outbox(ABC, Generic[M, N]):
    """An emulator's notifications (``M``: a message; ``N``: the record of one delivery attempt); thread-safe.

    The subclass keeps its receivers (forgotten by :meth:`clear`) and delivers one message in
    :meth:`_deliver`, usually through :meth:`_with_retries`; ``key(message)`` names the queue it
    waits in (see :class:`Sender`).
    """

    def __init__(
        self,
        lock: threading.RLock,
        now_ms: Callable[[], int],
        record: Callable[[N], None],
        *,
        timeout: float,
        key: Callable[[M], str],
        thread_name: str,
    ) -> None:
        self._lock = lock
        self._now_ms = now_ms
        self._record = record
        #: Waits before each retry of a failed delivery, in seconds.
        self.retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5)
        #: How long one POST may take, in seconds.
        self.timeout = timeout
        self._sender: Sender[M] = Sender(self._deliver, key, thread_name)

    @abstractmethod
    def clear(self) -> None:
        """Forget every receiver."""

    @abstractmethod
    async def _deliver(self, client: httpx.AsyncClient, message: M) -> None:
        """Send ``message`` (retries included); runs on the sender's thread."""

    async def _with_retries(self, live: Callable[[], bool], attempt: Callable[[int], Awaitable[bool]]) -> None:
        """``attempt(1)``, then one more after each of :attr:`retry_delays`, until one succeeds (answers True).

        Stops early once ``live()`` is false: the receiver is gone (a stopped channel, a removed
        subscription), so not even pending retries go out.
        """
        for number, wait in enumerate((0.0, *self.retry_delays), start=1):
            if wait:
                await asyncio.sleep(wait)
            if not live() or await attempt(number):
                return

    def close(self) -> None:
        """Stop the sender thread (pending messages are dropped)."""
        self._sender.close()


# --- time zones --------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo | None:
    """The IANA zone ``name``, or None when there is no such zone (or the name could reach outside the zone database)."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# --- an emulator's Python face -----------------------------------------------------------------


class TokenAuthority(Protocol):
    """What :class:`Emulator` needs of an emulator's OAuth authority."""

    def clear(self) -> None:
        """Forget every code and token (clients stay)."""
        ...

    def expire_access_tokens(self, email: str | None = None) -> None: ...

    def revoke_grants(self, email: str) -> None: ...


class Emulator(ABC, Generic[N]):
    """The facade each emulator's ``…Sandbox`` class builds on (``N``: its notification record).

    The subclass's ``__init__`` calls this one first, then sets ``_oauth``, ``_outbox`` and
    :attr:`app` (with :meth:`_admin_routes` among its routes). It describes itself in the admin
    overview (:meth:`_describe`), adds admin actions (:meth:`_admin_actions`) and extends
    :meth:`reset` with its own state.
    """

    #: Where the admin endpoints live (``/_sandbox``, ``/_sandbox/zoom``).
    _admin_path: ClassVar[str]
    _oauth: TokenAuthority
    _outbox: Outbox[Any, N]
    #: The emulator alone, as an ASGI app.
    app: Starlette

    def __init__(self, client_id: str, client_secret: str, errors: ErrorStyle, logger: logging.Logger, name: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.RLock()
        self._faults = FaultBook()
        self._history: History[N] = History(self._lock)
        #: Turns handlers into endpoints that answer errors in this emulator's shape.
        self._wrap = Wrapper(self._faults, self._history.record_request, self._history.add_serving_time, errors, logger, name)
        self._base_url = "http://127.0.0.1"

    # --- serving -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where the sandbox is served (no trailing slash): the links and locations in its answers name it."""
        return self._base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self._base_url = url.rstrip("/")
        self._moved_to(self._base_url)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> RunningApp:
        """Serve :attr:`app` from a background thread (``port=0``: a free one) and point :attr:`base_url` there.

        Stopping it is the caller's: ``running.stop()``, then :meth:`close`.
        """
        running = serve_in_thread(self.app, host, port)
        self.base_url = running.url
        return running

    @property
    def serving_seconds(self) -> float:
        """Time spent inside request handlers so far (injected delays excluded)."""
        return self._history.serving_seconds

    def close(self) -> None:
        """Stop the thread that sends notifications (the app itself is stopped by whoever serves it)."""
        self._outbox.close()

    # --- tokens and faults ---------------------------------------------------------------

    @abstractmethod
    def issue_tokens(self, email: str, scopes: Sequence[str] = ...) -> dict[str, Any]:
        """A token response as if ``email`` had consented (each emulator has its default scopes)."""

    def expire_access_tokens(self, email: str | None = None) -> None:
        """Existing access tokens (of ``email``, or everyone's) answer 401 from now on."""
        self._oauth.expire_access_tokens(email)

    def revoke_grants(self, email: str) -> None:
        """The user withdrew access: refresh tokens get invalid_grant, access tokens 401 (nothing is notified)."""
        self._oauth.revoke_grants(email)

    def delay(self, seconds: float, *, times: int = 1, path: str | None = None) -> None:
        """The next ``times`` requests matching ``path`` wait ``seconds`` before being answered."""
        self._faults.add_delay(seconds, times=times, path=path)

    # --- what happened -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests answered (admin ones aside), oldest first."""
        return self._history.requests

    @property
    def notifications(self) -> list[N]:
        """Every notification delivery attempt, oldest first."""
        return self._history.notifications

    # Each emulator publishes this under its own name (``push_retry_delays`` …).
    @property
    def _retry_delays(self) -> tuple[float, ...]:
        """Waits before each retry of a failed notification delivery, in seconds."""
        return self._outbox.retry_delays

    @_retry_delays.setter
    def _retry_delays(self, delays: Sequence[float]) -> None:
        self._outbox.retry_delays = tuple(delays)

    def reset(self) -> None:
        """Forget tokens, notification receivers, faults and history (subclasses: their state too)."""
        with self._lock:
            self._oauth.clear()
            self._outbox.clear()
            self._faults.clear()
            self._history.clear()

    # --- admin endpoints -----------------------------------------------------------------

    def _admin_routes(self) -> list[Route]:
        """``GET`` the admin path (the overview), and a ``POST`` below it for each admin action."""
        actions: dict[str, Handler] = {
            "tokens": admin_action(self._admin_tokens, refused=(KeyError, ValueError)),
            "faults": admin_action(self._admin_fault),
            "delays": admin_action(self._admin_delay),
            **self._admin_actions(),
            "reset": self._admin_reset,
        }
        path, wrap = self._admin_path, self._wrap
        posts = [Route(f"{path}/{name}", wrap(handler, "admin"), methods=["POST"]) for name, handler in actions.items()]
        return [Route(path, wrap(self._overview, "admin"), methods=["GET"]), *posts]

    async def _overview(self, call: Call) -> Response:
        with self._lock:
            return call.reply(
                {
                    "client_id": self.client_id,
                    "base_url": self.base_url,
                    **self._describe(),
                    "requests": len(self._history.requests),
                    "notifications": len(self._history.notifications),
                    "serving_seconds": round(self._history.serving_seconds, 6),
                }
            )

    def _admin_tokens(self, body: dict[str, Any]) -> dict[str, Any]:
        email, scopes = str(body["email"]), body.get("scopes")
        return self.issue_tokens(email, [str(s) for s in scopes]) if scopes else self.issue_tokens(email)

    def _admin_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        self._faults.add_fault(
            int(body["status"]),
            times=int(body.get("times", 1)),
            path=body.get("path"),
            method=body.get("method"),
            message=body.get("message"),
            **self._fault_details(body),
        )
        return {}

    def _admin_delay(self, body: dict[str, Any]) -> dict[str, Any]:
        self.delay(float(body["seconds"]), times=int(body.get("times", 1)), path=body.get("path"))
        return {}

    async def _admin_reset(self, call: Call) -> Response:
        self.reset()
        if admin_body(call).get("seed"):
            self._seed_demo()
        return call.reply({})

    # --- what the subclass says ----------------------------------------------------------

    @abstractmethod
    def _moved_to(self, base_url: str) -> None:
        """The sandbox is now served at ``base_url`` (no trailing slash)."""

    @abstractmethod
    def _describe(self) -> dict[str, Any]:
        """The admin overview's own part, after the client id and base URL (called holding the lock)."""

    @abstractmethod
    def _admin_actions(self) -> dict[str, Handler]:
        """The emulator's own admin actions: ``POST {admin path}/{name}``."""

    @abstractmethod
    def _fault_details(self, body: dict[str, Any]) -> dict[str, Any]:
        """What ``POST {admin path}/faults`` reads in the emulator's terms: ``reason`` or ``code``, and ``retry_after``."""

    @abstractmethod
    def _seed_demo(self) -> None:
        """Add the demo data (``POST {admin path}/reset`` with ``{"seed": true}``)."""
