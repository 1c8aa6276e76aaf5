"""``calmesh demo`` as a newcomer runs it: the real entry point in a subprocess, with nothing but
a home directory — the sandbox, calmesh, the OAuth redirect flow and the first sync all happen
inside it, over loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_connects_a_sandbox_google_account_and_syncs_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")} | {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "calmesh", "demo", "--port", "0", "--sandbox-port", "0", "--exit", "--json"],
        check=False, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)

    assert result["integration"]["account"] == "ada@example.com" and result["integration"]["status"] == "ACTIVE"
    assert result["lastError"] is None
    assert result["events"] > 5, "the seeded sandbox calendar reached the mirror"
    assert result["calendars"] and all(c["pushUntil"] for c in result["calendars"]), "synced calendars are watched"
    assert result["apiKey"].startswith("cmk_") and result["apiDocs"].endswith("/docs")
    assert (tmp_path / "data" / "calmesh" / "demo.db").exists(), "the demo keeps its own database, not the user's"
