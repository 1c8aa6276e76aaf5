"""``calmesh db``: the database schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from calmesh.cli.runtime import run_with_runtime

if TYPE_CHECKING:
    from calmesh.services.runtime import Runtime

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply every pending migration (SQLite or PostgreSQL)."""
    from calmesh.storage.migrate import current_revision, head_revision
    from calmesh.storage.migrate import upgrade as apply_migrations

    async def body(runtime: Runtime) -> str | None:
        await apply_migrations(runtime.engine)
        return await current_revision(runtime.engine)

    revision = run_with_runtime(body)
    typer.echo(f"database is at revision {revision} (head {head_revision()})")


@app.command()
def current() -> None:
    """Show the revision the database is at."""
    from calmesh.storage.migrate import current_revision

    async def body(runtime: Runtime) -> str | None:
        return await current_revision(runtime.engine)

    typer.echo(run_with_runtime(body) or "empty")
