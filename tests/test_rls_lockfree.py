"""`roles plan` / `--check` / `export` are read-only and lock-safe (issue 10, section 2), on real
PostgreSQL 15 and 18: RLS expressions are compared without DDL and without any lock stronger
than AccessShareLock, so readers of the table are never held up, a DDL-freeze event trigger
does not break a plan, and a role that may not read the table still gets a plan without false
drift (pglast on both sides)."""

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from pgcluster import Cluster
from pgtune.access.model import RlsPolicy, TableRef
from pgtune.access.server_expressions import ServerExpressions
from pgtune.cli.app import app

pytestmark = pytest.mark.pg

runner = CliRunner()
TABLE = TableRef("app", "public", "tickets")
# Forms the server rewrites (one-element IN, casts, BETWEEN, qualified columns, COALESCE,
# subqueries, current_user): a plan must see no drift in any of them.
EXPRESSIONS = [
    "status IN ('open')",
    "status IN ('open', 'held') AND amount > 10",
    "tenant_id BETWEEN 1 AND 5",
    "tickets.tenant_id = current_setting('app.tenant', true)::int",
    "public.tickets.note IS NOT NULL",
    "coalesce(note, '') <> ''",
    "EXISTS (SELECT 1 FROM public.members m WHERE m.tid = tickets.tenant_id AND m.usr = "
    "current_user)",
    "tenant_id IN (SELECT tid FROM public.members)",
    "owner = current_user",
    "o = 5 AND mood = 'ok'",
]


def dsn_of(cluster: Cluster, user: str = "postgres", db: str = "postgres") -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname={db} user={user}"


def roles(*args: str) -> Any:
    return runner.invoke(app, ["roles", *args])


def policy_text(expressions: list[str]) -> str:
    policies = "\n".join(
        f"      - {{name: p{i}, command: SELECT, using: {json.dumps(expr)}}}"
        for i, expr in enumerate(expressions)
    )
    return (
        "version: 1\nroles: {}\ndatabases: {app: {schemas: {public: {}}}}\n"
        f"rls:\n  - table: app.public.tickets\n    enable: true\n    policies:\n{policies}\n"
    )


@pytest.fixture(params=(15, 18), ids=["pg15", "pg18"])
def applied(
    request: pytest.FixtureRequest, pg_cluster_factory: Any, tmp_path: Path
) -> Iterator[tuple[Cluster, Path]]:
    """A cluster whose app.public.tickets carries EXPRESSIONS, applied by pgtune itself."""
    cluster: Cluster = pg_cluster_factory(request.param)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE app")
    with cluster.connect("app") as conn:
        conn.execute("CREATE TYPE public.feeling AS ENUM ('ok', 'sad')")
        conn.execute(
            "CREATE TABLE public.tickets (status varchar(10), note text, tenant_id int,"
            " amount numeric, owner name, o oid, mood public.feeling)"
        )
        conn.execute(
            "INSERT INTO public.tickets (tenant_id) SELECT g FROM generate_series(1, 50) g"
        )
        conn.execute("CREATE TABLE public.members (tid int, usr name)")
    policy = tmp_path / "rls.yaml"
    policy.write_text(policy_text(EXPRESSIONS))
    out = roles("apply", "--policy", str(policy), "--dsn", dsn_of(cluster), "--yes")
    assert out.exit_code == 0, out.output
    yield cluster, policy


