"""Calendar and conferencing providers, one sub-package each (caldav, google, microsoft, zoom, ics).

Each adapter implements one small protocol, declares its capabilities and translates its
provider's errors into :mod:`calmesh.errors` at its edge. Empty until the provider issues.
"""

__all__: list[str] = []
