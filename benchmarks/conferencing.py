"""Conferencing benchmark: Zoom meetings made through calmesh's meetings service next to plain
httpx, and join-link detection next to a naive URL scan.

    .venv/bin/python benchmarks/conferencing.py [--meetings 300] [--concurrency 8] [--events 20000] [--rounds 3]
    .venv/bin/python benchmarks/conferencing.py --quick          # 40 meetings, 5,000 events (CI smoke)
    .venv/bin/python benchmarks/conferencing.py --emulator-in-thread   # the emulator in this process

1. Meeting creation. The Zoom emulator (:mod:`calmesh.sandbox.zoom`, served with
   :mod:`calmesh.sandbox.serving`) runs in its own process by default, so that its serving time is
   its own core's and can be shown apart; ``--emulator-in-thread`` serves it from a thread of
   this process instead (it then shares the GIL with both clients). Its daily limit and calmesh's
   ``zoom_daily_meeting_requests`` are raised above what the run sends. calmesh is connected to
   it as production does (auth URL, the consent page driven with httpx, ``integrations.connect``)
   on a temporary SQLite database. In one run, sequentially and then ``--concurrency`` at once:

   * the peer, plain httpx: ``--meetings`` ``POST /v2/users/me/meetings`` with a bearer token and
     the body calmesh sends, from one ``httpx.AsyncClient``;
   * calmesh: as many ``calmesh.services.meetings.schedule_meeting`` calls — the connection
     checked, today's allowance counted in the database, the adapter opened through the token
     keeper, the account's settings read (passcode rules), the meeting made and stored.

   Each has the emulator's time inside its handlers beside it (uvicorn's HTTP parsing not
   included) and the requests per meeting the emulator saw. calmesh's overhead per meeting is
   its wall time per meeting minus the peer's.

2. Join-link detection. ``calmesh.conferencing.detect_conference`` over the conference field,
   location and description of every VEVENT of the real-world corpus ``shared/corpus/ics``
   (read with ``calmesh.ical``), repeated to at least ``--events``, next to the peer: a
   ``https?://\\S+`` scan of the description, then the location, with each URL's host (and its
   parent domains) looked up in a small dict of conferencing hosts. Events/s (median of
   ``--rounds``) and how many events each found a conference in. The corpus holds almost no
   invitations, so a dozen labelled invitation snippets written for this benchmark (plain text,
   HTML, wrapped links, help links) show which answers are right.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy import func, select

from calmesh.conferencing import NO_CONFERENCE, detect_conference
from calmesh.config import Settings
from calmesh.domain.events import ConferenceData
from calmesh.errors import InvalidCalendarData
from calmesh.ical import parse_calendar
from calmesh.providers.base import MeetingRequest
from calmesh.services import integrations, oauth
from calmesh.services.integrations import IntegrationCreate
from calmesh.services.meetings import schedule_meeting
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.services.users import UserCreate, create_user
from calmesh.storage import models
from calmesh.storage.migrate import upgrade

USER = "bench@example.com"
#: The application's page Zoom sends the user back to (never loaded: the redirect is read).
REDIRECT = "https://app.example.com/oauth/zoom"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "ics"
WARM_UP = 5


# --- the emulator ---------------------------------------------------------------------------


def build_emulator(daily_limit: int) -> tuple[Any, dict[str, Any]]:
    """The Zoom emulator with one user, served from a thread of the calling process, behind a
    small ASGI wrapper that counts requests and answers ``GET /_bench/stats`` (its serving
    seconds and those counts). Returns the running app and what the clients need."""
    from calmesh.sandbox.serving import serve_in_thread
    from calmesh.sandbox.zoom import ZoomSandbox

    sandbox = ZoomSandbox()
    sandbox.daily_limit = daily_limit
    sandbox.add_user(USER, first_name="Bench", last_name="User")
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/stats":
            with lock:
                body = json.dumps({"seconds": sandbox.serving_seconds, "requests": dict(counts)}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http":
            with lock:
                counts[f"{scope['method']} {scope['path']}"] += 1
        await sandbox.app(scope, receive, send)

    running = serve_in_thread(app)
    sandbox.base_url = running.url
    tokens = sandbox.issue_tokens(USER)
    return running, {
        "url": running.url,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "webhook_secret_token": sandbox.webhook_secret_token,
        "access_token": str(tokens["access_token"]),
    }


def _emulator_process(daily_limit: int, queue: Any) -> None:
    _, info = build_emulator(daily_limit)
    queue.put(info)
    threading.Event().wait()  # serve until terminated


@dataclass
class Emulator:
    info: dict[str, Any]
    where: str
    stop: Callable[[], None]

    @classmethod
    def start(cls, daily_limit: int, in_thread: bool) -> Emulator:
        if in_thread:
            running, info = build_emulator(daily_limit)
            return cls(info, "in a thread of this process", running.stop)
        queue: Any = multiprocessing.Queue()
        process = multiprocessing.Process(target=_emulator_process, args=(daily_limit, queue), daemon=True)
        process.start()
        info = queue.get(timeout=60)

        def stop() -> None:
            process.terminate()
            process.join(10)

        return cls(info, "in its own process", stop)


@dataclass
class Stats:
    seconds: float
    requests: Counter[str]


async def emulator_stats(client: httpx.AsyncClient) -> Stats:
    body = (await client.get("/_bench/stats")).json()
    return Stats(float(body["seconds"]), Counter(body["requests"]))


# --- meeting creation -----------------------------------------------------------------------


@dataclass
class Run:
    label: str
    meetings: int
    concurrency: int
    seconds: float
    latencies: list[float]
    served: float
    requests: Counter[str]

    @property
    def rate(self) -> float:
        return self.meetings / self.seconds

    @property
    def wall_ms(self) -> float:
        """Wall time per meeting (1 / throughput), in ms."""
        return self.seconds / self.meetings * 1000

    @property
    def latency_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000

    @property
    def served_ms(self) -> float:
        return self.served / self.meetings * 1000

    @property
    def requests_each(self) -> float:
        return sum(self.requests.values()) / self.meetings


def meeting_request(n: int) -> MeetingRequest:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=n)
    return MeetingRequest(topic=f"Bench meeting {n}", start=start, duration_minutes=30, time_zone="Europe/Berlin",
                          agenda="Numbers, plans and the usual.")


def zoom_body(request: MeetingRequest) -> dict[str, Any]:
    """What calmesh's Zoom adapter sends for ``request`` with default meeting settings."""
    return {
        "topic": request.topic, "start_time": request.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": request.duration_minutes, "timezone": request.time_zone, "agenda": request.agenda or "",
        "type": 2, "password": "x7Kq2p",
        "settings": {"use_pmi": False, "join_before_host": False, "mute_upon_entry": False, "waiting_room": False,
                     "auto_recording": "none"},
    }


