"""The sync planner, cell by cell: every combination of status, both sides and settings.

Contents are modelled as (visible, hidden) pairs. An event from the provider shows everything;
an event created through calmesh reaches the provider shaped by its privacy settings, so the
provider only ever holds its visible part (``local.outbound_hash``). "The same event on both
sides" therefore means the provider holds either the mirror's event or exactly what calmesh
would write for it.

The exhaustive test asserts what a user relies on (nothing written where it must not be, no
change lost to a deletion, no churn for identical content, conflicts settled by the stated
policy); the named cases after it are the rows of :mod:`calmesh.sync.plan`'s table.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from calmesh.sync.plan import (
    MASS_DELETION_MINIMUM,
    Action,
    Decision,
    LocalState,
    Origin,
    RemoteState,
    Side,
    Status,
    decide,
    mass_deletion_suspected,
)
from calmesh.sync.settings import ConflictPolicy, SyncDirection

PUSHES = frozenset({Action.PUSH_CREATE, Action.PUSH_UPDATE, Action.PUSH_DELETE})
EARLIER = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
LATER = EARLIER + timedelta(minutes=5)

Content = tuple[str, str]  # (visible, hidden)
BASE: Content = ("v0", "h0")


def local_hash(content: Content) -> str:
    return f"{content[0]}|{content[1]}"


def remote_hash(content: Content, origin: Origin) -> str:
    """What the provider holds of ``content``: all of it, or only what privacy lets through."""
    return f"{content[0]}|*" if origin is Origin.CALMESH else local_hash(content)


# --- the settings a decision is made under --------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A conflict policy with the two sides' modification times, and the side it should pick."""

    name: str
    policy: ConflictPolicy
    remote_at: datetime | None
    local_at: datetime | None
    winner: Side


POLICIES = (
    # The times are set against the policy, to show that only NEWEST_WINS looks at them.
    Policy("remote-wins", ConflictPolicy.REMOTE_WINS, EARLIER, LATER, Side.REMOTE),
    Policy("local-wins", ConflictPolicy.LOCAL_WINS, LATER, EARLIER, Side.LOCAL),
    Policy("newest-remote-newer", ConflictPolicy.NEWEST_WINS, LATER, EARLIER, Side.REMOTE),
    Policy("newest-local-newer", ConflictPolicy.NEWEST_WINS, EARLIER, LATER, Side.LOCAL),
    # Without both times there is no newest: the provider's version stands.
    Policy("newest-no-times", ConflictPolicy.NEWEST_WINS, None, LATER, Side.REMOTE),
)

# --- one item's situation --------------------------------------------------------------------

STATUSES = ("none", "known")
REMOTES = ("absent", "same", "etag-only", "changed", "equal-local")
LOCALS = ("absent", "same", "changed", "hidden-changed", "equal-remote")


@dataclass(frozen=True)
class Case:
    status_label: str
    remote_label: str
    local_label: str
    origin: Origin
    direction: SyncDirection
    policy: Policy
    writable: bool
    status: Status | None
    remote: RemoteState | None
    local: LocalState | None

    @property
    def id(self) -> str:
        return "-".join(
            (
                f"status:{self.status_label}",
                f"remote:{self.remote_label}",
                f"local:{self.local_label}",
                self.origin.value,
                self.direction.value,
                self.policy.name,
                "writable" if self.writable else "read-only",
            )
        )

    def decide(self) -> Decision:
        return decide(
            self.status,
            self.remote,
            self.local,
            direction=self.direction,
            policy=self.policy.policy,
            writable=self.writable,
        )

    # What the situation is, read off the states (not off the labels).

    @property
    def can_push(self) -> bool:
        return self.writable and self.direction is not SyncDirection.INBOUND

    @property
    def foreign_under_outbound(self) -> bool:
        """OUTBOUND and the provider's own event: not this connection's to sync."""
        return self.direction is SyncDirection.OUTBOUND and self.origin is Origin.PROVIDER

    @property
    def remote_changed(self) -> bool:
        return self.status is not None and self.remote is not None and self.remote.hash != self.status.remote_hash

    @property
    def local_changed(self) -> bool:
        return self.status is not None and self.local is not None and self.local.hash != self.status.local_hash

    @property
    def identical(self) -> bool:
        """Both sides hold the same event (the provider's copy is the mirror's, or its shape)."""
        return (
            self.remote is not None
            and self.local is not None
            and self.remote.hash in (self.local.hash, self.local.outbound_hash)
        )

    @property
    def in_conflict(self) -> bool:
        """Both sides hold the item, differently, and neither is the agreed version."""
        both = self.remote is not None and self.local is not None and not self.identical
        return both and (self.status is None or (self.remote_changed and self.local_changed))

    @property
    def expected_winner(self) -> Side:
        return self.policy.winner if self.can_push else Side.REMOTE


