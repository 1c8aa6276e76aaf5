"""The Zoom adapter: :class:`ZoomConferencingProvider` and :func:`open_zoom` (PRODUCT.md M3).

Requests, tokens, retries and errors are :mod:`._api`'s. This module decides which requests to
send (protocols.md §3.2-§3.3):

* **account** — ``GET users/me``: the user's ``id``, ``email`` and ``account_id``.
* **create_meeting** — ``GET users/me/settings`` first. When ``schedule_meeting.
  use_pmi_for_scheduled_meetings`` is on, the meeting is the user's personal room: ``POST
  users/me/meetings`` with ``settings.use_pmi=true``; Zoom answers the PMI as the id and the
  PMI's passcode, and the room keeps the user's own settings (the connection's defaults are not
  sent: they would change the personal room for every meeting held in it). Otherwise a scheduled
  meeting (type 2) with ``use_pmi=false`` said explicitly (the account default may be on), the
  connection's defaults, and a one-time passcode from
  :func:`~calmesh.conferencing.passcodes.generate_passcode` meeting the account's rules: the
  settings' ``schedule_meeting.meeting_password_requirement``, else ``?option=meeting_security``'s
  (Zoom offers that call to paid accounts only: refused, there is no requirement — as mod_zoom
  does). Times go as UTC ``yyyy-MM-ddTHH:mm:ssZ`` with the request's ``timezone`` for display.
  Meeting ids are 64-bit integers at Zoom and strings here. Dial-in numbers come from the
  answer's ``settings.global_dial_in_numbers`` as ``"Country (City): number"``.
* **update_meeting** — ``PATCH meetings/{id}`` (204) with the topic, time, agenda and the
  connection's defaults; the join link and passcode stay.
* **delete_meeting** — ``DELETE meetings/{id}`` (204); code 3001 (no such meeting, or expired) is
  success; code 3018 (a personal meeting room) is ``ProviderRefused``: calmesh never deletes one.
* **revoke** — the access token at ``oauth.revoke_url``, which ends the whole grant at Zoom; one
  about to expire is refreshed first, so that Zoom still knows it; a refresh Zoom refuses means
  the grant is gone already (False).

**The daily allowance** (PRODUCT.md M5): every create, update and delete first takes one of the
user's meeting requests from ``config.meeting_gate``, when there is one — before any request,
the settings read included, so a refused one sends nothing. One is taken per call: a retry of a
request Zoom refused (429, 5xx) or could not read (401) is not counted again, as Zoom counts
requests it served.

Topics and agendas longer than Zoom accepts (200 and 2000 characters) are cut to fit: the
calendar event keeps the full text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timezone
from typing import Any

import httpx

from calmesh.auth.oauth import OAuthApp, TokenKeeper, revoke_token
from calmesh.conferencing.passcodes import generate_passcode
from calmesh.errors import ConfigurationError, InvalidInput, ProviderAuthFailed, ProviderProtocolError, ProviderRefused
from calmesh.providers.base import (
    ConferencingAccount,
    CreatedMeeting,
    MeetingDefaults,
    MeetingRequest,
    MeetingRequestGate,
    ProviderConfig,
)
from calmesh.providers.http import ClientOwner, RetryPolicy, operator_client
from calmesh.providers.zoom._api import MEETING_NOT_FOUND, ZoomApi

__all__ = ["ZoomConferencingProvider", "open_zoom"]

log = logging.getLogger(__name__)

#: Zoom's limits on a meeting's text (protocols.md §3.2; zoom_openapi.yaml).
_MAX_TOPIC = 200
_MAX_AGENDA = 2000
_SCHEDULED = 2
_CREATE = "users/me/meetings"
_UTC = timezone.utc
_SETTINGS = "users/me/settings"


class ZoomConferencingProvider(ClientOwner):
    """One Zoom user. Build it with :func:`open_zoom`; ``aclose`` it when done."""

    service = "ZOOM"

    def __init__(
        self,
        client: httpx.AsyncClient,
        app: OAuthApp,
        tokens: TokenKeeper,
        *,
        gate: MeetingRequestGate | None = None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._app = app
        self._gate = gate
        self._api = ZoomApi(client, tokens, retry, gate=gate, sleep=sleep)

    async def account(self) -> ConferencingAccount:
        data = (await self._api.call("GET", "users/me")).data
        user_id = _text(data.get("id"))
        if user_id is None:
            raise ProviderProtocolError("Zoom GET users/me: the answer names no user id")
        return ConferencingAccount(user_id=user_id, email=_text(data.get("email")), account_id=_text(data.get("account_id")))

    async def create_meeting(self, request: MeetingRequest, defaults: MeetingDefaults) -> CreatedMeeting:
        fields = _meeting_fields(request)
        await self._admit()
        schedule = _object((await self._api.call("GET", _SETTINGS)).data.get("schedule_meeting"))
        if schedule.get("use_pmi_for_scheduled_meetings") is True:
            body = {**fields, "type": _SCHEDULED, "settings": {"use_pmi": True}}
            answer = (await self._api.call("POST", _CREATE, body=body, meeting_request=True)).data
            return _created(answer, personal=True, passcode_sent=None)
        passcode = generate_passcode(await self._passcode_requirement(schedule))
        body = {
            **fields,
            "type": _SCHEDULED,
            "password": passcode,
            "settings": {"use_pmi": False, **_settings(defaults)},
        }
        answer = (await self._api.call("POST", _CREATE, body=body, meeting_request=True)).data
        return _created(answer, personal=False, passcode_sent=passcode)

    async def update_meeting(self, meeting_id: str, request: MeetingRequest, defaults: MeetingDefaults) -> None:
        body = {**_meeting_fields(request), "settings": _settings(defaults)}
        path = _meeting_path(meeting_id)
        await self._admit()
        await self._api.call("PATCH", path, body=body, meeting_request=True)

    async def delete_meeting(self, meeting_id: str) -> None:
        path = _meeting_path(meeting_id)
        await self._admit()
        # Already gone (deleted in Zoom, or expired) is what the caller wanted.
        await self._api.call("DELETE", path, meeting_request=True, allow_codes=(MEETING_NOT_FOUND,))

    async def revoke(self) -> bool:
        try:
            tokens = await self._api.session.fresh_tokens()
        except ProviderAuthFailed:
            return False  # the grant is gone already: nothing left to revoke
        if not tokens.access_token:
            return False
        return await revoke_token(self._app, tokens.access_token, http=self._client)

    async def _admit(self) -> None:
        if self._gate is not None:
            await self._gate.admit()

    async def _passcode_requirement(self, schedule: Mapping[str, Any]) -> Mapping[str, Any] | None:
        requirement = schedule.get("meeting_password_requirement")
        if isinstance(requirement, dict):
            return requirement
        try:
            answer = await self._api.call("GET", _SETTINGS, params={"option": "meeting_security"})
        except ProviderRefused as exc:
            # Only paid accounts may read their security settings; others have no passcode rules.
            log.info("zoom: no passcode requirement readable, using none", extra={"action": "passcode", "reason": exc.message})
            return None
        requirement = _object(answer.data.get("meeting_security")).get("meeting_password_requirement")
        return requirement if isinstance(requirement, dict) else None


def open_zoom(config: ProviderConfig) -> ZoomConferencingProvider:
    """A :class:`ZoomConferencingProvider` for ``config`` (``oauth`` and ``tokens`` are required;
    ``meeting_gate`` counts the user's meeting requests when given)."""
    if config.oauth is None or config.tokens is None:
        raise ConfigurationError("a Zoom connection needs the operator's OAuth app and the connection's tokens")
    client = operator_client(base_url=config.oauth.api_base_url, timeout_seconds=config.timeout_seconds)
    return ZoomConferencingProvider(
        client,
        config.oauth,
        config.tokens,
        gate=config.meeting_gate,
        retry=RetryPolicy(base_seconds=config.retry_base_seconds),
    )


# --- bodies and answers ----------------------------------------------------------------------


def _meeting_fields(request: MeetingRequest) -> dict[str, Any]:
    """What a create and an update both say about the meeting."""
    if request.start.tzinfo is None:
        raise ValueError("MeetingRequest.start must be timezone-aware")
    return {
        "topic": request.topic[:_MAX_TOPIC],
        # GMT with Z: Zoom would read a time without it in ``timezone``.
        "start_time": request.start.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": request.duration_minutes,
        "timezone": request.time_zone,
        # Empty rather than absent, so that an update clears an agenda the request no longer has.
        "agenda": (request.agenda or "")[:_MAX_AGENDA],
    }


def _settings(defaults: MeetingDefaults) -> dict[str, Any]:
    """The defaults as Zoom's ``settings`` (the fields have Zoom's names)."""
    return dataclasses.asdict(defaults)


def _created(answer: Mapping[str, Any], *, personal: bool, passcode_sent: str | None) -> CreatedMeeting:
    raw_id = answer.get("id")
    meeting_id = str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else _text(raw_id)
    join_url = _text(answer.get("join_url"))
    if meeting_id is None or not _is_number(meeting_id) or join_url is None:
        raise ProviderProtocolError("Zoom POST users/me/meetings: the answer has no meeting id or join_url")
    return CreatedMeeting(
        id=meeting_id,
        join_url=join_url,
        passcode=_text(answer.get("password")) or passcode_sent,
        personal=personal,
        dial_ins=_dial_ins(_object(answer.get("settings")).get("global_dial_in_numbers")),
    )


def _dial_ins(numbers: object) -> tuple[str, ...]:
    """``settings.global_dial_in_numbers`` as ``"United States (New York): +1 6465588656"``."""
    if not isinstance(numbers, list):
        return ()
    found: list[str] = []
    for entry in numbers:
        if not isinstance(entry, dict) or _text(entry.get("number")) is None:
            continue
        country = _text(entry.get("country_name")) or _text(entry.get("country")) or "?"
        city = _text(entry.get("city"))
        found.append(f"{country}{f' ({city})' if city else ''}: {entry['number']}")
    return tuple(found)


def _meeting_path(meeting_id: str) -> str:
    # Zoom meeting ids are numbers; anything else must not reach the URL path.
    if not _is_number(meeting_id):
        raise InvalidInput(f"{meeting_id!r} is not a Zoom meeting id", field="meetingId")
    return f"meetings/{meeting_id}"


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
