"""Exporting a live cluster as a policy file (real PostgreSQL 15 and 18).

The strongest check is the round trip: the exported file loads, expands on the same
inventories, and the plan against the cluster it came from is empty. What the format cannot
express is listed in the file's header instead.
"""

from collections.abc import Iterable
from typing import Any

import pytest
import yaml

from pgcluster import Cluster, ClusterFactory
from pgtune.access.catalog import Inspection, inspect_cluster
from pgtune.access.catalog.export import export_policy
from pgtune.access.plan import diff
from pgtune.access.policy import expand, parse_policy

pytestmark = pytest.mark.pg
MAJORS = pytest.mark.parametrize("major", (15, 18))

CLUSTER_SQL = [
    "CREATE ROLE app_owner",
    "CREATE ROLE app_rw",
    "CREATE ROLE app LOGIN CONNECTION LIMIT 50 IN ROLE app_rw",
    "ALTER ROLE app SET statement_timeout = '30s'",
    "COMMENT ON ROLE app IS 'the application'",
    "CREATE ROLE analyst LOGIN VALID UNTIL '2027-01-01T00:00:00Z'",
    'CREATE ROLE "Ünï Côdé" LOGIN',
    "CREATE ROLE monitor LOGIN IN ROLE pg_monitor",
    "CREATE DATABASE app OWNER app_owner",
    "REVOKE CONNECT, TEMPORARY ON DATABASE app FROM PUBLIC",
    'GRANT CONNECT ON DATABASE app TO app_rw, analyst, monitor, "Ünï Côdé"',
]
APP_SQL = [
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    "CREATE SCHEMA sales AUTHORIZATION app_owner",
    'CREATE SCHEMA "my.schema" AUTHORIZATION app_owner',
    "SET ROLE app_owner",
    "CREATE TABLE sales.orders (id serial PRIMARY KEY, tenant_id int, total numeric)",
    "CREATE TABLE sales.customers (id int, name text, secret text)",
    'CREATE TABLE sales."odd*name" (id int)',
    'CREATE TABLE "my.schema"."T.1" (id int)',
    "CREATE FUNCTION sales.add(a integer, b integer) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
    "REVOKE EXECUTE ON FUNCTION sales.add(integer, integer) FROM PUBLIC",
    "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA sales"
    " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_rw",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA sales GRANT USAGE, SELECT ON SEQUENCES TO app_rw",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA sales GRANT EXECUTE ON FUNCTIONS TO app_rw",
    "GRANT USAGE ON SCHEMA sales TO app_rw, analyst",
    'GRANT USAGE ON SCHEMA sales, "my.schema" TO "Ünï Côdé"',
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sales TO app_rw",
    "GRANT TRUNCATE ON sales.orders TO app_rw",  # beyond what the '*' entry gives
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA sales TO app_rw",
    "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sales TO app_rw",
    'GRANT SELECT ON sales.orders, sales."odd*name" TO analyst',
    "GRANT SELECT (id, name) ON sales.customers TO analyst",
    "GRANT UPDATE (name) ON sales.customers TO analyst",
    'GRANT SELECT ON "my.schema"."T.1" TO "Ünï Côdé"',
    "ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE sales.orders FORCE ROW LEVEL SECURITY",
    "CREATE POLICY tenant_isolation ON sales.orders TO app_rw"
    " USING (tenant_id = current_setting('app.current_tenant')::int)"
    " WITH CHECK (tenant_id = current_setting('app.current_tenant')::int)",
    'CREATE POLICY "no big" ON sales.orders AS RESTRICTIVE FOR INSERT WITH CHECK (total < 1000)',
    'ALTER TABLE "my.schema"."T.1" ENABLE ROW LEVEL SECURITY',
    "RESET ROLE",
]


def _run(cluster: Cluster, database: str, statements: Iterable[str]) -> None:
    with cluster.connect(database) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def _setup(factory: ClusterFactory, major: int, extra: Iterable[str] = ()) -> Inspection:
    cluster = factory(major)
    cluster.start()
    _run(cluster, "postgres", CLUSTER_SQL)
    _run(cluster, "app", [*APP_SQL, *extra])
    return inspect_cluster(lambda db: cluster.connect(db), ["app"])


