"""Live inspection against real PostgreSQL 15 and 18: every expectation below is written by hand
from the SQL each test runs, never copied from the inspector's output."""

from collections.abc import Iterable

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

from pgcluster import Cluster, ClusterFactory
from pgtune import pg
from pgtune.access.catalog import Inspection, inspect_cluster
from pgtune.access.catalog.reader import PASSWORDS_HIDDEN
from pgtune.access.model import (
    PUBLIC,
    DefaultPrivilege,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    RlsPolicy,
    RlsTable,
    Role,
    TableRef,
)
from pgtune.pg import ConnectError

pytestmark = pytest.mark.pg
MAJORS = pytest.mark.parametrize("major", (15, 18))
# 3 cluster-wide queries (roles, memberships, databases), 6 per readable database.
CLUSTER_QUERIES, DATABASE_QUERIES = 3, 6


def _run(cluster: Cluster, database: str, statements: Iterable[str]) -> None:
    with cluster.connect(database) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def _inspect(cluster: Cluster, databases: list[str], user: str = "postgres") -> Inspection:
    return inspect_cluster(lambda db: cluster.connect(db, user), databases)


def _started(factory: ClusterFactory, major: int) -> Cluster:
    cluster = factory(major)
    cluster.start()
    return cluster


def _in(database: str, grants: Iterable[Grant]) -> set[Grant]:
    return {g for g in grants if g.object.database == database}


# ------------------------------------------------------------------------------------------------
# Roles and memberships


