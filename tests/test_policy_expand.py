"""Expansion of a policy over hand-built inventories: exactly the grants the spec implies.

Expected objects are written out by hand from docs/access-policy.md, never copied from output.
"""

from pathlib import Path

import pytest

from pgtune.access.model import (
    PUBLIC,
    DefaultPrivilege,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    RlsPolicy,
    RlsTable,
    TableRef,
)
from pgtune.access.policy import Policy, PolicyError, expand, load_policy, parse_policy

POLICIES = Path(__file__).parent / "data" / "policies"


def inventory() -> Inventory:
    return Inventory(
        database="app",
        schemas={"sales": "owner", "public": "pg_database_owner", "other": "owner"},
        tables={
            ("sales", "orders"): "owner",
            ("sales", "order_items"): "owner",
            ("sales", "customers"): "owner",
            ("sales", "Orders Archive"): "owner",
            ("sales", "app_notes"): "app",  # owned by the grantee: no grant needed
            ("other", "orders"): "owner",  # outside the entries' schemas
        },
        sequences={("sales", "orders_id_seq"): "owner"},
        functions={
            ("sales", "total", "order_id integer"): "owner",
            ("sales", "total", "order_id integer, currency text"): "owner",
            ("public", "helper", ""): "owner",
            ("other", "hidden", ""): "owner",
        },
        columns={("sales", "customers"): ("id", "name", "email")},
    )


def table(name: str, schema: str = "sales") -> ObjectRef:
    return ObjectRef("table", "app", schema, name)


def grants(role: str, obj: ObjectRef, *privileges: str) -> set[Grant]:
    return {Grant(obj, role, p) for p in privileges}


def of(state_grants: frozenset[Grant], role: str) -> set[Grant]:
    return {g for g in state_grants if g.grantee == role}


@pytest.fixture(scope="module")
def full() -> Policy:
    return load_policy(POLICIES / "full.yaml")


def test_readwrite_entry_gets_least_privilege_on_existing_objects(full: Policy) -> None:
    state, _ = expand(full, {"app": inventory()}, major=16)
    sales = ObjectRef("schema", "app", "sales")
    expected = (
        grants("app", ObjectRef("database", "app"), "CONNECT")
        | grants("app", sales, "USAGE")
        | grants("app", table("orders"), "SELECT", "INSERT", "UPDATE", "DELETE")
        | grants("app", table("order_items"), "SELECT", "INSERT", "UPDATE", "DELETE")
        | grants("app", table("customers"), "SELECT", "INSERT", "UPDATE", "DELETE")
        | grants("app", table("Orders Archive"), "SELECT", "INSERT", "UPDATE", "DELETE")
        | grants("app", ObjectRef("sequence", "app", "sales", "orders_id_seq"), "USAGE", "SELECT")
        | grants(
            "app",
            ObjectRef("function", "app", "sales", "total", args="order_id integer"),
            "EXECUTE",
        )
        | grants(
            "app",
            ObjectRef("function", "app", "sales", "total", args="order_id integer, currency text"),
            "EXECUTE",
        )
    )
    assert of(state.grants, "app") == expected


def test_patterns_are_case_sensitive_globs(full: Policy) -> None:
    state, _ = expand(full, {"app": inventory()}, major=16)
    # reporting profile on tables ["order*"]: orders and order_items, not "Orders Archive".
    assert of(state.grants, "analyst") == (
        grants("analyst", ObjectRef("database", "app"), "CONNECT")
        | grants("analyst", ObjectRef("schema", "app", "sales"), "USAGE")
        | grants("analyst", table("orders"), "SELECT")
        | grants("analyst", table("order_items"), "SELECT")
    )


def test_columns_get_the_table_privileges_instead_of_the_table(full: Policy) -> None:
    state, _ = expand(full, {"app": inventory()}, major=16)
    assert of(state.grants, "Auditor") == {
        Grant(ObjectRef("column", "app", "sales", "customers", column="id"), "Auditor", "SELECT"),
        Grant(ObjectRef("column", "app", "sales", "customers", column="name"), "Auditor", "SELECT"),
    }