def _local_content(label: str, remote_content: Content | None) -> Content | None:
    return {
        "absent": None,
        "same": BASE,
        "changed": ("v-local", "h0"),
        "hidden-changed": ("v0", "h-local"),
        "equal-remote": (remote_content[0], "h0") if remote_content else None,
    }[label]


def _situations() -> Iterator[tuple[str, str, str, Origin, Status | None, RemoteState | None, LocalState | None]]:
    seen = set()
    for status_label, remote_label, local_label, origin in itertools.product(
        STATUSES, REMOTES, LOCALS, Origin
    ):
        if status_label == "none" and remote_label == "etag-only":
            continue  # no etag to compare with
        if remote_label == "equal-local" and local_label in ("absent", "equal-remote"):
            continue  # equal to nothing / each defined by the other
        if local_label == "equal-remote" and remote_label == "absent":
            continue
        status = (
            Status("item-1", "uid-1", "etag-0", remote_hash(BASE, origin), local_hash(BASE), origin)
            if status_label == "known"
            else None
        )
        remote_content: Content | None = {
            "absent": None,
            "same": BASE,
            "etag-only": BASE,
            "changed": ("v-remote", "h0"),
            "equal-local": None,  # below
        }[remote_label]
        local_content = _local_content(local_label, remote_content)
        if remote_label == "equal-local":
            assert local_content is not None
            remote_content = local_content
        etag = "etag-0" if remote_label == "same" else "etag-1"
        key = (
            status_label,
            origin,
            (remote_hash(remote_content, origin), etag) if remote_content else None,
            local_hash(local_content) if local_content else None,
        )
        if key in seen:
            continue  # another pair of labels for the same situation
        seen.add(key)
        yield (
            status_label,
            remote_label,
            local_label,
            origin,
            status,
            remote_content,
            local_content,
        )


def _cases() -> Iterator[Case]:
    for status_label, remote_label, local_label, origin, status, remote_content, local_content in _situations():
        for direction, policy, writable in itertools.product(SyncDirection, POLICIES, (True, False)):
            remote = None
            if remote_content is not None:
                remote = RemoteState(
                    "item-1",
                    "etag-0" if remote_label == "same" else "etag-1",
                    remote_hash(remote_content, origin),
                    tagged=origin is Origin.CALMESH,
                    modified_at=policy.remote_at,
                )
            local = None
            if local_content is not None:
                shaped = remote_hash(local_content, origin)
                local = LocalState(local_hash(local_content), shaped if origin is Origin.CALMESH else local_hash(local_content), origin, policy.local_at)
            yield Case(
                status_label, remote_label, local_label, origin, direction, policy, writable, status, remote, local
            )


CASES = [case for case in _cases() if case.status is not None or case.remote is not None or case.local is not None]


def test_the_table_covers_every_cell() -> None:
    """2 origins × 3 directions × 5 policies × 2 writabilities for every distinct situation."""
    situations = {(c.status_label, c.remote_label, c.local_label, c.origin) for c in CASES}
    assert len(CASES) == len(situations) * 3 * len(POLICIES) * 2
    for origin in Origin:
        labels = {(s, r, lo) for s, r, lo, o in situations if o is origin}
        # Every label of each dimension occurs.
        assert {s for s, _, _ in labels} == set(STATUSES)
        assert {r for _, r, _ in labels} == set(REMOTES)
        assert {lo for _, _, lo in labels} == set(LOCALS)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_combination(case: Case) -> None:
    decision = case.decide()
    action = decision.action

    # Never written out where it must not be.
    if not case.can_push:
        assert action not in PUSHES, "INBOUND or a read-only calendar wrote to the provider"

    # OUTBOUND leaves the provider's own events alone, whatever state they are in.
    if case.foreign_under_outbound:
        assert action is Action.SKIP
        assert decision.conflict is None
        return
    # And nothing else is ever skipped, except a new event that has nowhere to go.
    if action is Action.SKIP:
        assert case.status is None and case.remote is None and not case.can_push

    # Identical content on both sides: never copied either way.
    if case.identical:
        assert action in (Action.RECORD, Action.NOTHING)
        assert decision.conflict is None
        if action is Action.NOTHING:
            assert case.status is not None and case.remote is not None
            assert case.remote.etag == case.status.etag and not case.remote_changed and not case.local_changed

    # A change beats a deletion.
    if case.remote_changed and case.local is None:
        assert action is Action.PULL and decision.conflict is Side.REMOTE
    if case.local_changed and case.remote is None:
        if case.can_push:
            assert action is Action.PUSH_CREATE and decision.conflict is Side.LOCAL
        else:
            # A calendar calmesh does not write to follows the provider: its deletion stands.
            assert action is Action.DELETE_LOCAL

    # Conflicts are reported, settled by the policy (the provider's side when ours can't be written).
    if case.in_conflict:
        assert decision.conflict is case.expected_winner
        assert action is (Action.PUSH_UPDATE if case.expected_winner is Side.LOCAL else Action.PULL)
    elif not ((case.remote_changed and case.local is None) or (case.local_changed and case.remote is None)):
        assert decision.conflict is None, "a conflict reported where only one side changed"

    # Gone on both sides: the status goes too.
    if case.status is not None and case.remote is None and case.local is None:
        assert action is Action.FORGET

    # A change on one side reaches the other; so does a deletion of an unchanged item.
    if case.status is not None and not case.identical:
        if case.remote_changed and case.local is not None and not case.local_changed:
            assert action is Action.PULL
        if case.local_changed and case.remote is not None and not case.remote_changed:
            assert action is (Action.PUSH_UPDATE if case.can_push else Action.PULL)
        if case.remote is None and case.local is not None and not case.local_changed:
            assert action is Action.DELETE_LOCAL
        if case.local is None and case.remote is not None and not case.remote_changed:
            assert action is (Action.PUSH_DELETE if case.can_push else Action.PULL)
    if case.status is None and case.local is None:
        assert action is Action.PULL
    if case.status is None and case.remote is None:
        assert action is (Action.PUSH_CREATE if case.can_push else Action.SKIP)


