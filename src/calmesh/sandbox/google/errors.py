"""Google's error envelope: the one exception the emulator raises, and the JSON it becomes.

Every Calendar API error has the shape of protocols.md §1.7::

    {"error": {"errors": [{"domain", "reason", "message", "locationType"?, "location"?}],
               "code": NNN, "message": "..."}}

:class:`GoogleApiError` carries one such error; handlers raise it and the request wrapper
(:mod:`.app`) writes the envelope. The OAuth endpoints answer a different shape
(``{"error", "error_description"}``, RFC 6749 §5.2): :class:`OAuthError`.
:func:`default_error` gives the error an injected fault answers when a test names only a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["GoogleApiError", "OAuthError", "default_error", "default_oauth_error"]


class GoogleApiError(Exception):
    """A Calendar API error, answered in Google's envelope.

    Also raised by :class:`~calmesh.sandbox.google.GoogleSandbox`'s direct methods
    (``sb.insert_event`` …) when the API would refuse the same change.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location_type: str | None = None,
        location: str | None = None,
        top_message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location_type = location_type
        self.location = location
        #: The envelope's top-level message when Google words it differently from the item's.
        self.top_message = top_message
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        item: dict[str, Any] = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location_type is not None:
            item["locationType"] = self.location_type
        if self.location is not None:
            item["location"] = self.location
        return {"error": {"errors": [item], "code": self.status, "message": self.top_message or self.message}}


class OAuthError(Exception):
    """An error of the token or revocation endpoint: ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


# (domain, reason, message) a fault answers when the test gives only the status.
_DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("global", "badRequest", "Bad Request"),
    401: ("global", "authError", "Invalid Credentials"),
    403: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    404: ("global", "notFound", "Not Found"),
    409: ("global", "conflict", "Conflict"),
    410: ("calendar", "fullSyncRequired", "Sync token is no longer valid, a full sync is required."),
    412: ("global", "conditionNotMet", "Precondition Failed"),
    429: ("usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("global", "backendError", "Backend Error"),
    503: ("global", "backendError", "Backend Error"),
}

# Reasons whose domain is not "global" (for a fault that names a reason but no domain).
_REASON_DOMAINS = {
    "rateLimitExceeded": "usageLimits",
    "userRateLimitExceeded": "usageLimits",
    "quotaExceeded": "usageLimits",
    "dailyLimitExceeded": "usageLimits",
    "fullSyncRequired": "calendar",
    "timeRangeEmpty": "calendar",
    "requiredAccessLevel": "calendar",
    "forbiddenForNonOrganizer": "calendar",
}

# The OAuth "error" code a fault on /token or /revoke answers for a bare status.
_OAUTH_DEFAULTS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "rate_limit_exceeded",
    500: "internal_failure",
    503: "temporarily_unavailable",
}


def default_error(status: int, reason: str | None = None, message: str | None = None) -> GoogleApiError:
    """The Calendar API error for an injected fault: Google's usual reason and wording for ``status``."""
    domain, default_reason, default_message = _DEFAULTS.get(status, ("global", "backendError", "Backend Error"))
    if reason is not None and reason != default_reason:
        domain = _REASON_DOMAINS.get(reason, "global")
        default_message = message or reason
    if status == 401:
        return GoogleApiError(
            401,
            reason or default_reason,
            message or default_message,
            domain=domain,
            location_type="header",
            location="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    location = ("parameter", "syncToken") if (reason or default_reason) == "fullSyncRequired" else (None, None)
    return GoogleApiError(
        status,
        reason or default_reason,
        message or default_message,
        domain=domain,
        location_type=location[0],
        location=location[1],
    )


def default_oauth_error(status: int, reason: str | None = None, message: str | None = None) -> OAuthError:
    """The token endpoint's error for an injected fault (e.g. ``reason="invalid_grant"``)."""
    error = reason or _OAUTH_DEFAULTS.get(status, "server_error")
    if message is None:
        message = "Token has been expired or revoked." if error == "invalid_grant" else "Injected by the sandbox."
    return OAuthError(status, error, message)
