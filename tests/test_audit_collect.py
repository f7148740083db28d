"""`pgtune audit` collection and checks on real PostgreSQL 15 and 18.

Two scenarios per version, each collected once:

* an *insecure* cluster where every check fires (listening on '*' with trust, password and md5
  lines, md5 hashing, extra superuser, powerful memberships, open SECURITY DEFINER functions,
  broken RLS, dblink, a fake untrusted language, PostgreSQL's defaults for what the benchmark
  checks...), read again as a pg_monitor role (what it cannot read is listed and those checks
  stay silent), and then fixed with the findings' own remediation SQL, which must run and
  silence them; the benchmark checks it cannot show (pgAudit, a standby, TLS settings, old
  releases) fire on real servers in test_audit_benchmark_real.py;
* a *hardened* cluster configured with ``pgtune generate`` (conf.d include, and its
  ``--hba`` file, TLS where the build has it) plus least-privilege SQL: first exactly what
  generate's hardening leaves to do, then, with the rest a hardened server sets, nothing but
  pgAudit missing (not in the test builds; on the embedded 18, built without SSL, PGT-TLS-001).
"""

import pytest
from typer.testing import CliRunner

from pgcluster import Cluster, ClusterFactory, free_port, self_signed_cert
from pgtune.access.model import TableRef
from pgtune.access.policy.document import Policy, RlsSpec
from pgtune.audit.collect import HBA_UNREADABLE, SECRETS_UNREADABLE, collect
from pgtune.audit.findings import CHECKS, run_checks
from pgtune.audit.findings.tls import GOOD_CIPHERS
from pgtune.audit.model import Finding, Snapshot
from pgtune.cli.app import app
from pgtune.pg import ConnectError

MAJORS = (15, 18)
DSN_PASSWORD = "Dsn-Secret-42"

ALL_IDS = {
    *(f"PGT-ROLE-00{i}" for i in range(1, 6)),
    "PGT-ROLE-008",
    *(f"PGT-AUTH-00{i}" for i in range(1, 4)),
    *(f"PGT-HBA-00{i}" for i in range(1, 5)),
    "PGT-NET-001",
    "PGT-TLS-001",
    "PGT-PRIV-001",
    "PGT-PRIV-002",
    *(f"PGT-PRIV-00{i}" for i in range(3, 7)),
    "PGT-FUNC-001",
    "PGT-FUNC-002",
    *(f"PGT-RLS-00{i}" for i in range(1, 6)),
    *(f"PGT-LOG-00{i}" for i in range(1, 5)),
    "PGT-LANG-001",
    "PGT-LANG-002",
    "PGT-EXT-001",
    "PGT-EXT-002",
    # The benchmark checks PostgreSQL's own defaults fail (data checksums off: PostgreSQL 18
    # is initdb'ed without them here) and the insecure pg_hba.conf's wide ranges.
    "PGT-LOG-005",
    "PGT-LOG-008",
    "PGT-LOG-013",
    "PGT-AUTH-004",
    "PGT-AUTH-005",
    "PGT-HOST-002",
    "PGT-HOST-003",
    "PGT-HBA-006",
    "PGT-ROLE-007",
}
# The benchmark checks this cluster cannot show: pgAudit loaded, TLS on, a standby, a policy
# with an expiry, non-default settings, a tablespace, an old release. Each fires on a
# hand-built snapshot in test_audit_benchmark.py, most on a real server in
# test_audit_benchmark_real.py.
NOT_FIRED_HERE = {
    *(f"PGT-LOG-{i:03}" for i in (6, 7, 9, 10, 11, 12, 14)),
    *(f"PGT-TLS-00{i}" for i in (2, 3, 4)),
    "PGT-HBA-005",
    *(f"PGT-REPL-00{i}" for i in range(1, 5)),
    "PGT-ROLE-006",
    "PGT-AUTH-006",
    "PGT-HOST-001",
    "PGT-HOST-004",
    "PGT-HOST-005",
    "PGT-VER-001",
    "PGT-VER-002",
}
# What pg_hba_file_rules and pg_authid (superuser only) are needed for.
NEEDS_HBA_OR_SECRETS = {
    "PGT-HBA-001",
    "PGT-HBA-002",
    "PGT-HBA-003",
    "PGT-HBA-004",
    "PGT-HBA-006",
    "PGT-NET-001",
    "PGT-AUTH-002",
    "PGT-AUTH-003",
}
SECRETS_NEEDED = {"PGT-AUTH-002", "PGT-AUTH-003"}
# Remediations that are SQL to run as they are. The others: a configuration file edit or a
# shell command (remediation_kind "config" / "shell"), a password typed in psql, a row
# condition, one role's line standing for the others (PGT-ROLE-007), or a restart, which the
# broken pg_hba.conf line forbids here (logging_collector, PGT-LOG-008).
NOT_SQL = {
    *(i for i in ALL_IDS if i.startswith(("PGT-HBA", "PGT-NET"))),
    "PGT-TLS-001",
    "PGT-LOG-005",
    "PGT-AUTH-004",
    "PGT-AUTH-005",
    "PGT-HOST-002",
    "PGT-HOST-003",
}
RUNNABLE = (
    ALL_IDS
    - NOT_SQL
    - {
        "PGT-AUTH-002",
        "PGT-AUTH-003",
        "PGT-RLS-003",
        "PGT-RLS-004",
        "PGT-ROLE-007",
        "PGT-LOG-008",
    }
)

