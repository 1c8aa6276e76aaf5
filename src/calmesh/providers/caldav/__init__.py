"""CalDAV (RFC 4791) calendars: iCloud, Fastmail, Nextcloud, Radicale, Xandikos and the rest.

Owns everything between a CalDAV server and :class:`~calmesh.providers.base.CalendarProvider`:
discovery from a server URL or a preset (``_discovery``, ``presets``), WebDAV XML in and out
(``_xml``), one spelling per href (``_paths``), full and incremental reading with
sync-collection or the ctag fallback (``_changes``), objects as items (``_items``) and writes
with preconditions (``adapter``).

Public API:

* :func:`open_caldav` ``(config: ProviderConfig, *, use_sync_collection=True) -> CalDAVProvider``
* :class:`CalDAVProvider` — the adapter (``calendar_home()`` besides the protocol's calls)
* :data:`PRESETS` — preset name → server URL (``icloud``, ``fastmail``, ``nextcloud``)

Why not the ``caldav`` library: it parses every object with icalendar or vobject (2.4 s for a
5,000-event calendar, five times what the server needs to send it), its async client is young,
and it would hand us a second event model to translate. The few requests CalDAV sync needs are
easy to send with httpx; what matters is reading the answers fast — one C-accelerated XML
parse per answer and one pass of calmesh's own iCalendar reader per object — and mapping
every failure onto :mod:`calmesh.errors`, both of which are simpler to own than to wrap.
"""

from calmesh.providers.caldav.adapter import CalDAVProvider, open_caldav
from calmesh.providers.caldav.presets import PRESETS

__all__ = ["PRESETS", "CalDAVProvider", "open_caldav"]
