"""Provider names (as the API spells them) to the adapters that serve them: calendar providers
(:func:`open_provider`) and conferencing providers (:func:`open_conferencing_provider`).

Adapters are imported when first used, so a process that never talks to CalDAV never imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from calmesh.errors import InvalidInput
from calmesh.providers.base import CalendarProvider, ConferencingProvider, ProviderConfig

__all__ = ["CALENDAR_PROVIDERS", "CONFERENCING_PROVIDERS", "open_conferencing_provider", "open_provider"]


def _caldav(config: ProviderConfig) -> CalendarProvider:
    from calmesh.providers.caldav import open_caldav

    return open_caldav(config)


def _google(config: ProviderConfig) -> CalendarProvider:
    from calmesh.providers.google import open_google

    return open_google(config)


def _ics_feed(config: ProviderConfig) -> CalendarProvider:
    from calmesh.providers.ics_feed import open_ics_feed

    return open_ics_feed(config)


CALENDAR_PROVIDERS: dict[str, Callable[[ProviderConfig], CalendarProvider]] = {
    "CALDAV": _caldav,
    "GOOGLE": _google,
    "ICS": _ics_feed,
}


def open_provider(name: str, config: ProviderConfig) -> CalendarProvider:
    try:
        opener = CALENDAR_PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(CALENDAR_PROVIDERS))
        raise InvalidInput(f"unknown calendar provider {name!r}; calmesh knows {known}", field="provider") from None
    return opener(config)


def _zoom(config: ProviderConfig) -> ConferencingProvider:
    from calmesh.providers.zoom import open_zoom

    return open_zoom(config)


CONFERENCING_PROVIDERS: dict[str, Callable[[ProviderConfig], ConferencingProvider]] = {
    "ZOOM": _zoom,
}


def open_conferencing_provider(name: str, config: ProviderConfig) -> ConferencingProvider:
    try:
        opener = CONFERENCING_PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(CONFERENCING_PROVIDERS))
        raise InvalidInput(
            f"unknown conferencing provider {name!r}; calmesh knows {known}", field="provider"
        ) from None
    return opener(config)
