"""The role auditor end to end on real PostgreSQL 15 and 18: apply the starter policy, then
check behaviour by connecting as each role; idempotency, drift repair, atomicity."""

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from pgcluster import Cluster
from pgtune.access.apply import ApplyError, apply_changes
from pgtune.access.catalog import inspect_cluster
from pgtune.access.policy.load import load_policy, parse_policy
from pgtune.access.policy.starter import starter_policy
from pgtune.access.service import connector, plan_policy
from pgtune.cli.app import app

pytestmark = pytest.mark.pg

MAJORS = (15, 18)
PASSWORDS = {
    "APP_OWNER_PASSWORD": "o-secret",
    "APP_PASSWORD": "a-secret",
    "ANALYST_PASSWORD": "n-secret",
    "MONITOR_PASSWORD": "m-secret",
}
runner = CliRunner()


def dsn_of(cluster: Cluster, db: str = "postgres") -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname={db} user=postgres"


def roles(*args: str) -> Any:
    return runner.invoke(app, ["roles", *args], env=PASSWORDS)


@pytest.fixture
def starter(pg_cluster_factory, tmp_path: Path) -> tuple[Cluster, Path]:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(pytest.current_major)  # type: ignore[attr-defined]
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE app")
    with cluster.connect("app") as conn:
        conn.execute(
            "CREATE TABLE public.accounts (id serial PRIMARY KEY, "
            "tenant_id int NOT NULL, note text)"
        )
        conn.execute("INSERT INTO public.accounts (tenant_id, note) VALUES (1, 'one'), (2, 'two')")
        conn.execute(
            "CREATE FUNCTION public.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'"
        )
    policy = tmp_path / "access.yaml"
    assert roles("init", "--database", "app", "-o", str(policy)).exit_code == 0
    return cluster, policy


@pytest.fixture(params=MAJORS, ids=[f"pg{m}" for m in MAJORS])
def major(request: pytest.FixtureRequest) -> int:
    pytest.current_major = request.param  # type: ignore[attr-defined]
    return int(request.param)


def as_role(cluster: Cluster, user: str, tenant: int | None = None) -> psycopg.Connection[Any]:
    conn = cluster.connect("app", user=user)
    if tenant is not None:
        conn.execute(f"SET app.current_tenant = '{tenant}'")
    return conn


def test_starter_policy_applies_and_each_role_gets_exactly_its_access(major, starter) -> None:  # type: ignore[no-untyped-def]
    cluster, policy = starter
    dsn = dsn_of(cluster)
    first = roles("plan", "--policy", str(policy), "--dsn", dsn, "--check")
    assert first.exit_code == 1, first.output
    assert "CREATE ROLE" in first.stdout and "a-secret" not in first.output

    applied = roles("apply", "--policy", str(policy), "--dsn", dsn, "--yes")
    assert applied.exit_code == 0, applied.output
    again = roles("plan", "--policy", str(policy), "--dsn", dsn, "--check")
    assert again.exit_code == 0, again.stdout  # idempotent: a new plan is empty
    assert again.stdout == ""

    # analyst: reads, cannot write
    with as_role(cluster, "analyst", tenant=1) as conn:
        assert conn.execute("SELECT note FROM public.accounts").fetchall() == [("one",)]
        # read-only by default (a role setting), and without INSERT even when switched off
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO public.accounts (tenant_id) VALUES (1)")
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO public.accounts (tenant_id) VALUES (1)")
    # app: writes its own tenant only, sees only its tenant, cannot create tables
    with as_role(cluster, "app", tenant=2) as conn:
        assert conn.execute("SELECT note FROM public.accounts").fetchall() == [("two",)]
        conn.execute("INSERT INTO public.accounts (tenant_id, note) VALUES (2, 'mine')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO public.accounts (tenant_id, note) VALUES (1, 'theirs')")
    with as_role(cluster, "app") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE public.sneaky (x int)")
    with as_role(cluster, "app") as conn:
        assert conn.execute("SELECT public.add(1, 2)").fetchone() == (3,)
    # a table the owner creates later follows the default privileges
    with as_role(cluster, "app_owner") as conn:
        conn.execute("CREATE TABLE public.later (x int)")
        conn.execute("INSERT INTO public.later VALUES (42)")
    with as_role(cluster, "analyst") as conn:
        assert conn.execute("SELECT x FROM public.later").fetchall() == [(42,)]
    # PUBLIC lost CONNECT: a role outside the policy cannot even connect
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE outsider LOGIN")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        cluster.connect("app", user="outsider")
    # monitor reads statistics through pg_monitor, but no data
    with as_role(cluster, "monitor") as conn:
        conn.execute("SELECT count(*) FROM pg_stat_activity")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM public.later")


