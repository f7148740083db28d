"""The benchmark checks on real PostgreSQL 15 and 18: the settings, tablespaces and version they
need are collected for real, fire on a cluster set up to fail them, and degrade (said, not
guessed) for a role without pg_read_all_settings.

PostgreSQL 15's initdb leaves data checksums off, 18's turns them on: each version shows one
side of PGT-HOST-003. The 15 cluster is also initdb'ed with group access (mode 0750)."""

import pytest
from test_audit_collect import DSN_PASSWORD, dsn_of, run_sql

from pgcluster import Cluster, ClusterFactory
from pgtune.audit.collect import collect
from pgtune.audit.findings import run_checks, versions
from pgtune.audit.findings.versions import Releases
from pgtune.audit.model import Finding

MAJORS = (15, 18)
CONNINFO_PASSWORD = "Conninfo-Secret-7"

CONF = """\
log_file_mode = 0644
log_min_messages = error
log_error_verbosity = terse
log_replication_commands = off
log_min_duration_statement = 0
authentication_timeout = 120s
superuser_reserved_connections = 0
allow_in_place_tablespaces = on
"""
HBA_LINES = """\
hostnossl all         all  0.0.0.0/0      scram-sha-256
host      replication all  10.0.0.0/8     scram-sha-256
"""
SQL = [
    "CREATE ROLE repl LOGIN REPLICATION",
    "CREATE ROLE plain LOGIN",
    "CREATE TABLESPACE in_place LOCATION ''",  # inside the data directory (pg_tblspc/<oid>)
    "ALTER SYSTEM SET primary_conninfo = "
    f"'host=192.0.2.1 user=repl password={CONNINFO_PASSWORD} sslmode=prefer'",
    "SELECT pg_catalog.pg_reload_conf()",
]
FIRES = {
    "PGT-LOG-005",  # pgaudit is not installed
    "PGT-LOG-009",
    "PGT-LOG-010",
    "PGT-LOG-012",
    "PGT-LOG-013",
    "PGT-LOG-014",
    "PGT-HBA-005",
    "PGT-HBA-006",
    "PGT-REPL-001",
    "PGT-REPL-002",
    "PGT-REPL-003",
    "PGT-REPL-004",
    "PGT-ROLE-007",
    "PGT-AUTH-004",
    "PGT-AUTH-005",
    "PGT-AUTH-006",
    "PGT-HOST-002",  # the harness's socket is 0777 (PostgreSQL's default)
    "PGT-HOST-004",
    "PGT-HOST-005",
}


def by_id(findings: list[Finding], id: str) -> list[Finding]:
    return [f for f in findings if f.id == id]


def _cluster(pg_cluster_factory: ClusterFactory, major: int) -> Cluster:
    cluster = pg_cluster_factory(
        major, initdb_args=("--allow-group-access",) if major == 15 else ()
    )
    cluster.write_conf(CONF)
    with (cluster.data_dir / "pg_hba.conf").open("a") as handle:
        handle.write(HBA_LINES)
    cluster.start()
    run_sql(cluster, SQL)
    return cluster


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_benchmark_checks_on_a_real_server(
    pg_cluster_factory: ClusterFactory, major: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = _cluster(pg_cluster_factory, major)
    snapshot = collect(dsn_of(cluster))
    findings = run_checks(snapshot)
    ids = {f.id for f in findings}

    # What was collected, for real.
    assert snapshot.unreadable == ()  # pgaudit.log absent: not loaded, so not "unreadable"
    settings = snapshot.settings
    assert settings["data_checksums"] == ("off" if major == 15 else "on")
    assert settings["data_directory_mode"] == ("0750" if major == 15 else "0700")
    assert settings["data_directory"] == str(cluster.data_dir)
    server_num = int(settings["server_version_num"])
    assert server_num // 10000 == major
    assert snapshot.server_version.startswith(f"{major}.{server_num % 10000}")
    assert snapshot.tablespaces is not None
    names = {t.name: t.location for t in snapshot.tablespaces}
    assert names["pg_default"] == "" and names["in_place"].startswith("pg_tblspc/")

    # What fires.
    assert ids >= FIRES
    assert ("PGT-HOST-003" in ids) == (major == 15)
    assert ("PGT-HOST-001" in ids) == (major == 15)
    assert [f.object for f in by_id(findings, "PGT-HOST-004")] == ["in_place"]
    assert [f.object for f in by_id(findings, "PGT-REPL-001")] == ["repl"]
    [standby] = by_id(findings, "PGT-REPL-004")
    assert standby.seen == 'primary_conninfo sslmode = "prefer", host = "192.0.2.1"'
    # The snapshot keeps primary_conninfo without its password: nothing built from it has it.
    assert settings["primary_conninfo"] == "user=repl host=192.0.2.1 sslmode=prefer"
    said = repr(snapshot) + repr(findings)
    assert CONNINFO_PASSWORD not in said and DSN_PASSWORD not in said
    assert "PGT-LOG-011" not in ids  # log_min_error_statement stays at its default, error

    # The shipped table is older than these servers: the minor check says nothing; against
    # a table that knows one more minor release, it fires and says as of when.
    assert "PGT-VER-001" not in ids and "PGT-VER-002" not in ids
    real = versions.releases()
    newer = Releases(
        as_of=real.as_of,
        newest={**real.newest, major: server_num % 10000 + 1},
        end_of_life=real.end_of_life,
    )
    monkeypatch.setattr(versions, "releases", lambda: newer)
    [behind] = by_id(run_checks(snapshot), "PGT-VER-001")
    assert f"as of {real.as_of.isoformat()}" in behind.seen

    # Remediation SQL runs and silences what it is for.
    for id in ("PGT-LOG-009", "PGT-LOG-010", "PGT-LOG-012", "PGT-LOG-013", "PGT-AUTH-006"):
        [f] = by_id(findings, id)
        assert f.remediation_kind == "sql"
        with cluster.connect() as conn:
            for line in f.remediation.splitlines():
                if not line.startswith("--"):
                    conn.execute(line.encode())
    cluster.reload()
    fixed = {f.id for f in run_checks(collect(dsn_of(cluster)))}
    assert not fixed & {"PGT-LOG-009", "PGT-LOG-010", "PGT-LOG-012", "PGT-LOG-013", "PGT-AUTH-006"}

    # Without pg_read_all_settings: the superuser-only settings are said to be unreadable and
    # the checks on them stay silent; the rest still speaks.
    plain = collect(dsn_of(cluster, "plain"), databases=["postgres"])
    hidden = {u.split(":")[0] for u in plain.unreadable if u.startswith("setting ")}
    assert hidden == {  # pgaudit.log is absent because not loaded: not said
        "setting data_directory",
        "setting primary_conninfo",
        "setting shared_preload_libraries",
        "setting ssl_ciphers",
        "setting ssl_min_protocol_version",
    }
    plain_ids = {f.id for f in run_checks(plain)}
    assert not plain_ids & {"PGT-HOST-004", "PGT-REPL-004", "PGT-LOG-005", "PGT-AUTH-004"}
    assert "PGT-HOST-005" in plain_ids and "PGT-HBA-005" not in plain_ids  # no pg_hba rules
    assert ("PGT-HOST-003" in plain_ids) == (major == 15)  # data_checksums is public
