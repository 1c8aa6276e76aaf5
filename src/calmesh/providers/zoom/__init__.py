"""Zoom (API v2): meetings made on request for a connected Zoom user (PRODUCT.md M3, M5).

Owns everything between Zoom and :class:`~calmesh.providers.base.ConferencingProvider`: the OAuth
app registration (``_app``), requests with bearer tokens, the daily allowance, retries and error
translation (``_api``), and the adapter itself (``adapter``). The wire protocol it follows is the
one in ``protocols.md`` §3; passcodes come from :mod:`calmesh.conferencing.passcodes`.

Public API:

* :func:`open_zoom` ``(config: ProviderConfig) -> ZoomConferencingProvider`` — ``config.oauth``
  and ``config.tokens`` are required; ``config.meeting_gate`` counts meeting requests.
* :class:`ZoomConferencingProvider` — the adapter (``service == "ZOOM"``).
* :func:`zoom_app` ``(client_id, client_secret, *, oauth_url, api_url) -> OAuthApp`` and
  :data:`ZOOM_SCOPES`.
"""

from calmesh.providers.zoom._app import ZOOM_SCOPES, zoom_app
from calmesh.providers.zoom.adapter import ZoomConferencingProvider, open_zoom

__all__ = ["ZOOM_SCOPES", "ZoomConferencingProvider", "open_zoom", "zoom_app"]
