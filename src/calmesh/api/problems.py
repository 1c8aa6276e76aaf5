"""Every API error as RFC 9457 problem details, decided in this one module.

A problem's ``type`` is a stable relative URI, ``/problems/<slug>``; clients switch on it, never on
``title`` or ``detail``. Bodies are ``application/problem+json`` and carry the request id, so a
user's report can be matched to the server's log line. A 500 says that something failed and
which request it was, and nothing about the internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from calmesh import errors
from calmesh.logs import request_id_var

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "FieldProblem",
    "PayloadTooLarge",
    "Problem",
    "install_problem_handlers",
    "problem_response",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. 'attendee.email'.")
    location: str = Field(description="Where it was sent: body, query, path or header.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with calmesh's extension members."""

    model_config = ConfigDict(populate_by_name=True)

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = Field(default=None, alias="requestId")
    errors: list[FieldProblem] | None = None
    conflicts: list[dict[str, Any]] | None = Field(
        default=None, description="For slot-unavailable: what is in the way of the requested time."
    )
    resets_at: datetime | None = Field(
        default=None, alias="resetsAt", description="For meeting-quota-exhausted: when requests are allowed again (00:00 UTC)."
    )


class PayloadTooLarge(StarletteHTTPException):
    """Raised while reading a request body that is over the limit (see the middleware).

    An HTTP exception, because FastAPI turns any other error raised while it reads a body into
    a 400 "error parsing the body".
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


# The status and slug of each error family; the most specific class listed wins.
_ERROR_MAP: dict[type[errors.CalmeshError], tuple[int, str, str]] = {
    errors.InvalidCalendarData: (422, "invalid-calendar-data", "Invalid calendar data"),
    errors.InvalidTimeZone: (422, "validation-error", "Invalid input"),
    errors.UnsafeUrl: (422, "unsafe-url", "Unsafe URL"),
    errors.InvalidInput: (422, "validation-error", "Invalid input"),
    errors.NotFound: (404, "not-found", "Not found"),
    errors.AlreadyExists: (409, "conflict", "Conflict"),
    errors.SlotUnavailable: (409, "slot-unavailable", "Slot unavailable"),
    errors.InvalidState: (409, "conflict", "Conflict"),
    errors.AuthenticationFailed: (401, "unauthenticated", "Authentication required"),
    errors.PermissionDenied: (403, "forbidden", "Forbidden"),
    errors.StorageUnavailable: (503, "unavailable", "Service unavailable"),
    errors.SyncHalted: (409, "sync-halted", "Sync halted"),
    errors.ProviderAuthFailed: (422, "provider-auth-failed", "Provider refused the credentials"),
    errors.MeetingQuotaExhausted: (429, "meeting-quota-exhausted", "Daily meeting quota used up"),
    errors.ProviderRateLimited: (429, "provider-rate-limited", "Provider rate limit"),
    errors.ProviderUnreachable: (502, "provider-unavailable", "Provider unavailable"),
    errors.ProviderProtocolError: (502, "provider-protocol-error", "Provider answered wrongly"),
    errors.PreconditionFailed: (409, "conflict", "Conflict"),
    errors.ProviderError: (502, "provider-error", "Provider error"),
    errors.VaultError: (500, "credential-error", "Credentials unavailable"),
    errors.ConfigurationError: (500, "internal-error", "Internal server error"),
}

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    request: Request | None = None,
    field_problems: Sequence[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
    conflicts: list[dict[str, Any]] | None = None,
    resets_at: datetime | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"/problems/{slug}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        request_id=request_id_var.get(),
        errors=list(field_problems) if field_problems else None,
        conflicts=conflicts,
        resets_at=resets_at,
    )
    return JSONResponse(
        problem.model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _calmesh_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.CalmeshError)
    status, slug, title = next(
        (entry for cls, entry in _ERROR_MAP.items() if isinstance(exc, cls)),
        (400, "bad-request", "Bad request"),
    )
    detail = exc.message if status < 500 or status in (502, 503) else None
    field_problems = None
    if isinstance(exc, errors.InvalidInput) and exc.field:
        field_problems = [FieldProblem(field=exc.field, location="body", message=exc.message)]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, errors.ProviderRateLimited) and exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    conflicts = list(exc.clashes) if isinstance(exc, errors.SlotUnavailable) else None
    resets_at = exc.resets_at if isinstance(exc, errors.MeetingQuotaExhausted) else None
    return problem_response(
        status, slug, title, detail, request=request, field_problems=field_problems, headers=headers,
        conflicts=conflicts, resets_at=resets_at,
    )


def _field_path(location: Sequence[Any]) -> tuple[str, str]:
    where, *path = [str(part) for part in location] or ["body"]
    return where, ".".join(path) or where


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    field_problems = []
    for error in exc.errors():
        where, field = _field_path(error.get("loc", ()))
        field_problems.append(FieldProblem(field=field, location=where, message=error.get("msg", "invalid")))
    detail = "; ".join(f"{p.field}: {p.message}" for p in field_problems)
    return problem_response(422, "validation-error", "Invalid input", detail, request=request, field_problems=field_problems)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail.lower() != title.lower() else None
    return problem_response(exc.status_code, slug, title, detail, request=request, headers=exc.headers)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.CalmeshError, _calmesh_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
