"""Signing deliveries and verifying them.

Every delivery carries ``Calmesh-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]``: one
``v1`` per active secret of the endpoint, each ``HMAC-SHA256(secret, f"{t}.{body}")`` in
lowercase hex. The key is the secret exactly as shown (``whsec_…``, its UTF-8 bytes), so a
receiver in any language needs nothing but an HMAC. A receiver accepts the delivery when any
``v1`` matches any secret it knows — that is what lets secrets rotate without downtime — and
rejects a timestamp older than its tolerance, which stops a captured delivery being replayed
later (the timestamp is signed, so it cannot be changed without breaking the signature).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _random
import time
from collections.abc import Iterable

from calmesh.errors import WebhookVerificationFailed

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "SECRET_PREFIX", "SIGNATURE_HEADER", "generate_secret", "sign", "verify_signature"]

SIGNATURE_HEADER = "Calmesh-Signature"
SECRET_PREFIX = "whsec_"
#: How old a delivery's timestamp may be, by default, before the receiver refuses it.
DEFAULT_TOLERANCE_SECONDS = 300


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + _random.token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: Iterable[str], timestamp: int) -> str:
    """The ``Calmesh-Signature`` value for ``body`` sent at ``timestamp`` under each secret."""
    return ",".join([f"t={timestamp}", *(f"v1={_digest(s, timestamp, body)}" for s in secrets)])


def verify_signature(
    body: bytes,
    header: str,
    secrets: str | Iterable[str],
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery as a receiver: ``body`` exactly as received (bytes, before any JSON
    parsing), the ``Calmesh-Signature`` header, and the secret or secrets the receiver trusts.

    Returns the signed timestamp. Raises :class:`~calmesh.errors.WebhookVerificationFailed` when
    the header is malformed, no signature matches, or the timestamp is more than
    ``tolerance_seconds`` away from ``now``.
    """
    trusted = [secrets] if isinstance(secrets, str) else list(secrets)
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationFailed("the signature header has no timestamp or no v1 signature")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationFailed(
            f"the delivery's timestamp is {int(abs(current - timestamp))} s away from now (tolerance {int(tolerance_seconds)} s)"
        )
    for secret in trusted:
        expected = _digest(secret, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return timestamp
    raise WebhookVerificationFailed("no signature matches a trusted secret")
