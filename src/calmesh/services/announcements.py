"""The transactional outbox: announcing what happened in the transaction that made it happen.

:func:`announce` adds a ``webhook_events`` row, and a pending delivery for each active endpoint
of the tenant subscribed to its type, to the caller's unit of work. Nothing is sent here: the
rows commit with the change (so nothing is announced that did not happen, and nothing that
happened goes unannounced), and the commit nudges the dispatcher
(:mod:`calmesh.services.webhook_delivery`), which sends them. Does not commit.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from calmesh.ids import new_id
from calmesh.services.unit_of_work import ANNOUNCED, UnitOfWork
from calmesh.storage import models
from calmesh.webhooks.catalogue import EventType

__all__ = ["announce", "as_data"]

#: Session-info key caching the tenant's active endpoints for the rest of the transaction:
#: a sync batch announces hundreds of changes and should ask once.
_ENDPOINTS = "calmesh.webhook_endpoints"


def as_data(model: BaseModel) -> dict[str, Any]:
    """A response model as an event's ``data`` (camelCase JSON, as the API shows it)."""
    return model.model_dump(mode="json", by_alias=True)


async def _subscribers(uow: UnitOfWork, tenant_id: str) -> list[tuple[str, frozenset[str]]]:
    cache: dict[str, list[tuple[str, frozenset[str]]]] = uow.session.info.setdefault(_ENDPOINTS, {})
    if tenant_id not in cache:
        rows = await uow.session.execute(
            select(models.WebhookEndpoint.id, models.WebhookEndpoint.event_types).where(
                models.WebhookEndpoint.tenant_id == tenant_id, models.WebhookEndpoint.active.is_(True)
            )
        )
        cache[tenant_id] = [(endpoint_id, frozenset(types or ())) for endpoint_id, types in rows.all()]
    return cache[tenant_id]


async def announce(uow: UnitOfWork, tenant_id: str, event_type: EventType, data: dict[str, Any]) -> str:
    """Record ``event_type`` with ``data`` for the tenant's webhooks; returns the event id."""
    now = datetime.now(timezone.utc)
    event = models.WebhookEvent(id=new_id("wev"), tenant_id=tenant_id, type=event_type.value, data=data, created_at=now)
    uow.session.add(event)
    for endpoint_id, types in await _subscribers(uow, tenant_id):
        if not types or event_type.value in types:
            uow.session.add(
                models.WebhookDelivery(
                    id=new_id("wdl"), tenant_id=tenant_id, endpoint_id=endpoint_id, event_id=event.id, event=event,
                    status="PENDING", attempts=0, next_attempt_at=now, created_at=now,
                )
            )
    uow.session.info[ANNOUNCED] = True
    return event.id
