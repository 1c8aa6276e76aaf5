"""Google sync benchmark: calmesh's initial and incremental sync from the Google emulator, next to
the official google-api-python-client and plain httpx fetching the same pages.

    .venv/bin/pip install -e '.[test]'
    .venv/bin/python benchmarks/sync_google.py [--events 50000] [--page 2500] [--rounds 3]

The emulator (:mod:`calmesh.sandbox.google`) runs in its own process, seeded with ``--events``
events (a tenth of them weekly series, the rest single events, over a year), so that its serving
time is its own core's and can be shown apart: every number below has the emulator's time inside
its handlers beside it. In one run:

* the floor: plain httpx paging ``events.list`` with ``maxResults=2500`` to the nextSyncToken,
  JSON decoding only — what any initial sync must transfer;
* google-api-python-client (the named peer): the same paging with Google's official client, as
  most Python integrations do it, again only fetching;
* calmesh: the initial sync of a fresh connection into a fresh SQLite mirror (fetch, map to
  domain events, store, index busy time), then incremental syncs after 10 changed events, as the
  embedded worker runs them; medians over ``--rounds``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

USER = "bench@example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the emulator, in its own process -------------------------------------------------------


def _bodies(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    base = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=180)
    bodies = []
    for n in range(count):
        start = base + timedelta(hours=rng.randrange(0, 365 * 24))
        body: dict[str, Any] = {
            "summary": f"Event {n}",
            "description": "Agenda: numbers, plans and the usual." if n % 3 == 0 else None,
            "location": "Room 4" if n % 5 == 0 else None,
            "start": {"dateTime": start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": "Europe/Berlin"},
            "end": {"dateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": "Europe/Berlin"},
            "attendees": [{"email": f"guest{n % 40}@example.com", "responseStatus": "accepted"}] if n % 4 == 0 else None,
        }
        if n % 10 == 0:
            body["recurrence"] = ["RRULE:FREQ=WEEKLY;COUNT=20"]
        bodies.append({k: v for k, v in body.items() if v is not None})
    return bodies


def _serve_emulator(port: int, count: int, ready: Any, secrets: Any) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route
    import uvicorn

    from calmesh.sandbox.google import GoogleSandbox

    sandbox = GoogleSandbox()
    sandbox.base_url = f"http://127.0.0.1:{port}"
    sandbox.add_user(USER, "Bench")
    sandbox.bulk_insert(USER, _bodies(count))
    tokens = sandbox.issue_tokens(USER)

    async def serving(request: Request) -> JSONResponse:
        return JSONResponse({"seconds": sandbox.serving_seconds})

    async def change(request: Request) -> JSONResponse:
        """Ten changes by "another client": 6 edits, 2 new events, 2 deletions."""
        events = [e for e in sandbox.events(USER) if "recurringEventId" not in e]
        picked = random.sample(events, 8)
        for event in picked[:6]:
            sandbox.patch_event(USER, event["id"], {"summary": event.get("summary", "") + " (changed)"})
        for event in picked[6:]:
            sandbox.delete_event(USER, event["id"])
        for body in _bodies(2):
            sandbox.insert_event(USER, body)
        return JSONResponse({"changed": 10})

    app = Starlette(routes=[Route("/_bench/serving", serving), Route("/_bench/change", change, methods=["POST"]), Mount("/", sandbox.app)])
    secrets.update({"client_id": sandbox.client_id, "client_secret": sandbox.client_secret, **tokens})
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    ready.set()
    server.run()


async def _serving_seconds(client: httpx.AsyncClient) -> float:
    return float((await client.get("/_bench/serving")).json()["seconds"])


# --- the three clients ----------------------------------------------------------------------


async def floor(url: str, token: str, page: int) -> tuple[float, int]:
    started, count = time.perf_counter(), 0
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        params: dict[str, Any] = {"maxResults": page}
        while True:
            body = (await client.get(f"/calendar/v3/calendars/{USER}/events", params=params)).json()
            count += len(body["items"])
            if "nextPageToken" not in body:
                break
            params["pageToken"] = body["nextPageToken"]
    return time.perf_counter() - started, count


def official_client(url: str, token: str, page: int) -> tuple[float, int]:
    import google.oauth2.credentials
    from googleapiclient.discovery import build

    started, count = time.perf_counter(), 0
    credentials = google.oauth2.credentials.Credentials(token=token)
    service = build("calendar", "v3", credentials=credentials, static_discovery=True, client_options={"api_endpoint": url + "/calendar/v3/"})
    request = service.events().list(calendarId=USER, maxResults=page)
    while request is not None:
        body = request.execute()
        count += len(body["items"])
        request = service.events().list_next(request, body)
    service.close()
    return time.perf_counter() - started, count


async def calmesh_runs(url: str, secrets: dict[str, str], rounds: int) -> dict[str, Any]:
    from calmesh.auth.oauth import TokenSet
    from calmesh.config import Settings
    from calmesh.services import integrations
    from calmesh.services.credentials import store_credentials
    from calmesh.services.runtime import build_runtime
    from calmesh.services.sync import sync_connection
    from calmesh.services.tenants import create_tenant
    from calmesh.services.unit_of_work import UnitOfWork
    from calmesh.storage import models
    from calmesh.storage.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="calmesh-bench-"))
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'bench.db'}",
        key_file=workdir / "master.key",
        embedded_worker=False,
        google_client_id=secrets["client_id"],
        google_client_secret=secrets["client_secret"],
        google_accounts_url=url,
        google_oauth_url=url,
        google_api_url=url,
    )
    runtime = build_runtime(settings)
    await upgrade(runtime.engine)
    tenant = await create_tenant(runtime, "bench")
    # The connection as the OAuth callback leaves it (the flow itself is not what is measured).
    tokens = TokenSet(secrets["access_token"], secrets.get("refresh_token"), datetime.now(timezone.utc) + timedelta(hours=1))
    async with UnitOfWork(runtime) as uow:
        connection = models.Connection(
            id="int_bench", tenant_id=tenant.tenant.id, provider="GOOGLE", status="ACTIVE",
            account={"email": USER}, account_email=USER, settings={}, permissions={"calendar": "write"}, version=1,
        )
        uow.session.add(connection)
        await uow.session.flush()
        await store_credentials(uow, tenant.tenant.id, connection.id, tokens.to_secrets())
        await uow.commit()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as bench:
            served_before = await _serving_seconds(bench)
            started = time.perf_counter()
            report = await sync_connection(runtime, "int_bench")
            initial = time.perf_counter() - started
            initial_served = await _serving_seconds(bench) - served_before
            incremental, incremental_served = [], []
            for _ in range(rounds):
                await bench.post("/_bench/change")
                served_before = await _serving_seconds(bench)
                started = time.perf_counter()
                again = await sync_connection(runtime, "int_bench")
                incremental.append(time.perf_counter() - started)
                incremental_served.append(await _serving_seconds(bench) - served_before)
                assert again.total("pulled") + again.total("deleted_locally") >= 10, again
        status = await integrations.sync_status(runtime, tenant.tenant.id, "int_bench")
    finally:
        await runtime.close()
    primary = report.calendars[0]
    return {
        "initial": initial,
        "initial_served": initial_served,
        "initial_fetch": primary.fetch_seconds,
        "initial_store": primary.store_seconds,
        "pulled": report.total("pulled"),
        "items": sum(c.item_count for c in status.calendars),
        "incremental": statistics.median(incremental),
        "incremental_served": statistics.median(incremental_served),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--page", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    port = free_port()
    manager = multiprocessing.Manager()
    ready, secrets = manager.Event(), manager.dict()
    seeding = time.perf_counter()
    emulator = multiprocessing.Process(target=_serve_emulator, args=(port, args.events, ready, secrets), daemon=True)
    emulator.start()
    ready.wait(timeout=600)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
        for _ in range(500):
            try:
                await probe.get("/_bench/serving")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        async def served() -> float:
            return await _serving_seconds(probe)

        print(f"Google emulator in its own process, {args.events:,} events seeded in {time.perf_counter() - seeding:.1f} s; "
              f"Python {sys.version.split()[0]}; pages of {args.page:,}")
        before = await served()
        floor_seconds, floor_count = await floor(url, secrets["access_token"], args.page)
        floor_served = await served() - before
        before = await served()
        official_seconds, official_count = await asyncio.to_thread(official_client, url, secrets["access_token"], args.page)
        official_served = await served() - before
    numbers = await calmesh_runs(url, dict(secrets), args.rounds)
    emulator.terminate()

    def line(label: str, seconds: float, served_seconds: float, count: int | None = None) -> None:
        rate = f"{count / seconds:>10,.0f}/s" if count else " " * 12
        print(f"  {label:<52}{seconds:>8.2f} s{rate}   emulator serving {served_seconds:>6.2f} s")

    print(f"\ninitial sync ({floor_count:,} items listed: single events, series masters and their exceptions)")
    line("floor: plain httpx, JSON only", floor_seconds, floor_served, floor_count)
    line("google-api-python-client, fetch only", official_seconds, official_served, official_count)
    line("calmesh: fetch, map, store, index (in-process)", numbers["initial"], numbers["initial_served"], numbers["pulled"])
    print(f"  {'  of which fetch and mapping':<52}{numbers['initial_fetch']:>8.2f} s")
    print(f"  {'  of which storing (mirror, busy index, status)':<52}{numbers['initial_store']:>8.2f} s")
    print(f"\nincremental sync after 10 changes (median of {args.rounds})")
    line("calmesh (in-process)", numbers["incremental"], numbers["incremental_served"])
    print(f"\ncalmesh's mirror holds {numbers['items']:,} series; calmesh is {official_seconds / numbers['initial']:.2f}x the official "
          f"client's fetch-only time ({'faster' if numbers['initial'] < official_seconds else 'slower'}) while also storing everything")


if __name__ == "__main__":
    asyncio.run(main())
