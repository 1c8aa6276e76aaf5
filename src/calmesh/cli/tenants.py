"""``calmesh tenants``: create tenants (printing their first API key once) and list them."""

from __future__ import annotations

from typing import Annotated

import typer

from calmesh.cli.output import console, print_json, print_table
from calmesh.cli.runtime import run_with_runtime

app = typer.Typer(help="Manage tenants.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command()
def create(name: Annotated[str, typer.Argument(help="A unique name.")], json: JsonOption = False) -> None:
    """Create a tenant and print its API key. The key is shown this once: store it now."""
    from calmesh.services import tenants

    created = run_with_runtime(lambda runtime: tenants.create_tenant(runtime, name))
    if json:
        print_json(created.model_dump(mode="json", by_alias=True))
        return
    console.print(f"tenant [bold]{created.tenant.name}[/] created: {created.tenant.id}")
    console.print("API key (shown once, store it now):")
    typer.echo(created.api_key.key)


@app.command("list")
def list_(json: JsonOption = False) -> None:
    """List tenants."""
    from calmesh.services import tenants

    rows = run_with_runtime(tenants.list_tenants)
    if json:
        print_json([row.model_dump(mode="json", by_alias=True) for row in rows])
        return
    print_table([row.model_dump() for row in rows], ["id", "name", "created_at"], title="tenants")
