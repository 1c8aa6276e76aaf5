"""The planner driven by Hypothesis: random edits on both sides, syncs in between, invariants after.

An in-memory provider (item id → UID, content, etag; a second item with a UID it already holds is
refused like HTTP 412), an in-memory mirror (UID → content) and a status table stand in for the
real ones, and a small executor applies :func:`~calmesh.sync.plan.decide`'s actions as the plan
module's docstring says. Writes at the provider are conditional on the etag the plan saw; a
refused write is decided again on the provider's fresh state, as the real executor does.

A sync may be interrupted between a provider write and the status record (the step the real
executor cannot make atomic), and someone may edit the provider's copy while calmesh is writing
it. The next complete sync must still converge without losing or duplicating anything.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from calmesh.sync.plan import (
    Action,
    Decision,
    LocalState,
    Origin,
    RemoteState,
    Side,
    Status,
    decide,
)
from calmesh.sync.settings import ConflictPolicy, SyncDirection

PUSHES = frozenset({Action.PUSH_CREATE, Action.PUSH_UPDATE, Action.PUSH_DELETE})
COPIES = PUSHES | {Action.PULL}
EPOCH = datetime(2024, 6, 1, tzinfo=timezone.utc)
#: Few contents, so that both sides often make the same edit.
CONTENTS = ("lunch", "standup", "review", "1:1")
#: Few items per side, so that both sides often touch the same one.
MOST_ITEMS = 4


def digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()[:16]


class PreconditionFailed(Exception):
    """HTTP 412: the item is not in the state the write expected."""


class Interrupted(Exception):
    """The sync stopped between a provider write and recording it."""


@dataclass(frozen=True)
class RemoteItem:
    uid: str
    content: str
    etag: str
    modified_at: datetime
    tagged: bool


@dataclass(frozen=True)
class LocalItem:
    content: str
    origin: Origin
    modified_at: datetime


@dataclass
class World:
    """Both sides, the status between them, and a clock."""

    remote: dict[str, RemoteItem] = field(default_factory=dict)
    local: dict[str, LocalItem] = field(default_factory=dict)
    status: dict[str, Status] = field(default_factory=dict)
    ticks: itertools.count[int] = field(default_factory=itertools.count)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=next(self.ticks))

    def etag(self) -> str:
        return f"etag-{next(self.ids)}"

    # --- the provider's API ---

    def remote_by_uid(self, uid: str) -> tuple[str, RemoteItem] | None:
        found = [(item_id, item) for item_id, item in self.remote.items() if item.uid == uid]
        assert len(found) <= 1, f"the provider holds {uid!r} twice"
        return found[0] if found else None

    def create(self, uid: str, content: str, *, tagged: bool) -> tuple[str, RemoteItem]:
        if self.remote_by_uid(uid) is not None:
            raise PreconditionFailed(uid)
        item_id = f"item-{next(self.ids)}"
        item = RemoteItem(uid, content, self.etag(), self.now(), tagged)
        self.remote[item_id] = item
        return item_id, item

    def update(self, item_id: str, content: str, if_match: str | None) -> RemoteItem:
        current = self.remote.get(item_id)
        if current is None or current.etag != if_match:
            raise PreconditionFailed(item_id)
        item = replace(current, content=content, etag=self.etag(), modified_at=self.now())
        self.remote[item_id] = item
        return item

    def delete(self, item_id: str, if_match: str | None) -> None:
        current = self.remote.get(item_id)
        if current is None or current.etag != if_match:
            raise PreconditionFailed(item_id)
        del self.remote[item_id]

    # --- what the planner sees ---

    def remote_state(self, uid: str) -> RemoteState | None:
        found = self.remote_by_uid(uid)
        if found is None:
            return None
        item_id, item = found
        return RemoteState(item_id, item.etag, digest(item.content), item.tagged, item.modified_at)

    def local_state(self, uid: str) -> LocalState | None:
        item = self.local.get(uid)
        if item is None:
            return None
        return LocalState(digest(item.content), digest(item.content), item.origin, item.modified_at)

    def uids(self) -> set[str]:
        return set(self.status) | {item.uid for item in self.remote.values()} | set(self.local)


@dataclass
class Step:
    uid: str
    decision: Decision
    status: Status | None
    remote: RemoteState | None
    local: LocalState | None


@dataclass
class SyncResult:
    steps: dict[str, Step]
    #: Every decision applied, re-decisions included.
    applied: list[Step] = field(default_factory=list)
    complete: bool = True


class Executor:
    """Applies decisions to the in-memory world exactly as the plan module's docstring says."""

    def __init__(
        self, world: World, *, direction: SyncDirection, policy: ConflictPolicy, writable: bool = True
    ) -> None:
        self.world, self.direction, self.policy, self.writable = world, direction, policy, writable

    def decide(self, uid: str) -> Step:
        """Decide ``uid`` on both sides' state as it is now."""
        world = self.world
        status, remote, local = world.status.get(uid), world.remote_state(uid), world.local_state(uid)
        decision = decide(
            status, remote, local, direction=self.direction, policy=self.policy, writable=self.writable
        )
        return Step(uid, decision, status, remote, local)

    def plan(self) -> dict[str, Step]:
        return {uid: self.decide(uid) for uid in sorted(self.world.uids())}

    def apply(self, steps: dict[str, Step], *, interrupt_at: int | None = None) -> SyncResult:
        result = SyncResult(steps)
        # As the real executor: mirror-only steps first, then the provider writes.
        ordered = sorted(steps.values(), key=lambda s: s.decision.action in PUSHES)
        try:
            for index, step in enumerate(ordered):
                self._apply(step, result, interrupted=index == interrupt_at)
        except Interrupted:
            result.complete = False
        return result

    def _origin(self, step: Step) -> Origin:
        if step.status is not None:
            return step.status.origin
        if step.local is not None:
            return step.local.origin
        return Origin.CALMESH if step.remote is not None and step.remote.tagged else Origin.PROVIDER

    def _record(self, uid: str, item_id: str, etag: str, remote_hash: str, local_hash: str, origin: Origin) -> None:
        self.world.status[uid] = Status(item_id, uid, etag, remote_hash, local_hash, origin)

    def _apply(self, step: Step, result: SyncResult, *, interrupted: bool = False, retried: bool = False) -> None:
        world, uid, action = self.world, step.uid, step.decision.action
        result.applied.append(step)
        if action in (Action.NOTHING, Action.SKIP):
            return
        if interrupted and action not in PUSHES:
            raise Interrupted  # the mirror's transaction never commits
        if action is Action.PULL:
            assert step.remote is not None
            item = world.remote[step.remote.item_id]
            origin = self._origin(step)
            world.local[uid] = LocalItem(item.content, origin, world.now())
            self._record(uid, step.remote.item_id, item.etag, digest(item.content), digest(item.content), origin)
        elif action is Action.RECORD:
            assert step.remote is not None and step.local is not None
            self._record(uid, step.remote.item_id, step.remote.etag or "", step.remote.hash, step.local.hash, self._origin(step))
        elif action is Action.DELETE_LOCAL:
            del world.local[uid]
            world.status.pop(uid, None)
        elif action is Action.FORGET:
            del world.status[uid]
        else:
            try:
                self._push(step, interrupted)
            except PreconditionFailed:
                if action is Action.PUSH_CREATE or retried:
                    # As the real executor: left for the next sync, which lists the item and
                    # matches it by UID.
                    result.complete = False
                    return
                again = self.decide(uid)
                assert again.decision.action is not Action.NOTHING
                self._apply(again, result, retried=True)

    def _push(self, step: Step, interrupted: bool) -> None:
        world, uid, action = self.world, step.uid, step.decision.action
        if action is Action.PUSH_DELETE:
            assert step.status is not None and step.remote is not None
            world.delete(step.status.item_id, step.remote.etag)
            if interrupted:
                raise Interrupted
            del world.status[uid]
            return
        assert step.local is not None
        local = world.local[uid]
        origin = self._origin(step)
        if action is Action.PUSH_CREATE:
            item_id, item = world.create(uid, local.content, tagged=origin is Origin.CALMESH)
        else:
            item_id = step.remote.item_id if step.remote else step.status.item_id if step.status else ""
            item = world.update(item_id, local.content, step.remote.etag if step.remote else None)
        if interrupted:
            raise Interrupted
        self._record(uid, item_id, item.etag, digest(item.content), step.local.hash, origin)


