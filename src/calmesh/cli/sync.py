"""``calmesh connect``, ``calmesh sync`` and ``calmesh status``: connections for operators."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from calmesh.cli.output import console, print_json, print_table
from calmesh.cli.runtime import run_with_runtime

if TYPE_CHECKING:
    from calmesh.services.integrations import IntegrationCreate
    from calmesh.services.runtime import Runtime
    from calmesh.services.sync import SyncReport

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant name or id (default: the only tenant, created if none).")
]

connect_app = typer.Typer(help="Connect a calendar account.", no_args_is_help=True)


def _connect(data: IntegrationCreate, tenant: str | None, json: bool) -> None:
    from calmesh.services import integrations, tenants

    async def body(runtime: Runtime) -> integrations.IntegrationRead:
        tenant_id = await tenants.resolve_tenant(runtime, tenant)
        return await integrations.connect(runtime, tenant_id, data)

    with console.status("checking the account with the provider…"):
        created = run_with_runtime(body)
    if json:
        print_json(created.model_dump(mode="json", by_alias=True))
        return
    console.print(f"connected [bold]{created.provider}[/] as {created.id}; run [bold]calmesh sync {created.id}[/] to sync now")


@connect_app.command("caldav")
def connect_caldav(
    url: Annotated[str | None, typer.Argument(help="The CalDAV server URL (not needed with --preset icloud/fastmail).")] = None,
    username: Annotated[str, typer.Option("--username", "-u", help="Account name.")] = "",
    password_env: Annotated[
        str, typer.Option("--password-env", help="Read the password from this environment variable instead of a prompt.")
    ] = "CALMESH_CALDAV_PASSWORD",
    preset: Annotated[str | None, typer.Option("--preset", help="icloud, fastmail or nextcloud.")] = None,
    tenant: TenantOption = None,
    json: JsonOption = False,
) -> None:
    """Connect a CalDAV account (iCloud needs an app-specific password)."""
    from calmesh.errors import InvalidInput
    from calmesh.services.integrations import IntegrationCreate

    password = os.environ.get(password_env) or typer.prompt("password", hide_input=True)
    try:
        data = IntegrationCreate(provider="CALDAV", server_url=url, username=username, password=password, preset=preset)
    except ValueError as exc:
        raise InvalidInput(_first_error(exc)) from None
    _connect(data, tenant, json)


@connect_app.command("ics")
def connect_ics(
    url: Annotated[str, typer.Argument(help="The feed's address (https:// or webcal://).")],
    tenant: TenantOption = None,
    json: JsonOption = False,
) -> None:
    """Subscribe to a read-only ICS feed."""
    from calmesh.services.integrations import IntegrationCreate

    _connect(IntegrationCreate(provider="ICS", url=url), tenant, json)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", exc)).removeprefix("Value error, ")
    return str(exc)


def sync(
    integration_id: Annotated[str | None, typer.Argument(help="One integration (default: every one).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Forget the cursors and list everything again.")] = False,
    json: JsonOption = False,
) -> None:
    """Sync now, with a progress bar per calendar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from calmesh.errors import CalmeshError
    from calmesh.services import integrations
    from calmesh.services.sync import sync_connection

    reports: list[SyncReport] = []
    failures: list[tuple[str, str]] = []

    async def body(runtime: Runtime) -> None:
        ids = [integration_id] if integration_id else [row.id for row in await integrations.overview(runtime)]
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, disable=json, transient=False,
        ) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(calendar: str, done: int, total: int) -> None:
                if calendar not in tasks:
                    tasks[calendar] = progress.add_task(calendar, total=total)
                progress.update(tasks[calendar], completed=done, total=max(total, 1))

            for connection_id in ids:
                try:
                    reports.append(await sync_connection(runtime, connection_id, full=full, progress=advance))
                except CalmeshError as error:
                    failures.append((connection_id, error.message))

    run_with_runtime(body)
    rows = [
        {
            "integration": report.connection_id,
            "calendar": calendar.name,
            "pulled": calendar.pulled,
            "pushed": calendar.pushed,
            "deleted here": calendar.deleted_locally,
            "deleted there": calendar.deleted_remotely,
            "conflicts": calendar.conflicts,
            "problems": len(calendar.problems),
            "error": calendar.error,
            "seconds": round(calendar.fetch_seconds + calendar.store_seconds, 2),
        }
        for report in reports
        for calendar in report.calendars
    ]
    if json:
        print_json({"calendars": rows, "failures": [{"integration": i, "error": e} for i, e in failures]})
    else:
        print_table(rows, list(rows[0]) if rows else ["integration"], title="sync")
        for connection_id, message in failures:
            console.print(f"[red]{connection_id}: {message}[/]")
    if failures:
        raise typer.Exit(1)


def status(json: JsonOption = False) -> None:
    """Every connection's sync state."""
    from calmesh.services import integrations

    rows = [row.model_dump(mode="json") for row in run_with_runtime(integrations.overview)]
    if json:
        print_json(rows)
        return
    columns = ["id", "tenant_id", "provider", "account", "state", "last_sync_at", "next_sync_at", "last_error"]
    print_table(rows, columns, title="integrations")


def register(app: typer.Typer) -> None:
    app.add_typer(connect_app, name="connect")
    app.command()(sync)
    app.command()(status)
