"""Paths to power: the login roles that reach superuser, a dangerous attribute or a dangerous
predefined role *through their memberships*, each named with the path it can walk.

One breadth-first walk per login role over the membership graph, whose states are
(role, how): ``set`` when the login can become that role (``SET ROLE``: current_user is it),
``inherit`` when it holds that role's privileges without becoming it. PostgreSQL's rules:

- ``SET ROLE`` checks the *session* user's memberships along grants with the SET option
  (16+; before 16 every grant allows it), so a ``set`` state is reached only along SET edges
  from the login role;
- privileges are inherited along grants with the INHERIT option (16+; before 16 the member's
  INHERIT attribute decides), from the login role or from any role it can SET ROLE to;
- a grant with neither option (16+) gives nothing and is not followed; neither is the ADMIN
  option alone (what a role administering a group could grant itself is not followed).

What can be reached, and where it counts:

- role attributes (SUPERUSER, BYPASSRLS, CREATEROLE, REPLICATION) are never inherited: they
  apply when current_user is a role that has them, so they count only at ``set`` states;
  the attributes of a role that is also a superuser are reported as SUPERUSER alone;
- the dangerous predefined roles (``roles.POWERFUL``) act through privilege checks, so holding
  their privileges is enough: they count at either state (the shorter path wins, the one that
  needs no SET ROLE on a tie);
- inheriting a superuser's privileges without being able to become it (a 16+ grant WITH SET
  FALSE) still makes the login an owner of everything the superuser owns. Where it may also
  CREATE in the function's schema (which CREATE OR REPLACE FUNCTION checks, owner or not: the
  schema is the superuser's or the login's own, or CREATE is granted to a role it holds or to
  PUBLIC), it can ``CREATE OR REPLACE`` the superuser's functions ``SECURITY DEFINER`` with a
  body of its own, and the owner stays: that body runs as the superuser. This is the one
  finding about "a superuser-owned SECURITY DEFINER function it may change", reported naming
  the functions (SECURITY DEFINER ones first); a function it owns but cannot replace (in
  schema public of PostgreSQL 15+, say) is not a way up, and when the login can SET ROLE to
  that superuser the SUPERUSER finding already says more.

What the login role holds by itself is left to the direct checks (PGT-ROLE-001 to 004): its
own attributes, and a predefined role it is granted directly. A superuser login is skipped.

Severity is the one the direct checks give the same power (reaching it through a group is
holding it, at most one SET ROLE away): critical for superuser (also through a function it
may replace), pg_execute_server_program and pg_write_server_files; high for BYPASSRLS,
REPLICATION (replication slots and logical decoding read every row changed),
pg_read_server_files and pg_write_all_data; CREATEROLE high before 16 (it can grant itself
any non-superuser role) and medium from 16; pg_read_all_data medium, as PGT-ROLE-004 rates it.

The remediation revokes the path's first membership: the one grant that belongs to the login
role (the groups may be legitimately shared); on 16+ once per grantor, GRANTED BY it.
"""

from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from psycopg import sql

from pgtune.access.model import PUBLIC, ClusterState, Membership, Role
from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, render
from pgtune.audit.findings.roles import POWERFUL
from pgtune.audit.model import Finding, Severity, Snapshot
from pgtune.names import shown, shown_qualified

How = Literal["set", "inherit"]
State = tuple[str, How]

ID = "PGT-ROLE-008"
TITLE = "Login role reaches a dangerous power through its memberships"
ARROW = " \u2192 "  # →
SHOWN_FUNCTIONS = 3
ANY_SUPERUSER = "*superuser"  # a target: holding a superuser's privileges, by SET or not

