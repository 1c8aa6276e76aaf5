"""Webhooks out, end to end: the outbox, the dispatcher, signatures, retries, leases and replays.

Every delivery goes over real HTTP to a receiver on loopback (:mod:`tests.webhook_receiver`);
nothing of calmesh is mocked. Runs on SQLite and PostgreSQL, except the test that kills a real
``calmesh serve`` (SQLite, the embedded default).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from calmesh.errors import NotFound, WebhookVerificationFailed
from calmesh.services import webhooks
from calmesh.services.announcements import announce
from calmesh.services.runtime import Runtime, build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.services.webhook_delivery import WebhookDispatcher
from calmesh.services.webhooks import (
    DeliveryDetail,
    ReplayRequest,
    SecretRotate,
    WebhookCreate,
    WebhookUpdate,
)
from calmesh.storage import models
from calmesh.storage.migrate import upgrade
from calmesh.webhooks.catalogue import EventType
from calmesh.webhooks.sending import RetryPolicy
from calmesh.webhooks.signing import generate_secret, sign, verify_signature
from tests.conftest import free_port, make_settings
from tests.webhook_receiver import HANG, RESET, Receiver, Step, wait_until

#: Retries within a second, so a test sees a whole retry sequence.
FAST = RetryPolicy(first_delay=timedelta(milliseconds=50), factor=1.5, max_delay=timedelta(milliseconds=300))
#: Retries so far off that a drain sees exactly one attempt per delivery.
NEVER_AGAIN = RetryPolicy(first_delay=timedelta(hours=1))

RuntimeFactory = Callable[..., Awaitable[Runtime]]
ReceiverFactory = Callable[..., Receiver]
DispatcherFactory = Callable[..., WebhookDispatcher]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def make_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[RuntimeFactory]:
    """Runtimes on one fresh database (SQLite and PostgreSQL) that may reach loopback."""
    made: list[Runtime] = []

    async def make(**settings: object) -> Runtime:
        rt = build_runtime(make_settings(database_url, tmp_path, allow_private_network=True, **settings))
        made.append(rt)
        await upgrade(rt.engine)
        return rt

    yield make
    for rt in made:
        await rt.close()


@pytest.fixture
def receivers() -> Iterator[ReceiverFactory]:
    made: list[Receiver] = []

    def make(script: list[Step] | None = None, default: Step = 200) -> Receiver:
        receiver = Receiver.start(script or [], default=default)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
async def dispatchers(make_runtime: RuntimeFactory, receivers: ReceiverFactory) -> AsyncIterator[DispatcherFactory]:
    """Dispatchers, stopped before the runtimes close and the receivers go."""
    made: list[WebhookDispatcher] = []

    def make(runtime: Runtime, **options: Any) -> WebhookDispatcher:
        dispatcher = WebhookDispatcher(runtime, **options)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        await dispatcher.stop()


# --- helpers ----------------------------------------------------------------------------------


async def new_tenant(runtime: Runtime) -> str:
    return (await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")).tenant.id


async def announce_events(
    runtime: Runtime, tenant_id: str, count: int = 1, event_type: EventType = EventType.EVENT_CREATED
) -> list[str]:
    """``count`` events announced in one committed transaction."""
    async with UnitOfWork(runtime) as uow:
        ids = [await announce(uow, tenant_id, event_type, {"n": n, "title": f"Meeting {n} ☕"}) for n in range(count)]
        await uow.commit()
    return ids


async def deliveries_of(runtime: Runtime, tenant_id: str, webhook_id: str) -> list[DeliveryDetail]:
    """The endpoint's deliveries, oldest first, as :func:`webhooks.get_delivery` shows them.

    (Not via ``webhooks.list_deliveries``: it calls ``Result.tuples()``, deprecated in SQLAlchemy
    2.1, and the warning is an error under this project's pytest settings.)
    """
    async with UnitOfWork(runtime) as uow:
        ids = (
            await uow.session.scalars(
                select(models.WebhookDelivery.id)
                .where(models.WebhookDelivery.endpoint_id == webhook_id)
                .order_by(models.WebhookDelivery.id)
            )
        ).all()
    return [await webhooks.get_delivery(runtime, tenant_id, webhook_id, delivery_id) for delivery_id in ids]


async def only_delivery(runtime: Runtime, tenant_id: str, webhook_id: str) -> DeliveryDetail:
    [delivery] = await deliveries_of(runtime, tenant_id, webhook_id)
    return delivery


async def eventually(probe: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.05) -> bool:
    """Await ``probe`` until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await probe():
            return True
        await asyncio.sleep(interval)
    return await probe()


async def wait_for_status(
    runtime: Runtime, tenant_id: str, webhook_id: str, status: str, *, timeout: float = 30
) -> DeliveryDetail:
    async def reached() -> bool:
        return (await only_delivery(runtime, tenant_id, webhook_id)).status == status

    reached_it = await eventually(reached, timeout=timeout)
    detail = await only_delivery(runtime, tenant_id, webhook_id)
    assert reached_it, f"the delivery is still {detail.status} after {timeout} s: {detail}"
    return detail


async def count_rows(runtime: Runtime, model: type[models.Base]) -> int:
    async with UnitOfWork(runtime) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


def signature(received: Any) -> str:
    header = received.header("Calmesh-Signature")
    assert header is not None, received.headers
    return str(header)


# --- 1. signatures ----------------------------------------------------------------------------


async def test_signatures_verify_with_each_active_secret(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    receiver = receivers()
    hook = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=receiver.url))
    old = hook.secret
    new = (await webhooks.rotate_secret(rt, tenant, hook.id, SecretRotate(expire_current_in_seconds=3600))).secret
    assert old != new and old.startswith("whsec_") and new.startswith("whsec_")

    [event_id] = await announce_events(rt, tenant)
    await dispatchers(rt).drain(timeout=30)

    [received] = receiver.snapshot()
    header = signature(received)
    assert header.count("v1=") == 2, header
    assert received.header("Content-Type") == "application/json"
    assert (received.event_id, received.header("Calmesh-Event-Type")) == (event_id, "event.created")
    body = json.loads(received.body)
    assert (body["id"], body["type"], body["tenantId"]) == (event_id, "event.created", tenant)
    assert body["data"] == {"n": 0, "title": "Meeting 0 ☕"} and body["createdAt"].endswith("Z")

    signed_at = verify_signature(received.body, header, old)
    assert abs(signed_at - received.arrived_at) < 5
    assert verify_signature(received.body, header, new) == signed_at
    assert verify_signature(received.body, header, [generate_secret(), new]) == signed_at
    with pytest.raises(WebhookVerificationFailed):
        verify_signature(received.body, header, generate_secret())
    tampered = received.body.replace(b'"n":0', b'"n":1')
    assert tampered != received.body
    with pytest.raises(WebhookVerificationFailed):
        verify_signature(tampered, header, [old, new])
    # The same delivery, checked ten minutes later (a captured request replayed): too old.
    with pytest.raises(WebhookVerificationFailed, match="tolerance"):
        verify_signature(received.body, header, [old, new], now=signed_at + 600)
    stale = sign(received.body, [old, new], int(time.time()) - 600)
    with pytest.raises(WebhookVerificationFailed, match="tolerance"):
        verify_signature(received.body, stale, [old, new])

    shown = await webhooks.get_webhook(rt, tenant, hook.id)
    assert [s.active for s in shown.secrets] == [True, True]
    assert shown.secrets[0].expires_at is not None and shown.secrets[1].expires_at is None
    assert "secret" not in shown.model_dump() and old not in shown.model_dump_json()

    # Rotating with no grace retires every current secret at once: one signature from now on.
    newest = (await webhooks.rotate_secret(rt, tenant, hook.id, SecretRotate(expire_current_in_seconds=0))).secret
    await announce_events(rt, tenant)
    await dispatchers(rt).drain(timeout=30)
    later = receiver.snapshot()[1]
    header = signature(later)
    assert header.count("v1=") == 1, header
    verify_signature(later.body, header, newest)
    for retired in (old, new):
        with pytest.raises(WebhookVerificationFailed):
            verify_signature(later.body, header, retired)
    shown = await webhooks.get_webhook(rt, tenant, hook.id)
    assert [s.active for s in shown.secrets] == [False, False, True]


