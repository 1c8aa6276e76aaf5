"""Google Calendar (API v3): two-way sync, push channels and Google Meet links.

Owns everything between Google and :class:`~calmesh.providers.base.CalendarProvider`: requests
with bearer tokens, retries and error translation (``_api``), event JSON to and from domain
events (``_mapping``), series as items (``_series``) and the adapter itself (``adapter``). The
wire protocol it follows is the one in ``protocols.md`` §1.

Public API:

* :func:`open_google` ``(config: ProviderConfig, *, retry=RetryPolicy(), meet=MeetPolling())
  -> GoogleCalendarProvider`` — ``config.oauth`` and ``config.tokens`` are required.
* :class:`GoogleCalendarProvider` — the adapter; also :class:`~calmesh.providers.base.PushChannels`
  (``watch``, ``stop_watching``) and ``account_email()``.
* :func:`google_app` ``(client_id, client_secret, *, accounts_url, oauth_url, api_url) -> OAuthApp``
  and :data:`GOOGLE_SCOPES`.
* :class:`RetryPolicy`, :class:`MeetPolling` — the adapter's patience, tunable for tests.
* :class:`MeetLinkFailed` — a ``ProviderRefused`` raised after an event was written without the
  Meet link it asked for; ``written`` says where it is.

Why not ``google-api-python-client``: it is synchronous (its HTTP goes through httplib2), and
the dozen calls sync needs are simpler to own on the httpx client every adapter uses — with
retries, token refresh and errors mapped onto :mod:`calmesh.errors` in one place.
"""

from calmesh.providers.google._api import RetryPolicy
from calmesh.providers.google._app import GOOGLE_SCOPES, google_app
from calmesh.providers.google.adapter import GoogleCalendarProvider, MeetLinkFailed, MeetPolling, open_google

__all__ = [
    "GOOGLE_SCOPES",
    "GoogleCalendarProvider",
    "MeetLinkFailed",
    "MeetPolling",
    "RetryPolicy",
    "google_app",
    "open_google",
]
