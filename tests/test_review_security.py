"""Security review: each test demonstrates a bug found in review (they fail until fixed).

Real PostgreSQL 15 (18 where the feature is 16+): hostile catalog objects, then pgtune's
dry-run and report paths; secrets in DSNs and in apply; psql lines pgtune prints.
"""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from pgcluster import Cluster
from pgtune.access.model import TableRef
from pgtune.access.server_expressions import ServerExpressions
from pgtune.access.service import connector
from pgtune.audit.fleet import label_of
from pgtune.cli.app import app
from pgtune.pg import redact_dsn
from pgtune.sqltext import psql_connect

runner = CliRunner()


def _dsn(cluster: Cluster, db: str = "postgres") -> str:
    return f"host={cluster.socket_dir} port={cluster.port} user=postgres dbname={db}"


def _sql(cluster: Cluster, db: str, *statements: str) -> None:
    with cluster.connect(db) as conn:
        for s in statements:
            conn.execute(s)  # type: ignore[arg-type]


@pytest.fixture
def pg15(pg_cluster_factory) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(15)
    cluster.start()
    yield cluster


@pytest.fixture
def pg18(pg_cluster_factory) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    cluster: Cluster = pg_cluster_factory(18)
    cluster.start()
    yield cluster


# -- 1. CRITICAL: operator hijack in the catalog queries (dry run runs attacker code) ----------


def test_catalog_queries_do_not_run_operators_a_schema_owner_planted(
    pg15: Cluster, tmp_path: Path
) -> None:
    """A role with CREATE on public (PostgreSQL <= 14: everyone) defines ``public.=(oid,
    regclass)``: an exact match beats pg_catalog's ``=(oid, oid)`` whatever the search_path
    order, and the catalog queries compare ``dep.classid = '...'::regclass`` unqualified.
    plan --check / export / audit then run the attacker's function as the caller (here a
    superuser: COPY TO a file; TO PROGRAM works the same)."""
    marker = pg15.base_dir / "hijacked"
    _sql(pg15, "postgres", "CREATE DATABASE opdb", "CREATE ROLE eve LOGIN")
    _sql(
        pg15,
        "opdb",
        "GRANT CREATE ON SCHEMA public TO eve",
        "SET ROLE eve",
        "CREATE FUNCTION public.hijack(oid, regclass) RETURNS boolean LANGUAGE plpgsql AS $$"
        " BEGIN IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN"
        f" EXECUTE 'COPY (SELECT current_user) TO ''{marker}'''; END IF;"
        " RETURN $1 OPERATOR(pg_catalog.=) $2::oid; END $$",
        "CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.hijack)",
        "RESET ROLE",
    )
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nroles:\n  eve: {login: true}\ndatabases:\n  opdb: {}\n")
    result = runner.invoke(
        app, ["roles", "plan", "--policy", str(policy), "--dsn", _dsn(pg15, "opdb"), "--check"]
    )
    assert not marker.exists(), f"plan --check ran eve's operator as superuser: {result.output}"
    runner.invoke(app, ["roles", "export", "--dsn", _dsn(pg15, "opdb")])
    assert not marker.exists(), "roles export ran eve's operator as superuser"


# -- 2. HIGH: \password remediation forged across lines (psql meta-command injection) ---------


