"""Who can do what: the effective privileges of every login role, grouped so they stay readable.

For each login role the review says what it *is* (its attributes), what it *belongs to* (every
role whose privileges it holds, with the membership path), what it *can do* beyond object
privileges (attributes and predefined roles, described as capabilities) and which privileges it
holds on which objects, whichever way they reach it: granted to itself, to a role it inherits
from, to PUBLIC, implied by a predefined role (``pg_read_all_data`` ...) or by ownership.

Inheritance follows PostgreSQL: a role holds the privileges of the roles it is a member of
*with inheritance* (16+: the grant's INHERIT option; before 16: the member's INHERIT
attribute), transitively. Membership without inheritance only lets the role ``SET ROLE`` (16+:
along grants with the SET option); what that would add is reported apart, "via SET ROLE only",
because it takes a deliberate step. Superusers hold everything: their objects are not listed.

Privileges are grouped per (database, schema, kind) by identical privileges and grant options:
"SELECT on 980 of 1000 tables in app.sales (all but: a, b)" is one group, whose ``via`` lists
every grantee that contributes to it. A group holds
the *exact* object set in its smaller form: ``all``, ``all_but`` (the exceptions) or ``some``
(the members), so the next review diffs exactly (baseline.py) while renderers list few names.

Future objects: ``future_privileges`` says what the role will get on objects created later,
from default privileges (``ALTER DEFAULT PRIVILEGES FOR ROLE owner [IN SCHEMA s] GRANT ...``)
whose grantee is the role, a role it inherits from, PUBLIC, or (``set_role``) a role it may
SET ROLE to: per database, owner, schema (None: every schema) and object type. PostgreSQL's
built-in defaults (PUBLIC EXECUTE on functions, USAGE on types: every owner, every role) are
left out, as everywhere-the-same noise; a superuser's list is empty like its privileges.

Objects are not visited one by one per role: those of one group key with the same grants,
owners and inventory presence (their *profile*) are held alike by every set of grantees, so
each set is evaluated once per profile (a few hundred at 20,000 tables) and objects join their
groups by the profile's name set. Tables and sequences may come already grouped by owner and
ACL (``Snapshot.relations``, as collect.py reads them): their names join their profile as one.
"""

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from pgtune.access.model import (
    PRIVILEGES,
    PUBLIC,
    ClusterState,
    DefaultPrivilege,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    Role,
    grantee_label,
)
from pgtune.audit.model import Granted, SharedAcl, Snapshot

How = Literal["inherit", "set_role", "none"]
Scope = Literal["all", "all_but", "some"]
Key = tuple[str, str | None, str]  # (database, schema or None, kind)
Signature = tuple[tuple[str, ...], tuple[str, ...]]  # (privileges, grantable): what groups

OWNER = "OWNER"  # pseudo-privilege: ownership implies every privilege and the right to grant
DATABASE_OWNER = "pg_database_owner"  # held implicitly by the owner of the current database
NAMED_WHEN_ALL = 10
KIND_ORDER = ("database", "schema", "table", "sequence", "function", "column")

# Predefined roles that act as privileges on objects (aclchk.c): expanded onto every object of
# the databases read, so "who can read sales.orders" has one answer wherever it comes from.
PREDEFINED_PRIVILEGES: dict[str, dict[str, tuple[str, ...]]] = {
    "pg_read_all_data": {"schema": ("USAGE",), "table": ("SELECT",), "sequence": ("SELECT",)},
    "pg_write_all_data": {
        "schema": ("USAGE",),
        "table": ("INSERT", "UPDATE", "DELETE"),
        "sequence": ("UPDATE",),
    },
    "pg_maintain": {"table": ("MAINTAIN",)},
}