def check_no_churn(step: Step) -> None:
    """Identical content on both sides is never copied either way, whatever its etag says."""
    status, remote, local = step.status, step.remote, step.local
    if remote is None or local is None or remote.hash not in (local.hash, local.outbound_hash):
        return
    assert step.decision.action in (Action.RECORD, Action.NOTHING), step
    if status is not None and remote.etag != status.etag:
        if remote.hash == status.remote_hash and local.hash == status.local_hash:
            event("sync: etag-only change")
        # The new etag is stored, or the next conditional write would be refused.
        assert step.decision.action is Action.RECORD, step


# --- what the sync should end with ------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    #: The content both sides must hold after the sync (None: the item is gone from both).
    content: str | None
    #: Both sides changed it differently: the sync must report a conflict won by this side.
    conflict: Side | None = None
    #: One side changed it, the other deleted it: it must survive.
    survives: bool = False


def expectation(world: World, uid: str, policy: ConflictPolicy) -> Expectation:
    """vdirsyncer's rule, stated as outcomes: what a user expects both sides to hold."""
    status = world.status.get(uid)
    found = world.remote_by_uid(uid)
    remote = found[1] if found else None
    local = world.local.get(uid)

    def winner() -> Side:
        assert remote is not None and local is not None
        if policy is ConflictPolicy.LOCAL_WINS:
            return Side.LOCAL
        if policy is ConflictPolicy.NEWEST_WINS:
            return Side.LOCAL if local.modified_at > remote.modified_at else Side.REMOTE
        return Side.REMOTE

    def conflict() -> Expectation:
        assert remote is not None and local is not None
        if remote.content == local.content:
            return Expectation(remote.content)
        side = winner()
        return Expectation(local.content if side is Side.LOCAL else remote.content, side)

    if status is None:
        if remote is not None and local is not None:
            return conflict()
        return Expectation(remote.content if remote else local.content if local else None)
    remote_changed = remote is not None and digest(remote.content) != status.remote_hash
    local_changed = local is not None and digest(local.content) != status.local_hash
    if remote is None and local is None:
        return Expectation(None)
    if remote is None:
        assert local is not None
        return Expectation(local.content, survives=True) if local_changed else Expectation(None)
    if local is None:
        return Expectation(remote.content, survives=True) if remote_changed else Expectation(None)
    if remote_changed and local_changed:
        return conflict()
    return Expectation(local.content if local_changed else remote.content)


