"""The emulator's OAuth 2.0 endpoints over HTTP: the code flow with PKCE, refresh, revocation, refusals."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from tests.google_sandbox import ServedGoogleSandbox
from tests.sandbox import helpers
from tests.sandbox.helpers import check_deny_and_query_string_choice, pkce

CALENDAR = "https://www.googleapis.com/auth/calendar"
REDIRECT = "https://app.example.com/oauth/callback"


def auth_params(gs: ServedGoogleSandbox, **more: str) -> dict[str, str]:
    params = {
        "client_id": gs.sandbox.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": f"{CALENDAR}.events {CALENDAR}.readonly",
        "state": "st-123",
        "access_type": "offline",
    }
    params.update(more)
    return params


def consent(browser: httpx.Client, gs: ServedGoogleSandbox, params: dict[str, str], user: str = "ada@example.com") -> dict[str, str]:
    """What a person does: open the page, pick the account, allow; returns the redirect's query."""
    return helpers.consent(browser, f"{gs.url}/o/oauth2/v2/auth", params, user, page_says="Choose an account", redirect=REDIRECT)


def exchange(browser: httpx.Client, gs: ServedGoogleSandbox, code: str, verifier: str | None, **more: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": gs.sandbox.client_id,
        "client_secret": gs.sandbox.client_secret,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    form.update(more)
    return browser.post(f"{gs.url}/token", data=form)


def test_the_full_code_flow_with_pkce_refresh_and_revocation(google_sandbox: ServedGoogleSandbox, browser: httpx.Client) -> None:
    gs = google_sandbox
    verifier, challenge = pkce()
    back = consent(browser, gs, auth_params(gs, code_challenge=challenge, code_challenge_method="S256"))
    assert back["state"] == "st-123" and back["code"].startswith("4/0")
    assert back["scope"] == f"{CALENDAR}.events {CALENDAR}.readonly"

    tokens = exchange(browser, gs, back["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert body["access_token"].startswith("ya29.") and body["refresh_token"].startswith("1//")
    assert body["expires_in"] == 3599 and body["token_type"] == "Bearer"
    api = browser.get(f"{gs.url}/calendar/v3/users/me/calendarList", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert api.status_code == 200 and api.json()["items"][0]["id"] == "ada@example.com"

    # Refresh with HTTP Basic client authentication: a new access token, no new refresh token.
    basic = base64.b64encode(f"{gs.sandbox.client_id}:{gs.sandbox.client_secret}".encode()).decode()
    refreshed = browser.post(
        f"{gs.url}/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert "refresh_token" not in refreshed.json()
    assert refreshed.json()["access_token"] != body["access_token"]

    assert browser.post(f"{gs.url}/revoke", data={"token": refreshed.json()["access_token"]}).json() == {}
    again = browser.post(
        f"{gs.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": gs.sandbox.client_id,
            "client_secret": gs.sandbox.client_secret,
        },
    )
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    dead = browser.get(f"{gs.url}/calendar/v3/users/me/calendarList", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert dead.status_code == 401
    assert browser.post(f"{gs.url}/revoke", data={"token": body["refresh_token"]}).json()["error"] == "invalid_token"
    assert browser.get(f"{gs.url}/revoke", params={"token": "x"}).status_code == 404


def test_a_wrong_verifier_a_reused_code_a_wrong_redirect_and_a_wrong_secret_are_refused(
    google_sandbox: ServedGoogleSandbox, browser: httpx.Client
) -> None:
    gs = google_sandbox
    verifier, challenge = pkce()
    code = consent(browser, gs, auth_params(gs, code_challenge=challenge, code_challenge_method="S256"))["code"]

    wrong_verifier = exchange(browser, gs, code, pkce()[0])
    assert wrong_verifier.status_code == 400 and wrong_verifier.json()["error"] == "invalid_grant"
    missing_verifier = exchange(browser, gs, code, None)
    assert missing_verifier.status_code == 400 and missing_verifier.json()["error"] == "invalid_grant"
    wrong_redirect = exchange(browser, gs, code, verifier, redirect_uri="https://evil.example/cb")
    assert wrong_redirect.status_code == 400 and wrong_redirect.json()["error"] == "invalid_grant"
    wrong_secret = exchange(browser, gs, code, verifier, client_secret="nope")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == {"error": "invalid_client", "error_description": "Unauthorized"}

    assert exchange(browser, gs, code, verifier).status_code == 200
    reused = exchange(browser, gs, code, verifier)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_a_code_expires_after_ten_minutes(google_sandbox: ServedGoogleSandbox, browser: httpx.Client) -> None:
    gs = google_sandbox
    code = consent(browser, gs, auth_params(gs))["code"]
    oauth = gs.sandbox._oauth
    real_now = oauth.now
    oauth.now = lambda: real_now() + 601
    try:
        expired = exchange(browser, gs, code, None)
    finally:
        oauth.now = real_now
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_a_second_grant_has_no_refresh_token_unless_prompt_consent(google_sandbox: ServedGoogleSandbox, browser: httpx.Client) -> None:
    gs = google_sandbox
    first = exchange(browser, gs, consent(browser, gs, auth_params(gs))["code"], None).json()
    assert "refresh_token" in first
    second = exchange(browser, gs, consent(browser, gs, auth_params(gs))["code"], None).json()
    assert "refresh_token" not in second and second["access_token"].startswith("ya29.")
    forced = exchange(browser, gs, consent(browser, gs, auth_params(gs, prompt="consent"))["code"], None).json()
    assert "refresh_token" in forced
    online = exchange(browser, gs, consent(browser, gs, auth_params(gs, access_type="online", prompt="consent"))["code"], None).json()
    assert "refresh_token" not in online


def test_the_consent_page_lists_every_user_marks_the_hint_and_deny_redirects_with_access_denied(
    google_sandbox: ServedGoogleSandbox, browser: httpx.Client
) -> None:
    gs = google_sandbox
    gs.sandbox.add_user("grace@example.com", "Grace Hopper")
    params = auth_params(gs, login_hint="grace@example.com")
    page = browser.get(f"{gs.url}/o/oauth2/auth", params=params)  # the legacy path works too
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text and "Grace Hopper" in page.text
    assert re.search(r'value="grace@example.com" class="hinted" autofocus', page.text)
    assert 'name="decision" value="deny"' in page.text and 'action="/o/oauth2/v2/auth/consent"' in page.text

    check_deny_and_query_string_choice(browser, f"{gs.url}/o/oauth2/v2/auth", params, "grace@example.com")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": ""}, "invalid_request"),
        ({"code_challenge": "abc", "code_challenge_method": "S512"}, "invalid_request"),
    ],
)
def test_bad_authorization_requests_get_an_error_page(
    google_sandbox: ServedGoogleSandbox, browser: httpx.Client, change: dict[str, str], error: str
) -> None:
    page = browser.get(f"{google_sandbox.url}/o/oauth2/v2/auth", params=auth_params(google_sandbox, **change))
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert error in page.text


def test_a_client_with_registered_redirects_refuses_others(google_sandbox: ServedGoogleSandbox, browser: httpx.Client) -> None:
    gs = google_sandbox
    gs.sandbox.add_client("strict", "s3cret", redirect_uris=[REDIRECT])
    ok = browser.get(f"{gs.url}/o/oauth2/v2/auth", params=auth_params(gs, client_id="strict"))
    assert ok.status_code == 200
    refused = browser.get(f"{gs.url}/o/oauth2/v2/auth", params=auth_params(gs, client_id="strict", redirect_uri="https://x.example/cb"))
    assert refused.status_code == 400 and "redirect_uri_mismatch" in refused.text
    code = consent(browser, gs, auth_params(gs, client_id="strict"))["code"]
    # The code is bound to its client: another client cannot redeem it.
    assert exchange(browser, gs, code, None).json()["error"] == "invalid_grant"
    tokens = exchange(browser, gs, code, None, client_id="strict", client_secret="s3cret")
    assert tokens.status_code == 200


def test_unsupported_grants_and_revoked_grants(google_sandbox: ServedGoogleSandbox, browser: httpx.Client) -> None:
    gs = google_sandbox
    creds = {"client_id": gs.sandbox.client_id, "client_secret": gs.sandbox.client_secret}
    unsupported = browser.post(f"{gs.url}/token", data={"grant_type": "password", **creds})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"

    tokens = gs.sandbox.issue_tokens("ada@example.com")
    gs.sandbox.revoke_grants("ada@example.com")
    refused = browser.post(f"{gs.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **creds})
    assert refused.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    with gs.client(tokens["access_token"]) as api:
        assert api.get("/calendar/v3/users/me/calendarList").status_code == 401


def test_an_injected_token_fault_answers_in_the_oauth_shape(google_sandbox: ServedGoogleSandbox, browser: httpx.Client) -> None:
    gs = google_sandbox
    tokens = gs.sandbox.issue_tokens("ada@example.com")
    gs.sandbox.inject(400, reason="invalid_grant", path="^/token$")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": gs.sandbox.client_id,
        "client_secret": gs.sandbox.client_secret,
    }
    failed = browser.post(f"{gs.url}/token", data=form)
    assert failed.status_code == 400
    assert failed.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    assert browser.post(f"{gs.url}/token", data=form).status_code == 200
    recorded = [r for r in gs.sandbox.requests if r.path == "/token"]
    assert recorded[-1].form is not None and recorded[-1].form["grant_type"] == "refresh_token"


def test_prompt_none_answers_from_an_existing_grant_or_asks_for_interaction(
    google_sandbox: ServedGoogleSandbox, browser: httpx.Client
) -> None:
    gs = google_sandbox
    params = auth_params(gs, prompt="none", login_hint="ada@example.com")
    before = browser.get(f"{gs.url}/o/oauth2/v2/auth", params=params)
    assert before.status_code == 302 and "error=interaction_required" in before.headers["location"]
    consent(browser, gs, auth_params(gs))
    after = browser.get(f"{gs.url}/o/oauth2/v2/auth", params=params)
    assert after.status_code == 302 and "code=" in after.headers["location"]