class Watch:
    """While a plan runs: a reader that keeps reading the table (its latencies), and a poller
    of pg_locks that records any lock on the table other than AccessShareLock."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.strong: list[tuple[Any, ...]] = []
        self.polls = 0
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._guard(f)) for f in (self._read, self._poll)]

    def _guard(self, target: Any) -> Any:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported by the test
                self.errors.append(exc)

        return run

    def _read(self) -> None:
        with self.cluster.connect("app") as conn:
            while not self.stop.is_set():
                start = time.monotonic()
                conn.execute("SELECT count(*) FROM public.tickets")
                self.latencies.append(time.monotonic() - start)

    def _poll(self) -> None:
        with self.cluster.connect("app") as conn:
            while not self.stop.is_set():
                self.strong += conn.execute(
                    "SELECT locktype, mode, pid, granted FROM pg_catalog.pg_locks"
                    " WHERE relation = 'public.tickets'::regclass AND mode <> 'AccessShareLock'"
                ).fetchall()
                self.polls += 1

    def __enter__(self) -> "Watch":
        for t in self.threads:
            t.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)


def test_plan_takes_no_strong_lock_and_never_holds_readers_up(
    applied: tuple[Cluster, Path],
) -> None:
    cluster, policy = applied
    holder = cluster.connect("app", autocommit=False)
    try:
        # A session reading the table in an open transaction: it holds AccessShareLock. CREATE
        # POLICY's ACCESS EXCLUSIVE request would queue behind it and block every later reader.
        holder.execute("SELECT count(*) FROM public.tickets").fetchall()
        with Watch(cluster) as watch:
            start = time.monotonic()
            for _ in range(3):
                out = roles("plan", "--policy", str(policy), "--dsn", dsn_of(cluster), "--check")
                assert out.exit_code == 0, out.output  # no false drift
                assert out.stdout == ""
            elapsed = time.monotonic() - start
        assert watch.errors == []
        assert watch.strong == [], watch.strong
        assert watch.polls > 10 and len(watch.latencies) > 10
        assert max(watch.latencies) < 0.2, max(watch.latencies)
        assert elapsed < 6  # three plans; the former 2 s lock timeout alone was 2 s per plan
    finally:
        holder.close()


def test_the_server_path_works_beside_an_exclusive_lock(applied: tuple[Cluster, Path]) -> None:
    """EXCLUSIVE mode conflicts with every lock but AccessShareLock: had the comparison taken any
    stronger lock it would have waited, timed out and fallen back to pglast."""
    cluster, _ = applied
    holder = cluster.connect("app", autocommit=False)
    expressions = ServerExpressions(lambda db: cluster.connect(db))
    try:
        holder.execute("LOCK TABLE public.tickets IN EXCLUSIVE MODE")
        with cluster.connect("app") as conn:
            stored = dict(
                conn.execute(
                    "SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy"
                ).fetchall()
            )
        start = time.monotonic()
        for i, expr in enumerate(EXPRESSIONS):
            expressions.check(RlsPolicy(TABLE, f"p{i}", using=expr))
            assert expressions.same(TABLE, str(stored[f"p{i}"]), expr), expr
        # A cast the pglast fallback forgives; the server does not: proof it was the server.
        assert not expressions.same(TABLE, "((tenant_id)::bigint < 10)", "tenant_id < 10")
        assert time.monotonic() - start < 2
        assert expressions.fallbacks == []
    finally:
        expressions.close()
        holder.close()


def test_a_ddl_freeze_event_trigger_does_not_break_plan_or_export(
    applied: tuple[Cluster, Path], tmp_path: Path
) -> None:
    cluster, policy = applied
    with cluster.connect("app") as conn:
        conn.execute(
            "CREATE FUNCTION public.freeze() RETURNS event_trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'DDL is frozen: %', tg_tag; END$$"
        )
        conn.execute(
            "CREATE EVENT TRIGGER ddl_freeze ON ddl_command_start EXECUTE FUNCTION public.freeze()"
        )
        with pytest.raises(psycopg.errors.RaiseException, match="frozen"):
            conn.execute("CREATE TEMP TABLE probe (x int)")  # the freeze is real
    out = roles("plan", "--policy", str(policy), "--dsn", dsn_of(cluster), "--check")
    assert out.exit_code == 0, out.output
    # A changed expression is drift, still without DDL.
    changed = tmp_path / "changed.yaml"
    changed.write_text(policy_text([*EXPRESSIONS[:-1], "o = 6 AND mood = 'ok'"]))
    out = roles("plan", "--policy", str(changed), "--dsn", dsn_of(cluster), "--check")
    assert out.exit_code == 1, out.output
    assert 'ALTER POLICY "p9"' in out.stdout and out.stdout.count("POLICY") == 1, out.stdout
    # A rejected expression is a policy error with the file's line, not a server failure.
    bad = tmp_path / "bad.yaml"
    bad.write_text(policy_text([*EXPRESSIONS, "no_such_column = 1"]))
    out = roles("plan", "--policy", str(bad), "--dsn", dsn_of(cluster))
    assert out.exit_code == 3, out.output
    # The policy's own line: 7 lines of header and table entry, then one line per policy.
    line = 8 + len(EXPRESSIONS)
    assert f"{bad}:{line}:" in out.stderr and "no_such_column" in out.stderr, out.stderr
    exported = roles("export", "--dsn", dsn_of(cluster), "--database", "app")
    assert exported.exit_code == 0, exported.output


def test_a_non_owner_without_select_gets_no_false_drift(applied: tuple[Cluster, Path]) -> None:
    cluster, policy = applied
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE auditor LOGIN")
        conn.execute("GRANT pg_read_all_settings TO auditor")
        # CONNECT through PUBLIC's default; granting it by name would itself be drift.
    auditor = dsn_of(cluster, "auditor")
    out = roles("plan", "--policy", str(policy), "--dsn", auditor, "--check")
    assert out.exit_code == 0, out.output
    with cluster.connect("app") as conn:  # the auditor really cannot read the table
        conn.execute("SET ROLE auditor")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM public.tickets")
