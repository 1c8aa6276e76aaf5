"""An HTTP emulator of Google OAuth 2.0 and Google Calendar API v3, for tests, the demo and benchmarks.

It follows protocols.md §1 and the discovery document shipped with google-api-python-client,
so calmesh's real Google provider (and Google's own client library) work against it
unchanged. Serve :attr:`GoogleSandbox.app` (any ASGI server; :func:`calmesh.sandbox.serving.serve_in_thread`
in tests, ``calmesh sandbox`` from the shell) and set :attr:`GoogleSandbox.base_url` to where it runs.

Public API:

* :class:`GoogleSandbox` — users, calendars, OAuth clients and tokens; event changes "by another
  client" (``insert_event``, ``patch_event`` …); faults (``inject``, ``delay``,
  ``expire_access_tokens``, ``revoke_grants``, ``invalidate_sync_tokens``); switches
  (``meet_pending_reads``, ``meet_fails``); what happened (``requests``, ``notifications``,
  ``channels``, ``serving_seconds``).
* :func:`seed_demo` — two users, three calendars, ~15 events around now.
* :class:`RecordedRequest`, :class:`SentNotification`, :class:`Channel` — what those lists hold.
* :class:`GoogleApiError` — what ``sb.*`` raises when the API would refuse the same change.

Modules: :mod:`.oauth` (authorization, consent page, token and revocation endpoints — its
docstring says how to drive the consent page from a program), :mod:`.calendar_api` (the
``/calendar/v3`` endpoints), :mod:`.state` (stored events and the change log), :mod:`.listing`
(events.list, instances, freeBusy), :mod:`.events` and :mod:`.meet` (the Event resource),
:mod:`.recurrence`, :mod:`.push`, :mod:`.endpoint` (Google's error shapes for the shared
request wrapper), :mod:`.app` (the facade and admin endpoints), :mod:`.seed`. Recording,
injected faults and the push sender's thread are shared with the other emulators
(:mod:`calmesh.sandbox._common`).
"""

from calmesh.sandbox._common import RecordedRequest
from calmesh.sandbox.google.app import GoogleSandbox
from calmesh.sandbox.google.errors import GoogleApiError
from calmesh.sandbox.google.push import Channel, SentNotification
from calmesh.sandbox.google.seed import seed_demo

__all__ = ["Channel", "GoogleApiError", "GoogleSandbox", "RecordedRequest", "SentNotification", "seed_demo"]