REQUIRED = Policy(rls=(RlsSpec(TableRef("app", "public", "t_required"), enable=True, force=True),))

INSECURE_HBA = """\
local   all   all                      trust
host    all   all   127.0.0.1/32       password
host    all   all   10.0.0.0/8         md5
host    app   app   0.0.0.0/0          scram-sha-256
"""
BROKEN_HBA_LINE = "hostfoo all all 192.0.2.1/32 scram-sha-256\n"

INSECURE_CLUSTER_SQL = [
    "CREATE ROLE admin2 LOGIN SUPERUSER",
    "CREATE ROLE rls_bypass LOGIN BYPASSRLS PASSWORD 'pw-bypass'",  # md5: see the conf
    "CREATE ROLE maker LOGIN CREATEROLE",
    "CREATE ROLE ops NOLOGIN",
    "GRANT pg_execute_server_program TO ops",
    "CREATE ROLE alice LOGIN IN ROLE ops",
    "GRANT pg_write_all_data TO alice",
    "CREATE ROLE old LOGIN PASSWORD 'pw-old' VALID UNTIL '2001-01-01'",
    "CREATE ROLE app_owner LOGIN",
    "CREATE ROLE watcher LOGIN IN ROLE pg_monitor",
    "CREATE ROLE auditor LOGIN IN ROLE pg_monitor",
    "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO auditor",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO auditor",
    "CREATE DATABASE app",
    "GRANT CREATE ON DATABASE app TO PUBLIC",
    "CREATE DATABASE locked",
    "REVOKE CONNECT ON DATABASE locked FROM PUBLIC",
    "CREATE EXTENSION postgres_fdw",
    "GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO PUBLIC",
]
INSECURE_APP_SQL = [
    "GRANT CREATE ON SCHEMA public TO PUBLIC",
    "CREATE FUNCTION public.open_door() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
    "CREATE FUNCTION public.temp_first(n int) RETURNS int LANGUAGE sql SECURITY DEFINER "
    "SET search_path = pg_temp, public AS 'SELECT n'",
    "CREATE FUNCTION public.pinned_open() RETURNS int LANGUAGE sql SECURITY DEFINER "
    "SET search_path = pg_catalog, pg_temp AS 'SELECT 1'",
    "CREATE TABLE public.t_open (id int)",
    "GRANT SELECT, DELETE ON public.t_open TO PUBLIC",
    "CREATE TABLE public.t_readable (id int)",
    "GRANT SELECT ON public.t_readable TO PUBLIC",
    "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT SELECT ON TABLES TO PUBLIC",
    "CREATE TABLE public.t_disabled (id int)",
    "CREATE POLICY positive ON public.t_disabled USING (id > 0)",
    "CREATE TABLE public.t_unforced (id int)",
    "ALTER TABLE public.t_unforced OWNER TO app_owner",
    "ALTER TABLE public.t_unforced ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY everyone ON public.t_unforced USING (true)",
    "CREATE TABLE public.t_nopolicy (id int)",
    "ALTER TABLE public.t_nopolicy ENABLE ROW LEVEL SECURITY",
    "CREATE TABLE public.t_required (id int)",
    "CREATE EXTENSION dblink",
    # No plperlu / plpython3u in either build: a C-handler language is untrusted the same way.
    "CREATE LANGUAGE plevil HANDLER plpgsql_call_handler",
    "CREATE LANGUAGE plfakeu HANDLER plpgsql_call_handler",
    "UPDATE pg_catalog.pg_language SET lanpltrusted = true WHERE lanname = 'plfakeu'",
]

