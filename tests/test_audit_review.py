"""Effective privileges (review.py) and changes since a baseline (baseline.py), on hand-built
cluster states: every expectation follows from the PostgreSQL rules the module documents."""

from collections.abc import Iterable

import pytest

from pgcluster import ClusterFactory
from pgtune.access.catalog import Inspection, inspect_cluster
from pgtune.access.model import (
    PUBLIC,
    ClusterState,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    Role,
)
from pgtune.audit.baseline import ObjectSet, diff_cluster, has_changes, privilege_changes
from pgtune.audit.model import Finding, Snapshot
from pgtune.audit.report import cluster_section, group_text, review_doc
from pgtune.audit.review import PrivilegeGroup, RoleReview, review_access

DB = "app"


def state(
    roles: dict[str, dict[str, object]],
    memberships: Iterable[Membership] = (),
    grants: Iterable[Grant] = (),
    owners: dict[ObjectRef, str] | None = None,
) -> ClusterState:
    return ClusterState(
        roles={name: Role(name, **attrs) for name, attrs in roles.items()},  # type: ignore[arg-type]
        memberships=frozenset(memberships),
        grants=frozenset(grants),
        owners={ObjectRef("database", DB): "owner", **(owners or {})},
    )


def inventory(tables: int = 3, schema: str = "sales") -> Inventory:
    return Inventory(
        DB,
        schemas={schema: "owner", "public": "pg_database_owner"},
        tables={(schema, f"t{i:04}"): "owner" for i in range(tables)},
        sequences={(schema, "ids"): "owner"},
        functions={(schema, "f", "integer"): "owner"},
    )


def table(name: str, schema: str = "sales") -> ObjectRef:
    return ObjectRef("table", DB, schema, name)


def reviews(st: ClusterState, inv: Inventory | None = None) -> dict[str, RoleReview]:
    return {r.role.name: r for r in review_access(st, {DB: inv or inventory()})}


def groups(review: RoleReview, kind: str, set_role: bool = False) -> list[PrivilegeGroup]:
    found = review.set_role_privileges if set_role else review.privileges
    return [g for g in found if g.kind == kind]


BASE_GRANTS = [
    Grant(ObjectRef("database", DB), PUBLIC, "CONNECT"),
    Grant(ObjectRef("schema", DB, "sales"), "readers", "USAGE"),
]


# ------------------------------------------------------------------------------------------------
# Memberships: paths, INHERIT, SET ROLE


def test_inherited_roles_carry_their_path_and_privileges() -> None:
    st = state(
        {"app": {"login": True}, "app_rw": {}, "readers": {}},
        [Membership("app_rw", "app"), Membership("readers", "app_rw")],
        [*BASE_GRANTS, Grant(table("t0000"), "readers", "SELECT")],
    )
    app = reviews(st)["app"]
    paths = {m.role: (m.path, m.how) for m in app.memberships}
    assert paths == {
        "app_rw": (("app", "app_rw"), "inherit"),
        "readers": (("app", "app_rw", "readers"), "inherit"),
    }
    [select] = groups(app, "table")
    assert (select.privileges, select.via, select.objects) == (
        ("SELECT",),
        ("readers",),
        ("t0000",),
    )


def test_noinherit_member_gets_privileges_via_set_role_only_before_16() -> None:
    # Before 16 the member's INHERIT attribute decides (Membership.inherit is None).
    st = state(
        {"ops": {"login": True, "inherit": False}, "readers": {}},
        [Membership("readers", "ops")],
        [*BASE_GRANTS, Grant(table("t0000"), "readers", "SELECT")],
    )
    ops = reviews(st)["ops"]
    assert [(m.role, m.how) for m in ops.memberships] == [("readers", "set_role")]
    assert groups(ops, "table") == []
    [select] = groups(ops, "table", set_role=True)
    assert select.privileges == ("SELECT",)
    assert "via SET ROLE only" in _text(ops)


def test_pg16_grant_options_decide_not_the_role_attribute() -> None:
    st = state(
        {"u": {"login": True, "inherit": True}, "a": {}, "b": {}, "c": {"superuser": True}},
        [
            Membership("a", "u", inherit=False, set=True),  # SET ROLE only
            Membership("b", "u", inherit=False, set=False),  # neither: no privileges
            Membership("c", "u", inherit=True, set=False),  # inherits, may not become c
        ],
        [Grant(table("t0000"), "a", "SELECT"), Grant(table("t0001"), "b", "SELECT")],
    )
    u = reviews(st)["u"]
    assert {m.role: m.how for m in u.memberships} == {"a": "set_role", "b": "none", "c": "inherit"}
    assert not any(c.name == "superuser" for c in u.capabilities)  # no SET on c: no SUPERUSER
    assert [g.objects for g in groups(u, "table", set_role=True)] == [("t0000",)]
    assert groups(u, "table") == []


