"""The sync decision for one item, from (stored status, remote state, local state), with no I/O.

vdirsyncer's rule, with the mirror as the local side: the *status* is what both sides held when
they last agreed (their fingerprints and the provider's etag). A side whose fingerprint differs
from the status changed; a side that is gone was deleted; no status means neither side knew the
other had it. From that:

================  ===============  ================  ===========================================
status            remote           local             decision
================  ===============  ================  ===========================================
none              present          none              PULL (new at the provider)
none              none             present           PUSH_CREATE (new here)
none              present          present           RECORD if equal, else a conflict
known             unchanged        unchanged         NOTHING (RECORD when only the etag moved)
known             changed          unchanged         PULL
known             unchanged        changed           PUSH_UPDATE
known             changed          changed           RECORD if equal, else a conflict
known             deleted          unchanged         DELETE_LOCAL
known             deleted          changed           PUSH_CREATE (a change beats a deletion)
known             unchanged        deleted           PUSH_DELETE
known             changed          deleted           PULL (a change beats a deletion)
known             deleted          deleted           FORGET
================  ===============  ================  ===========================================

Whatever changed, when both sides hold the same event — the provider's copy is the mirror's, or
exactly what calmesh would write for it (a field that privacy hides edited here) — the decision is
RECORD: nothing is copied either way.

A conflict is settled by the connection's :class:`~calmesh.sync.settings.ConflictPolicy` and
reported in :attr:`Decision.conflict`. The direction then narrows what may happen: INBOUND never
writes out (a local change is overwritten by the provider's version), OUTBOUND leaves the
provider's own events alone and syncs only events created through calmesh, and a read-only
calendar is treated as INBOUND.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from calmesh.sync.settings import ConflictPolicy, SyncDirection

__all__ = [
    "Action",
    "Decision",
    "LocalState",
    "Origin",
    "RemoteState",
    "Side",
    "Status",
    "decide",
    "mass_deletion_suspected",
]


class Origin(StrEnum):
    #: Read from the provider.
    PROVIDER = "provider"
    #: Created through calmesh (API, bookings).
    CALMESH = "calmesh"


class Action(StrEnum):
    NOTHING = "nothing"
    #: Both sides agree: store the status (first match, or a new etag for the same content).
    RECORD = "record"
    #: Copy the provider's item into the mirror, then record.
    PULL = "pull"
    PUSH_CREATE = "push_create"
    #: Replace the provider's item, on the condition that it still has the status's etag.
    PUSH_UPDATE = "push_update"
    PUSH_DELETE = "push_delete"
    DELETE_LOCAL = "delete_local"
    #: Gone on both sides: drop the status.
    FORGET = "forget"
    #: Not this connection's to sync (direction or origin): leave everything as it is.
    SKIP = "skip"


class Side(StrEnum):
    REMOTE = "remote"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Status:
    item_id: str
    uid: str
    etag: str | None
    remote_hash: str
    local_hash: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class RemoteState:
    item_id: str
    etag: str | None
    hash: str
    #: Carries calmesh's tag: created through calmesh, possibly by a sync that never recorded it.
    tagged: bool = False
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LocalState:
    hash: str
    #: The fingerprint of what the provider would get (privacy and defaults applied); the same
    #: as ``hash`` for events that came from the provider.
    outbound_hash: str
    origin: Origin
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    #: Set when both sides changed (or one changed and the other deleted): the side that won.
    conflict: Side | None = None
    reason: str = ""


def _winner(policy: ConflictPolicy, remote: RemoteState, local: LocalState) -> Side:
    if policy is ConflictPolicy.LOCAL_WINS:
        return Side.LOCAL
    if policy is ConflictPolicy.NEWEST_WINS and remote.modified_at and local.modified_at:
        return Side.LOCAL if local.modified_at > remote.modified_at else Side.REMOTE
    return Side.REMOTE


def decide(
    status: Status | None,
    remote: RemoteState | None,
    local: LocalState | None,
    *,
    direction: SyncDirection = SyncDirection.BOTH,
    policy: ConflictPolicy = ConflictPolicy.REMOTE_WINS,
    writable: bool = True,
) -> Decision:
    """What to do with one item (see the module's table)."""
    if status is None and remote is None and local is None:
        raise ValueError("an item needs a status or at least one side")
    if status is not None:
        origin = status.origin
    elif local is not None:
        origin = local.origin
    else:
        origin = Origin.CALMESH if remote is not None and remote.tagged else Origin.PROVIDER
    ours = origin is Origin.CALMESH
    if direction is SyncDirection.OUTBOUND and not ours:
        return Decision(Action.SKIP, reason="OUTBOUND leaves the provider's own events alone")
    can_push = writable and direction is not SyncDirection.INBOUND

    def settle(reason: str) -> Decision:
        assert remote is not None and local is not None
        winner = _winner(policy, remote, local)
        if winner is Side.LOCAL and not can_push:
            winner = Side.REMOTE
        action = Action.PUSH_UPDATE if winner is Side.LOCAL else Action.PULL
        return Decision(action, conflict=winner, reason=reason)

    if status is None:
        if remote is not None and local is not None:
            if remote.hash in (local.hash, local.outbound_hash):
                return Decision(Action.RECORD, reason="both sides hold the same event")
            return settle("created on both sides with different content")
        if remote is not None:
            return Decision(Action.PULL, reason="new at the provider")
        if can_push:
            return Decision(Action.PUSH_CREATE, reason="new in calmesh")
        return Decision(Action.SKIP, reason="new in calmesh, but this calendar is not written to")

    remote_changed = remote is not None and remote.hash != status.remote_hash
    local_changed = local is not None and local.hash != status.local_hash

    if remote is not None and local is not None:
        if not remote_changed and not local_changed:
            same_etag = remote.etag == status.etag
            return Decision(Action.NOTHING if same_etag else Action.RECORD, reason="unchanged")
        if remote.hash in (local.hash, local.outbound_hash):
            return Decision(Action.RECORD, reason="both sides hold the same event")
        if remote_changed and not local_changed:
            return Decision(Action.PULL, reason="changed at the provider")
        if local_changed and not remote_changed:
            if can_push:
                return Decision(Action.PUSH_UPDATE, reason="changed in calmesh")
            return Decision(Action.PULL, reason="changed in calmesh, but this calendar is not written to")
        return settle("changed on both sides")

    if remote is not None:  # deleted in calmesh
        if remote_changed:
            return Decision(Action.PULL, conflict=Side.REMOTE, reason="deleted in calmesh, changed at the provider")
        if can_push:
            return Decision(Action.PUSH_DELETE, reason="deleted in calmesh")
        return Decision(Action.PULL, reason="deleted in calmesh, but this calendar is not written to")

    if local is not None:  # deleted at the provider
        if local_changed and can_push:
            return Decision(Action.PUSH_CREATE, conflict=Side.LOCAL, reason="deleted at the provider, changed in calmesh")
        return Decision(Action.DELETE_LOCAL, reason="deleted at the provider")

    return Decision(Action.FORGET, reason="deleted on both sides")


#: A calendar that held at least this many items and suddenly lists none halts its sync.
MASS_DELETION_MINIMUM = 10


def mass_deletion_suspected(known_items: int, remaining_items: int) -> bool:
    """True when a calendar that held many items now lists none: more likely a broken server or
    a wrong account than a user who emptied their calendar, so the sync stops and says so."""
    return known_items >= MASS_DELETION_MINIMUM and remaining_items == 0
