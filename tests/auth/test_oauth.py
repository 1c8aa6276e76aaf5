"""OAuth 2.0 client functions against the served Google emulator: PKCE, code exchange, refresh,
revocation, errors that never show a token, and a keeper that refreshes once for many callers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from calmesh.auth.oauth import (
    AuthorizationRequest,
    MemoryTokenKeeper,
    OAuthApp,
    TokenSet,
    authorization_request,
    exchange_code,
    refresh_tokens,
    revoke_token,
)
from calmesh.errors import ProviderAuthFailed, ProviderProtocolError, ProviderUnreachable
from calmesh.providers.google import GOOGLE_SCOPES, google_app
from calmesh.providers.zoom import zoom_app
from calmesh.sandbox.serving import serve_in_thread
from tests.google_sandbox import ServedGoogleSandbox
from tests.zoom_sandbox import ServedZoomSandbox

ADA = "ada@example.com"
REDIRECT = "http://127.0.0.1:9/oauth/google/callback"


def app_for(served: ServedGoogleSandbox, *, secret: str | None = None) -> OAuthApp:
    sb = served.sandbox
    return google_app(sb.client_id, secret or sb.client_secret, accounts_url=served.url, oauth_url=served.url, api_url=served.url)


def consent(served: ServedGoogleSandbox, request: AuthorizationRequest, user: str = ADA) -> str:
    """Drive the emulator's consent page as Ada would, and return the code from the redirect."""
    url = urlsplit(request.url)
    with httpx.Client(trust_env=False) as client:
        assert client.get(request.url).status_code == 200
        answer = client.post(f"{served.url}{url.path}/consent", data={**dict(parse_qsl(url.query)), "user": user, "decision": "allow"})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    back = dict(parse_qsl(location.query))
    assert back["state"] == request.state
    return back["code"]


def token_requests(served: ServedGoogleSandbox) -> int:
    return sum(1 for r in served.sandbox.requests if r.path == "/token")


async def connect(served: ServedGoogleSandbox) -> tuple[OAuthApp, TokenSet]:
    app = app_for(served)
    request = authorization_request(app, REDIRECT, "state-1")
    return app, await exchange_code(app, consent(served, request), REDIRECT, request.code_verifier)


# --- the authorization URL ------------------------------------------------------------------


def test_the_authorization_url_carries_pkce_state_and_googles_parameters(google_sandbox: ServedGoogleSandbox) -> None:
    app = app_for(google_sandbox)
    request = authorization_request(app, REDIRECT, "state-123", login_hint=ADA)

    url = urlsplit(request.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == app.authorize_url == f"{google_sandbox.url}/o/oauth2/v2/auth"
    query = dict(parse_qsl(url.query))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(request.code_verifier.encode()).digest()).decode().rstrip("=")
    assert query == {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": " ".join(GOOGLE_SCOPES),
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "login_hint": ADA,
    }
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", request.code_verifier)
    assert request.code_verifier not in repr(request) and app.client_secret not in request.url
    assert authorization_request(app, REDIRECT, "state-123").code_verifier != request.code_verifier
    narrow = authorization_request(app, REDIRECT, "s", scopes=["https://www.googleapis.com/auth/calendar.readonly"])
    assert dict(parse_qsl(urlsplit(narrow.url).query))["scope"] == "https://www.googleapis.com/auth/calendar.readonly"


# --- code exchange and refresh ----------------------------------------------------------------


