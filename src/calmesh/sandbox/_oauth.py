"""What the emulators' OAuth authorities share: the authorization pages, redirects, client and PKCE checks.

* :class:`AuthorizationPages` — the browser side of the authorization code flow, for an
  authority to inherit: ``authorize`` (check the request, show the consent page) and
  ``consent`` (what the page's forms send: the authorization parameters, as form fields or
  still in the query string, plus ``user=<email>`` and ``decision=allow|deny``; answered by a
  302 to ``redirect_uri`` with a code or ``error=access_denied``, and ``state``). A request that
  fails its checks (:class:`PageError`) is an HTML error page, never a redirect: its
  ``redirect_uri`` is not trusted yet. The subclass checks requests, finds accounts, issues
  codes and draws its service's pages.
* :func:`consent_page` and :func:`html_page` draw those pages: a list of accounts to sign in
  as (each a button), the scopes asked for, a Deny button.
* The records every authority keeps — :class:`AuthorizationRequest`, :class:`AuthorizationCode`,
  :class:`IssuedToken` — for each emulator to extend with its own fields.
* :func:`redirect_to`, :func:`requested_pkce`, :func:`pkce_challenge`, :func:`basic_credentials`.
"""

from __future__ import annotations

import base64
import hashlib
import html
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from calmesh.sandbox._common import Call

__all__ = [
    "Account",
    "AuthorizationCode",
    "AuthorizationPages",
    "AuthorizationRequest",
    "IssuedToken",
    "PageError",
    "basic_credentials",
    "consent_page",
    "html_page",
    "pkce_challenge",
    "redirect_to",
    "requested_pkce",
]

_CONSENT_STYLE = (
    "body{font-family:sans-serif;max-width:36em;margin:3em auto}button{margin:.3em 0;padding:.5em 1em}"
    ".hinted{font-weight:bold}"
)


@dataclass(frozen=True, kw_only=True)
class AuthorizationRequest:
    """A checked authorization request (an emulator may subclass it to keep more of it)."""

    client_id: str
    redirect_uri: str
    state: str | None
    #: The PKCE challenge (None: the client uses no PKCE) and its method, ``S256`` or ``plain``.
    challenge: str | None
    method: str
    #: The parameters as sent, for the consent page's forms to send back.
    params: dict[str, str]


@dataclass(kw_only=True)
class AuthorizationCode:
    """A code issued on consent: single-use, short-lived, bound to its request (an emulator adds the user)."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    method: str
    expires_at: float
    used: bool = False


@dataclass(kw_only=True)
class IssuedToken:
    """An access or refresh token (an emulator adds whose it is)."""

    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False


R = TypeVar("R", bound=AuthorizationRequest)
U = TypeVar("U")


class PageError(Exception):
    """An authorization request answered with an HTML error page (never a redirect)."""

    def __init__(self, description: str, *, error: str = "invalid_request", status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        #: The OAuth error code, for services whose page shows one.
        self.error = error
        self.status = status


class AuthorizationPages(ABC, Generic[R, U]):
    """``authorize`` and ``consent``, over a subclass's checks (``R``: a checked request; ``U``: a user)."""

    #: What the sandbox calls the people on the consent page ("account", "user"), in its errors.
    account_noun: ClassVar[str]

    async def authorize(self, call: Call) -> Response:
        try:
            request = self._check(dict(call.query))
        except PageError as exc:
            return self._error_page(exc)
        return self._answer_without_page(request) or self._consent_page(request)

    async def consent(self, call: Call) -> Response:
        params = dict(call.query)
        params.update(call.form or {})
        email = params.pop("user", None)
        decision = params.pop("decision", None)
        try:
            request = self._check(params)
            if decision not in ("allow", "deny"):
                raise PageError("decision must be allow or deny.")
            if decision == "deny":
                return redirect_to(request.redirect_uri, {"error": "access_denied"}, request.state)
            user = self._account(email) if email else None
            if user is None:
                raise PageError(f"There is no {self.account_noun} {email or '(none given)'} in this sandbox.")
        except PageError as exc:
            return self._error_page(exc)
        return redirect_to(request.redirect_uri, self._new_code(request, user), request.state)

    @abstractmethod
    def _check(self, params: dict[str, str]) -> R:
        """The authorization request these parameters make; raises :class:`PageError`."""

    @abstractmethod
    def _account(self, email: str) -> U | None:
        """The sandbox user ``email`` names, if any."""

    @abstractmethod
    def _new_code(self, request: R, user: U) -> dict[str, str]:
        """The user allowed: what the redirect carries (``code`` …; ``state`` is added)."""

    @abstractmethod
    def _consent_page(self, request: R) -> Response:
        """The page a person chooses an account on (usually :func:`consent_page`)."""

    @abstractmethod
    def _error_page(self, error: PageError) -> Response:
        """The service's error page for a refused authorization request."""

    def _answer_without_page(self, request: R) -> Response | None:
        """An answer that skips the consent page (Google's ``prompt=none``); None shows the page."""
        return None


