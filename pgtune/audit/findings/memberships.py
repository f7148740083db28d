"""Who can act as whom: role membership followed through chains.

A member can use a group's privileges when the membership lets it inherit them or SET ROLE
to the group. Before PostgreSQL 16 every membership allows SET ROLE (Membership.inherit and
.set are None there); from 16 a grant WITH INHERIT FALSE, SET FALSE gives neither.
"""

from collections import defaultdict

from pgtune.access.model import ClusterState


def usable_groups(state: ClusterState, *, any_grant: bool = False) -> dict[str, frozenset[str]]:
    """For every role that is a member of something, all the groups it can act as
    (``any_grant``: all the groups it belongs to, whatever the options, as pg_hba.conf's
    ``+group`` counts them).

    >>> from pgtune.access.model import Membership
    >>> state = ClusterState(memberships=frozenset({
    ...     Membership("ops", "alice"), Membership("pg_read_server_files", "ops"),
    ...     Membership("audit", "bob", inherit=False, set=False)}))
    >>> sorted(usable_groups(state)["alice"])
    ['ops', 'pg_read_server_files']
    >>> "bob" in usable_groups(state)
    False
    """
    direct: dict[str, set[str]] = defaultdict(set)
    for m in state.memberships:
        if m.inherit is False and m.set is False and not any_grant:
            continue
        direct[m.member].add(m.group)
    closure: dict[str, frozenset[str]] = {}
    for role in direct:
        seen: set[str] = set()
        todo = list(direct[role])
        while todo:
            group = todo.pop()
            if group not in seen:
                seen.add(group)
                todo.extend(direct.get(group, ()))
        closure[role] = frozenset(seen)
    return closure


def acting_as(state: ClusterState, role: str) -> set[str]:
    """The roles that can act as ``role``: itself and every role reaching it."""
    return {role} | {r for r, groups in usable_groups(state).items() if role in groups}