async def timed_run(label: str, total: int, concurrency: int, offset: int, stats: httpx.AsyncClient,
                    one: Callable[[int], Awaitable[None]]) -> Run:
    """``total`` calls of ``one(n)``, ``concurrency`` at once, with the emulator's time beside them."""
    numbers = iter(range(offset, offset + total))
    latencies: list[float] = []

    async def worker() -> None:
        for n in numbers:  # shared iterator: each number is taken once
            began = time.perf_counter()
            await one(n)
            latencies.append(time.perf_counter() - began)

    before = await emulator_stats(stats)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    after = await emulator_stats(stats)
    assert len(latencies) == total
    return Run(label, total, concurrency, seconds, latencies, after.seconds - before.seconds, after.requests - before.requests)


async def connect_zoom(runtime: Runtime, tenant_id: str, user_id: str) -> str:
    """calmesh's auth URL, the emulator's consent page ("allow", as a browser would post it) and
    ``integrations.connect`` with the code it sends back; returns the integration id."""
    started = await oauth.create_auth_url(
        runtime, tenant_id, oauth.AuthUrlRequest(provider="ZOOM", redirect_uri=REDIRECT, user_id=user_id)
    )
    async with httpx.AsyncClient(timeout=10, trust_env=False) as browser:
        page = await browser.get(started.url)
        page.raise_for_status()
        parts = urlsplit(started.url)
        form = dict(parse_qsl(parts.query)) | {"user": USER, "decision": "allow"}
        answer = await browser.post(f"{parts.scheme}://{parts.netloc}{parts.path}/consent", data=form)
    assert answer.status_code == 302, answer.text
    back = httpx.URL(answer.headers["location"])
    assert str(back).startswith(REDIRECT) and "code" in back.params, back
    created = await integrations.connect(
        runtime, tenant_id,
        IntegrationCreate(provider="ZOOM", code=back.params["code"], state=back.params["state"], redirect_uri=REDIRECT),
    )
    return created.id


