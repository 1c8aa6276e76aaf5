"""Connecting Google through the API, end to end: ``auth-url``, the emulator's consent page, the
redirect, and either calmesh's own callback or ``POST /v1/integrations`` with the code — plus
re-authentication, the bindings of ``state``, and Google's push notifications arriving.

calmesh runs under uvicorn on loopback with its settings pointing Google at the emulator
(:mod:`calmesh.sandbox.google`), exactly as ``calmesh demo`` wires them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from calmesh.sandbox.google import GoogleSandbox
from calmesh.services.runtime import build_runtime
from calmesh.services.tenants import create_tenant
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from tests.conftest import RunningServer, free_port, make_settings, start_server

APP_REDIRECT = "https://app.example.com/oauth/google"


@dataclass
class Setup:
    calmesh: RunningServer
    sandbox: GoogleSandbox
    sandbox_url: str


@pytest.fixture
def setup(google_sandbox: object, sqlite_url: str, tmp_path: Path) -> Iterator[Setup]:
    sandbox: GoogleSandbox = google_sandbox.sandbox  # type: ignore[attr-defined]
    url: str = google_sandbox.url  # type: ignore[attr-defined]
    sandbox.add_user("grace@example.com", "Grace Hopper")
    port = free_port()
    settings = make_settings(
        sqlite_url,
        tmp_path,
        public_base_url=f"http://127.0.0.1:{port}",
        google_client_id=sandbox.client_id,
        google_client_secret=sandbox.client_secret,
        google_accounts_url=url,
        google_oauth_url=url,
        google_api_url=url,
        scheduler_tick_seconds=300,
    )
    running, thread = start_server(settings, port=port)
    yield Setup(running, sandbox, url)
    running.server.should_exit = True
    thread.join(timeout=10)


async def new_tenant(setup: Setup) -> str:
    runtime = build_runtime(setup.calmesh.settings)
    try:
        return (await create_tenant(runtime, f"tenant-{uuid.uuid4().hex[:8]}")).api_key.key
    finally:
        await runtime.close()


async def consent(auth_url: str, user: str, decision: str = "allow") -> httpx.URL:
    """The user's browser at the emulator: the consent page, a choice, and where it is sent."""
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(auth_url)
        assert page.status_code == 200 and user in page.text
        parts = urlsplit(auth_url)
        form = dict(parse_qsl(parts.query)) | {"user": user, "decision": decision}
        answer = await browser.post(f"{parts.scheme}://{parts.netloc}{parts.path}/consent", data=form)
    assert answer.status_code == 302, answer.text
    return httpx.URL(answer.headers["location"])


async def test_connecting_through_calmesh_callback_needs_no_code_handling(setup: Setup) -> None:
    key = await new_tenant(setup)
    async with setup.calmesh.client(key) as api:
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "loginHint": "ada@example.com"})).json()
        query = parse_qs(urlsplit(started["url"]).query)
        assert started["url"].startswith(setup.sandbox_url + "/o/oauth2/v2/auth?")
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert query["state"] == [started["state"]] and query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
        assert query["redirect_uri"] == [setup.calmesh.url + "/v1/integrations/oauth/callback"]
        assert "code_verifier" not in started["url"]

        back = await consent(started["url"], "ada@example.com")
        async with httpx.AsyncClient(timeout=30) as browser:  # no API key: the state names the tenant
            page = await browser.get(str(back))
        assert page.status_code == 200 and "ada@example.com" in page.text

        listed = (await api.get("/v1/integrations")).json()["data"]
        assert [(i["provider"], i["accountEmail"], i["status"] in ("ACTIVE", "SYNCING")) for i in listed] == [("GOOGLE", "ada@example.com", True)]
        calendars = (await api.get(f"/v1/integrations/{listed[0]['id']}/calendars")).json()["data"]
        assert any(c["isPrimary"] and c["providerCalendarId"] == "ada@example.com" for c in calendars)
        everything = (await api.get(f"/v1/integrations/{listed[0]['id']}")).text
        assert "ya29." not in everything and "1//" not in everything, "a token leaked into the API"

        # The consent served once: the same redirect again is refused.
        async with httpx.AsyncClient(timeout=30) as browser:
            again = await browser.get(str(back))
        assert again.status_code == 400 and len((await api.get("/v1/integrations")).json()["data"]) == 1


