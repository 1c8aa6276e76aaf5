"""calmesh: a self-hostable calendar and conferencing integration service.

The packages, each owning one concern (docs/ARCHITECTURE.md walks through them): ``domain``,
``ical``, ``availability``, ``sync`` (pure), ``services`` (use cases; the only code that commits),
``providers``, ``auth``, ``storage``, ``jobs``, ``webhooks``, ``conferencing``, ``api``, ``web``,
``cli`` and ``sandbox``. Errors: :mod:`calmesh.errors`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
