"""Grants on tables and sequences held as shared item sets (``ClusterState.relation_grants``,
what plans and exports read from the grouped inspection and expansion) mean exactly what the
same grants as Grants mean: the same diff, statement for statement, and the same inspection."""

import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import pytest

from pgtune.access import model
from pgtune.access.catalog import convert
from pgtune.access.catalog.families import read_database
from pgtune.access.catalog.rows import (
    ColumnsRow,
    RelationGroupRow,
    RelationRow,
    SchemaRow,
)
from pgtune.access.model import PUBLIC, ClusterState, Grant, ObjectRef, Scope
from pgtune.access.plan import diff

T = TypeVar("T")
DB = "app"
ROLES = ("app", "analyst", "owner")
GRANTEES = (*ROLES, PUBLIC, "stranger")
PRIVILEGES = ("SELECT", "INSERT", "UPDATE")


def _grouped(state: ClusterState) -> ClusterState:
    """``state`` with its grants on tables and sequences as item sets, shared between the
    objects that hold the same ones (as the grouped inspection builds them)."""
    items: dict[ObjectRef, set[model.Item]] = defaultdict(set)
    rest = []
    for g in state.grants:
        if g.object.kind in ("table", "sequence"):
            items[g.object].add((g.grantee, g.privilege, g.grantable))
        else:
            rest.append(g)
    shared: dict[frozenset[model.Item], frozenset[model.Item]] = {}
    relations = {
        obj: shared.setdefault(frozenset(found), frozenset(found)) for obj, found in items.items()
    }
    return ClusterState(
        roles=state.roles,
        grants=frozenset(rest),
        grantors=state.grantors,
        owners=state.owners,
        relation_grants=relations,
    )


def _random_state(rng: random.Random, objects: list[ObjectRef], grantors: bool) -> ClusterState:
    # a few ACLs shared by many objects (as on real clusters), some objects with their own
    templates = [
        [(g, p, rng.random() < 0.2) for g in GRANTEES for p in PRIVILEGES if rng.random() < 0.3]
        for _ in range(3)
    ]
    grants: set[Grant] = set()
    for obj in objects:
        if rng.random() < 0.7:
            grants.update(Grant(obj, *item) for item in rng.choice(templates))
            continue
        for grantee in GRANTEES:
            for p in PRIVILEGES:
                if rng.random() < 0.3:
                    grants.add(Grant(obj, grantee, p, rng.random() < 0.2))
    merged = model.strongest_items  # one item per grantee and privilege, grantable wins
    by_obj: dict[ObjectRef, list[model.Item]] = defaultdict(list)
    for g in grants:
        by_obj[g.object].append((g.grantee, g.privilege, g.grantable))
    kept = frozenset(Grant(o, *x) for o, found in by_obj.items() for x in merged(found))
    chains: dict[tuple[ObjectRef, str, str], frozenset[str]] = {}
    if grantors:
        for g in kept:
            if g.grantee != PUBLIC and rng.random() < 0.1:
                chains[g.object, g.grantee, g.privilege] = frozenset({rng.choice(ROLES)})
    owners = {obj: "owner" for obj in objects if obj.kind != "column"}
    return ClusterState(grants=kept, grantors=chains, owners=owners)


def _objects() -> list[ObjectRef]:
    objects: list[ObjectRef] = []
    for schema in ("sales", "hr", "elsewhere"):
        for i in range(4):
            objects.append(ObjectRef("table", DB, schema, f"t{i}"))
            objects.append(ObjectRef("sequence", DB, schema, f"t{i}_id_seq"))
        objects.append(ObjectRef("column", DB, schema, "t0", column="a"))
        objects.append(ObjectRef("schema", DB, schema))
    return objects