ATTRIBUTE_CAPABILITIES: dict[str, str] = {
    "superuser": "every privilege on every object; bypasses all permission checks and RLS",
    "createrole": "creates, alters and drops roles; grants the roles it administers",
    "createdb": "creates databases",
    "replication": "streams WAL and creates replication slots (sees every row)",
    "bypassrls": "bypasses every row level security policy",
}
PREDEFINED_CAPABILITIES: dict[str, str] = {
    "pg_read_all_data": "SELECT on every table, view and sequence, USAGE on every schema, "
    "in every database",
    "pg_write_all_data": "INSERT, UPDATE, DELETE on every table and view, UPDATE on every "
    "sequence, USAGE on every schema, in every database",
    "pg_maintain": "VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH, LOCK on every relation",
    "pg_monitor": "reads every monitoring view and function",
    "pg_read_all_settings": "reads every configuration setting, superuser-only ones included",
    "pg_read_all_stats": "reads every pg_stat_* view, other sessions' queries included",
    "pg_stat_scan_tables": "runs monitoring functions that lock tables (ACCESS SHARE)",
    "pg_signal_backend": "cancels queries and terminates other roles' sessions",
    "pg_signal_autovacuum_worker": "cancels or terminates autovacuum workers",
    "pg_read_server_files": "reads any file the server's OS user can read (COPY FROM, "
    "pg_read_file)",
    "pg_write_server_files": "writes any file the server's OS user can write (COPY TO)",
    "pg_execute_server_program": "runs any program as the server's OS user (COPY ... PROGRAM)",
    "pg_checkpoint": "runs CHECKPOINT",
    "pg_use_reserved_connections": "uses the connection slots of reserved_connections",
    "pg_create_subscription": "creates subscriptions (with CREATE on the database)",
}


@dataclass(frozen=True, slots=True)
class MembershipPath:
    """A role whose privileges the login role holds, and how."""

    role: str
    path: tuple[str, ...]  # the login role first, ``role`` last
    how: How  # inherit: always in effect; set_role: after SET ROLE; none: neither
    admin: bool = False  # may grant ``role`` to others (ADMIN OPTION on the last step)


@dataclass(frozen=True, slots=True)
class Capability:
    name: str  # an attribute ("superuser") or a predefined role ("pg_monitor")
    description: str
    path: tuple[str, ...]  # where it comes from; (role,) for the role's own attribute
    set_role: bool = False  # only after SET ROLE


@dataclass(frozen=True, slots=True)
class PrivilegeGroup:
    """Identical privileges on a set of objects of one kind in one schema (or database)."""

    database: str
    schema: str | None  # None for the database itself, and for schemas (grouped per database)
    kind: str
    privileges: tuple[str, ...]  # PostgreSQL's order; ("OWNER",) for owned objects
    grantable: tuple[str, ...]  # held WITH GRANT OPTION
    via: tuple[str, ...]  # grantees they come through: the role, a group, PUBLIC, pg_*
    scope: Scope
    count: int
    total: int  # objects of this kind in the schema (database)
    objects: tuple[str, ...] = ()  # "some": every member; "all": the members, when few
    excluded: tuple[str, ...] = ()  # scope "all_but": the exceptions, every one
    blocked: str | None = None  # why they cannot be used, e.g. no USAGE on the schema


@dataclass(frozen=True, slots=True)
class FuturePrivilege:
    """What the role will hold on the objects ``owner`` creates later (default privileges)."""

    database: str
    owner: str
    schema: str | None  # None: in every schema (the owner's global default privileges)
    objtype: str  # tables, sequences, functions, types, schemas
    privileges: tuple[str, ...]
    grantable: tuple[str, ...]  # granted WITH GRANT OPTION
    via: tuple[str, ...]  # the grantees they come through: the role, a group, PUBLIC
    set_role: bool = False  # only after SET ROLE


@dataclass(frozen=True, slots=True)
class RoleReview:
    role: Role
    memberships: tuple[MembershipPath, ...]
    capabilities: tuple[Capability, ...]
    privileges: tuple[PrivilegeGroup, ...]  # in effect at login
    set_role_privileges: tuple[PrivilegeGroup, ...]  # added by SET ROLE, not in the above
    future_privileges: tuple[FuturePrivilege, ...] = ()  # on objects created later


# PostgreSQL's own default privileges, the same for every owner and every role.
BUILTIN_DEFAULTS = {("functions", "EXECUTE"), ("types", "USAGE")}


def future_privilege_doc(f: FuturePrivilege) -> dict[str, object]:
    """One ``future_privileges`` entry of the JSON report (``schema`` null: every schema;
    ``via`` spelled by ``grantee_label``)."""
    return {
        "database": f.database,
        "owner": f.owner,
        "schema": f.schema,
        "objtype": f.objtype,
        "privileges": list(f.privileges),
        "grantable": list(f.grantable),
        "via": [grantee_label(v) for v in f.via],
        "set_role": f.set_role,
    }


