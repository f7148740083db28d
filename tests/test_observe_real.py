"""`pgtune generate --dsn --observe` on real PostgreSQL 15 and 18 (issue 13's proof): a server
under pgbench read-write with requested checkpoints, an analytic query that spills as role
``analyst``, a heavily updated table and a quiet one. Observed for 10 s, the recommendation is
applied; then the same pgbench run length has no requested checkpoint, the query no longer
spills, and only the hot table got per-table autovacuum settings.
"""

import json
import subprocess
import threading
import time
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from pgcluster import Cluster, ClusterFactory
from pgtune.cli.app import app

HW = ["--memory", "2GB", "--cpus", "2", "--storage", "ssd", "--workload", "mixed"]
RUN = 12  # seconds of pgbench, observed for 10 of them
ANALYTIC = "SELECT k, v FROM facts ORDER BY v, k"
CHECKPOINTS = {
    15: "SELECT checkpoints_req FROM pg_catalog.pg_stat_bgwriter",
    18: "SELECT num_requested FROM pg_catalog.pg_stat_checkpointer",
}


def _pgbench(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(cluster.binaries.exe("pgbench")),
        "-h",
        str(cluster.socket_dir),
        "-p",
        str(cluster.port),
        "-U",
        "postgres",
        *args,
        "postgres",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def _value(cluster: Cluster, query: str, user: str = "postgres") -> Any:
    with cluster.connect(user=user) as conn:
        row = conn.execute(query.encode()).fetchone()
    assert row is not None
    return row[0]


def _spills(cluster: Cluster) -> bool:
    with cluster.connect(user="analyst") as conn:
        plan = conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {ANALYTIC}".encode()).fetchall()
    text = "\n".join(r[0] for r in plan)
    return "external" in text or "Disk:" in text


def _load(cluster: Cluster, stop: threading.Event) -> None:
    """The analytic query as analyst and updates of the hot table, until stopped."""
    with cluster.connect(user="analyst") as analyst, cluster.connect() as writer:
        n = 0
        while not stop.is_set():
            analyst.execute(ANALYTIC.encode()).fetchall()
            for _ in range(5):
                writer.execute(b"UPDATE hot SET v = v + 1 WHERE id %% 10 = %s", (n % 10,))
                n += 1


@pytest.mark.pg
@pytest.mark.parametrize("major", (15, 18))
def test_observed_recommendation_removes_requested_checkpoints_and_spills(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    # stock, with pg_stat_statements, and a small max_wal_size so that a 10 s window on a busy
    # 2-CPU machine sees requested checkpoints for sure
    cluster.write_conf(
        "shared_preload_libraries = 'pg_stat_statements'\n"
        "max_wal_size = '64MB'\nmin_wal_size = '32MB'\n"
    )
    cluster.start()
    _pgbench(cluster, "-i", "-s", "2", "-q")
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("CREATE ROLE analyst LOGIN")
        conn.execute("SET work_mem = '256MB'")
        conn.execute(
            "CREATE TABLE facts AS SELECT g AS k, md5(g::text) AS v"
            " FROM generate_series(1, 600000) AS g"
        )
        conn.execute("GRANT SELECT ON facts TO analyst")
        for name in ("hot", "quiet"):
            conn.execute(
                f"CREATE TABLE {name} AS SELECT g AS id, 0 AS v FROM generate_series(1, 50000) AS g"
            )
        conn.execute("ANALYZE")
    assert _spills(cluster)  # stock work_mem 4MB

    stop = threading.Event()
    load = threading.Thread(target=_load, args=(cluster, stop))
    bench = threading.Thread(target=_pgbench, args=(cluster, "-n", "-c", "4", "-T", str(RUN)))
    bench.start()
    load.start()
    try:
        time.sleep(1)
        dsn = f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user=postgres"
        result = CliRunner().invoke(
            app, ["generate", "--dsn", dsn, "--observe", "10s", *HW, "--format", "json", "-q"]
        )
    finally:
        stop.set()
        bench.join()
        load.join()
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    observed = doc["observed"]
    figures = observed["figures"]
    assert figures["checkpoints_requested"] > 0, figures
    assert figures["wal_bytes"] > 0 and figures["transactions"] > 0
    assert figures["peak_sessions"] >= 4
    assert "max_wal_size" in observed["adjusted"]
    wal_reason = doc["settings"]["max_wal_size"]["reason"]
    assert wal_reason.startswith("observed WAL") and "requested" in wal_reason
    # the spill: per role, as only analyst spills; inside the budget
    [role] = observed["role_settings"]
    assert role["role"] == "analyst" and role["name"] == "work_mem"
    assert "per call" in role["reason"]
    assert doc["budget"]["peak_bytes"] <= doc["budget"]["limit_bytes"]
    # the hot table, not the quiet one
    tables = {t["table"]: t for t in observed["table_settings"]}
    assert "hot" in tables and "quiet" not in tables
    assert float(tables["hot"]["options"]["autovacuum_vacuum_scale_factor"]) == 0.01

    # apply: the settings in an include file, the statements as SQL, and restart
    conf = "".join(
        f"{name} = '{s['value']}'\n"
        for name, s in doc["settings"].items()
        if name not in ("shared_preload_libraries",)
    )
    cluster.write_conf(conf + "shared_preload_libraries = 'pg_stat_statements'\n", mode="include")
    sql_out = CliRunner().invoke(
        app, ["generate", "--dsn", dsn, "--observe", "1s", *HW, "--format", "sql", "-q"]
    )
    assert sql_out.exit_code == 0, sql_out.output
    with cluster.connect() as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} SET work_mem = {}").format(
                psycopg.sql.Identifier("analyst"), psycopg.sql.Literal(role["value"])
            )
        )
        for t in observed["table_settings"]:
            conn.execute(
                psycopg.sql.SQL("ALTER TABLE {} SET (autovacuum_vacuum_scale_factor = {})").format(
                    psycopg.sql.Identifier(t["schema"], t["table"]),
                    psycopg.sql.Literal(float(t["options"]["autovacuum_vacuum_scale_factor"])),
                )
            )
    cluster.restart()
    assert not _spills(cluster)
    before = _value(cluster, CHECKPOINTS[15 if major < 17 else 18])
    _pgbench(cluster, "-n", "-c", "4", "-T", str(RUN))
    after = _value(cluster, CHECKPOINTS[15 if major < 17 else 18])
    assert after - before == 0
