"""The Zoom emulator's OAuth over HTTP: the code flow with PKCE, refresh-token rotation, revocation, refusals."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta
from urllib.parse import urlencode

import httpx

from tests.sandbox import helpers
from tests.sandbox.helpers import check_deny_and_query_string_choice, pkce
from tests.zoom_sandbox import ADA, ServedZoomSandbox

REDIRECT = "https://app.example.com/zoom/callback"


def basic(zs: ServedZoomSandbox, secret: str | None = None) -> dict[str, str]:
    pair = f"{zs.sandbox.client_id}:{secret if secret is not None else zs.sandbox.client_secret}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def auth_params(zs: ServedZoomSandbox, **more: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": zs.sandbox.client_id, "redirect_uri": REDIRECT, "state": "st-9", **more}


def consent(browser: httpx.Client, zs: ServedZoomSandbox, params: dict[str, str], user: str = ADA) -> dict[str, str]:
    """What a person does: open the page, pick the account, allow; returns the redirect's query."""
    return helpers.consent(browser, f"{zs.url}/oauth/authorize", params, user, page_says="Allow this app", redirect=REDIRECT)


def token(browser: httpx.Client, zs: ServedZoomSandbox, form: dict[str, str], secret: str | None = None) -> httpx.Response:
    return browser.post(f"{zs.url}/oauth/token", data=form, headers=basic(zs, secret))


def exchange(browser: httpx.Client, zs: ServedZoomSandbox, code: str, verifier: str | None = None, **more: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **more}
    if verifier is not None:
        form["code_verifier"] = verifier
    return token(browser, zs, form)


