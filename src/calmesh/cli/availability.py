"""``calmesh availability`` and ``calmesh slots``: the availability API's answers, for operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from calmesh.cli.output import print_json, print_table
from calmesh.cli.runtime import run_with_runtime

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from calmesh.domain.intervals import Interval
    from calmesh.services.runtime import Runtime

__all__ = ["register"]

StartOption = Annotated[str, typer.Option("--start", help="ISO date or date-time (naive ones in --tz).")]
EndOption = Annotated[str, typer.Option("--end", help="ISO date (inclusive) or date-time (exclusive).")]
ZoneOption = Annotated[str, typer.Option("--tz", help="IANA zone for input and output.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _zone_and_window(start: str, end: str, tz: str) -> tuple[ZoneInfo, Interval]:
    from calmesh.services import availability as service

    zone = service.resolve_zone(tz)
    return zone, service.parse_window(start, end, zone)


def _times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "start": row["start"].isoformat(), "end": row["end"].isoformat()} for row in rows]


def availability(
    calendars: Annotated[list[str], typer.Option("--calendar", help="A calendar id; repeat for more.")],
    start: StartOption,
    end: EndOption,
    tz: ZoneOption = "UTC",
    json: JsonOption = False,
) -> None:
    """Busy and free time across calendars, from the local mirror."""
    from calmesh.services import availability as service

    zone, window = _zone_and_window(start, end, tz)

    async def body(runtime: Runtime) -> service.FreeBusyRead:
        tenant_id = await service.tenant_owning(runtime, calendar_ids=calendars)
        return await service.free_busy(runtime, tenant_id, user_ids=[], calendar_ids=calendars, window=window, zone=zone)

    answer = run_with_runtime(body)
    if json:
        print_json(answer.model_dump(mode="json", by_alias=True))
        return
    rows = [{"kind": "busy", **span.model_dump()} for span in answer.busy]
    rows += [{"kind": "free", **span.model_dump()} for span in answer.free]
    rows += [{"kind": "unknown", **span.model_dump()} for span in answer.unknown]
    rows.sort(key=lambda row: row["start"])
    print_table(_times(rows), ["kind", "start", "end"], title=f"availability ({answer.time_zone})")


def slots(
    event_type: Annotated[str, typer.Argument(help="The event type's id.")],
    start: StartOption,
    end: EndOption,
    tz: ZoneOption = "UTC",
    json: JsonOption = False,
) -> None:
    """Bookable slots of an event type."""
    from calmesh.services import availability as service

    zone, window = _zone_and_window(start, end, tz)

    async def body(runtime: Runtime) -> service.SlotsRead:
        tenant_id = await service.tenant_owning(runtime, event_type_id=event_type)
        return await service.slots(runtime, tenant_id, event_type, window, zone)

    answer = run_with_runtime(body)
    if json:
        print_json(answer.model_dump(mode="json", by_alias=True))
        return
    rows = [{**slot.model_dump(), "hosts": ", ".join(slot.host_ids)} for slot in answer.slots]
    print_table(_times(rows), ["start", "end", "hosts"], title=f"{len(rows)} slots ({answer.time_zone})")


def register(app: typer.Typer) -> None:
    app.command()(availability)
    app.command()(slots)
