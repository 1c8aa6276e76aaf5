"""Every error calmesh raises on purpose, under one root.

The tree::

    CalmeshError
    ├── ConfigurationError          settings or key material are unusable
    ├── InvalidInput                a caller sent something we cannot accept
    │   ├── InvalidCalendarData     iCalendar data that cannot be read
    │   │   └── UnsupportedCalendarFormat   e.g. vCalendar 1.0
    │   ├── InvalidTimeZone         a time zone name we cannot resolve
    │   └── UnsafeUrl               a URL pointing at a private, loopback or link-local address
    ├── NotFound                    no such resource for this tenant
    ├── AlreadyExists               a unique name or id is taken
    ├── SlotUnavailable             the hosts are busy then (carries the clashes)
    ├── InvalidState                the resource's state does not allow this now
    ├── AuthenticationFailed        no or unknown API key
    │   └── WebhookVerificationFailed   a webhook's signature does not match, or it is stale
    ├── PermissionDenied            a known caller may not do this
    ├── VaultError                  the credential vault refused
    │   ├── DecryptionFailed        tampered, swapped, or wrong key
    │   └── UnknownKeyEncryptionKey a key id no provider holds
    ├── StorageUnavailable          the database cannot be reached
    ├── SyncHalted                  a sync stopped itself to protect data (e.g. a calendar
    │                               that suddenly lists nothing); a full resync overrides it
    └── ProviderError               a calendar or conferencing provider failed
        ├── ProviderUnreachable     no answer, a timeout, or a 5xx: retry later
        ├── ProviderAuthFailed      the provider refused the credentials: the user must act
        ├── ProviderRateLimited     slow down; carries ``retry_after`` seconds when known
        │   └── MeetingQuotaExhausted   the user's daily meeting requests are used up
        │                               (Zoom: 100 a day); carries ``resets_at``
        ├── ProviderProtocolError   the answer is not what the protocol promises (garbage XML,
        │                           not a CalDAV server…)
        ├── ProviderRefused         a 4xx the provider means: read-only calendar, too large…
        │   └── PartiallyWritten    the item was written, but not all of it (no Meet link)
        ├── SyncCursorExpired       the provider forgot our cursor: a full resync is needed
        └── PreconditionFailed      the item changed on the provider since we read it (412)

Each class's docstring is its default message, so ``raise NotFound()`` still says something a
person can act on. Programming errors (a wrong argument type, a broken invariant) are *not* in
this tree: they stay ``TypeError``/``ValueError``/``AssertionError`` and surface as 500s, so an
``except CalmeshError`` never hides a bug.

The API turns these into RFC 9457 problem details in one place (:mod:`calmesh.api.problems`);
the CLI turns them into one line and a non-zero exit in one place (:mod:`calmesh.cli`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calmesh.providers.base import WrittenItem

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "CalmeshError",
    "ConfigurationError",
    "DecryptionFailed",
    "InvalidCalendarData",
    "InvalidInput",
    "InvalidState",
    "InvalidTimeZone",
    "MeetingQuotaExhausted",
    "NotFound",
    "PartiallyWritten",
    "PermissionDenied",
    "PreconditionFailed",
    "ProviderAuthFailed",
    "ProviderError",
    "ProviderProtocolError",
    "ProviderRateLimited",
    "ProviderRefused",
    "ProviderUnreachable",
    "SlotUnavailable",
    "StorageUnavailable",
    "SyncCursorExpired",
    "SyncHalted",
    "UnknownKeyEncryptionKey",
    "UnsafeUrl",
    "UnsupportedCalendarFormat",
    "VaultError",
    "WebhookVerificationFailed",
]


class CalmeshError(Exception):
    """Something went wrong in calmesh."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__class__.__doc__ or "").strip()
        super().__init__(self.message)


class ConfigurationError(CalmeshError):
    """calmesh's configuration is unusable."""


# --- bad input ---------------------------------------------------------------------------


class InvalidInput(CalmeshError):
    """The input is not valid."""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        #: The input field (dotted path) the problem is about, when there is one.
        self.field = field


class InvalidCalendarData(InvalidInput):
    """The iCalendar data cannot be read."""


class UnsupportedCalendarFormat(InvalidCalendarData):
    """This calendar format is not supported; calmesh reads iCalendar 2.0 (RFC 5545)."""


class InvalidTimeZone(InvalidInput):
    """The time zone is not a known IANA or Windows time zone name."""


class UnsafeUrl(InvalidInput):
    """The URL points at a private, loopback or link-local address, which calmesh does not fetch."""


# --- resources and callers ---------------------------------------------------------------


class NotFound(CalmeshError):
    """No such resource."""


class AlreadyExists(CalmeshError):
    """A resource with that name already exists."""


class SlotUnavailable(CalmeshError):
    """The requested time is not free for the required hosts."""

    def __init__(self, message: str | None = None, *, clashes: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        #: What is in the way: {startTime, endTime, source, title, hostId} each.
        self.clashes = clashes or []


class InvalidState(CalmeshError):
    """The resource is not in a state that allows this."""


class AuthenticationFailed(CalmeshError):
    """A valid API key is required: send it as 'Authorization: Bearer <key>'."""


class WebhookVerificationFailed(AuthenticationFailed):
    """The webhook's signature does not match any secret, or its timestamp is too old."""


class PermissionDenied(CalmeshError):
    """This API key may not do that."""


# --- credential vault --------------------------------------------------------------------


class VaultError(CalmeshError):
    """The credential vault refused the operation."""


class DecryptionFailed(VaultError):
    """A stored credential could not be decrypted: it was altered, belongs to another connection, or the key is wrong."""


class UnknownKeyEncryptionKey(VaultError):
    """A stored credential is wrapped by a key-encryption key that no configured key provider holds."""


# --- infrastructure ----------------------------------------------------------------------


class StorageUnavailable(CalmeshError):
    """The database cannot be reached."""


class SyncHalted(CalmeshError):
    """The sync stopped to protect the mirror; ask for a full resync if the change is real."""


class ProviderError(CalmeshError):
    """A calendar or conferencing provider failed."""


class ProviderUnreachable(ProviderError):
    """The provider did not answer in time or failed on its side; calmesh will try again."""


class ProviderAuthFailed(ProviderError):
    """The provider refused the credentials; the user has to connect the account again."""


class ProviderRateLimited(ProviderError):
    """The provider asked calmesh to slow down."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        #: Seconds the provider asked us to wait, when it said.
        self.retry_after = retry_after


class MeetingQuotaExhausted(ProviderRateLimited):
    """The user's meeting requests for today are used up; they reset at 00:00 UTC."""

    def __init__(self, message: str | None = None, *, resets_at: datetime) -> None:
        super().__init__(message, retry_after=max(0.0, (resets_at - datetime.now(timezone.utc)).total_seconds()))
        #: When requests are allowed again.
        self.resets_at = resets_at


class ProviderProtocolError(ProviderError):
    """The provider's answer does not follow its protocol."""


class ProviderRefused(ProviderError):
    """The provider refused the request."""


class PartiallyWritten(ProviderRefused):
    """The provider kept the item but refused part of it (Google could not make its Meet link)."""

    def __init__(self, message: str | None = None, *, written: WrittenItem) -> None:
        super().__init__(message)
        #: Where the item now is, as for a write that succeeded.
        self.written = written


class SyncCursorExpired(ProviderError):
    """The provider no longer knows the sync cursor; a full resync is needed."""


class PreconditionFailed(ProviderError):
    """The item changed at the provider since calmesh last read it."""