def _plan(inspection: Inspection, text: str) -> list[str]:
    desired, scope = expand(parse_policy(text), inspection.inventories, major=inspection.major)
    changes = diff(
        inspection.state,
        desired,
        scope,
        major=inspection.major,
        inventories=inspection.inventories,
        current_user="postgres",
    )
    return [change.sql_text() for change in changes]


def _notes(text: str) -> list[str]:
    return [line[len("#   - ") :] for line in text.splitlines() if line.startswith("#   - ")]


@MAJORS
def test_export_round_trips_to_an_empty_plan(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    inspection = _setup(pg_cluster_factory, major)
    text = export_policy(inspection, ["app"])
    data: dict[str, Any] = yaml.safe_load(text)
    assert data["version"] == 1
    assert _notes(text) == []
    assert _plan(inspection, text) == []

    # and it says what was set up, in the format's own words
    assert data["settings"] == {"revoke_public_function_execute": True}
    assert data["roles"]["app"] == {
        "login": True,
        "connection_limit": 50,
        "settings": {"statement_timeout": "30s"},
        "comment": "the application",
    }
    assert data["roles"]["analyst"] == {"login": True, "valid_until": "2027-01-01T00:00:00+00:00"}
    assert data["roles"]["app_owner"] == {}
    assert "pg_monitor" not in data["roles"]
    assert {"group": "pg_monitor", "member": "monitor"}.items() <= data["memberships"][1].items()
    assert data["databases"]["app"] == {
        "revoke_public": ["CONNECT", "TEMPORARY"],
        "schemas": {
            "my.schema": {"owner": "app_owner"},
            "public": {"owner": "pg_database_owner", "revoke_public": ["CREATE"]},
            "sales": {"owner": "app_owner"},
        },
    }
    assert data["default_privileges"] == {"owners": ["app_owner"]}
    entries = data["access"]
    sales = {"database": "app", "schemas": ["sales"]}
    star = ["SELECT", "INSERT", "UPDATE", "DELETE"]  # also the default privileges
    assert {"role": "app_rw", **sales, "privileges": {"table": star}} in entries
    truncate = {"table": ["TRUNCATE"]}
    assert {"role": "app_rw", **sales, "privileges": truncate, "tables": ["orders"]} in entries
    odd = {"tables": ["odd[*]name", "orders"]}  # glob characters bracketed
    assert {"role": "analyst", **sales, "privileges": {"table": ["SELECT"]}, **odd} in entries
    columns = {"tables": ["customers"], "columns": ["name"]}
    select_update = {"table": ["SELECT", "UPDATE"]}
    assert {"role": "analyst", **sales, "privileges": select_update, **columns} in entries
    assert [e["table"] for e in data["rls"]] == [
        {"database": "app", "schema": "my.schema", "name": "T.1"},
        "app.sales.orders",
    ]
    orders = data["rls"][1]
    assert (orders["enable"], orders["force"]) == (True, True)
    assert [p["name"] for p in orders["policies"]] == ["no big", "tenant_isolation"]
    assert orders["policies"][0]["permissive"] is False


@MAJORS
def test_what_the_format_cannot_say_is_listed_in_the_header(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    inspection = _setup(
        pg_cluster_factory,
        major,
        [
            "GRANT SELECT ON sales.customers TO app WITH GRANT OPTION",
            "GRANT SELECT ON sales.customers TO pg_read_all_data",
            "GRANT SELECT ON sales.orders TO PUBLIC",
            "GRANT CREATE ON SCHEMA sales TO PUBLIC",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT SELECT ON TABLES TO analyst",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner REVOKE USAGE ON TYPES FROM PUBLIC",
            "ALTER ROLE analyst VALID UNTIL '-infinity'",
            "CREATE FUNCTION public.open_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ],
    )
    text = export_policy(inspection, ["app", "elsewhere"])
    notes = _notes(text)
    expected = [
        "database 'elsewhere' was not read, so it is not in this file: not inspected",
        "role 'analyst' is VALID UNTIL '-infinity' (never valid): not expressed",
        "table 'sales'.'customers' of 'app': 'pg_read_all_data' holds SELECT",
        "PUBLIC USAGE on new types FOR ROLE 'app_owner' in 'app' was revoked",
    ]
    for fragment in expected:
        assert [n for n in notes if fragment in n], (fragment, notes)
    assert len(notes) == len(expected), notes
    data = yaml.safe_load(text)
    assert data["version"] == 1
    entries = data["access"]
    sales = {"database": "app", "schemas": ["sales"]}
    # PUBLIC's grants on a table and a schema are access entries for PUBLIC
    assert {
        "role": "PUBLIC",
        **sales,
        "privileges": {"table": ["SELECT"]},
        "tables": ["orders"],
    } in entries
    assert {"role": "PUBLIC", **sales, "privileges": {"schema": ["CREATE"]}} in entries
    # a grant option is an entry of its own
    assert {
        "role": "app",
        **sales,
        "privileges": {"table": ["SELECT"]},
        "tables": ["customers"],
        "grant_option": True,
    } in entries
    # PUBLIC may run one function, not the other: the setting, and an entry for the one
    assert data["settings"] == {"revoke_public_function_execute": True}
    assert {
        "role": "PUBLIC",
        "database": "app",
        "privileges": {"function": ["EXECUTE"]},
        "schemas": ["public"],
        "functions": ["open_fn()"],
    } in entries
    # global default privileges: default_privileges.grants without schemas
    assert data["default_privileges"]["owners"] == ["app_owner"]
    assert {
        "owner": "app_owner",
        "role": "analyst",
        "database": "app",
        "privileges": {"table": ["SELECT"]},
    } in data["default_privileges"]["grants"]
    # a plan changes exactly what the notes say it would
    plan = _plan(inspection, text)
    for fragment in (
        "VALID UNTIL 'infinity'",
        "-- reported only",  # pg_read_all_data's SELECT (settings.unmanaged_roles: report)
    ):
        assert [c for c in plan if fragment in c], (fragment, plan)
    assert len(plan) == 2, plan


@MAJORS
def test_grant_options_public_and_global_defaults_round_trip(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    inspection = _setup(
        pg_cluster_factory,
        major,
        [
            "GRANT SELECT, INSERT ON sales.customers TO app WITH GRANT OPTION",
            "GRANT CREATE ON DATABASE app TO PUBLIC",
            "GRANT CREATE ON SCHEMA public TO PUBLIC",
            'GRANT USAGE ON SCHEMA "my.schema" TO PUBLIC',
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA sales"
            " GRANT SELECT ON TABLES TO PUBLIC",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT USAGE ON SEQUENCES TO analyst",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA sales"
            " GRANT INSERT ON TABLES TO analyst WITH GRANT OPTION",
            "CREATE FUNCTION public.open_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ],
    )
    text = export_policy(inspection, ["app"])
    assert _notes(text) == []
    assert _plan(inspection, text) == []
    data = yaml.safe_load(text)
    entries = data["access"]
    assert {
        "role": "app",
        "database": "app",
        "privileges": {"table": ["SELECT", "INSERT"]},
        "schemas": ["sales"],
        "tables": ["customers"],
        "grant_option": True,
    } in entries
    assert {"role": "PUBLIC", "database": "app", "privileges": {"database": ["CREATE"]}} in entries
    public_schemas = {"role": "PUBLIC", "database": "app", "privileges": {"schema": ["USAGE"]}}
    assert {**public_schemas, "schemas": ["my.schema"]} in entries
    assert "revoke_public" not in data["databases"]["app"]["schemas"]["public"]
    if major >= 15:  # CREATE on schema public is no built-in default any more
        create = {"role": "PUBLIC", "database": "app", "privileges": {"schema": ["CREATE"]}}
        assert {**create, "schemas": ["public"]} in entries
    grants = data["default_privileges"]["grants"]
    assert {
        "owner": "app_owner",
        "role": "PUBLIC",
        "database": "app",
        "schemas": ["sales"],
        "privileges": {"table": ["SELECT"]},
    } in grants
    assert {
        "owner": "app_owner",
        "role": "analyst",
        "database": "app",
        "privileges": {"sequence": ["USAGE"]},
    } in grants
    assert {
        "owner": "app_owner",
        "role": "analyst",
        "database": "app",
        "schemas": ["sales"],
        "privileges": {"table": ["INSERT"]},
        "grant_option": True,
    } in grants