HARDENED_PASSWORD = "Hardened-Pw-7"
HARDENED_CLUSTER_SQL = [
    f"ALTER ROLE postgres PASSWORD '{HARDENED_PASSWORD}'",
    "CREATE ROLE app_owner NOLOGIN",
    "CREATE ROLE app LOGIN PASSWORD 'pw-app' VALID UNTIL '2999-01-01' CONNECTION LIMIT 20",
    "CREATE DATABASE app OWNER app_owner",
]
HARDENED_APP_SQL = [
    "CREATE SCHEMA app AUTHORIZATION app_owner",
    "CREATE FUNCTION app.lookup(n int) RETURNS int LANGUAGE sql SECURITY DEFINER "
    "SET search_path = app, pg_temp AS 'SELECT n'",
    "ALTER FUNCTION app.lookup(int) OWNER TO app_owner",
    "REVOKE EXECUTE ON FUNCTION app.lookup(int) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION app.lookup(int) TO app",
    "CREATE TABLE app.orders (tenant text, id int)",
    "ALTER TABLE app.orders OWNER TO app_owner",
    "ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE app.orders FORCE ROW LEVEL SECURITY",
    "CREATE POLICY tenant ON app.orders USING (tenant = current_user)",
    "GRANT USAGE ON SCHEMA app TO app",
    "GRANT SELECT ON app.orders TO app",
]
# What pgtune generate's hardening leaves to the audit (the conf.d include and --hba file are
# all it writes). Reported as tuner gaps: generate sets neither log_replication_commands
# (CIS 7.2), nor ssl_ciphers when it turns TLS on (CIS: PostgreSQL's default admits MEDIUM
# and 3DES suites), nor unix_socket_permissions (pgdsat). The libraries to preload and where
# the log goes are the deployment's to choose.
LEFT_BY_GENERATE = {
    "PGT-HOST-002",
    "PGT-AUTH-004",
    "PGT-AUTH-005",
    "PGT-LOG-005",
    "PGT-LOG-008",
}
# What a hardened server sets beyond pgtune generate (a restart: preloads, the collector and
# the socket are read at start).
BEYOND_GENERATE = """\
shared_preload_libraries = 'passwordcheck, auth_delay'
auth_delay.milliseconds = 200
logging_collector = on
log_replication_commands = on
unix_socket_permissions = 0770
"""
HARDENED_POLICY = Policy(rls=(RlsSpec(TableRef("app", "app", "orders"), enable=True, force=True),))

runner = CliRunner()


def dsn_of(cluster: Cluster, user: str = "postgres", password: str = DSN_PASSWORD) -> str:
    return (
        f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user={user} "
        f"password={password}"
    )


def run_sql(cluster: Cluster, statements: list[str], dbname: str = "postgres") -> None:
    with cluster.connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def ids(findings: list[Finding]) -> set[str]:
    return {f.id for f in findings}


def by_id(findings: list[Finding], id: str) -> list[Finding]:
    return [f for f in findings if f.id == id]


def _everything_said(snapshot: Snapshot, findings: list[Finding]) -> str:
    return repr(snapshot) + repr(findings)


# ------------------------------------------------------------------------------------------
# Insecure cluster: every check fires


def _insecure_cluster(pg_cluster_factory: ClusterFactory, major: int) -> Cluster:
    # PostgreSQL 15's initdb leaves data checksums off; 18's turns them on unless told not to.
    no_checksums = ("--no-data-checksums",) if major >= 18 else ()
    cluster = pg_cluster_factory(major, listen_addresses="*", initdb_args=no_checksums)
    cluster.write_conf("password_encryption = md5\n")
    (cluster.data_dir / "pg_hba.conf").write_text(INSECURE_HBA)
    cluster.start()
    run_sql(cluster, INSECURE_CLUSTER_SQL)
    run_sql(cluster, INSECURE_APP_SQL, "app")
    # After start: a reload would refuse this file, a restart fail; the view reads the disk.
    with (cluster.data_dir / "pg_hba.conf").open("a") as handle:
        handle.write(BROKEN_HBA_LINE)
    return cluster


