"""The outermost layer of every request: its id, its size limit, its log line, and the last
word on any error nothing else handled (a 500 problem without internals).

Written as plain ASGI rather than ``BaseHTTPMiddleware`` so request bodies stream through and are
counted as they arrive: a body with no Content-Length is stopped at the limit, not after it has
been read whole.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calmesh.api.problems import PayloadTooLarge, problem_response
from calmesh.logs import request_id_var

__all__ = ["RequestContextMiddleware"]

log = logging.getLogger("calmesh.api")

REQUEST_ID_HEADER = "x-request-id"
# A caller's own request id is kept only if it is short and plain, so it cannot forge log lines.
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _ACCEPTABLE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise PayloadTooLarge(self.max_body_bytes)
            return message

        try:
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                response = problem_response(
                    413, "payload-too-large", "Payload too large",
                    f"the request body is larger than {self.max_body_bytes} bytes",
                )
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, receive_limited, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                response = problem_response(
                    500, "internal-error", "Internal server error",
                    "The server failed to handle this request; quote the request id when reporting it.",
                )
                await response(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "requestId": request_id,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "durationMs": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)
