"""Structured logs: one JSON object per line on stderr, with the request id of the request that
caused it, and secrets scrubbed out of every line before it is written.

Log calls pass structure as ``extra={...}``; :class:`JsonFormatter` writes those keys beside
``ts``, ``level``, ``logger``, ``msg`` and ``requestId``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

__all__ = ["JsonFormatter", "configure_logging", "redact", "request_id_var"]

#: The id of the request being served, if any; set by the API middleware.
request_id_var: ContextVar[str | None] = ContextVar("calmesh_request_id", default=None)

# Whatever looks like a credential is replaced before a line leaves the process: our API keys,
# bearer tokens, and values of key=value / "key": "value" pairs whose key names a secret.
_SECRET_PATTERNS = [
    re.compile(r"cmk_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(
        r"(?i)((?:password|passwd|secret|token|access_token|refresh_token|client_secret|api_key|authorization)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\"'\s,&}]+"
    ),
]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``[redacted]``."""
    text = _SECRET_PATTERNS[0].sub("[redacted]", text)
    for pattern in _SECRET_PATTERNS[1:]:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # A record may carry its request id already (formatted later, out of its context).
        request_id = getattr(record, "requestId", None) or request_id_var.get()
        if request_id:
            entry["requestId"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str = "INFO") -> None:
    """Send calmesh's logs (and uvicorn's errors) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The API middleware logs each request with its id; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
