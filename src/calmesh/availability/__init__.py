"""Availability: busy intervals from events, free/busy, slots and conflicts.

Pure (no SQLAlchemy, httpx or FastAPI): the services feed it events and schedules from the mirror.
"""

__all__: list[str] = []