# --- 2. retries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "codes"),
    [
        pytest.param([500] * 5, [500] * 5, id="http-500"),
        pytest.param([500, 503, RESET, 429, 502], [500, 503, None, 429, 502], id="mixed"),
    ],
)
async def test_a_failing_receiver_gets_the_same_event_until_it_succeeds(
    make_runtime: RuntimeFactory,
    receivers: ReceiverFactory,
    dispatchers: DispatcherFactory,
    failures: list[Step],
    codes: list[int | None],
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    receiver = receivers(failures, default=200)
    hook = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=receiver.url))
    [event_id] = await announce_events(rt, tenant)

    dispatcher = dispatchers(rt, policy=FAST, poll_seconds=0.05)
    dispatcher.start()
    delivery = await wait_for_status(rt, tenant, hook.id, "DELIVERED", timeout=30)
    await asyncio.sleep(0.3)  # nothing more goes out once delivered
    requests = receiver.snapshot()

    assert len(requests) == 6, [(r.step, r.answered) for r in requests]
    assert {r.event_id for r in requests} == {event_id}
    assert {json.loads(r.body)["id"] for r in requests} == {event_id}
    assert len({r.body for r in requests}) == 1, "every attempt carries the same bytes"
    assert {r.header("Calmesh-Delivery-Id") for r in requests} == {delivery.id}
    assert [r.header("Calmesh-Delivery-Attempt") for r in requests] == ["1", "2", "3", "4", "5", "6"]
    for r in requests:
        verify_signature(r.body, signature(r), hook.secret)
    assert Counter(r.event_id for r in receiver.successes()) == {event_id: 1}
    # Each retry waited for the backoff (at least first_delay minus the jitter).
    gaps = [b.arrived_at - a.arrived_at for a, b in pairwise(requests)]
    assert all(gap >= 0.035 for gap in gaps), gaps

    assert (delivery.status, delivery.attempts, delivery.replay) == ("DELIVERED", 6, False)
    assert [a.status_code for a in delivery.attempt_log] == [*codes, 200]
    assert all(a.error for a in delivery.attempt_log[:5]) and delivery.attempt_log[5].error is None
    assert delivery.attempt_log[0].error == "HTTP 500 Internal Server Error"
    assert (delivery.last_status_code, delivery.last_error, delivery.next_attempt_at) == (200, None, None)
    assert delivery.delivered_at is not None
    times = [a.attempted_at for a in delivery.attempt_log]
    assert times == sorted(times)
    shown = await webhooks.get_webhook(rt, tenant, hook.id)
    assert shown.health == "HEALTHY" and shown.last_success_at is not None and shown.last_failure_at is not None