def test_drift_is_repaired_exactly(major, starter) -> None:  # type: ignore[no-untyped-def]
    cluster, policy = starter
    dsn = dsn_of(cluster)
    applied = roles("apply", "--policy", str(policy), "--dsn", dsn, "--yes")
    assert applied.exit_code == 0, applied.output
    with cluster.connect("app") as conn:
        conn.execute("REVOKE INSERT ON public.accounts FROM app")
        conn.execute("GRANT DELETE ON public.accounts TO analyst")
        conn.execute("GRANT EXECUTE ON FUNCTION public.add(int, int) TO PUBLIC")
        conn.execute("ALTER TABLE public.accounts DISABLE ROW LEVEL SECURITY")
        conn.execute("ALTER POLICY tenant_isolation ON public.accounts USING (true)")
        conn.execute("REVOKE pg_monitor FROM monitor")
    out = roles("plan", "--policy", str(policy), "--dsn", dsn, "--format", "json")
    import json

    statements = sorted(c["sql"] for c in json.loads(out.stdout)["changes"])
    assert statements == sorted(
        [
            'GRANT "pg_monitor" TO "monitor"' + (" WITH ADMIN FALSE;" if major >= 16 else ";"),
            'REVOKE DELETE ON TABLE "public"."accounts" FROM "analyst";',
            'REVOKE EXECUTE ON ROUTINE "public"."add"(integer, integer) FROM PUBLIC;',
            'GRANT INSERT ON TABLE "public"."accounts" TO "app";',
            'ALTER TABLE "public"."accounts" ENABLE ROW LEVEL SECURITY;',
            'ALTER POLICY "tenant_isolation" ON "public"."accounts" USING '
            "(tenant_id = current_setting('app.current_tenant', true)::int);",
        ]
    ), statements
    assert roles("apply", "--policy", str(policy), "--dsn", dsn, "--yes").exit_code == 0
    assert roles("plan", "--policy", str(policy), "--dsn", dsn, "--check").exit_code == 0


def test_a_failing_plan_changes_nothing(major, starter) -> None:  # type: ignore[no-untyped-def]
    cluster, policy = starter
    dsn = dsn_of(cluster)
    connect = connector(dsn)
    planned = plan_policy(load_policy(policy), dsn)
    before = inspect_cluster(connect, ["app"])
    # Sabotage between plan and apply: a table the plan grants on disappears.
    with cluster.connect("app") as conn:
        conn.execute("DROP TABLE public.accounts")
    mid = inspect_cluster(connect, ["app"])
    with pytest.raises(ApplyError, match="nothing was changed"):
        apply_changes(planned.changes, connect, planned.first_db, env=PASSWORDS)
    after = inspect_cluster(connect, ["app"])
    assert after.state == mid.state
    assert set(after.state.roles) == set(before.state.roles)  # no role was created


def test_policy_errors_are_reported_with_lines_and_change_nothing(major, starter) -> None:  # type: ignore[no-untyped-def]
    cluster, policy = starter
    text = policy.read_text().replace("profile: readwrite", "profle: readwrite")
    bad = policy.with_name("bad.yaml")
    bad.write_text(text)
    out = roles("apply", "--policy", str(bad), "--dsn", dsn_of(cluster), "--yes")
    assert out.exit_code == 3
    assert "did you mean 'profile'" in out.stderr and "bad.yaml:" in out.stderr
    assert "Traceback" not in out.output
    missing = policy.with_name("missing.yaml")
    missing.write_text(policy.read_text().replace("public.accounts", "public.nope"))
    out = roles("plan", "--policy", str(missing), "--dsn", dsn_of(cluster))
    assert out.exit_code == 3 and "nope" in out.stderr