@dataclass(frozen=True, slots=True)
class _Profile:
    """What decides what any set of grantees holds on an object: the grants on it, its owners
    and whether predefined roles reach it (they reach the objects of the inventories). Objects
    of one kind with equal profiles are held alike by every role, so the review works per
    profile (a few hundred at 20k tables) rather than per object."""

    kind: str
    grants: frozenset[tuple[str, str, bool]]  # (grantee, privilege, grantable)
    owners: frozenset[str]
    listed: bool  # in the inventories: pg_read_all_data and the like reach it
    grantees: frozenset[str]  # every grantee that can add something here

    @staticmethod
    def of(
        kind: str, grants: frozenset[tuple[str, str, bool]], owners: frozenset[str], listed: bool
    ) -> "_Profile":
        reach = {grantee for grantee, _, _ in grants} | owners
        if listed:
            reach.update(r for r, kinds in PREDEFINED_PRIVILEGES.items() if kind in kinds)
        return _Profile(kind, grants, owners, listed, frozenset(reach))


@dataclass(frozen=True, slots=True, eq=False)
class _Held:
    """What a set of grantees holds on the objects of one profile."""

    privileges: Mapping[str, frozenset[str]]  # privilege -> the grantees it comes through
    grantable: frozenset[str]
    owners: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.owners or self.privileges)

    def signature(self) -> Signature:
        """What groups objects: the privileges and grant options (not where they come from,
        which would split one readable line into many)."""
        if self.owners:
            return (OWNER,), ()
        return tuple(sorted(self.privileges)), tuple(sorted(self.grantable))

    def via(self) -> frozenset[str]:
        if self.owners:
            return self.owners
        return frozenset().union(*self.privileges.values())

    def beyond(self, base: "_Held") -> "_Held | None":
        """What this holds that ``base`` does not: SET ROLE's additions."""
        if base.owners:
            return None
        if self.owners:
            return self
        rest = {p: via for p, via in self.privileges.items() if p not in base.privileges}
        if not rest:
            return None
        return _Held(rest, frozenset(p for p in self.grantable if p in rest), frozenset())


_NOTHING = _Held({}, frozenset(), frozenset())
_GRANTED = attrgetter("grantee", "privilege", "grantable")  # a profile's grant rows


def _place(obj: ObjectRef) -> tuple[Key, str]:
    """Where an object is grouped, and its name within the group."""
    if obj.kind == "database":
        return (obj.database, None, "database"), obj.database
    if obj.kind == "schema":
        return (obj.database, None, "schema"), str(obj.schema)
    if obj.kind == "function":
        return (obj.database, obj.schema, "function"), f"{obj.name}({obj.args or ''})"
    if obj.kind == "column":
        return (obj.database, obj.schema, "column"), f"{obj.name}.{obj.column}"
    return (obj.database, obj.schema, obj.kind), str(obj.name)


def _universe(
    inventories: Mapping[str, Inventory], databases: Iterable[str]
) -> dict[Key, set[str]]:
    """Every object that exists, per group key: the denominators of "980 of 1000"."""
    found: dict[Key, set[str]] = defaultdict(set)
    for db in databases:
        found[(db, None, "database")].add(db)
    for db, inv in inventories.items():
        found[(db, None, "schema")].update(inv.schemas)
        for schema, name in inv.tables:
            found[(db, schema, "table")].add(name)
        for schema, name in inv.sequences:
            found[(db, schema, "sequence")].add(name)
        for schema, name, args in inv.functions:
            found[(db, schema, "function")].add(f"{name}({args})")
        for (schema, table), columns in inv.columns.items():
            found[(db, schema, "column")].update(f"{table}.{c}" for c in columns)
    return found


@dataclass(frozen=True, slots=True)
class _Part:
    """The objects of one group key that share a profile."""

    profile: int
    names: frozenset[str]


