"""An HTTP emulator of Zoom OAuth and the Zoom API v2 parts calmesh uses, for tests, the demo and benchmarks.

It follows protocols.md §3 and zoom_openapi.yaml, so a Zoom client speaking the real wire
protocol works against it unchanged. Serve :attr:`ZoomSandbox.app` (any ASGI server;
:func:`calmesh.sandbox.serving.serve_in_thread` in tests, ``calmesh sandbox`` from the shell,
where it shares one app with the Google emulator through :attr:`ZoomSandbox.routes`) and set
:attr:`ZoomSandbox.base_url` to where it runs. Both ``https://zoom.us`` (``/oauth/…``) and
``https://api.zoom.us`` (``/v2/…``) are then that one base URL.

Public API:

* :class:`ZoomSandbox` — users (PMI, settings), tokens, meetings; changes "made in Zoom"
  (``edit_meeting_in_zoom``, ``delete_meeting_in_zoom``, ``create_meeting_in_zoom``,
  ``deauthorize``) that send signed webhooks; faults (``inject``, ``delay``,
  ``expire_access_tokens``, ``revoke_grants``); the daily limit and the clock (``daily_limit``,
  ``set_clock``); what happened (``requests``, ``notifications``, ``serving_seconds``).
* :func:`seed_demo` — Ada and Grace, one meeting.
* :class:`ZoomApiError` — what ``zs.*`` raises when the API would refuse the same change.
* :class:`SentWebhook`, :class:`Subscription`, :class:`WebhookValidationError`,
  :func:`webhook_signature`, :func:`encrypted_token` — webhooks and their HMACs.

Modules: :mod:`.oauth` (authorize, consent, token with refresh-token rotation, revoke — its
docstring says how to drive the consent page from a program), :mod:`.api` (the ``/v2``
endpoints, access rules, daily limits), :mod:`.meetings` (bodies and the Meeting resource),
:mod:`.passcodes`, :mod:`.state`, :mod:`.webhooks`, :mod:`.errors`, :mod:`.app` (the facade and
the admin endpoints), :mod:`.seed`. Recording, injected faults and the webhook sender's thread
are shared with the other emulators (:mod:`calmesh.sandbox._common`).
"""

from calmesh.sandbox._common import RecordedRequest
from calmesh.sandbox.zoom.app import ZoomSandbox
from calmesh.sandbox.zoom.errors import ZoomApiError
from calmesh.sandbox.zoom.seed import seed_demo
from calmesh.sandbox.zoom.webhooks import SentWebhook, Subscription, WebhookValidationError, encrypted_token, webhook_signature

__all__ = [
    "RecordedRequest",
    "SentWebhook",
    "Subscription",
    "WebhookValidationError",
    "ZoomApiError",
    "ZoomSandbox",
    "encrypted_token",
    "seed_demo",
    "webhook_signature",
]