# --- the machines --------------------------------------------------------------------------------


class TwoWaySync(RuleBasedStateMachine):
    """Direction BOTH: edits and deletions on either side, conflicts, interruptions."""

    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.policy = ConflictPolicy.REMOTE_WINS
        self.uids = (f"uid-{n}@test" for n in itertools.count())
        #: The last sync finished everything it planned (the invariants below hold after it).
        self.settled = True
        self.last: SyncResult | None = None

    @initialize(policy=st.sampled_from(ConflictPolicy))
    def choose_policy(self, policy: ConflictPolicy) -> None:
        self.policy = policy

    def executor(self) -> Executor:
        return Executor(self.world, direction=SyncDirection.BOTH, policy=self.policy)

    @staticmethod
    def _other(current: str, content: str) -> str:
        """``content``, or another one if that is what the item already holds (a real edit)."""
        return content if content != current else f"{content}, moved"

    # --- the provider's side ---

    @precondition(lambda self: len(self.world.remote) < MOST_ITEMS)
    @rule(content=st.sampled_from(CONTENTS))
    def create_at_provider(self, content: str) -> None:
        self.world.create(next(self.uids), content, tagged=False)

    @precondition(lambda self: self.world.remote)
    @rule(data=st.data(), content=st.sampled_from(CONTENTS))
    def edit_at_provider(self, data: st.DataObject, content: str) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.remote)), label="item")
        item = self.world.remote[item_id]
        self.world.update(item_id, self._other(item.content, content), item.etag)

    @precondition(lambda self: self.world.remote)
    @rule(data=st.data())
    def delete_at_provider(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.remote)), label="item")
        self.world.delete(item_id, self.world.remote[item_id].etag)

    @precondition(lambda self: self.world.remote)
    @rule(data=st.data())
    def server_rewrites_dtstamp(self, data: st.DataObject) -> None:
        """A new etag for the same event (and no new LAST-MODIFIED)."""
        item_id = data.draw(st.sampled_from(sorted(self.world.remote)), label="item")
        self.world.remote[item_id] = replace(self.world.remote[item_id], etag=self.world.etag())

    # --- the mirror's side ---

    @precondition(lambda self: len(self.world.local) < MOST_ITEMS)
    @rule(content=st.sampled_from(CONTENTS))
    def create_in_calmesh(self, content: str) -> None:
        self.world.local[next(self.uids)] = LocalItem(content, Origin.CALMESH, self.world.now())

    @precondition(lambda self: self.world.local)
    @rule(data=st.data(), content=st.sampled_from(CONTENTS))
    def edit_in_calmesh(self, data: st.DataObject, content: str) -> None:
        uid = data.draw(st.sampled_from(sorted(self.world.local)), label="uid")
        item = self.world.local[uid]
        self.world.local[uid] = replace(item, content=self._other(item.content, content), modified_at=self.world.now())

    @precondition(lambda self: self.world.local)
    @rule(data=st.data())
    def delete_in_calmesh(self, data: st.DataObject) -> None:
        uid = data.draw(st.sampled_from(sorted(self.world.local)), label="uid")
        del self.world.local[uid]

    # --- both sides at once (the cases a sync must settle) ---

    def _on_both_sides(self) -> list[str]:
        world = self.world
        return sorted(uid for uid in world.local if world.remote_by_uid(uid) is not None)

    def _edit_remote(self, uid: str, content: str) -> None:
        found = self.world.remote_by_uid(uid)
        assert found is not None
        item_id, item = found
        self.world.update(item_id, self._other(item.content, content), item.etag)

    def _edit_local(self, uid: str, content: str) -> None:
        item = self.world.local[uid]
        self.world.local[uid] = replace(item, content=self._other(item.content, content), modified_at=self.world.now())

    @precondition(lambda self: self._on_both_sides())
    @rule(
        data=st.data(),
        remote_content=st.sampled_from(CONTENTS),
        local_content=st.sampled_from(CONTENTS),
        local_last=st.booleans(),
    )
    def edit_on_both_sides(self, data: st.DataObject, remote_content: str, local_content: str, local_last: bool) -> None:
        uid = data.draw(st.sampled_from(self._on_both_sides()), label="uid")
        if local_last:
            self._edit_remote(uid, remote_content)
            self._edit_local(uid, local_content)
        else:
            self._edit_local(uid, local_content)
            self._edit_remote(uid, remote_content)

    @precondition(lambda self: self._on_both_sides())
    @rule(data=st.data(), content=st.sampled_from(CONTENTS), edit_at_provider=st.booleans())
    def edit_on_one_side_delete_on_the_other(self, data: st.DataObject, content: str, edit_at_provider: bool) -> None:
        uid = data.draw(st.sampled_from(self._on_both_sides()), label="uid")
        found = self.world.remote_by_uid(uid)
        assert found is not None
        if edit_at_provider:
            self._edit_remote(uid, content)
            del self.world.local[uid]
        else:
            self._edit_local(uid, content)
            self.world.delete(found[0], found[1].etag)

    # --- syncing ---

    def _interfere(self, steps: dict[str, Step], content: str) -> None:
        """Someone edits (or creates) the provider's copy of the first item calmesh is about to write."""
        for step in steps.values():
            action = step.decision.action
            if action in (Action.PUSH_UPDATE, Action.PUSH_DELETE) and step.remote is not None:
                item = self.world.remote[step.remote.item_id]
                self.world.update(step.remote.item_id, self._other(item.content, content), item.etag)
                event("sync: concurrent edit at the provider")
                return
            if action is Action.PUSH_CREATE:
                self.world.create(step.uid, content, tagged=False)
                event("sync: concurrent create at the provider")
                return

    @rule(
        # Mostly undisturbed syncs, which the checks below are about.
        interfere=st.sampled_from((False, False, False, True)),
        concurrent_content=st.sampled_from(CONTENTS),
        interrupt_at=st.sampled_from((None, None, None, None, None, 0, 1, 2, 3, 4)),
    )
    def sync(self, interfere: bool, concurrent_content: str, interrupt_at: int | None) -> None:
        world, executor = self.world, self.executor()
        steps = executor.plan()
        for step in steps.values():
            check_no_churn(step)
        if interfere:
            self._interfere(steps, concurrent_content)
        before = {uid: expectation(world, uid, self.policy) for uid in world.uids()}
        result = executor.apply(steps, interrupt_at=interrupt_at)
        self.settled, self.last = result.complete, result
        if not result.complete:
            event("sync: interrupted or left for the next sync")
            return

        # Nothing lost, nothing resurrected, conflicts settled by the policy and reported.
        conflicts = {s.uid: s.decision.conflict for s in result.applied if s.decision.conflict is not None}
        for uid, expected in before.items():
            found = world.remote_by_uid(uid)
            remote = found[1].content if found else None
            local = world.local[uid].content if uid in world.local else None
            assert remote == local == expected.content, (uid, expected, remote, local)
            if expected.survives:
                event("sync: a change beat a deletion")
                assert remote is not None and local is not None
            if expected.conflict is not None:
                event(f"sync: conflict won by {expected.conflict.value}")
                assert conflicts.get(uid) is expected.conflict, (uid, expected, conflicts.get(uid))

    # --- after every step ---

    @invariant()
    def no_uid_twice_at_the_provider(self) -> None:
        uids = [item.uid for item in self.world.remote.values()]
        assert len(uids) == len(set(uids))

    @invariant()
    def settled_sides_agree(self) -> None:
        if self.last is None or not self.settled:
            return
        self.last = None  # once, right after the sync: edits may follow
        world = self.world
        remote = {item.uid: item.content for item in world.remote.values()}
        local = {uid: item.content for uid, item in world.local.items()}
        assert remote == local
        # The status describes both sides as they are.
        assert set(world.status) == set(remote)
        for uid, status in world.status.items():
            found = world.remote_by_uid(uid)
            assert found is not None and found[0] == status.item_id and found[1].etag == status.etag
        # A second sync right away has nothing to do (no ping-pong).
        again = self.executor().plan()
        assert all(step.decision.action is Action.NOTHING for step in again.values()), again


