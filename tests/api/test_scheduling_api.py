"""Event types, slots, free/busy, conflicts and bookings over HTTP, as an application uses them."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx

from calmesh.services.runtime import build_runtime
from calmesh.services.tenants import create_tenant
from tests.api.test_problems_and_conventions import assert_problem
from tests.conftest import RunningServer
from tests.mirror_helpers import make_calendar, put_events

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_TO_5 = {d: [{"start": "09:00", "end": "17:00"}] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}


def next_weekday(weekday: int, weeks_ahead: int = 1) -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=(weekday - today.weekday()) % 7 + 7 * weeks_ahead)


async def setup_tenant(server: RunningServer) -> tuple[httpx.AsyncClient, str, str]:
    """A tenant's client, its host user id and the tenant id."""
    runtime = build_runtime(server.settings)
    created = await create_tenant(runtime, f"t-{uuid.uuid4().hex[:8]}")
    await runtime.close()
    async with server.client(created.api_key.key) as setup:
        host = (await setup.post("/v1/users", json={"email": "host@example.com", "timeZone": "Europe/Berlin"})).json()["id"]
    return server.client(created.api_key.key), host, created.tenant.id


async def test_event_type_crud_and_validation(server: RunningServer) -> None:
    client, host, _ = await setup_tenant(server)
    async with client:
        bad = await client.post("/v1/event-types", json={
            "title": "x", "hosts": [host], "schedule": {"timeZone": "Berlin/Mars", "weeklyHours": {"monday": [{"start": "25:00", "end": "26:00"}]}},
            "hostPolicy": "n",
        })
        body = assert_problem(bad, 422, "/problems/validation-error")
        fields = {e["field"] for e in body["errors"]}  # type: ignore[union-attr]
        assert {"schedule.timeZone", "schedule.weeklyHours.monday.0"} <= fields
        assert_problem(await client.post("/v1/event-types", json={"title": "x", "hosts": ["usr_nobody"]}), 422, "/problems/validation-error")

        created = await client.post("/v1/event-types", json={
            "title": "Intro Call", "durationMinutes": 45, "location": {"type": "GOOGLE_MEET"},
            "hosts": [host], "schedule": {"timeZone": "Europe/Berlin", "weeklyHours": WEEKDAYS_9_TO_5},
            "bufferAfterMinutes": 15, "dailyLimit": 4,
        })
        assert created.status_code == 201, created.text
        event_type = created.json()
        assert event_type["slug"] == "intro-call" and event_type["location"] == {"type": "GOOGLE_MEET", "value": None, "customProviderId": None}
        assert_problem(await client.post("/v1/event-types", json={"title": "Intro call"}), 409, "/problems/conflict")

        patched = (await client.patch(f"/v1/event-types/{event_type['id']}", json={"durationMinutes": 30, "dailyLimit": None})).json()
        assert (patched["durationMinutes"], patched["dailyLimit"], patched["bufferAfterMinutes"]) == (30, None, 15)
        assert [t["id"] for t in (await client.get("/v1/event-types")).json()["data"]] == [event_type["id"]]
        assert (await client.delete(f"/v1/event-types/{event_type['id']}")).status_code == 204
        assert_problem(await client.get(f"/v1/event-types/{event_type['id']}"), 404, "/problems/not-found")


async def test_slots_follow_berlin_wall_time_and_refuse_bad_windows(server: RunningServer) -> None:
    client, host, _ = await setup_tenant(server)
    async with client:
        event_type = (await client.post("/v1/event-types", json={
            "title": "Call", "durationMinutes": 60, "hosts": [host], "bookingWindowDays": 400,
            "schedule": {"timeZone": "Europe/Berlin", "weeklyHours": WEEKDAYS_9_TO_5},
        })).json()
        # The week of the last Sunday of March: the Friday before is CET, the Monday after CEST.
        year = datetime.now(UTC).year + 1
        last_sunday = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
        friday, monday = last_sunday - timedelta(days=2), last_sunday + timedelta(days=1)
        answer = (await client.get(f"/v1/event-types/{event_type['id']}/slots", params={
            "start": friday.isoformat(), "end": monday.isoformat(), "timeZone": "Europe/Berlin",
        })).json()
        starts = [datetime.fromisoformat(s["start"]) for s in answer["slots"]]
        assert {s.date() for s in starts} == {friday, monday} and len(starts) == 16
        assert all(s.strftime("%H:%M") >= "09:00" and s.utcoffset() in (timedelta(hours=1), timedelta(hours=2)) for s in starts)
        first_monday = min(s for s in starts if s.date() == monday)
        assert first_monday.isoformat().endswith("09:00:00+02:00")
        assert min(starts).isoformat().endswith("09:00:00+01:00")

        url = f"/v1/event-types/{event_type['id']}/slots"
        body = assert_problem(await client.get(url, params={"start": "2030-01-01", "end": "2030-01-02", "timeZone": "Mars/Base"}),
                              422, "/problems/validation-error")
        assert body["errors"][0]["field"] == "timeZone"  # type: ignore[index]
        body = assert_problem(await client.get(url, params={"start": "2030-01-05", "end": "2030-01-01"}), 422, "/problems/validation-error")
        assert "before" in str(body["detail"])
        body = assert_problem(await client.get(url, params={"start": "2030-01-01", "end": "2030-12-31"}), 422, "/problems/validation-error")
        assert "92 days" in str(body["detail"])