def test_public_revocations(full: Policy) -> None:
    state, scope = expand(full, {"app": inventory()}, major=16)
    db = ObjectRef("database", "app")
    assert scope.public_revocations == {
        Grant(db, PUBLIC, "CONNECT"),
        Grant(db, PUBLIC, "TEMPORARY"),
        Grant(ObjectRef("schema", "app", "sales"), PUBLIC, "CREATE"),
        # revoke_public_function_execute: every function in the managed schemas (sales,
        # public) — not the one in schema "other", which the policy does not manage.
        Grant(
            ObjectRef("function", "app", "sales", "total", args="order_id integer"),
            PUBLIC,
            "EXECUTE",
        ),
        Grant(
            ObjectRef("function", "app", "sales", "total", args="order_id integer, currency text"),
            PUBLIC,
            "EXECUTE",
        ),
        Grant(ObjectRef("function", "app", "public", "helper", args=""), PUBLIC, "EXECUTE"),
    }
    # ... and for future functions of the default-privileges owner: the absence of PUBLIC's
    # global default EXECUTE (schema None), per database.
    assert scope.public_default_revocations == {
        DefaultPrivilege("app", "owner", None, "functions", PUBLIC, "EXECUTE")
    }
    assert not any(g.grantee == PUBLIC for g in state.grants)
    assert not any(d.grantee == PUBLIC for d in state.default_privileges)


def test_default_privileges_for_each_owner_and_schema() -> None:
    policy = parse_policy(
        "version: 1\nroles: {o1: {}, o2: {}, app: {}, rep: {}}\n"
        "databases: {app: {schemas: {sales: {}, public: {}}}}\n"
        "default_privileges: {owners: [o1, o2, app]}\n"
        "access:\n"
        "  - {role: app, database: app, profile: readwrite}\n"
        "  - {role: rep, database: app, profile: readonly, schemas: [sales], tables: [orders]}\n",
        "p.yaml",
    )
    state, _ = expand(policy, {"app": inventory()}, major=16)
    expected: set[DefaultPrivilege] = set()
    for owner in ("o1", "o2"):  # not FOR ROLE app TO app: an owner has its own objects
        for schema in ("sales", "public"):
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                expected.add(DefaultPrivilege("app", owner, schema, "tables", "app", p))
            for p in ("USAGE", "SELECT"):
                expected.add(DefaultPrivilege("app", owner, schema, "sequences", "app", p))
            expected.add(DefaultPrivilege("app", owner, schema, "functions", "app", "EXECUTE"))
        # rep's tables are a list of names: future tables are not covered, sequences ("*") are.
        expected.add(DefaultPrivilege("app", owner, "sales", "sequences", "rep", "SELECT"))
    expected |= {
        DefaultPrivilege("app", "app", "sales", "sequences", "rep", "SELECT"),
    }
    assert state.default_privileges == expected


def test_owned_objects_are_not_granted_to_their_owner() -> None:
    policy = parse_policy(
        "version: 1\nroles: {owner: {}}\ndatabases: {app: {schemas: {sales: {}}}}\n"
        "access: [{role: owner, database: app, profile: readonly}]\n",
        "p.yaml",
    )
    state, _ = expand(policy, {"app": inventory()}, major=16)
    # No USAGE on schema sales and nothing on the tables "owner" owns: only app_notes, which
    # "app" owns, and CONNECT (the inventory does not tell database owners).
    assert state.grants == {
        Grant(ObjectRef("database", "app"), "owner", "CONNECT"),
        Grant(table("app_notes"), "owner", "SELECT"),
    }


def test_function_patterns_may_name_identity_arguments() -> None:
    policy = parse_policy(
        "version: 1\nroles: {app: {}}\ndatabases: {app: {schemas: {sales: {}}}}\n"
        "access:\n  - role: app\n    database: app\n    privileges: {function: [EXECUTE]}\n"
        "    functions: ['total(integer)']\n",
        "p.yaml",
    )
    state, _ = expand(policy, {"app": inventory()}, major=16)
    assert state.grants == {
        Grant(
            ObjectRef("function", "app", "sales", "total", args="order_id integer"),
            "app",
            "EXECUTE",
        )
    }


