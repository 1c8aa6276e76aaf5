"""Webhook delivery benchmark: calmesh's dispatcher against a plain HTTP client's floor.

    .venv/bin/python benchmarks/webhooks.py [--events 10000] [--rate 100 500] [--seconds 10]
    .venv/bin/python benchmarks/webhooks.py --quick      # 1,000 events, 2 s of steady load (CI smoke)
    .venv/bin/python benchmarks/webhooks.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

A receiver (uvicorn and a bare ASGI app, in its own process so it does not compete with
calmesh's event loop) answers every POST with 200 and notes when each body arrived, keyed by the
body's ``id``. In one run:

* the floor: the same number of POSTs of bodies of the same size, sent by a plain
  ``httpx.AsyncClient`` at the same concurrency (32), with no database — what sending alone costs
  with the client calmesh uses; and the same from one client per endpoint (8 x 4), because
  httpx's connection pool gets slower the more requests it holds at once;
* burst: ``--events`` events announced first (``announce``, 100 per transaction, as a sync
  writes them), then the dispatcher started — throughput to the last arrival and to the last
  delivery recorded DELIVERED, as a fraction of the floor;
* the same burst with HTTP replaced by an in-process instant 200: claiming, signing and recording
  alone, the dispatcher's ceiling on this database;
* steady: events committed at each ``--rate`` per second for ``--seconds`` (10 per transaction)
  while the dispatcher runs, as in ``calmesh serve`` — the delay from the announcing
  transaction's commit to the receiver's arrival, p50/p99/max.

The dispatcher has its defaults (32 requests in flight, at most 4 per endpoint). Events go to 8
endpoints on the receiver, each subscribed to its own event type, so each event is one delivery
and all 32 slots can be used; ``--endpoints 1`` measures a single endpoint, which the per-endpoint
cap holds to 4 in flight (the floor then uses 4 as well). Under each calmesh run, the wall time of
its claim and record transactions (which overlap the requests in flight).

Checks: every event id arrived at least once (duplicates are counted and printed), and every
delivery's ``Calmesh-Signature`` verifies with ``calmesh.webhooks.verify_signature``.

SQLite (a temporary file) by default. With ``--database-url postgresql://…`` a scratch database
is created on that server (the URL's database is only used to connect) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from calmesh.config import Settings
from calmesh.services.announcements import announce
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.services.webhook_delivery import WebhookDispatcher
from calmesh.services.webhooks import WebhookCreate, create_webhook
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from calmesh.webhooks import verify_signature
from calmesh.webhooks.catalogue import EventType
from calmesh.webhooks.sending import Attempt

CONCURRENCY = 32
BURST_BATCH = 100
STEADY_BATCH = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- the receiver (runs in its own process) ---------------------------------------------------


def serve_receiver(port: int) -> None:
    """uvicorn and a bare ASGI app: 200 to every POST, its arrival time and body kept.

    ``GET /__count`` answers how many arrived; ``POST /__take`` returns them all and forgets them.
    """
    import uvicorn

    arrivals: list[tuple[float, str, str]] = []  # (time.time(), Calmesh-Signature, body as latin-1)

    async def respond(send: Any, status: int, body: bytes = b"") -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        arrived = time.time()
        path = scope["path"]
        if path == "/__count":
            await respond(send, 200, str(len(arrivals)).encode())
        elif path == "/__take":
            taken = arrivals[:]
            arrivals.clear()
            await respond(send, 200, json.dumps(taken).encode())
        else:
            signature = next((v.decode() for k, v in scope["headers"] if k == b"calmesh-signature"), "")
            arrivals.append((arrived, signature, b"".join(chunks).decode("latin-1")))
            await respond(send, 200)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


@dataclass
class Receiver:
    url: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls) -> Receiver:
        port = free_port()
        process = subprocess.Popen([sys.executable, __file__, "--serve-receiver", str(port)])
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{url}/__count", timeout=1)
                return cls(url, process)
            except httpx.HTTPError:
                time.sleep(0.05)
        process.terminate()
        raise RuntimeError("the receiver did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Arrival:
    event_id: str
    at: float
    signature: str
    body: bytes


async def count(client: httpx.AsyncClient, url: str) -> int:
    return int((await client.get(f"{url}/__count")).text)


async def take(url: str) -> list[Arrival]:
    async with httpx.AsyncClient(timeout=60) as client:
        raw = (await client.post(f"{url}/__take")).json()
    arrivals = []
    for at, signature, text in raw:
        body = text.encode("latin-1")
        arrivals.append(Arrival(json.loads(body)["id"], at, signature, body))
    return arrivals


async def wait_for(url: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as client:
        while await count(client, url) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {await count(client, url)} of {expected} deliveries arrived within {timeout:g} s")
            await asyncio.sleep(0.1)


# --- what is sent ---------------------------------------------------------------------------


#: A typical ``event.updated`` payload (the event as /v1/events shows it), about 1 KB on the wire.
SAMPLE_DATA: dict[str, Any] = {
    "id": "evt_01jdx0000000000000000000", "calendarId": "cal_01jdx0000000000000000000",
    "integrationId": "int_01jdx0000000000000000000", "icalUid": "7kq9d2@example.com",
    "title": "Weekly planning", "description": "Agenda: status, risks, next steps", "location": "Room 4.12",
    "start": {"dateTime": "2027-03-01T09:00:00+01:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2027-03-01T10:00:00+01:00", "timeZone": "Europe/Berlin"},
    "allDay": False, "status": "confirmed", "transparency": "opaque", "visibility": "default",
    "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"], "recurringEventId": None, "originalStartTime": None,
    "organizer": {"email": "ada@example.com", "name": "Ada"},
    "attendees": [{"email": "ada@example.com", "name": "Ada", "responseStatus": "accepted"},
                  {"email": "bob@example.com", "name": "Bob", "responseStatus": "needsAction"}],
    "conference": None, "reminders": [{"method": "popup", "minutes": 10}], "origin": "provider",
    "createdAt": "2026-11-20T08:00:00Z", "updatedAt": "2026-11-21T08:00:00Z",
}

#: One event type per endpoint, so that each event goes to exactly one endpoint.
TYPES = list(EventType)


# --- the floor ------------------------------------------------------------------------------


async def measure_floor(url: str, total: int, concurrency: int, *, clients: int = 1) -> float:
    """Seconds for ``total`` POSTs of same-sized bodies by plain httpx clients, ``concurrency``
    at once in all (split evenly over ``clients`` connection pools)."""
    bodies = [
        json.dumps({"id": f"flr_{n:08d}", "type": "event.updated", "createdAt": "2026-11-21T08:00:00.000000Z",
                    "tenantId": "tnt_01jdx0000000000000000000", "data": SAMPLE_DATA}, separators=(",", ":")).encode()
        for n in range(total)
    ]
    queue = iter(bodies)
    pools = [httpx.AsyncClient(timeout=10) for _ in range(clients)]

    async def worker(client: httpx.AsyncClient) -> None:
        for body in queue:  # shared iterator: each body is taken once
            response = await client.post(f"{url}/floor", content=body, headers={"Content-Type": "application/json"})
            response.raise_for_status()

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(pools[n % clients]) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        for client in pools:
            await client.aclose()
    arrived = await take(url)
    assert len({a.event_id for a in arrived}) == total, "the floor lost requests"
    return elapsed


# --- calmesh --------------------------------------------------------------------------------


class InstantSender:
    """Stands in for the HTTP client: every POST "succeeds" at once (the database-only run)."""

    def __init__(self) -> None:
        self.posts = 0

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        self.posts += 1
        await asyncio.sleep(0)
        return Attempt(200, 0, None)

    async def aclose(self) -> None:
        pass


class TimedDispatcher(WebhookDispatcher):
    """The default dispatcher, adding up the wall time of its two database steps (which overlap
    with the requests in flight: the event loop is shared)."""

    def __init__(self, runtime: Runtime, *, instant: bool = False) -> None:
        super().__init__(runtime)
        self.claims = self.claimed = self.records = 0
        self.claim_seconds = self.record_seconds = 0.0
        self.instant: InstantSender | None = None
        if instant:
            self.instant = InstantSender()
            self._sender = self.instant  # type: ignore[assignment]

    async def _claim(self) -> list[Any]:
        started = time.perf_counter()
        try:
            claimed = await super()._claim()
        finally:
            self.claim_seconds += time.perf_counter() - started
        if claimed:
            self.claims += 1
            self.claimed += len(claimed)
        return claimed

    async def _record(self) -> None:
        if not self._results:
            return
        started = time.perf_counter()
        try:
            await super()._record()
        finally:
            self.record_seconds += time.perf_counter() - started
            self.records += 1

    def breakdown(self) -> str:
        per_claim = self.claimed / self.claims if self.claims else 0.0
        return (f"{self.claims:,} claims ({per_claim:.1f} deliveries each, {self.claim_seconds:.2f} s in all), "
                f"{self.records:,} record transactions ({self.record_seconds:.2f} s)")


@dataclass
class Setup:
    runtime: Runtime
    tenant_id: str
    secrets: list[str]
    #: One event type per endpoint (each endpoint subscribes to its own).
    types: list[EventType]
    #: Deliveries recorded DELIVERED so far (the runs share one database).
    delivered: int = 0


async def prepare(runtime: Runtime, receiver: str, endpoints: int) -> Setup:
    await upgrade(runtime.engine)
    tenant = await create_tenant(runtime, "bench")
    types, secrets = TYPES[:endpoints], []
    for n, event_type in enumerate(types):
        created = await create_webhook(
            runtime, tenant.tenant.id, WebhookCreate(url=f"{receiver}/hook/{n}", event_types=[event_type.value])
        )
        secrets.append(created.secret)
    return Setup(runtime, tenant.tenant.id, secrets, types)


async def commit_batch(setup: Setup, size: int, offset: int, committed: dict[str, float]) -> None:
    """``size`` events in one transaction; notes each id's commit time."""
    async with UnitOfWork(setup.runtime) as uow:
        ids = [
            await announce(uow, setup.tenant_id, setup.types[(offset + n) % len(setup.types)], SAMPLE_DATA)
            for n in range(size)
        ]
        await uow.commit()
        at = time.time()
    for event_id in ids:
        committed[event_id] = at


