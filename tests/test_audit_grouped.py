"""The audit reads the ACLs of tables and sequences grouped (pgtune/audit/inspection.py on
the access inspection's grouped read); the access inspection reads one grant per item. On real
PostgreSQL 15 and 18, with every kind of relation and ACL the grouping must get right, both
give the same state, the same findings and the same report, as the superuser and as a
pg_monitor role that cannot read one database.
"""

from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pgcluster import Cluster, ClusterFactory
from pgtune import pg
from pgtune.access.catalog import Inspection, inspect_cluster
from pgtune.access.model import Grant, ObjectRef
from pgtune.audit.collect import collect
from pgtune.audit.findings import run_checks
from pgtune.audit.model import Snapshot
from pgtune.audit.report import cluster_section
from pgtune.audit.review import review_access, review_snapshot

MAJORS = (15, 18)

CLUSTER_SQL = [
    "CREATE ROLE owner2 NOLOGIN",
    "CREATE ROLE readers NOLOGIN",
    "CREATE ROLE writers NOLOGIN",
    "CREATE ROLE delegate NOLOGIN",
    "CREATE ROLE u1 LOGIN IN ROLE readers",
    "CREATE ROLE u2 LOGIN IN ROLE writers",
    "CREATE ROLE u3 LOGIN",
    'CREATE ROLE "Odd ""Name""" LOGIN IN ROLE readers',
    "CREATE ROLE owner_login LOGIN",
    "CREATE ROLE reader_all LOGIN IN ROLE pg_read_all_data",
    "CREATE ROLE watcher LOGIN IN ROLE pg_monitor",
    "CREATE DATABASE app",
    "CREATE DATABASE other",
    "CREATE DATABASE locked",
    "REVOKE CONNECT ON DATABASE locked FROM PUBLIC",
]
APP_SQL = [
    "CREATE SCHEMA s1",
    'CREATE SCHEMA "Mixed Case" AUTHORIZATION owner2',
    "GRANT USAGE ON SCHEMA s1 TO readers, writers, delegate",
    # tables with a serial (a sequence), a plain one, views, a materialized view, a
    # partitioned table and its partition, a foreign table, a sequence of its own
    "CREATE TABLE s1.a (id serial PRIMARY KEY, v text)",
    "CREATE TABLE s1.b (id int)",
    "CREATE TABLE s1.c (id int)",
    "CREATE TABLE s1.d (id int)",
    "CREATE TABLE s1.e (id int)",
    "CREATE TABLE s1.g1 (id int)",
    "CREATE TABLE s1.g2 (id int)",
    "CREATE VIEW s1.v AS SELECT 1 AS x",
    "CREATE MATERIALIZED VIEW s1.m AS SELECT 1 AS x",
    "CREATE TABLE s1.p (id int) PARTITION BY RANGE (id)",
    "CREATE TABLE s1.p1 PARTITION OF s1.p FOR VALUES FROM (0) TO (10)",
    "CREATE EXTENSION postgres_fdw",
    "CREATE SERVER far FOREIGN DATA WRAPPER postgres_fdw",
    "CREATE FOREIGN TABLE s1.f (id int) SERVER far",
    "CREATE SEQUENCE s1.seq",
    # an extension's view with its own ACL: not ours to review
    "CREATE EXTENSION pg_buffercache",
    "GRANT SELECT ON ALL TABLES IN SCHEMA s1 TO readers",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA s1 TO readers",
    "GRANT ALL ON s1.a, s1.b, s1.p TO writers",
    "GRANT ALL ON SEQUENCE s1.a_id_seq TO writers",
    # a second grantor, and the same privilege granted twice (one WITH GRANT OPTION): one
    # grant, grantable
    "GRANT SELECT ON s1.b, s1.d TO delegate WITH GRANT OPTION",
    "SET ROLE delegate",
    "GRANT SELECT ON s1.b TO u3 WITH GRANT OPTION",
    "GRANT SELECT ON s1.d TO u3",
    "RESET ROLE",
    "GRANT SELECT ON s1.b TO u3",
    "GRANT SELECT ON s1.d TO u3",
    # PUBLIC: reading and writing, on tables, a view and a sequence
    "GRANT SELECT ON s1.c, s1.e TO PUBLIC",
    "GRANT INSERT, UPDATE ON s1.v TO PUBLIC",
    "GRANT USAGE ON SEQUENCE s1.seq TO PUBLIC",
    # an ACL without the owner's own items (not NULL, yet the same grants as e's)
    "REVOKE ALL ON s1.c FROM postgres",
    "GRANT SELECT ON s1.c TO readers",
    # a column grant
    "GRANT SELECT (v) ON s1.a TO u3",
    # another owner, names that need quoting
    'CREATE TABLE "Mixed Case"."T 1" (id int)',
    'CREATE TABLE "Mixed Case"."t2" (id int)',
    'ALTER TABLE "Mixed Case"."T 1" OWNER TO owner2',
    'GRANT SELECT ON "Mixed Case"."T 1" TO "Odd ""Name"""',
    # RLS: policies but disabled, enabled and forced, enabled by a login owner, no policy
    "CREATE POLICY pa ON s1.a USING (id > 0)",
    "ALTER TABLE s1.b ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE s1.b FORCE ROW LEVEL SECURITY",
    "CREATE POLICY pb ON s1.b USING (true)",
    "ALTER TABLE s1.d OWNER TO owner_login",
    "ALTER TABLE s1.d ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY pd ON s1.d TO u3 USING (id > 1)",
    "ALTER TABLE s1.e ENABLE ROW LEVEL SECURITY",
]
OTHER_SQL = [
    "CREATE TABLE public.t (id bigserial)",
    "GRANT SELECT ON public.t TO u1",
    "GRANT ALL ON public.t TO PUBLIC",
]