def test_password_remediation_stays_one_psql_line(pg15: Cluster, tmp_path: Path) -> None:
    marker = pg15.base_dir / "sh"  # the role name must fit in 63 bytes
    role = f"evil\n\\! touch {marker}\n"
    _sql(
        pg15,
        "postgres",
        psycopg.sql.SQL("CREATE ROLE {} LOGIN").format(psycopg.sql.Identifier(role)),
    )  # type: ignore[arg-type]
    out = tmp_path / "a.json"
    audited = runner.invoke(app, ["audit", "--dsn", _dsn(pg15), "--format", "json", "-o", str(out)])
    assert out.exists(), audited.output
    findings = json.loads(out.read_text())["clusters"][0]["findings"]
    mine = [f for f in findings if f["id"] == "PGT-AUTH-003" and f["object"] == role]
    assert mine, [(f["id"], f["object"]) for f in findings]
    remediation = mine[0]["remediation"]
    # what the report tells the DBA to run, run in psql (the password prompt reads stdin)
    script = tmp_path / "remediation.sql"
    script.write_text(remediation + "\n")
    subprocess.run(
        [
            str(pg15.binaries.exe("psql")),
            "-X",
            "-h",
            str(pg15.socket_dir),
            "-p",
            str(pg15.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-f",
            str(script),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert not marker.exists(), f"the remediation ran a shell command: {remediation!r}"


# -- 3. MEDIUM: the new role's password reaches the server log in clear ------------------------


def test_apply_never_sends_a_clear_text_password(pg15: Cluster, tmp_path: Path) -> None:
    """pgtune's own tuner sets log_statement = 'ddl'; CREATE ROLE ... PASSWORD '<clear>' is
    then logged (and kept by pg_stat_statements / pg_stat_activity). psql's \\password and
    libpq's PQencryptPasswordConn (psycopg: pgconn.encrypt_password) send a verifier."""
    secret = "Clear-Text-Pa55-in-the-log"
    _sql(pg15, "postgres", "ALTER SYSTEM SET log_statement = 'ddl'", "SELECT pg_reload_conf()")
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nroles:\n  newbie: {login: true, password_env: NEWBIE_PW}\n"
        "databases:\n  postgres: {}\n"
    )
    result = runner.invoke(
        app,
        ["roles", "apply", "--policy", str(policy), "--dsn", _dsn(pg15), "--yes"],
        env={"NEWBIE_PW": secret},
    )
    assert result.exit_code == 0, result.output
    assert secret not in pg15.log_file.read_text(errors="replace")


# -- 4. MEDIUM: psql \connect line of plan --format sql goes to another database ---------------


@pytest.mark.parametrize("name", ['app"', 'a""b'])
def test_psql_connect_reaches_the_named_database(pg15: Cluster, name: str) -> None:
    """psql reads \\connect's argument as an SQL identifier (OT_SQLIDHACK): after the single
    quotes are processed, double quotes are stripped. 'app"' connects to "app"."""
    _sql(pg15, "postgres", "CREATE DATABASE app")
    _sql(
        pg15, "postgres", psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
    )  # type: ignore[arg-type]
    script = psql_connect(name) + "\n\\echo :DBNAME\n"
    done = subprocess.run(
        [
            str(pg15.binaries.exe("psql")),
            "-X",
            "-q",
            "-h",
            str(pg15.socket_dir),
            "-p",
            str(pg15.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-f",
            "-",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.stdout.strip() == name, (done.stdout, done.stderr)


# -- 5. MEDIUM: secrets in DSNs reach labels, reports and stderr ------------------------------


@pytest.mark.parametrize(
    "dsn",
    [
        "host=db1 dbname=app sslpassword=Key-Pa55",  # the client key's passphrase
        "postgresql://db1/app?sslpassword=Key-Pa55",
        "postgresql://u:Key Pa55@db1/app",  # unencoded space: unparsable, shown as given
    ],
)
def test_dsn_secrets_are_masked(dsn: str) -> None:
    assert "Pa55" not in redact_dsn(dsn)
    assert "Pa55" not in label_of(dsn)


# -- 6. MEDIUM: default privileges to a role the policy does not list are not drift -----------


def test_default_privileges_to_unmanaged_role_are_drift(pg15: Cluster, tmp_path: Path) -> None:
    _sql(
        pg15,
        "postgres",
        "CREATE ROLE app_owner",
        "CREATE ROLE mallory LOGIN",
        "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public"
        " GRANT SELECT, UPDATE ON TABLES TO mallory",
    )
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nsettings: {unmanaged_roles: report}\nroles:\n  app_owner: {}\n"
        "databases:\n  postgres:\n    schemas:\n      public: {}\n"
        "default_privileges:\n  owners: [app_owner]\n"
    )
    result = runner.invoke(
        app, ["roles", "plan", "--policy", str(policy), "--dsn", _dsn(pg15), "--check"]
    )
    # every table app_owner creates in public from now on is readable/writable by mallory
    assert result.exit_code == 1, result.output


# -- 7. MEDIUM: ADMIN on a managed role held by an unmanaged CREATEROLE role is never reported --


def test_admin_option_on_managed_role_is_reported(pg18: Cluster, tmp_path: Path) -> None:
    _sql(
        pg18,
        "postgres",
        "CREATE ROLE app LOGIN",
        "CREATE ROLE mallory LOGIN CREATEROLE",
        "GRANT app TO mallory WITH ADMIN TRUE, INHERIT FALSE, SET FALSE",
    )
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\nsettings: {unmanaged_roles: report}\nroles:\n  app: {login: true}\n"
        "databases:\n  postgres: {}\n"
    )
    result = runner.invoke(
        app, ["roles", "plan", "--policy", str(policy), "--dsn", _dsn(pg18), "--check"]
    )
    # mallory may GRANT app TO mallory WITH SET TRUE at any time
    assert result.exit_code == 1, result.output


# -- 8. LOW: EXPLAIN of a live policy with FOR UPDATE takes RowShareLock ------------------------


def test_comparing_a_live_for_update_subquery_takes_no_row_share_lock(pg15: Cluster) -> None:
    _sql(
        pg15,
        "postgres",
        "CREATE TABLE crit (id int)",
        "CREATE TABLE docs (id int)",
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY p ON docs USING (EXISTS (SELECT 1 FROM crit FOR UPDATE))",
    )
    with pg15.connect(autocommit=False) as blocker:
        # EXCLUSIVE conflicts with ROW SHARE, not with ACCESS SHARE
        blocker.execute("LOCK TABLE crit IN EXCLUSIVE MODE")
        with pg15.connect() as conn:
            live = conn.execute(
                "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'p'"
            ).fetchone()[0]  # type: ignore[index]
        exprs = ServerExpressions(connector(_dsn(pg15), user_search_path=True))
        try:
            exprs.same(TableRef("postgres", "public", "docs"), live, "EXISTS (SELECT 1 FROM crit)")
        finally:
            exprs.close()
        blocker.rollback()
    assert not any("lock timeout" in f for f in exprs.fallbacks), exprs.fallbacks


# -- 9. LOW: export does not round-trip functions whose names end in whitespace or whose
#    argument names hold ")" -------------------------------------------------------------------


def test_export_of_function_with_paren_in_argument_name_loads(
    pg15: Cluster, tmp_path: Path
) -> None:
    _sql(
        pg15,
        "postgres",
        "CREATE ROLE fxr",
        "CREATE FUNCTION public.f10(\"x)\" int) RETURNS int LANGUAGE sql AS 'select 1'",
        "GRANT EXECUTE ON FUNCTION public.f10(int) TO fxr",
    )
    exported = runner.invoke(app, ["roles", "export", "--dsn", _dsn(pg15)])
    policy = tmp_path / "p.yaml"
    policy.write_text(exported.stdout)
    result = runner.invoke(
        app, ["roles", "plan", "--policy", str(policy), "--dsn", _dsn(pg15), "--check"]
    )
    assert result.exit_code == 0, result.output


def test_export_of_function_name_with_trailing_newline_round_trips(
    pg15: Cluster, tmp_path: Path
) -> None:
    _sql(
        pg15,
        "postgres",
        "CREATE ROLE fxr",
        "CREATE FUNCTION public.\"f\n\"(x int) RETURNS int LANGUAGE sql AS 'select 1'",
        'GRANT EXECUTE ON FUNCTION public."f\n"(int) TO fxr',
    )
    exported = runner.invoke(app, ["roles", "export", "--dsn", _dsn(pg15)])
    policy = tmp_path / "p.yaml"
    policy.write_text(exported.stdout)
    result = runner.invoke(
        app, ["roles", "plan", "--policy", str(policy), "--dsn", _dsn(pg15), "--check"]
    )
    # "Planned against the same cluster, this file changes nothing": the plan revokes instead
    assert result.exit_code == 0, result.output
