"""``calmesh sandbox``: the Google and Zoom emulators, served together in the foreground.

One Starlette app serves both — their paths do not collide (Google: ``/o/oauth2/…``, ``/token``,
``/revoke``, ``/calendar/v3/…``, ``/_sandbox``; Zoom: ``/oauth/…``, ``/v2/…``, ``/_sandbox/zoom``).
Prints where everything runs and the environment lines that point calmesh at it, then serves
until Ctrl-C. Seeded with :func:`calmesh.sandbox.google.seed_demo` and
:func:`calmesh.sandbox.zoom.seed_demo` unless ``--no-seed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from calmesh.cli.output import console

if TYPE_CHECKING:
    from calmesh.sandbox.google import GoogleSandbox
    from calmesh.sandbox.zoom import ZoomSandbox

__all__ = ["register"]


def sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 8765,
    seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Add the demo users, calendars, events and meetings.")] = True,
    client_id: Annotated[str, typer.Option(help="The Google OAuth client id calmesh uses.")] = "calmesh-sandbox",
    client_secret: Annotated[str | None, typer.Option(help="The Google OAuth client secret (default: a new random one).")] = None,
    zoom_client_id: Annotated[str, typer.Option(help="The Zoom OAuth client id calmesh uses.")] = "calmesh-zoom-sandbox",
    zoom_client_secret: Annotated[str | None, typer.Option(help="The Zoom OAuth client secret (default: a new random one).")] = None,
    zoom_webhook_secret_token: Annotated[
        str | None, typer.Option(help="The Zoom app's webhook secret token (default: a new random one).")
    ] = None,
) -> None:
    """Run local emulators of Google (OAuth 2.0, Calendar API v3) and Zoom (OAuth, API v2, webhooks)."""
    # Imported here: every other command starts faster without the web stack.
    import uvicorn
    from starlette.applications import Starlette

    from calmesh.sandbox import google, zoom
    from calmesh.sandbox.serving import bind_socket

    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        typer.echo(f"calmesh: error: cannot listen on {host}:{port} ({exc.strerror}); try another --port", err=True)
        raise typer.Exit(1) from None
    port = int(sock.getsockname()[1])
    # A wildcard address is not somewhere a browser or calmesh can go: links name loopback.
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    url = f"http://{shown}:{port}"

    google_emulator = google.GoogleSandbox(client_id=client_id, client_secret=client_secret)
    zoom_emulator = zoom.ZoomSandbox(
        client_id=zoom_client_id, client_secret=zoom_client_secret, webhook_secret_token=zoom_webhook_secret_token
    )
    google_emulator.base_url = url
    zoom_emulator.base_url = url
    if seed:
        google.seed_demo(google_emulator)
        zoom.seed_demo(zoom_emulator)
    _describe(google_emulator, zoom_emulator, url)
    # Zoom's routes first: Google's app ends with a catch-all (its 404).
    app = Starlette(routes=[*zoom_emulator.routes, *google_emulator.app.routes])
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down cleanly, then re-raised the Ctrl-C it caught
    finally:
        google_emulator.close()
        zoom_emulator.close()
        sock.close()


def _describe(google_emulator: GoogleSandbox, zoom_emulator: ZoomSandbox, url: str) -> None:
    console.print(f"[bold]Google and Zoom sandboxes[/bold] on {url}  (Ctrl-C stops them)", highlight=False)
    google_users = ", ".join(f"{u.email} ({u.name})" if u.name else u.email for u in google_emulator.users)
    zoom_users = ", ".join(f"{u.email} ({u.display_name}, PMI {u.pmi})" for u in zoom_emulator.users)
    sections = {
        "Google": [
            ("consent page", f"{url}/o/oauth2/v2/auth"),
            ("token, revoke", f"{url}/token, {url}/revoke"),
            ("Calendar API", f"{url}/calendar/v3/"),
            ("state, faults", f"{url}/_sandbox"),
            ("users", google_users or "none yet (POST /_sandbox/users)"),
        ],
        "Zoom": [
            ("consent page", f"{url}/oauth/authorize"),
            ("token, revoke", f"{url}/oauth/token, {url}/oauth/revoke"),
            ("Zoom API", f"{url}/v2/"),
            ("state, faults", f"{url}/_sandbox/zoom  (webhooks: POST /_sandbox/zoom/webhooks)"),
            ("users", zoom_users or "none yet (POST /_sandbox/zoom/users)"),
        ],
    }
    for name, rows in sections.items():
        console.print(f"{name}:", highlight=False, markup=False)
        for label, where in rows:
            console.print(f"  {label:<14} {where}", highlight=False, markup=False, soft_wrap=True)
    console.print("\nPoint calmesh at it:", highlight=False)
    for line in (
        f"CALMESH_GOOGLE_CLIENT_ID={google_emulator.client_id}",
        f"CALMESH_GOOGLE_CLIENT_SECRET={google_emulator.client_secret}",
        f"CALMESH_GOOGLE_ACCOUNTS_URL={url}",
        f"CALMESH_GOOGLE_OAUTH_URL={url}",
        f"CALMESH_GOOGLE_API_URL={url}",
        f"CALMESH_ZOOM_CLIENT_ID={zoom_emulator.client_id}",
        f"CALMESH_ZOOM_CLIENT_SECRET={zoom_emulator.client_secret}",
        f"CALMESH_ZOOM_OAUTH_URL={url}",
        f"CALMESH_ZOOM_API_URL={url}",
        f"CALMESH_ZOOM_WEBHOOK_SECRET_TOKEN={zoom_emulator.webhook_secret_token}",
    ):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(sandbox)