@pytest.mark.parametrize("direction", list(SyncDirection))
@pytest.mark.parametrize("writable", [True, False])
def test_no_status_and_no_sides_is_a_programming_error(direction: SyncDirection, writable: bool) -> None:
    with pytest.raises(ValueError, match="status or at least one side"):
        decide(None, None, None, direction=direction, writable=writable)


# --- the module docstring's table, row by row --------------------------------------------------

H0, H1, H2 = "hash-0", "hash-1", "hash-2"


def status(origin: Origin = Origin.PROVIDER, etag: str = "e0") -> Status:
    return Status("item", "uid", etag, H0, H0, origin)


def remote(digest: str = H0, etag: str = "e0", *, tagged: bool = False, at: datetime | None = None) -> RemoteState:
    return RemoteState("item", etag, digest, tagged, at)


def local(digest: str = H0, *, origin: Origin = Origin.PROVIDER, outbound: str | None = None, at: datetime | None = None) -> LocalState:
    return LocalState(digest, outbound or digest, origin, at)


def test_row_new_at_the_provider_is_pulled() -> None:
    assert decide(None, remote(), None).action is Action.PULL


def test_row_new_in_calmesh_is_created_at_the_provider() -> None:
    assert decide(None, None, local(origin=Origin.CALMESH)).action is Action.PUSH_CREATE


def test_row_new_on_both_sides_and_equal_is_recorded() -> None:
    assert decide(None, remote(H1), local(H1)) == Decision(Action.RECORD, reason="both sides hold the same event")


def test_row_new_on_both_sides_and_equal_to_what_calmesh_would_write_is_recorded() -> None:
    """A push whose status was never written (interrupted sync) comes back as a match, not a copy."""
    decision = decide(None, remote(H2, tagged=True), local(H1, origin=Origin.CALMESH, outbound=H2))
    assert decision.action is Action.RECORD


def test_row_new_on_both_sides_and_different_is_a_conflict() -> None:
    decision = decide(None, remote(H1), local(H2))
    assert decision == Decision(Action.PULL, Side.REMOTE, "created on both sides with different content")


def test_row_unchanged_is_nothing() -> None:
    assert decide(status(), remote(), local()).action is Action.NOTHING


def test_row_unchanged_with_a_new_etag_is_recorded() -> None:
    """The server rewrote DTSTAMP: a new etag, the same event. Store the etag; copy nothing."""
    assert decide(status(), remote(etag="e1"), local()).action is Action.RECORD


def test_row_changed_at_the_provider_is_pulled() -> None:
    assert decide(status(), remote(H1, "e1"), local()).action is Action.PULL


def test_row_changed_in_calmesh_is_pushed() -> None:
    assert decide(status(), remote(), local(H1)).action is Action.PUSH_UPDATE


def test_row_the_same_change_on_both_sides_is_recorded() -> None:
    assert decide(status(), remote(H1, "e1"), local(H1)).action is Action.RECORD


