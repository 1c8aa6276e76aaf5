"""``calmesh demo``: calmesh and its Google sandbox side by side, with an account connected.

Nothing is faked on calmesh's side: the demo starts the emulator (:mod:`calmesh.sandbox.google`)
and calmesh's real server, creates a tenant, asks the API for an auth URL, signs in at the
emulator's consent page as a sandbox user the way a browser would, follows the redirect to
calmesh's OAuth callback, and waits for the embedded worker's first sync. Then it says what it
did and where to look, and keeps both running until Ctrl-C (``--exit`` stops at once).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl, urlsplit

import typer

from calmesh.cli.output import console, print_json

if TYPE_CHECKING:
    import httpx

    from calmesh.config import Settings

__all__ = ["register"]

DEMO_USER = "ada@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo(
    port: Annotated[int, typer.Option(help="calmesh's port (0: any free one).")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="The Google sandbox's port (0: any free one).")] = 8765,
    database_url: Annotated[
        str | None, typer.Option(help="Database for the demo. Default: a fresh SQLite file, demo.db, in calmesh's data directory.")
    ] = None,
    exit_after: Annotated[bool, typer.Option("--exit", help="Stop once the account is connected and synced.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Run calmesh with a sandbox Google account connected through the real OAuth redirect flow."""
    from calmesh.api.app import create_app
    from calmesh.config import default_data_dir, load_settings
    from calmesh.sandbox.google import GoogleSandbox, seed_demo
    from calmesh.sandbox.serving import serve_in_thread

    sandbox = GoogleSandbox()
    seed_demo(sandbox)
    sandbox_server = serve_in_thread(sandbox.app, port=sandbox_port)
    sandbox.base_url = sandbox_server.url
    port = port or _free_port()
    if database_url is None:
        path = default_data_dir() / "demo.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # every demo starts from nothing
        database_url = f"sqlite:///{path}"
    settings = load_settings(
        database_url=database_url,
        host="127.0.0.1",
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        google_client_id=sandbox.client_id,
        google_client_secret=sandbox.client_secret,
        google_accounts_url=sandbox_server.url,
        google_oauth_url=sandbox_server.url,
        google_api_url=sandbox_server.url,
        scheduler_tick_seconds=2.0,
    )
    calmesh_server = serve_in_thread(create_app(settings), port=port)
    try:
        with console.status("connecting a sandbox Google account…"):
            done = asyncio.run(_connect_and_sync(settings, calmesh_server.url))
        done["sandbox"] = sandbox_server.url
        if json_output:
            print_json(done)
        else:
            _describe(done)
        if not exit_after:
            console.print("\n[dim]Both keep running; Ctrl-C stops them.[/dim]")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        calmesh_server.stop()
        sandbox_server.stop()


async def _connect_and_sync(settings: Settings, calmesh_url: str) -> dict[str, Any]:
    # Imported here: every other command starts faster without them.
    import httpx

    from calmesh.services.runtime import build_runtime
    from calmesh.services.tenants import create_tenant

    runtime = build_runtime(settings)
    try:
        created = await create_tenant(runtime, "demo")
    finally:
        await runtime.close()
    key = created.api_key.key
    async with httpx.AsyncClient(base_url=calmesh_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        started = (_ok(await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "loginHint": DEMO_USER}))).json()
        async with httpx.AsyncClient(timeout=30) as browser:
            # The user's browser: the consent page, "Allow" as Ada, then the redirect to calmesh.
            _ok(await browser.get(started["url"]))
            authorize = urlsplit(started["url"])
            consent_url = f"{authorize.scheme}://{authorize.netloc}{authorize.path}/consent"
            form = dict(parse_qsl(authorize.query)) | {"user": DEMO_USER, "decision": "allow"}
            redirect = await browser.post(consent_url, data=form)
            if redirect.status_code != 302:
                raise RuntimeError(f"the sandbox's consent page answered {redirect.status_code}")
            _ok(await browser.get(redirect.headers["location"]))
        integrations = (_ok(await api.get("/v1/integrations"))).json()["data"]
        if not integrations:
            raise RuntimeError("the OAuth callback did not connect the account")
        integration = integrations[0]
        status: dict[str, Any] = {}
        for _ in range(300):  # the embedded worker syncs at once; give it a minute at most
            status = (_ok(await api.get(f"/v1/integrations/{integration['id']}/sync-status"))).json()
            if status["lastSyncAt"] and status["state"] != "SYNCING":
                break
            await asyncio.sleep(0.2)
        events = (_ok(await api.get("/v1/events", params={"limit": 200}))).json()["data"]
    return {
        "calmesh": calmesh_url,
        "apiDocs": f"{calmesh_url}/docs",
        "apiKey": key,
        "tenantId": created.tenant.id,
        "integration": {"id": integration["id"], "account": integration["accountEmail"], "status": status.get("state")},
        "calendars": [{"name": c["name"], "events": c["itemCount"], "pushUntil": c["pushExpiresAt"]} for c in status.get("calendars", [])],
        "events": len(events),
        "lastError": status.get("lastError"),
    }


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url.path} answered {response.status_code}: {response.text[:300]}")
    return response


def _describe(done: dict[str, Any]) -> None:
    integration = done["integration"]
    console.print("Asked calmesh for an auth URL, consented at the sandbox's Google sign-in page, followed the redirect to calmesh's OAuth callback.")
    console.print(f"[bold green]Connected[/bold green] the sandbox Google account {integration['account']} → integration {integration['id']} ({integration['status']})")
    for calendar in done["calendars"]:
        push = f"push notifications until {calendar['pushUntil']}" if calendar["pushUntil"] else "polled"
        console.print(f"  • {calendar['name']}: {calendar['events']} series synced, {push}")
    if done["lastError"]:
        console.print(f"[red]Last sync error:[/red] {done['lastError']}")
    console.print(f"\ncalmesh      {done['calmesh']}   (API docs: {done['apiDocs']})")
    console.print(f"sandbox      {done['sandbox']}   (state: {done['sandbox']}/_sandbox)")
    console.print(f"API key      {done['apiKey']}   (the demo tenant's; shown once)")
    console.print("\nTry:")
    console.print(f"  curl -H 'Authorization: Bearer {done['apiKey']}' {done['calmesh']}/v1/events")
    console.print(f"  curl -H 'Authorization: Bearer {done['apiKey']}' {done['calmesh']}/v1/integrations/{integration['id']}/sync-status")
    console.print("[dim]No bookings were made; the dashboard arrives with its own issue.[/dim]")


def register(app: typer.Typer) -> None:
    app.command()(demo)