async def delivered(runtime: Runtime) -> int:
    async with UnitOfWork(runtime) as uow:
        return int(await uow.session.scalar(
            select(func.count()).select_from(models.WebhookDelivery).where(models.WebhookDelivery.status == "DELIVERED")
        ) or 0)


async def all_recorded(setup: Setup, events: int) -> None:
    setup.delivered += events
    while await delivered(setup.runtime) < setup.delivered:
        await asyncio.sleep(0.02)


@dataclass
class Outcome:
    events: int
    arrivals: list[Arrival]
    committed: dict[str, float]
    breakdown: str
    commit_seconds: float = 0.0
    #: Burst: seconds from the dispatcher's start to the last arrival, and to the last DELIVERED.
    to_last_arrival: float = 0.0
    to_all_recorded: float = 0.0
    #: Steady: the commit rate asked for and reached.
    rate: float = 0.0
    achieved_rate: float = 0.0
    delays: list[float] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return len(self.arrivals) - len({a.event_id for a in self.arrivals})

    def first_arrivals(self) -> dict[str, float]:
        first: dict[str, float] = {}
        for arrival in self.arrivals:
            first[arrival.event_id] = min(arrival.at, first.get(arrival.event_id, arrival.at))
        return first


async def commit_all(setup: Setup, events: int) -> tuple[dict[str, float], float]:
    committed: dict[str, float] = {}
    started = time.perf_counter()
    for offset in range(0, events, BURST_BATCH):
        await commit_batch(setup, min(BURST_BATCH, events - offset), offset, committed)
    return committed, time.perf_counter() - started