class _Index:
    """Lookups over one cluster state, built once for all the roles reviewed."""

    def __init__(
        self,
        state: ClusterState,
        inventories: Mapping[str, Inventory],
        relations: Iterable[SharedAcl] = (),
    ) -> None:
        self.state = state
        self.inventories = inventories
        self.edges: dict[str, list[Membership]] = defaultdict(list)
        for m in sorted(state.memberships):
            self.edges[m.member].append(m)
        self.admin = {(m.member, m.group) for m in state.memberships if m.admin}
        self.db_owner: dict[str, str] = {
            obj.database: owner for obj, owner in state.owners.items() if obj.kind == "database"
        }
        self.universe = _universe(inventories, self.db_owner)
        # Every object of the databases reviewed (those with an owner), by profile. Grants are
        # gathered per ObjectRef instance first (grants on one object mostly share it, and an
        # id is far cheaper to hash than the dataclass), then merged per object by name.
        per_instance: dict[int, list[Grant]] = defaultdict(list)
        for g in state.grants:
            per_instance[id(g.object)].append(g)
        self.granting = set(map(attrgetter("grantee"), state.grants))
        self.owning = set(state.owners.values())
        granted: dict[Key, dict[str, frozenset[Granted]]] = defaultdict(dict)
        distinct: dict[frozenset[Granted], frozenset[Granted]] = {}  # one copy of each

        def grant(key: Key, names: Iterable[str], rows: frozenset[Granted]) -> None:
            on = granted[key]
            for name in names:
                before = on.get(name)
                merged = rows if before is None else before | rows
                on[name] = distinct.setdefault(merged, merged)

        owned: dict[Key, dict[str, frozenset[str]]] = defaultdict(dict)

        def own(key: Key, names: Iterable[str], owners: frozenset[str]) -> None:
            on = owned[key]
            for name in names:
                before = on.get(name)
                on[name] = owners if before is None else before | owners

        for grants in per_instance.values():
            obj = grants[0].object
            if obj.database in self.db_owner:
                key, name = _place(obj)
                grant(key, (name,), frozenset(map(_GRANTED, grants)))
        for obj, owner in state.owners.items():
            if obj.database in self.db_owner:
                key, name = _place(obj)
                own(key, (name,), frozenset((owner,)))
        # Tables and sequences read grouped (Snapshot.relations): one ACL for all the names.
        for shared in relations:
            self.granting.update(grantee for grantee, _, _ in shared.grants)
            self.owning.add(shared.owner)
            if shared.database in self.db_owner:
                key = (shared.database, shared.schema, shared.kind)
                if shared.grants:
                    grant(key, shared.names, shared.grants)
                own(key, shared.names, frozenset((shared.owner,)))
        ids: dict[tuple[str, frozenset[Granted], frozenset[str], bool], int] = {}
        self.profiles: list[_Profile] = []
        self.profile_of: dict[tuple[Key, str], int] = {}  # databases and schemas: _blocked
        self.parts: dict[Key, tuple[_Part, ...]] = {}
        ungranted: frozenset[Granted] = frozenset()
        unowned: frozenset[str] = frozenset()
        reviewed = {k for k in self.universe if k[0] in self.db_owner}
        for key in reviewed | granted.keys() | owned.keys():
            kind = key[2]
            listed = self.universe.get(key, set())
            grants_on = granted.get(key, {})
            owners_of = owned.get(key, {})
            by_profile: dict[int, list[str]] = defaultdict(list)
            for name in listed | grants_on.keys() | owners_of.keys():
                profile = (
                    kind,
                    grants_on.get(name, ungranted),
                    owners_of.get(name, unowned),
                    name in listed,
                )
                pid = ids.get(profile)
                if pid is None:
                    pid = ids[profile] = len(self.profiles)
                    self.profiles.append(_Profile.of(*profile))
                by_profile[pid].append(name)
                if kind in ("database", "schema"):
                    self.profile_of[(key, name)] = pid
            self.parts[key] = tuple(
                _Part(pid, frozenset(names)) for pid, names in by_profile.items()
            )
        self.defaults: dict[str, list[DefaultPrivilege]] = defaultdict(list)  # by grantee
        for d in state.default_privileges:
            if not (d.grantee == PUBLIC and (d.objtype, d.privilege) in BUILTIN_DEFAULTS):
                self.defaults[d.grantee].append(d)
        self.held_cache: dict[tuple[int, frozenset[str]], _Held] = {}
        self.cache: dict[
            tuple[frozenset[str], frozenset[str]],
            tuple[tuple[PrivilegeGroup, ...], tuple[PrivilegeGroup, ...]],
        ] = {}

    def holders(self, grantees: Iterable[str]) -> frozenset[str]:
        """The grantees that hold anything (grants, ownership, a predefined role's reach)."""
        return frozenset(
            g
            for g in grantees
            if g in self.granting or g in self.owning or g in PREDEFINED_PRIVILEGES
        )

    def held(self, pid: int, grantees: frozenset[str]) -> _Held:
        """What ``grantees`` hold on the objects of profile ``pid``."""
        profile = self.profiles[pid]
        relevant = profile.grantees & grantees
        key = (pid, relevant)
        found = self.held_cache.get(key)
        if found is not None:
            return found
        privileges: dict[str, set[str]] = defaultdict(set)
        grantable: set[str] = set()
        for grantee, privilege, option in profile.grants:
            if grantee in relevant:
                privileges[privilege].add(grantee)
                if option:
                    grantable.add(privilege)
        if profile.listed:
            for grantee in relevant:
                for privilege in PREDEFINED_PRIVILEGES.get(grantee, {}).get(profile.kind, ()):
                    privileges[privilege].add(grantee)
        found = _Held(
            {p: frozenset(via) for p, via in privileges.items()},
            frozenset(grantable),
            profile.owners & relevant,
        )
        self.held_cache[key] = found
        return found

    def paths(self, start: str, accept: Callable[[Membership], bool]) -> dict[str, tuple[str, ...]]:
        """Shortest membership path from ``start`` to every role reachable along ``accept``."""
        found: dict[str, tuple[str, ...]] = {start: (start,)}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            for m in self.edges.get(current, ()):
                if m.group not in found and accept(m):
                    found[m.group] = (*found[current], m.group)
                    queue.append(m.group)
        return found

    def inherits(self, m: Membership) -> bool:
        if m.inherit is not None:  # 16+: the grant's option
            return m.inherit
        member = self.state.roles.get(m.member)
        return member.inherit if member is not None else True

    def inherited(self, role: str) -> dict[str, tuple[str, ...]]:
        return self.paths(role, self.inherits)

    def settable(self, role: str) -> dict[str, tuple[str, ...]]:
        # SET ROLE follows grants with the SET option (before 16: every grant), INHERIT or not.
        return self.paths(role, lambda m: m.set is not False)


