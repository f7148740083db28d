"""`pgtune check`: the comparison and the advice as pure functions, the command line's bad
input, and real PostgreSQL 15 and 18 servers (stock defaults, pgtune's own configuration,
pending restarts, monitoring and unprivileged roles, checkpoint and temp-file pressure).
"""

import json
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from pgcluster import Cluster, ClusterFactory, free_port
from pgtune.cli.app import app
from pgtune.tuning import health
from pgtune.tuning.check import (
    NOT_APPLIED,
    CheckReport,
    Comparison,
    FileSetting,
    LiveSetting,
    compare,
    drift_sql,
    live_build,
    pretty,
    same,
)
from pgtune.tuning.health import Advice, CheckpointStats, ConnectionStats, DatabaseStats
from pgtune.tuning.settings import Setting
from pgtune.tuning.tempfiles import TempSources, TempStatement, parse_log
from pgtune.units import MB, parse_size
from tuning_helpers import make

runner = CliRunner()
MAJORS = (15, 18)
HW = ["--memory", "1GB", "--cpus", "2", "--storage", "ssd"]


def cli(*args: str) -> Result:
    return runner.invoke(app, ["check", *args])


def dsn_of(cluster: Cluster, user: str = "postgres") -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user={user}"


def check_json(cluster: Cluster, *extra: str, user: str = "postgres") -> tuple[int, dict[str, Any]]:
    result = cli("--dsn", dsn_of(cluster, user), *HW, "--format", "json", *extra)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["settings"]}


def advice_of(doc: dict[str, Any], topic: str) -> list[dict[str, str]]:
    return [a for a in doc["advice"] if a["topic"] == topic]


# ------------------------------------------------------------------------------------------
# Comparison (no server)


def live(name: str, setting: str | None, vartype: str, unit: str | None = None, **kw: Any) -> Any:
    return LiveSetting(
        name=name,
        setting=setting,
        unit=unit,
        vartype=vartype,
        context=kw.get("context", "user"),
        source=kw.get("source", "default"),
        enumvals=kw.get("enumvals"),
        pending_restart=kw.get("pending_restart", False),
    )


def rec_setting(name: str, value: str, setting: str, unit: str | None = None) -> Setting:
    return Setting(name, value, setting, unit, "reload", f"why {name}", "memory")


@pytest.mark.parametrize(
    ("name", "recommended", "live_value", "vartype", "expected"),
    [
        ("random_page_cost", "1.1", "1.1", "real", True),
        ("checkpoint_completion_target", "0.9", "0.90000", "real", True),
        ("random_page_cost", "1.1", "4", "real", False),
        ("shared_buffers", "65536", "65536", "integer", True),
        ("shared_buffers", "65536", "16384", "integer", False),
        ("jit", "off", "off", "bool", True),
        ("jit", "off", "on", "bool", False),
        ("wal_compression", "lz4", "LZ4", "enum", True),
        ("wal_compression", "lz4", "pglz", "enum", False),
        ("log_line_prefix", "%m [%p] ", "%m [%p] ", "string", True),
        ("log_line_prefix", "%m [%p] ", "%m [%p]", "string", False),  # the space matters
        ("shared_preload_libraries", "pg_stat_statements", "pg_stat_statements", "string", True),
        (
            "shared_preload_libraries",
            "pg_stat_statements",
            "auto_explain, pg_stat_statements",
            "string",
            True,
        ),
        ("shared_preload_libraries", "pg_stat_statements", "auto_explain", "string", False),
        ("shared_preload_libraries", "pg_stat_statements", "", "string", False),
    ],
)
def test_values_compare_by_type(
    name: str, recommended: str, live_value: str, vartype: str, expected: bool
) -> None:
    assert same(name, recommended, live_value, vartype) is expected


