"""The ``calmesh`` command line: run the server, manage tenants and keys, inspect iCalendar files.

Every command prints a table (or plain lines) for people and JSON with ``--json`` for scripts.
Errors become one line on stderr and a non-zero exit in one place, :func:`main`.
"""

from __future__ import annotations

import sys

import typer

from calmesh.cli.app import app
from calmesh.errors import CalmeshError, InvalidInput

__all__ = ["app", "main"]

#: Exit codes: 1 for a refused operation, 2 for bad input (as for a usage error).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def main() -> None:
    """Entry point of the ``calmesh`` console script.

    Click's standalone mode prints usage errors and exits 2 by itself; calmesh's own errors
    are caught here and become one line on stderr.
    """
    try:
        app()
    except CalmeshError as exc:
        typer.echo(f"calmesh: error: {exc.message}", err=True)
        sys.exit(EXIT_BAD_INPUT if isinstance(exc, InvalidInput) else EXIT_FAILED)