# --- 3. a receiver that never answers ---------------------------------------------------------


async def test_a_receiver_that_never_answers_does_not_delay_the_others(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime(webhook_timeout_seconds=2)
    tenant = await new_tenant(rt)
    hanging, healthy = receivers(default=HANG), receivers()
    hook_a = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=hanging.url))
    hook_b = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=healthy.url))
    dispatcher = dispatchers(rt)  # the defaults: 32 in flight, 4 per endpoint, 1 s polls
    dispatcher.start()
    await asyncio.sleep(0.1)  # the loop is idle, waiting for a nudge

    announced_at = time.monotonic()
    event_ids = await announce_events(rt, tenant, 20)
    assert await wait_until(lambda: {r.event_id for r in healthy.successes()} == set(event_ids), timeout=10), (
        f"B got {len(healthy.snapshot())} of 20"
    )
    took = time.monotonic() - announced_at
    assert took < 1.5, f"B waited {took:.2f} s behind a receiver that does not answer"
    assert hanging.successes() == [] and hanging.open_requests == dispatcher.per_endpoint == 4
    assert len(hanging.snapshot()) == 4, "no more than per_endpoint requests to one endpoint at a time"

    async def b_recorded() -> bool:
        return all(d.status == "DELIVERED" for d in await deliveries_of(rt, tenant, hook_b.id))

    assert await eventually(b_recorded, timeout=10)

    async def a_timed_out() -> bool:
        return sum(d.attempts for d in await deliveries_of(rt, tenant, hook_a.id)) >= 4

    assert await eventually(a_timed_out, timeout=15)
    await dispatcher.stop()
    assert hanging.max_open <= 4

    a_deliveries = await deliveries_of(rt, tenant, hook_a.id)
    assert len(a_deliveries) == 20 and {d.status for d in a_deliveries} == {"PENDING"}
    tried = [d for d in a_deliveries if d.attempts]
    assert len(tried) >= 4
    for delivery in tried:
        assert delivery.last_status_code is None
        assert delivery.last_error is not None and "no answer" in delivery.last_error, delivery.last_error
        assert delivery.next_attempt_at is not None and delivery.next_attempt_at > datetime.now(UTC), "a retry is scheduled"
        detail = await webhooks.get_delivery(rt, tenant, hook_a.id, delivery.id)
        assert detail.attempt_log[-1].latency_ms >= 1900
    shown = await webhooks.get_webhook(rt, tenant, hook_a.id)
    assert shown.health == "HEALTHY", "not FAILING until a delivery runs out of retries"