async def test_the_application_redeems_the_code_at_its_own_redirect(setup: Setup) -> None:
    key = await new_tenant(setup)
    async with setup.calmesh.client(key) as api:
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT})).json()
        back = await consent(started["url"], "grace@example.com")
        assert str(back).startswith(APP_REDIRECT) and back.params["state"] == started["state"]
        body = {"provider": "GOOGLE", "code": back.params["code"], "redirectUri": APP_REDIRECT, "state": back.params["state"]}

        created = await api.post("/v1/integrations", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["accountEmail"] == "grace@example.com"
        replayed = await api.post("/v1/integrations", json=body)
        assert replayed.status_code == 422 and replayed.json()["type"].endswith("validation-error")

        # seed 001's connect({provider, code, redirectUri}) without state: the latest sign-in.
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT})).json()
        back = await consent(started["url"], "ada@example.com")
        stateless = await api.post("/v1/integrations", json={"provider": "GOOGLE", "code": back.params["code"], "redirectUri": APP_REDIRECT})
        assert stateless.status_code == 201 and stateless.json()["accountEmail"] == "ada@example.com"


async def test_state_is_bound_to_its_tenant_and_redirect_uri(setup: Setup) -> None:
    owner, stranger = await new_tenant(setup), await new_tenant(setup)
    async with setup.calmesh.client(owner) as api, setup.calmesh.client(stranger) as other:
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT})).json()
        back = await consent(started["url"], "ada@example.com")
        body = {"provider": "GOOGLE", "code": back.params["code"], "redirectUri": APP_REDIRECT, "state": back.params["state"]}

        assert (await other.post("/v1/integrations", json=body)).status_code == 422
        assert (await other.get("/v1/integrations")).json()["data"] == []
        wrong_redirect = await api.post("/v1/integrations", json=body | {"redirectUri": "https://evil.example.com/cb"})
        assert wrong_redirect.status_code == 422 and "redirectUri" in wrong_redirect.text
        # Neither attempt used the sign-in up: its owner still completes it.
        assert (await api.post("/v1/integrations", json=body)).status_code == 201


async def test_an_expired_sign_in_and_a_declined_consent_connect_nothing(setup: Setup) -> None:
    key = await new_tenant(setup)
    async with setup.calmesh.client(key) as api:
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT})).json()
        back = await consent(started["url"], "ada@example.com")
        runtime = build_runtime(setup.calmesh.settings)
        try:
            async with UnitOfWork(runtime) as uow:
                await uow.session.execute(
                    update(models.OAuthAuthorization).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
                )
                await uow.commit()
        finally:
            await runtime.close()
        late = await api.post("/v1/integrations", json={"provider": "GOOGLE", "code": back.params["code"], "state": back.params["state"], "redirectUri": APP_REDIRECT})
        assert late.status_code == 422 and "auth URL" in late.json()["detail"]

        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "returnTo": "https://app.example.com/done"})).json()
        declined = await consent(started["url"], "ada@example.com", decision="deny")
        assert declined.params["error"] == "access_denied"
        async with httpx.AsyncClient(timeout=10) as browser:
            landing = await browser.get(str(declined))
        assert landing.status_code == 303
        assert landing.headers["location"].startswith("https://app.example.com/done?error=")
        assert (await api.get("/v1/integrations")).json()["data"] == []


