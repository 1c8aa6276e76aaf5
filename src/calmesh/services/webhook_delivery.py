"""Sending the outbox: claim due deliveries, sign and POST them, record what happened.

:class:`WebhookDispatcher` runs inside ``calmesh serve`` (and any worker process): it wakes when
a transaction announced something, or every ``poll_seconds`` for retries and for events
committed by other processes. Deliveries are claimed with a lease (a conditional UPDATE, so two
processes never send the same delivery at once; a process killed mid-delivery leaves a lease
that runs out, and the delivery is sent again: at-least-once). At most ``concurrency`` requests
are in flight, and at most ``per_endpoint`` of them to one endpoint, so a receiver that never
answers holds a few slots for its timeout and never delays the others. Results are recorded in
batches, one transaction for many attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, exists, or_, select, update

from calmesh.auth.vault import SealedSecret, SecretContext
from calmesh.ids import new_id
from calmesh.services.runtime import Runtime, run_rounds
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.webhooks.sending import Attempt, RetryPolicy, WebhookSender
from calmesh.webhooks.signing import SIGNATURE_HEADER, sign

__all__ = ["WebhookDispatcher", "delivery_body", "open_secrets"]

log = logging.getLogger(__name__)

UTC = timezone.utc
#: How often the dispatcher deletes events past their retention.
PRUNE_EVERY = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


def delivery_body(event: models.WebhookEvent) -> bytes:
    """What a receiver gets: the same bytes for every attempt and replay of the event."""
    document = {
        "id": event.id,
        "type": event.type,
        "createdAt": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "tenantId": event.tenant_id,
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def open_secrets(runtime: Runtime, rows: list[models.WebhookSecret], now: datetime) -> list[str]:
    """The active secrets of an endpoint, newest first, unsealed."""
    active = [r for r in rows if r.expires_at is None or r.expires_at > now]
    active.sort(key=lambda r: r.created_at, reverse=True)
    return [
        runtime.vault.open(SealedSecret(r.kek_id, r.wrapped_key, r.nonce, r.ciphertext), SecretContext(r.tenant_id, r.endpoint_id)).decode()
        for r in active
    ]


@dataclass(frozen=True, slots=True)
class _Claimed:
    delivery_id: str
    endpoint_id: str
    url: str
    body: bytes
    event_id: str
    event_type: str
    attempt_number: int
    secrets: tuple[str, ...]


class WebhookDispatcher:
    def __init__(
        self,
        runtime: Runtime,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = 32,
        per_endpoint: int = 4,
        poll_seconds: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.policy = policy or RetryPolicy(first_delay=timedelta(seconds=runtime.settings.webhook_first_retry_seconds))
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint
        self.poll_seconds = poll_seconds
        timeout = runtime.settings.webhook_timeout_seconds
        #: A claim outlives the request it covers, so only a dead sender's claim runs out.
        self.lease = timedelta(seconds=2 * timeout + 5)
        self.owner = uuid.uuid4().hex
        self._sender = WebhookSender(timeout_seconds=timeout, allow_private_network=runtime.settings.allow_private_network)
        self._in_flight: Counter[str] = Counter()
        self._sending: set[asyncio.Task[None]] = set()
        self._results: list[tuple[_Claimed, Attempt]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._pruned_at: datetime | None = None

    # --- running -------------------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="calmesh-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._record()  # what was answered is logged
            await self._release_claims()  # the rest goes out again at once, not when the claims run out
        await self._sender.aclose()

    async def _release_claims(self) -> None:
        async with UnitOfWork(self.runtime) as uow:
            await uow.session.execute(
                update(models.WebhookDelivery)
                .where(models.WebhookDelivery.lease_owner == self.owner, models.WebhookDelivery.status == "PENDING")
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            await uow.commit()

    async def _loop(self) -> None:
        await run_rounds(self.runtime.signals.webhooks_pending, self.poll_seconds, self.dispatch_once, "webhook dispatch round")

    async def dispatch_once(self) -> int:
        """Record finished attempts, then start sending what is due. Returns how many started."""
        await self._record()
        if self._pruned_at is None or _now() - self._pruned_at > PRUNE_EVERY:
            await self.prune()
        claimed = await self._claim()
        for item in claimed:
            self._in_flight[item.endpoint_id] += 1
            task = asyncio.create_task(self._send(item), name=f"webhook-{item.delivery_id}")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return len(claimed)

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Send until nothing is due or in flight (tests and benchmarks; retries not yet due wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = await self.dispatch_once()
            if self._sending:
                await asyncio.wait(set(self._sending), timeout=max(0.0, deadline - time.monotonic()))
            elif not started and not self._results:
                return
        raise TimeoutError("webhook deliveries still due after the drain timeout")

    async def prune(self) -> int:
        """Delete events older than the retention with nothing still pending (their deliveries and
        attempts go with them). Returns how many went."""
        self._pruned_at = now = _now()
        cutoff = now - timedelta(days=self.runtime.settings.webhook_event_retention_days)
        pending = exists().where(
            models.WebhookDelivery.event_id == models.WebhookEvent.id, models.WebhookDelivery.status == "PENDING"
        )
        async with UnitOfWork(self.runtime) as uow:
            result = await uow.session.execute(
                delete(models.WebhookEvent)
                .where(models.WebhookEvent.created_at < cutoff, ~pending)
                .execution_options(synchronize_session=False)
            )
            await uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- claiming ------------------------------------------------------------------------

    async def _claim(self) -> list[_Claimed]:
        free = self.concurrency - sum(self._in_flight.values())
        if free <= 0:
            return []
        now = _now()
        unclaimed = (
            models.WebhookDelivery.status == "PENDING",
            or_(models.WebhookDelivery.lease_until.is_(None), models.WebhookDelivery.lease_until < now),
        )
        due = (*unclaimed, models.WebhookDelivery.next_attempt_at <= now)
        async with UnitOfWork(self.runtime) as uow:
            # Endpoints already at their share are left out of the query, so one endpoint's
            # backlog can fill the candidate list for one round at most and never starves the others.
            saturated = [endpoint_id for endpoint_id, count in self._in_flight.items() if count >= self.per_endpoint]
            query = (
                select(models.WebhookDelivery.id, models.WebhookDelivery.endpoint_id)
                .join(models.WebhookEndpoint, models.WebhookEndpoint.id == models.WebhookDelivery.endpoint_id)
                .where(*due, models.WebhookEndpoint.active.is_(True))
            )
            if saturated:
                query = query.where(models.WebhookDelivery.endpoint_id.not_in(saturated))
            candidates = (
                await uow.session.execute(query.order_by(models.WebhookDelivery.next_attempt_at).limit(free * 4))
            ).all()
            if not candidates:
                return []
            taken, chosen = Counter(self._in_flight), list[str]()
            for delivery_id, endpoint_id in candidates:
                if len(chosen) < free and taken[endpoint_id] < self.per_endpoint:
                    taken[endpoint_id] += 1
                    chosen.append(delivery_id)
            if not chosen:
                return []
            await uow.session.execute(
                update(models.WebhookDelivery)
                # Not the due-time condition: it would lead SQLite to scan the due index instead
                # of finding the chosen rows by primary key; status and lease keep the claim safe.
                .where(models.WebhookDelivery.id.in_(chosen), *unclaimed)
                .values(lease_owner=self.owner, lease_until=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            await uow.commit()
            rows = (
                await uow.session.execute(
                    select(models.WebhookDelivery, models.WebhookEvent, models.WebhookEndpoint)
                    .join(models.WebhookEvent, models.WebhookEvent.id == models.WebhookDelivery.event_id)
                    .join(models.WebhookEndpoint, models.WebhookEndpoint.id == models.WebhookDelivery.endpoint_id)
                    .where(models.WebhookDelivery.id.in_(chosen), models.WebhookDelivery.lease_owner == self.owner)
                )
            ).all()
            endpoint_ids = {endpoint.id for _, _, endpoint in rows}
            secret_rows = (
                await uow.session.scalars(select(models.WebhookSecret).where(models.WebhookSecret.endpoint_id.in_(endpoint_ids)))
            ).all()
            # Read inside the unit of work: leaving it rolls back, which expires and detaches the rows.
            by_endpoint: dict[str, list[models.WebhookSecret]] = {}
            for secret in secret_rows:
                by_endpoint.setdefault(secret.endpoint_id, []).append(secret)
            secrets = {endpoint_id: tuple(open_secrets(self.runtime, by_endpoint.get(endpoint_id, []), now)) for endpoint_id in endpoint_ids}
            return [
                _Claimed(
                    delivery.id, endpoint.id, endpoint.url, delivery_body(event), event.id, event.type,
                    delivery.attempts + 1, secrets[endpoint.id],
                )
                for delivery, event, endpoint in rows
            ]

    # --- sending and recording -----------------------------------------------------------

    async def _send(self, item: _Claimed) -> None:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Calmesh-Event-Id": item.event_id,
            "Calmesh-Event-Type": item.event_type,
            "Calmesh-Delivery-Id": item.delivery_id,
            "Calmesh-Delivery-Attempt": str(item.attempt_number),
            SIGNATURE_HEADER: sign(item.body, item.secrets, timestamp),
        }
        try:
            attempt = await self._sender.post(item.url, item.body, headers)
            self._results.append((item, attempt))
        finally:
            self._in_flight[item.endpoint_id] -= 1
            if self._in_flight[item.endpoint_id] <= 0:
                del self._in_flight[item.endpoint_id]
            self.runtime.signals.webhooks_pending.set()  # a slot is free, a result is waiting

    async def _record(self) -> None:
        if not self._results:
            return
        results, self._results = self._results, []
        now = _now()
        try:
            async with UnitOfWork(self.runtime) as uow:
                deliveries = {
                    d.id: d
                    for d in (
                        await uow.session.scalars(
                            select(models.WebhookDelivery).where(models.WebhookDelivery.id.in_([item.delivery_id for item, _ in results]))
                        )
                    ).all()
                }
                endpoints = {
                    e.id: e
                    for e in (
                        await uow.session.scalars(
                            select(models.WebhookEndpoint).where(models.WebhookEndpoint.id.in_({item.endpoint_id for item, _ in results}))
                        )
                    ).all()
                }
                for item, attempt in results:
                    delivery = deliveries.get(item.delivery_id)
                    if delivery is None:
                        continue  # the endpoint was deleted meanwhile
                    self._apply(uow, delivery, endpoints.get(item.endpoint_id), attempt, now)
                await uow.commit()
        except BaseException:
            self._results[:0] = results  # try again next round; the leases still hold them
            raise

    def _apply(
        self, uow: UnitOfWork, delivery: models.WebhookDelivery, endpoint: models.WebhookEndpoint | None, attempt: Attempt, now: datetime
    ) -> None:
        uow.session.add(
            models.WebhookAttempt(
                id=new_id("wat"), tenant_id=delivery.tenant_id, delivery_id=delivery.id, attempted_at=now,
                status_code=attempt.status_code, latency_ms=attempt.latency_ms, error=attempt.error,
            )
        )
        delivery.attempts += 1
        if delivery.lease_owner == self.owner:  # else another sender took over an expired claim
            delivery.lease_owner = delivery.lease_until = None
        if endpoint is not None:
            if attempt.succeeded:
                endpoint.health, endpoint.failing_since, endpoint.last_success_at = "HEALTHY", None, now
            else:
                endpoint.last_failure_at = now
        if delivery.status != "PENDING":
            return  # settled meanwhile by that other sender: the log keeps this attempt
        delivery.last_status_code, delivery.last_latency_ms, delivery.last_error = attempt.status_code, attempt.latency_ms, attempt.error
        if attempt.succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = "DELIVERED", now, None
            return
        retry_at = self.policy.next_attempt(delivery.created_at, delivery.attempts, now)
        if retry_at is not None:
            delivery.next_attempt_at = retry_at
            return
        delivery.status, delivery.next_attempt_at = "FAILED", None
        if endpoint is not None and endpoint.health != "FAILING":
            endpoint.health, endpoint.failing_since = "FAILING", now
            log.warning("webhook endpoint failing", extra={"endpoint_id": endpoint.id, "delivery_id": delivery.id})
