"""Printing results: a Rich table for people, JSON for scripts (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["console", "print_json", "print_table"]

console = Console()
error_console = Console(stderr=True)


def print_json(value: Any) -> None:
    """Write ``value`` as JSON on stdout (datetimes and other objects as strings)."""
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, title: str | None = None) -> None:
    """Show ``rows`` as a table with the given columns, in that order."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)