def test_set_role_to_a_superuser_is_a_capability() -> None:
    st = state(
        {"ops": {"login": True, "inherit": False}, "admin": {"superuser": True}},
        [Membership("admin", "ops", admin=True)],
    )
    ops = reviews(st)["ops"]
    [su] = [c for c in ops.capabilities if c.name == "superuser"]
    assert (su.path, su.set_role) == (("ops", "admin"), True)
    assert ops.memberships[0].admin  # may grant admin to others


def test_superuser_holds_everything_and_lists_no_objects() -> None:
    st = state({"dba": {"login": True, "superuser": True}}, grants=BASE_GRANTS)
    dba = reviews(st)["dba"]
    assert dba.privileges == () and [c.name for c in dba.capabilities] == ["superuser"]


def test_only_login_roles_are_reviewed() -> None:
    st = state({"app": {"login": True}, "group": {}, "pg_monitor": {}})
    assert list(reviews(st)) == ["app"]


# ------------------------------------------------------------------------------------------------
# PUBLIC, predefined roles, ownership


def test_public_privileges_count_for_every_role() -> None:
    st = state(
        {"app": {"login": True}},
        grants=[
            *BASE_GRANTS,
            Grant(ObjectRef("function", DB, "sales", "f", "integer"), PUBLIC, "EXECUTE"),
        ],
    )
    app = reviews(st)["app"]
    [database] = groups(app, "database")
    assert (database.privileges, database.via) == (("CONNECT",), (PUBLIC,))
    [execute] = groups(app, "function")
    assert (execute.scope, execute.blocked) == ("all", "no USAGE on schema sales")


def test_pg_read_all_data_and_pg_write_all_data_act_on_every_object() -> None:
    st = state(
        {"reader": {"login": True}, "writer": {"login": True}},
        [Membership("pg_read_all_data", "reader"), Membership("pg_write_all_data", "writer")],
        BASE_GRANTS,
    )
    r = reviews(st, inventory(tables=50))
    reader, writer = r["reader"], r["writer"]
    [tables] = groups(reader, "table")
    assert (tables.privileges, tables.scope, tables.count) == (("SELECT",), "all", 50)
    assert tables.via == ("pg_read_all_data",) and tables.blocked is None  # USAGE comes too
    [sequences] = groups(reader, "sequence")
    assert sequences.privileges == ("SELECT",)
    [schemas] = groups(reader, "schema")
    assert (schemas.privileges, schemas.scope, schemas.objects) == (
        ("USAGE",),
        "all",
        ("public", "sales"),
    )
    [written] = groups(writer, "table")
    assert written.privileges == ("INSERT", "UPDATE", "DELETE")
    assert groups(writer, "sequence")[0].privileges == ("UPDATE",)
    assert [c.name for c in reader.capabilities] == ["pg_read_all_data"]


def test_monitoring_roles_are_capabilities_with_their_path() -> None:
    st = state(
        {"mon": {"login": True}, "monitoring": {}},
        [
            Membership("monitoring", "mon"),
            Membership("pg_monitor", "monitoring"),
            Membership("pg_read_all_stats", "pg_monitor"),
        ],
    )
    caps = {c.name: c.path for c in reviews(st)["mon"].capabilities}
    assert caps == {
        "pg_monitor": ("mon", "monitoring", "pg_monitor"),
        "pg_read_all_stats": ("mon", "monitoring", "pg_monitor", "pg_read_all_stats"),
    }


def test_owners_hold_everything_and_database_owner_owns_public() -> None:
    owned = {table(f"t{i:04}"): "owner" for i in range(3)}
    owned[ObjectRef("schema", DB, "public")] = "pg_database_owner"
    st = state(
        {"owner_login": {"login": True}, "owner": {}},
        [Membership("owner", "owner_login")],
        owners=owned,
    )
    o = reviews(st)["owner_login"]
    [db] = groups(o, "database")
    assert (db.privileges, db.via) == (("OWNER",), ("owner",))
    [schema] = groups(o, "schema")
    assert (schema.objects, schema.via) == (("public",), ("pg_database_owner",))
    [tables] = groups(o, "table")
    assert (tables.privileges, tables.scope) == (("OWNER",), "all")
    assert group_text(_doc(tables), "owner_login").startswith("owns all 3 tables in app.sales")


# ------------------------------------------------------------------------------------------------
# Grouping


