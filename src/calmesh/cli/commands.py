"""Registers every command group on :data:`calmesh.cli.app.app`."""

from __future__ import annotations

from calmesh.cli import availability, db, demo, ics, keys, sandbox, server, sync, tenants, webhooks
from calmesh.cli.app import app

app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenants")
app.add_typer(keys.app, name="keys")
app.add_typer(ics.app, name="ics")
app.add_typer(webhooks.app, name="webhooks")
server.register(app)
demo.register(app)
availability.register(app)
sync.register(app)
sandbox.register(app)