# Attributes, in the order they are reported, with why they matter.
ATTRIBUTES: dict[str, str] = {
    "superuser": "bypasses every permission check and RLS, and runs OS commands (COPY ... PROGRAM)",
    "bypassrls": "row level security policies do not apply: it sees and changes every row",
    "createrole": "creates and administers roles, a privilege-management power",
    "replication": "creates replication slots and decodes the WAL: it reads every row changed",
}
FUNCTION_WHY = (
    "it owns the superuser's functions through inheritance and may create in their schema: "
    "CREATE OR REPLACE ... SECURITY DEFINER keeps the owner, so a body it writes runs as "
    "the superuser"
)


@dataclass(frozen=True)
class Step:
    group: str
    how: How  # how the login uses this membership: SET ROLE through it, or inherits it


@dataclass(frozen=True)
class Path:
    login: str
    steps: tuple[Step, ...]

    @property
    def end(self) -> str:
        return self.steps[-1].group if self.steps else self.login

    def text(self, target: str | None = None) -> str:
        """``"webapp" → "legacy_admin" (SET) → SUPERUSER``."""
        parts = [shown(self.login)]
        parts += [f"{shown(s.group)} ({s.how.upper()})" for s in self.steps]
        if target is not None:
            parts.append(target)
        return ARROW.join(parts)

    def set_role(self) -> str | None:
        """The role the login must SET ROLE to (the last one reached by SET), if any."""
        sets = [s.group for s in self.steps if s.how == "set"]
        return sets[-1] if sets else None


class _Graph:
    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self.roles = state.roles
        self._memo: dict[State, dict[str, tuple[Step, ...]]] = {}
        self.edges: dict[str, list[Membership]] = {}
        for m in sorted(state.memberships):
            self.edges.setdefault(m.member, []).append(m)

    @cached_property
    def schema_creators(self) -> dict[tuple[str, str], frozenset[str]]:
        """(database, schema) -> the grantees of CREATE on it (PUBLIC included), read once."""
        found: dict[tuple[str, str], set[str]] = defaultdict(set)
        for g in self.state.grants:
            if g.object.kind == "schema" and g.privilege == "CREATE":
                found[(g.object.database, g.object.schema or "")].add(g.grantee)
        return {key: frozenset(grantees) for key, grantees in found.items()}

    @cached_property
    def database_owners(self) -> dict[str, str]:
        return {o.database: who for o, who in self.state.owners.items() if o.kind == "database"}

    def can_set(self, m: Membership) -> bool:
        return m.set is not False  # None: before 16, every grant allows SET ROLE

    def can_inherit(self, m: Membership) -> bool:
        if m.inherit is not None:
            return m.inherit
        member = self.roles.get(m.member)
        return member.inherit if member is not None else True

    def inherited(self, role: str) -> frozenset[str]:
        """``role`` and every role whose privileges it holds by inheritance."""
        seen = {role}
        todo = [role]
        while todo:
            for m in self.edges.get(todo.pop(), ()):
                if m.group not in seen and self.can_inherit(m):
                    seen.add(m.group)
                    todo.append(m.group)
        return frozenset(seen)

    def _moves(self, how: How, m: Membership) -> list[How]:
        moves: list[How] = []
        if self.can_inherit(m):
            moves.append("inherit")
        if how == "set" and self.can_set(m):
            moves.append("set")
        return moves

    def _here(self, role: str, how: How) -> list[str]:
        """The targets met at (role, how): attributes when current_user can be the role (a
        superuser's as SUPERUSER alone), a powerful predefined role and ANY_SUPERUSER
        (holding a superuser's privileges) either way."""
        r = self.roles.get(role)
        met = [role] if role in POWERFUL else []
        if r is not None and r.superuser:
            met.append(ANY_SUPERUSER)
        if r is not None and how == "set":
            if r.superuser:
                met.append("superuser")
            else:
                met += [a for a in ATTRIBUTES if getattr(r, a)]
        return met

    def _best_from(self, role: str, how: How) -> dict[str, tuple[Step, ...]]:
        """The best steps from (role, how) to every target it leads to, memoized per state:
        one computation per group for all the login roles in it. PostgreSQL refuses circular
        memberships; a cycle in a hand-built state is cut (the state in progress counts as
        leading nowhere)."""
        key: State = (role, how)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        self._memo[key] = {}
        found: dict[str, tuple[Step, ...]] = dict.fromkeys(self._here(role, how), ())
        self._extend(found, role, how)
        self._memo[key] = found
        return found

    def _extend(self, found: dict[str, tuple[Step, ...]], role: str, how: How) -> None:
        for m in self.edges.get(role, ()):
            for move in self._moves(how, m):
                for target, rest in self._best_from(m.group, move).items():
                    steps = (Step(m.group, move), *rest)
                    if target not in found or _rank(steps) < _rank(found[target]):
                        found[target] = steps

    def targets(self, login: str) -> dict[str, Path]:
        """The best path from ``login`` to every target, through at least one membership."""
        found: dict[str, tuple[Step, ...]] = {}
        self._extend(found, login, "set")
        return {target: Path(login, steps) for target, steps in found.items()}

    def walk(self, login: str) -> dict[State, Path]:
        """The shortest path from ``login`` to every (role, how) it can reach (the login
        itself is ``(login, "set")`` with no step)."""
        start: State = (login, "set")
        found: dict[State, Path] = {start: Path(login, ())}
        queue = deque([start])
        while queue:
            role, how = queue.popleft()
            path = found[(role, how)]
            for m in self.edges.get(role, ()):
                for move in self._moves(how, m):
                    state: State = (m.group, move)
                    if state not in found:
                        found[state] = Path(login, (*path.steps, Step(m.group, move)))
                        queue.append(state)
        return found


