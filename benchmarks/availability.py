"""Availability benchmark: calmesh's busy index against expanding on demand with recurring-ical-events.

    .venv/bin/python benchmarks/availability.py [--calendars 50] [--events 2000] [--queries 20]

50 calendars of 2,000 events each (25% recurring: weekly, daily and monthly series, with EXDATEs
and moved instances), one user per calendar, loaded into a fresh SQLite mirror. Then, for
random 30-day windows over the next year:

* free/busy for all 50 users (calmesh: ``services.availability.free_busy``);
* slots of a 3-host collective event type (calmesh: ``services.availability.slots``);

and, in the same run, the same questions answered by expanding the same calendars with
recurring-ical-events on demand (the calendars already parsed by icalendar, which is not
timed: the peer only pays for expansion), merging busy time and, for slots, running the same
slot finder on top. Prints p50/p95 latency for both and the ratio. Goal: calmesh at least 50x
faster, p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from calmesh.availability.slots import HostBusy, find_slots
from calmesh.config import Settings
from calmesh.domain.intervals import Interval, merge
from calmesh.ical import parse_calendar
from calmesh.ids import new_id
from calmesh.services import availability, event_types
from calmesh.services.event_types import EventTypeCreate
from calmesh.services.mirror import load_events
from calmesh.services.runtime import build_runtime
from calmesh.services.unit_of_work import UnitOfWork
from calmesh.storage import models
from calmesh.storage.migrate import upgrade

UTC = timezone.utc
ZONES = ["Europe/Berlin", "America/New_York", "UTC"]
WINDOW = timedelta(days=30)


def stamp(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def generate_calendar(rng: random.Random, count: int, start: datetime) -> str:
    """ICS text: 75% single events over a year and a half, 25% series with exceptions."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calmesh//benchmark//EN"]
    for n in range(count):
        zone = rng.choice(ZONES)
        day = start + timedelta(days=rng.randrange(-60, 480))
        begin = day.replace(hour=rng.randrange(7, 19), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0)
        end = begin + timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))
        uid = f"ev-{n}@bench"
        base = [f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:Event {n}",
                f"DTSTART;TZID={zone}:{stamp(begin)}", f"DTEND;TZID={zone}:{stamp(end)}"]
        if rng.random() < 0.04:
            base.append("TRANSP:TRANSPARENT")
        if rng.random() < 0.25:
            kind = rng.random()
            if kind < 0.6:
                rule = "FREQ=WEEKLY" + rng.choice(("", ";COUNT=40", ";COUNT=100", ";INTERVAL=2"))
                step = timedelta(weeks=1)
            elif kind < 0.8:
                rule, step = f"FREQ=DAILY;COUNT={rng.randrange(5, 30)}", timedelta(days=1)
            else:
                rule, step = "FREQ=MONTHLY", timedelta(days=31)
            base.append(f"RRULE:{rule}")
            exdate = begin + step * rng.randrange(1, 4)
            if "MONTHLY" not in rule:
                base.append(f"EXDATE;TZID={zone}:{stamp(exdate)}")
            lines += ["BEGIN:VEVENT", *base, "END:VEVENT"]
            if "MONTHLY" not in rule and rng.random() < 0.3:
                moved = begin + step * 5
                lines += ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:Event {n} (moved)",
                          f"RECURRENCE-ID;TZID={zone}:{stamp(moved)}",
                          f"DTSTART;TZID={zone}:{stamp(moved + timedelta(hours=2))}",
                          f"DTEND;TZID={zone}:{stamp(moved + timedelta(hours=2) + (end - begin))}", "END:VEVENT"]
        else:
            lines += ["BEGIN:VEVENT", *base, "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def peer_busy(calendar: icalendar.Calendar, window: Interval) -> list[Interval]:
    busy = []
    for component in recurring_ical_events.of(calendar).between(window.start, window.end):
        if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        start, end = component.decoded("DTSTART"), component.decoded("DTEND")
        clipped = Interval(start.astimezone(UTC), end.astimezone(UTC)).clip(window)
        if clipped:
            busy.append(clipped)
    return merge(busy)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calendars", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(20261121)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    texts = [generate_calendar(rng, args.events, now) for _ in range(args.calendars)]
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'bench.db'}", key_file=Path(folder) / "key", _env_file=None)  # type: ignore[call-arg]
        runtime = build_runtime(settings)
        await upgrade(runtime.engine)
        loaded = time.perf_counter()
        async with UnitOfWork(runtime) as uow:
            tenant = models.Tenant(id=new_id("tnt"), name="bench")
            uow.session.add(tenant)
            await uow.session.flush()
            user_ids = []
            for i, text in enumerate(texts):
                user = models.User(id=new_id("usr"), tenant_id=tenant.id, email=f"u{i}@bench", time_zone="UTC")
                connection = models.Connection(id=new_id("con"), tenant_id=tenant.id, user_id=user.id, provider="CALDAV")
                calendar = models.Calendar(id=new_id("cal"), tenant_id=tenant.id, connection_id=connection.id,
                                           provider_calendar_id=f"/c{i}/", name=f"Calendar {i}")
                uow.session.add(user)
                await uow.session.flush()
                uow.session.add(connection)
                await uow.session.flush()
                uow.session.add(calendar)
                await uow.session.flush()
                await load_events(uow, tenant.id, calendar.id, parse_calendar(text).events)
                user_ids.append(user.id)
            await uow.commit()
        load_seconds = time.perf_counter() - loaded
        every_day = {d: [{"start": "09:00", "end": "17:00"}] for d in
                     ("monday", "tuesday", "wednesday", "thursday", "friday")}
        event_type = await event_types.create_event_type(runtime, tenant.id, EventTypeCreate.model_validate({
            "title": "Panel", "durationMinutes": 30, "hosts": user_ids[:3], "hostPolicy": "all", "bookingWindowDays": 730,
            "schedule": {"timeZone": "Europe/Berlin", "weeklyHours": every_day},
        }))
        loaded_event_type = None
        async with UnitOfWork(runtime) as uow:
            loaded_event_type = await event_types.load_event_type(uow, tenant.id, event_type.id)
        parsed_for_peer = [icalendar.Calendar.from_ical(text) for text in texts]

        windows = [Interval(now + timedelta(days=d), now + timedelta(days=d) + WINDOW)
                   for d in (rng.randrange(0, 330) for _ in range(args.queries))]
        zone = ZoneInfo("Europe/Berlin")
        # Warm-up: the first question extends nothing (the index covers 18 months) but fills caches.
        await availability.free_busy(runtime, tenant.id, user_ids=user_ids, calendar_ids=[], window=windows[0], zone=zone)

        ours_fb, ours_slots, peer_fb, peer_slots, same_busy, same_slots = [], [], [], [], 0, 0
        for window in windows:
            t = time.perf_counter()
            answer = await availability.free_busy(runtime, tenant.id, user_ids=user_ids, calendar_ids=[], window=window, zone=zone)
            ours_fb.append(time.perf_counter() - t)
            t = time.perf_counter()
            slots = await availability.slots(runtime, tenant.id, event_type.id, window, zone)
            ours_slots.append(time.perf_counter() - t)

            t = time.perf_counter()
            peer = merge(b for calendar in parsed_for_peer for b in peer_busy(calendar, window))
            peer_fb.append(time.perf_counter() - t)
            t = time.perf_counter()
            hosts = [HostBusy.of(h, peer_busy(c, window)) for h, c in zip(user_ids[:3], parsed_for_peer[:3])]
            peer_found = find_slots(loaded_event_type.schedule, loaded_event_type.rules, hosts, loaded_event_type.policy,
                                    window, now=datetime.now(UTC))
            peer_slots.append(time.perf_counter() - t)

            ours_busy = [(datetime.fromisoformat(b.start.isoformat()), b.end) for b in answer.busy]
            same_busy += [(i.start, i.end) for i in peer] == [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in ours_busy]
            same_slots += [s.start for s in peer_found] == [s.start.astimezone(UTC) for s in slots.slots]
        await runtime.close()

    def row(name: str, ours: list[float], peer: list[float]) -> str:
        p50, p95 = percentile(ours, 0.5) * 1000, percentile(ours, 0.95) * 1000
        q50, q95 = percentile(peer, 0.5) * 1000, percentile(peer, 0.95) * 1000
        return f"{name:<34}{p50:>9.1f}{p95:>9.1f}{q50:>12.1f}{q95:>12.1f}{q50 / p50:>9.0f}x"

    events = args.calendars * args.events
    print(f"{args.calendars} calendars x {args.events} events ({events:,}); mirror loaded and indexed in {load_seconds:.1f} s")
    print(f"{args.queries} random 30-day windows over the next year; Python {sys.version.split()[0]}")
    print(f"{'question':<34}{'calmesh p50':>9}{'p95':>9}{'r-i-e p50':>12}{'p95':>12}{'speedup':>10}")
    print(row(f"free/busy, {args.calendars} users (ms)", ours_fb, peer_fb))
    print(row("slots, 3-host collective (ms)", ours_slots, peer_slots))
    print(f"same busy time as recurring-ical-events: {same_busy}/{len(windows)} windows; "
          f"same slots: {same_slots}/{len(windows)} windows")


if __name__ == "__main__":
    asyncio.run(main())