async def test_a_backlog_behind_a_receiver_that_never_answers_does_not_starve_the_others(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime(webhook_timeout_seconds=2)
    tenant = await new_tenant(rt)
    hanging, healthy = receivers(default=HANG), receivers()
    await webhooks.create_webhook(rt, tenant, WebhookCreate(url=hanging.url))
    await announce_events(rt, tenant, 150)  # a backlog for A alone (B does not exist yet)
    await webhooks.create_webhook(rt, tenant, WebhookCreate(url=healthy.url))
    dispatcher = dispatchers(rt)
    dispatcher.start()
    assert await wait_until(lambda: hanging.open_requests == 4, timeout=10)

    [event_id] = await announce_events(rt, tenant)
    assert await wait_until(lambda: [r.event_id for r in healthy.successes()] == [event_id], timeout=1.5)


async def test_two_dispatchers_never_send_the_same_delivery_twice(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    """Two processes' dispatchers (two runtimes, two engines) share the outbox through leases."""
    first_rt, second_rt = await make_runtime(), await make_runtime()
    tenant = await new_tenant(first_rt)
    receiver, other = receivers(), receivers()
    hooks = [await webhooks.create_webhook(first_rt, tenant, WebhookCreate(url=r.url)) for r in (receiver, other)]
    event_ids = await announce_events(first_rt, tenant, 30)
    pair = [dispatchers(rt, policy=NEVER_AGAIN, per_endpoint=2) for rt in (first_rt, second_rt)]
    started = [0, 0]
    done = asyncio.Event()

    async def run(index: int) -> None:
        while not done.is_set():
            started[index] += await pair[index].dispatch_once()
            await asyncio.sleep(0.01)

    async def all_delivered() -> bool:
        statuses = [d.status for hook in hooks for d in await deliveries_of(first_rt, tenant, hook.id)]
        return statuses == ["DELIVERED"] * 60

    async def watch() -> bool:
        try:
            return await eventually(all_delivered, timeout=60)
        finally:
            done.set()

    _, _, delivered = await asyncio.gather(run(0), run(1), watch())
    assert delivered
    assert sum(started) == 60 and min(started) > 0, f"claims per dispatcher: {started}"
    for r in (receiver, other):
        assert Counter(x.event_id for x in r.snapshot()) == dict.fromkeys(event_ids, 1)
    for hook in hooks:
        assert {d.attempts for d in await deliveries_of(first_rt, tenant, hook.id)} == {1}


# --- 4. a server killed mid-delivery ----------------------------------------------------------


async def test_a_delivery_cut_off_by_a_killed_server_is_sent_after_restart(
    sqlite_url: str, tmp_path: Path, receivers: ReceiverFactory
) -> None:
    settings = {"allow_private_network": True, "webhook_timeout_seconds": 1}
    receiver = receivers([HANG], default=200)
    rt = build_runtime(make_settings(sqlite_url, tmp_path, **settings))
    try:
        await upgrade(rt.engine)
        tenant = await new_tenant(rt)
        hook = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=receiver.url))
        [event_id] = await announce_events(rt, tenant)
    finally:
        await rt.close()

    env = {key: value for key, value in os.environ.items() if not key.startswith("CALMESH_")}
    env |= {
        "CALMESH_DATABASE_URL": sqlite_url,
        "CALMESH_KEY_FILE": str(tmp_path / "keys" / "master.key"),
        "CALMESH_HOST": "127.0.0.1",
        "CALMESH_PORT": str(free_port()),
        "CALMESH_ALLOW_PRIVATE_NETWORK": "true",
        "CALMESH_WEBHOOK_TIMEOUT_SECONDS": "1",
        "CALMESH_LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []

    def serve(name: str) -> subprocess.Popen[bytes]:
        with open(tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "calmesh", "serve"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
            )
        processes.append(process)
        return process

    def log_of(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]

    try:
        first = serve("first")
        started = await wait_until(lambda: receiver.open_requests == 1 or first.poll() is not None, timeout=60, interval=0.005)
        assert started and first.poll() is None, f"calmesh serve did not send: {log_of('first')}"
        first.send_signal(signal.SIGKILL)  # mid-request: the attempt is never recorded
        first.wait(timeout=10)
        assert receiver.successes() == []

        restarted_at = time.time()
        second = serve("second")
        arrived = await wait_until(lambda: len(receiver.successes()) == 1 or second.poll() is not None, timeout=30, interval=0.05)
        assert arrived and second.poll() is None, f"not delivered after the restart: {log_of('second')}"
        assert receiver.successes()[0].arrived_at - restarted_at < 15
        await asyncio.sleep(0.5)  # the result is recorded
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    cut_off, delivered = receiver.snapshot()
    assert cut_off.answered is None and delivered.answered == 200
    assert cut_off.event_id == delivered.event_id == event_id
    assert cut_off.body == delivered.body
    assert cut_off.header("Calmesh-Delivery-Id") == delivered.header("Calmesh-Delivery-Id")
    assert cut_off.header("Calmesh-Delivery-Attempt") == delivered.header("Calmesh-Delivery-Attempt") == "1"
    # Sent again only when the dead process's lease (2 × 1 s + 5 s) ran out.
    assert delivered.arrived_at - cut_off.arrived_at > 6.5

    rt = build_runtime(make_settings(sqlite_url, tmp_path, **settings))
    try:
        delivery = await only_delivery(rt, tenant, hook.id)
    finally:
        await rt.close()
    assert (delivery.status, delivery.attempts, delivery.event_id) == ("DELIVERED", 1, event_id)
    assert [a.status_code for a in delivery.attempt_log] == [200]


# --- 5. retries used up -----------------------------------------------------------------------


async def test_a_delivery_out_of_retries_fails_and_marks_the_endpoint_failing_until_a_success(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    receiver = receivers(default=500)
    hook = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=receiver.url))
    [first_event] = await announce_events(rt, tenant)
    budget = timedelta(milliseconds=300)
    dispatcher = dispatchers(
        rt,
        policy=RetryPolicy(first_delay=timedelta(milliseconds=50), factor=1.5, max_delay=timedelta(milliseconds=300), budget=budget),
        poll_seconds=0.05,
    )
    dispatcher.start()

    failed = await wait_for_status(rt, tenant, hook.id, "FAILED", timeout=30)
    await asyncio.sleep(0.3)
    assert failed.attempts >= 2 and len(receiver.snapshot()) == failed.attempts, "nothing is sent once FAILED"
    assert {a.status_code for a in failed.attempt_log} == {500}
    assert (failed.next_attempt_at, failed.delivered_at, failed.last_status_code) == (None, None, 500)
    # The last retry is placed at the end of the budget, not earlier.
    assert failed.attempt_log[-1].attempted_at >= failed.created_at + budget
    shown = await webhooks.get_webhook(rt, tenant, hook.id)
    assert shown.health == "FAILING" and shown.failing_since is not None and shown.last_failure_at is not None
    assert shown.model_dump(by_alias=True)["failingSince"] == shown.failing_since
    assert shown.failing_since >= failed.attempt_log[-1].attempted_at - timedelta(seconds=1)

    receiver.set_script([], default=200)
    [second_event] = await announce_events(rt, tenant)

    async def second_delivered() -> bool:
        return [d.status for d in await deliveries_of(rt, tenant, hook.id)] == ["FAILED", "DELIVERED"]

    assert await eventually(second_delivered, timeout=30), await deliveries_of(rt, tenant, hook.id)
    assert [r.event_id for r in receiver.successes()] == [second_event]
    assert first_event not in {r.event_id for r in receiver.successes()}, "a FAILED delivery is not retried"
    shown = await webhooks.get_webhook(rt, tenant, hook.id)
    assert (shown.health, shown.failing_since) == ("HEALTHY", None)
    assert shown.last_success_at is not None


