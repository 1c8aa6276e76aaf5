"""``calmesh ics``: check, expand and compute busy time from iCalendar files."""

from __future__ import annotations

import typer

app = typer.Typer(help="Check iCalendar files, expand their recurrences, compute busy time.", no_args_is_help=True)