async def test_a_code_becomes_tokens_that_refresh_without_rotating(google_sandbox: ServedGoogleSandbox) -> None:
    app, tokens = await connect(google_sandbox)

    assert tokens.access_token and tokens.refresh_token
    assert tokens.expires_at is not None
    assert abs(tokens.expires_at - (datetime.now(UTC) + timedelta(seconds=3599))) < timedelta(seconds=30)
    assert tokens.scope is not None and set(GOOGLE_SCOPES) <= set(tokens.scope.split())
    exchange = next(r for r in google_sandbox.sandbox.requests if r.path == "/token")
    assert exchange.form is not None and exchange.form["grant_type"] == "authorization_code"
    assert exchange.form["code_verifier"] and exchange.form["client_id"] == app.client_id

    refreshed = await refresh_tokens(app, tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token == tokens.refresh_token  # Google does not rotate it
    assert refreshed.expires_at is not None and refreshed.expires_at > datetime.now(UTC)


async def test_a_wrong_verifier_is_refused_without_echoing_secrets(google_sandbox: ServedGoogleSandbox) -> None:
    app = app_for(google_sandbox)
    request = authorization_request(app, REDIRECT, "state-1")
    code = consent(google_sandbox, request)
    wrong = "x" * 48
    with pytest.raises(ProviderAuthFailed) as refused:
        await exchange_code(app, code, REDIRECT, wrong)
    message = refused.value.message
    assert "invalid_grant" in message
    assert code not in message and wrong not in message and app.client_secret not in message


async def test_a_revoked_grant_fails_the_refresh_with_a_readable_message(google_sandbox: ServedGoogleSandbox) -> None:
    app, tokens = await connect(google_sandbox)
    assert tokens.refresh_token is not None
    google_sandbox.sandbox.revoke_grants(ADA)
    with pytest.raises(ProviderAuthFailed) as refused:
        await refresh_tokens(app, tokens.refresh_token)
    message = refused.value.message
    assert "invalid_grant" in message and "connect the account again" in message
    assert tokens.refresh_token not in message and tokens.access_token not in message


async def test_a_wrong_client_secret_is_an_auth_failure(google_sandbox: ServedGoogleSandbox) -> None:
    _, tokens = await connect(google_sandbox)
    assert tokens.refresh_token is not None
    with pytest.raises(ProviderAuthFailed, match="invalid_client"):
        await refresh_tokens(app_for(google_sandbox, secret="GOCSPX-wrong"), tokens.refresh_token)


async def test_token_endpoint_outages_are_unreachable(google_sandbox: ServedGoogleSandbox) -> None:
    app, tokens = await connect(google_sandbox)
    assert tokens.refresh_token is not None
    google_sandbox.sandbox.inject(503, path="^/token$")
    with pytest.raises(ProviderUnreachable):
        await refresh_tokens(app, tokens.refresh_token)
    closed = OAuthApp(**{**_fields(app), "token_url": "http://127.0.0.1:9/token"})
    with pytest.raises(ProviderUnreachable):
        await refresh_tokens(closed, tokens.refresh_token)


@pytest.fixture
def garbage_token_server() -> Iterator[str]:
    async def answer(request: Request) -> Response:
        if request.url.path == "/html":
            return PlainTextResponse("<html>hello</html>", media_type="text/html")
        return Response('{"token_type": "Bearer"}', media_type="application/json")

    running = serve_in_thread(Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])]))
    try:
        yield running.url
    finally:
        running.stop()


async def test_answers_that_are_not_token_responses_are_protocol_errors(
    google_sandbox: ServedGoogleSandbox, garbage_token_server: str
) -> None:
    app = app_for(google_sandbox)
    for path in ("/html", "/no-access-token"):
        broken = OAuthApp(**{**_fields(app), "token_url": garbage_token_server + path})
        with pytest.raises(ProviderProtocolError):
            await refresh_tokens(broken, "1//0refresh")


async def test_a_callers_http_client_is_used_and_left_open(google_sandbox: ServedGoogleSandbox) -> None:
    app, tokens = await connect(google_sandbox)
    assert tokens.refresh_token is not None
    seen: list[str] = []

    async def note(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [note]}, trust_env=False) as http:
        await refresh_tokens(app, tokens.refresh_token, http=http)
        await refresh_tokens(app, tokens.refresh_token, http=http)
        assert not http.is_closed
    assert seen == ["/token", "/token"]


# --- revocation -------------------------------------------------------------------------------


async def test_revoking_twice_says_whether_anything_was_revoked(google_sandbox: ServedGoogleSandbox) -> None:
    app, tokens = await connect(google_sandbox)
    assert tokens.refresh_token is not None
    assert await revoke_token(app, tokens.refresh_token) is True
    assert await revoke_token(app, tokens.refresh_token) is False
    with pytest.raises(ProviderAuthFailed):
        await refresh_tokens(app, tokens.refresh_token)
    assert await revoke_token(OAuthApp(**{**_fields(app), "revoke_url": None}), "anything") is False


# --- the in-memory keeper ---------------------------------------------------------------------


async def test_concurrent_refreshes_of_the_same_tokens_ask_google_once(google_sandbox: ServedGoogleSandbox) -> None:
    app, tokens = await connect(google_sandbox)
    keeper = MemoryTokenKeeper(app, tokens)
    stale = await keeper.current()
    before = token_requests(google_sandbox)

    results = await asyncio.gather(*(keeper.refresh(stale) for _ in range(10)))

    assert token_requests(google_sandbox) == before + 1 and keeper.refreshes == 1
    assert len({r.access_token for r in results}) == 1 and results[0].access_token != stale.access_token
    assert (await keeper.current()) == results[0] and results[0].refresh_token == tokens.refresh_token
    # Refreshing with tokens someone already replaced hands out the held ones.
    assert await keeper.refresh(stale) == results[0] and token_requests(google_sandbox) == before + 1


async def test_a_keeper_without_a_refresh_token_cannot_refresh(google_sandbox: ServedGoogleSandbox) -> None:
    keeper = MemoryTokenKeeper(app_for(google_sandbox), TokenSet("ya29.only-access"))
    with pytest.raises(ProviderAuthFailed, match="connect the account again"):
        await keeper.refresh(await keeper.current())