class _Holding:
    """What a set of grantees holds, per database: the grantees themselves, plus
    pg_database_owner in the databases one of them owns."""

    def __init__(self, index: _Index, grantees: frozenset[str]) -> None:
        self.index = index
        self.grantees = grantees
        self.with_db_owner = grantees | {DATABASE_OWNER}
        self.owns_db = {db for db, owner in index.db_owner.items() if owner in grantees}

    def of(self, database: str, pid: int) -> _Held:
        grantees = self.with_db_owner if database in self.owns_db else self.grantees
        return self.index.held(pid, grantees)

    def at(self, key: Key, name: str) -> _Held:
        pid = self.index.profile_of.get((key, name))
        return _NOTHING if pid is None else self.of(key[0], pid)


def memberships_of(index: _Index, role: str) -> tuple[MembershipPath, ...]:
    inherited = index.inherited(role)
    found: dict[str, MembershipPath] = {}
    for name, path in inherited.items():
        if name != role:
            found[name] = MembershipPath(name, path, "inherit", (path[-2], name) in index.admin)
    for target, set_path in sorted(index.settable(role).items(), key=lambda kv: len(kv[1])):
        for name, path in index.inherited(target).items():
            if name not in found and name != role:
                full = (*set_path, *path[1:])
                found[name] = MembershipPath(
                    name, full, "set_role", (full[-2], name) in index.admin
                )
    for m in index.edges.get(role, ()):
        if m.group not in found:
            found[m.group] = MembershipPath(m.group, (role, m.group), "none", m.admin)
    order = {"inherit": 0, "set_role": 1, "none": 2}
    return tuple(sorted(found.values(), key=lambda p: (order[p.how], p.path)))


