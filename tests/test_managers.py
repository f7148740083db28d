"""--format patroni / patroni-dcs / cnpg: pgtune's settings in a cluster manager's format.

Patroni (from PyPI, in the test extra) validates the merged patroni.yml with
``patroni --validate-config`` and keeps every value when it loads the dynamic configuration;
the CloudNativePG fragment parses into the shape of a Cluster and never carries a parameter the
operator fixes (the list: pgtune/managers.yaml, from CloudNativePG's source and docs).
"""

import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pgtune.cli.app import app
from pgtune.tuning.managers import managers

ROOT = Path(__file__).resolve().parent.parent
HW = ("--memory", "16GB", "--cpus", "4", "--storage", "ssd")
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# CloudNativePG's FixedConfigurationParameters (pkg/postgres/configuration.go, main) as read when
# managers.yaml was written: the shipped list must keep every one of them.
CNPG_SOURCE_FIXED = {
    "allow_system_table_mods", "archive_mode", "bonjour", "bonjour_name", "cluster_name",
    "config_file", "data_directory", "data_sync_retry", "event_source", "external_pid_file",
    "hba_file", "hot_standby", "ident_file", "jit_provider", "listen_addresses",
    "logging_collector", "port", "primary_conninfo", "primary_slot_name", "recovery_target",
    "recovery_target_action", "recovery_target_inclusive", "recovery_target_lsn",
    "recovery_target_name", "recovery_target_time", "recovery_target_timeline",
    "recovery_target_xid", "restore_command", "shared_preload_libraries", "temp_tablespaces",
    "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
    "archive_cleanup_command", "archive_command", "log_destination", "log_directory",
    "log_file_mode", "log_filename", "log_rotation_age", "log_rotation_size",
    "log_truncate_on_rotation", "pg_failover_slots.primary_dsn",
    "pg_failover_slots.standby_slot_names", "promote_trigger_file", "recovery_end_command",
    "recovery_min_apply_delay", "restart_after_crash", "ssl", "ssl_ca_file", "ssl_cert_file",
    "ssl_crl_file", "ssl_dh_params_file", "ssl_ecdh_curve", "ssl_key_file",
    "ssl_passphrase_command", "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers", "stats_temp_directory", "synchronous_standby_names",
    "synchronized_standby_slots", "syslog_facility", "syslog_ident", "syslog_sequence_numbers",
    "syslog_split_messages",
}  # fmt: skip

# Flag sets that together make pgtune emit everything it can.
VARIANTS = [
    (*HW, "--pg-version", "13"),
    (*HW, "--pg-version", "17", "--ssl-cert", "/etc/ssl/s.crt", "--ssl-key", "/etc/ssl/s.key",
     "--ssl-ca", "/etc/ssl/ca.crt", "--pg-stat-statements"),
    (*HW, "--pg-version", "18", "--io-method", "io_uring", "--pgbouncer", "--workload", "dw"),
    ("--memory", "2GB", "--cpus", "1", "--storage", "hdd", "--pg-version", "16",
     "--workload", "web"),
]  # fmt: skip


