"""``calmesh serve``: the API (and, as later issues add them, the dashboard and embedded worker)."""

from __future__ import annotations

from typing import Annotated

import typer

from calmesh.config import load_settings

__all__ = ["register"]


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [CALMESH_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [CALMESH_PORT].")] = None,
) -> None:
    """Run calmesh: the API on SQLite by default, migrations applied on start."""
    # Imported here: every other command starts faster without the web stack.
    import uvicorn

    from calmesh.api.app import create_app
    from calmesh.logs import configure_logging

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = load_settings(**overrides)
    configure_logging(settings.log_level)
    typer.echo(
        f"calmesh on http://{settings.host}:{settings.port}  (API docs: /docs, database: "
        f"{settings.resolved_database_url.split('://', 1)[0]})",
        err=True,
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


def register(app: typer.Typer) -> None:
    app.command()(serve)