def _run_remediations(cluster: Cluster, findings: list[Finding]) -> None:
    """Each runnable remediation, one statement at a time (ALTER SYSTEM refuses to run in
    the implicit transaction of a multi-statement string)."""
    for f in findings:
        if f.id not in RUNNABLE:
            continue
        with cluster.connect(f.database or "postgres") as conn:
            for line in f.remediation.splitlines():
                if line and not line.startswith("--"):
                    conn.execute(line.encode())


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_insecure_cluster_fires_every_check_and_the_remediations_fix_it(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _insecure_cluster(pg_cluster_factory, major)
    snapshot = collect(dsn_of(cluster))
    findings = run_checks(snapshot, REQUIRED)

    assert snapshot.unreadable == ()
    assert snapshot.superuser and snapshot.major == major
    assert snapshot.bootstrap_superuser == "postgres"
    assert ids(findings) == ALL_IDS
    # One id per registered check, each fired here or (the benchmark's) on its own servers.
    assert not ALL_IDS & NOT_FIRED_HERE and len(CHECKS) == len(ALL_IDS | NOT_FIRED_HERE)
    # What remediation_kind says: only SQL is offered as SQL to run.
    assert {f.id for f in findings if f.remediation_kind != "sql"} == NOT_SQL
    assert "PGT-RLS-005" not in ids(run_checks(snapshot))  # only with a policy
    assert "***" in snapshot.cluster

    def objects(id: str) -> dict[str | None, str]:
        return {f.object: f.severity for f in by_id(findings, id)}

    assert objects("PGT-ROLE-001") == {"admin2": "high"}
    assert objects("PGT-ROLE-002") == {"rls_bypass": "high"}
    assert objects("PGT-ROLE-003") == {"maker": "high" if major < 16 else "medium"}
    assert objects("PGT-ROLE-004") == {"ops": "critical", "alice": "high"}
    [ops] = [f for f in by_id(findings, "PGT-ROLE-004") if f.object == "ops"]
    assert ops.seen == (
        "role 'ops' is a member of pg_execute_server_program; "
        "login roles that have it through 'ops': 'alice'"
    )
    assert objects("PGT-ROLE-005") == {"old": "low"}
    [path] = by_id(findings, "PGT-ROLE-008")  # alice through ops (PGT-ROLE-004 names ops)
    assert (path.object, path.severity) == ("alice", "critical")
    assert path.seen.endswith(
        '"alice" \u2192 "ops" (INHERIT) \u2192 "pg_execute_server_program" (INHERIT)'
    )
    assert objects("PGT-AUTH-002") == {"rls_bypass": "high", "old": "high"}
    assert objects("PGT-AUTH-003")["maker"] == "high"  # no password, and line 1 trusts it
    assert [f.severity for f in by_id(findings, "PGT-HBA-001")] == ["high"]  # local only
    assert [f.severity for f in by_id(findings, "PGT-HBA-002")] == ["high"]  # host: no TLS
    assert "hostfoo" in by_id(findings, "PGT-HBA-004")[0].seen
    [net] = by_id(findings, "PGT-NET-001")
    assert "10.0.0.0" in net.seen and "0.0.0.0" in net.seen and "127.0.0.1" not in net.seen
    assert objects("PGT-TLS-001") == {"ssl": "high"}  # listening on '*'
    assert objects("PGT-PRIV-001") == {"public": "high"}
    # One finding per function: the search_path ones say PUBLIC may execute them too.
    assert objects("PGT-PRIV-002") == {"public.pinned_open()": "critical"}  # a superuser's
    assert objects("PGT-FUNC-001") == {"public.open_door()": "critical"}
    [temp_first] = by_id(findings, "PGT-FUNC-002")
    assert "PUBLIC may create in public" in temp_first.seen
    assert "pg_temp is not last" in temp_first.seen
    assert temp_first.seen.endswith("PUBLIC may execute it, so every role can")
    assert objects("PGT-PRIV-003") == {"public": "high"}
    assert objects("PGT-PRIV-004") == {"public": "medium"}
    assert objects("PGT-PRIV-005") == {"app": "high"}
    assert objects("PGT-PRIV-006") == {"app_owner": "medium"}
    assert objects("PGT-RLS-001") == {"public.t_disabled": "high"}
    assert objects("PGT-RLS-002") == {"public.t_unforced": "medium"}
    assert objects("PGT-RLS-003") == {"public.t_nopolicy": "low"}
    assert objects("PGT-RLS-004") == {"public.t_unforced policy everyone": "medium"}
    assert objects("PGT-RLS-005") == {"public.t_required": "high"}
    assert objects("PGT-LANG-001") == {"plevil": "medium"}
    assert objects("PGT-LANG-002") == {"plfakeu": "critical"}
    assert {(f.database, f.object) for f in by_id(findings, "PGT-EXT-002")} == {
        ("app", "dblink"),
        ("postgres", "postgres_fdw"),
    }
    assert objects("PGT-HBA-006") == {"pg_hba.conf line 4": "medium", "pg_hba.conf line 3": "low"}
    [limits] = by_id(findings, "PGT-ROLE-007")
    assert (limits.severity, limits.object) == ("info", None)
    assert limits.seen == (
        '6 login role(s) without CONNECTION LIMIT: "alice", "app_owner", "auditor", "maker", '
        '"rls_bypass", "watcher"'
    )
    assert objects("PGT-HOST-003") == {"data_checksums": "low"}
    assert all(f.why and "\n" not in f.why and "\n" not in f.title for f in findings)

    # Nothing said holds a password hash or the DSN's password.
    with cluster.connect() as conn:
        hashes = [
            r[0] for r in conn.execute("SELECT rolpassword FROM pg_authid").fetchall() if r[0]
        ]
    said = _everything_said(snapshot, findings)
    assert hashes and not any(h in said for h in hashes)
    assert DSN_PASSWORD not in said

    # A pg_monitor role: what it cannot read is listed, those checks stay silent.
    seen_by_monitor = collect(dsn_of(cluster, "watcher"))
    assert not seen_by_monitor.superuser
    assert (seen_by_monitor.hba, seen_by_monitor.secrets) == (None, None)
    assert set(seen_by_monitor.unreadable) == {
        HBA_UNREADABLE,
        SECRETS_UNREADABLE,
        "database 'locked': no CONNECT privilege",
    }
    assert ids(run_checks(seen_by_monitor, REQUIRED)) == ALL_IDS - NEEDS_HBA_OR_SECRETS
    # Granted pg_hba_file_rules explicitly, it reads the rules (not the secrets).
    seen_by_auditor = collect(dsn_of(cluster, "auditor"), databases=["app"])
    assert seen_by_auditor.unreadable == (SECRETS_UNREADABLE,)
    assert seen_by_auditor.hba == snapshot.hba
    assert ids(run_checks(seen_by_auditor)) >= NEEDS_HBA_OR_SECRETS - SECRETS_NEEDED
    assert not ids(run_checks(seen_by_auditor)) & SECRETS_NEEDED

    # The remediation SQL runs as written and silences what it is for. Fixes may show the
    # next step: plfakeu, trusted no more, is now an untrusted language to drop; t_required,
    # with RLS now enabled as the policy wants, still needs a policy of its own.
    _run_remediations(cluster, findings)
    cluster.reload()
    fixed = run_checks(collect(dsn_of(cluster)), REQUIRED)
    assert {(f.id, f.object) for f in fixed if f.id in RUNNABLE} == {("PGT-LANG-001", "plfakeu")}
    assert {f.object for f in by_id(fixed, "PGT-RLS-003")} == {
        "public.t_nopolicy",
        "public.t_required",
    }


# ------------------------------------------------------------------------------------------
# Hardened cluster: quiet


def _generate(cluster: Cluster, *args: str) -> str:
    result = runner.invoke(
        app,
        [
            "generate",
            *("--memory", "1GB", "--cpus", "2", "--storage", "ssd"),
            *("--pg-version", str(cluster.major)),
            *("--pg-config", str(cluster.binaries.exe("pg_config"))),
            "-q",
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_hardened_cluster_stays_quiet(
    pg_cluster_factory: ClusterFactory, major: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The embedded 18 has no SSL: there it listens on the socket only and ssl stays off.
    tls = major == 15
    # Data checksums are initdb's (on by default from 18).
    checksums = ("--data-checksums",) if major < 18 else ()
    cluster = pg_cluster_factory(major, listen_addresses="*" if tls else "", initdb_args=checksums)
    ssl_args: list[str] = []
    if tls:
        self_signed_cert(cluster)
        # Absolute paths: pgtune generate leaves a bare server.crt unquoted, which
        # PostgreSQL's config lexer rejects (reported; not this module's to fix).
        ssl_args = [
            *("--ssl-cert", str(cluster.data_dir / "server.crt")),
            *("--ssl-key", str(cluster.data_dir / "server.key")),
        ]
    cluster.write_conf(_generate(cluster, *ssl_args), mode="include")
    cluster.start()
    run_sql(cluster, HARDENED_CLUSTER_SQL)
    run_sql(cluster, HARDENED_APP_SQL, "app")
    # pgtune's pg_hba.conf: peer for the admin (a role the tests do not use), SCRAM for every
    # other local role (postgres included, with its password), TLS-only remote rules, reject.
    remote = ["--allow", "192.0.2.0/24:app:app"] if tls else []  # the clients' network
    hba = _generate(cluster, "--hba", "--admin-user", "dba", *remote)
    (cluster.data_dir / "pg_hba.conf").write_text(hba)
    monkeypatch.setenv("PGPASSWORD", HARDENED_PASSWORD)  # for the harness's own connections
    cluster.reload()

    dsn = dsn_of(cluster, password=HARDENED_PASSWORD)
    no_tls = [] if tls else [("PGT-TLS-001", "ssl = 'off', listen_addresses = ''")]

    # pgtune generate's output alone: exactly what it leaves to do (one finding each).
    left = run_checks(collect(dsn, label="hardened"), HARDENED_POLICY)
    assert sorted(f.id for f in left) == sorted(LEFT_BY_GENERATE | {i for i, _ in no_tls})

    cluster.write_conf(BEYOND_GENERATE + (f"ssl_ciphers = '{GOOD_CIPHERS}'\n" if tls else ""))
    cluster.restart()
    snapshot = collect(dsn, label="hardened")
    findings = run_checks(snapshot, HARDENED_POLICY)

    assert snapshot.unreadable == () and snapshot.cluster == "hardened"
    assert snapshot.hba is not None and snapshot.secrets is not None
    assert {r.auth_method for r in snapshot.hba} == {"peer", "scram-sha-256", "reject"}
    assert snapshot.secrets["postgres"] == snapshot.secrets["app"] == "scram"
    assert [f.name for f in snapshot.functions] == ["lookup"]
    # pgAudit is not in the test builds: the one finding a hardened server here keeps.
    pgaudit = ("PGT-LOG-005", "shared_preload_libraries = 'passwordcheck, auth_delay'")
    assert [(f.id, f.seen) for f in findings] == [pgaudit, *no_tls]
    assert snapshot.settings["data_checksums"] == "on"
    if tls:
        assert snapshot.settings["listen_addresses"] == "*"
        assert snapshot.settings["ssl"] == "on"


# ------------------------------------------------------------------------------------------
# Connecting


def test_unreachable_server_is_a_connect_error_without_the_password() -> None:
    dsn = f"host=127.0.0.1 port={free_port()} user=u password={DSN_PASSWORD} dbname=x"
    with pytest.raises(ConnectError) as caught:
        collect(dsn, timeout=3)
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert DSN_PASSWORD not in message and "password=***" in message
    assert "\n" not in message


@pytest.mark.pg
def test_explicit_databases_and_a_missing_one(pg_cluster_factory: ClusterFactory) -> None:
    cluster = pg_cluster_factory(18)
    cluster.start()
    run_sql(cluster, ["CREATE DATABASE app", "CREATE DATABASE other"])
    run_sql(cluster, ["CREATE EXTENSION dblink"], "other")
    snapshot = collect(dsn_of(cluster), databases=["app", "nosuch"])
    assert snapshot.unreadable == ("database 'nosuch': does not exist",)
    assert {lang.database for lang in snapshot.languages} == {"app"}
    assert snapshot.extensions and {e.database for e in snapshot.extensions} == {"app"}
    assert "PGT-EXT-001" not in ids(run_checks(snapshot))  # dblink lives in "other"
    everything = collect(dsn_of(cluster))
    assert {lang.database for lang in everything.languages} == {"postgres", "app", "other"}