def test_compare_sets_status_pending_restart_and_the_sql_target() -> None:
    sb = Setting("shared_buffers", "512MB", "65536", "8kB", "restart", "why", "memory")
    drift = compare(sb, live("shared_buffers", "16384", "integer", "8kB", pending_restart=True))
    assert (drift.status, drift.live, drift.recommended, drift.pending_restart) == (
        "drift",
        "128MB",
        "512MB",
        True,
    )
    assert compare(sb, live("shared_buffers", "65536", "integer", "8kB")).status == "ok"
    # the value the next restart brings is judged, and shown
    running_ok = live("shared_buffers", "65536", "integer", "8kB", pending_restart=True)
    to_1gb = compare(sb, running_ok, FileSetting("shared_buffers", "1GB", NOT_APPLIED))
    assert (to_1gb.status, to_1gb.pending, to_1gb.pending_setting) == ("drift", "1GB", "131072")
    running_old = live("shared_buffers", "16384", "integer", "8kB", pending_restart=True)
    fixed = compare(sb, running_old, FileSetting("shared_buffers", "512MB", NOT_APPLIED))
    assert (fixed.status, fixed.live, fixed.pending) == ("ok", "128MB", "512MB")
    hidden = compare(sb, None)
    assert (hidden.status, hidden.live, hidden.pending_restart) == ("unreadable", None, False)

    libs = rec_setting("shared_preload_libraries", "pg_stat_statements", "pg_stat_statements")
    merged = compare(libs, live("shared_preload_libraries", "auto_explain", "string"))
    assert merged.status == "drift"
    assert merged.target == "auto_explain, pg_stat_statements"  # never drops a live library


def test_a_difference_within_pgtunes_rounding_step_is_not_drift() -> None:
    sb = Setting("shared_buffers", "256MB", "32768", "8kB", "restart", "why", "memory")
    near = compare(sb, live("shared_buffers", "30720", "integer", "8kB"), memory=1024 * MB)
    assert (near.status, near.tolerance) == (
        "ok",
        "within pgtune's 32MB rounding step for shared_buffers",
    )
    far = compare(sb, live("shared_buffers", "16384", "integer", "8kB"), memory=1024 * MB)
    assert (far.status, far.tolerance) == ("drift", None)
    wal = Setting("max_wal_size", "8GB", "8192", "MB", "reload", "why", "wal")
    assert compare(wal, live("max_wal_size", "7680", "integer", "MB"), memory=MB).status == "ok"
    assert compare(wal, live("max_wal_size", "7168", "integer", "MB"), memory=MB).status == "drift"
    jit = rec_setting("jit", "off", "off")
    assert compare(jit, live("jit", "on", "bool"), memory=1024 * MB).status == "drift"


def test_pretty_values_carry_their_unit() -> None:
    assert pretty("131072", "kB", "integer") == "128MB"
    assert pretty("2048", "8kB", "integer") == "16MB"
    assert pretty("1024", "MB", "integer") == "1GB"
    assert pretty("600000", "ms", "integer") == "10min"
    assert pretty("-1", "8kB", "integer") == "-1"
    assert pretty("0.9", None, "real") == "0.9"
    assert pretty(None, "kB", "integer") is None


def test_live_build_reads_what_the_server_accepts() -> None:
    rows = {
        "wal_compression": live(
            "wal_compression", "off", "enum", enumvals=["pglz", "lz4", "zstd", "on", "off"]
        ),
        "io_method": live("io_method", "worker", "enum", enumvals=["sync", "worker"]),
        "ssl_library": live("ssl_library", "OpenSSL", "string"),
    }
    build = live_build(rows)
    assert (build.lz4, build.zstd, build.liburing, build.ssl) == (True, True, False, True)
    pg14 = live_build({"wal_compression": live("wal_compression", "off", "bool")})
    assert (pg14.lz4, pg14.zstd, pg14.liburing, pg14.ssl) == (None, None, None, None)


def _report(comparisons: list[Comparison]) -> CheckReport:
    from pgtune.pg import ServerCapabilities

    caps = ServerCapabilities(150018, "15.18", "postgres", True, True, True, True)
    return CheckReport("host=h password=***", caps, make(), {}, tuple(comparisons), (), (), ())