async def test_re_authentication_keeps_the_integration_and_refuses_another_account(setup: Setup) -> None:
    key = await new_tenant(setup)
    async with setup.calmesh.client(key) as api:
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT})).json()
        back = await consent(started["url"], "ada@example.com")
        first = (await api.post("/v1/integrations", json={"provider": "GOOGLE", "code": back.params["code"], "state": back.params["state"], "redirectUri": APP_REDIRECT})).json()

        # Its first sync (started as it connected) finishes before the grant is revoked: the
        # refusal below is the refresh's, not a sync's still running.
        for _ in range(400):
            shown = (await api.get(f"/v1/integrations/{first['id']}")).json()
            if shown["lastSyncAt"] and shown["status"] == "ACTIVE":
                break
            await asyncio.sleep(0.05)
        setup.sandbox.revoke_grants("ada@example.com")
        refused = await api.post(f"/v1/integrations/{first['id']}/refresh")
        assert refused.status_code == 422 and refused.json()["type"].endswith("provider-auth-failed")
        assert (await api.get(f"/v1/integrations/{first['id']}")).json()["status"] == "TOKEN_EXPIRED"

        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT, "connectionId": first["id"]})).json()
        back = await consent(started["url"], "grace@example.com")
        wrong = await api.post("/v1/integrations", json={"provider": "GOOGLE", "code": back.params["code"], "state": back.params["state"], "redirectUri": APP_REDIRECT})
        assert wrong.status_code == 422 and "ada@example.com" in wrong.json()["detail"]
        assert (await api.get(f"/v1/integrations/{first['id']}")).json()["status"] == "TOKEN_EXPIRED"

        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT, "connectionId": first["id"]})).json()
        back = await consent(started["url"], "ada@example.com")
        again = await api.post("/v1/integrations", json={"provider": "GOOGLE", "code": back.params["code"], "state": back.params["state"], "redirectUri": APP_REDIRECT})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first["id"] and again.json()["status"] == "ACTIVE"
        assert len((await api.get("/v1/integrations")).json()["data"]) == 1
        assert (await api.post(f"/v1/integrations/{first['id']}/refresh")).status_code == 200


async def test_without_a_google_client_the_operator_is_told_what_to_set(sqlite_url: str, tmp_path: Path) -> None:
    running, thread = start_server(make_settings(sqlite_url, tmp_path))
    try:
        runtime = build_runtime(running.settings)
        try:
            key = (await create_tenant(runtime, "plain")).api_key.key
        finally:
            await runtime.close()
        async with running.client(key) as api:
            answer = await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE"})
        assert answer.status_code == 409 and "CALMESH_GOOGLE_CLIENT_ID" in answer.json()["detail"]
    finally:
        running.server.should_exit = True
        thread.join(timeout=10)


async def test_push_notifications_are_checked_by_channel_token(setup: Setup) -> None:
    key = await new_tenant(setup)
    async with setup.calmesh.client(key) as api:
        started = (await api.post("/v1/integrations/auth-url", json={"provider": "GOOGLE", "redirectUri": APP_REDIRECT})).json()
        back = await consent(started["url"], "ada@example.com")
        created = (await api.post("/v1/integrations", json={"provider": "GOOGLE", "code": back.params["code"], "state": back.params["state"], "redirectUri": APP_REDIRECT})).json()
        for _ in range(200):  # the first sync opens the channels, then finishes
            status = (await api.get(f"/v1/integrations/{created['id']}/sync-status")).json()
            if any(c["pushExpiresAt"] for c in status["calendars"]) and status["state"] == "ACTIVE" and status["lastSyncAt"]:
                break
            await asyncio.sleep(0.05)
        assert any(c["pushExpiresAt"] for c in status["calendars"]), status
        channel = next(c for c in setup.sandbox.channels if c.address.startswith(setup.calmesh.url))

        async with httpx.AsyncClient(base_url=setup.calmesh.url, timeout=10) as google:
            def headers(state: str, token: str | None = None, channel_id: str | None = None) -> dict[str, str]:
                return {
                    "X-Goog-Channel-ID": channel_id or channel.id,
                    "X-Goog-Channel-Token": token if token is not None else channel.token,
                    "X-Goog-Resource-ID": channel.resource_id,
                    "X-Goog-Resource-State": state,
                    "X-Goog-Message-Number": "9",
                }

            path = "/v1/providers/google/notifications"
            runtime = build_runtime(setup.calmesh.settings)
            try:
                async def next_sync_at() -> datetime | None:
                    async with UnitOfWork(runtime) as uow:
                        return await uow.session.scalar(select(models.Connection.next_sync_at).where(models.Connection.id == created["id"]))

                later = datetime.now(timezone.utc) + timedelta(hours=1)
                async with UnitOfWork(runtime) as uow:
                    await uow.session.execute(update(models.Connection).values(next_sync_at=later))
                    await uow.commit()
                forged = await google.post(path, headers=headers("exists", token="not-the-token"))
                assert forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"
                unknown = await google.post(path, headers=headers("exists", channel_id="nope"))
                assert unknown.status_code == 404
                assert (await google.post(path, headers=headers("sync"))).status_code == 204
                assert await next_sync_at() == later, "a forged, unknown or sync message must not start a sync"

                assert (await google.post(path, headers=headers("exists"))).status_code == 204
                due = await next_sync_at()
                assert due is not None and due < later
            finally:
                await runtime.close()
