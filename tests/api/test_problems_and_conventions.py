"""The API's conventions, over real HTTP: problem details, request ids, pagination, limits,
authentication, health, OpenAPI and the docs page."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from calmesh.api.app import create_app
from tests.conftest import RunningServer, start_server

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, type_: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == type_ and body["status"] == status and body["title"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body


@pytest.fixture
async def api(server: RunningServer, tenant_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client(tenant_key) as client:
        yield client


async def test_missing_or_unknown_api_key_is_401_with_a_bearer_challenge(server: RunningServer) -> None:
    async with server.client() as anonymous:
        body = assert_problem(await anonymous.get("/v1/users"), 401, "/problems/unauthenticated")
        assert "Bearer" in str(body["detail"])
    async with server.client("cmk_not-a-real-key-at-all") as stranger:
        response = await stranger.get("/v1/users")
        assert_problem(response, 401, "/problems/unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_validation_errors_name_each_field(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/users", json={"email": "not-an-email", "timeZone": "Mars/Olympus"})
    body = assert_problem(response, 422, "/problems/validation-error")
    fields = {e["field"]: e for e in body["errors"]}  # type: ignore[union-attr]
    assert set(fields) == {"email", "timeZone"}
    assert fields["timeZone"]["location"] == "body" and "Mars/Olympus" in fields["timeZone"]["message"]

    body = assert_problem(await api.get("/v1/users", params={"limit": 0}), 422, "/problems/validation-error")
    assert body["errors"][0]["field"] == "limit"  # type: ignore[index]

    response = await api.post("/v1/users", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(response, 422, "/problems/validation-error")


async def test_unknown_ids_and_routes_are_404_and_duplicates_409(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/users/usr_nope"), 404, "/problems/not-found")
    assert_problem(await api.get("/v1/no-such-thing"), 404, "/problems/not-found")
    assert_problem(await api.put("/v1/users"), 405, "/problems/method-not-allowed")
    assert (await api.post("/v1/users", json={"email": "dup@example.com"})).status_code == 201
    body = assert_problem(await api.post("/v1/users", json={"email": "dup@example.com"}), 409, "/problems/conflict")
    assert "dup@example.com" in str(body["detail"])


async def test_oversized_bodies_are_413_declared_or_streamed(api: httpx.AsyncClient) -> None:
    big = json.dumps({"email": "a@example.com", "name": "x" * 10_000}).encode()
    assert_problem(await api.post("/v1/users", content=big, headers={"content-type": "application/json"}),
                   413, "/problems/payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b" " * 1000
    response = await api.post("/v1/users", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(response, 413, "/problems/payload-too-large")
    assert (await api.get("/v1/users")).status_code == 200  # the server is fine afterwards


async def test_an_unexpected_failure_is_a_500_without_internals(tmp_path, sqlite_url, caplog) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    settings = make_settings(sqlite_url, tmp_path)
    app = create_app(settings)

    async def explode() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret/path.py")

    app.add_api_route("/v1/explode", explode)
    running, thread = start_server(settings, app)
    try:
        with caplog.at_level(logging.ERROR, logger="calmesh.api"):
            async with running.client() as client:
                response = await client.get("/v1/explode")
        body = assert_problem(response, 500, "/problems/internal-error")
        assert "hunter2" not in response.text and "secret/path" not in response.text
        assert "RuntimeError" not in response.text
        assert body["requestId"]
        assert any(r.levelno == logging.ERROR for r in caplog.records)  # the operator still sees it
    finally:
        running.server.should_exit = True
        thread.join(timeout=10)


async def test_request_ids_are_returned_echoed_when_sane_and_logged(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="calmesh.api"):
        generated = (await api.get("/v1/users")).headers["x-request-id"]
        echoed = (await api.get("/v1/users", headers={"x-request-id": "trace-42.a_b"})).headers["x-request-id"]
        forged = (await api.get("/v1/users", headers={"x-request-id": "x\" injected"})).headers["x-request-id"]
    assert len(generated) == 32 and echoed == "trace-42.a_b" and forged not in ("x\" injected", "")
    from calmesh.logs import JsonFormatter

    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.getMessage() == "request"]
    assert {"trace-42.a_b", generated} <= {line.get("requestId") for line in lines}
    assert all({"method", "path", "status", "durationMs"} <= set(line) for line in lines)


async def test_every_list_pages_with_a_cursor(api: httpx.AsyncClient) -> None:
    created = [(await api.post("/v1/users", json={"email": f"u{i}@example.com"})).json()["id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        page = (await api.get("/v1/users", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [u["id"] for u in page["data"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == created and pages == 3
    assert_problem(await api.get("/v1/users", params={"cursor": "%%%"}), 422, "/problems/validation-error")


async def test_users_crud_with_patch_semantics(api: httpx.AsyncClient) -> None:
    user = (await api.post("/v1/users", json={"email": "p@example.com", "name": "Pat", "timeZone": "Europe/Berlin"})).json()
    patched = (await api.patch(f"/v1/users/{user['id']}", json={"name": None})).json()
    assert patched["name"] is None and patched["timeZone"] == "Europe/Berlin"  # unsent fields kept
    body = assert_problem(await api.patch(f"/v1/users/{user['id']}", json={"timeZone": None}), 422,
                          "/problems/validation-error")
    assert body["errors"][0]["field"] == "timeZone"  # type: ignore[index]
    assert (await api.delete(f"/v1/users/{user['id']}")).status_code == 204
    assert_problem(await api.get(f"/v1/users/{user['id']}"), 404, "/problems/not-found")


async def test_a_revoked_api_key_stops_working_at_once(api: httpx.AsyncClient, server: RunningServer) -> None:
    second = (await api.post("/v1/api-keys", json={"name": "ci"})).json()
    assert second["key"].startswith("cmk_") and second["displayPrefix"] == second["key"][:12]
    listed = (await api.get("/v1/api-keys")).json()["data"]
    assert all("key" not in k and "secretHash" not in k for k in listed)
    async with server.client(second["key"]) as client:
        assert (await client.get("/v1/tenant")).status_code == 200
        assert (await api.post(f"/v1/api-keys/{second['id']}/revoke")).json()["revokedAt"]
        assert_problem(await client.get("/v1/tenant"), 401, "/problems/unauthenticated")


async def test_tenant_b_cannot_see_or_touch_tenant_a(server: RunningServer, tenant_key: str) -> None:
    from calmesh.services.runtime import build_runtime
    from calmesh.services.tenants import create_tenant

    rt = build_runtime(server.settings)
    other_key = (await create_tenant(rt, f"b-{uuid.uuid4().hex[:6]}")).api_key.key
    await rt.close()
    async with server.client(tenant_key) as a, server.client(other_key) as b:
        user = (await a.post("/v1/users", json={"email": "alice@example.com"})).json()
        key = (await a.get("/v1/api-keys")).json()["data"][0]
        for response in (
            await b.get(f"/v1/users/{user['id']}"),
            await b.patch(f"/v1/users/{user['id']}", json={"name": "pwned"}),
            await b.delete(f"/v1/users/{user['id']}"),
            await b.post(f"/v1/api-keys/{key['id']}/revoke"),
        ):
            assert_problem(response, 404, "/problems/not-found")
        assert (await b.get("/v1/users")).json()["data"] == []
        assert (await b.post("/v1/users", json={"email": "alice@example.com"})).status_code == 201  # own namespace
        assert (await a.get(f"/v1/users/{user['id']}")).json()["name"] is None
        assert (await a.get("/v1/tenant")).json()["id"] != (await b.get("/v1/tenant")).json()["id"]


async def test_health_readiness_openapi_and_docs(server: RunningServer) -> None:
    async with server.client() as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready", "database": "sqlite"}
        spec = (await client.get("/openapi.json")).json()
        assert {"/v1/users", "/v1/users/{user_id}", "/v1/api-keys", "/v1/tenant"} <= set(spec["paths"])
        assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert "users-create_user" in {op["operationId"] for p in spec["paths"].values() for op in p.values()}
        docs = await client.get("/docs")
        assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
        assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200


async def test_readiness_reports_an_unreachable_database_as_503(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    settings = make_settings("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    app = create_app(settings)
    running, thread = start_server(settings, app)
    try:
        async with running.client() as client:
            assert_problem(await client.get("/readyz"), 503, "/problems/unavailable")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        running.server.should_exit = True
        thread.join(timeout=10)
