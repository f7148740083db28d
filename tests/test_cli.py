"""The command line as a user meets it: help, formats, files, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pgtune import __version__
from pgtune.cli.app import app

runner = CliRunner()
FIXED = ["--memory", "16GB", "--cpus", "4", "--storage", "ssd", "--pg-version", "15"]


def run(*args: str) -> "CliRunner.invoke":  # type: ignore[valid-type]
    return runner.invoke(app, list(args))


def test_version_and_help_on_every_command() -> None:
    assert run("--version").stdout.strip() == f"pgtune {__version__}"
    for command in ([], ["generate"], ["detect"]):
        for flag in ("-h", "--help"):
            result = run(*command, flag)
            assert result.exit_code == 0, result.output
            assert "Usage:" in result.stdout


def test_python_dash_m_works() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pgtune", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"pgtune {__version__}"


def test_generate_prints_conf_and_the_budget_on_stderr() -> None:
    result = run("generate", *FIXED, "--workload", "web")
    assert result.exit_code == 0, result.output
    assert "shared_buffers = 4GB" in result.stdout
    assert "modelled peak" in result.stderr and "of 16 GB" in result.stderr
    assert "modelled peak" not in result.stdout.split("Memory budget:")[0]


def test_json_is_complete_for_every_setting() -> None:
    result = run("generate", *FIXED, "--format", "json", "-q")
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    assert doc["inputs"]["memory_source"] == "--memory"
    assert doc["budget"]["peak_bytes"] <= doc["budget"]["limit_bytes"]
    for name, entry in doc["settings"].items():
        assert set(entry) >= {"value", "setting", "unit", "applies", "reason"}, name
        assert entry["applies"] in ("reload", "restart")
    assert doc["settings"]["shared_buffers"]["applies"] == "restart"
    assert "shared_buffers" in doc["restart_required"]


def test_yaml_holds_the_same_document_as_json() -> None:
    as_json = json.loads(run("generate", *FIXED, "--format", "json", "-q").stdout)
    as_yaml = yaml.safe_load(run("generate", *FIXED, "--format", "yaml", "-q").stdout)
    assert as_yaml == as_json


def test_sql_format_is_alter_system_with_quoted_literals() -> None:
    result = run(
        "generate",
        *FIXED,
        "--format",
        "sql",
        "-q",
        "--ssl-cert",
        "/x/it's.crt",
        "--ssl-key",
        "/x/k.key",
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("ALTER SYSTEM")]
    assert "ALTER SYSTEM SET \"shared_buffers\" = '4GB';" in lines
    assert any("'/x/it''s.crt'" in ln for ln in lines)
    assert result.stdout.rstrip().splitlines()[-2] == "SELECT pg_catalog.pg_reload_conf();"


def test_output_file_is_written_never_silently_replaced_and_backed_up(tmp_path: Path) -> None:
    target = tmp_path / "pgtune.conf"
    assert run("generate", *FIXED, "-q", "-o", str(target)).exit_code == 0
    first = target.read_text()
    assert "shared_buffers = 4GB" in first

    refused = run("generate", *FIXED[:-2], "--pg-version", "16", "-q", "-o", str(target))
    assert refused.exit_code == 4
    assert "--force" in refused.stderr
    assert target.read_text() == first

    replaced = run(
        "generate", *FIXED[:-2], "--pg-version", "16", "-q", "-o", str(target), "--force"
    )
    assert replaced.exit_code == 0
    backups = list(tmp_path.glob("pgtune.conf.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == first
    assert "PostgreSQL 16" in target.read_text()
    assert not list(tmp_path.glob(".pgtune.conf.*"))  # no temporary file left behind


def test_unwritable_output_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.conf"
    result = run("generate", *FIXED, "-q", "-o", str(missing))
    assert result.exit_code == 4
    assert result.stderr.startswith("pgtune: error:")
    if os.geteuid() != 0:  # root ignores directory permissions
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = run("generate", *FIXED, "-q", "-o", str(locked / "x.conf"))
        assert result.exit_code == 4
        assert list(locked.iterdir()) == []


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--workload", "gaming"], 2, "unknown workload 'gaming'"),
        (["--memory", "banana"], 2, "invalid size 'banana'"),
        (["--cpus", "0"], 2, "--cpus 0"),
        (["--pg-version", "9"], 2, "unsupported PostgreSQL version 9"),
        (["--storage", "floppy"], 2, "invalid --storage 'floppy'"),
        (["--profile", "huge"], 2, "unknown profile 'huge'"),
        (["--max-connections", "100000"], 5, "so that max_connections is at most"),
        (["--ssl-cert", "/a.crt"], 2, "--ssl-cert and --ssl-key go together"),
        (["--format", "xml"], 2, "xml"),
        (["--pg-config", "/bin/true"], 2, "is not a working pg_config"),
        (
            ["--pg-version", "16", "--pg-config", "tests/data/pg_config/pg_config-17"],
            2,
            "is PostgreSQL 17, not 16",
        ),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(args: list[str], code: int, words: str) -> None:
    base = ["--memory", "16GB", "--cpus", "4", "--storage", "ssd"]
    result = run("generate", *base, *args)
    assert result.exit_code == code, result.output
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_broken_profiles_dir_is_a_data_error(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parent.parent / "profiles"
    for f in shipped.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "medium.yaml").write_text("name: medium\nmax_memory: [unclosed\n")
    result = run("generate", *FIXED, "--profiles-dir", str(tmp_path))
    assert result.exit_code == 3
    assert "malformed YAML" in result.stderr and "medium.yaml" in result.stderr

    (tmp_path / "medium.yaml").unlink()
    result = run("generate", *FIXED, "--profiles-dir", str(tmp_path))
    assert result.exit_code == 3 and "medium.yaml" in result.stderr


def test_detect_reports_sources_and_honours_overrides() -> None:
    result = run("detect", "--format", "json", "--memory", "3GB")
    doc = json.loads(result.stdout)
    assert doc["memory_bytes"] == 3 * 1024**3 and doc["memory_source"] == "--memory"
    assert doc["cpus"] >= 1 and doc["cpus_source"]
    assert doc["storage"] in ("hdd", "ssd", "nvme") and doc["storage_source"]
    table = run("detect").stdout
    assert table.splitlines()[0].startswith("memory")


def test_generate_and_help_do_not_import_psycopg() -> None:
    code = (
        "import sys; from pgtune.cli.app import app; sys.argv=['pgtune', *sys.argv[1:]]\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'"
    )
    for args in (
        ["--help"],
        ["generate", *FIXED, "-q"],
        ["generate", *FIXED, "-q", "--format", "json"],
    ):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr


def test_data_size_shapes_shared_buffers_and_bad_sizes_are_usage_errors() -> None:
    held = run("generate", *FIXED, "--workload", "mixed", "--data-size", "5GB", "--format", "json")
    assert held.exit_code == 0, held.output
    doc = json.loads(held.stdout)
    shared_buffers = doc["settings"]["shared_buffers"]
    assert shared_buffers["value"] != "4GB"  # what 16GB gets without --data-size
    assert "holds the databases (at most 5 GB, --data-size" in shared_buffers["reason"]
    assert doc["inputs"]["database_bytes"] == 5 * 1024**3
    bad = run("generate", *FIXED, "--data-size", "lots")
    assert bad.exit_code == 2
    assert "--data-size" in bad.output
    assert "Traceback" not in bad.output


def test_output_into_a_missing_directory_fails_before_anything_is_printed(tmp_path: Path) -> None:
    result = run("generate", *FIXED, "-o", str(tmp_path / "missing" / "pgtune.conf"))
    assert result.exit_code == 4
    assert (
        result.stderr == f"pgtune: error: directory {str(tmp_path / 'missing')!r} does not exist\n"
    )
    existing = tmp_path / "pgtune.conf"
    existing.write_text("keep\n")
    result = run("generate", *FIXED, "-o", str(existing))
    assert result.exit_code == 4
    assert result.stderr.startswith("pgtune: error:") and "note" not in result.stderr
    assert existing.read_text() == "keep\n"


def test_notes_on_stderr_are_one_line_each_and_cut_when_the_output_has_them() -> None:
    result = run("generate", *FIXED, "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["notes"]
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("pgtune: note: ")]
    assert len(lines) == len(doc["notes"])
    assert all(len(ln) <= 100 for ln in lines)
    for line, note in zip(lines, doc["notes"], strict=True):
        assert " ".join(note.split()).startswith(line.removeprefix("pgtune: note: ").rstrip("."))
    if any(ln.endswith("...") for ln in lines):
        assert "the notes in full are in the output" in result.stderr
    quiet = run("generate", *FIXED, "--format", "json", "-q")
    assert quiet.stderr == ""
    # SQL carries no notes: they are printed whole (still one line each)
    sql = run("generate", *FIXED, "--format", "sql")
    full = [ln for ln in sql.stderr.splitlines() if ln.startswith("pgtune: note: ")]
    assert [ln.removeprefix("pgtune: note: ") for ln in full] == [
        " ".join(n.split()) for n in doc["notes"]
    ]


def test_emit_pgbouncer_says_the_server_needs_pgbouncer_too() -> None:
    alone = run("generate", *FIXED, "--emit", "pgbouncer", "-q")
    assert alone.exit_code == 0
    assert "generate the server's configuration with --pgbouncer" in alone.stderr
    server = json.loads(run("generate", *FIXED, "--pgbouncer", "--format", "json").stdout)
    assert f"max_connections = {server['settings']['max_connections']['value']}" in alone.stderr
    paired = run("generate", *FIXED, "--emit", "pgbouncer", "--pgbouncer", "-q")
    assert "warning" not in paired.stderr
