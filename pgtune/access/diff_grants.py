"""The diff of privileges on objects: what roles and PUBLIC hold against the policy.

With ``Scope.complete`` (every policy since the complete-state rule), what the policy does not
grant on a managed object is drift, whoever holds it:

- **PUBLIC**: revoked, except PostgreSQL's built-in defaults the policy keeps
  (``Scope.public_allowed``: left alone when held, never granted back);
- **roles the policy does not list**: ``Scope.unmanaged_roles`` — "report" (a report-only
  change: the REVOKE that would remove it, never run by apply), "revoke", or "ignore";
- **other grantors**: an item granted by a holder of the grant option is not removed by a
  plain REVOKE from the owner or a superuser, so it is revoked *as its grantor*
  (``SET ROLE grantor; REVOKE ...; RESET ROLE`` — ``GRANTED BY`` only accepts the current
  user for object privileges, on every version up to 18); a grantee who passed the privilege
  on is revoked ``CASCADE``, and what the cascade takes from a role the policy wants to keep
  it is granted back in the same plan;
- **columns**: ``REVOKE p ON TABLE`` also revokes ``p`` on every column, so the wanted column
  privileges of that grantee are granted again after it (one apply converges).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from psycopg import sql

from pgtune.access.changes import (
    GRANTS,
    REVOKES,
    Change,
    describe,
    grantee_text,
    ident,
    object_sql,
    privileges_sql,
)
from pgtune.access.model import (
    PUBLIC,
    ClusterState,
    Grant,
    Item,
    ObjectRef,
    Scope,
    strongest_items,
)
from pgtune.names import shown

Key = tuple[ObjectRef, str]  # (object, grantee)
Relations = dict[ObjectRef, frozenset[Item]]  # ClusterState.relation_grants
_NONE: frozenset[Item] = frozenset()


def _normalised(
    live: ClusterState, desired: ClusterState
) -> tuple[frozenset[Grant], Relations, frozenset[Grant], Relations]:
    """Both sides' grants and relation item sets, with every grant on an object that either
    side holds as an item set moved into the item sets (normally none: both sides come from
    the grouped inspection and expansion, or neither does)."""
    held, wanted = live.relation_grants, desired.relation_grants
    if not held and not wanted:
        return live.grants, {}, desired.grants, {}
    out: list[tuple[frozenset[Grant], Relations]] = []
    for grants, relations in ((live.grants, held), (desired.grants, wanted)):
        stray = [g for g in grants if g.object in held or g.object in wanted]
        if stray:
            moved: dict[ObjectRef, set[Item]] = defaultdict(set)
            for g in stray:
                moved[g.object].add((g.grantee, g.privilege, g.grantable))
            relations = dict(relations)
            for obj, items in moved.items():
                relations[obj] = strongest_items([*relations.get(obj, ()), *items])
            grants = grants - frozenset(stray)
        out.append((grants, relations))
    (live_grants, live_relations), (desired_grants, desired_relations) = out
    return live_grants, live_relations, desired_grants, desired_relations


def _pairs(
    held: Relations,
    wanted: Relations,
    managed: Callable[[ObjectRef], bool],
    special: set[ObjectRef],
) -> Iterator[tuple[frozenset[Item], frozenset[Item], bool, list[ObjectRef]]]:
    """(held items, wanted items, managed, objects): the tables and sequences grouped by the
    item sets both sides hold on them and whether their schema is managed; an object in
    ``special`` alone."""
    Group = tuple[frozenset[Item], frozenset[Item], bool, list[ObjectRef]]
    groups: dict[tuple[int, int, bool], Group] = {}
    schemas: dict[tuple[str, str | None], bool] = {}
    alone: list[ObjectRef] = []
    for obj in (*held, *(obj for obj in wanted if obj not in held)):
        h, w = held.get(obj, _NONE), wanted.get(obj, _NONE)
        if not h and not w:
            continue
        if obj in special:
            alone.append(obj)
            continue
        where = obj.database, obj.schema
        is_managed = schemas.get(where)
        if is_managed is None:
            is_managed = schemas[where] = managed(obj)
        key = id(h), id(w), is_managed
        group = groups.get(key)
        if group is None:
            groups[key] = (h, w, is_managed, [obj])
        else:
            group[3].append(obj)
    yield from groups.values()
    for obj in alone:
        yield held.get(obj, _NONE), wanted.get(obj, _NONE), managed(obj), [obj]


def _table_of(obj: ObjectRef) -> ObjectRef:
    return ObjectRef("table", obj.database, obj.schema, obj.name)


def _owner(live: ClusterState, obj: ObjectRef) -> str | None:
    return live.owners.get(_table_of(obj) if obj.kind == "column" else obj)


def _as_grantor(statement: sql.Composable, grantor: str) -> sql.Composed:
    """Run a REVOKE as the role that granted the item (inside apply's transaction: an error
    rolls the SET ROLE back with everything else)."""
    return sql.SQL("SET ROLE {}; {}; RESET ROLE").format(ident(grantor), statement)


def _dependents(live: ClusterState, revoked: Iterable[tuple[ObjectRef, str, str]]) -> set[Grant]:
    """The items a CASCADE revoke takes away with ``revoked`` (object, grantee, privilege):
    those granted by the grantee, and on down the chain."""
    by_grantor: dict[tuple[ObjectRef, str, str], list[str]] = defaultdict(list)
    for (obj, grantee, privilege), grantors in live.grantors.items():
        for grantor in grantors:
            by_grantor[obj, grantor, privilege].append(grantee)
    gone: set[Grant] = set()
    todo = list(revoked)
    while todo:
        obj, grantee, privilege = todo.pop()
        for dependent in by_grantor.get((obj, grantee, privilege), ()):
            item = Grant(obj, dependent, privilege)
            if item not in gone:
                gone.add(item)
                todo.append((obj, dependent, privilege))
    return gone


class _Revokes:
    """REVOKE statements for one (object, grantee): as the owner, then as each other grantor;
    CASCADE where the grantee passed the privilege on."""

    def __init__(self, live: ClusterState, passed_on: set[tuple[ObjectRef, str, str]]) -> None:
        self.live = live
        self.passed_on = passed_on

    def statements(
        self, obj: ObjectRef, grantee: str, privileges: list[str], option_only: bool
    ) -> list[tuple[sql.Composed, str | None]]:
        """(statement, grantor other than the owner or None) pairs."""
        owner = _owner(self.live, obj)
        by_grantor: dict[str | None, list[str]] = defaultdict(list)
        for p in privileges:
            grantors = self.live.grantors.get((obj, grantee, p))
            for grantor in sorted(grantors) if grantors else [None]:
                by_grantor[None if grantor == owner else grantor].append(p)
        head = "REVOKE {} ON {} FROM {}"
        if option_only:
            head = "REVOKE GRANT OPTION FOR {} ON {} FROM {}"
        out: list[tuple[sql.Composed, str | None]] = []
        for grantor in sorted(by_grantor, key=lambda g: (g is not None, g or "")):
            names = by_grantor[grantor]
            stmt = sql.SQL(head).format(privileges_sql(obj, names), object_sql(obj), ident(grantee))
            if any((obj, grantee, p) in self.passed_on for p in names):
                stmt = sql.SQL("{} CASCADE").format(stmt)
            out.append((stmt if grantor is None else _as_grantor(stmt, grantor), grantor))
        return out


def grant_changes(live: ClusterState, desired: ClusterState, scope: Scope) -> list[Change]:
    revocations = {(r.object, r.privilege) for r in scope.public_revocations}
    allowed = {(g.object, g.privilege) for g in scope.public_allowed}
    roles, databases, schemas = scope.roles, scope.databases, scope.schemas
    unmanaged = scope.complete and scope.unmanaged_roles != "ignore"

    def managed(obj: ObjectRef) -> bool:
        return obj.database in databases and (
            obj.kind == "database" or (obj.database, obj.schema or "") in schemas
        )

    def relevant(g: Grant) -> bool:
        """A live grant the diff may revoke: on the databases and schemas the policy manages,
        the policy roles', and with ``complete`` PUBLIC's (but its kept defaults) and the
        unmanaged roles' unless ignored; before that rule, PUBLIC's where the policy revokes
        it."""
        if g.grantee == PUBLIC:
            if (g.object, g.privilege) in revocations:
                return True
            return scope.complete and managed(g.object) and (g.object, g.privilege) not in allowed
        if g.grantee in roles:
            return managed(g.object)
        return unmanaged and managed(g.object)

    # Set algebra in C instead of a Python pass per grant (hundreds of thousands at 20k tables).
    # Only what one side holds and the other not needs a statement: held - desired is revoked
    # where the diff manages it, desired - held granted. A desired grant the cluster holds
    # outside what the diff manages (normally none) counts as not held.
    live_grants, live_relations, wanted, wanted_relations = _normalised(live, desired)
    extra = [g for g in live_grants - wanted if relevant(g)]
    missing = [*(wanted - live_grants), *(g for g in wanted & live_grants if not relevant(g))]
    # The same on tables and sequences held as item sets: once per pair of sets (and whether
    # the schema is managed), spelled out as Grants only on the objects where the sets differ.
    special = {
        obj
        for obj, _ in (*revocations, *allowed)
        if obj in live_relations or obj in wanted_relations
    }

    def relevant_item(grantee: str, is_managed: bool) -> bool:
        """``relevant`` of an item on a table or sequence outside ``special`` (so neither in
        the PUBLIC revocations nor in what PUBLIC may keep)."""
        if grantee == PUBLIC:
            return scope.complete and is_managed
        return is_managed if grantee in roles else unmanaged and is_managed

    for pair in _pairs(live_relations, wanted_relations, managed, special):
        held_items, wanted_items, is_managed, objects = pair
        if objects[0] in special:
            (obj,) = objects
            extra += [g for g in (Grant(obj, *x) for x in held_items - wanted_items) if relevant(g)]
            missing += [Grant(obj, *x) for x in wanted_items - held_items]
            missing += [
                g for g in (Grant(obj, *x) for x in wanted_items & held_items) if not relevant(g)
            ]
            continue
        revoke = [x for x in held_items - wanted_items if relevant_item(x[0], is_managed)]
        grant = [
            *(wanted_items - held_items),
            *(x for x in wanted_items & held_items if not relevant_item(x[0], is_managed)),
        ]
        for obj in objects if revoke or grant else ():
            extra += [Grant(obj, *x) for x in revoke]
            missing += [Grant(obj, *x) for x in grant]

    def holds(grants: frozenset[Grant], relations: Relations, g: Grant) -> bool:
        items = relations.get(g.object)
        if items is not None:
            return (g.grantee, g.privilege, g.grantable) in items
        return g in grants

    have: dict[Key, dict[str, bool]] = defaultdict(dict)
    want: dict[Key, dict[str, bool]] = defaultdict(dict)
    for source, into in ((extra, have), (missing, want)):
        for g in source:
            into[g.object, g.grantee][g.privilege] = g.grantable

    # Privileges (or grant options) about to be revoked, per (object, grantee, privilege).
    revoked: set[tuple[ObjectRef, str, str]] = set()
    for (obj, grantee), h in have.items():
        w = want.get((obj, grantee), {})
        revoked |= {(obj, grantee, p) for p in h if p not in w or (h[p] and not w[p])}
    # ... what those take with them, which the grantees the policy wants must get back
    passed_on = {
        (obj, grantor, p)
        for (obj, _, p), grantors in live.grantors.items()
        for grantor in grantors
        if (obj, grantor, p) in revoked
    }
    lost = _dependents(live, passed_on) if passed_on else set()
    # REVOKE p ON TABLE t revokes p on its columns too
    table_revokes = {(obj, grantee, p) for obj, grantee, p in revoked if obj.kind == "table"}
    if table_revokes or lost:
        for g in wanted:
            if g.object.kind == "column" and holds(live_grants, live_relations, g):
                table_level = (_table_of(g.object), g.grantee, g.privilege) in table_revokes
                if table_level or Grant(g.object, g.grantee, g.privilege) in lost:
                    want[g.object, g.grantee][g.privilege] = g.grantable
                    have[g.object, g.grantee].pop(g.privilege, None)
    # the wanted grants (plain or grantable: one of them at most) held that a CASCADE takes
    for item in lost:
        for g in (item, Grant(item.object, item.grantee, item.privilege, True)):
            if (
                g.object.kind != "column"
                and holds(wanted, wanted_relations, g)
                and holds(live_grants, live_relations, g)
            ):
                others = live.grantors.get((g.object, g.grantee, g.privilege), frozenset())
                if not others - {grantor for _, grantor, _ in passed_on}:
                    want[g.object, g.grantee][g.privilege] = g.grantable
    # Items a CASCADE removes need no statement of their own.
    for item in lost:
        held = have.get((item.object, item.grantee))
        if (
            held is not None
            and item.privilege in held
            and item.privilege not in want.get((item.object, item.grantee), {})
        ):
            grantors = live.grantors.get((item.object, item.grantee, item.privilege), frozenset())
            if grantors and grantors <= {grantor for _, grantor, _ in passed_on}:
                del held[item.privilege]

    revokes = _Revokes(live, passed_on)
    changes: list[Change] = []
    # Only what differs is sorted (a handful of keys out of tens of thousands).
    for key in sorted(have.keys() | want.keys()):
        obj, grantee = key
        h, w = have.get(key, {}), want.get(key, {})
        report = grantee != PUBLIC and grantee not in roles and scope.unmanaged_roles == "report"
        who = grantee_text(grantee)
        if grantee != PUBLIC and grantee not in roles:
            who = f"role {shown(grantee)}, which the policy does not list,"
        note = " (report only: settings.unmanaged_roles is report)" if report else ""
        gone = sorted(p for p in h if p not in w)
        for stmt, grantor in revokes.statements(obj, grantee, gone, False) if gone else ():
            by = f" (granted by {shown(grantor)})" if grantor is not None else ""
            changes.append(
                Change(
                    obj.database,
                    REVOKES,
                    stmt,
                    f"{who} holds {', '.join(gone)} on {describe(obj)} beyond the policy"
                    + by
                    + note,
                    report_only=report,
                )
            )
        option_gone = sorted(p for p in h if p in w and h[p] and not w[p])
        for stmt, grantor in (
            revokes.statements(obj, grantee, option_gone, True) if option_gone else ()
        ):
            by = f" (granted by {shown(grantor)})" if grantor is not None else ""
            changes.append(
                Change(
                    obj.database,
                    REVOKES,
                    stmt,
                    f"{who} may re-grant {', '.join(option_gone)} on {describe(obj)}; "
                    "the policy says not" + by + note,
                    report_only=report,
                )
            )
        for grantable in (False, True):
            new = sorted(
                p for p in w if w[p] == grantable and (p not in h or (grantable and not h[p]))
            )
            if not new:
                continue
            stmt = sql.SQL("GRANT {} ON {} TO {}").format(
                privileges_sql(obj, new), object_sql(obj), ident(grantee)
            )
            if grantable:
                stmt = sql.SQL("{} WITH GRANT OPTION").format(stmt)
            changes.append(
                Change(
                    obj.database,
                    GRANTS,
                    stmt,
                    f"{grantee_text(grantee)} needs {', '.join(new)} on {describe(obj)}",
                )
            )
    return changes
