"""Availability: busy intervals from events, weekly schedules, and bookable slots.

Pure (no SQLAlchemy, httpx or FastAPI): the services feed it events, schedules and busy time
from the mirror (:mod:`calmesh.services.availability`, :mod:`calmesh.services.busy_index`).
"""

from calmesh.availability.busy import BusyBlock, BusyInterval, busy_blocks, busy_intervals, merged_busy
from calmesh.availability.schedule import TimeRange, WeeklySchedule
from calmesh.availability.slots import HostBusy, HostPolicy, PolicyKind, Slot, SlotRules, find_slots

__all__ = [
    "BusyBlock",
    "BusyInterval",
    "HostBusy",
    "HostPolicy",
    "PolicyKind",
    "Slot",
    "SlotRules",
    "TimeRange",
    "WeeklySchedule",
    "busy_blocks",
    "busy_intervals",
    "find_slots",
    "merged_busy",
]