def test_drift_sql_covers_only_the_differences() -> None:
    sb = Setting("shared_buffers", "512MB", "65536", "8kB", "restart", "why", "memory")
    jit = rec_setting("jit", "off", "off")
    libs = Setting(
        "shared_preload_libraries",
        "pg_stat_statements",
        "pg_stat_statements",
        None,
        "restart",
        "why",
        "security",
    )
    text = drift_sql(
        _report(
            [
                compare(sb, live("shared_buffers", "16384", "integer", "8kB")),
                compare(jit, live("jit", "off", "bool")),
                compare(libs, live("shared_preload_libraries", "auto_explain", "string")),
            ]
        )
    )
    statements = [ln for ln in text.splitlines() if not ln.startswith("--")]
    assert statements == [
        "ALTER SYSTEM SET \"shared_buffers\" = '512MB';",
        "ALTER SYSTEM SET \"shared_preload_libraries\" = 'auto_explain', 'pg_stat_statements';",
        "SELECT pg_catalog.pg_reload_conf();",
    ]
    assert "-- Restart the server to apply: shared_buffers, shared_preload_libraries" in text
    assert "password=***" in text
    quiet = drift_sql(_report([compare(jit, live("jit", "off", "bool"))]))
    assert quiet.count("\n") == 1 and "0 setting(s) differ" in quiet


# ------------------------------------------------------------------------------------------
# Advice (no server)


def db(name: str = "app", hit: int = 0, read: int = 0, files: int = 0, size: int = 0) -> Any:
    return DatabaseStats(name, hit, read, files, size, timedelta(days=2))


def test_cache_hit_ratio_needs_enough_activity_and_depends_on_the_workload() -> None:
    assert health.cache_hit_advice([db(hit=1000, read=500)], "oltp").level == "info"
    low = health.cache_hit_advice([db(hit=970_000, read=30_000)], "oltp")
    assert low.level == "warning" and "97.00%" in low.message and "< 99%" in low.message
    assert health.cache_hit_advice([db(hit=970_000, read=30_000)], "dw").level == "ok"
    summed = health.cache_hit_advice([db("a", 500_000, 0), db("b", 495_000, 5_000)], "web")
    assert summed.level == "ok" and "99.50%" in summed.message


def _live(values: dict[str, str]) -> Any:
    return values.get


def test_temp_files_are_attributed_only_to_what_can_be_seen() -> None:
    now = _live({"work_mem": "4MB", "maintenance_work_mem": "64MB"})
    quiet = health.temp_file_advice([db("a"), db("b")], now)
    assert [a.level for a in quiet] == ["ok"]
    spilled = [db("a"), db("b", files=12, size=3 * 1024**3)]
    # no per-statement source: the facts, and "unknown" -- never a guess at work_mem
    unknown = health.temp_file_advice(spilled, now, TempSources(None, "not installed"))
    assert [a.level for a in unknown] == ["info", "info"]
    assert "'b' wrote 12 temporary files (3 GB) in the last 2.0 days" in unknown[0].message
    assert unknown[1].message.startswith("temporary files from an unknown source")
    assert "raise work_mem" not in " ".join(a.message for a in unknown)
    # a REINDEX is maintenance_work_mem's, a sort work_mem's
    reindex = TempStatement("REINDEX TABLE big", "admin", "b", 1, 3 * 1024**3)
    blamed = health.temp_file_advice(spilled, now, TempSources((reindex,), "pg_stat_statements"))
    assert [a.level for a in blamed] == ["info", "info"]
    assert "maintenance_work_mem (now 64MB), not work_mem" in blamed[1].message
    assert "'REINDEX TABLE big' by role \"admin\": 3 GB in 1 calls" in blamed[1].message
    sort = TempStatement("SELECT * FROM t ORDER BY x", "app", "b", 5, 40 * MB)
    both = health.temp_file_advice(spilled, now, TempSources((reindex, sort), "pg_stat_statements"))
    assert [a.level for a in both] == ["info", "warning", "info"]
    assert "past work_mem (now 4MB) (pg_stat_statements)" in both[1].message
    assert "'SELECT * FROM t ORDER BY x' by role \"app\": 40 MB in 5 calls" in both[1].message


