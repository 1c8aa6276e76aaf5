"""Google's error shapes for the shared request wrapper (:class:`calmesh.sandbox._common.Wrapper`).

The wrapper (recording, injected faults and delays, timing) is shared by every emulator; what
is Google's is how errors look:

* a :class:`~.errors.GoogleApiError` becomes Google's envelope; on an OAuth endpoint it becomes
  the OAuth error JSON instead (``invalid_request``, or ``internal_failure`` for a 5xx);
* an :class:`~.errors.OAuthError` becomes ``{"error", "error_description"}`` with
  ``Cache-Control: no-store``;
* a body that is not JSON is 400 ``parseError``; an unexpected failure 500 ``backendError``;
* an injected fault answers Google's usual reason and wording for its status
  (:func:`~.errors.default_error`), or the OAuth shape on ``/token``, ``/revoke`` and the consent
  pages (:func:`~.errors.default_oauth_error`).
"""

from __future__ import annotations

from starlette.responses import Response

from calmesh.sandbox._common import Call, EndpointKind, Fault
from calmesh.sandbox.google.errors import GoogleApiError, OAuthError, default_error, default_oauth_error

__all__ = ["GoogleErrors"]


class GoogleErrors:
    """The :class:`~calmesh.sandbox._common.ErrorStyle` of the Google emulator."""

    errors: tuple[type[Exception], ...] = (GoogleApiError, OAuthError)

    def render(self, call: Call, kind: EndpointKind, error: Exception) -> Response:
        if isinstance(error, OAuthError):
            headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **error.headers}
            return call.reply(error.body(), error.status, headers)
        assert isinstance(error, GoogleApiError)
        if kind == "oauth":
            oauth = OAuthError(error.status, "invalid_request" if error.status < 500 else "internal_failure", error.message)
            return call.reply(oauth.body(), oauth.status)
        return call.reply(error.envelope(), error.status, error.headers)

    def parse_error(self, kind: EndpointKind) -> Exception:
        return GoogleApiError(400, "parseError", "Parse Error")

    def fault_error(self, kind: EndpointKind, fault: Fault) -> Exception:
        if kind in ("oauth", "page"):
            return default_oauth_error(fault.status, fault.reason, fault.message)
        return default_error(fault.status, fault.reason, fault.message)

    def internal_error(self, kind: EndpointKind) -> Exception:
        return GoogleApiError(500, "backendError", "Backend Error")

