"""`pgtune check` says what is true (issue 13), on real PostgreSQL 15 and 18: temporary files
attributed to the statements that wrote them (pg_stat_statements, the server log) and never
blamed on work_mem when REINDEX wrote them; ratios not judged over a young window; the value a
pending restart brings judged and shown.
"""

import time
from typing import Any

import psycopg
import pytest
from test_check import HW, _generated_conf, _poll, advice_of, by_name, check_json, cli, dsn_of

from pgcluster import ClusterFactory

MAJORS = (15, 18)
TEMP_FILES = "SELECT temp_files FROM pg_catalog.pg_stat_database WHERE datname = 'postgres'"


def _spill_reindex(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET work_mem = '64MB'")  # generate_series' tuplestore would spill at 4MB
    conn.execute("CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 300000) AS g")
    conn.execute("RESET work_mem")
    conn.execute("CREATE INDEX big_id ON big (id)")
    conn.execute("SET maintenance_work_mem = '1MB'")
    conn.execute("SET max_parallel_maintenance_workers = 0")
    conn.execute("REINDEX TABLE big")


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_reindex_temp_files_are_not_blamed_on_work_mem(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.write_conf("shared_preload_libraries = 'pg_stat_statements'\n")
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        _spill_reindex(conn)
    with cluster.connect() as conn:
        assert _poll(conn, TEMP_FILES) > 0
    _, doc = check_json(cluster)
    temp = advice_of(doc, "temp_files")
    assert [a["level"] for a in temp] == ["info", "info"], temp
    assert "maintenance_work_mem" in temp[1]["message"] and "not work_mem" in temp[1]["message"]
    assert "REINDEX TABLE big" in temp[1]["message"]
    assert not any(a["level"] == "warning" for a in temp)

    with cluster.connect() as conn:  # now a sort that does spill past work_mem
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SELECT id FROM big ORDER BY -id").fetchall()
    _, doc = check_json(cluster)
    [warning] = [a for a in advice_of(doc, "temp_files") if a["level"] == "warning"]
    assert "SELECT id FROM big ORDER BY -id" in warning["message"]
    assert "past work_mem (now 4MB) (pg_stat_statements)" in warning["message"]
    assert 'by role "postgres"' in warning["message"]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_temp_files_attributed_from_the_log(pg_cluster_factory: ClusterFactory, major: int) -> None:
    cluster = pg_cluster_factory(major)
    cluster.write_conf("log_temp_files = 0\n")
    cluster.start()
    with cluster.connect() as conn:
        _spill_reindex(conn)
    deadline = time.monotonic() + 30
    while "REINDEX TABLE big" not in cluster.log_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    _, doc = check_json(cluster, "--log", str(cluster.log_file))
    temp = advice_of(doc, "temp_files")
    assert [a["level"] for a in temp] == ["info", "info"], temp
    assert "REINDEX TABLE big" in temp[1]["message"] and "not work_mem" in temp[1]["message"]
    assert f"the log {str(cluster.log_file)!r}" in temp[1]["message"]
    missing = cli("--dsn", dsn_of(cluster), *HW, "--log", "/nonexistent/postgres.log")
    assert missing.exit_code == 2 and "cannot read --log" in missing.stderr


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_hit_ratio_is_not_judged_right_after_a_start(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.write_conf("shared_buffers = '16MB'\n")
    cluster.start()
    with cluster.connect() as conn:  # ~35MB > shared_buffers / 4: scans read through a ring
        conn.execute(
            "CREATE TABLE wide AS SELECT g AS id, repeat('x', 20) AS pad"
            " FROM generate_series(1, 1000000) AS g"
        )
        for _ in range(25):
            conn.execute("SELECT count(*) FROM wide").fetchone()
    with cluster.connect() as conn:
        query = (
            "SELECT blks_read > 0.01 * (blks_hit + blks_read) AND blks_hit + blks_read > 100000"
            " FROM pg_catalog.pg_stat_database WHERE datname = 'postgres'"
        )
        assert _poll(conn, query)
    _, doc = check_json(cluster)
    [advice] = advice_of(doc, "cache_hit_ratio")
    assert advice["level"] == "info", advice  # before issue 13: "warning", "does not fit"
    assert "not judged: the server started" in advice["message"]
    assert "does not fit" not in advice["message"]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_a_pending_restart_to_another_value_is_drift(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.write_conf(_generated_conf(cluster), mode="include")
    cluster.start()
    code, _ = check_json(cluster)
    assert code == 0
    with cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET shared_buffers = '1GB'")
        conn.execute("CREATE ROLE watcher LOGIN IN ROLE pg_monitor")
    cluster.reload()
    code, doc = check_json(cluster)
    sb = by_name(doc)["shared_buffers"]
    assert code == 1  # before issue 13: 0, "ok" (the running value)
    assert (sb["status"], sb["live"], sb["pending"], sb["recommended"]) == (
        "drift",
        "256MB",
        "1GB",
        "256MB",
    )
    fix = cli("--dsn", dsn_of(cluster), *HW, "--sql")
    assert "-- shared_buffers: live 256MB, pending restart 1GB, recommended 256MB" in fix.stdout
    assert "ALTER SYSTEM SET \"shared_buffers\" = '256MB';" in fix.stdout
    # pg_monitor cannot read pg_file_settings: says so, and compares the running value
    code, doc = check_json(cluster, user="watcher")
    sb = by_name(doc)["shared_buffers"]
    assert (sb["status"], sb["pending_restart"], sb["pending"]) == ("ok", True, None)
    [files] = [u for u in doc["unreadable"] if u["name"] == "pg_file_settings"]
    assert "shared_buffers is unknown" in files["reason"]