async def run_burst(setup: Setup, receiver: str, events: int) -> Outcome:
    committed, commit_seconds = await commit_all(setup, events)
    dispatcher = TimedDispatcher(setup.runtime)
    begun = time.time()
    dispatcher.start()
    try:
        await wait_for(receiver, events, timeout=900)
        await all_recorded(setup, events)
        to_all_recorded = time.time() - begun
    finally:
        await dispatcher.stop()
    outcome = Outcome(events, await take(receiver), committed, dispatcher.breakdown(), commit_seconds=commit_seconds)
    outcome.to_last_arrival = max(outcome.first_arrivals().values()) - begun
    outcome.to_all_recorded = to_all_recorded
    return outcome


async def run_without_http(setup: Setup, events: int) -> Outcome:
    """The burst again with every POST answered at once in-process: claiming, signing and
    recording alone — the dispatcher's ceiling on this database."""
    committed, commit_seconds = await commit_all(setup, events)
    dispatcher = TimedDispatcher(setup.runtime, instant=True)
    assert dispatcher.instant is not None
    begun = time.time()
    dispatcher.start()
    try:
        while dispatcher.instant.posts < events:  # no database polling while it works
            await asyncio.sleep(0.02)
        await all_recorded(setup, events)
        to_all_recorded = time.time() - begun
    finally:
        await dispatcher.stop()
    assert dispatcher.instant.posts == events, f"{dispatcher.instant.posts} posts for {events} events"
    return Outcome(events, [], committed, dispatcher.breakdown(), commit_seconds=commit_seconds, to_all_recorded=to_all_recorded)