def test_log_temp_files_lines_are_grouped_by_statement() -> None:
    log = [
        '2025-01-01 10:00:00.1 UTC [7] LOG:  temporary file: path "base/pgsql_tmp/a.0", size 100',
        "2025-01-01 10:00:00.1 UTC [7] STATEMENT:  SELECT g FROM t ORDER BY g",
        '2025-01-01 10:00:01.1 UTC [7] LOG:  temporary file: path "base/pgsql_tmp/a.1", size 300',
        "2025-01-01 10:00:01.1 UTC [7] STATEMENT:  SELECT g FROM t ORDER BY g",
        '2025-01-01 10:00:02.1 UTC [8] LOG:  temporary file: path "base/pgsql_tmp/b.0", size 9000',
        "2025-01-01 10:00:02.1 UTC [8] STATEMENT:  CREATE INDEX ON t (g)",
        "2025-01-01 10:00:03.1 UTC [9] LOG:  checkpoint starting: time",
    ]
    found = parse_log(log)
    assert [(s.query, s.calls, s.temp_bytes, s.memory) for s in found] == [
        ("CREATE INDEX ON t (g)", 1, 9000, "maintenance_work_mem"),
        ("SELECT g FROM t ORDER BY g", 2, 400, "work_mem"),
    ]


def test_ratios_are_not_judged_over_a_young_window() -> None:
    low = [db(hit=947_000, read=53_000)]  # 94.7%, the figure after a restart
    young = health.cache_hit_advice(low, "oltp", timedelta(minutes=3))
    assert young.level == "info"
    assert "94.70%" in young.message and "the server started 3 min ago" in young.message
    reset = [DatabaseStats("app", 947_000, 53_000, 0, 0, timedelta(minutes=20))]
    assert "reset 20 min ago" in health.cache_hit_advice(reset, "oltp", timedelta(days=3)).message
    assert health.cache_hit_advice(low, "oltp", timedelta(days=3)).level == "warning"


def test_requested_checkpoints_over_ten_percent_ask_for_more_wal() -> None:
    assert health.checkpoint_advice(CheckpointStats(1, 2, None), "1GB").level == "info"
    warn = health.checkpoint_advice(CheckpointStats(80, 20, timedelta(hours=5)), "1GB")
    assert warn.level == "warning"
    assert "20 of 100 checkpoints requested" in warn.message and "(now 1GB)" in warn.message
    assert health.checkpoint_advice(CheckpointStats(95, 5, None), "4GB").level == "ok"


def test_connection_use_over_eighty_percent_warns() -> None:
    assert health.connection_advice(ConnectionStats(81, 0, 100, 3)).level == "warning"
    ok = health.connection_advice(ConnectionStats(60, 20, 100, 3))
    assert ok.level == "ok" and "80 of max_connections 100" in ok.message
    assert "hidden without pg_read_all_stats" in ok.message


def test_every_advice_is_one_line() -> None:
    items: list[Advice] = [
        health.cache_hit_advice([db(hit=10**6, read=10**5)], "oltp"),
        *health.temp_file_advice([db(files=1, size=10)], _live({})),
        health.checkpoint_advice(CheckpointStats(1, 9, None), None),
        health.connection_advice(ConnectionStats(99, 1, 100, 3)),
    ]
    assert all("\n" not in a.message for a in items)


# ------------------------------------------------------------------------------------------
# Command line (no server)


