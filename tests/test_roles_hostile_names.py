"""Hostile catalog names cannot inject SQL or forge lines through `roles plan` / `roles export`.

A role that may create tables in a managed schema picks the table's name; with a newline in it,
a raw name in a ``--`` reason comment ends the comment and ``plan --format sql | psql`` runs
whatever follows. Here hypothesis draws names (newlines, ``--``, ``*/``, ``$$``, quotes,
backslashes, C1 controls, line separators, 63-byte unicode), creates a table, a schema and a
role with them on real PostgreSQL 15 and 18, pipes ``plan --format sql`` into psql, and checks:

- psql ran exactly the planned statements (its command tags, one per statement) and no other
  object changed (a victim table next door keeps its ACL), and a new plan is empty;
- every output line of ``--format sql`` / ``text`` and of ``export`` begins as the renderer
  intends (a statement keyword, a comment marker, a YAML key) — never with a piece of a name.
"""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from typer.testing import CliRunner

from pgcluster import Cluster
from pgtune.cli.app import app

pytestmark = pytest.mark.pg

runner = CliRunner()

HOSTILE = [
    "evil\nDROP TABLE public.victim; --",
    "x */ DROP TABLE public.victim; /*",
    "$$; DROP TABLE public.victim; $$",
    "a'b\"c\\d",
    "-- comment",
    "line\rbreak",
    "sep\u2028arator",
    "c1\x85next",
    "tab\tDROP",
    "é" * 31,  # 62 bytes
    "\\connect postgres",
    "<b>*x*</b> | `y`",
]
RESERVED = {"public", "none", "current_user", "session_user", "current_role", "all"}
anything = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
)
names = st.one_of(st.sampled_from(HOSTILE), anything).filter(
    lambda n: (
        len(n.encode()) <= 63
        and n.lower() not in RESERVED
        and not n.lower().startswith("pg_")
        and n not in ("ro", "victim", "s")
    )
)

STATEMENT = (
    r"(GRANT|REVOKE|CREATE ROLE|ALTER ROLE|ALTER DEFAULT PRIVILEGES|COMMENT ON|SET ROLE|"
    r"RESET ROLE|-- ) ?"
)
SQL_LINE = re.compile(rf"^(\\connect -reuse-previous=on '|BEGIN;$|COMMIT;$|-- |{STATEMENT})")
TEXT_LINE = re.compile(rf'^(database "|  # |  {STATEMENT})')
EXPORT_TOP_KEYS = re.compile(
    r"^(#|(version|settings|roles|memberships|databases|access|profiles|default_privileges|rls):"
    r"|- |$|\s)"
)


def _policy(role: str, schema: str) -> str:
    return yaml.safe_dump(
        {
            "version": 1,
            "roles": {role: {"login": True}, "ro": {}},
            "memberships": [{"group": "ro", "member": role}],
            "databases": {"app": {"schemas": {schema: {}}}},
            "access": [{"role": "ro", "profile": "readonly", "database": "app"}],
        },
        allow_unicode=False,  # NEL and U+2028 escaped: a raw one is a YAML line break
    )


def _acl_snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Every relation and schema ACL of the database, and every role and membership."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, c.relacl::text[] FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
        "ORDER BY 1, 2"
    ).fetchall()
    schemas = conn.execute(
        "SELECT nspname, nspacl::text[] FROM pg_catalog.pg_namespace ORDER BY 1"
    ).fetchall()
    roles = conn.execute(
        "SELECT rolname, rolcanlogin FROM pg_catalog.pg_roles ORDER BY 1"
    ).fetchall()
    members = conn.execute(
        "SELECT r.rolname, m.rolname FROM pg_catalog.pg_auth_members a "
        "JOIN pg_catalog.pg_roles r ON r.oid = a.roleid "
        "JOIN pg_catalog.pg_roles m ON m.oid = a.member ORDER BY 1, 2"
    ).fetchall()
    return {"relations": rows, "schemas": schemas, "roles": roles, "members": members}


def _psql(cluster: Cluster, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(cluster.binaries.exe("psql")),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(cluster.socket_dir),
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-d",
            "app",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _prepare(cluster: Cluster, role: str, schema: str, table: str) -> None:
    with cluster.connect("app") as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(schema, table)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))


def _cleanup(cluster: Cluster, role: str, schema: str) -> None:
    with cluster.connect("app") as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        for r in (role, "ro"):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (r,)).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(r)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(r)))