async def run_steady(setup: Setup, receiver: str, rate: float, seconds: float) -> Outcome:
    committed: dict[str, float] = {}
    total = int(rate * seconds)
    interval = STEADY_BATCH / rate
    dispatcher = TimedDispatcher(setup.runtime)
    dispatcher.start()
    try:
        started = time.perf_counter()
        for batch, offset in enumerate(range(0, total, STEADY_BATCH)):
            pause = started + batch * interval - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            await commit_batch(setup, min(STEADY_BATCH, total - offset), offset, committed)
        producing = time.perf_counter() - started
        await wait_for(receiver, total, timeout=900)
        await all_recorded(setup, total)
    finally:
        await dispatcher.stop()
    outcome = Outcome(total, await take(receiver), committed, dispatcher.breakdown(), rate=rate, achieved_rate=total / (producing + interval))
    first = outcome.first_arrivals()
    outcome.delays = [first[event_id] - at for event_id, at in committed.items()]
    return outcome


def check(outcome: Outcome, secrets: list[str]) -> int:
    """Every id arrived; every delivery is signed by a known secret. Returns how many were verified."""
    missing = set(outcome.committed) - {a.event_id for a in outcome.arrivals}
    assert not missing, f"{len(missing)} events never arrived, e.g. {sorted(missing)[:3]}"
    for arrival in outcome.arrivals:
        verify_signature(arrival.body, arrival.signature, secrets, now=arrival.at)
    return len(outcome.arrivals)


# --- the database ---------------------------------------------------------------------------


@asynccontextmanager
async def database(url: str | None, workdir: Path) -> AsyncIterator[str]:
    """The URL of an empty database: a SQLite file in ``workdir``, or a scratch PostgreSQL database."""
    if not url:
        yield f"sqlite:///{workdir / 'calmesh.db'}"
        return
    import asyncpg
    from sqlalchemy import make_url

    admin_url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"calmesh_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(admin_url, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# --- the report -----------------------------------------------------------------------------