async def meeting_runs(args: argparse.Namespace, emulator: Emulator, workdir: Path) -> tuple[list[tuple[Run, Run]], int]:
    info = emulator.info
    quota = 4 * (args.meetings + WARM_UP) + 100
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'calmesh.db'}", key_file=workdir / "master.key", embedded_worker=False,
        zoom_client_id=info["client_id"], zoom_client_secret=info["client_secret"],
        zoom_webhook_secret_token=info["webhook_secret_token"], zoom_oauth_url=info["url"], zoom_api_url=info["url"],
        # The emulator is on loopback, which the Zoom adapter's address guard refuses otherwise.
        provider_retry_base_seconds=0.02, zoom_daily_meeting_requests=quota,
        _env_file=None,
    )
    runtime = build_runtime(settings)
    try:
        await upgrade(runtime.engine)
        tenant_id = (await create_tenant(runtime, "bench")).tenant.id
        user_id = (await create_user(runtime, tenant_id, UserCreate(email=USER, name="Bench"))).id
        connection_id = await connect_zoom(runtime, tenant_id, user_id)
        made: list[str] = []

        async def calmesh_one(n: int) -> None:
            meeting = await schedule_meeting(runtime, tenant_id, connection_id, meeting_request(n))
            made.append(meeting.join_url)

        async with httpx.AsyncClient(base_url=info["url"], timeout=30, trust_env=False) as stats, \
                   httpx.AsyncClient(base_url=info["url"], timeout=30, trust_env=False,
                                     headers={"Authorization": f"Bearer {info['access_token']}"}) as plain:

            async def plain_one(n: int) -> None:
                response = await plain.post("/v2/users/me/meetings", json=zoom_body(meeting_request(n)))
                assert response.status_code == 201, response.text
                assert response.json()["join_url"]

            for n in range(WARM_UP):  # connections opened, code paths warm, before anything is timed
                await plain_one(-1 - n)
                await calmesh_one(-1 - n)
            pairs, offset = [], 0
            for concurrency in sorted({1, args.concurrency}):
                peer = await timed_run("plain httpx", args.meetings, concurrency, offset, stats, plain_one)
                ours = await timed_run("calmesh schedule_meeting", args.meetings, concurrency, offset, stats, calmesh_one)
                pairs.append((peer, ours))
                offset += args.meetings
        async with UnitOfWork(runtime) as uow:
            stored = int(await uow.session.scalar(select(func.count()).select_from(models.Meeting)) or 0)
        assert len(made) == stored == WARM_UP + offset, (len(made), stored)
        assert all(url for url in made)
        return pairs, stored
    finally:
        await runtime.close()


# --- join-link detection --------------------------------------------------------------------

Texts = tuple[ConferenceData | None, str | None, str | None]  # conference field, location, description

#: The naive peer's knowledge: a host (or a parent domain of it) -> service.
NAIVE_HOSTS = {
    "zoom.us": "ZOOM", "zoomgov.com": "ZOOM", "meet.google.com": "GOOGLE_MEET", "teams.microsoft.com": "TEAMS",
    "teams.live.com": "TEAMS", "webex.com": "WEBEX", "whereby.com": "WHEREBY", "bluejeans.com": "BLUEJEANS",
    "gotomeeting.com": "GOTO_MEETING", "meet.goto.com": "GOTO_MEETING", "meet.jit.si": "JITSI",
    "chime.aws": "CHIME", "skype.com": "SKYPE", "doxy.me": "DOXY_ME", "around.co": "AROUND",
}
URL = re.compile(r"https?://\S+")


def naive_detect(location: str | None, description: str | None) -> str:
    """What a naive implementation does: every URL of the description, then of the location; the
    first whose host is (under) a known conferencing domain names the service."""
    for text in (description, location):
        if not text:
            continue
        for match in URL.finditer(text):
            try:
                host = urlsplit(match.group()).hostname
            except ValueError:
                continue
            labels = (host or "").split(".")
            for i in range(len(labels) - 1):
                service = NAIVE_HOSTS.get(".".join(labels[i:]))
                if service:
                    return service
    return NO_CONFERENCE


def corpus_texts() -> tuple[list[Texts], int, int]:
    """(conference field, location, description) of every VEVENT calmesh reads in the corpus;
    also how many files were read and refused."""
    texts: list[Texts] = []
    read = refused = 0
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix in {".md", ".json", ".py"}:
            continue
        try:
            events = parse_calendar(path.read_bytes()).events
        except InvalidCalendarData:
            refused += 1
            continue
        read += 1
        texts.extend((event.conference, event.location, event.description) for event in events)
    return texts, read, refused