def test_objects_that_do_not_exist_are_reported_with_their_lines() -> None:
    text = (
        "version: 1\n"  # 1
        "roles: {app: {}}\n"  # 2
        "databases: {app: {schemas: {sales: {}}}}\n"  # 3
        "access:\n"  # 4
        "  - role: app\n"  # 5
        "    database: app\n"  # 6
        "    privileges: {table: [SELECT], function: [EXECUTE], sequence: [USAGE]}\n"  # 7
        "    tables: [orders, ordres, 'nothing_*']\n"  # 8  ordres does not exist; a glob may
        "    sequences: [missing_seq]\n"  # 9
        "    functions: ['total(text)']\n"  # 10
        "  - role: app\n"  # 11
        "    database: app\n"  # 12
        "    privileges: {table: [SELECT]}\n"  # 13
        "    tables: [customers]\n"  # 14
        "    columns: [id, emial]\n"  # 15
        "rls:\n"  # 16
        "  - table: app.sales.invoices\n"  # 17
    )
    policy = parse_policy(text, "p.yaml")
    with pytest.raises(PolicyError) as caught:
        expand(policy, {"app": inventory()}, major=16)
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (8, "table 'ordres' does not exist in app.sales"),
        (9, "sequence 'missing_seq' does not exist in app.sales"),
        (10, "function 'total(text)' does not exist in app.sales"),
        (11, "column 'emial' does not exist in table app.sales.customers (did you mean 'email'?)"),
        (17, "table app.sales.invoices does not exist"),
    ]


def test_missing_databases_and_schemas_are_reported() -> None:
    policy = parse_policy(
        "version: 1\ndatabases:\n  app:\n    schemas:\n      sales: {}\n      salse: {}\n"
        "  ghost: {}\n",
        "p.yaml",
    )
    with pytest.raises(PolicyError) as caught:
        expand(policy, {"app": inventory()}, major=16)
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (6, "schema 'salse' does not exist in database 'app' (did you mean 'sales'?)"),
        (7, "database 'ghost' does not exist"),
    ]


MEMBERSHIPS = (
    "version: 1\n"
    "roles:\n"
    "  app: {member_of: [grp]}\n"  # 3
    "  noinh: {inherit: false}\n"
    "  grp: {}\n"
    "memberships:\n"
    "  - {group: grp, member: noinh, admin: true, inherit: false, set: true}\n"  # 7
)


def test_membership_options_on_postgresql_16() -> None:
    state, _ = expand(parse_policy(MEMBERSHIPS, "p.yaml"), {}, major=16)
    assert state.memberships == {
        Membership("grp", "app"),  # options not written: not managed
        Membership("grp", "noinh", admin=True, inherit=False, set=True),
    }


def test_membership_options_before_postgresql_16() -> None:
    # inherit: false matches noinh's own NOINHERIT, set: true is what 15 always does: fine.
    state, _ = expand(parse_policy(MEMBERSHIPS, "p.yaml"), {}, major=15)
    assert state.memberships == {
        Membership("grp", "app"),
        Membership("grp", "noinh", admin=True, inherit=None, set=None),
    }
    # An option 15 cannot honour is a problem, not silently dropped.
    cannot = MEMBERSHIPS.replace("inherit: false, set: true", "inherit: true, set: false")
    with pytest.raises(PolicyError) as caught:
        expand(parse_policy(cannot, "p.yaml"), {}, major=15)
    messages = [(p.line, p.message) for p in caught.value.problems]
    assert [line for line, _ in messages] == [7, 7]
    assert "set: false needs PostgreSQL 16 or later (the server is 15)" in messages[0][1]
    assert "inherit per membership needs PostgreSQL 16" in messages[1][1]


def test_maintain_needs_postgresql_17() -> None:
    policy = parse_policy(
        "version: 1\nroles: {app: {}}\ndatabases: {app: {schemas: {sales: {}}}}\n"
        "access:\n  - {role: app, database: app, privileges: {table: [MAINTAIN]}}\n",
        "p.yaml",
    )
    with pytest.raises(PolicyError, match=r"p.yaml:5: MAINTAIN needs PostgreSQL 17"):
        expand(policy, {"app": inventory()}, major=16)
    state, _ = expand(policy, {"app": inventory()}, major=17)
    assert Grant(table("orders"), "app", "MAINTAIN") in state.grants


def test_rls_tables_and_policies(full: Policy) -> None:
    seen: list[tuple[TableRef, str]] = []

    def canonicalize(t: TableRef, expr: str) -> str:
        seen.append((t, expr))
        return f"({expr})"

    state, scope = expand(full, {"app": inventory()}, major=16, canonicalize=canonicalize)
    orders = TableRef("app", "sales", "orders")
    expr = "tenant_id = current_setting('app.tenant', true)::int"
    assert state.rls_tables == {orders: RlsTable(orders, enabled=True, forced=True)}
    assert state.policies == {
        (orders, "tenant_read"): RlsPolicy(
            orders, "tenant_read", roles=("analyst", "app"), using=f"({expr})"
        ),
        (orders, "tenant_write"): RlsPolicy(
            orders, "tenant_write", command="INSERT", roles=("app",), with_check=f"({expr})"
        ),
    }
    assert seen == [(orders, expr), (orders, expr)]
    assert scope.rls_tables == {orders}