def _rank(steps: tuple[Step, ...]) -> tuple[int, bool, list[tuple[str, str]]]:
    """Shortest first, then the one needing no SET ROLE, then by name."""
    return (len(steps), any(s.how == "set" for s in steps), [(s.group, s.how) for s in steps])


def _best(paths: list[Path]) -> Path | None:
    return min(paths, key=lambda p: _rank(p.steps)) if paths else None


@dataclass(frozen=True)
class Reach:
    target: str  # "SUPERUSER", "BYPASSRLS", ..., a predefined role, or "FUNCTION"
    path: Path
    severity: Severity
    what: str  # what the login reaches, for ``seen``
    end: str | None  # appended to the path; None when the path ends at the target
    why: str


def _attribute_severity(attribute: str, major: int) -> Severity:
    if attribute == "superuser":
        return "critical"
    if attribute == "createrole" and major >= 16:
        return "medium"
    return "high"


def _can_create(
    snapshot: Snapshot, graph: _Graph, held: frozenset[str], database: str, schema: str
) -> bool:
    """Whether a role holding the privileges of ``held`` may CREATE in the schema (what
    CREATE OR REPLACE FUNCTION checks, even for a function the role owns): as owner of the
    schema (or of the database, for a schema owned by pg_database_owner), or by a grant to
    one of them or to PUBLIC."""
    inventory = snapshot.access.inventories.get(database)
    owner = inventory.schemas.get(schema) if inventory is not None else None
    if owner in held:
        return True
    if owner == "pg_database_owner" and graph.database_owners.get(database) in held:
        return True
    creators = graph.schema_creators.get((database, schema), frozenset())
    return PUBLIC in creators or bool(creators & held)


def _replaceable_functions(
    snapshot: Snapshot, graph: _Graph, owner: str, held: frozenset[str]
) -> list[str]:
    """The functions of ``owner`` a role holding ``held`` (``owner`` among them) may replace:
    it owns them through inheritance and may CREATE in their schema. SECURITY DEFINER ones
    first; any other becomes one by CREATE OR REPLACE ... SECURITY DEFINER."""
    definers = {
        (f.database, f.schema, f.name, f.args)
        for f in snapshot.functions
        if f.owner == owner and f.security_definer
    }
    every = definers | {
        (db, schema, name, args)
        for db, inventory in snapshot.access.inventories.items()
        for (schema, name, args), function_owner in inventory.functions.items()
        if function_owner == owner
    }
    ordered = sorted(every, key=lambda f: (f not in definers, f))
    return [
        f"{shown_qualified(db, schema, name)}({args})"
        + (" (SECURITY DEFINER)" if (db, schema, name, args) in definers else "")
        for db, schema, name, args in ordered
        if _can_create(snapshot, graph, held, db, schema)
    ]


