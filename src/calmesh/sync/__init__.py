"""The two-way sync engine's pure core: nothing here imports SQLAlchemy, httpx or FastAPI.

* :mod:`calmesh.sync.plan` — the decision for one item from (stored status, remote state,
  local state): pull, push, delete, record, or a conflict settled by policy; and the
  mass-deletion guard.
* :mod:`calmesh.sync.fingerprint` — what "changed" means: content fingerprints that ignore
  DTSTAMP, LAST-MODIFIED, PRODID, a bare SEQUENCE bump and X- properties, so nothing ping-pongs.
* :mod:`calmesh.sync.outbound` — how an event created through calmesh looks at the provider
  (privacy, defaults, the X-CALMESH-ID tag) and how its edits there come back.
* :mod:`calmesh.sync.settings` — a connection's settings (seed 001), shared by the API and the
  engine.

The executor that fetches, plans and applies lives in :mod:`calmesh.services.sync`.
"""

__all__: list[str] = []
