"""Announced events are kept for the retention period, then pruned — never while still pending."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from calmesh.services.announcements import announce
from calmesh.services.runtime import Runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.services.webhook_delivery import WebhookDispatcher
from calmesh.storage import models
from calmesh.webhooks.catalogue import EventType
from tests.mirror_helpers import make_tenant


async def test_old_events_are_pruned_unless_a_delivery_is_still_pending(runtime: Runtime) -> None:
    tenant_id = await make_tenant(runtime)
    async with UnitOfWork(runtime) as uow:
        uow.session.add(models.WebhookEndpoint(id="whk_01", tenant_id=tenant_id, url="http://127.0.0.1:9/", event_types=[], active=True))
        await uow.commit()
    async with UnitOfWork(runtime) as uow:
        old_done = await announce(uow, tenant_id, EventType.INTEGRATION_SYNCED, {"n": 1})
        old_pending = await announce(uow, tenant_id, EventType.INTEGRATION_SYNCED, {"n": 2})
        recent = await announce(uow, tenant_id, EventType.INTEGRATION_SYNCED, {"n": 3})
        await uow.commit()
    long_ago = datetime.now(timezone.utc) - timedelta(days=31)
    async with UnitOfWork(runtime) as uow:
        await uow.session.execute(
            update(models.WebhookEvent).where(models.WebhookEvent.id.in_([old_done, old_pending])).values(created_at=long_ago)
        )
        await uow.session.execute(
            update(models.WebhookDelivery).where(models.WebhookDelivery.event_id == old_done).values(status="DELIVERED")
        )
        await uow.commit()

    dispatcher = WebhookDispatcher(runtime)
    try:
        assert await dispatcher.prune() == 1
    finally:
        await dispatcher.stop()

    async with UnitOfWork(runtime) as uow:
        kept = set((await uow.session.scalars(select(models.WebhookEvent.id))).all())
        deliveries = set((await uow.session.scalars(select(models.WebhookDelivery.event_id))).all())
    assert kept == {old_pending, recent}
    assert old_done not in deliveries  # its delivery log went with it
