"""Bookable slots of an event type: schedule, busy time, buffers, notice, window and limits.

A slot ``[start, start + duration)`` is offered when

* it lies inside one local day's open hours (:mod:`calmesh.availability.schedule`), slots
  stepping by the slot interval from the start of that day's stretch of open hours (in
  elapsed time, so a stretch that spans a DST change still yields evenly spaced slots, and the
  grid does not depend on the window asked about);
* it starts no earlier than ``now + minimum notice`` and before ``now + booking window``;
* fewer than ``daily limit`` bookings of the event type start on that local day (the
  schedule's zone);
* enough hosts are free, by the host policy (``all``, ``any``, or ``n`` of them): a host is
  free when none of their busy time overlaps the slot widened by the buffers, ``[start -
  before, end + after)``. Existing bookings are busy time with *their* buffers, so two buffers
  never overlap: buffer time is time kept free.

Pure: callers hand in each host's busy intervals (mirror and bookings) and the day counts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from calmesh.availability.schedule import WeeklySchedule
from calmesh.domain.intervals import Interval, merge

__all__ = ["HostBusy", "HostPolicy", "PolicyKind", "Slot", "SlotRules", "find_slots"]


class PolicyKind(StrEnum):
    ALL = "all"  # collective: every host attends
    ANY = "any"  # round robin: one free host attends
    N = "n"  # at least `required` of the hosts attend


@dataclass(frozen=True, slots=True)
class HostPolicy:
    kind: PolicyKind
    required: int | None = None

    def needed(self, host_count: int) -> int:
        """How many free hosts a slot needs."""
        if self.kind is PolicyKind.ALL:
            return host_count
        if self.kind is PolicyKind.ANY:
            return 1
        assert self.required is not None
        return self.required


@dataclass(frozen=True, slots=True)
class SlotRules:
    duration: timedelta
    step: timedelta
    buffer_before: timedelta = timedelta()
    buffer_after: timedelta = timedelta()
    minimum_notice: timedelta = timedelta()
    booking_window: timedelta = timedelta(days=60)
    daily_limit: int | None = None

    def blocked(self, start: datetime) -> Interval:
        """What a booking at ``start`` takes from its hosts: the meeting and its buffers."""
        return Interval(start - self.buffer_before, start + self.duration + self.buffer_after)


@dataclass(frozen=True, slots=True)
class HostBusy:
    host_id: str
    #: Canonical (merged, sorted) busy intervals covering at least the asked window and buffers.
    busy: Sequence[Interval]

    @classmethod
    def of(cls, host_id: str, busy: Sequence[Interval]) -> HostBusy:
        return cls(host_id, merge(busy))


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    #: The hosts free for it, in the order the event type lists them.
    host_ids: tuple[str, ...]


def _free_hosts(hosts: Sequence[HostBusy], blocked: Interval, ends: Sequence[Sequence[datetime]]) -> tuple[str, ...]:
    return tuple(
        host.host_id
        for host, host_ends in zip(hosts, ends, strict=True)
        if _free(host.busy, host_ends, blocked)
    )


def _free(busy: Sequence[Interval], ends: Sequence[datetime], blocked: Interval) -> bool:
    # In a canonical list the only interval that can overlap is the first ending after the start.
    index = bisect_right(ends, blocked.start)
    return index == len(busy) or busy[index].start >= blocked.end


def find_slots(
    schedule: WeeklySchedule,
    rules: SlotRules,
    hosts: Sequence[HostBusy],
    policy: HostPolicy,
    window: Interval,
    *,
    now: datetime,
    bookings_per_day: Mapping[date, int] | None = None,
) -> list[Slot]:
    """Every bookable slot starting inside ``window``, by start."""
    if not hosts:
        return []
    needed = policy.needed(len(hosts))
    earliest = max(window.start, now + rules.minimum_notice)
    latest = min(window.end, now + rules.booking_window)  # exclusive bound on starts
    if earliest >= latest:
        return []
    counts = bookings_per_day or {}
    ends = [[interval.end for interval in host.busy] for host in hosts]
    slots: list[Slot] = []
    for stretch in schedule.day_stretches(Interval(earliest, latest)):
        start = stretch.start
        if start < earliest:
            # Jump to the first step at or after `earliest`, keeping the stretch's alignment.
            missed = -((stretch.start - earliest) // rules.step)
            start = stretch.start + missed * rules.step
        while start < latest and start + rules.duration <= stretch.end:
            limit_reached = (
                rules.daily_limit is not None
                and counts.get(schedule.local_date(start), 0) >= rules.daily_limit
            )
            if not limit_reached:
                available = _free_hosts(hosts, rules.blocked(start), ends)
                if len(available) >= needed:
                    slots.append(Slot(start, start + rules.duration, available))
            start += rules.step
    return slots