@pytest.mark.parametrize("major", [15, 18], ids=["pg15", "pg18"])
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(role=names, schema=names, table=names)
def test_hostile_names_cannot_inject_or_forge_lines(
    shared_pg_cluster,  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory,
    major: int,
    role: str,
    schema: str,
    table: str,
) -> None:
    if role == schema:
        schema += "2"
    cluster = _cluster(shared_pg_cluster, major)
    dsn = f"host={cluster.socket_dir} port={cluster.port} dbname=app user=postgres"
    policy = tmp_path_factory.mktemp("policy") / "access.yaml"
    policy.write_text(_policy(role, schema), encoding="utf-8")
    _prepare(cluster, role, schema, table)
    try:
        with cluster.connect("app") as conn:
            before = _acl_snapshot(conn)

        text = runner.invoke(app, ["roles", "plan", "--policy", str(policy), "--dsn", dsn])
        assert text.exit_code == 0, text.output
        for line in text.stdout.splitlines():
            assert TEXT_LINE.match(line), f"text plan line begins with a name: {line!r}"

        planned = runner.invoke(
            app, ["roles", "plan", "--policy", str(policy), "--dsn", dsn, "--format", "json"]
        )
        assert planned.exit_code == 0, planned.output
        changes = json.loads(planned.stdout)["changes"]
        # The plan grants ro what readonly means on the hostile table and schema, and makes the
        # hostile role a member of ro: a plan that prints no name would prove nothing.
        assert any("GRANT SELECT ON TABLE" in c["sql"] for c in changes)

        script = runner.invoke(
            app, ["roles", "plan", "--policy", str(policy), "--dsn", dsn, "--format", "sql"]
        )
        assert script.exit_code == 0, script.output
        for line in script.stdout.splitlines():
            assert SQL_LINE.match(line), f"sql plan line begins with a name: {line!r}"

        ran = _psql(cluster, script.stdout)
        assert ran.returncode == 0, ran.stderr
        tags = [
            t
            for t in ran.stdout.splitlines()
            if t not in ("BEGIN", "COMMIT", "") and not t.startswith("You are now connected")
        ]
        # psql prints one command tag per statement: exactly the planned ones ran.
        assert len(tags) == len(changes), ran.stdout
        assert all(t.split()[0] in {"GRANT", "REVOKE", "CREATE", "ALTER"} for t in tags), tags

        with cluster.connect("app") as conn:
            after = _acl_snapshot(conn)
            assert conn.execute("SELECT to_regclass('public.victim')").fetchone() == ("victim",)
        # Nothing outside the plan's targets changed: the victim and every other relation keep
        # their ACLs; only the hostile schema's objects, and roles/memberships, may differ.
        untouched = [r for r in before["relations"] if r[0] != schema]
        assert [r for r in after["relations"] if r[0] != schema] == untouched
        assert {r[0] for r in after["relations"]} == {r[0] for r in before["relations"]}
        assert before["roles"] != [] and {r[0] for r in after["roles"]} == {
            r[0] for r in before["roles"]
        } | {"ro"}

        again = runner.invoke(
            app, ["roles", "plan", "--policy", str(policy), "--dsn", dsn, "--check"]
        )
        assert again.exit_code == 0, again.output

        exported = runner.invoke(app, ["roles", "export", "--dsn", dsn, "--database", "app"])
        assert exported.exit_code == 0, exported.output
        for line in exported.stdout.splitlines():
            assert EXPORT_TOP_KEYS.match(line), f"export line begins with a name: {line!r}"
        document = yaml.safe_load(exported.stdout)
        assert role in document["roles"]
        assert schema in document["databases"]["app"]["schemas"]
    finally:
        _cleanup(cluster, role, schema)


def _cluster(shared, major: int) -> Cluster:  # type: ignore[no-untyped-def]
    # One cluster per major for all examples, with its app database and victim made once.
    cluster: Cluster = shared(major)
    with cluster.connect() as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'app'").fetchone():
            return cluster
        conn.execute("CREATE DATABASE app")
    with cluster.connect("app") as conn:
        conn.execute("CREATE TABLE public.victim (id int)")
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    return cluster


def test_psql_connect_line_reaches_a_database_named_like_a_conninfo(
    pg_cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    """A database called ``host=elsewhere dbname=postgres`` is a name, not a connection string;
    a newline in it does not end the meta-command."""
    from pgtune.sqltext import psql_connect

    cluster: Cluster = pg_cluster_factory(15)
    cluster.start()
    odd = "host=elsewhere dbname=postgres\nSELECT 'injected';"
    with cluster.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(odd)))
    ran = subprocess.run(
        [
            str(cluster.binaries.exe("psql")),
            "-X",
            "-Atq",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(cluster.socket_dir),
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
        ],
        input=psql_connect(odd) + "\nSELECT current_database();\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == odd
    assert Path(cluster.socket_dir).exists()