# --- Zoom: HTTP Basic client authentication, rotating refresh tokens -------------------------------


ZOOM_REDIRECT = "http://127.0.0.1:9/oauth/zoom/callback"


def zoom_app_for(served: ServedZoomSandbox) -> OAuthApp:
    return zoom_app(served.sandbox.client_id, served.sandbox.client_secret, oauth_url=served.url, api_url=served.url)


async def zoom_connect(served: ServedZoomSandbox) -> tuple[OAuthApp, TokenSet]:
    """Ada authorizes the app on the emulator's consent page; the code becomes tokens."""
    app = zoom_app_for(served)
    request = authorization_request(app, ZOOM_REDIRECT, "state-z")
    url = urlsplit(request.url)
    assert f"{served.url}{url.path}" == app.authorize_url == f"{served.url}/oauth/authorize"
    with httpx.Client(trust_env=False) as client:
        assert client.get(request.url).status_code == 200
        answer = client.post(
            f"{served.url}/oauth/authorize/consent", data={**dict(parse_qsl(url.query)), "user": ADA, "decision": "allow"}
        )
    assert answer.status_code == 302
    back = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    assert back["state"] == "state-z"
    return app, await exchange_code(app, back["code"], ZOOM_REDIRECT, request.code_verifier)


def zoom_token_requests(served: ServedZoomSandbox) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(headers, form) of every request to /oauth/token."""
    return [(r.headers, r.form or {}) for r in served.sandbox.requests if r.path == "/oauth/token"]


def basic(app: OAuthApp) -> str:
    return "Basic " + base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()


async def test_zoom_codes_and_refreshes_authenticate_the_client_with_http_basic(zoom_sandbox: ServedZoomSandbox) -> None:
    app, tokens = await zoom_connect(zoom_sandbox)
    assert tokens.access_token and tokens.refresh_token and tokens.expires_at is not None
    assert tokens.scope is not None and set(tokens.scope.split()) == {"meeting:write", "meeting:read", "user:read"}

    refreshed = await refresh_tokens(app, tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token and refreshed.refresh_token not in (None, tokens.refresh_token)

    sent = zoom_token_requests(zoom_sandbox)
    assert [form["grant_type"] for _, form in sent] == ["authorization_code", "refresh_token"]
    for headers, form in sent:
        assert headers["authorization"] == basic(app)
        assert "client_secret" not in form and "client_id" not in form
    assert sent[0][1]["code_verifier"]


async def test_zoom_rotates_refresh_tokens_so_a_used_one_is_refused(zoom_sandbox: ServedZoomSandbox) -> None:
    app, tokens = await zoom_connect(zoom_sandbox)
    assert tokens.refresh_token is not None
    rotated = await refresh_tokens(app, tokens.refresh_token)
    assert rotated.refresh_token is not None

    with pytest.raises(ProviderAuthFailed) as refused:
        await refresh_tokens(app, tokens.refresh_token)
    message = refused.value.message
    assert "invalid_grant" in message and "connect the account again" in message
    assert tokens.refresh_token not in message and app.client_secret not in message
    # The one it rotated into still works (and rotates in turn).
    assert (await refresh_tokens(app, rotated.refresh_token)).refresh_token != rotated.refresh_token


async def test_zoom_refuses_client_credentials_in_the_form_body(zoom_sandbox: ServedZoomSandbox) -> None:
    app, tokens = await zoom_connect(zoom_sandbox)
    assert tokens.refresh_token is not None
    posting = OAuthApp(**{**_fields(app), "token_endpoint_auth_method": "client_secret_post"})
    with pytest.raises(ProviderAuthFailed, match="invalid_client") as refused:
        await refresh_tokens(posting, tokens.refresh_token)
    assert app.client_secret not in refused.value.message


async def test_zoom_revocation_ends_the_grant_and_says_whether_anything_was_revoked(zoom_sandbox: ServedZoomSandbox) -> None:
    app, tokens = await zoom_connect(zoom_sandbox)
    assert tokens.refresh_token is not None

    assert await revoke_token(app, tokens.access_token) is True
    assert await revoke_token(app, tokens.access_token) is False  # Zoom: 400 invalid_request "Invalid Token!"

    revocation = next(r for r in zoom_sandbox.sandbox.requests if r.path == "/oauth/revoke")
    assert revocation.method == "POST" and revocation.headers["authorization"] == basic(app)
    assert revocation.form == {"token": tokens.access_token}
    with pytest.raises(ProviderAuthFailed):
        await refresh_tokens(app, tokens.refresh_token)


def _fields(app: OAuthApp) -> dict[str, object]:
    return {name: getattr(app, name) for name in OAuthApp.__dataclass_fields__}