@pytest.mark.parametrize("unmanaged", ["report", "revoke", "ignore"])
def test_the_diff_is_the_same_on_item_sets(unmanaged: Any) -> None:
    objects = _objects()
    revoked = ObjectRef("table", DB, "sales", "t1")
    for seed in range(150):
        rng = random.Random(seed)
        live = _random_state(rng, objects, grantors=True)
        desired = _random_state(rng, objects, grantors=False)
        desired = ClusterState(grants=frozenset(g for g in desired.grants if g.grantee in ROLES))
        scope = Scope(
            roles=frozenset(ROLES),
            databases=frozenset({DB}),
            schemas=frozenset({(DB, "sales"), (DB, "hr")}),
            complete=seed % 3 != 0,
            unmanaged_roles=unmanaged,
            # a table PUBLIC must not hold SELECT on, and one it may keep SELECT on
            public_revocations=frozenset({Grant(revoked, PUBLIC, "SELECT")}),
            public_allowed=frozenset({Grant(ObjectRef("table", DB, "hr", "t2"), PUBLIC, "SELECT")}),
        )
        flat = [(c.sql_text(), c.reason) for c in diff(live, desired, scope, major=16)]
        for left, right in ((live, _grouped(desired)), (_grouped(live), desired)):
            assert [(c.sql_text(), c.reason) for c in diff(left, right, scope, major=16)] == flat, (
                seed
            )
        grouped = diff(_grouped(live), _grouped(desired), scope, major=16)
        assert [(c.sql_text(), c.reason) for c in grouped] == flat, seed


def test_all_grants_spells_the_item_sets_out() -> None:
    state = _random_state(random.Random(1), _objects(), grantors=False)
    assert _grouped(state).all_grants() == state.grants
    assert state.all_grants() is state.grants


class _FakeFetch:
    def __init__(self, rows: Mapping[str, list[Any]]) -> None:
        self.rows = rows

    def __call__(
        self, name: str, row: type[T], params: Mapping[str, object] | None = None
    ) -> Iterator[T]:
        return iter(self.rows.get(name, []))


def _items(rows: Iterable[RelationRow]) -> list[RelationGroupRow]:
    """relation_groups.sql's rows for relations.sql's: grouped by everything but the name."""
    groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for r in rows:
        key = (
            r.schema,
            r.kind,
            r.has_rls,
            r.rls_enabled,
            r.rls_forced,
            r.owner,
            *(tuple(a) if a is not None else None for a in (r.grantees, r.privileges)),
            tuple(r.grantable) if r.grantable is not None else None,
            tuple(r.grantors) if r.grantors is not None else None,
        )
        groups[key].append(r.name)
    return [
        RelationGroupRow(
            s, k, h, e, f, o, list(reversed(names)), *(list(a) if a else None for a in rest)
        )
        for (s, k, h, e, f, o, *rest), names in groups.items()
    ]


def test_the_grouped_inspection_reads_what_the_per_relation_one_reads() -> None:
    acl = (
        ["a", "a", "", "b"],
        ["SELECT", "SELECT", "SELECT", "UPDATE"],
        [False, True, False, False],
    )
    relations = [
        RelationRow("s", "t1", "table", True, True, False, "o", *acl, [None, "x", None, None]),
        RelationRow("s", "t2", "table", True, False, False, "o", *acl, [None, None, None, None]),
        RelationRow("s", "t3", "table", True, False, False, "o", *acl, [None, None, None, None]),
        RelationRow("s", "t3_id_seq", "sequence", False, False, False, "o", None, None, None),
        RelationRow("t", "t2", "table", False, False, False, "p", *acl, [None] * 4),
    ]
    common = {
        "schemas": [SchemaRow(None, None, None, schema="s", owner="o")],
        "columns": [ColumnsRow("s", "t1", ["a"], [["a", "b", "INSERT", False, None]])],
    }
    flat = read_database(_FakeFetch({**common, "relations": relations}), DB)
    rows = _items(relations)
    assert len(rows) == 4  # t2 and t3 share their ACL
    grouped = read_database(_FakeFetch({**common, "relation_groups": rows}), DB, grouped=True)
    state = ClusterState(grants=frozenset(grouped.grants), relation_grants=grouped.relation_grants)
    # the same privilege from two grantors is one grant, grantable when either is
    assert state.all_grants() == convert.merge_grantors(flat.grants)
    assert (
        grouped.relation_grants[ObjectRef("table", DB, "s", "t2")]
        is (grouped.relation_grants[ObjectRef("table", DB, "s", "t3")])
    )
    for field in ("owners", "grantors", "rls_tables", "refs"):
        assert getattr(grouped, field) == getattr(flat, field), field
        assert list(getattr(grouped, field)) == list(getattr(flat, field)), field
    assert grouped.inventory is not None and flat.inventory is not None
    for field in ("tables", "sequences", "columns"):
        assert list(getattr(grouped.inventory, field).items()) == list(
            getattr(flat.inventory, field).items()
        )