# --- 6. the transactional outbox --------------------------------------------------------------


async def test_an_announcement_rolled_back_is_never_sent(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    receiver = receivers()
    hook = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=receiver.url))
    rt.signals.webhooks_pending.clear()

    async with UnitOfWork(rt) as uow:  # left without a commit
        abandoned = await announce(uow, tenant, EventType.BOOKING_CREATED, {"bookingId": "bkg_1"})
        await uow.session.flush()  # the rows reached the database, inside the transaction
    with pytest.raises(RuntimeError, match="the change failed"):
        async with UnitOfWork(rt) as uow:
            raised = await announce(uow, tenant, EventType.BOOKING_CREATED, {"bookingId": "bkg_2"})
            await uow.session.flush()
            raise RuntimeError("the change failed")

    assert not rt.signals.webhooks_pending.is_set(), "a rollback does not nudge the dispatcher"
    assert await count_rows(rt, models.WebhookEvent) == 0
    assert await count_rows(rt, models.WebhookDelivery) == 0
    for event_id in (abandoned, raised):
        with pytest.raises(NotFound):
            await webhooks.get_event(rt, tenant, event_id)
    dispatcher = dispatchers(rt, policy=NEVER_AGAIN)
    await dispatcher.drain(timeout=10)
    assert receiver.snapshot() == []

    [committed] = await announce_events(rt, tenant, event_type=EventType.BOOKING_CREATED)
    assert rt.signals.webhooks_pending.is_set(), "the commit nudges the dispatcher"
    assert (await count_rows(rt, models.WebhookEvent), await count_rows(rt, models.WebhookDelivery)) == (1, 1)
    await dispatcher.drain(timeout=30)
    assert [r.event_id for r in receiver.successes()] == [committed]
    assert len(receiver.snapshot()) == 1
    assert (await only_delivery(rt, tenant, hook.id)).status == "DELIVERED"


