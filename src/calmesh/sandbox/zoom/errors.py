"""Zoom's error shapes: the API's ``{"code", "message"}`` and the OAuth endpoints' ``{"reason", "error"}``.

* :class:`ZoomApiError` — an API error (protocols.md §3.2): ``{"code": 3001, "message": "…"}``,
  with ``errors: [{"field", "message"}]`` for validation failures (code 300). Some Zoom
  passcode failures come back as XML (calcom PR #26148): with ``xml=True`` the same error is
  written as ``<result><code>…</code><message>…</message></result>``.
* :class:`ZoomOAuthError` — an error of ``/oauth/token`` or ``/oauth/revoke``, as Zoom writes
  them: ``{"reason": "Invalid Token!", "error": "invalid_grant"}``.
* :class:`ZoomErrors` — the :class:`~calmesh.sandbox._common.ErrorStyle` the shared request
  wrapper uses: what a bad JSON body, an injected fault or a crash answers.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from calmesh.sandbox._common import Call, EndpointKind, Fault

__all__ = [
    "INVALID_TOKEN",
    "ZoomApiError",
    "ZoomErrors",
    "ZoomOAuthError",
    "default_api_error",
    "default_oauth_error",
    "invalid_token",
    "meeting_not_found",
    "validation_failed",
]

#: What an unknown, expired or revoked bearer token answers (protocols.md §3.1).
INVALID_TOKEN = "Invalid access token."


class ZoomApiError(Exception):
    """A Zoom API error: HTTP ``status`` with ``{"code", "message"[, "errors"]}``.

    Also raised by :class:`~calmesh.sandbox.zoom.ZoomSandbox`'s direct methods when the API would
    refuse the same change.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        xml: bool = False,
    ) -> None:
        super().__init__(f"{status} code {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.xml = xml

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body

    def xml_body(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<result><code>{self.code}</code><message>{html.escape(self.message)}</message></result>"
        ).encode()


class ZoomOAuthError(Exception):
    """An OAuth endpoint's error: ``{"reason", "error"}``."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(f"{status} {error}: {reason}")
        self.status = status
        self.error = error
        self.reason = reason

    def body(self) -> dict[str, str]:
        return {"reason": self.reason, "error": self.error}


def invalid_token() -> ZoomApiError:
    return ZoomApiError(401, 124, INVALID_TOKEN)


def meeting_not_found(meeting_id: object) -> ZoomApiError:
    return ZoomApiError(404, 3001, f"Meeting does not exist: {meeting_id}.")


def validation_failed(field: str, message: str, *, xml: bool = False) -> ZoomApiError:
    """Zoom's 400 ``{"code":300,"message":"Validation Failed.","errors":[{"field","message"}]}``."""
    return ZoomApiError(400, 300, "Validation Failed.", errors=[{"field": field, "message": message}], xml=xml)


# (code, message) an injected API fault answers when the test gives only the status.
_API_DEFAULTS: dict[int, tuple[int, str]] = {
    400: (300, "Bad Request"),
    401: (124, INVALID_TOKEN),
    403: (200, "No permission."),
    404: (3001, "Meeting does not exist."),
    429: (429, "You have reached the maximum per-second rate limit for this API. Try again later."),
    500: (500, "Internal Server Error"),
    502: (502, "Bad Gateway"),
    503: (503, "Service Unavailable"),
    504: (504, "Gateway Timeout"),
}

# The OAuth ``error`` (and ``reason``) a fault on /oauth/* answers for a bare status.
_OAUTH_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "Invalid request"),
    401: ("invalid_client", "Invalid client_id or client_secret"),
    403: ("access_denied", "Access denied"),
    429: ("rate_limit_exceeded", "Too many requests"),
    500: ("server_error", "Internal Server Error"),
    503: ("temporarily_unavailable", "Service Unavailable"),
}


def default_api_error(status: int, code: int | str | None = None, message: str | None = None) -> ZoomApiError:
    """The API error for an injected fault: Zoom's usual code and wording for ``status``."""
    default_code, default_message = _API_DEFAULTS.get(status, (status, "Injected by the sandbox."))
    number = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else default_code
    return ZoomApiError(status, number, message or default_message)


def default_oauth_error(status: int, error: int | str | None = None, message: str | None = None) -> ZoomOAuthError:
    """The OAuth error for an injected fault (``code="invalid_grant"`` names the ``error``)."""
    default_error, default_reason = _OAUTH_DEFAULTS.get(status, ("server_error", "Injected by the sandbox."))
    name = str(error) if error is not None else default_error
    if message is None:
        message = "Invalid Token!" if name == "invalid_grant" else default_reason
    return ZoomOAuthError(status, name, message)


class ZoomErrors:
    """The :class:`~calmesh.sandbox._common.ErrorStyle` of the Zoom emulator."""

    errors: tuple[type[Exception], ...] = (ZoomApiError, ZoomOAuthError)

    def render(self, call: Call, kind: EndpointKind, error: Exception) -> Response:
        if isinstance(error, ZoomOAuthError):
            return call.reply(error.body(), error.status, {"Cache-Control": "no-store"})
        assert isinstance(error, ZoomApiError)
        if kind == "oauth":
            oauth = ZoomOAuthError(error.status, "invalid_request" if error.status < 500 else "server_error", error.message)
            return call.reply(oauth.body(), oauth.status, {"Cache-Control": "no-store"})
        if error.xml:
            call.payload = None
            return Response(error.xml_body(), status_code=error.status, headers=error.headers, media_type="application/xml")
        return call.reply(error.body(), error.status, error.headers)

    def parse_error(self, kind: EndpointKind) -> Exception:
        return ZoomApiError(400, 300, "Request Body should be a valid JSON object.")

    def fault_error(self, kind: EndpointKind, fault: Fault) -> Exception:
        if kind in ("oauth", "page"):
            return default_oauth_error(fault.status, fault.code if fault.code is not None else fault.reason, fault.message)
        return default_api_error(fault.status, fault.code, fault.message)

    def internal_error(self, kind: EndpointKind) -> Exception:
        return ZoomApiError(500, 500, "Internal Server Error")

