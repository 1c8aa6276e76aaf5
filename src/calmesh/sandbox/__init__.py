"""Local HTTP emulators of the services calmesh integrates with, speaking their real wire protocols.

* :mod:`calmesh.sandbox.google` — Google OAuth 2.0 and Calendar API v3
  (:class:`~calmesh.sandbox.google.GoogleSandbox`, :func:`~calmesh.sandbox.google.seed_demo`).
* :mod:`calmesh.sandbox.zoom` — Zoom OAuth and the Zoom API v2 meetings, users and settings,
  with signed webhooks (:class:`~calmesh.sandbox.zoom.ZoomSandbox`, :func:`~calmesh.sandbox.zoom.seed_demo`).
* :mod:`calmesh.sandbox.serving` — :func:`~calmesh.sandbox.serving.serve_in_thread`: any ASGI app
  under uvicorn in a background thread on loopback (tests, the demo, benchmarks).
* :mod:`calmesh.sandbox._common` — what the emulators share: the facade's base class (serving,
  admin endpoints, faults, history, reset, close), the request wrapper (recording, injected
  faults and delays, timing), the sender thread for outgoing notifications.
* :mod:`calmesh.sandbox._oauth` — what their OAuth authorities share: the consent and error
  pages, redirects, PKCE and client-credential checks.

Each emulator follows ../shared/reference/protocols.md; ``calmesh sandbox`` serves Google and
Zoom side by side in one app (their paths do not collide).
"""

from calmesh.sandbox.serving import RunningApp, serve_in_thread

__all__ = ["RunningApp", "serve_in_thread"]