@MAJORS
def test_roles_attributes_settings_comments_and_expiry(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(
        cluster,
        "postgres",
        [
            "CREATE ROLE ops LOGIN CREATEDB CREATEROLE REPLICATION BYPASSRLS NOINHERIT"
            " CONNECTION LIMIT 5 VALID UNTIL '2030-06-01 12:00:00+02'",
            "ALTER ROLE ops SET statement_timeout = '30s'",
            "ALTER ROLE ops SET search_path = \"$user\", 'odd=name'",
            "ALTER ROLE ops IN DATABASE postgres SET work_mem = '1MB'",  # not in the model
            "COMMENT ON ROLE ops IS 'Ops, with ''quotes'''",
            "CREATE ROLE forever VALID UNTIL 'infinity'",
            "CREATE ROLE never LOGIN VALID UNTIL '-infinity'",
            'CREATE ROLE "Ünï Côdé ""Role"""',
        ],
    )
    roles = _inspect(cluster, ["postgres"]).state.roles
    assert roles["ops"] == Role(
        "ops",
        login=True,
        createdb=True,
        createrole=True,
        replication=True,
        bypassrls=True,
        inherit=False,
        connection_limit=5,
        valid_until="2030-06-01T10:00:00+00:00",
        settings=(("search_path", '"$user", "odd=name"'), ("statement_timeout", "30s")),
        comment="Ops, with 'quotes'",
    )
    assert roles["forever"] == Role("forever")
    assert roles["never"] == Role("never", login=True, valid_until="-infinity")
    assert roles['Ünï Côdé "Role"'] == Role('Ünï Côdé "Role"')
    assert roles["postgres"].superuser and roles["postgres"].login
    assert roles["pg_monitor"] == Role("pg_monitor")  # predefined roles are included


@MAJORS
def test_memberships_collapse_grantors_and_carry_pg16_options(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(
        cluster,
        "postgres",
        [
            "CREATE ROLE grp",
            "CREATE ROLE grp2",
            "CREATE ROLE granter",
            "CREATE ROLE member_a",
            "CREATE ROLE member_b NOINHERIT",
            "GRANT grp TO granter WITH ADMIN OPTION",
            "SET ROLE granter",
            "GRANT grp TO member_a",  # granted by granter
            "RESET ROLE",
            "GRANT grp TO member_a WITH ADMIN OPTION",  # and by postgres (16+: a second row)
            "GRANT grp2 TO member_b",
        ],
    )
    if major >= 16:
        _run(cluster, "postgres", ["GRANT grp2 TO member_a WITH INHERIT FALSE, SET FALSE"])
    memberships = _inspect(cluster, ["postgres"]).state.memberships
    mine = {m for m in memberships if m.group in ("grp", "grp2")}
    if major >= 16:
        # INHERIT defaults to the member's INHERIT attribute; SET defaults to true
        assert mine == {
            Membership("grp", "granter", admin=True, inherit=True, set=True),
            Membership("grp", "member_a", admin=True, inherit=True, set=True),
            Membership("grp2", "member_b", admin=False, inherit=False, set=True),
            Membership("grp2", "member_a", admin=False, inherit=False, set=False),
        }
    else:
        assert mine == {
            Membership("grp", "granter", admin=True),
            Membership("grp", "member_a", admin=True),
            Membership("grp2", "member_b"),
        }
    assert {m.group for m in memberships if m.member == "pg_monitor"} == {
        "pg_read_all_settings",
        "pg_read_all_stats",
        "pg_stat_scan_tables",
    }


# ------------------------------------------------------------------------------------------------
# Object privileges, owners, inventory


OBJECTS_SQL = [
    'CREATE ROLE "App Owner"',
    "CREATE ROLE reader",
    'CREATE ROLE "o\'brien"',
    'CREATE ROLE "Ünï Côdé"',
    'CREATE DATABASE app OWNER "App Owner"',
    "CREATE DATABASE fresh",
    "GRANT CONNECT ON DATABASE app TO reader",
    "REVOKE TEMPORARY ON DATABASE app FROM PUBLIC",
]
APP_SQL = [
    "CREATE EXTENSION citext SCHEMA public",  # its functions and types must not show up
    'CREATE SCHEMA "Sales Dept" AUTHORIZATION "App Owner"',
    'GRANT USAGE ON SCHEMA "Sales Dept" TO reader WITH GRANT OPTION',
    'CREATE TABLE "Sales Dept"."order" (id int, "Total €" numeric, "select" text)',
    'ALTER TABLE "Sales Dept"."order" OWNER TO "App Owner"',
    'GRANT SELECT, INSERT ON "Sales Dept"."order" TO reader',
    'GRANT UPDATE ON "Sales Dept"."order" TO "o\'brien" WITH GRANT OPTION',
    'GRANT SELECT ("Total €"), UPDATE ("select") ON "Sales Dept"."order" TO "Ünï Côdé"',
    'ALTER TABLE "Sales Dept"."order" DROP COLUMN "select"',  # its grant goes with it
    'ALTER TABLE "Sales Dept"."order" ADD COLUMN note text',
    'CREATE TABLE "Sales Dept"."say ""hi""" (x int)',
    'GRANT SELECT ON "Sales Dept"."say ""hi""" TO reader',
    'CREATE SEQUENCE "Sales Dept"."Order Seq"',
    'ALTER SEQUENCE "Sales Dept"."Order Seq" OWNER TO "App Owner"',
    'GRANT USAGE ON SEQUENCE "Sales Dept"."Order Seq" TO reader',
    'CREATE VIEW "Sales Dept".v AS SELECT id FROM "Sales Dept"."order"',
    'GRANT SELECT ON "Sales Dept".v TO PUBLIC',
    'CREATE FUNCTION "Sales Dept"."Total"(a integer, "b b" text) RETURNS int'
    " LANGUAGE sql AS 'SELECT 1'",
    'ALTER FUNCTION "Sales Dept"."Total"(integer, text) OWNER TO "App Owner"',
    'REVOKE EXECUTE ON FUNCTION "Sales Dept"."Total"(integer, text) FROM PUBLIC',
    'GRANT EXECUTE ON FUNCTION "Sales Dept"."Total"(integer, text) TO reader',
    "CREATE FUNCTION public.fresh_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE PROCEDURE public.proc(n integer) LANGUAGE sql AS 'SELECT 1'",
]


@MAJORS
def test_grants_owners_and_inventory_with_awkward_identifiers(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(cluster, "postgres", OBJECTS_SQL)
    _run(cluster, "app", APP_SQL)
    inspection = _inspect(cluster, ["app", "fresh"])
    assert inspection.major == major
    assert inspection.unreadable == ()  # a superuser reads everything

    app, fresh = ObjectRef("database", "app"), ObjectRef("database", "fresh")
    sales = ObjectRef("schema", "app", "Sales Dept")
    public = ObjectRef("schema", "app", "public")
    order = ObjectRef("table", "app", "Sales Dept", "order")
    hi = ObjectRef("table", "app", "Sales Dept", 'say "hi"')
    view = ObjectRef("table", "app", "Sales Dept", "v")
    seq = ObjectRef("sequence", "app", "Sales Dept", "Order Seq")
    total = ObjectRef("function", "app", "Sales Dept", "Total", 'a integer, "b b" text')
    fresh_fn = ObjectRef("function", "app", "public", "fresh_fn", "")
    proc = ObjectRef("function", "app", "public", "proc", "IN n integer")
    total_col = ObjectRef("column", "app", "Sales Dept", "order", column="Total €")

    expected = {
        # app: PUBLIC keeps the built-in CONNECT, lost TEMPORARY; the owner's items are absent
        Grant(app, PUBLIC, "CONNECT"),
        Grant(app, "reader", "CONNECT"),
        # fresh: NULL datacl, read through acldefault
        Grant(fresh, PUBLIC, "CONNECT"),
        Grant(fresh, PUBLIC, "TEMPORARY"),
        Grant(ObjectRef("schema", "fresh", "public"), PUBLIC, "USAGE"),
        # schema public on 15+: owned by pg_database_owner, PUBLIC USAGE only
        Grant(public, PUBLIC, "USAGE"),
        Grant(sales, "reader", "USAGE", grantable=True),
        Grant(order, "reader", "SELECT"),
        Grant(order, "reader", "INSERT"),
        Grant(order, "o'brien", "UPDATE", grantable=True),
        Grant(total_col, "Ünï Côdé", "SELECT"),
        Grant(hi, "reader", "SELECT"),
        Grant(seq, "reader", "USAGE"),
        Grant(view, PUBLIC, "SELECT"),
        Grant(total, "reader", "EXECUTE"),
        Grant(fresh_fn, PUBLIC, "EXECUTE"),  # functions' built-in default
        Grant(proc, PUBLIC, "EXECUTE"),
    }
    assert set(inspection.state.grants) == expected

    assert inspection.inventories["app"] == Inventory(
        "app",
        schemas={"public": "pg_database_owner", "Sales Dept": "App Owner"},
        tables={
            ("Sales Dept", "order"): "App Owner",
            ("Sales Dept", 'say "hi"'): "postgres",
            ("Sales Dept", "v"): "postgres",
        },
        sequences={("Sales Dept", "Order Seq"): "App Owner"},
        functions={
            ("Sales Dept", "Total", 'a integer, "b b" text'): "App Owner",
            ("public", "fresh_fn", ""): "postgres",
            ("public", "proc", "IN n integer"): "postgres",
        },
        columns={
            ("Sales Dept", "order"): ("id", "Total €", "note"),
            ("Sales Dept", 'say "hi"'): ("x",),
            ("Sales Dept", "v"): ("id",),
        },
    )
    assert inspection.inventories["fresh"].tables == {}
    owners = inspection.state.owners
    assert owners[app] == "App Owner" and owners[fresh] == "postgres"
    assert owners[order] == owners[seq] == owners[total] == owners[sales] == "App Owner"
    assert owners[public] == "pg_database_owner"
    assert not any("citext" in ref.name for ref in owners if ref.name)
    assert inspection.queries == CLUSTER_QUERIES + 2 * DATABASE_QUERIES


# ------------------------------------------------------------------------------------------------
# Default privileges


@MAJORS
def test_default_privileges_are_effective_global_and_per_schema(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(
        cluster,
        "postgres",
        ["CREATE ROLE app_owner", "CREATE ROLE app_rw", "CREATE ROLE idle", "CREATE DATABASE app"],
    )
    _run(
        cluster,
        "app",
        [
            "CREATE SCHEMA s AUTHORIZATION app_owner",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT EXECUTE ON FUNCTIONS TO app_rw",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner REVOKE USAGE ON TYPES FROM PUBLIC",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT SELECT ON TABLES TO app_rw",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA s"
            " GRANT INSERT, UPDATE ON TABLES TO app_rw WITH GRANT OPTION",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA s"
            " GRANT USAGE ON SEQUENCES TO app_rw",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT USAGE ON SCHEMAS TO app_rw",
            # the owner's own default privileges are never entries
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT ALL ON TABLES TO app_owner",
        ],
    )
    defaults = _inspect(cluster, ["app", "postgres"]).state.default_privileges

    def of(owner: str, database: str) -> set[DefaultPrivilege]:
        return {d for d in defaults if d.owner == owner and d.database == database}

    assert of("app_owner", "app") == {
        DefaultPrivilege("app", "app_owner", None, "functions", "app_rw", "EXECUTE"),
        DefaultPrivilege("app", "app_owner", None, "tables", "app_rw", "SELECT"),
        DefaultPrivilege("app", "app_owner", "s", "tables", "app_rw", "INSERT", grantable=True),
        DefaultPrivilege("app", "app_owner", "s", "tables", "app_rw", "UPDATE", grantable=True),
        DefaultPrivilege("app", "app_owner", "s", "sequences", "app_rw", "USAGE"),
        DefaultPrivilege("app", "app_owner", None, "schemas", "app_rw", "USAGE"),
        # no PUBLIC EXECUTE on functions nor PUBLIC USAGE on types: revoked
    }
    # a role that never ran ALTER DEFAULT PRIVILEGES has the built-in defaults, per database
    for owner, database in (("idle", "app"), ("app_owner", "postgres"), ("postgres", "app")):
        assert of(owner, database) == {
            DefaultPrivilege(database, owner, None, "functions", PUBLIC, "EXECUTE"),
            DefaultPrivilege(database, owner, None, "types", PUBLIC, "USAGE"),
        }


# ------------------------------------------------------------------------------------------------
# Row level security


@MAJORS
def test_rls_flags_and_policies(pg_cluster_factory: ClusterFactory, major: int) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(cluster, "postgres", ["CREATE ROLE app_rw", 'CREATE ROLE "Mixed Role"'])
    _run(
        cluster,
        "postgres",
        [
            "CREATE TABLE docs (id int, tenant int, owner_name text)",
            "CREATE TABLE plain (id int)",
            "CREATE TABLE parted (id int) PARTITION BY RANGE (id)",
            "CREATE VIEW vw AS SELECT 1 AS x",
            "ALTER TABLE docs ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE docs FORCE ROW LEVEL SECURITY",
            "ALTER TABLE parted ENABLE ROW LEVEL SECURITY",
            'CREATE POLICY tenant ON docs AS PERMISSIVE FOR ALL TO app_rw, "Mixed Role"'
            " USING (tenant = current_setting('app.tenant')::int)"
            " WITH CHECK (tenant = current_setting('app.tenant')::int)",
            'CREATE POLICY "No Deletes" ON docs AS RESTRICTIVE FOR DELETE USING (false)',
            "CREATE POLICY ins ON docs FOR INSERT TO PUBLIC WITH CHECK (owner_name = current_user)",
            "CREATE POLICY sel ON docs FOR SELECT USING (id IN (1, 2))",
            "CREATE POLICY upd ON docs FOR UPDATE TO app_rw USING (true)",
        ],
    )
    state = _inspect(cluster, ["postgres"]).state
    docs, plain, parted = (TableRef("postgres", "public", n) for n in ("docs", "plain", "parted"))
    assert state.rls_tables == {
        docs: RlsTable(docs, enabled=True, forced=True),
        plain: RlsTable(plain, enabled=False, forced=False),
        parted: RlsTable(parted, enabled=True, forced=False),
    }
    tenant = "(tenant = (current_setting('app.tenant'::text))::integer)"
    expected = [
        RlsPolicy(docs, "tenant", True, "ALL", ("Mixed Role", "app_rw"), tenant, tenant),
        RlsPolicy(docs, "No Deletes", False, "DELETE", (PUBLIC,), "false"),
        RlsPolicy(docs, "ins", True, "INSERT", (PUBLIC,), None, "(owner_name = CURRENT_USER)"),
        RlsPolicy(docs, "sel", True, "SELECT", (PUBLIC,), "(id = ANY (ARRAY[1, 2]))"),
        RlsPolicy(docs, "upd", True, "UPDATE", ("app_rw",), "true"),
    ]
    assert state.policies == {(p.table, p.name): p for p in expected}


# ------------------------------------------------------------------------------------------------
# A non-superuser, and degradation


@MAJORS
def test_a_pg_monitor_role_reads_everything_but_databases_it_cannot_connect_to(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(
        cluster,
        "postgres",
        [
            "CREATE ROLE watcher LOGIN IN ROLE pg_monitor",
            "CREATE ROLE app_rw",
            "ALTER ROLE app_rw SET work_mem = '8MB'",
            "COMMENT ON ROLE app_rw IS 'readers'",
            "GRANT pg_read_all_stats TO app_rw",
            "CREATE DATABASE secret",
            "REVOKE CONNECT ON DATABASE secret FROM PUBLIC",
            "GRANT CONNECT ON DATABASE secret TO app_rw",
            "CREATE DATABASE shop",
        ],
    )
    setup = [
        "CREATE TABLE t (id int, v text)",
        "GRANT SELECT (v) ON t TO app_rw",
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY p ON t TO app_rw USING (id > 0)",
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app_rw",
        "CREATE FUNCTION f(int) RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ]
    _run(cluster, "shop", setup)
    _run(cluster, "secret", setup)
    databases = ["secret", "shop", "template0", "missing"]  # unreadable first: no facts yet
    watcher = _inspect(cluster, databases, user="watcher")
    full = _inspect(cluster, databases)

    assert watcher.unreadable == (
        PASSWORDS_HIDDEN,
        "database 'secret': no CONNECT privilege",
        "database 'template0': does not allow connections (datallowconn is false)",
        "database 'missing': does not exist",
    )
    assert full.unreadable == (
        "database 'template0': does not allow connections (datallowconn is false)",
        "database 'missing': does not exist",
    )
    assert set(watcher.inventories) == {"shop"}
    assert watcher.state.roles == full.state.roles
    assert watcher.state.roles["app_rw"].settings == (("work_mem", "8MB"),)
    assert watcher.state.memberships == full.state.memberships
    # what is lost is exactly what lives inside 'secret'; its database ACL is still read
    assert watcher.state.grants == {
        g for g in full.state.grants if g.object.database != "secret" or g.object.kind == "database"
    }
    secret = ObjectRef("database", "secret")
    assert {g for g in watcher.state.grants if g.object == secret} == {
        Grant(secret, PUBLIC, "TEMPORARY"),
        Grant(secret, "app_rw", "CONNECT"),
    }
    assert watcher.state.default_privileges == {
        d for d in full.state.default_privileges if d.database != "secret"
    }
    assert watcher.state.policies == {
        k: p for k, p in full.state.policies.items() if p.table.database != "secret"
    }
    assert watcher.state.rls_tables == {
        k: t for k, t in full.state.rls_tables.items() if k.database != "secret"
    }
    assert watcher.queries == CLUSTER_QUERIES + DATABASE_QUERIES


@MAJORS
def test_no_readable_database_is_an_error_that_says_why(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(
        cluster,
        "postgres",
        [
            "CREATE ROLE watcher LOGIN",
            "CREATE DATABASE secret",
            "REVOKE CONNECT ON DATABASE secret FROM PUBLIC",
        ],
    )
    with pytest.raises(ConnectError, match=r"database 'secret': cannot connect: .*CONNECT"):
        _inspect(cluster, ["secret"], user="watcher")

    # through pgtune's own connect, whose errors are already ConnectErrors
    def connect(database: str) -> psycopg.Connection[TupleRow]:
        dsn = f"host={cluster.socket_dir} port={cluster.port} dbname={database} user=watcher"
        return pg.connect(dsn)

    with pytest.raises(ConnectError) as raised:
        inspect_cluster(connect, ["secret", "missing"])
    message = str(raised.value)
    assert message.startswith("cannot read the catalogs: database 'secret': cannot connect to ")
    assert "database 'missing': cannot connect to " in message
    assert "\n" not in message


# ------------------------------------------------------------------------------------------------
# Set-based: the number of queries does not depend on the number of objects


@MAJORS
def test_query_count_does_not_grow_with_the_number_of_tables(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(cluster, "postgres", ["CREATE ROLE reader", "CREATE DATABASE few", "CREATE DATABASE many"])
    make_tables = sql.SQL(
        "DO $$ BEGIN FOR i IN 1..{} LOOP"
        " EXECUTE format('CREATE TABLE t%s (id serial, v text)', i);"
        " EXECUTE format('GRANT SELECT, INSERT ON t%s TO reader', i);"
        " EXECUTE format('GRANT SELECT (v) ON t%s TO reader', i);"
        " EXECUTE format('ALTER TABLE t%s ENABLE ROW LEVEL SECURITY', i);"
        " EXECUTE format('CREATE POLICY p ON t%s TO reader USING (id > %s)', i, i);"
        " EXECUTE format('CREATE FUNCTION f%s() RETURNS int LANGUAGE sql AS ''SELECT 1''', i);"
        " END LOOP; END $$"
    )
    for database, n in (("few", 10), ("many", 200)):
        with cluster.connect(database) as conn:
            conn.execute(make_tables.format(sql.Literal(n)))
    few, many = _inspect(cluster, ["few"]), _inspect(cluster, ["many"])
    assert len(few.inventories["few"].tables) == 10
    assert len(many.inventories["many"].tables) == 200
    assert len(many.state.policies) == 200
    assert len([g for g in many.state.grants if g.object.kind == "column"]) == 200
    assert few.queries == many.queries == CLUSTER_QUERIES + DATABASE_QUERIES


@MAJORS
def test_privileges_from_several_grantors_merge_into_one_grant_per_privilege(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _started(pg_cluster_factory, major)
    _run(cluster, "postgres", ["CREATE ROLE lead", "CREATE ROLE dev", "CREATE DATABASE work"])
    _run(
        cluster,
        "work",
        [
            "CREATE TABLE t (a int, b int)",
            # dev holds SELECT twice (from the owner and from lead), once with grant option
            "GRANT SELECT, UPDATE ON t TO lead WITH GRANT OPTION",
            "GRANT SELECT (a, b) ON t TO lead WITH GRANT OPTION",
            "GRANT SELECT ON t TO dev",
            "SET ROLE lead",
            "GRANT SELECT ON t TO dev WITH GRANT OPTION",
            "GRANT UPDATE ON t TO dev",
            "GRANT SELECT (b) ON t TO dev",
            "RESET ROLE",
            "GRANT SELECT (b) ON t TO dev",
            "CREATE TABLE bare ()",  # no columns: a table, but no column inventory
        ],
    )
    inspection = _inspect(cluster, ["work"])
    t = ObjectRef("table", "work", "public", "t")
    col = ObjectRef("column", "work", "public", "t", column="a")
    colb = ObjectRef("column", "work", "public", "t", column="b")
    assert _in("work", inspection.state.grants) - {
        g for g in inspection.state.grants if g.object.kind in ("database", "schema")
    } == {
        Grant(t, "lead", "SELECT", grantable=True),
        Grant(t, "lead", "UPDATE", grantable=True),
        Grant(t, "dev", "SELECT", grantable=True),
        Grant(t, "dev", "UPDATE"),
        Grant(col, "lead", "SELECT", grantable=True),
        Grant(colb, "lead", "SELECT", grantable=True),
        Grant(colb, "dev", "SELECT"),
    }
    inventory = inspection.inventories["work"]
    assert inventory.tables == {("public", "t"): "postgres", ("public", "bare"): "postgres"}
    assert inventory.columns == {("public", "t"): ("a", "b")}