class InboundSync(RuleBasedStateMachine):
    """Direction INBOUND: the mirror follows the provider, whatever happened to it in between."""

    direction = SyncDirection.INBOUND
    writable = True

    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.uids = (f"uid-{n}@test" for n in itertools.count())
        self.policy = ConflictPolicy.REMOTE_WINS

    @initialize(policy=st.sampled_from(ConflictPolicy))
    def choose_policy(self, policy: ConflictPolicy) -> None:
        self.policy = policy

    @precondition(lambda self: len(self.world.remote) < MOST_ITEMS)
    @rule(content=st.sampled_from(CONTENTS))
    def create_at_provider(self, content: str) -> None:
        self.world.create(next(self.uids), content, tagged=False)

    @precondition(lambda self: self.world.remote)
    @rule(data=st.data(), content=st.sampled_from(CONTENTS))
    def edit_at_provider(self, data: st.DataObject, content: str) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.remote)), label="item")
        item = self.world.remote[item_id]
        self.world.update(item_id, TwoWaySync._other(item.content, content), item.etag)

    @precondition(lambda self: self.world.remote)
    @rule(data=st.data())
    def delete_at_provider(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.remote)), label="item")
        self.world.delete(item_id, self.world.remote[item_id].etag)

    @precondition(lambda self: self.world.remote)
    @rule(data=st.data())
    def server_rewrites_dtstamp(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(sorted(self.world.remote)), label="item")
        self.world.remote[item_id] = replace(self.world.remote[item_id], etag=self.world.etag())

    @precondition(lambda self: self.world.local)
    @rule(data=st.data(), content=st.sampled_from(CONTENTS))
    def stray_edit_in_the_mirror(self, data: st.DataObject, content: str) -> None:
        """The mirror is read-only in practice; if it is edited anyway, the provider's word wins."""
        uid = data.draw(st.sampled_from(sorted(self.world.local)), label="uid")
        item = self.world.local[uid]
        self.world.local[uid] = replace(item, content=TwoWaySync._other(item.content, content), modified_at=self.world.now())

    @precondition(lambda self: self.world.local)
    @rule(data=st.data())
    def stray_delete_in_the_mirror(self, data: st.DataObject) -> None:
        uid = data.draw(st.sampled_from(sorted(self.world.local)), label="uid")
        del self.world.local[uid]

    @rule()
    def sync(self) -> None:
        executor = Executor(self.world, direction=self.direction, policy=self.policy, writable=self.writable)
        provider_before = dict(self.world.remote)
        steps = executor.plan()
        for step in steps.values():
            check_no_churn(step)
        result = executor.apply(steps)
        assert result.complete
        assert not any(step.decision.action in PUSHES for step in result.applied)
        assert self.world.remote == provider_before, "an INBOUND sync wrote to the provider"
        # The mirror equals the provider.
        remote = {item.uid: item.content for item in self.world.remote.values()}
        assert {uid: item.content for uid, item in self.world.local.items()} == remote
        assert set(self.world.status) == set(remote)
        for status in self.world.status.values():
            assert status.etag == self.world.remote[status.item_id].etag
        again = executor.plan()
        assert all(step.decision.action is Action.NOTHING for step in again.values()), again


class ReadOnlyCalendarSync(InboundSync):
    """Direction BOTH on a calendar calmesh cannot write to behaves as INBOUND."""

    direction = SyncDirection.BOTH
    writable = False


SETTINGS = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestTwoWaySync = TwoWaySync.TestCase
TestTwoWaySync.settings = SETTINGS
TestInboundSync = InboundSync.TestCase
TestInboundSync.settings = settings(SETTINGS, max_examples=150)
TestReadOnlyCalendarSync = ReadOnlyCalendarSync.TestCase
TestReadOnlyCalendarSync.settings = settings(SETTINGS, max_examples=100)
