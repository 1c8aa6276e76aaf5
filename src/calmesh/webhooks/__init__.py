"""Webhooks out: what calmesh announces, how a delivery is signed, and how it is sent.

- :mod:`~calmesh.webhooks.catalogue`: the event types and what their ``data`` holds.
- :mod:`~calmesh.webhooks.signing`: the ``Calmesh-Signature`` header — HMAC-SHA256 over
  ``timestamp.body`` for every active secret — and :func:`verify_signature`, the helper a
  receiver written in Python calls.
- :mod:`~calmesh.webhooks.sending`: one HTTP attempt (10 s timeout, the address guard, no
  redirects) and the retry schedule (exponential backoff with jitter for at least 24 hours).

Nothing here touches the database: the outbox rows, the delivery claims and the log belong to
:mod:`calmesh.services.announcements` and :mod:`calmesh.services.webhook_delivery`.
"""

from calmesh.webhooks.signing import SIGNATURE_HEADER, generate_secret, sign, verify_signature

__all__ = ["SIGNATURE_HEADER", "generate_secret", "sign", "verify_signature"]