TEAMS = ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjA5ZTY2ZDYtMjhkOS00YmY2LTk3YjItNWM0ZDBlZjE5MzBh"
         "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf%22%7d")
SAFELINK = ("https://nam12.safelinks.protection.outlook.com/?url=" + TEAMS.replace("%", "%25").replace(":", "%3A")
            .replace("/", "%2F").replace("?", "%3F").replace("=", "%3D") + "&data=05%7C02%7Cgrace%40acme.com&reserved=0")

#: (what it is, location, description, the service a person would say it uses).
LABELLED: list[tuple[str, str | None, str | None, str]] = [
    ("Zoom invitation, plain text", None,
     ("Grace is inviting you to a scheduled Zoom meeting.\n\nJoin Zoom Meeting\n"
      "https://us02web.zoom.us/j/85012345678?pwd=dGhpcyBpcyBub3Q.1\n\nMeeting ID: 850 1234 5678\nPasscode: 123456\n"), "ZOOM"),
    ("Zoom help and download links only", None,
     "Questions? https://support.zoom.us/hc/en-us\nDownload the client: https://zoom.us/download", NO_CONFERENCE),
    ("Teams HTML, join link behind Outlook safe links", None,
     f'<p><a href="{SAFELINK}">Join the meeting now</a></p><p>Meeting ID: 123 456 789</p>', "TEAMS"),
    ("Teams 'Meeting options' link only", None,
     "Meeting options: https://teams.microsoft.com/meetingOptions/?organizerId=1&tenantId=2", NO_CONFERENCE),
    ("Google Meet, plain text", None, "Join with Google Meet\nhttps://meet.google.com/abc-defg-hij\n", "GOOGLE_MEET"),
    ("Google Meet link in HTML", None,
     '<p><a href="https://meet.google.com/abc-defg-hij">Join with Google Meet</a></p>', "GOOGLE_MEET"),
    ("Zoom link behind a Google redirect", None,
     "Join: https://www.google.com/url?q=https://us06web.zoom.us/j/85012345678&sa=D", "ZOOM"),
    ("Webex join link", None, "Join meeting: https://acme.webex.com/acme/j.php?MTID=m0123456789abcdef", "WEBEX"),
    ("zoommtg: link in the location", "zoommtg://zoom.us/join?action=join&confno=85012345678", None, "ZOOM"),
    ("Zoom in the location, agenda link in the description", "https://acme.zoom.us/j/85012345678",
     "Agenda: https://example.com/agenda", "ZOOM"),
    ("Jitsi room", None, "Join https://meet.jit.si/AcmeWeeklyPlanning", "JITSI"),
    ("a room and a web page", "Room 4.12", "Slides: https://example.com/slides.pdf", NO_CONFERENCE),
]


