"""Provider names (as the API spells them) to the adapters that serve them.

Adapters are imported when first used, so a process that never talks to CalDAV never imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from calmesh.errors import InvalidInput
from calmesh.providers.base import CalendarProvider, ProviderConfig

__all__ = ["CALENDAR_PROVIDERS", "open_provider"]


def _caldav(config: ProviderConfig) -> CalendarProvider:
    from calmesh.providers.caldav import open_caldav

    return open_caldav(config)


def _ics_feed(config: ProviderConfig) -> CalendarProvider:
    from calmesh.providers.ics_feed import open_ics_feed

    return open_ics_feed(config)


CALENDAR_PROVIDERS: dict[str, Callable[[ProviderConfig], CalendarProvider]] = {
    "CALDAV": _caldav,
    "ICS": _ics_feed,
}


def open_provider(name: str, config: ProviderConfig) -> CalendarProvider:
    try:
        opener = CALENDAR_PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(CALENDAR_PROVIDERS))
        raise InvalidInput(f"unknown calendar provider {name!r}; calmesh knows {known}", field="provider") from None
    return opener(config)
