"""Identifiers with quotes, spaces, capitals, unicode and reserved words, end to end: policy
file → plan → apply on real PostgreSQL → a new plan is empty and the grant really works."""

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgcluster import Cluster
from pgtune.access.apply import apply_changes
from pgtune.access.policy.load import parse_policy
from pgtune.access.service import connector, plan_policy

pytestmark = pytest.mark.pg

RESERVED_ROLES = {"public", "none", "current_user", "session_user", "current_role", "all"}
special = st.sampled_from(
    [
        "Order",
        "select",
        "user",
        'a"b',
        "with space",
        "ünïcödé",
        "x'y",
        "Ω",
        "dot.ted",
        "tab\tbed",
        "semi;colon",
        "back\\slash",
    ]
)
plain = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), min_codepoint=32),
    min_size=1,
    max_size=12,
)
names = st.one_of(special, plain).filter(
    lambda n: (
        n.strip() == n
        and not n.lower().startswith("pg_")
        and n.lower() not in RESERVED_ROLES
        and len(n.encode()) < 60
    )
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(role=names, schema=names, table=names, column=names)
def test_odd_identifiers_round_trip(
    pg_cluster_factory,
    role: str,
    schema: str,
    table: str,  # type: ignore[no-untyped-def]
    column: str,
) -> None:
    cluster = _cluster(pg_cluster_factory)
    dsn = f"host={cluster.socket_dir} port={cluster.port} dbname=app user=postgres"
    with cluster.connect("app") as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("CREATE TABLE {} ({} int, tenant int)").format(
                sql.Identifier(schema, table), sql.Identifier(column)
            )
        )
        conn.execute(sql.SQL("INSERT INTO {} VALUES (7, 1)").format(sql.Identifier(schema, table)))
    policy = {
        "version": 1,
        "roles": {role: {"login": True}},
        "databases": {"app": {"schemas": {schema: {}}}},
        "access": [{"role": role, "profile": "readonly", "database": "app"}],
        "rls": [
            {
                "table": ".".join(_dotted(p) for p in ("app", schema, table)),
                "enable": True,
                "policies": [{"name": f"p {role}", "roles": [role], "using": "tenant = 1"}],
            }
        ],
    }
    document = parse_policy(yaml.safe_dump(policy, allow_unicode=True), "generated")
    planned = plan_policy(document, dsn)
    assert planned.changes
    apply_changes(planned.changes, connector(dsn), planned.first_db, env={})
    assert plan_policy(document, dsn).changes == []
    with cluster.connect("app", user=role) as conn:
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.Identifier(column), sql.Identifier(schema, table)
        )
        assert conn.execute(query).fetchall() == [(7,)]
    with cluster.connect("app") as conn:  # leave the cluster clean for the next example
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _dotted(part: str) -> str:
    """A name part as the policy's database.schema.table syntax wants it."""
    if part.isidentifier() and part == part.lower() and part.isascii():
        return part
    return '"' + part.replace('"', '""') + '"'


_CLUSTERS: dict[int, Cluster] = {}


def _cluster(factory) -> Cluster:  # type: ignore[no-untyped-def]
    # One cluster for all examples of a test run (hypothesis reuses the function's fixtures).
    key = id(factory)
    if key not in _CLUSTERS:
        cluster = factory(18)
        cluster.start()
        with cluster.connect() as conn:
            conn.execute("CREATE DATABASE app")
        _CLUSTERS.clear()
        _CLUSTERS[key] = cluster
    return _CLUSTERS[key]