def _generate(*args: str) -> str:
    result = CliRunner().invoke(app, ["generate", "-q", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _settings(*args: str) -> dict[str, dict[str, Any]]:
    import json

    doc = json.loads(_generate(*args, "--format", "json"))
    settings: dict[str, dict[str, Any]] = doc["settings"]
    return settings


@pytest.mark.parametrize("args", VARIANTS)
def test_patroni_shape_and_what_is_left_out(args: tuple[str, ...]) -> None:
    text = _generate(*args, "--format", "patroni")
    doc = yaml.safe_load(text)
    assert set(doc) == {"bootstrap", "postgresql"}
    cluster = doc["bootstrap"]["dcs"]["postgresql"]["parameters"]
    local = doc["postgresql"]["parameters"]
    m = managers()
    emitted = _settings(*args)
    # every setting is somewhere, once, except what Patroni manages
    expected = {k for k in emitted if k not in m.patroni_managed}
    assert set(cluster) | set(local) == expected
    assert not set(cluster) & set(local)
    assert set(local) <= m.patroni_node_local
    assert not set(local) & set(m.patroni_dcs_only)  # Patroni ignores those locally
    for name, value in {**cluster, **local}.items():
        assert str(value) == emitted[name]["value"], name
        assert not isinstance(value, bool | float), (name, value)
    # the hot-standby-sensitive ones are flagged on their line
    for name in cluster:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{name}:"))
        assert ("# replicas: equal or greater" in line) == (name in m.replicas_equal_or_greater)


def test_patroni_dcs_is_what_edit_config_applies() -> None:
    args = (*HW, "--pg-version", "17", "--ssl-cert", "/etc/s.crt", "--ssl-key", "/etc/s.key")
    full = yaml.safe_load(_generate(*args, "--format", "patroni"))
    text = _generate(*args, "--format", "patroni-dcs")
    dcs = yaml.safe_load(text)
    assert dcs == {
        "postgresql": {"parameters": full["bootstrap"]["dcs"]["postgresql"]["parameters"]}
    }
    assert "ssl_cert_file" in text  # named in a comment: it belongs to each node's patroni.yml
    assert "ssl_cert_file" not in dcs["postgresql"]["parameters"]


def test_patroni_refuses_a_value_patroni_would_replace() -> None:
    result = CliRunner().invoke(
        app, ["generate", "-q", *HW, "--max-connections", "20", "--format", "patroni"]
    )
    assert result.exit_code == 2
    assert "max_connections = 20 is below Patroni's minimum 25" in result.stderr


@contextlib.contextmanager
def _fake_dcs() -> Iterator[str]:
    """A TCP listener standing in for etcd: Patroni's validator only checks that it answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        server.close()


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    if found.is_file():
        return str(found)
    path = shutil.which(name)
    assert path, f"{name} not found: install the test extra (pip install -e '.[test]')"
    return path


def test_patroni_example_validates_with_patroni(tmp_path: Path) -> None:
    """examples/patroni/run.sh, offline: the etcd3 hosts point at a local stand-in, the binaries
    at PostgreSQL 15's; Patroni validates the merged file and keeps every value."""
    from patroni.config import Config

    out = tmp_path / "patroni.yml"
    with _fake_dcs() as dcs:
        env = {
            **os.environ,
            "PATH": f"{Path(_tool('patroni')).parent}{os.pathsep}{os.environ['PATH']}",
            "PGTUNE": _tool("pgtune"),
            "PYTHON": sys.executable,
            "PATRONI_ETCD3_HOSTS": dcs,
            "PATRONI_POSTGRESQL_BIN_DIR": str(PG_BIN),
            "PATRONI_POSTGRESQL_DATA_DIR": str(tmp_path / "data"),
        }
        run = subprocess.run(
            [str(ROOT / "examples/patroni/run.sh"), str(out), "--", *HW, "--pg-version", "15"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "valid Patroni configuration" in run.stdout
        # A broken file is refused: the validation is real.
        bad = tmp_path / "bad.yml"
        bad.write_text(out.read_text().replace("bin_dir:", "bin_dir: /nonexistent\n  x_bin_dir:"))
        refused = subprocess.run(
            [_tool("patroni"), "--validate-config", "-i", str(bad)],
            env={**env, "PATRONI_POSTGRESQL_BIN_DIR": "/nonexistent"},
            capture_output=True,
            text=True,
        )
        assert refused.returncode != 0
    doc = yaml.safe_load(out.read_text())
    wanted = doc["bootstrap"]["dcs"]["postgresql"]["parameters"]
    assert wanted["shared_buffers"] == "4GB"
    assert doc["scope"] == "demo"  # the base file's own settings survive the merge
    config = Config(str(out), validator=None)
    assert config.set_dynamic_configuration(doc["bootstrap"]["dcs"])
    effective = config["postgresql"]["parameters"]
    assert {k: str(effective[k]) for k in wanted} == {k: str(v) for k, v in wanted.items()}


def test_patroni_would_replace_a_low_value(caplog: pytest.LogCaptureFixture) -> None:
    """Why pgtune refuses max_connections < 25: Patroni swaps in its default, silently."""
    from patroni.config import Config

    with caplog.at_level(logging.WARNING):
        params = Config._process_postgresql_parameters({"max_connections": 20}, is_local=False)
    assert "max_connections" not in params
    assert "failed validation" in caplog.text


@pytest.mark.parametrize("args", VARIANTS)
def test_cnpg_shape_and_no_fixed_parameter(args: tuple[str, ...]) -> None:
    text = _generate(*args, "--format", "cnpg")
    doc = yaml.safe_load(text)
    assert set(doc) == {"spec"}
    assert set(doc["spec"]) == {"resources", "postgresql"}
    resources = doc["spec"]["resources"]
    assert resources["requests"] == resources["limits"]
    memory = args[args.index("--memory") + 1].replace("GB", "Gi")
    assert resources["limits"] == {"memory": memory, "cpu": args[args.index("--cpus") + 1]}
    params = doc["spec"]["postgresql"]["parameters"]
    assert set(doc["spec"]["postgresql"]) == {"parameters"}
    assert all(isinstance(v, str) for v in params.values())  # CloudNativePG takes strings only
    emitted = _settings(*args)
    fixed = managers().cnpg_fixed
    assert not set(params) & fixed
    assert set(params) == {k for k in emitted if k not in fixed}
    assert {k: v for k, v in params.items()} == {k: emitted[k]["value"] for k in params}
    left = {k for k in emitted if k in fixed}
    if left:
        line = next(ln for ln in text.splitlines() if ln.startswith("# Left out"))
        assert set(re.findall(r"[a-z_.]*[a-z_]", line.split(":", 1)[1])) == left


def test_cnpg_fixed_list_holds_cloudnativepg_s_own() -> None:
    fixed = managers().cnpg_fixed
    assert fixed >= CNPG_SOURCE_FIXED
    # and what pgtune would emit with TLS on and pg_stat_statements is indeed left out
    args = VARIANTS[1]
    params = yaml.safe_load(_generate(*args, "--format", "cnpg"))["spec"]["postgresql"]
    emitted = _settings(*args)
    for name in ("ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file"):
        assert name in emitted and name not in params["parameters"]
    if "shared_preload_libraries" in emitted:
        assert "shared_preload_libraries" not in params["parameters"]


def test_cnpg_example_merges_into_a_cluster(tmp_path: Path) -> None:
    out = tmp_path / "cluster-tuned.yaml"
    env = {**os.environ, "PGTUNE": _tool("pgtune"), "PYTHON": sys.executable}
    run = subprocess.run(
        [str(ROOT / "examples/cnpg/run.sh"), str(out), "--", *HW, "--pg-version", "17"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    cluster = yaml.safe_load(out.read_text())
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1" and cluster["kind"] == "Cluster"
    spec = cluster["spec"]
    assert spec["instances"] == 3 and spec["postgresql"]["pg_hba"]  # the base survives
    assert spec["resources"]["limits"] == {"memory": "16Gi", "cpu": "4"}
    assert spec["postgresql"]["parameters"]["shared_buffers"] == "4GB"
    assert not set(spec["postgresql"]["parameters"]) & managers().cnpg_fixed
