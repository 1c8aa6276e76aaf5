"""``calmesh webhooks``: every tenant's webhook endpoints, and replays, for operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from calmesh.cli.output import console, print_json, print_table
from calmesh.cli.runtime import run_with_runtime

if TYPE_CHECKING:
    from calmesh.services.runtime import Runtime
    from calmesh.services.webhooks import DeliveryRead

__all__ = ["app"]

app = typer.Typer(help="Webhook endpoints and deliveries.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("list")
def list_endpoints(json: JsonOption = False) -> None:
    """Every endpoint: health (FAILING once a delivery ran out of retries), pending and failed deliveries."""
    from calmesh.services import webhooks

    rows = [row.model_dump(mode="json") for row in run_with_runtime(webhooks.overview)]
    if json:
        print_json(rows)
        return
    print_table(rows, ["id", "tenant_id", "url", "active", "health", "pending", "failed", "last_success_at"], title="webhooks")


@app.command()
def replay(
    event_id: Annotated[str, typer.Argument(help="The event's id (wev_…), from GET /v1/webhook-events.")],
    webhook: Annotated[list[str] | None, typer.Option("--webhook", help="Send to this endpoint only (repeatable).")] = None,
    json: JsonOption = False,
) -> None:
    """Send an announced event again (a running `calmesh serve` delivers it)."""
    from calmesh.services import webhooks

    async def body(runtime: Runtime) -> list[DeliveryRead]:
        return await webhooks.replay_any_event(runtime, event_id, webhook or None)

    deliveries = run_with_runtime(body)
    if json:
        print_json([d.model_dump(mode="json", by_alias=True) for d in deliveries])
        return
    for delivery in deliveries:
        console.print(f"queued {delivery.id} of {delivery.event_type} for {delivery.webhook_id}")
