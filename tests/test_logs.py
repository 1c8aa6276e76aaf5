"""Log lines are JSON and never carry a secret, whatever a caller passes in."""

from __future__ import annotations

import json
import logging

from calmesh.logs import JsonFormatter, redact, request_id_var


def test_redact_scrubs_the_shapes_secrets_come_in() -> None:
    line = (
        'key cmk_AbCdEfGh12345678 auth "Authorization: Bearer ya29.a0AfH6SMBx" '
        'password=hunter2 {"refresh_token": "1//0gXqsecret"} client_secret=abc123def&x=1'
    )
    cleaned = redact(line)
    for secret in ("cmk_AbCdEfGh12345678", "ya29.a0AfH6SMBx", "hunter2", "1//0gXqsecret", "abc123def"):
        assert secret not in cleaned
    assert "[redacted]" in cleaned and "x=1" in cleaned and cleaned.startswith("key [redacted] auth")


def test_json_lines_carry_request_id_and_extras_and_are_redacted() -> None:
    record = logging.LogRecord("calmesh.test", logging.INFO, __file__, 1, "sync failed token=%s", ("s3cr3t",), None)
    record.connectionId = "con_1"
    token = request_id_var.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["requestId"] == "req-1" and line["connectionId"] == "con_1" and line["level"] == "INFO"
    assert "s3cr3t" not in line["msg"]