def test_row_different_changes_on_both_sides_are_a_conflict() -> None:
    decision = decide(status(), remote(H1, "e1"), local(H2), policy=ConflictPolicy.LOCAL_WINS)
    assert decision == Decision(Action.PUSH_UPDATE, Side.LOCAL, "changed on both sides")


def test_row_deleted_at_the_provider_is_deleted_here() -> None:
    assert decide(status(), None, local()).action is Action.DELETE_LOCAL


def test_row_deleted_at_the_provider_but_changed_here_is_created_again() -> None:
    decision = decide(status(), None, local(H1))
    assert decision.action is Action.PUSH_CREATE and decision.conflict is Side.LOCAL


def test_row_deleted_here_is_deleted_at_the_provider() -> None:
    assert decide(status(), remote(), None).action is Action.PUSH_DELETE


def test_row_deleted_here_but_changed_at_the_provider_is_pulled_back() -> None:
    decision = decide(status(), remote(H1, "e1"), None)
    assert decision.action is Action.PULL and decision.conflict is Side.REMOTE


def test_row_deleted_on_both_sides_is_forgotten() -> None:
    assert decide(status(), None, None).action is Action.FORGET


# --- the settings around the table -----------------------------------------------------------


def test_newest_wins_picks_the_side_modified_last() -> None:
    args = (status(), remote(H1, "e1", at=EARLIER), local(H2, at=LATER))
    assert decide(*args, policy=ConflictPolicy.NEWEST_WINS).conflict is Side.LOCAL
    args = (status(), remote(H1, "e1", at=LATER), local(H2, at=EARLIER))
    assert decide(*args, policy=ConflictPolicy.NEWEST_WINS).conflict is Side.REMOTE


def test_newest_wins_on_a_tie_keeps_the_providers_version() -> None:
    args = (status(), remote(H1, "e1", at=EARLIER), local(H2, at=EARLIER))
    assert decide(*args, policy=ConflictPolicy.NEWEST_WINS) == Decision(Action.PULL, Side.REMOTE, "changed on both sides")


def test_local_wins_on_a_calendar_calmesh_cannot_write_falls_back_to_the_provider() -> None:
    decision = decide(status(), remote(H1, "e1"), local(H2), policy=ConflictPolicy.LOCAL_WINS, writable=False)
    assert decision == Decision(Action.PULL, Side.REMOTE, "changed on both sides")


def test_inbound_overwrites_a_local_change_and_restores_a_local_deletion() -> None:
    assert decide(status(), remote(), local(H1), direction=SyncDirection.INBOUND).action is Action.PULL
    assert decide(status(), remote(), None, direction=SyncDirection.INBOUND).action is Action.PULL


def test_inbound_keeps_an_event_created_here_to_itself() -> None:
    decision = decide(None, None, local(origin=Origin.CALMESH), direction=SyncDirection.INBOUND)
    assert decision.action is Action.SKIP


def test_outbound_skips_the_providers_events_but_syncs_its_own() -> None:
    outbound = SyncDirection.OUTBOUND
    assert decide(None, remote(), None, direction=outbound).action is Action.SKIP
    assert decide(status(), remote(H1, "e1"), local(), direction=outbound).action is Action.SKIP
    # An event calmesh wrote is recognised by its tag even with no status (a lost record).
    assert decide(None, remote(tagged=True), None, direction=outbound).action is Action.PULL
    assert decide(None, None, local(origin=Origin.CALMESH), direction=outbound).action is Action.PUSH_CREATE
    mine = status(Origin.CALMESH)
    assert decide(mine, remote(), local(H1, origin=Origin.CALMESH), direction=outbound).action is Action.PUSH_UPDATE
    assert decide(mine, remote(), None, direction=outbound).action is Action.PUSH_DELETE


def test_a_hidden_field_edited_here_writes_nothing_out() -> None:
    """Only the description changed, and privacy hides it: the provider's copy is still right."""
    mine = Status("item", "uid", "e0", "shaped-0", H0, Origin.CALMESH)
    decision = decide(mine, remote("shaped-0", "e0", tagged=True), local(H1, origin=Origin.CALMESH, outbound="shaped-0"))
    assert decision.action is Action.RECORD


# --- mass deletion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "remaining", "suspected"),
    [
        (MASS_DELETION_MINIMUM, 0, True),
        (500, 0, True),
        (MASS_DELETION_MINIMUM - 1, 0, False),  # a small calendar may really be emptied
        (MASS_DELETION_MINIMUM, 1, False),
        (500, 1, False),
        (0, 0, False),
    ],
)
def test_mass_deletion_is_suspected_only_when_a_sizeable_calendar_empties(known: int, remaining: int, suspected: bool) -> None:
    assert mass_deletion_suspected(known, remaining) is suspected