def median_seconds(work: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def detection(args: argparse.Namespace) -> dict[str, Any]:
    texts, read, refused = corpus_texts()
    copies = max(1, math.ceil(args.events / len(texts)))
    workload = texts * copies

    def ours() -> list[str]:
        return [detect_conference(conference=c, location=l, description=d).service for c, l, d in workload]

    def theirs() -> list[str]:
        return [naive_detect(l, d) for _, l, d in workload]

    ours_seconds, ours_found = median_seconds(ours, args.rounds)
    theirs_seconds, theirs_found = median_seconds(theirs, args.rounds)
    per_copy = len(texts)
    labelled_ours = [detect_conference(location=l, description=d).service for _, l, d, _ in LABELLED]
    labelled_theirs = [naive_detect(l, d) for _, l, d, _ in LABELLED]
    return {
        "files": read, "refused": refused, "distinct": per_copy, "copies": copies, "events": len(workload),
        "with_text": sum(1 for _, l, d in texts if l or d),
        "ours": ours_seconds, "theirs": theirs_seconds,
        "ours_found": Counter(s for s in ours_found[:per_copy] if s != NO_CONFERENCE),
        "theirs_found": Counter(s for s in theirs_found[:per_copy] if s != NO_CONFERENCE),
        "labelled": list(zip(LABELLED, labelled_ours, labelled_theirs, strict=True)),
    }


# --- the report -----------------------------------------------------------------------------


def print_meetings(args: argparse.Namespace, pairs: list[tuple[Run, Run]], stored: int) -> None:
    print(f"\nZoom meeting creation: {args.meetings:,} meetings per row (after {WARM_UP} warm-up meetings each)")
    print(f"  {'':<34}{'at once':>8}{'seconds':>9}{'meetings/s':>12}{'ms/meeting':>12}{'mean latency':>14}"
          f"{'emulator ms':>13}{'requests':>10}")
    for peer, ours in pairs:
        for run in (peer, ours):
            print(f"  {run.label:<34}{run.concurrency:>8}{run.seconds:>9.2f}{run.rate:>12,.0f}{run.wall_ms:>12.2f}"
                  f"{run.latency_ms:>11.2f} ms{run.served_ms:>13.2f}{run.requests_each:>10.1f}")
        print(f"  {'  calmesh overhead per meeting':<34}{'':>8}{'':>9}{'':>12}{ours.wall_ms - peer.wall_ms:>12.2f}"
              f"{ours.latency_ms - peer.latency_ms:>11.2f} ms   ({ours.rate / peer.rate:.0%} of the peer's rate)")
    calls = Counter[str]()
    for _, ours in pairs:
        calls += ours.requests
    total = sum(ours.meetings for _, ours in pairs)
    print("  ms/meeting: wall time / meetings; emulator ms: time inside its handlers per meeting; requests: HTTP requests "
          "the emulator saw per meeting")
    print("  calmesh's requests per meeting: " + ", ".join(f"{k} {v / total:.1f}" for k, v in sorted(calls.items())))
    print(f"  check: {stored:,} meetings stored by calmesh, each with a join URL")


def print_detection(numbers: dict[str, Any]) -> None:
    n = numbers
    print(f"\njoin-link detection: {n['distinct']:,} VEVENTs of {n['files']} corpus files ({n['refused']} refused by calmesh.ical; "
          f"{n['with_text']:,} with a location or description) x {n['copies']} = {n['events']:,} events; medians")
    print(f"  {'':<60}{'seconds':>9}{'events/s':>12}{'found in':>10}")
    ours_found, theirs_found = sum(n["ours_found"].values()), sum(n["theirs_found"].values())
    print(f"  {'calmesh detect_conference (field, location, description)':<60}{n['ours']:>9.3f}{n['events'] / n['ours']:>12,.0f}"
          f"{ours_found:>10}")
    peer = "peer: https?://\\S+ scan + host dict (location, description)"
    print(f"  {peer:<60}{n['theirs']:>9.3f}"
          f"{n['events'] / n['theirs']:>12,.0f}{theirs_found:>10}")
    print("  found in: distinct corpus events with a conference; calmesh by service: "
          + (", ".join(f"{k} {v}" for k, v in n["ours_found"].most_common()) or "none")
          + "; peer: " + (", ".join(f"{k} {v}" for k, v in n["theirs_found"].most_common()) or "none"))
    labelled = n["labelled"]
    right_ours = sum(1 for case, ours, _ in labelled if ours == case[3])
    right_theirs = sum(1 for case, _, theirs in labelled if theirs == case[3])
    print(f"\nlabelled invitation snippets (written for this benchmark): calmesh right in {right_ours}/{len(labelled)}, "
          f"peer right in {right_theirs}/{len(labelled)}")
    print(f"  {'':<54}{'expected':>13}{'calmesh':>13}{'peer':>13}")
    for (what, _, _, expected), ours, theirs in labelled:
        print(f"  {what:<54}{expected:>13}{ours:>13}{theirs:>13}")


async def main(args: argparse.Namespace) -> None:
    emulator = Emulator.start(4 * (args.meetings + WARM_UP) + 100, args.emulator_in_thread)
    try:
        with tempfile.TemporaryDirectory(prefix="calmesh-bench-") as tmp:
            print(f"SQLite; Zoom emulator: uvicorn {emulator.where}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
                  f"httpx {httpx.__version__}")
            pairs, stored = await meeting_runs(args, emulator, Path(tmp))
    finally:
        emulator.stop()
    print_meetings(args, pairs, stored)
    print_detection(detection(args))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=300, help="meetings per run (each side, each concurrency)")
    parser.add_argument("--concurrency", type=int, default=8, help="meetings in flight in the concurrent runs")
    parser.add_argument("--events", type=int, default=20_000, help="detection: the corpus is repeated to at least this many events")
    parser.add_argument("--rounds", type=int, default=3, help="detection: runs per measurement (median shown)")
    parser.add_argument("--emulator-in-thread", action="store_true", help="serve the emulator from a thread of this process")
    parser.add_argument("--quick", action="store_true", help="40 meetings and 5,000 events (CI smoke)")
    args = parser.parse_args()
    if args.quick:
        args.meetings, args.events = 40, 5_000
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