def test_unreachable_server_is_a_one_line_usage_error_without_the_password() -> None:
    port = free_port()
    for dsn in (
        f"host=127.0.0.1 port={port} user=u password=Sup3rSecret dbname=x",
        f"postgresql://u:Sup3rSecret@127.0.0.1:{port}/x",
    ):
        result = cli("--dsn", dsn, *HW, "--connect-timeout", "3")
        assert result.exit_code == 2, result.output
        assert "Sup3rSecret" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pgtune: error: cannot connect to")
        assert "password=***" in lines[0] and "Connection refused" in lines[0]


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:Sup3rSecret@h/db extra",
        "password=Sup3rSecret hostx",
        "password='Sup3rSecret",
        "postgresql://u:Sup3rSecret@h/db?nosuch=1",
    ],
)
def test_malformed_dsn_is_rejected_without_echoing_the_password(dsn: str) -> None:
    result = cli("--dsn", dsn, *HW)
    assert result.exit_code == 2
    assert "Sup3rSecret" not in result.output
    assert result.stderr.startswith("pgtune: error: invalid DSN")


def test_bad_flags_fail_before_connecting() -> None:
    result = cli("--dsn", f"host=127.0.0.1 port={free_port()}", "--memory", "banana")
    assert result.exit_code == 2 and "invalid size 'banana'" in result.stderr
    assert cli("--memory", "1GB").exit_code == 2  # --dsn is required


