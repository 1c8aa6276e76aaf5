"""The Typer application and its command groups (each group lives in its own module)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="calmesh",
    help="Self-hostable calendar and conferencing integration service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Imported here so that each command module can import `app` without a cycle.
    from calmesh.cli import commands  # noqa: F401


_register()
