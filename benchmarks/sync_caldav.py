"""CalDAV sync benchmark: calmesh against vdirsyncer and the server's own floor, on Radicale.

    .venv/bin/pip install -e '.[test,bench]'
    .venv/bin/python benchmarks/sync_caldav.py [--events 5000 50] [--rounds 3]

For each calendar size, a Radicale calendar is seeded by writing its items as files into
Radicale's storage before the server starts (5,000 single PUTs would take about ten minutes,
see shared/reference/peer-baselines.md), and the server's cache is warmed. Then, in one run:

* the server's floor: one ``calendar-query`` REPORT returning every event (what any initial
  sync must transfer), and one ``sync-collection`` REPORT after 10 changes (what any incremental
  sync must ask);
* calmesh: the initial sync of a fresh connection into a fresh SQLite mirror (fetch, parse,
  store), then incremental syncs after 10 changed events — in-process, as the embedded worker
  runs them, and once as the ``calmesh sync`` command (interpreter start-up included, like
  vdirsyncer's numbers);
* vdirsyncer: its first sync of the same calendar to a local folder, then its sync after the
  same 10 changes.

Incremental numbers are medians over ``--rounds`` rounds of 10 changes. Goals (issue 5): the
initial sync faster than vdirsyncer's; the incremental sync within 1.5x of the sync-collection
floor and at least 3x faster than vdirsyncer's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import httpx
import icalendar

from calmesh.config import Settings
from calmesh.ical import parse_calendar
from calmesh.services import integrations
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.sync import sync_connection
from calmesh.services.tenants import create_tenant
from calmesh.storage.migrate import upgrade

USER, PASSWORD = "bench", "bench"
CALDAV_NS = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"'
CALENDAR_QUERY = f"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query {CALDAV_NS}><d:prop><d:getetag/><c:calendar-data/></d:prop>
<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/></c:comp-filter></c:filter>
</c:calendar-query>"""