def _capabilities(
    index: _Index, role: Role, memberships: tuple[MembershipPath, ...]
) -> tuple[Capability, ...]:
    found = [
        Capability(attr, text, (role.name,))
        for attr, text in ATTRIBUTE_CAPABILITIES.items()
        if getattr(role, attr)
    ]
    for m in memberships:
        if m.how != "none" and m.role in PREDEFINED_CAPABILITIES:
            text = PREDEFINED_CAPABILITIES[m.role]
            found.append(Capability(m.role, text, m.path, m.how == "set_role"))
    # Attributes are never inherited, but SET ROLE to a role gives its attributes.
    for target, path in sorted(index.settable(role.name).items()):
        other = index.state.roles.get(target)
        if other is None or target == role.name:
            continue
        for attr, text in ATTRIBUTE_CAPABILITIES.items():
            if getattr(other, attr) and not getattr(role, attr):
                found.append(Capability(attr, text, path, set_role=True))
    return tuple(found)


def _order(privileges: Iterable[str], kind: str) -> tuple[str, ...]:
    known = PRIVILEGES.get(kind, ())
    return tuple(sorted(set(privileges), key=lambda p: (known.index(p) if p in known else 99, p)))


def _blocked(key: Key, context: _Holding) -> str | None:
    """Why privileges under ``key`` cannot be used: no CONNECT on the database (TEMPORARY
    alone is useless), or, inside a schema, no USAGE on it. Ownership counts as both."""
    db, schema, _ = key
    conn = context.at((db, None, "database"), db)
    if not (conn.owners or "CONNECT" in conn.privileges):
        return f"no CONNECT on database {db}"
    if schema is None:
        return None
    usage = context.at((db, None, "schema"), schema)
    if not (usage.owners or "USAGE" in usage.privileges):
        return f"no USAGE on schema {schema}"
    return None


Holds = Callable[[str, int], "_Held | None"]  # (database, profile) -> what is held, if anything


def _groups(index: _Index, holds: Holds, context: _Holding) -> tuple[PrivilegeGroup, ...]:
    """Group identical holdings; ``context`` decides what is blocked."""
    groups: list[PrivilegeGroup] = []
    for key, parts in index.parts.items():
        by_signature: dict[Signature, list[frozenset[str]]] = defaultdict(list)
        via: dict[Signature, set[str]] = defaultdict(set)
        for part in parts:
            h = holds(key[0], part.profile)
            if h:
                signature = h.signature()
                by_signature[signature].append(part.names)
                via[signature] |= h.via()
        if not by_signature:
            continue
        universe = index.universe.get(key, set())
        blocked = _blocked(key, context)
        for signature, names in by_signature.items():
            privileges, grantable = signature
            members = names[0] if len(names) == 1 else frozenset().union(*names)
            everything = universe | members
            excluded = everything - members
            # A few members are named; past that, the exceptions when they are fewer.
            scope: Scope = (
                "all"
                if not excluded
                else "all_but"
                if len(members) > NAMED_WHEN_ALL and len(excluded) < len(members)
                else "some"
            )
            # "all" names its members too when they are few: "USAGE on all 2 schemas in app:
            # public, sales" says more than a count (the diff never relies on these).
            listed = scope == "some" or (scope == "all" and len(members) <= NAMED_WHEN_ALL)
            groups.append(
                PrivilegeGroup(
                    database=key[0],
                    schema=key[1],
                    kind=key[2],
                    privileges=_order(privileges, key[2]),
                    grantable=_order(grantable, key[2]),
                    via=tuple(sorted(via[signature])),
                    scope=scope,
                    count=len(members),
                    total=len(everything),
                    objects=tuple(sorted(members)) if listed else (),
                    excluded=tuple(sorted(excluded)) if scope == "all_but" else (),
                    blocked=blocked,
                )
            )
    return tuple(sorted(groups, key=group_sort_key))


def group_sort_key(g: PrivilegeGroup) -> tuple[object, ...]:
    return (
        g.database,
        g.schema is not None,
        g.schema or "",
        KIND_ORDER.index(g.kind),
        g.privileges,
        g.via,
        g.scope,
        g.grantable,  # the rest being equal, a group is the only one of its grant options
    )


