"""review.py works per grant profile (objects held alike by every role), not object by object.
These tests hold it to the straightforward computation, object by object, on random seeded
cluster states: many objects sharing profiles, PUBLIC, pg_database_owner, predefined roles,
owners, grant options, objects missing from the inventory, a database without an owner, and
memberships with and without INHERIT / SET."""

import random
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from pgtune.access.model import (
    PRIVILEGES,
    PUBLIC,
    ClusterState,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    Role,
)
from pgtune.audit.model import SharedAcl
from pgtune.audit.review import (
    DATABASE_OWNER,
    NAMED_WHEN_ALL,
    OWNER,
    PREDEFINED_PRIVILEGES,
    PrivilegeGroup,
    group_sort_key,
    review_access,
)

DBS = ("app", "crm", "orphan")  # "orphan" has no owner: the review leaves it out
SCHEMAS = ("s0", "s1", "s2")
TABLES = tuple(f"t{i:02}" for i in range(14))
PREDEFINED = ("pg_read_all_data", "pg_write_all_data", "pg_maintain", "pg_monitor")


def _inventory(db: str) -> Inventory:
    return Inventory(
        db,
        schemas={s: "owner" for s in (*SCHEMAS, "public")},
        tables={(s, t): "owner" for s in SCHEMAS for t in TABLES},
        sequences={(s, f"{t}_id_seq"): "owner" for s in SCHEMAS for t in TABLES[:5]},
        functions={(s, "f", "integer"): "owner" for s in SCHEMAS},
        columns={(s, t): ("id", "v") for s in SCHEMAS for t in TABLES[:3]},
    )


def _objects(db: str) -> list[ObjectRef]:
    found = [ObjectRef("database", db)]
    for s in (*SCHEMAS, "public"):
        found.append(ObjectRef("schema", db, s))
    for s in SCHEMAS:
        found += [ObjectRef("table", db, s, t) for t in (*TABLES, "ghost")]  # ghost: no inventory
        found += [ObjectRef("sequence", db, s, f"{t}_id_seq") for t in TABLES[:5]]
        found.append(ObjectRef("function", db, s, "f", "integer"))
        found += [ObjectRef("column", db, s, t, column=c) for t in TABLES[:3] for c in ("id", "v")]
    return found


def random_state(seed: int) -> tuple[ClusterState, dict[str, Inventory]]:
    rng = random.Random(seed)
    names = [f"r{i}" for i in range(9)]
    roles = {
        n: Role(n, login=rng.random() < 0.6, inherit=rng.random() < 0.8, superuser=n == "r8")
        for n in names
    }
    memberships = set()
    for member in names:
        for group in rng.sample([*names, *PREDEFINED], 3):
            if group != member and rng.random() < 0.5:
                opt = (None, True, False)
                memberships.add(
                    Membership(group, member, rng.random() < 0.2, rng.choice(opt), rng.choice(opt))
                )
    grantees = [*names, PUBLIC, DATABASE_OWNER, "pg_read_all_data"]
    grants = set()
    owners = {ObjectRef("database", "app"): rng.choice(names), ObjectRef("database", "crm"): "r0"}
    for db in DBS:
        objects = _objects(db)
        for obj in objects:  # a few grants of every kind, object by object
            if rng.random() < 0.3:
                privilege = rng.choice(PRIVILEGES[obj.kind])
                grants.add(Grant(obj, rng.choice(grantees), privilege, rng.random() < 0.3))
            if obj.kind != "database" and rng.random() < 0.05:
                owners[obj] = rng.choice([*names, DATABASE_OWNER])
        for _ in range(6):  # and bulk grants: one grantee, one privilege, most of a kind
            kind = rng.choice(("schema", "table", "sequence", "column"))
            privilege, grantee, option = rng.choice(PRIVILEGES[kind]), rng.choice(grantees), False
            option = rng.random() < 0.2
            for obj in objects:
                if obj.kind == kind and rng.random() < 0.9:
                    grants.add(Grant(obj, grantee, privilege, option))
    state = ClusterState(
        roles=roles, memberships=frozenset(memberships), grants=frozenset(grants), owners=owners
    )
    return state, {db: _inventory(db) for db in DBS}


# ------------------------------------------------------------------------------------------------
# The reference: what each object is held with, object by object


@dataclass
class _Held:
    privileges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    grantable: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.owners or self.privileges)


Key = tuple[str, str | None, str]


def _place(obj: ObjectRef) -> tuple[Key, str]:
    if obj.kind in ("database", "schema"):
        return (obj.database, None, obj.kind), str(obj.schema or obj.database)
    if obj.kind == "function":
        return (obj.database, obj.schema, "function"), f"{obj.name}({obj.args or ''})"
    if obj.kind == "column":
        return (obj.database, obj.schema, "column"), f"{obj.name}.{obj.column}"
    return (obj.database, obj.schema, obj.kind), str(obj.name)