@pytest.mark.parametrize(
    ("granted", "scope", "listed"),
    [
        (1000, "all", ()),
        (980, "all_but", tuple(f"t{i:04}" for i in range(980, 1000))),
        (3, "some", ("t0000", "t0001", "t0002")),
    ],
)
def test_identical_grants_group_into_one_line(
    granted: int, scope: str, listed: tuple[str, ...]
) -> None:
    st = state(
        {"app": {"login": True}},
        grants=[
            Grant(ObjectRef("database", DB), PUBLIC, "CONNECT"),
            Grant(ObjectRef("schema", DB, "sales"), "app", "USAGE"),
            *(
                Grant(table(f"t{i:04}"), "app", p)
                for i in range(granted)
                for p in ("SELECT", "INSERT")
            ),
        ],
    )
    [g] = groups(reviews(st, inventory(tables=1000))["app"], "table")
    assert (g.privileges, g.scope, g.count, g.total) == (("SELECT", "INSERT"), scope, granted, 1000)
    assert (g.excluded if scope == "all_but" else g.objects) == listed
    text = group_text(_doc(g), "app")
    assert len(text) < 200, text  # bounded, whatever the number of tables
    if scope == "all_but":
        assert text.startswith("SELECT, INSERT on 980 of 1000 tables in app.sales (all but: t0980")
        assert text.endswith("… and 10 more) — via direct grant")


def test_different_privileges_split_groups_grant_options_too() -> None:
    st = state(
        {"app": {"login": True}},
        grants=[
            *BASE_GRANTS,
            Grant(table("t0000"), "app", "SELECT", grantable=True),
            Grant(table("t0001"), "app", "SELECT"),
            Grant(table("t0002"), "app", "SELECT"),
        ],
    )
    found = {
        (g.privileges, g.grantable, g.scope, g.objects or g.excluded)
        for g in groups(reviews(st)["app"], "table")
    }
    assert found == {
        (("SELECT",), ("SELECT",), "some", ("t0000",)),
        (("SELECT",), (), "some", ("t0001", "t0002")),  # few: named, not "all but t0000"
    }


def test_blocked_without_connect() -> None:
    st = state(
        {"app": {"login": True}}, grants=[Grant(ObjectRef("database", DB), PUBLIC, "TEMPORARY")]
    )
    [db] = groups(reviews(st)["app"], "database")
    assert db.blocked == "no CONNECT on database app"


# ------------------------------------------------------------------------------------------------
# Baseline: object sets and diffs


ALL = ObjectSet("all", frozenset(), 10)


def but(*names: str) -> ObjectSet:
    return ObjectSet("all_but", frozenset(names), 10)


def some(*names: str) -> ObjectSet:
    return ObjectSet("some", frozenset(names), 10)


@pytest.mark.parametrize(
    ("a", "b", "a_minus_b", "union"),
    [
        (ALL, ALL, some(), ALL),
        (ALL, some("x"), but("x"), ALL),
        (ALL, but("x"), some("x"), ALL),
        (but("x"), but("x", "y"), some("y"), but("x")),
        (but("x", "y"), some("y", "z"), but("x", "y", "z"), but("x")),
        (some("x", "y"), but("y"), some("y"), but()),
        (some("x", "y"), some("y"), some("x"), some("x", "y")),
        (some("x"), ALL, some(), ALL),
    ],
)
def test_object_set_algebra(
    a: ObjectSet, b: ObjectSet, a_minus_b: ObjectSet, union: ObjectSet
) -> None:
    assert a.minus(b) == a_minus_b
    assert a.union(b) == (ALL if union == but() else union)
    assert ALL.count == 10 and but("x").count == 9 and some("x").count == 1


def _section(
    st: ClusterState, inv: Inventory, findings: Iterable[Finding] = ()
) -> dict[str, object]:
    inspection = Inspection(st, {DB: inv}, 16, (), 0)
    snap = Snapshot("c1", "16.4", 16, "2025-01-01T00:00:00+00:00", "auditor", True, inspection)
    return cluster_section(snap, list(findings), review_access(st, {DB: inv}))


def _finding(fid: str, obj: str) -> Finding:
    return Finding(fid, "high", "t", f"seen {obj}", "why", "SQL;", object=obj)


