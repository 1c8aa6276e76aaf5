"""``calmesh keys``: the key-encryption keys of the credential vault."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from typing import TYPE_CHECKING

from calmesh.cli.output import console
from calmesh.cli.runtime import run_with_runtime

if TYPE_CHECKING:
    from calmesh.services.key_rotation import RotationReport
    from calmesh.services.runtime import Runtime

app = typer.Typer(help="Manage the vault's key-encryption keys.", no_args_is_help=True)


@app.command()
def rotate() -> None:
    """Re-wrap every stored credential under a new key; servers keep serving meanwhile.

    With the key file (the default) a new key is generated and the old one forgotten once
    nothing uses it. With CALMESH_MASTER_KEY, set the new key there and the old one in
    CALMESH_PREVIOUS_MASTER_KEYS first; afterwards the previous key can be removed.
    """
    from calmesh.services.key_rotation import rotate_keys

    with Progress(TextColumn("re-wrapping credentials"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        task = bar.add_task("rotate", total=None)

        async def body(runtime: Runtime) -> RotationReport:
            return await rotate_keys(runtime, on_progress=lambda done, total: bar.update(task, completed=done, total=total))

        report = run_with_runtime(body)
    console.print(f"current key: {report.new_key_id}; credentials re-wrapped: {report.rewrapped}")
    if report.retired_key_ids:
        console.print(f"no longer used: {', '.join(report.retired_key_ids)}")