async def test_booking_flow_with_clashes_conflicts_and_privacy(server: RunningServer) -> None:
    client, host, tenant_id = await setup_tenant(server)
    runtime = build_runtime(server.settings)
    calendar = await make_calendar(runtime, tenant_id, host, name="Google Work")
    monday = next_weekday(0)
    at = lambda h, m=0: datetime(monday.year, monday.month, monday.day, h, m, tzinfo=BERLIN)  # noqa: E731
    stamp = lambda d: d.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")  # noqa: E731
    await put_events(
        runtime, tenant_id, calendar,
        f"UID:standup\nSUMMARY:Standup\nDTSTART:{stamp(at(9))}\nDTEND:{stamp(at(9, 30))}",
        f"UID:secret\nSUMMARY:Doctor\nCLASS:PRIVATE\nDTSTART:{stamp(at(13))}\nDTEND:{stamp(at(14))}",
    )
    await runtime.close()
    async with client:
        event_type = (await client.post("/v1/event-types", json={
            "title": "Demo", "durationMinutes": 30, "hosts": [host],
            "schedule": {"timeZone": "Europe/Berlin", "weeklyHours": WEEKDAYS_9_TO_5},
        })).json()
        attendee = {"name": "Ann", "email": "ann@example.com", "timeZone": "America/New_York"}

        clash = await client.post("/v1/bookings", json={"eventTypeId": event_type["id"], "start": at(9).isoformat(), "attendee": attendee})
        body = assert_problem(clash, 409, "/problems/slot-unavailable")
        assert [(c["source"], c["title"]) for c in body["conflicts"]] == [("Google Work", "Standup")]  # type: ignore[union-attr]

        made = await client.post("/v1/bookings", json={"eventTypeId": event_type["id"], "start": at(10).isoformat(), "attendee": attendee, "notes": "hi"})
        assert made.status_code == 201, made.text
        booking = made.json()
        assert booking["hostIds"] == [host] and booking["attendee"]["timeZone"] == "America/New_York"
        again = await client.post("/v1/bookings", json={"eventTypeId": event_type["id"], "start": at(10).isoformat(), "attendee": attendee})
        assert assert_problem(again, 409, "/problems/slot-unavailable")["conflicts"][0]["source"] == "booking"  # type: ignore[index]
        naive = await client.post("/v1/bookings", json={"eventTypeId": event_type["id"], "start": "2030-01-07T10:00:00", "attendee": attendee})
        assert assert_problem(naive, 422, "/problems/validation-error")["errors"][0]["field"] == "start"  # type: ignore[index]

        conflicts = (await client.get("/v1/availability/conflicts", params={
            "eventTypeId": event_type["id"], "startDate": monday.isoformat(), "endDate": monday.isoformat(),
        })).json()
        assert [(c["title"], c["source"]) for c in conflicts] == [("Standup", "Google Work"), ("Booking with Ann", "booking"), ("Busy", "Google Work")]
        assert conflicts[0]["startTime"] == at(9).isoformat()

        free_busy = (await client.get("/v1/availability", params={
            "userIds": host, "start": monday.isoformat(), "end": monday.isoformat(), "timeZone": "Europe/Berlin",
        })).json()
        assert [(b["start"], b["end"]) for b in free_busy["busy"]] == [
            (at(9).isoformat(), at(9, 30).isoformat()), (at(10).isoformat(), at(10, 30).isoformat()), (at(13).isoformat(), at(14).isoformat()),
        ]
        assert [b["titles"] for b in free_busy["calendars"][0]["busy"]] == [["Standup"], ["Busy"]]
        assert free_busy["unknown"] == []

        moved = (await client.patch(f"/v1/bookings/{booking['id']}", json={"start": at(11).isoformat()})).json()
        assert moved["start"] == at(11).astimezone(UTC).isoformat().replace("+00:00", "Z")
        cancelled = await client.post(f"/v1/bookings/{booking['id']}/cancel", json={"reason": "conflict"})
        assert cancelled.json()["status"] == "cancelled"
        assert_problem(await client.patch(f"/v1/bookings/{booking['id']}", json={"start": at(12).isoformat()}), 409, "/problems/conflict")
        listed = (await client.get("/v1/bookings", params={"eventTypeId": event_type["id"]})).json()["data"]
        assert [b["status"] for b in listed] == ["cancelled"]


async def test_another_tenant_sees_none_of_it(server: RunningServer) -> None:
    client_a, host, _ = await setup_tenant(server)
    client_b, _, _ = await setup_tenant(server)
    async with client_a, client_b:
        event_type = (await client_a.post("/v1/event-types", json={"title": "Private", "hosts": [host]})).json()
        assert_problem(await client_b.get(f"/v1/event-types/{event_type['id']}"), 404, "/problems/not-found")
        assert_problem(await client_b.get(f"/v1/event-types/{event_type['id']}/slots", params={"start": "2030-01-01", "end": "2030-01-02"}), 404, "/problems/not-found")
        assert_problem(await client_b.get("/v1/availability", params={"userIds": host, "start": "2030-01-01", "end": "2030-01-02"}), 404, "/problems/not-found")
        assert_problem(await client_b.post("/v1/event-types", json={"title": "x", "hosts": [host]}), 422, "/problems/validation-error")
        assert (await client_b.get("/v1/event-types")).json()["data"] == []
