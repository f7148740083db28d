"""The real-PostgreSQL test harness itself, on PostgreSQL 15 and 18."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil
import psycopg
import pytest

from pgcluster import (
    Cluster,
    ClusterFactory,
    ClusterStartError,
    ConfigCheckError,
    PgBinaries,
    PgHarnessError,
    iter_postgres_processes,
    wait_gone,
)

pytestmark = pytest.mark.pg


@pytest.fixture
def cluster(pg_cluster_factory: ClusterFactory, pg_binaries: PgBinaries) -> Cluster:
    return pg_cluster_factory(pg_binaries)


def test_binaries_match_major(pg_binaries: PgBinaries) -> None:
    assert f"(PostgreSQL) {pg_binaries.major}." in pg_binaries.version
    assert (pg_binaries.bindir / "postgres").is_file()


def test_include_file_setting_read_back(cluster: Cluster) -> None:
    written = cluster.write_conf("work_mem = '32MB'", mode="include")
    assert written == cluster.data_dir / "conf.d" / "pgtune.conf"
    cluster.start()

    row = cluster.settings(["work_mem"])["work_mem"]
    assert (row.setting, row.unit) == ("32768", "kB")
    assert row.source == "configuration file"
    assert row.sourcefile == str(written)
    assert row.context == "user"
    assert row.vartype == "integer"
    assert row.pending_restart is False
    assert cluster.show("work_mem") == "32MB"


def test_server_uses_private_socket_and_no_tcp(cluster: Cluster) -> None:
    cluster.start()
    rows = cluster.settings(["port", "unix_socket_directories", "listen_addresses"])
    assert rows["port"].setting == str(cluster.port)
    assert rows["unix_socket_directories"].setting == str(cluster.socket_dir)
    assert rows["listen_addresses"].setting == ""
    assert (cluster.socket_dir / f".s.PGSQL.{cluster.port}").exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", connect_timeout=3)


def test_tcp_on_request(pg_cluster_factory: ClusterFactory, pg_binaries: PgBinaries) -> None:
    cluster = pg_cluster_factory(pg_binaries, listen_addresses="127.0.0.1")
    cluster.start()
    with psycopg.connect(
        host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres", connect_timeout=5
    ) as conn:
        row = conn.execute("SELECT inet_server_port()").fetchone()
    assert row == (cluster.port,)


def test_check_config_huge_value_without_server(cluster: Cluster) -> None:
    cluster.write_conf("shared_buffers = '64GB'\nmax_wal_size = '16GB'", mode="include")
    # postgres -C prints the base unit without the unit: 64GB = 8388608 pages of 8kB
    values = cluster.check_config(["shared_buffers", "max_wal_size", "work_mem"])
    assert values == {"shared_buffers": "8388608", "max_wal_size": "16384", "work_mem": "4096"}
    assert not cluster.is_running()
    assert not (cluster.data_dir / "postmaster.pid").exists()


def test_check_config_sees_command_line_options(cluster: Cluster) -> None:
    values = cluster.check_config(["port", "listen_addresses", "unix_socket_directories"])
    assert values == {
        "port": str(cluster.port),
        "listen_addresses": "",
        "unix_socket_directories": str(cluster.socket_dir),
    }


def test_check_config_rejects_invalid_value(cluster: Cluster) -> None:
    cluster.write_conf("work_mem = 'banana'", mode="include")
    with pytest.raises(ConfigCheckError) as info:
        cluster.check_config(["work_mem"])
    message = str(info.value)
    assert 'invalid value for parameter "work_mem": "banana"' in message
    assert "contains errors" in message
    assert info.value.name == "work_mem"
    assert info.value.returncode != 0
    assert "banana" in info.value.stderr


def test_check_config_rejects_unknown_parameter(cluster: Cluster) -> None:
    cluster.write_conf("no_such_parameter = 1")
    with pytest.raises(ConfigCheckError, match='unrecognized configuration parameter "no_such_'):
        cluster.check_config(["shared_buffers"])


def test_check_config_refuses_running_server(cluster: Cluster) -> None:
    cluster.start()
    with pytest.raises(PgHarnessError, match="running"):
        cluster.check_config(["work_mem"])


def test_replace_mode_keeps_harness_options(cluster: Cluster) -> None:
    cluster.write_conf("max_connections = 20\nwork_mem = '8MB'\n", mode="replace")
    assert cluster.conf_file.read_text() == "max_connections = 20\nwork_mem = '8MB'\n"
    cluster.start()
    rows = cluster.settings(["max_connections", "work_mem", "port", "TimeZone"])
    assert rows["max_connections"].setting == "20"
    assert rows["work_mem"].setting == "8192"
    assert rows["port"].source == "command line"
    # TimeZone came from the replaced file's initdb defaults; now it is the built-in default
    assert rows["TimeZone"].source in {"default", "environment variable", "override"}


def test_append_then_reload_and_restart(cluster: Cluster) -> None:
    cluster.start()
    cluster.write_conf("work_mem = '16MB'\nmax_connections = 42")
    cluster.reload()
    rows = cluster.settings(["work_mem", "max_connections"])
    assert rows["work_mem"].setting == "16384"
    assert rows["max_connections"].setting == "100"
    assert rows["max_connections"].pending_restart is True
    cluster.restart()
    rows = cluster.settings(["max_connections"])
    assert rows["max_connections"].setting == "42"
    assert rows["max_connections"].pending_restart is False


def test_start_failure_reports_server_log(cluster: Cluster) -> None:
    # valid syntax, rejected only by the postmaster: more reserved than total connections
    cluster.write_conf("max_connections = 5\nsuperuser_reserved_connections = 10")
    with pytest.raises(ClusterStartError) as info:
        cluster.start(timeout=30)
    assert "superuser_reserved_connections" in str(info.value)
    assert "superuser_reserved_connections" in info.value.log_tail
    assert not cluster.is_running()


def test_pg_stat_statements_preloads(cluster: Cluster) -> None:
    cluster.write_conf(
        "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.max = 10000",
        mode="include",
    )
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        row = conn.execute("SELECT count(*) >= 0 FROM pg_stat_statements").fetchone()
    assert row == (True,)
    assert cluster.settings(["pg_stat_statements.max"])["pg_stat_statements.max"].setting == (
        "10000"
    )


def test_settings_unknown_name(cluster: Cluster) -> None:
    cluster.start()
    with pytest.raises(KeyError, match="no_such_setting"):
        cluster.settings(["work_mem", "no_such_setting"])
    assert list(cluster.settings(["work_mem", "no_such_setting"], missing_ok=True)) == ["work_mem"]


def test_cleanup_leaves_no_processes(
    pg_cluster_factory: ClusterFactory, pg_binaries: PgBinaries
) -> None:
    cluster = pg_cluster_factory(pg_binaries)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("SELECT 1")
        # an idle session still open while the cluster is torn down
        procs = cluster.processes()
        assert len(procs) >= 3
        assert all(p.username() == cluster.user.name for p in procs)
        cluster.cleanup()
    assert wait_gone(procs, timeout=0) == []
    assert list(iter_postgres_processes(cluster.data_dir)) == []
    assert not cluster.base_dir.exists()
    cluster.cleanup()  # idempotent


def _shared_memory_of(procs: list[psutil.Process]) -> tuple[set[Path], set[int]]:
    """POSIX DSM files and System V shm keys mapped by the cluster's processes."""
    files: set[Path] = set()
    keys: set[int] = set()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            for region in proc.memory_maps(grouped=True):
                if region.path.startswith("/dev/shm/PostgreSQL."):
                    files.add(Path(region.path))
                elif region.path.startswith("/SYSV"):
                    keys.add(int(region.path[5:13], 16))
    return files, keys


def _sysv_keys() -> set[int]:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines}


def test_cleanup_after_postmaster_killed(cluster: Cluster) -> None:
    cluster.start()
    procs = cluster.processes()
    files, keys = _shared_memory_of(procs)
    assert files and keys
    procs[0].kill()  # the postmaster: children notice and exit on their own
    assert wait_gone(procs[:1]) == []
    cluster.write_conf("work_mem = 'banana'")  # crash cleanup must not depend on the config
    cluster.cleanup()
    assert wait_gone(procs) == []
    assert not cluster.base_dir.exists()
    # the shared memory of the killed postmaster was released, not leaked
    assert {f for f in files if f.exists()} == set()
    assert keys & _sysv_keys() == set()


def test_context_manager_cleans_up(pg_binaries: PgBinaries) -> None:
    with Cluster(pg_binaries) as cluster:
        cluster.initdb()
        cluster.start()
        procs = cluster.processes()
    assert wait_gone(procs) == []
    assert not cluster.base_dir.exists()