def test_without_canonicalize_expressions_stay_as_written(full: Policy) -> None:
    state, _ = expand(full, {"app": inventory()}, major=16)
    policy = state.policies[TableRef("app", "sales", "orders"), "tenant_read"]
    assert policy.using == "tenant_id = current_setting('app.tenant', true)::int"


def test_scope_and_roles(full: Policy) -> None:
    state, scope = expand(full, {"app": inventory()}, major=16)
    assert scope.roles == {"owner", "migrator", "app", "analyst", "Auditor"}
    assert scope.databases == {"app"}
    assert scope.schemas == {("app", "sales"), ("app", "public")}
    assert not scope.drop_roles and not scope.manage_ownership
    assert state.roles["analyst"].valid_until == "2027-01-01T00:00:00+00:00"
    assert state.roles["app"].password_env == "APP_PASSWORD"
    assert state.memberships == {Membership("owner", "migrator")}
    assert state.owners == {}  # schema owners only with manage_ownership


def test_ownership_only_when_managed() -> None:
    policy = parse_policy(
        "version: 1\nsettings: {manage_ownership: true, drop_unmanaged_roles: true}\n"
        "roles: {o: {}}\ndatabases: {app: {schemas: {sales: {owner: o}, public: {}}}}\n",
        "p.yaml",
    )
    state, scope = expand(policy, {"app": inventory()}, major=16)
    assert state.owners == {ObjectRef("schema", "app", "sales"): "o"}
    assert scope.manage_ownership and scope.drop_roles


def test_grant_option_on_entries_and_default_grants() -> None:
    policy = parse_policy(
        "version: 1\nroles: {o1: {}, app: {}, rep: {}}\n"
        "databases: {app: {schemas: {sales: {}}}}\n"
        "default_privileges:\n"
        "  owners: [o1]\n"
        "  grants:\n"
        "    - {owner: o1, role: rep, database: app, privileges: {sequence: [USAGE]}}\n"
        "    - {owner: o1, role: PUBLIC, database: app, schemas: [sales],\n"
        "       privileges: {table: [SELECT]}}\n"
        "    - {owner: o1, role: app, database: app, schemas: [sales],\n"
        "       privileges: {function: [EXECUTE]}, grant_option: true}\n"
        "access:\n"
        "  - {role: rep, database: app, privileges: {table: [SELECT]}, tables: [orders]}\n"
        "  - {role: rep, database: app, privileges: {table: [SELECT, INSERT]},\n"
        "     tables: [orders, customers], grant_option: true}\n"
        "  - {role: app, database: app, privileges: {schema: [USAGE], table: [SELECT]},\n"
        "     grant_option: true}\n",
        "p.yaml",
    )
    state, _ = expand(policy, {"app": inventory()}, major=16)
    # with and without the option (two entries): with it, once
    assert of(state.grants, "rep") == {
        Grant(table(t), "rep", p, True)
        for t in ("orders", "customers")
        for p in ("SELECT", "INSERT")
    }
    app = of(state.grants, "app")
    assert Grant(ObjectRef("schema", "app", "sales"), "app", "USAGE", True) in app
    assert Grant(table("orders"), "app", "SELECT", True) in app
    assert all(g.grantable for g in app)
    assert state.default_privileges == {
        DefaultPrivilege("app", "o1", "sales", "tables", "app", "SELECT", True),
        DefaultPrivilege("app", "o1", None, "sequences", "rep", "USAGE"),
        DefaultPrivilege("app", "o1", "sales", "tables", PUBLIC, "SELECT"),
        DefaultPrivilege("app", "o1", "sales", "functions", "app", "EXECUTE", True),
    }


def test_public_cannot_hold_a_grant_option() -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(
            "version: 1\nroles: {o1: {}}\n"
            "databases: {app: {schemas: {sales: {}}}}\n"
            "access:\n"
            "  - {role: PUBLIC, database: app, privileges: {table: [SELECT]},\n"
            "     grant_option: true}\n"
            "default_privileges:\n"
            "  grants:\n"
            "    - {owner: o1, role: PUBLIC, database: app, privileges: {table: [SELECT]},\n"
            "       grant_option: true}\n",
            "p.yaml",
        )
    text = str(raised.value)
    assert "p.yaml:6: PUBLIC cannot hold a grant option" in text
    assert "p.yaml:10: PUBLIC cannot hold a grant option" in text