def print_results(
    args: argparse.Namespace, floor: float, sharded: float | None, burst: Outcome, bare: Outcome, steadies: list[Outcome], verified: int
) -> None:
    floor_rate = args.events / floor

    def line(label: str, seconds: float, events: int, note: str = "") -> None:
        print(f"  {label:<58}{seconds:>8.2f}{events / seconds:>10,.0f}{note}")

    print(f"\nburst: {args.events:,} events committed first ({BURST_BATCH} per transaction), then the dispatcher started")
    print(f"  {'':<58}{'seconds':>8}{'events/s':>10}")
    line(f"floor: plain httpx.AsyncClient, {args.floor_concurrency} at once, no database", floor, args.events)
    if sharded is not None:
        per = args.floor_concurrency // args.endpoints
        line(f"  the same from {args.endpoints} httpx clients, {per} at once each", sharded, args.events,
             "   (httpx's pool slows as requests in it grow)")
    line("calmesh: from the dispatcher's start to the last arrival", burst.to_last_arrival, burst.events,
         f"   {burst.events / burst.to_last_arrival / floor_rate:.0%} of the floor")
    line("calmesh: … to the last one recorded DELIVERED", burst.to_all_recorded, burst.events,
         f"   {burst.events / burst.to_all_recorded / floor_rate:.0%} of the floor")
    print(f"  {'':<4}{burst.breakdown}")
    line("calmesh, HTTP replaced by an instant in-process 200", bare.to_all_recorded, bare.events,
         "   claim, sign, record only")
    print(f"  {'':<4}{bare.breakdown}")
    line(f"announcing them ({BURST_BATCH} per transaction, 1 delivery each)", burst.commit_seconds, burst.events)

    print(f"\nsteady: events committed at a fixed rate ({STEADY_BATCH} per transaction) while the dispatcher runs")
    print(f"  {'commit to arrival, ms':<38}{'events':>8}{'reached':>9}{'p50':>8}{'p99':>8}{'max':>8}")
    for steady in steadies:
        delays_ms = [d * 1000 for d in steady.delays]
        print(f"  {f'calmesh at {steady.rate:,.0f}/s for {args.seconds:g} s':<38}{steady.events:>8,}"
              f"{steady.achieved_rate:>8,.0f}/s{statistics.median(delays_ms):>8.0f}{percentile(delays_ms, 0.99):>8.0f}"
              f"{max(delays_ms):>8.0f}")
        print(f"  {'':<4}{steady.breakdown}")

    duplicates = ", ".join(str(o.duplicates) for o in (burst, *steadies))
    print(f"\nchecks: every event arrived at least once; duplicates per run: {duplicates}; "
          f"{verified:,} Calmesh-Signature headers verified with calmesh.webhooks.verify_signature")


async def main(args: argparse.Namespace) -> None:
    receiver = Receiver.start()
    try:
        floor = await measure_floor(receiver.url, args.events, args.floor_concurrency)
        sharded = None
        if args.endpoints > 1:
            sharded = await measure_floor(receiver.url, args.events, args.floor_concurrency, clients=args.endpoints)
        with tempfile.TemporaryDirectory(prefix="calmesh-bench-") as tmp:
            async with database(args.database_url, Path(tmp)) as url:
                settings = Settings(database_url=url, key_file=Path(tmp) / "master.key",
                                    allow_private_network=True, _env_file=None)  # type: ignore[call-arg]
                runtime = build_runtime(settings)
                try:
                    setup = await prepare(runtime, receiver.url, args.endpoints)
                    backend = "PostgreSQL" if runtime.engine.dialect.name == "postgresql" else "SQLite"
                    print(f"{backend}; receiver: uvicorn + a bare ASGI app in its own process; Python {sys.version.split()[0]}; "
                          f"{os.cpu_count()} CPUs\n{args.endpoints} endpoint(s) on the receiver, one event type each; "
                          f"dispatcher defaults (32 requests in flight, 4 per endpoint)")
                    burst = await run_burst(setup, receiver.url, args.events)
                    verified = check(burst, setup.secrets)
                    bare = await run_without_http(setup, args.events)
                    steadies = []
                    for rate in args.rate:
                        steadies.append(await run_steady(setup, receiver.url, rate, args.seconds))
                        verified += check(steadies[-1], setup.secrets)
                finally:
                    await runtime.close()
        print_results(args, floor, sharded, burst, bare, steadies, verified)
    finally:
        receiver.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events in the burst (and POSTs for the floor)")
    parser.add_argument("--rate", type=float, nargs="+", default=[100, 500], help="steady: events committed per second (each rate is a run)")
    parser.add_argument("--seconds", type=float, default=10, help="steady: for how long")
    parser.add_argument("--endpoints", type=int, default=8, choices=range(1, len(TYPES) + 1), metavar="1-10",
                        help="webhook endpoints, one event type each (default 8: 8 x 4 per endpoint = 32 in flight)")
    parser.add_argument("--database-url", help="postgresql://… of a server to create a scratch database on (default: SQLite)")
    parser.add_argument("--quick", action="store_true", help="1,000 events and 2 s of steady load (CI smoke)")
    parser.add_argument("--serve-receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.events, args.seconds = 1_000, 2
    args.floor_concurrency = min(CONCURRENCY, 4 * args.endpoints)
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_receiver:
        serve_receiver(arguments.serve_receiver)
    else:
        asyncio.run(main(arguments))