@dataclass(frozen=True)
class Account:
    """One account a consent page offers to sign in as."""

    email: str
    name: str = ""
    #: Shown in bold and focused (the request's ``login_hint``).
    hinted: bool = False


def consent_page(
    *,
    title: str,
    heading: str,
    intro: str,
    scopes: Iterable[str],
    account_prompt: str | None,
    accounts: Iterable[Account],
    no_accounts: str,
    action: str,
    params: Mapping[str, str],
    deny: str,
) -> Response:
    """A consent page: ``intro`` (HTML) over the scopes, a button per account, a ``deny`` button.

    Both forms POST to ``action`` the authorization ``params`` as hidden fields, plus
    ``decision`` and (allowing) ``user``. ``no_accounts`` stands in for an empty list.
    """
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items())
    buttons = []
    for account in accounts:
        email = html.escape(account.email)
        label = f"{html.escape(account.name)} &lt;{email}&gt;" if account.name else email
        marker = ' class="hinted" autofocus' if account.hinted else ""
        buttons.append(f'<li><button type="submit" name="user" value="{email}"{marker}>{label}</button></li>')
    listing = "".join(buttons) or f"<li>{html.escape(no_accounts)}</li>"
    scope_items = "".join(f"<li><code>{html.escape(scope)}</code></li>" for scope in scopes)
    prompt = f"<p>{html.escape(account_prompt)}</p>" if account_prompt else ""
    body = (
        f"<h1>{html.escape(heading)}</h1><p>{intro}</p><ul>{scope_items}</ul>{prompt}"
        f'<form method="post" action="{action}">{hidden}'
        f'<input type="hidden" name="decision" value="allow"><ul>{listing}</ul></form>'
        f'<form method="post" action="{action}">{hidden}'
        f'<input type="hidden" name="decision" value="deny"><button type="submit">{html.escape(deny)}</button></form>'
    )
    return html_page(title, body, style=_CONSENT_STYLE)


def html_page(title: str, body: str, *, status: int = 200, style: str = "") -> Response:
    """A small HTML page; ``body`` and ``style`` are used as they are (escape what goes in them)."""
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title>' + (f"<style>{style}</style>" if style else "")
    return HTMLResponse(f"<!doctype html><html><head>{head}</head><body>{body}</body></html>", status_code=status)


def requested_pkce(params: Mapping[str, str]) -> tuple[str | None, str]:
    """An authorization request's PKCE ``code_challenge`` (None if absent) and method; raises :class:`PageError`."""
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or "plain"
    if method not in ("S256", "plain"):
        raise PageError("Invalid code_challenge_method: must be S256 or plain.")
    return challenge, method


def redirect_to(uri: str, values: dict[str, str], state: str | None = None) -> Response:
    """302 to ``uri`` with ``values`` (and ``state``, when the request had one) added to its query string."""
    if state is not None:
        values = {**values, "state": state}
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode(values)}" if parts.query else urlencode(values)
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


def pkce_challenge(verifier: str, method: str) -> str:
    """The code challenge a PKCE ``code_verifier`` stands for (RFC 7636 §4.2: ``S256`` or ``plain``)."""
    if method == "plain":
        return verifier
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """``(client_id, secret)`` from an ``Authorization: Basic …`` header; None if it is not one."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip()).decode()
    except ValueError:
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)