def test_export_round_trips_to_an_empty_plan(major, starter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, policy = starter
    dsn = dsn_of(cluster)
    assert roles("apply", "--policy", str(policy), "--dsn", dsn, "--yes").exit_code == 0
    exported = tmp_path / "exported.yaml"
    out = roles("export", "--dsn", dsn, "--database", "app", "-o", str(exported))
    assert out.exit_code == 0, out.output
    parse_policy(exported.read_text(), str(exported))
    plan = roles("plan", "--policy", str(exported), "--dsn", dsn, "--check")
    assert plan.exit_code == 0, plan.stdout


def test_starter_policy_text_loads() -> None:
    parse_policy(starter_policy("app"), "starter")


REWRITTEN = [
    "status IN ('open', 'held')",
    "note LIKE 'a%' AND ((tenant_id > 0))",
    "tenant_id = ANY (ARRAY[1, 2]) OR note::text = 'x'",
    "coalesce(note, '') <> '' AND tenant_id::bigint < 10",
]


def test_expressions_the_server_rewrites_are_not_drift(major, starter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, _ = starter
    dsn = dsn_of(cluster)
    with cluster.connect("app") as conn:
        conn.execute("CREATE TABLE public.tickets (status varchar(10), note text, tenant_id int)")
    policies = "\n".join(
        f"      - {{name: p{i}, command: SELECT, using: {json.dumps(expr)}}}"
        for i, expr in enumerate(REWRITTEN)
    )
    policy = tmp_path / "rls.yaml"
    policy.write_text(
        "version: 1\nroles: {}\ndatabases: {app: {schemas: {public: {}}}}\n"
        f"rls:\n  - table: app.public.tickets\n    enable: true\n    policies:\n{policies}\n"
    )
    applied = roles("apply", "--policy", str(policy), "--dsn", dsn, "--yes")
    assert applied.exit_code == 0, applied.output
    with cluster.connect("app") as conn:
        stored = [
            r[0]
            for r in conn.execute(
                "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy ORDER BY polname"
            ).fetchall()
        ]
    assert stored != REWRITTEN  # the server did rewrite them...
    plan = roles("plan", "--policy", str(policy), "--dsn", dsn, "--check")
    assert plan.exit_code == 0, plan.stdout  # ...and pgtune still sees no drift


def test_an_expression_the_server_rejects_is_a_policy_error(major, starter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, _ = starter
    policy = tmp_path / "bad-rls.yaml"
    policy.write_text(
        "version: 1\nroles: {}\ndatabases: {app: {schemas: {public: {}}}}\n"
        "rls:\n  - table: app.public.accounts\n    policies:\n"
        "      - {name: p, using: 'no_such_column = 1'}\n"
    )
    out = roles("plan", "--policy", str(policy), "--dsn", dsn_of(cluster))
    assert out.exit_code == 3
    assert "no_such_column" in out.stderr and "Traceback" not in out.output


def test_unreachable_dsn_is_a_clean_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(starter_policy("app"))
    out = roles(
        "plan",
        "--policy",
        str(policy),
        "--dsn",
        "host=127.0.0.1 port=1 dbname=app user=x password=hunter2 connect_timeout=3",
    )
    assert out.exit_code == 2
    assert "hunter2" not in out.output and "Traceback" not in out.output


def test_applying_without_the_privileges_changes_nothing(major, starter) -> None:  # type: ignore[no-untyped-def]
    cluster, policy = starter
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE weak LOGIN")
        conn.execute("GRANT pg_monitor TO weak")
    weak = f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user=weak"
    before = inspect_cluster(connector(dsn_of(cluster)), ["app"])
    out = roles("apply", "--policy", str(policy), "--dsn", weak, "--yes")
    assert out.exit_code == 6, out.output
    assert "permission denied" in out.stderr and "nothing was changed" in out.stderr
    after = inspect_cluster(connector(dsn_of(cluster)), ["app"])
    assert after.state == before.state
