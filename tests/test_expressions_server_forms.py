"""Written RLS expressions against the forms the server stores, generated on real PostgreSQL 15
and 18: each written expression becomes a policy, pg_get_expr gives the server's text, and both
comparison paths (pglast alone; the server through EXPLAIN, without DDL) must call the two the
same — and must tell clearly different expressions apart."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pgcluster import Cluster
from pgtune.access.expressions import ExpressionError, canonical_text, same_expression
from pgtune.access.model import RlsPolicy, TableRef
from pgtune.access.server_expressions import ServerExpressions

pytestmark = pytest.mark.pg

TABLE = TableRef("app", "s", "t")
SETUP = [
    "CREATE SCHEMA s",
    "CREATE TYPE s.mood AS ENUM ('ok', 'sad')",
    "CREATE TABLE s.t (id int, status varchar(10), note text, m s.mood, amount numeric,"
    " tenant_id int, o oid, owner name, rel regclass, created timestamptz)",
    "CREATE TABLE s.members (tid int, usr name)",
    "CREATE TABLE public.visible (tid int)",
]
# Written the way people write them; the server rewrites nearly every one.
WRITTEN = [
    "status IN ('open')",  # one element: (status)::text = 'open'::text
    "status IN ('open', 'held')",
    "id NOT IN (1)",
    "id NOT IN (1, 2)",
    "m = 'ok'",  # enum: 'ok'::s.mood
    "amount > 10",  # numeric: (10)::numeric
    "amount > 10.5",
    "o = 5",  # oid: (5)::oid
    "rel = 's.t'::regclass",  # ((rel)::oid = ('s.t'::regclass)::oid)
    "note::text = 'x'",
    "id BETWEEN 1 AND 5",  # (id >= 1) AND (id <= 5)
    "id NOT BETWEEN 1 AND 3 AND note IS NOT NULL",
    "t.id = 1",  # qualified columns lose their qualifier
    "s.t.id = 1",
    "coalesce(note, '') <> ''",  # COALESCE(note, ''::text) <> ''::text
    "EXISTS (SELECT 1 FROM s.members WHERE members.tid = t.id AND usr = current_user)",
    "EXISTS (SELECT 1 FROM s.members m WHERE m.tid = s.t.id)",
    "id IN (SELECT tid FROM s.members)",
    "id = ANY (SELECT tid FROM s.members)",
    # public is on the search_path: pg_get_expr leaves out its name, and pg_catalog's
    "EXISTS (SELECT 1 FROM public.visible v WHERE v.tid = t.id) AND pg_catalog.lower(note) = 'x'",
    "id IN (SELECT tid FROM public.visible)",
    "owner = current_user",  # CURRENT_USER
    "note = current_user",  # (CURRENT_USER)::text
    "tenant_id = current_setting('app.tenant', true)::int",
    # a setting only the application's sessions have: planning must not evaluate it
    "tenant_id = current_setting('app.never_set_here')::int",
    "note LIKE 'a%' AND note NOT ILIKE '%b'",
    "tenant_id::bigint < 10 OR (id > -1 AND (amount IS NULL))",
    "created > now() - interval '1 day'",
    "true",
]
# Pairs that must never compare equal (a real change of the policy).
DIFFERENT = [
    ("id = 1", "id = 2"),
    ("status IN ('open')", "status IN ('open', 'held')"),
    ("id BETWEEN 1 AND 5", "id BETWEEN 1 AND 6"),
    ("id NOT IN (1, 2)", "id IN (1, 2)"),
    ("owner = current_user", "owner = session_user"),
    ("coalesce(note, '') <> ''", "coalesce(note, 'x') <> ''"),
    ("EXISTS (SELECT 1 FROM s.members WHERE tid = t.id)", "EXISTS (SELECT 1 FROM s.members)"),
    ("id IN (SELECT tid FROM s.members)", "id NOT IN (SELECT tid FROM s.members)"),
    ("note LIKE 'a%'", "note ILIKE 'a%'"),
    ("m = 'ok'", "m = 'sad'"),
    ("id > 1 AND note IS NULL", "id > 1 OR note IS NULL"),
]


@pytest.fixture(params=(15, 18), ids=["pg15", "pg18"])
def cluster(request: pytest.FixtureRequest, pg_cluster_factory: Any) -> Iterator[Cluster]:
    cluster: Cluster = pg_cluster_factory(request.param)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE app")
    with cluster.connect("app") as conn:
        for statement in SETUP:
            conn.execute(statement)  # type: ignore[arg-type]
    yield cluster


def server_forms(cluster: Cluster, written: list[str]) -> list[str]:
    """pg_get_expr of each written expression, as a policy on s.t (rolled back after)."""
    with cluster.connect("app", autocommit=False) as conn:
        forms = []
        for i, expr in enumerate(written):
            conn.execute(f"CREATE POLICY p{i} ON s.t USING ({expr})")  # type: ignore[arg-type]
            row = conn.execute(
                "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = %s",
                (f"p{i}",),
            ).fetchone()
            assert row is not None
            forms.append(str(row[0]))
        conn.rollback()
    return forms


def server_expressions(cluster: Cluster, user: str = "postgres") -> ServerExpressions:
    def connect(database: str) -> psycopg.Connection[tuple[object, ...]]:
        return cluster.connect(database, user=user)

    return ServerExpressions(connect)


def test_pglast_calls_the_written_and_the_server_form_the_same(cluster: Cluster) -> None:
    forms = server_forms(cluster, WRITTEN)
    assert sum(w != f for w, f in zip(WRITTEN, forms, strict=True)) >= len(WRITTEN) - 2
    mismatched = [
        (written, stored, canonical_text(written, "s", "t"), canonical_text(stored, "s", "t"))
        for written, stored in zip(WRITTEN, forms, strict=True)
        if not same_expression(stored, written, "s", "t")
    ]
    assert mismatched == []


def test_pglast_tells_different_expressions_apart(cluster: Cluster) -> None:
    for a, b in DIFFERENT:
        stored_a, stored_b = server_forms(cluster, [a, b])
        assert not same_expression(stored_a, b, "s", "t"), (a, b)
        assert not same_expression(stored_b, a, "s", "t"), (b, a)


def test_the_server_path_calls_them_the_same_and_tells_them_apart(cluster: Cluster) -> None:
    forms = server_forms(cluster, WRITTEN)
    expressions = server_expressions(cluster)
    try:
        for written, stored in zip(WRITTEN, forms, strict=True):
            expressions.check(RlsPolicy(TABLE, "p", using=written))
            assert expressions.same(TABLE, stored, written), (written, stored)
        for a, b in DIFFERENT:
            stored_a, stored_b = server_forms(cluster, [a, b])
            assert not expressions.same(TABLE, stored_a, b), (a, b)
            assert not expressions.same(TABLE, stored_b, a), (b, a)
        assert expressions.fallbacks == []  # all of it went through the server
    finally:
        expressions.close()


def test_the_server_rejects_what_create_policy_would(cluster: Cluster) -> None:
    expressions = server_expressions(cluster)
    try:
        for bad, why in [
            ("no_such_column = 1", "no_such_column"),
            ("id + 1", "boolean"),
            ("count(*) > 1", "aggregate"),
            ("generate_series(1, 2) = id", "set-returning"),
            ("no_such_function(id)", "no_such_function"),
        ]:
            with pytest.raises(ExpressionError, match=why):
                expressions.check(RlsPolicy(TABLE, "p", using=bad))
        with pytest.raises(ExpressionError, match=r"not a single SQL expression|parse"):
            expressions.check(RlsPolicy(TABLE, "p", using="true) ; DROP TABLE s.t; --"))
    finally:
        expressions.close()
    with cluster.connect("app") as conn:  # nothing was dropped or attached
        assert conn.execute("SELECT count(*) FROM pg_policy").fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('s.t') IS NOT NULL").fetchone() == (True,)


def test_without_select_on_the_table_both_sides_go_through_pglast(cluster: Cluster) -> None:
    with cluster.connect("app") as conn:
        conn.execute("CREATE ROLE reader LOGIN")
        conn.execute("GRANT pg_read_all_settings TO reader")
        conn.execute("GRANT USAGE ON SCHEMA s TO reader")
    forms = server_forms(cluster, WRITTEN)
    expressions = server_expressions(cluster, "reader")
    try:
        for written, stored in zip(WRITTEN, forms, strict=True):
            expressions.check(RlsPolicy(TABLE, "p", using=written))
            assert expressions.same(TABLE, stored, written), (written, stored)
        assert expressions.fallbacks and all(
            "permission denied" in why for why in expressions.fallbacks
        )
        # Parse analysis comes before the privilege check: a wrong column is still caught.
        with pytest.raises(ExpressionError, match="no_such_column"):
            expressions.check(RlsPolicy(TABLE, "p", using="no_such_column = 1"))
    finally:
        expressions.close()


def test_live_expressions_are_planned_as_the_table_owner(cluster: Cluster) -> None:
    """Planning runs IMMUTABLE functions with constant arguments: a live policy (its owner's
    text) must never run them with the rights of whoever runs pgtune (here a superuser)."""
    with cluster.connect("app") as conn:
        conn.execute("CREATE ROLE app_owner LOGIN")
        conn.execute("GRANT CREATE, USAGE ON SCHEMA s TO app_owner")
        conn.execute("ALTER TABLE s.t OWNER TO app_owner")
    with cluster.connect("app", user="app_owner") as conn:
        conn.execute(
            "CREATE FUNCTION s.whoami(int) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS"
            " $$BEGIN RAISE NOTICE 'ran as %', current_user; RETURN true; END$$"
        )
        conn.execute("CREATE POLICY p ON s.t USING (s.whoami(1) AND id = 1)")
        row = conn.execute("SELECT pg_get_expr(polqual, polrelid) FROM pg_policy").fetchone()
        assert row is not None
    live = str(row[0])
    notices: list[str] = []

    def connect(database: str) -> psycopg.Connection[tuple[object, ...]]:
        conn = cluster.connect(database)
        conn.add_notice_handler(lambda d: notices.append(str(d.message_primary)))
        return conn

    expressions = ServerExpressions(connect)
    try:
        assert not expressions.same(TABLE, live, "s.whoami(1) AND id = 2")
        assert expressions.same(TABLE, live, "s.whoami(1) AND t.id = 1")
        assert expressions.fallbacks == []
    finally:
        expressions.close()
    assert notices and set(notices) == {"ran as app_owner"}, notices
