"""The verification snippets in docs/WEBHOOKS.md, run as written against deliveries signed by
calmesh's own ``sign()``.

Each snippet is the fenced block after a ``<!-- verify-snippet: LANGUAGE -->`` marker. The test
appends a small harness (read cases as JSON on stdin, print ``ok`` or ``refused: …`` per case),
so the documented code is exactly the code that runs. Node.js and Go are skipped, with the
reason, where their toolchain is not installed.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from calmesh.webhooks import generate_secret, sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"

#: Two secrets, as during a rotation, and one the receiver does not know.
OLD, NEW, STRANGER = generate_secret(), generate_secret(), generate_secret()
#: A real delivery body (non-ASCII included: the signature covers bytes, not characters).
BODY = json.dumps(
    {"id": "wev_01jdxb6k2m8q4r7t9v3w5y1z0a", "type": "booking.created", "createdAt": "2026-11-21T08:30:00.123456Z",
     "tenantId": "tnt_01jdx0a1b2c3d4e5f6g7h8j9k0", "data": {"attendee": {"name": "Zoë Müller", "email": "zoe@example.com"}}},
    separators=(",", ":"), ensure_ascii=False,
).encode()


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    header: str
    #: What the receiver trusts: one secret (a string) or several.
    trusted: str | list[str]
    accepted: bool


def cases() -> list[Case]:
    now = int(time.time())
    both = sign(BODY, [NEW, OLD], now)  # during a rotation: one v1 per active secret
    return [
        Case("the receiver knows only the old secret", BODY, both, [OLD], True),
        Case("the receiver knows only the new secret", BODY, both, [NEW], True),
        Case("the receiver trusts two secrets, one signature", BODY, sign(BODY, [NEW], now), [OLD, NEW], True),
        Case("one secret given as a plain string", BODY, sign(BODY, [OLD], now), OLD, True),
        Case("a tampered body", BODY.replace(b"M\xc3\xbcller", b"Muller"), both, [OLD, NEW], False),
        Case("a stale timestamp (10 minutes old)", BODY, sign(BODY, [OLD], now - 600), [OLD], False),
        Case("a timestamp 10 minutes ahead", BODY, sign(BODY, [OLD], now + 600), [OLD], False),
        Case("a secret the receiver does not know", BODY, both, [STRANGER], False),
        Case("a header without v1", BODY, f"t={now}", [OLD], False),
        Case("a timestamp that is not signed", BODY, both.replace(f"t={now}", f"t={now - 1}"), [OLD, NEW], False),
    ]


def snippet(language: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- verify-snippet: {language} -->\s*```\w+\n(.*?)\n```", text, re.DOTALL)
    assert found, f"docs/WEBHOOKS.md has no ```{language} block after <!-- verify-snippet: {language} -->"
    return found.group(1)


def as_json(all_cases: list[Case], *, secrets_as_list: bool = False) -> str:
    def secrets(case: Case) -> str | list[str]:
        return [case.trusted] if secrets_as_list and isinstance(case.trusted, str) else case.trusted

    return json.dumps(
        [{"body": base64.b64encode(c.body).decode(), "header": c.header, "secrets": secrets(c)} for c in all_cases]
    )


def check_verdicts(all_cases: list[Case], output: str) -> None:
    lines = output.strip().splitlines()
    assert len(lines) == len(all_cases), output
    for case, line in zip(all_cases, lines):
        if case.accepted:
            assert line == "ok", f"{case.name}: refused a valid delivery: {line}"
        else:
            assert line.startswith("refused"), f"{case.name}: accepted a delivery it must refuse"


# --- Node.js -------------------------------------------------------------------------------

NODE_HARNESS = """
// --- harness appended by tests/webhooks/test_docs_examples.py ---
const harnessCases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
for (const c of harnessCases) {
  try {
    verifyCalmeshSignature(Buffer.from(c.body, "base64"), c.header, c.secrets);
    console.log("ok");
  } catch (err) {
    console.log("refused: " + err.message);
  }
}
"""


def test_node_snippet_accepts_calmesh_signatures_and_refuses_the_rest(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node.js snippet in docs/WEBHOOKS.md is not run")
    script = tmp_path / "verify.js"
    script.write_text(snippet("node") + "\n" + NODE_HARNESS, encoding="utf-8")
    all_cases = cases()
    result = subprocess.run([node, str(script)], input=as_json(all_cases), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    check_verdicts(all_cases, result.stdout)


# --- Go ------------------------------------------------------------------------------------

GO_HARNESS = """package main

// Appended by tests/webhooks/test_docs_examples.py.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

type harnessCase struct {
	Body    string   `json:"body"`
	Header  string   `json:"header"`
	Secrets []string `json:"secrets"`
}

func main() {
	var cases []harnessCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	for _, c := range cases {
		body, err := base64.StdEncoding.DecodeString(c.Body)
		if err != nil {
			panic(err)
		}
		if _, err := VerifySignature(body, c.Header, c.Secrets, 5*time.Minute, time.Now()); err != nil {
			fmt.Println("refused:", err)
		} else {
			fmt.Println("ok")
		}
	}
}
"""


def test_go_snippet_accepts_calmesh_signatures_and_refuses_the_rest(tmp_path: Path) -> None:
    code = snippet("go")  # the block must exist even where Go does not
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed: the Go snippet in docs/WEBHOOKS.md is not run")
    (tmp_path / "verify.go").write_text(re.sub(r"^package \w+", "package main", code, count=1, flags=re.MULTILINE), encoding="utf-8")
    (tmp_path / "harness.go").write_text(GO_HARNESS, encoding="utf-8")
    all_cases = cases()
    result = subprocess.run(
        [go, "run", "verify.go", "harness.go"], cwd=tmp_path, input=as_json(all_cases, secrets_as_list=True),
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    check_verdicts(all_cases, result.stdout)


# --- Python --------------------------------------------------------------------------------


async def test_python_snippet_accepts_calmesh_signatures_and_refuses_the_rest() -> None:
    stored: list[dict[str, Any]] = []
    namespace: dict[str, Any] = {"store_for_later": stored.append}
    exec(compile(snippet("python"), f"{DOC}:python", "exec"), namespace)
    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        for case in cases():
            namespace["SECRETS"] = case.trusted
            response = await client.post(
                "/calmesh/webhooks", content=case.body,
                headers={"Content-Type": "application/json", "Calmesh-Signature": case.header},
            )
            assert response.status_code == (204 if case.accepted else 400), f"{case.name}: {response.text}"
    assert len(stored) == sum(c.accepted for c in cases())
    assert stored[0]["id"] == "wev_01jdxb6k2m8q4r7t9v3w5y1z0a"