def _universe(inventories: dict[str, Inventory], dbs: list[str]) -> dict[Key, set[str]]:
    found: dict[Key, set[str]] = defaultdict(set)
    for db in dbs:
        found[(db, None, "database")].add(db)
        inv = inventories[db]
        found[(db, None, "schema")].update(inv.schemas)
        for s, t in inv.tables:
            found[(db, s, "table")].add(t)
        for s, q in inv.sequences:
            found[(db, s, "sequence")].add(q)
        for s, f, args in inv.functions:
            found[(db, s, "function")].add(f"{f}({args})")
        for (s, t), columns in inv.columns.items():
            found[(db, s, "column")].update(f"{t}.{c}" for c in columns)
    return found


def _holdings(
    state: ClusterState, universe: dict[Key, set[str]], grantees: set[str]
) -> dict[tuple[Key, str], _Held]:
    db_owner = {o.database: r for o, r in state.owners.items() if o.kind == "database"}

    def reaches(grantee: str, db: str) -> bool:
        return grantee in grantees or (grantee == DATABASE_OWNER and db_owner[db] in grantees)

    held: dict[tuple[Key, str], _Held] = defaultdict(_Held)
    for g in state.grants:
        if g.object.database in db_owner and reaches(g.grantee, g.object.database):
            h = held[_place(g.object)]
            h.privileges[g.privilege].add(g.grantee)
            if g.grantable:
                h.grantable.add(g.privilege)
    for obj, owner in state.owners.items():
        if obj.database in db_owner and reaches(owner, obj.database):
            held[_place(obj)].owners.add(owner)
    for key, names in universe.items():
        for role, kinds in PREDEFINED_PRIVILEGES.items():
            if reaches(role, key[0]):
                for name in names:
                    for privilege in kinds.get(key[2], ()):
                        held[(key, name)].privileges[privilege].add(role)
    return {place: h for place, h in held.items() if h}


def _minus(extra: dict[tuple[Key, str], _Held], base: dict[tuple[Key, str], _Held]):  # type: ignore[no-untyped-def]
    left = {}
    for place, h in extra.items():
        have = base.get(place, _Held())
        if have.owners:
            continue
        if h.owners:
            left[place] = h
            continue
        rest = _Held({p: v for p, v in h.privileges.items() if p not in have.privileges})
        rest.grantable = {p for p in h.grantable if p in rest.privileges}
        if rest:
            left[place] = rest
    return left


def _ordered(privileges: set[str] | tuple[str, ...], kind: str) -> tuple[str, ...]:
    known = PRIVILEGES[kind]
    return tuple(sorted(set(privileges), key=known.index))


def _reference_groups(
    universe: dict[Key, set[str]],
    held: dict[tuple[Key, str], _Held],
    context: dict[tuple[Key, str], _Held],
) -> tuple[PrivilegeGroup, ...]:
    by_group: dict[tuple[Key, object], list[str]] = defaultdict(list)
    via: dict[tuple[Key, object], set[str]] = defaultdict(set)
    for (key, name), h in held.items():
        if h.owners:
            signature: object = ((OWNER,), ())
            via[(key, signature)] |= h.owners
        else:
            signature = (_ordered(set(h.privileges), key[2]), _ordered(h.grantable, key[2]))
            via[(key, signature)].update(*h.privileges.values())
        by_group[(key, signature)].append(name)
    groups = []
    for (key, signature), names in by_group.items():
        db, schema, kind = key
        conn = context.get(((db, None, "database"), db), _Held())
        usage = context.get(((db, None, "schema"), str(schema)), _Held())
        blocked = (
            f"no CONNECT on database {db}"
            if not (conn.owners or "CONNECT" in conn.privileges)
            else None
            if schema is None
            else f"no USAGE on schema {schema}"
            if not (usage.owners or "USAGE" in usage.privileges)
            else None
        )
        members = set(names)
        everything = universe.get(key, set()) | members
        excluded = everything - members
        if not excluded:
            scope = "all"
        elif len(members) > NAMED_WHEN_ALL and len(excluded) < len(members):
            scope = "all_but"
        else:
            scope = "some"
        privileges, grantable = signature  # type: ignore[misc]
        groups.append(
            PrivilegeGroup(
                db,
                schema,
                kind,
                privileges,
                grantable,
                tuple(sorted(via[(key, signature)])),
                scope,  # type: ignore[arg-type]
                len(members),
                len(everything),
                tuple(sorted(members))
                if scope == "some" or (scope == "all" and len(members) <= NAMED_WHEN_ALL)
                else (),
                tuple(sorted(excluded)) if scope == "all_but" else (),
                blocked,
            )
        )
    return tuple(sorted(groups, key=group_sort_key))