def test_diff_reports_roles_attributes_memberships_privileges_and_findings() -> None:
    inv = inventory(tables=100)
    before = state(
        {"app": {"login": True}, "gone": {"login": True}, "readers": {}},
        [Membership("readers", "app")],
        [
            *BASE_GRANTS,
            *(Grant(table(f"t{i:04}"), "readers", "SELECT") for i in range(100)),
            Grant(table("t0005"), "app", "DELETE"),
        ],
    )
    after = state(
        {"app": {"login": True, "createdb": True}, "new": {"login": True}, "readers": {}, "w": {}},
        [Membership("readers", "app"), Membership("w", "app")],
        [
            *BASE_GRANTS,
            *(Grant(table(f"t{i:04}"), "readers", "SELECT") for i in range(1, 100)),
            *(Grant(table(f"t{i:04}"), "w", "INSERT") for i in range(100)),
        ],
    )
    changes = diff_cluster(
        _section(before, inv, [_finding("PGT-A", "x"), _finding("PGT-B", "y")]),
        _section(after, inv, [_finding("PGT-B", "y"), _finding("PGT-C", "z")]),
        "last.json",
    )
    assert changes["note"] is None and has_changes(changes)
    assert (changes["roles_added"], changes["roles_removed"]) == (["new", "w"], ["gone"])
    assert changes["attributes"] == [
        {"role": "app", "attribute": "createdb", "before": False, "after": True}
    ]
    assert [(m["change"], m["member_of"]) for m in changes["memberships"]] == [("gained", "w")]
    lines = sorted(
        f"{p['change']}: {group_text(p)}" for p in changes["privileges"] if p["role"] == "app"
    )
    assert lines == [
        "gained: INSERT on all 100 tables in app.sales",
        "lost: DELETE on 1 of 100 tables in app.sales: t0005",
        "lost: SELECT on 1 of 100 tables in app.sales: t0000",
    ]
    assert [f["id"] for f in changes["findings_new"]] == ["PGT-C"]
    assert [f["id"] for f in changes["findings_resolved"]] == ["PGT-A"]


def test_unchanged_cluster_has_no_changes_and_new_tables_keep_all() -> None:
    st = state(
        {"app": {"login": True}}, grants=[*BASE_GRANTS, Grant(table("t0000"), PUBLIC, "SELECT")]
    )
    more = state(
        {"app": {"login": True}},
        grants=[*BASE_GRANTS, *(Grant(table(f"t{i:04}"), PUBLIC, "SELECT") for i in range(2))],
    )
    before, after = _section(st, inventory(tables=1)), _section(more, inventory(tables=2))
    assert not has_changes(diff_cluster(before, before, "b"))
    assert not has_changes(diff_cluster(before, after, "b"))  # all 1 → all 2: no privilege change


def test_diff_notes_when_there_is_nothing_to_compare() -> None:
    section = _section(state({"app": {"login": True}}), inventory())
    assert diff_cluster(None, section, "b")["note"].startswith("Not in the baseline")
    down = {**section, "status": "unreachable"}
    assert diff_cluster(down, section, "b")["note"] == "Could not be audited at the last review"


def test_privileges_move_between_login_and_set_role() -> None:
    inherit = state(
        {"u": {"login": True}, "g": {}},
        [Membership("g", "u")],
        [Grant(table("t0000"), "g", "SELECT")],
    )
    set_only = state(
        {"u": {"login": True}, "g": {}},
        [Membership("g", "u", inherit=False, set=True)],
        [Grant(table("t0000"), "g", "SELECT")],
    )
    [old] = review_access(inherit, {DB: inventory()})
    [new] = review_access(set_only, {DB: inventory()})
    moved = privilege_changes("u", review_doc(old), review_doc(new))
    assert {(p["change"], p["set_role"]) for p in moved} == {("gained", True), ("lost", False)}


# ------------------------------------------------------------------------------------------------
# Real PostgreSQL 18: per-grant INHERIT / SET options (16+) read by the catalog


@pytest.mark.pg
def test_pg18_grant_options_on_a_real_cluster(pg_cluster_factory: ClusterFactory) -> None:
    cluster = pg_cluster_factory(18)
    cluster.start()
    with cluster.connect() as conn:
        for statement in (
            "CREATE ROLE u LOGIN",
            "CREATE ROLE via_set",
            "CREATE ROLE nothing",
            "CREATE ROLE boss SUPERUSER",
            "GRANT via_set TO u WITH INHERIT FALSE",
            "GRANT nothing TO u WITH INHERIT FALSE, SET FALSE",
            "GRANT boss TO u WITH INHERIT TRUE, SET FALSE",
            "GRANT pg_read_all_data TO via_set",
        ):
            conn.execute(statement.encode())
    inspection = inspect_cluster(lambda db: cluster.connect(db), ["postgres"])
    [u] = [r for r in review_access(inspection.state, inspection.inventories) if r.role.name == "u"]
    how = {m.role: m.how for m in u.memberships}
    assert how == {
        "boss": "inherit",
        "via_set": "set_role",
        "pg_read_all_data": "set_role",
        "nothing": "none",
    }
    caps = {(c.name, c.set_role) for c in u.capabilities}
    assert caps == {("pg_read_all_data", True)}  # boss: no SET option, so not its SUPERUSER


def _doc(group: PrivilegeGroup) -> dict[str, object]:
    from pgtune.audit.report import group_doc

    return group_doc(group)


def _text(review: RoleReview) -> str:
    from pgtune.audit.report import membership_text

    return "\n".join(membership_text(m) for m in review_doc(review)["memberships"])