def test_help_documents_the_exit_codes_without_importing_psycopg() -> None:
    result = runner.invoke(app, ["check", "--help"])
    assert result.exit_code == 0
    assert "--dsn" in result.stdout and "--sql" in result.stdout and "Exit 0" in result.stdout
    code = (
        "import sys; from pgtune.cli.app import app; sys.argv = ['pgtune', 'check', '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ------------------------------------------------------------------------------------------
# Real servers


def _generated_conf(cluster: Cluster, *extra: str) -> str:
    result = runner.invoke(
        app,
        [
            "generate",
            *HW,
            *extra,
            "--pg-version",
            str(cluster.major),
            "--pg-config",
            str(cluster.binaries.exe("pg_config")),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_stock_server_drifts_and_the_sql_fixes_it(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    code, doc = check_json(cluster, "--pg-stat-statements")
    assert code == 1
    assert doc["format_version"] == 1 and doc["server"]["major"] == major
    settings = by_name(doc)
    sb = settings["shared_buffers"]
    assert (sb["status"], sb["live"], sb["recommended"], sb["applies"]) == (
        "drift",
        "128MB",
        "256MB",
        "restart",
    )
    assert settings["shared_preload_libraries"]["status"] == "drift"
    assert not doc["unreadable"]
    assert {a["topic"] for a in doc["advice"]} >= {
        "cache_hit_ratio",
        "temp_files",
        "checkpoints",
        "connections",
    }

    table = cli("--dsn", dsn_of(cluster), *HW)
    assert table.exit_code == 1
    assert any(
        line.split()[:2] == ["shared_buffers", "128MB"] and line.split()[-1] == "drift"
        for line in table.stdout.splitlines()
    )
    assert "settings differ" in table.stdout and "advice:" in table.stdout

    fix = cli("--dsn", dsn_of(cluster), *HW, "--pg-stat-statements", "--sql")
    assert fix.exit_code == 1
    statements = [ln for ln in fix.stdout.splitlines() if ln and not ln.startswith("--")]
    drifting = {s["name"] for s in doc["settings"] if s["status"] == "drift"}
    assert len(statements) == len(drifting) + 1
    assert all(f'"{name}"' in fix.stdout for name in drifting)
    with cluster.connect() as conn:
        for stmt in statements:
            conn.execute(stmt.encode())
    cluster.restart()
    code, doc = check_json(cluster, "--pg-stat-statements")
    assert code == 0, [s for s in doc["settings"] if s["status"] != "ok"]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_server_configured_by_pgtune_is_aligned(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.write_conf(_generated_conf(cluster), mode="include")
    cluster.start()
    pg_config = ["--pg-config", str(cluster.binaries.exe("pg_config"))]
    for extra in (pg_config, []):  # the build from pg_config, or read from the server
        code, doc = check_json(cluster, *extra)
        assert code == 0, [s for s in doc["settings"] if s["status"] != "ok"]
        assert all(s["status"] == "ok" and not s["pending_restart"] for s in doc["settings"])
    table = cli("--dsn", dsn_of(cluster), *HW)
    assert table.exit_code == 0 and "0 of " in table.stdout


@pytest.mark.pg
def test_pooled_server_is_aligned_when_checked_with_the_same_pool_flags(
    pg_cluster_factory: ClusterFactory,
) -> None:
    pool = ["--pgbouncer", "--pool-size", "12", "--database", "app"]
    cluster = pg_cluster_factory(15)
    cluster.write_conf(_generated_conf(cluster, *pool), mode="include")
    cluster.start()
    code, doc = check_json(cluster, *pool)
    assert code == 0, [s for s in doc["settings"] if s["status"] != "ok"]
    assert by_name(doc)["max_connections"]["live"] == str(12 + 2 + 13)
    code, doc = check_json(cluster)  # without them, the pooled sizing is drift
    assert code == 1 and by_name(doc)["max_connections"]["status"] == "drift"


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_pending_restart_is_shown(pg_cluster_factory: ClusterFactory, major: int) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET shared_buffers = '256MB'")  # the recommended value
        conn.execute("ALTER SYSTEM SET log_statement = 'ddl'")  # reload is enough for this one
    cluster.reload()
    code, doc = check_json(cluster)
    settings = by_name(doc)
    assert code == 1
    # the next restart brings the recommended value: judged by it, and shown
    sb = settings["shared_buffers"]
    assert (sb["status"], sb["pending_restart"], sb["applies"]) == ("ok", True, "restart")
    assert (sb["live"], sb["pending"], sb["pending_setting"]) == ("128MB", "256MB", "32768")
    statement = settings["log_statement"]
    assert (statement["status"], statement["pending_restart"]) == ("ok", False)
    table = cli("--dsn", dsn_of(cluster), *HW)
    row = next(ln for ln in table.stdout.splitlines() if ln.startswith("shared_buffers "))
    assert row.split()[-3:] == ["restart", "256MB", "ok"]
    assert (
        "pending restart (the files already changed them): shared_buffers (128MB -> 256MB)"
        in table.stdout
    )


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_monitoring_and_unprivileged_roles(pg_cluster_factory: ClusterFactory, major: int) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    view = "pg_stat_checkpointer" if major >= 17 else "pg_stat_bgwriter"
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE watcher LOGIN IN ROLE pg_monitor")
        conn.execute("CREATE ROLE nobody LOGIN")
        conn.execute(f"REVOKE SELECT ON pg_catalog.{view} FROM PUBLIC")
        conn.execute(f"GRANT SELECT ON pg_catalog.{view} TO pg_monitor")

    code, doc = check_json(cluster, user="watcher")
    assert code == 1
    assert doc["server"]["superuser"] is False and doc["server"]["pg_monitor"] is True
    assert doc["unreadable"] == []
    assert all(s["status"] != "unreadable" for s in doc["settings"])
    assert len(doc["advice"]) >= 4

    code, doc = check_json(cluster, "--pg-stat-statements", user="nobody")
    assert code == 1  # what it could read still drifts
    settings = by_name(doc)
    for name in ("shared_preload_libraries", "ssl_min_protocol_version"):
        assert settings[name]["status"] == "unreadable" and settings[name]["live"] is None
    unreadable = {u["name"]: u for u in doc["unreadable"]}
    assert "pg_read_all_settings" in unreadable["shared_preload_libraries"]["reason"]
    assert unreadable[view]["kind"] == "view"
    assert "permission denied" in unreadable[view]["reason"]
    assert not advice_of(doc, "checkpoints") and advice_of(doc, "connections")

    table = cli("--dsn", dsn_of(cluster, "nobody"), *HW, "--pg-stat-statements")
    assert table.exit_code == 1
    assert "could not read:" in table.stdout and "(not readable)" in table.stdout
    assert "could not read 3 item(s) as 'nobody'" in table.stderr


def _value(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _poll(conn: psycopg.Connection[Any], query: str, timeout: float = 60) -> Any:
    """The query's value once it is truthy (statistics arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while not (value := _value(conn, query)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_checkpoint_advice_fires_when_wal_forces_checkpoints(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.write_conf("max_wal_size = '32MB'\nmin_wal_size = '32MB'\n")
    cluster.start()
    counter = (
        "SELECT num_requested FROM pg_catalog.pg_stat_checkpointer"
        if major >= 17
        else "SELECT checkpoints_req FROM pg_catalog.pg_stat_bgwriter"
    )
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE filler (id int, pad text)")
        deadline = time.monotonic() + 120
        while _value(conn, counter) < health.MIN_CHECKPOINTS:  # ~25 MB of WAL per round
            assert time.monotonic() < deadline, "no requested checkpoints"
            conn.execute(
                "INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 100000) g"
            )
    _, doc = check_json(cluster)
    [advice] = advice_of(doc, "checkpoints")
    assert advice["level"] == "warning", advice
    assert "raise max_wal_size (manual" in advice["message"] and "(now 32MB)" in advice["message"]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_temp_file_advice_fires_after_a_spilling_sort(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC").fetchall()
    with cluster.connect() as conn:  # statistics arrive when the sorting backend exits
        query = "SELECT temp_files FROM pg_catalog.pg_stat_database WHERE datname = 'postgres'"
        assert _poll(conn, query) > 0
    _, doc = check_json(cluster)
    facts, unknown = advice_of(doc, "temp_files")  # no pg_stat_statements, no --log
    assert facts["level"] == "info" and "database 'postgres' wrote" in facts["message"]
    assert unknown["level"] == "info" and "unknown source" in unknown["message"]
    assert "pg_stat_statements is not installed" in unknown["message"]


@pytest.mark.pg
def test_too_old_server_is_refused(
    pg_cluster_factory: ClusterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = pg_cluster_factory(15)
    cluster.start()
    monkeypatch.setattr(
        "pgtune.pg._VERSION_QUERY", "SELECT 120022 AS version_num, '12.22' AS version"
    )
    result = cli("--dsn", dsn_of(cluster), *HW)
    assert result.exit_code == 2
    assert result.stderr == (
        "pgtune: error: server 12.22 is too old: pgtune supports PostgreSQL 13 to 18\n"
    )


@pytest.mark.pg
def test_shared_buffers_follow_the_size_the_server_reports(
    pg_cluster_factory: ClusterFactory,
) -> None:
    cluster = pg_cluster_factory(15)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute(
            "CREATE TABLE filler AS SELECT g AS id, repeat('x', 200) AS pad"
            " FROM generate_series(1, 500000) AS g"
        )
        conn.execute("CREATE ROLE outsider LOGIN")
        conn.execute("CREATE DATABASE private")
    with cluster.connect(autocommit=True) as conn:
        conn.execute("REVOKE CONNECT ON DATABASE private FROM PUBLIC")
        size = _value(conn, "SELECT sum(pg_database_size(oid))::bigint FROM pg_database")
    # 25% of 512MB (128MB) cannot hold ~150MB; 40% can. --storage keeps the check from
    # measuring the (local) data directory, so the size comes from the server.
    hw = ["--memory", "512MB", "--cpus", "2", "--storage", "ssd", "--format", "json"]
    doc = json.loads(cli("--dsn", dsn_of(cluster), *hw).stdout)
    sb = by_name(doc)["shared_buffers"]
    assert "pg_database_size on the server" in sb["reason"]
    assert parse_size(sb["recommended"]) >= size > 128 * MB
    # a role that cannot read every database's size gets the plain share, not a partial sum
    doc = json.loads(cli("--dsn", dsn_of(cluster, "outsider"), *hw).stdout)
    sb = by_name(doc)["shared_buffers"]
    assert parse_size(sb["recommended"]) == 128 * MB
    assert "databases" not in sb["reason"]