@pytest.mark.parametrize("seed", range(40))
def test_grouped_review_matches_the_object_by_object_computation(seed: int) -> None:
    state, inventories = random_state(seed)
    db_owner = [o.database for o in state.owners if o.kind == "database"]
    universe = _universe(inventories, db_owner)
    reviewed = grouped = 0
    for review in review_access(state, inventories):
        if review.role.superuser:
            assert review.privileges == review.set_role_privileges == ()
            continue
        name = review.role.name
        inherited = {name, PUBLIC} | {m.role for m in review.memberships if m.how == "inherit"}
        by_set = {m.role for m in review.memberships if m.how == "set_role"}
        at_login = _holdings(state, universe, inherited)
        assert review.privileges == _reference_groups(universe, at_login, at_login), name
        extra = _minus(_holdings(state, universe, by_set), at_login)
        both = _holdings(state, universe, inherited | by_set)
        assert review.set_role_privileges == _reference_groups(universe, extra, both), name
        reviewed += 1
        grouped += sum(g.count > 1 for g in (*review.privileges, *review.set_role_privileges))
    assert reviewed and grouped  # roles were compared, and objects grouped


def test_the_random_states_cover_the_cases() -> None:
    """SET ROLE adds privileges, some blocked, grant options, owners, every scope."""
    groups = [
        g
        for seed in range(40)
        for r in review_access(*random_state(seed))
        for g in (*r.privileges, *r.set_role_privileges)
    ]
    assert any(r.set_role_privileges for s in range(40) for r in review_access(*random_state(s)))
    assert {g.scope for g in groups} == {"all", "all_but", "some"}
    assert any(g.blocked for g in groups) and any(not g.blocked for g in groups)
    assert any(g.grantable for g in groups) and any(g.privileges == (OWNER,) for g in groups)
    assert {g.kind for g in groups} == {
        "database",
        "schema",
        "table",
        "sequence",
        "function",
        "column",
    }
    assert any(DATABASE_OWNER in g.via for g in groups) and any(PUBLIC in g.via for g in groups)
    assert any("pg_read_all_data" in g.via for g in groups)


# ------------------------------------------------------------------------------------------------
# Tables and sequences held grouped (Snapshot.relations), as collect.py reads them


def _split(state: ClusterState, seed: int) -> tuple[ClusterState, ClusterState, list[SharedAcl]]:
    """``state`` with every table and sequence owned (by its owner, else "app_owner"), and the
    same state with the grants and owners of most of them moved into groups of one schema,
    kind, owner and ACL (some groups split in two: the server groups by the ACL as stored,
    so equal grants may come in several groups); the rest stay object by object."""
    rng = random.Random(seed)
    owners = dict(state.owners)
    acls: dict[ObjectRef, set[tuple[str, str, bool]]] = defaultdict(set)
    for g in state.grants:
        acls[g.object].add((g.grantee, g.privilege, g.grantable))
        if g.object.kind in ("table", "sequence"):
            owners.setdefault(g.object, "app_owner")
    for db in DBS:
        for obj in _objects(db):
            if obj.kind in ("table", "sequence"):
                owners.setdefault(obj, "app_owner")
    full = ClusterState(
        roles=state.roles, memberships=state.memberships, grants=state.grants, owners=owners
    )
    groups: dict[tuple[str, str, str, str, frozenset[tuple[str, str, bool]], bool], list[str]]
    groups = defaultdict(list)
    moved = set()
    for obj, owner in owners.items():
        if obj.kind in ("table", "sequence") and rng.random() < 0.8:
            acl = frozenset(acls.get(obj, ()))
            split = rng.random() < 0.3
            groups[(obj.database, str(obj.schema), obj.kind, owner, acl, split)].append(
                str(obj.name)
            )
            moved.add(obj)
    relations = [
        SharedAcl(db, schema, kind, owner, acl, tuple(sorted(names)))  # type: ignore[arg-type]
        for (db, schema, kind, owner, acl, _), names in groups.items()
    ]
    rest = ClusterState(
        roles=state.roles,
        memberships=state.memberships,
        grants=frozenset(g for g in state.grants if g.object not in moved),
        owners={obj: owner for obj, owner in owners.items() if obj not in moved},
    )
    return full, rest, relations


@pytest.mark.parametrize("seed", range(40))
def test_relations_held_grouped_review_alike(seed: int) -> None:
    full, rest, relations = _split(random_state(seed)[0], seed)
    inventories = random_state(seed)[1]
    assert relations and any(len(r.names) > 1 for r in relations)
    assert review_access(rest, inventories, relations) == review_access(full, inventories)
