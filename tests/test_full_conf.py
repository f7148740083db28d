"""`generate --full` over an existing postgresql.conf keeps the cluster's locations and port.

Debian's pg_createcluster keeps the configuration in /etc/postgresql/V/NAME and the data
elsewhere: a full file without `data_directory` does not start that cluster, and `port = 5432`
over the cluster's own port moves it. The unit tests hold the parser and the CLI to that; the
`pg` test creates a real cluster with pg_createcluster, writes `--full` over its
postgresql.conf and starts it with pg_ctlcluster.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from conftest import _unavailable, get_pg_binaries
from typer.testing import CliRunner

from pgcluster import free_port
from pgtune.cli.app import app
from pgtune.tuning import render
from pgtune.tuning.conffile import parse_conf, read_kept
from tuning_helpers import make

runner = CliRunner()
HW = ("--memory", "2GB", "--cpus", "2", "--storage", "ssd")

DEBIAN_CONF = """\
# -----------------------------
# PostgreSQL configuration file
# -----------------------------
data_directory = '/srv/pg/14/main'		# use data in another directory
hba_file = '/etc/postgresql/14/main/pg_hba.conf'	# host-based authentication file
ident_file = '/etc/postgresql/14/main/pg_ident.conf'	# ident configuration file
external_pid_file = '/var/run/postgresql/14-main.pid'			# write an extra PID file
#listen_addresses = 'localhost'
port = 5433				# (change requires restart)
max_connections = 100			# (change requires restart)
unix_socket_directories = '/var/run/postgresql'	# comma-separated list of directories
ssl = on
ssl_cert_file = '/etc/ssl/certs/ssl-cert-snakeoil.pem'
ssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'
shared_buffers = 128MB			# min 128kB
dynamic_shared_memory_type = posix	# the default is usually the first option
log_line_prefix = '%m [%p] %q%u@%d '		# special values:
cluster_name = '14/main'			# added to process titles if nonempty
stats_temp_directory = '/var/run/postgresql/14-main.pg_stat_tmp'
timezone = 'Europe/Berlin'
include_if_exists 'local.conf'
include_dir = 'conf.d'			# include files ending in '.conf' from
"""


def _settings(text: str) -> dict[str, str]:
    return parse_conf(text)[0]


def test_parse_conf_reads_values_quotes_and_includes() -> None:
    settings, includes = parse_conf(
        "a = 1\nB='it''s # not a comment' # comment\n  c 'x\\'y'\n#d = 4\nA = 2\n"
        "include 'one.conf'\ninclude_dir conf.d\n= 3\n"
    )
    assert settings == {"a": "2", "b": "it's # not a comment", "c": "x'y"}
    assert includes == [("include", "one.conf"), ("include_dir", "conf.d")]


def test_read_kept_of_a_missing_file_keeps_nothing(tmp_path: Path) -> None:
    kept = read_kept(tmp_path / "none.conf", ssl_given=False, port_given=False, listen_given=False)
    assert kept.settings == () and kept.port is None and kept.notes() == []


def _generate(tmp_path: Path, text: str, *args: str) -> tuple[str, str]:
    conf = tmp_path / "postgresql.conf"
    conf.write_text(text)
    result = runner.invoke(app, ["generate", "--full", *HW, *args, "-o", str(conf), "--force"])
    assert result.exit_code == 0, result.output
    return conf.read_text(), result.stderr


def test_full_keeps_locations_port_locale_tls_and_includes(tmp_path: Path) -> None:
    text, stderr = _generate(tmp_path, DEBIAN_CONF, "--pg-version", "14")
    s = _settings(text)
    assert s["data_directory"] == "/srv/pg/14/main"
    assert s["hba_file"] == "/etc/postgresql/14/main/pg_hba.conf"
    assert s["ident_file"] == "/etc/postgresql/14/main/pg_ident.conf"
    assert s["external_pid_file"] == "/var/run/postgresql/14-main.pid"
    assert s["unix_socket_directories"] == "/var/run/postgresql"
    assert s["cluster_name"] == "14/main"
    assert s["stats_temp_directory"] == "/var/run/postgresql/14-main.pg_stat_tmp"
    assert s["port"] == "5433"
    assert s["listen_addresses"] == "localhost"  # commented out in the old file: the default
    assert s["timezone"] == "Europe/Berlin"
    assert (s["ssl"], s["ssl_cert_file"]) == ("on", "/etc/ssl/certs/ssl-cert-snakeoil.pem")
    assert s["shared_buffers"] != "128MB"  # tuning is pgtune's
    assert s["log_line_prefix"] != "%m [%p] %q%u@%d "
    assert "dynamic_shared_memory_type" not in s
    # the includes come last, in the old order, so conf.d still overrides as before
    tail = [ln for ln in text.splitlines() if ln and not ln.startswith("#")][-2:]
    assert tail == ["include_if_exists = 'local.conf'", "include_dir = 'conf.d'"]
    notes = text[text.index("# --- Notes ---") :]
    assert "kept from the replaced" in notes and "dynamic_shared_memory_type" in notes
    assert "pgtune: note: --full kept from the replaced" in stderr
    assert len(list(tmp_path.glob("postgresql.conf.*.bak"))) == 1


def test_flags_win_over_the_replaced_file(tmp_path: Path) -> None:
    text, _ = _generate(
        tmp_path,
        DEBIAN_CONF,
        "--pg-version",
        "15",
        "--port",
        "6000",
        "--listen-addresses",
        "*",
        "--ssl-cert",
        "new.crt",
        "--ssl-key",
        "new.key",
    )
    s = _settings(text)
    assert (s["port"], s["listen_addresses"]) == ("6000", "*")
    assert (s["ssl_cert_file"], s["ssl_key_file"]) == ("new.crt", "new.key")
    assert "stats_temp_directory" not in s  # gone in PostgreSQL 15: it would stop the server
    assert s["data_directory"] == "/srv/pg/14/main"


def test_listen_addresses_of_the_replaced_file_is_kept(tmp_path: Path) -> None:
    text, _ = _generate(tmp_path, "listen_addresses = '*'\nport = 5440\n", "--pg-version", "16")
    assert (_settings(text)["listen_addresses"], _settings(text)["port"]) == ("*", "5440")


def test_data_dir_gives_data_directory_outside_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    out = runner.invoke(
        app, ["generate", "--full", *HW, "--pg-version", "15", "--data-dir", str(data), "-q"]
    )
    assert out.exit_code == 0, out.output
    assert _settings(out.stdout)["data_directory"] == str(data.resolve())
    # written into the data directory itself: no data_directory line
    out = runner.invoke(
        app,
        ["generate", "--full", *HW, "--pg-version", "15", "--data-dir", str(data),
         "-o", str(data / "postgresql.conf"), "-q"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "data_directory" not in _settings((data / "postgresql.conf").read_text())


def test_an_unreadable_replaced_file_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "postgresql.conf"
    conf.write_text(DEBIAN_CONF)
    conf.chmod(0)
    if os.access(conf, os.R_OK):
        pytest.skip("root reads a mode-0 file")
    result = runner.invoke(app, ["generate", "--full", *HW, "-o", str(conf), "--force"])
    assert result.exit_code == 4
    assert "data_directory" in result.stderr
    assert conf.stat().st_size == len(DEBIAN_CONF)


def test_without_full_nothing_is_kept(tmp_path: Path) -> None:
    conf = tmp_path / "pgtune.conf"
    conf.write_text(DEBIAN_CONF)
    result = runner.invoke(app, ["generate", *HW, "-o", str(conf), "--force", "-q"])
    assert result.exit_code == 0, result.output
    assert "data_directory" not in conf.read_text()


def test_kept_lines_render_alike_without_jinja2() -> None:
    rec = make()
    kept = (("data_directory", "/srv/it's"), ("port_like", "5433"), ("ssl", "on"))
    includes = (("include_dir", "conf.d"), ("include", "/etc/a b.conf"))
    fast = render.render_conf(rec, full=True, kept=kept, includes=includes)
    slow = render._render(
        "postgresql.conf.j2",
        None,
        version=render.__version__,
        full=True,
        inputs=render.inputs_of(rec),
        budget=render.budget_of(rec),
        sections=[
            {"title": t, "settings": [s for s in rec.settings if s.section == k]}
            for k, t in render.SECTIONS.items()
            if any(s.section == k for s in rec.settings)
        ],
        notes=rec.notes,
        options=rec.context.options,
        kept=list(kept),
        includes=list(includes),
    )
    assert fast == slow
    assert "data_directory = '/srv/it''s'\n" in fast
    assert fast.index("include = '/etc/a b.conf'") > fast.index("include_dir = 'conf.d'")


# --- a real Debian cluster ---------------------------------------------------------------

DEBIAN_TOOLS = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "pg_lsclusters")


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.pg
def test_full_over_a_pg_createcluster_cluster_starts_it() -> None:
    get_pg_binaries(15)
    missing = [tool for tool in DEBIAN_TOOLS if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} not found: install postgresql-common (postgresql-15)")
    if os.geteuid() != 0:
        pytest.skip("pg_createcluster writes /etc/postgresql: needs root")
    name = f"pgtune-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    base = Path(tempfile.mkdtemp(prefix="pgtune-debian-"))
    base.chmod(0o755)  # the cluster's owner (postgres) creates its data directory inside
    conf = Path("/etc/postgresql/15") / name / "postgresql.conf"
    try:
        _run("pg_createcluster", "15", name, "-p", str(port), "-d", str(base / "data"))
        result = subprocess.run(
            [sys.executable, "-m", "pgtune", "generate", "--full", *HW, "--workload", "oltp",
             "-o", str(conf), "--force"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        s = _settings(conf.read_text())
        assert s["data_directory"] == str(base / "data")
        assert s["port"] == str(port)
        assert s["hba_file"] == str(conf.parent / "pg_hba.conf")
        _run("pg_ctlcluster", "15", name, "start")
        status = _run("pg_lsclusters", "-h").stdout
        assert re.search(rf"^15\s+{re.escape(name)}\s+{port}\s+online\b", status, re.M), status
        shown = _run(
            "runuser", "-u", "postgres", "--", str(get_pg_binaries(15).exe("psql")),
            "-h", s["unix_socket_directories"], "-p", str(port), "-XAtc",
            "SELECT current_setting('shared_buffers'), current_setting('cluster_name')",
        ).stdout.strip()  # fmt: skip
        assert shown == f"{s['shared_buffers']}|15/{name}"
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", "15", name], capture_output=True, timeout=120, check=False
        )
        shutil.rmtree(base, ignore_errors=True)
        Path(f"/var/log/postgresql/postgresql-15-{name}.log").unlink(missing_ok=True)
        # pg_dropcluster leaves the files it did not create (pgtune's backup) in the directory
        if conf.parent.name == name:
            shutil.rmtree(conf.parent, ignore_errors=True)
    assert not conf.parent.exists()