def reaches(snapshot: Snapshot, login: Role, graph: _Graph) -> Iterator[Reach]:
    """What ``login`` reaches through its memberships and not by itself."""
    targets = graph.targets(login.name)
    for attribute, why in ATTRIBUTES.items():
        path = targets.get(attribute)
        if path is not None and not getattr(login, attribute):
            name = attribute.upper()
            severity = _attribute_severity(attribute, snapshot.major)
            yield Reach(name, path, severity, name, name, f"{name} {why}")
    for predefined, (severity, power) in POWERFUL.items():
        path = targets.get(predefined)
        if path is not None and len(path.steps) > 1:  # a direct grant is PGT-ROLE-004's
            yield Reach(predefined, path, severity, predefined, None, f"{predefined} {power}")
    if "superuser" in targets or ANY_SUPERUSER not in targets:
        return
    # It holds a superuser's privileges without becoming it: which functions can it replace?
    # Every superuser it reaches, each by its own path: one full walk, for these few logins.
    roles = snapshot.access.state.roles
    walked = graph.walk(login.name)
    owners: dict[int, tuple[str, list[str]]] = {}
    for (role, _), p in walked.items():
        r = roles.get(role)
        if p.steps and r is not None and r.superuser:
            held = graph.inherited(p.set_role() or login.name)
            functions = _replaceable_functions(snapshot, graph, role, held)
            if functions:
                owners[id(p)] = (role, functions)
    path = _best([p for (_, _), p in walked.items() if id(p) in owners])
    if path is not None:
        owner, functions = owners[id(path)]
        listed = ", ".join(functions[:SHOWN_FUNCTIONS])
        more = f" ({len(functions)} in all)" if len(functions) > SHOWN_FUNCTIONS else ""
        yield Reach(
            "FUNCTION",
            path,
            "critical",
            f"the privileges of superuser {shown(owner)} (it cannot SET ROLE to it) and may "
            f"replace its functions {listed}{more}",
            None,
            FUNCTION_WHY,
        )


def _seen(login: str, reach: Reach) -> str:
    set_role = reach.path.set_role()
    when = f"after SET ROLE {shown(set_role)}" if set_role else "at login, without SET ROLE"
    return f"login role {shown(login)} reaches {reach.what} {when}: {reach.path.text(reach.end)}"


def _revoke(graph: _Graph, member: str, group: str) -> str:
    """REVOKE the membership; on 16+ once per grantor (GRANTED BY), since a plain REVOKE
    only removes the grant the current role made."""
    grantors = next((m.grantors for m in graph.edges.get(member, ()) if m.group == group), ())
    revoke = sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), sql.Identifier(member))
    if not grantors:
        return render(revoke)
    return render(
        *(
            sql.SQL("{} GRANTED BY {}").format(revoke, sql.Identifier(grantor))
            for grantor in sorted(grantors)
        )
    )


def paths_to_power(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    state = snapshot.access.state
    graph = _Graph(state)
    found: list[Finding] = []
    for login in sorted(state.roles.values()):
        if not login.login or login.superuser or login.name not in graph.edges:
            continue
        for reach in reaches(snapshot, login, graph):
            first = reach.path.steps[0].group
            found.append(
                Finding(
                    id=ID,
                    severity=reach.severity,
                    title=TITLE,
                    seen=_seen(login.name, reach),
                    why=reach.why,
                    remediation=_revoke(graph, login.name, first),
                    cis=cis.ADMIN_PRIVILEGES,
                    object=login.name,
                )
            )
    return found


CHECKS: tuple[Check, ...] = (paths_to_power,)
