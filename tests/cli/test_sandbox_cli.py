"""``calmesh sandbox`` in a subprocess: it serves the seeded Google and Zoom emulators and prints how to point calmesh at them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

CALMESH = Path(sys.executable).with_name("calmesh")


def test_calmesh_sandbox_serves_the_seeded_emulators(tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "out.txt"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [
                str(CALMESH), "sandbox", "--port", str(port), "--client-secret", "fixed-secret",
                "--zoom-client-secret", "zoom-secret", "--zoom-webhook-secret-token", "zoom-token",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        url = f"http://127.0.0.1:{port}"
        state = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                state = httpx.get(f"{url}/_sandbox", timeout=2, trust_env=False).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert state is not None, output.read_text()
        assert state["client_id"] == "calmesh-sandbox" and state["base_url"] == url
        assert {u["email"] for u in state["users"]} == {"ada@example.com", "grace@example.com"}
        assert sum(c["events"] for c in state["calendars"]) >= 15

        printed = output.read_text()
        for line in (
            "CALMESH_GOOGLE_CLIENT_ID=calmesh-sandbox",
            "CALMESH_GOOGLE_CLIENT_SECRET=fixed-secret",
            f"CALMESH_GOOGLE_ACCOUNTS_URL={url}",
            f"CALMESH_GOOGLE_OAUTH_URL={url}",
            f"CALMESH_GOOGLE_API_URL={url}",
            "CALMESH_ZOOM_CLIENT_ID=calmesh-zoom-sandbox",
            "CALMESH_ZOOM_CLIENT_SECRET=zoom-secret",
            f"CALMESH_ZOOM_OAUTH_URL={url}",
            f"CALMESH_ZOOM_API_URL={url}",
            "CALMESH_ZOOM_WEBHOOK_SECRET_TOKEN=zoom-token",
        ):
            assert line in printed.splitlines(), printed
        assert f"{url}/calendar/v3/" in printed and f"{url}/o/oauth2/v2/auth" in printed
        assert f"{url}/v2/" in printed and f"{url}/oauth/authorize" in printed

        token = httpx.post(
            f"{url}/_sandbox/tokens", json={"email": "ada@example.com"}, timeout=5, trust_env=False
        ).json()["access_token"]
        events = httpx.get(
            f"{url}/calendar/v3/calendars/primary/events", headers={"Authorization": f"Bearer {token}"}, timeout=5, trust_env=False
        )
        assert events.status_code == 200 and events.json()["timeZone"] == "Europe/London"

        # Zoom, in the same process and on the same port.
        zoom = httpx.get(f"{url}/_sandbox/zoom", timeout=5, trust_env=False).json()
        assert zoom["client_id"] == "calmesh-zoom-sandbox" and zoom["base_url"] == url
        assert [(u["email"], u["meetings"]) for u in zoom["users"]] == [("ada@example.com", 1), ("grace@example.com", 0)]
        zoom_tokens = httpx.post(
            f"{url}/_sandbox/zoom/tokens", json={"email": "grace@example.com"}, timeout=5, trust_env=False
        ).json()
        refreshed = httpx.post(
            f"{url}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": zoom_tokens["refresh_token"]},
            auth=("calmesh-zoom-sandbox", "zoom-secret"),
            timeout=5,
            trust_env=False,
        )
        assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != zoom_tokens["refresh_token"]
        bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        me = httpx.get(f"{url}/v2/users/me", headers=bearer, timeout=5, trust_env=False)
        assert me.status_code == 200 and me.json()["timezone"] == "America/New_York"
        created = httpx.post(f"{url}/v2/users/me/meetings", headers=bearer, json={"topic": "Hi"}, timeout=5, trust_env=False)
        assert created.status_code == 201 and created.json()["id"] == me.json()["pmi"], "Grace uses her PMI"
        assert httpx.get(f"{url}/v2/nowhere", headers=bearer, timeout=5, trust_env=False).json()["code"] == 404
        assert httpx.get(f"{url}/nowhere", timeout=5, trust_env=False).json()["error"]["code"] == 404, "Google's 404 elsewhere"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, output.read_text()


def test_calmesh_sandbox_without_seed_starts_empty(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(CALMESH), "sandbox", "--port", str(port), "--no-seed"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/_sandbox", timeout=2, trust_env=False).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert state is not None and state["users"] == [] and state["calendars"] == []
        zoom = httpx.get(f"http://127.0.0.1:{port}/_sandbox/zoom", timeout=2, trust_env=False).json()
        assert zoom["users"] == []
    finally:
        process.terminate()
        process.wait(timeout=10)
