"""Google's OAuth app registration: :func:`google_app` and the scopes calmesh asks for."""

from __future__ import annotations

from calmesh.auth.oauth import OAuthApp

__all__ = ["GOOGLE_SCOPES", "google_app"]

#: What two-way sync needs (protocols.md §1.0): reading and writing events, which includes
#: ``events.watch`` (``calendar.events``), and listing the account's calendars
#: (``calendar.calendarlist.readonly``) — and nothing more: no ACLs, settings or calendar edits.
GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
)
#: ``offline`` for a refresh token; ``consent`` so that Google issues a new one on every
#: connection (it gives one only on the first grant otherwise); incremental authorization.
_AUTHORIZE_PARAMS = {"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}


def google_app(
    client_id: str,
    client_secret: str,
    *,
    accounts_url: str = "https://accounts.google.com",
    oauth_url: str = "https://oauth2.googleapis.com",
    api_url: str = "https://www.googleapis.com",
) -> OAuthApp:
    """The operator's Google app; the URLs point elsewhere for an emulator (one origin will do)."""
    accounts_url, oauth_url, api_url = (u.rstrip("/") for u in (accounts_url, oauth_url, api_url))
    return OAuthApp(
        provider="GOOGLE",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=f"{accounts_url}/o/oauth2/v2/auth",
        token_url=f"{oauth_url}/token",
        revoke_url=f"{oauth_url}/revoke",
        scopes=GOOGLE_SCOPES,
        api_base_url=f"{api_url}/calendar/v3/",
        authorize_params=dict(_AUTHORIZE_PARAMS),
    )