def sync_collection(token: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection {CALDAV_NS}><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>
<d:prop><d:getetag/></d:prop></d:sync-collection>"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the calendars ----------------------------------------------------------------------------


#: Objects carry their VTIMEZONE, as real clients write them (Radicale is very slow to index
#: objects whose TZID it has to resolve without one).
BERLIN = [
    "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
    "END:VTIMEZONE",
]


def event_ics(rng: random.Random, uid: str, start: datetime, summary: str) -> str:
    """One calendar object: 80% single events, 20% weekly series with an EXDATE and a moved instance."""
    fmt = "%Y%m%dT%H%M%S"
    end = start + timedelta(minutes=rng.choice([30, 45, 60, 90]))
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calmesh//benchmark//EN", *BERLIN,
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{start:{fmt}}", f"DTEND;TZID=Europe/Berlin:{end:{fmt}}",
        f"SUMMARY:{summary}", "DESCRIPTION:Agenda: status\\, risks\\, next steps",
        "ATTENDEE;CN=Ada;PARTSTAT=ACCEPTED:mailto:ada@example.com",
    ]
    recurring = rng.random() < 0.2
    if recurring:
        lines += ["RRULE:FREQ=WEEKLY;COUNT=20", f"EXDATE;TZID=Europe/Berlin:{start + timedelta(weeks=2):{fmt}}"]
    lines.append("END:VEVENT")
    if recurring:
        moved = start + timedelta(weeks=3)
        lines += [
            "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
            f"RECURRENCE-ID;TZID=Europe/Berlin:{moved:{fmt}}",
            f"DTSTART;TZID=Europe/Berlin:{moved + timedelta(hours=2):{fmt}}",
            f"DTEND;TZID=Europe/Berlin:{moved + timedelta(hours=3):{fmt}}",
            f"SUMMARY:{summary} (moved)", "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def seed(storage: Path, name: str, count: int) -> None:
    rng = random.Random(count)
    folder = storage / "collection-root" / USER / name
    folder.mkdir(parents=True)
    (folder / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR", "D:displayname": name}))
    base = datetime.now().replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)
    for n in range(count):
        start = base + timedelta(days=rng.randrange(300), hours=rng.randrange(10))
        (folder / f"ev{n}.ics").write_text(event_ics(rng, f"ev{n}@bench", start, f"Meeting {n}"), newline="")


@dataclass
class Radicale:
    url: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, storage: Path) -> Radicale:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--server-hosts", f"127.0.0.1:{port}", "--auth-type", "none",
             "--storage-filesystem-folder", str(storage), "--logging-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(url, timeout=1)
                return cls(url, process)
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("Radicale did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- the server's floor -----------------------------------------------------------------------


def report(client: httpx.Client, path: str, body: str, depth: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.request(
        "REPORT", path, content=body, headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response


def current_token(client: httpx.Client, path: str) -> str:
    _, response = report(client, path, sync_collection(""), "0")
    token = ElementTree.fromstring(response.content).find("{DAV:}sync-token")
    assert token is not None and token.text
    return token.text


def change_ten(client: httpx.Client, path: str, count: int, round_: int) -> None:
    rng = random.Random(round_)
    start = datetime.now().replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=2 + round_)
    for n in rng.sample(range(count), 10):
        text = event_ics(random.Random(n), f"ev{n}@bench", start, f"Meeting {n} (changed in round {round_})")
        client.put(f"{path}ev{n}.ics", content=text, headers={"Content-Type": "text/calendar; charset=utf-8"}).raise_for_status()


# --- calmesh ------------------------------------------------------------------------------------


async def calmesh_connect(runtime: Runtime, server: str, calendar: str) -> str:
    tenant = await create_tenant(runtime, f"bench-{calendar}")
    created = await integrations.connect(
        runtime, tenant.tenant.id, IntegrationCreate(provider="CALDAV", server_url=server, username=USER, password=PASSWORD)
    )
    calendars = await integrations.list_calendars(runtime, tenant.tenant.id, created.id, limit=100, cursor=None)
    chosen = [c.provider_calendar_id for c in calendars.data if c.provider_calendar_id.rstrip("/").endswith(f"/{calendar}")]
    await integrations.configure(runtime, tenant.tenant.id, created.id, {"calendarsToSync": chosen})
    return created.id


# --- vdirsyncer -----------------------------------------------------------------------------------


def vdirsyncer_config(workdir: Path, server: str, calendar: str) -> Path:
    (workdir / "local").mkdir(parents=True)
    config = workdir / "config"
    config.write_text(
        f"""[general]
status_path = "{workdir / 'status'}/"

[pair bench]
a = "remote"
b = "local"
collections = null
conflict_resolution = "a wins"

[storage remote]
type = "caldav"
url = "{server}/{USER}/{calendar}/"
username = "{USER}"
password = "{PASSWORD}"

[storage local]
type = "filesystem"
path = "{workdir / 'local'}/"
fileext = ".ics"
"""
    )
    return config


def vdirsyncer(config: Path, *args: str) -> float:
    executable = shutil.which("vdirsyncer", path=str(Path(sys.executable).parent)) or shutil.which("vdirsyncer")
    if executable is None:
        raise SystemExit("vdirsyncer is not installed: pip install -e '.[bench]'")
    started = time.perf_counter()
    subprocess.run([executable, "-c", str(config), *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, input=b"")
    return time.perf_counter() - started


def calmesh_cli_sync(settings: Settings, connection_id: str) -> float:
    executable = Path(sys.executable).parent / "calmesh"
    env = {**os.environ, "CALMESH_DATABASE_URL": settings.database_url or "", "CALMESH_KEY_FILE": str(settings.key_file),
           "CALMESH_ALLOW_PRIVATE_NETWORK": "true"}
    started = time.perf_counter()
    subprocess.run([str(executable), "sync", connection_id, "--json"], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


# --- one calendar size ----------------------------------------------------------------------------


async def measure(root: Path, server: Radicale, calendar: str, count: int, rounds: int) -> dict[str, float]:
    path = f"/{USER}/{calendar}/"
    numbers: dict[str, float] = {}
    with httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=120) as client:
        floors = [report(client, path, CALENDAR_QUERY, "1")[0] for _ in range(3)]
        numbers["floor_full"] = statistics.median(floors)
        _, everything = report(client, path, CALENDAR_QUERY, "1")
        tree = ElementTree.fromstring(everything.content)
        bodies = [node.text or "" for node in tree.iter("{urn:ietf:params:xml:ns:caldav}calendar-data")]
        started = time.perf_counter()
        for body in bodies:
            parse_calendar(body)
        numbers["parse_calmesh"] = time.perf_counter() - started
        started = time.perf_counter()
        for body in bodies:
            icalendar.Calendar.from_ical(body)
        numbers["parse_icalendar"] = time.perf_counter() - started

        settings = Settings(database_url=f"sqlite:///{root / f'{calendar}.db'}", key_file=root / "master.key",
                            allow_private_network=True, _env_file=None)  # type: ignore[call-arg]
        runtime = build_runtime(settings)
        await upgrade(runtime.engine)
        connection_id = await calmesh_connect(runtime, server.url, calendar)
        started = time.perf_counter()
        first = await sync_connection(runtime, connection_id)
        numbers["calmesh_initial"] = time.perf_counter() - started
        numbers["calmesh_initial_fetch"] = first.calendars[0].fetch_seconds
        numbers["calmesh_initial_store"] = first.calendars[0].store_seconds
        numbers["calmesh_initial_pulled"] = first.total("pulled")

        vdir = vdirsyncer_config(root / f"vdir-{calendar}", server.url, calendar)
        vdirsyncer(vdir, "discover")
        numbers["vdirsyncer_initial"] = vdirsyncer(vdir, "sync")

        floor_incr, ours_incr, ours_cli, theirs_incr, pulled = [], [], [], [], []
        for round_ in range(rounds):
            token = current_token(client, path)
            change_ten(client, path, count, round_)
            floor_incr.append(statistics.median(report(client, path, sync_collection(token), "0")[0] for _ in range(3)))
            started = time.perf_counter()
            result = await sync_connection(runtime, connection_id)
            ours_incr.append(time.perf_counter() - started)
            pulled.append(result.total("pulled"))
            theirs_incr.append(vdirsyncer(vdir, "sync"))
        change_ten(client, path, count, rounds)
        await runtime.close()
        ours_cli.append(calmesh_cli_sync(settings, connection_id))
        numbers["floor_incremental"] = statistics.median(floor_incr)
        numbers["calmesh_incremental"] = statistics.median(ours_incr)
        numbers["calmesh_incremental_cli"] = statistics.median(ours_cli)
        numbers["vdirsyncer_incremental"] = statistics.median(theirs_incr)
        numbers["calmesh_incremental_pulled"] = statistics.median(pulled)
    return numbers


def print_results(count: int, n: dict[str, float]) -> None:
    print(f"\n{count:,}-event calendar (calmesh pulled {int(n['calmesh_initial_pulled'])} items first, "
          f"then {int(n['calmesh_incremental_pulled'])} per round of 10 changes)")
    print(f"  {'initial sync':<44}{'seconds':>9}")
    print(f"  {'server floor: one calendar-query REPORT':<44}{n['floor_full']:>9.2f}")
    print(f"  {'calmesh (in-process)':<44}{n['calmesh_initial']:>9.2f}")
    print(f"  {'  fetch (HTTP, XML and iCalendar parsing)':<44}{n['calmesh_initial_fetch']:>9.2f}")
    print(f"  {'    of which parsing alone (calmesh.ical)':<44}{n['parse_calmesh']:>9.2f}   icalendar on the same: {n['parse_icalendar']:.2f}")
    print(f"  {'  store (mirror, busy index, sync status)':<44}{n['calmesh_initial_store']:>9.2f}")
    print(f"  {'vdirsyncer (process)':<44}{n['vdirsyncer_initial']:>9.2f}   calmesh faster by {n['vdirsyncer_initial'] / n['calmesh_initial']:.1f}x")
    print(f"  {'incremental sync after 10 changes (median)':<44}")
    print(f"  {'server floor: one sync-collection REPORT':<44}{n['floor_incremental']:>9.2f}")
    print(f"  {'calmesh (in-process)':<44}{n['calmesh_incremental']:>9.2f}   {n['calmesh_incremental'] / n['floor_incremental']:.2f}x the floor")
    print(f"  {'calmesh sync (command, start-up included)':<44}{n['calmesh_incremental_cli']:>9.2f}")
    print(f"  {'vdirsyncer (process)':<44}{n['vdirsyncer_incremental']:>9.2f}   calmesh faster by {n['vdirsyncer_incremental'] / n['calmesh_incremental']:.1f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[5000, 50])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calmesh-bench-") as tmp:
        root = Path(tmp)
        storage = root / "radicale"
        for count in args.events:
            seed(storage, f"cal{count}", count)
        server = Radicale.start(storage)
        try:
            warm_up: list[str] = []
            with httpx.Client(base_url=server.url, auth=(USER, PASSWORD), timeout=300) as client:
                for count in args.events:
                    # Radicale builds its item cache on the first read and its sync-token state
                    # on the first token asked for: one-time costs of a fresh server, not of a sync.
                    started = time.perf_counter()
                    report(client, f"/{USER}/cal{count}/", CALENDAR_QUERY, "1")
                    current_token(client, f"/{USER}/cal{count}/")
                    warm_up.append(f"{count:,} events {time.perf_counter() - started:.1f} s")
            print(f"Radicale on loopback; Python {sys.version.split()[0]}; {args.rounds} rounds of 10 changes")
            print(f"server warm-up (cache and sync-token state, not counted): {', '.join(warm_up)}")
            for count in args.events:
                print_results(count, await measure(root, server, f"cal{count}", count, args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
