"""Calendar providers, one sub-package each, behind one small protocol.

* :mod:`calmesh.providers.base` — the :class:`~calmesh.providers.base.CalendarProvider`
  protocol (list calendars, changes since a cursor, get, create, update and delete with
  preconditions) and its values; adapters declare :class:`~calmesh.providers.base.Capabilities`.
* :mod:`calmesh.providers.http` — the HTTP client every adapter uses (private addresses refused
  unless allowed) and HTTP statuses translated into :mod:`calmesh.errors`.
* :mod:`calmesh.providers.registry` — provider names (``CALDAV``, ``ICS``) to adapters.
* ``caldav`` (RFC 4791/6578, presets for iCloud, Fastmail and Nextcloud) and ``ics_feed``
  (read-only subscriptions). Google, Microsoft and Zoom arrive with their issues.

Each adapter translates its provider's errors into :mod:`calmesh.errors` at its edge; nothing
beyond this package sees a status code or a wire format.
"""

__all__: list[str] = []