def refresh(browser: httpx.Client, zs: ServedZoomSandbox, refresh_token: str) -> httpx.Response:
    return token(browser, zs, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def me(browser: httpx.Client, zs: ServedZoomSandbox, access_token: str) -> httpx.Response:
    return browser.get(f"{zs.url}/v2/users/me", headers={"Authorization": f"Bearer {access_token}"})


def test_the_code_flow_with_pkce(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    verifier, challenge = pkce()
    back = consent(browser, zs, auth_params(zs, code_challenge=challenge, code_challenge_method="S256"))
    assert set(back) == {"code", "state"} and back["state"] == "st-9"

    answer = exchange(browser, zs, back["code"], verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in", "scope"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3599
    assert body["scope"] == "meeting:write meeting:read user:read"
    assert answer.headers["cache-control"] == "no-store"
    profile = me(browser, zs, body["access_token"])
    assert profile.status_code == 200 and profile.json()["email"] == ADA

    # The code is single-use.
    again = exchange(browser, zs, back["code"], verifier)
    assert again.status_code == 400 and again.json() == {"reason": "Invalid authorization code", "error": "invalid_grant"}


def test_pkce_and_redirect_uri_are_checked(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    verifier, challenge = pkce()
    code = consent(browser, zs, auth_params(zs, code_challenge=challenge, code_challenge_method="S256"))["code"]
    wrong = exchange(browser, zs, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json() == {"reason": "Invalid code_verifier", "error": "invalid_grant"}
    missing = exchange(browser, zs, code)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    elsewhere = exchange(browser, zs, code, verifier, redirect_uri="https://evil.example/cb")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant"
    assert exchange(browser, zs, code, verifier).status_code == 200

    # Without a challenge no verifier is needed; the fields may also come in the query string, as Zoom documents.
    plain = consent(browser, zs, auth_params(zs))["code"]
    query = urlencode({"grant_type": "authorization_code", "code": plain, "redirect_uri": REDIRECT})
    answer = browser.post(f"{zs.url}/oauth/token?{query}", headers=basic(zs))
    assert answer.status_code == 200, answer.text


def test_codes_expire_after_five_minutes(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    fresh = consent(browser, zs, auth_params(zs))["code"]
    stale = consent(browser, zs, auth_params(zs))["code"]
    zs.sandbox.set_clock(zs.sandbox.clock + timedelta(seconds=290))
    assert exchange(browser, zs, fresh).status_code == 200
    zs.sandbox.set_clock(zs.sandbox.clock + timedelta(seconds=20))
    expired = exchange(browser, zs, stale)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_refresh_tokens_rotate_and_the_old_one_dies_at_once(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    first = refresh(browser, zs, zs.refresh_token)
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert set(rotated) == {"access_token", "token_type", "refresh_token", "expires_in", "scope"}
    assert rotated["refresh_token"] != zs.refresh_token and rotated["access_token"] != zs.access_token

    old = refresh(browser, zs, zs.refresh_token)
    assert old.status_code == 400 and old.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    # The new one works, once; the access token from before the refresh stays valid until it expires.
    second = refresh(browser, zs, rotated["refresh_token"])
    assert second.status_code == 200
    assert refresh(browser, zs, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    assert me(browser, zs, zs.access_token).status_code == 200
    assert me(browser, zs, second.json()["access_token"]).status_code == 200


def test_two_concurrent_refreshes_with_one_token_one_wins(zoom_sandbox: ServedZoomSandbox) -> None:
    zs = zoom_sandbox
    for _ in range(5):
        tokens = zs.sandbox.issue_tokens(ADA)
        barrier = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def attempt() -> None:
            with httpx.Client(timeout=10, trust_env=False) as client:
                barrier.wait()
                answers.append(refresh(client, zs, tokens["refresh_token"]))

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(a.status_code for a in answers) == [200, 400]
        loser = next(a for a in answers if a.status_code == 400)
        assert loser.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}


def test_a_grace_period_replays_the_successor_when_configured(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    zs.sandbox.refresh_grace_seconds = 30
    first = refresh(browser, zs, zs.refresh_token).json()
    replay = refresh(browser, zs, zs.refresh_token)
    assert replay.status_code == 200 and replay.json() == first, "the same tokens again, no new rotation"
    zs.sandbox.set_clock(zs.sandbox.clock + timedelta(seconds=31))
    assert refresh(browser, zs, zs.refresh_token).json()["error"] == "invalid_grant"

    # Once the successor itself has been used, the old token has nothing to replay.
    zs.sandbox.set_clock(None)
    tokens = zs.sandbox.issue_tokens(ADA)
    successor = refresh(browser, zs, tokens["refresh_token"]).json()
    assert refresh(browser, zs, successor["refresh_token"]).status_code == 200
    assert refresh(browser, zs, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_access_tokens_expire_after_an_hour_and_refresh_tokens_after_90_days(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    zs.sandbox.set_clock(zs.sandbox.clock + timedelta(minutes=61))
    expired = me(browser, zs, zs.access_token)
    assert expired.status_code == 401 and expired.json() == {"code": 124, "message": "Invalid access token."}
    assert refresh(browser, zs, zs.refresh_token).status_code == 200
    tokens = zs.sandbox.issue_tokens(ADA)
    zs.sandbox.set_clock(zs.sandbox.clock + timedelta(days=91))
    assert refresh(browser, zs, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_client_authentication_is_http_basic(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    form = {"grant_type": "refresh_token", "refresh_token": zs.refresh_token}
    wrong = token(browser, zs, form, secret="nope")
    assert wrong.status_code == 400 and wrong.json() == {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    in_body = browser.post(
        f"{zs.url}/oauth/token", data=form | {"client_id": zs.sandbox.client_id, "client_secret": zs.sandbox.client_secret}
    )
    assert in_body.status_code == 400 and in_body.json()["error"] == "invalid_client"
    unsupported = token(browser, zs, {"grant_type": "password"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    assert refresh(browser, zs, zs.refresh_token).status_code == 200, "the refused requests used nothing up"


def test_revoke_ends_the_whole_grant(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    revoked = browser.post(f"{zs.url}/oauth/revoke", params={"token": zs.access_token}, headers=basic(zs))
    assert revoked.status_code == 200 and revoked.json() == {"status": "success"}
    assert me(browser, zs, zs.access_token).status_code == 401
    assert refresh(browser, zs, zs.refresh_token).json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    again = browser.post(f"{zs.url}/oauth/revoke", params={"token": zs.access_token}, headers=basic(zs))
    assert again.status_code == 400
    assert browser.post(f"{zs.url}/oauth/revoke", params={"token": "x"}).json()["error"] == "invalid_client"


def test_server_to_server_tokens_reach_the_account(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    zs.sandbox.add_user("grace@example.com", first_name="Grace", last_name="Hopper")
    wrong = token(browser, zs, {"grant_type": "account_credentials", "account_id": "someone-else"})
    assert wrong.status_code == 400
    answer = token(browser, zs, {"grant_type": "account_credentials", "account_id": zs.sandbox.account_id})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "refresh_token" not in body and body["scope"] == "meeting:read:admin meeting:write:admin user:read:admin"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert browser.get(f"{zs.url}/v2/users/me", headers=headers).json()["email"] == ADA, "me is the account owner"
    grace = browser.get(f"{zs.url}/v2/users/grace@example.com", headers=headers)
    assert grace.status_code == 200 and grace.json()["role_name"] == "Member"
    # A user-level token reaches only its own user.
    assert me(browser, zs, zs.access_token).status_code == 200
    other = browser.get(f"{zs.url}/v2/users/grace@example.com", headers={"Authorization": f"Bearer {zs.access_token}"})
    assert other.status_code == 404 and other.json() == {"code": 1001, "message": "User does not exist: grace@example.com."}


def test_the_consent_page_declines_and_refuses_bad_requests(zoom_sandbox: ServedZoomSandbox, browser: httpx.Client) -> None:
    zs = zoom_sandbox
    zs.sandbox.add_user("grace@example.com", first_name="Grace", last_name="Hopper")
    params = auth_params(zs)
    page = browser.get(f"{zs.url}/oauth/authorize", params=params)
    assert "Ada Lovelace" in page.text and "Grace Hopper" in page.text
    assert 'action="/oauth/authorize/consent"' in page.text and 'value="deny"' in page.text
    code = check_deny_and_query_string_choice(browser, f"{zs.url}/oauth/authorize", params, "grace@example.com")
    tokens = exchange(browser, zs, code).json()
    assert me(browser, zs, tokens["access_token"]).json()["email"] == "grace@example.com"

    for change in ({"client_id": "unknown"}, {"response_type": "token"}, {"redirect_uri": ""}, {"code_challenge": "x", "code_challenge_method": "S512"}):
        refused = browser.get(f"{zs.url}/oauth/authorize", params=auth_params(zs, **change))
        assert refused.status_code == 400 and refused.headers["content-type"].startswith("text/html"), change