def _privileges(
    index: _Index, inherited: frozenset[str], by_set: frozenset[str]
) -> tuple[tuple[PrivilegeGroup, ...], tuple[PrivilegeGroup, ...]]:
    """(in effect at login, added by SET ROLE), cached: login roles that hold through the
    same grantees (typically members of the same groups, without grants of their own) share
    one computation, which keeps a cluster of many roles and many objects fast."""
    key = (inherited, by_set)
    if key not in index.cache:
        at_login = _Holding(index, inherited)
        at_login_groups = _groups(index, at_login.of, at_login)
        extra_groups: tuple[PrivilegeGroup, ...] = ()
        if by_set:
            by_set_role = _Holding(index, by_set)

            def added(database: str, pid: int) -> _Held | None:
                return by_set_role.of(database, pid).beyond(at_login.of(database, pid))

            extra_groups = _groups(index, added, _Holding(index, inherited | by_set))
        index.cache[key] = (at_login_groups, extra_groups)
    return index.cache[key]


_FutureKey = tuple[str, str, str | None, str]  # (database, owner, schema, objtype)


def _future(index: _Index, inherited: set[str], by_set: set[str]) -> tuple[FuturePrivilege, ...]:
    """Default privileges reaching the role, grouped per (database, owner, schema, objtype)
    and whether SET ROLE is needed; SET ROLE's part holds only what login does not."""
    held: dict[bool, dict[_FutureKey, dict[str, tuple[set[str], bool]]]] = {False: {}, True: {}}
    for set_role, grantees in ((False, inherited), (True, by_set - inherited)):
        for grantee in sorted(grantees):
            for d in index.defaults.get(grantee, ()):
                key: _FutureKey = (d.database, d.owner, d.schema, d.objtype)
                privileges = held[set_role].setdefault(key, {})
                via, option = privileges.get(d.privilege, (set(), False))
                via.add(grantee)
                privileges[d.privilege] = (via, option or d.grantable)
    found: list[FuturePrivilege] = []
    for set_role in (False, True):
        for key, privileges in held[set_role].items():
            if set_role:
                at_login = held[False].get(key, {})
                privileges = {p: v for p, v in privileges.items() if p not in at_login}
            if not privileges:
                continue
            kind = DEFAULT_KINDS.get(key[3], key[3])
            found.append(
                FuturePrivilege(
                    *key,
                    privileges=_order(privileges, kind),
                    grantable=_order((p for p, (_, g) in privileges.items() if g), kind),
                    via=tuple(sorted(set().union(*(v for v, _ in privileges.values())))),
                    set_role=set_role,
                )
            )
    return tuple(
        sorted(found, key=lambda f: (f.set_role, f.database, f.owner, f.schema or "", f.objtype))
    )


DEFAULT_KINDS = {"tables": "table", "sequences": "sequence", "functions": "function"}


def review_role(index: _Index, role: Role) -> RoleReview:
    memberships = memberships_of(index, role.name)
    capabilities = _capabilities(index, role, memberships)
    if role.superuser:  # holds everything: listing objects would only hide what matters
        return RoleReview(role, memberships, capabilities, (), ())
    inherited = {role.name, PUBLIC} | {m.role for m in memberships if m.how == "inherit"}
    by_set = {m.role for m in memberships if m.how == "set_role"}
    privileges, set_role_privileges = _privileges(
        index, index.holders(inherited), index.holders(by_set)
    )
    future = _future(index, inherited, by_set)
    return RoleReview(role, memberships, capabilities, privileges, set_role_privileges, future)


def review_access(
    state: ClusterState,
    inventories: Mapping[str, Inventory],
    relations: Iterable[SharedAcl] = (),
) -> tuple[RoleReview, ...]:
    """The review of every login role, by name. ``relations``: grants and owners of tables
    and sequences held grouped rather than in ``state`` (Snapshot.relations)."""
    index = _Index(state, inventories, relations)
    return tuple(
        review_role(index, role) for name, role in sorted(state.roles.items()) if role.login
    )


def review_snapshot(snapshot: Snapshot) -> tuple[RoleReview, ...]:
    """The review of every login role of a collected cluster."""
    return review_access(snapshot.access.state, snapshot.access.inventories, snapshot.relations)
