"""Zoom's OAuth app registration: :func:`zoom_app` and the scopes calmesh asks for."""

from __future__ import annotations

from calmesh.auth.oauth import OAuthApp

__all__ = ["ZOOM_SCOPES", "zoom_app"]

#: What meetings need (protocols.md §3.1-§3.3): creating, changing and deleting them
#: (``meeting:write``), reading them back (``meeting:read``), and the user's profile and
#: settings — PMI, passcode rules (``user:read``). A user-level Zoom app is granted the scopes
#: configured in the Marketplace; these are the ones to configure there.
ZOOM_SCOPES = ("meeting:write", "meeting:read", "user:read")


def zoom_app(
    client_id: str,
    client_secret: str,
    *,
    oauth_url: str = "https://zoom.us",
    api_url: str = "https://api.zoom.us",
) -> OAuthApp:
    """The operator's Zoom app; the URLs point elsewhere for an emulator (one origin will do)."""
    oauth_url, api_url = oauth_url.rstrip("/"), api_url.rstrip("/")
    return OAuthApp(
        provider="ZOOM",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=f"{oauth_url}/oauth/authorize",
        token_url=f"{oauth_url}/oauth/token",
        revoke_url=f"{oauth_url}/oauth/revoke",
        scopes=ZOOM_SCOPES,
        api_base_url=f"{api_url}/v2/",
        # Zoom's token and revocation endpoints read the client credentials only from HTTP Basic.
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
    )
