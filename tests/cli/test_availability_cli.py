"""``calmesh availability`` and ``calmesh slots`` against a real database, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from calmesh.services import event_types
from calmesh.services.event_types import EventTypeCreate
from calmesh.services.runtime import build_runtime
from calmesh.storage.migrate import upgrade
from tests.conftest import make_settings
from tests.mirror_helpers import make_calendar, make_tenant, make_user, put_events


def calmesh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calmesh", *args], env=env, capture_output=True, text=True, timeout=60)


async def test_availability_and_slots_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'calmesh.db'}"
    settings = make_settings(url, tmp_path)
    runtime = build_runtime(settings)
    await upgrade(runtime.engine)
    tenant = await make_tenant(runtime)
    host = await make_user(runtime, tenant, "host@example.com")
    calendar = await make_calendar(runtime, tenant, host)
    day = date.today() + timedelta(days=10)
    stamp = day.strftime("%Y%m%d")
    await put_events(runtime, tenant, calendar, f"UID:m\nSUMMARY:Meeting\nDTSTART:{stamp}T100000Z\nDTEND:{stamp}T110000Z")
    event_type = await event_types.create_event_type(runtime, tenant, EventTypeCreate.model_validate({
        "title": "Call", "durationMinutes": 60, "hosts": [host],
        "schedule": {"timeZone": "UTC", "weeklyHours": {d: [{"start": "09:00", "end": "13:00"}] for d in
                     ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}},
    }))
    await runtime.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")} | {
        "CALMESH_DATABASE_URL": url, "CALMESH_KEY_FILE": str(settings.resolved_key_file), "COLUMNS": "200",
    }

    answer = calmesh(env, "availability", "--calendar", calendar, "--start", day.isoformat(), "--end", day.isoformat(), "--json")
    assert answer.returncode == 0, answer.stderr
    busy = json.loads(answer.stdout)["busy"]
    assert [(b["start"], b["end"]) for b in busy] == [(f"{day}T10:00:00Z", f"{day}T11:00:00Z")]
    table = calmesh(env, "availability", "--calendar", calendar, "--start", day.isoformat(), "--end", day.isoformat())
    assert "busy" in table.stdout and "free" in table.stdout

    found = json.loads(calmesh(env, "slots", event_type.id, "--start", day.isoformat(), "--end", day.isoformat(),
                               "--tz", "Europe/Berlin", "--json").stdout)
    assert [s["start"][11:16] for s in found["slots"]] == ["10:00", "12:00", "13:00"]  # 09, 11, 12 UTC in Berlin

    bad_zone = calmesh(env, "slots", event_type.id, "--start", day.isoformat(), "--end", day.isoformat(), "--tz", "Nowhere/City")
    assert bad_zone.returncode == 2 and bad_zone.stderr.strip().startswith("calmesh: error: unknown time zone 'Nowhere/City'")
    backwards = calmesh(env, "availability", "--calendar", calendar, "--start", "2030-01-05", "--end", "2030-01-01")
    assert backwards.returncode == 2 and "start must be before end" in backwards.stderr
    unknown = calmesh(env, "availability", "--calendar", "cal_nope", "--start", "2030-01-01", "--end", "2030-01-02")
    assert unknown.returncode == 1 and "no such calendar: cal_nope" in unknown.stderr