def dsn_of(cluster: Cluster, user: str = "postgres") -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user={user}"


def run_sql(cluster: Cluster, statements: list[str], dbname: str = "postgres") -> None:
    with cluster.connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def _inspected(dsn: str, snapshot: Snapshot) -> Inspection:
    """The access inspection of the same databases, one grant per item."""

    def connect(database: str) -> psycopg.Connection[Any]:
        return pg.connect(make_conninfo(dsn, dbname=database))

    databases = ["postgres", "app", "other", "locked"]
    return inspect_cluster(connect, databases)


def _expanded(snapshot: Snapshot) -> tuple[frozenset[Grant], dict[ObjectRef, str]]:
    """The grouped relations as the inspection holds them: one grant per item, owners."""
    grants = set(snapshot.access.state.grants)
    owners = dict(snapshot.access.state.owners)
    for shared in snapshot.relations:
        for name in shared.names:
            obj = ObjectRef(shared.kind, shared.database, shared.schema, name)
            owners[obj] = shared.owner
            grants.update(Grant(obj, *granted) for granted in shared.grants)
    return frozenset(grants), owners


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
@pytest.mark.parametrize("user", ["postgres", "watcher"])
def test_grouped_relations_read_as_the_inspection_does(
    pg_cluster_factory: ClusterFactory, major: int, user: str
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    run_sql(cluster, CLUSTER_SQL)
    run_sql(cluster, APP_SQL, "app")
    run_sql(cluster, OTHER_SQL, "other")
    dsn = dsn_of(cluster, user)
    snapshot = collect(dsn)
    full = _inspected(dsn, snapshot)

    # The same state, the grants and owners of tables and sequences held grouped.
    grouped = snapshot.access
    assert grouped.unreadable == full.unreadable
    assert ("database 'locked': no CONNECT privilege" in grouped.unreadable) == (user != "postgres")
    assert grouped.queries == full.queries
    assert grouped.inventories == full.inventories
    assert _expanded(snapshot) == (full.state.grants, full.state.owners)
    state = full.state
    assert grouped.state.roles == state.roles
    assert grouped.state.memberships == state.memberships
    assert grouped.state.default_privileges == state.default_privileges
    assert grouped.state.rls_tables == state.rls_tables
    assert grouped.state.policies == state.policies
    relation_grants = {g for g in state.grants if g.object.kind in ("table", "sequence")}
    assert relation_grants and not relation_grants & grouped.state.grants
    # ... grouped: relations of one schema, kind, owner and ACL are one group
    relations = sum(len(inv.tables) + len(inv.sequences) for inv in full.inventories.values())
    assert len(snapshot.relations) < relations
    assert not any(
        (s.schema, name) in {("public", "pg_buffercache")}
        for s in snapshot.relations
        for name in s.names
    )
    [same] = [s for s in snapshot.relations if "g1" in s.names]  # the partition too
    assert (same.schema, same.kind, same.names) == ("s1", "table", ("g1", "g2", "p1"))
    [b] = [s for s in snapshot.relations if s.names == ("b",)]
    assert ("u3", "SELECT", True) in b.grants and ("u3", "SELECT", False) not in b.grants

    # The same findings and the same report as from the inspection's state.
    legacy = replace(snapshot, access=full, relations=())
    findings = run_checks(snapshot)
    assert findings == run_checks(legacy)
    assert {"PGT-PRIV-003", "PGT-PRIV-004", "PGT-RLS-001", "PGT-RLS-002"} <= {
        f.id for f in findings
    }
    reviews = review_snapshot(snapshot)
    assert reviews == review_access(full.state, full.inventories)
    assert cluster_section(snapshot, findings, reviews, None) == cluster_section(
        legacy, findings, review_access(full.state, full.inventories), None
    )