async def test_many_announcements_commit_in_one_transaction(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    """A sync batch announces many changes in one transaction: each event is inserted before its
    deliveries (regression: only the first event used to be, autoflushed by the endpoints query)."""
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    receiver, other = receivers(), receivers()
    for r in (receiver, other):
        await webhooks.create_webhook(rt, tenant, WebhookCreate(url=r.url))
    async with UnitOfWork(rt) as uow:
        ids = [await announce(uow, tenant, EventType.EVENT_CREATED, {"n": n}) for n in range(3)]
        await uow.commit()
    assert (await count_rows(rt, models.WebhookEvent), await count_rows(rt, models.WebhookDelivery)) == (3, 6)
    await dispatchers(rt, policy=NEVER_AGAIN).drain(timeout=30)
    for r in (receiver, other):
        assert sorted(x.event_id or "" for x in r.successes()) == sorted(ids)


# --- 7. who gets what -------------------------------------------------------------------------


async def test_inactive_endpoints_get_nothing_new_and_pending_ones_wait(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    on, off = receivers(), receivers()
    hook_on = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=on.url))
    hook_off = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=off.url, active=False))
    dispatcher = dispatchers(rt, policy=NEVER_AGAIN)

    [first] = await announce_events(rt, tenant)
    await dispatcher.drain(timeout=30)
    assert [r.event_id for r in on.successes()] == [first]
    assert off.snapshot() == [] and await deliveries_of(rt, tenant, hook_off.id) == []

    # Switched off with a delivery pending: it waits, unsent, and goes out once switched on.
    [second] = await announce_events(rt, tenant)
    await webhooks.update_webhook(rt, tenant, hook_on.id, WebhookUpdate(active=False))
    [third] = await announce_events(rt, tenant)
    await dispatcher.drain(timeout=10)
    assert [r.event_id for r in on.snapshot()] == [first]
    waiting = [d for d in await deliveries_of(rt, tenant, hook_on.id) if d.event_id == second]
    assert [(d.status, d.attempts) for d in waiting] == [("PENDING", 0)]
    assert third not in {d.event_id for d in await deliveries_of(rt, tenant, hook_on.id)}, "inactive: nothing new"

    rt.signals.webhooks_pending.clear()
    await webhooks.update_webhook(rt, tenant, hook_on.id, WebhookUpdate(active=True))
    assert rt.signals.webhooks_pending.is_set()
    await dispatcher.drain(timeout=30)
    assert [r.event_id for r in on.successes()] == [first, second]
    assert off.snapshot() == []


async def test_endpoints_get_only_the_event_types_they_subscribe_to(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    everything, bookings = receivers(), receivers()
    await webhooks.create_webhook(rt, tenant, WebhookCreate(url=everything.url))
    hook_bookings = await webhooks.create_webhook(
        rt, tenant, WebhookCreate(url=bookings.url, event_types=["booking.cancelled", "booking.created"])
    )
    assert hook_bookings.event_types == ["booking.created", "booking.cancelled"]
    other_tenant = await new_tenant(rt)

    sent: dict[str, str] = {}
    for event_type in (EventType.EVENT_CREATED, EventType.BOOKING_CREATED, EventType.INTEGRATION_ERROR, EventType.BOOKING_CANCELLED):
        [event_id] = await announce_events(rt, tenant, event_type=event_type)
        sent[event_id] = event_type.value
    await announce_events(rt, other_tenant, event_type=EventType.BOOKING_CREATED)  # another tenant's: not ours
    await dispatchers(rt, policy=NEVER_AGAIN).drain(timeout=30)

    assert {r.event_id: r.header("Calmesh-Event-Type") for r in everything.successes()} == sent
    assert sorted(r.header("Calmesh-Event-Type") or "" for r in bookings.successes()) == ["booking.cancelled", "booking.created"]
    assert len(bookings.snapshot()) == 2 and len(everything.snapshot()) == 4
    assert len(await deliveries_of(rt, tenant, hook_bookings.id)) == 2


async def test_a_redirect_is_a_failure_and_is_not_followed(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    elsewhere = receivers()
    redirecting = receivers(default=("redirect", elsewhere.url))
    hook = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=redirecting.url))
    await announce_events(rt, tenant)
    await dispatchers(rt, policy=NEVER_AGAIN).drain(timeout=30)

    assert [r.answered for r in redirecting.snapshot()] == [302]
    assert elsewhere.snapshot() == [], "the redirect was followed"
    delivery = await only_delivery(rt, tenant, hook.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("PENDING", 1, 302)
    assert delivery.last_error is not None and "302" in delivery.last_error
    assert delivery.next_attempt_at is not None and delivery.delivered_at is None
    assert [(a.status_code, a.error is not None) for a in delivery.attempt_log] == [(302, True)]


# --- 8. replays -------------------------------------------------------------------------------


async def test_a_replay_sends_the_same_event_again_as_a_new_delivery(
    make_runtime: RuntimeFactory, receivers: ReceiverFactory, dispatchers: DispatcherFactory
) -> None:
    rt = await make_runtime()
    tenant = await new_tenant(rt)
    receiver, bookings_only = receivers(), receivers()
    hook = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=receiver.url))
    other = await webhooks.create_webhook(rt, tenant, WebhookCreate(url=bookings_only.url, event_types=["booking.created"]))
    [event_id] = await announce_events(rt, tenant)
    dispatcher = dispatchers(rt, policy=NEVER_AGAIN)
    await dispatcher.drain(timeout=30)
    [original] = receiver.snapshot()
    [first_delivery] = await deliveries_of(rt, tenant, hook.id)

    replayed = await webhooks.replay_event(rt, tenant, event_id, ReplayRequest())
    assert [(d.webhook_id, d.event_id, d.status, d.replay) for d in replayed] == [(hook.id, event_id, "PENDING", True)]
    assert replayed[0].id != first_delivery.id
    await dispatcher.drain(timeout=30)

    again = receiver.snapshot()[1]
    assert again.body == original.body and json.loads(again.body)["id"] == event_id == again.event_id
    assert again.header("Calmesh-Delivery-Id") == replayed[0].id != original.header("Calmesh-Delivery-Id")
    assert again.header("Calmesh-Delivery-Attempt") == "1"
    verify_signature(again.body, signature(again), hook.secret)
    deliveries = await deliveries_of(rt, tenant, hook.id)
    assert [(d.replay, d.status, d.event_id) for d in deliveries] == [(False, "DELIVERED", event_id), (True, "DELIVERED", event_id)]
    assert Counter(r.event_id for r in receiver.successes()) == {event_id: 2}, "a receiver deduplicates on the id"

    # Named explicitly, an endpoint gets the replay even though it does not subscribe to the type.
    assert bookings_only.snapshot() == []
    [to_other] = await webhooks.replay_event(rt, tenant, event_id, ReplayRequest(webhook_ids=[other.id]))
    await dispatcher.drain(timeout=30)
    [received] = bookings_only.snapshot()
    assert received.body == original.body and received.header("Calmesh-Delivery-Id") == to_other.id
    verify_signature(received.body, signature(received), other.secret)
    assert len(receiver.snapshot()) == 2
