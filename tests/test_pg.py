"""The shared floor for live servers: DSN redaction, connection errors, capabilities, and the
catalog query files. The password must never appear in any message or output.
"""

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from psycopg import sql
from typer.testing import CliRunner

from pgcluster import Cluster, ClusterFactory, free_port
from pgtune import pg
from pgtune.cli.app import app

SECRET = "Sup3r$ecret:@/'pw"  # every character a DSN parser cares about
QUERIES = Path(str(files("pgtune.tuning").joinpath("queries")))


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:Sup3rSecret@db.example:5432/app",
        "postgres://u:Sup3r%40Secret@h1,h2/app?sslmode=require",
        "postgresql://db.example/app?password=Sup3rSecret&sslmode=require",
        "host=db.example user=u password=Sup3rSecret dbname=app",
        "host=db.example password = 'Sup3r Secret' dbname=app",
        "host=db.example PASSWORD=Sup3rSecret",  # does not parse: masked as text
        "postgresql://u:Sup3rSecret@h/db with spaces",
        "password='Sup3rSecret",
    ],
)
def test_redact_dsn_masks_the_password_in_every_form(dsn: str) -> None:
    redacted = pg.redact_dsn(dsn)
    assert "Sup3r" not in redacted and "Secret" not in redacted
    assert pg.MASK in redacted


def test_redact_dsn_keeps_a_dsn_without_password() -> None:
    assert pg.redact_dsn("host=/tmp port=5433 dbname=x") == "host=/tmp port=5433 dbname=x"
    assert pg.redact_dsn("") == ""


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:Sup3rSecret@h/db extra",
        "password=Sup3rSecret hostx",
        "user=u password=Sup3rSecret nosuchoption=1",
        "postgresql://u:Sup3rSecret@h/db?nosuch=1",
        "postgresql://u:Sup3rSecret@h/%zz",
    ],
)
def test_connect_errors_are_one_line_and_never_show_the_password(dsn: str) -> None:
    with pytest.raises(pg.ConnectError) as caught:
        pg.connect(dsn, timeout=2)
    message = str(caught.value)
    assert "Sup3rSecret" not in message and "\n" not in message
    assert caught.value.exit_code == 2


def test_refused_connection_names_the_server_not_the_password() -> None:
    port = free_port()
    with pytest.raises(pg.ConnectError) as caught:
        pg.connect(f"host=127.0.0.1 port={port} user=u password=Sup3rSecret", timeout=2)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to 'user=u password=*** host=127.0.0.1 port={port}'")
    assert "Connection refused" in message and "Sup3rSecret" not in message
    assert "\n" not in message


def test_sanitize_masks_conninfo_tokens_never_the_value_elsewhere() -> None:
    dsn = "postgresql://u:p%40ssw0rd@h/db"
    message = 'at postgresql://u:p%40ssw0rd@h/db: role "p@ssw0rd" does not exist'
    assert pg.sanitize(message, dsn) == 'at postgresql://u:***@h/db: role "p@ssw0rd" does not exist'
    assert pg.sanitize("nothing here", "host=h") == "nothing here"
    # a DSN that does not parse: libpq's quoted pieces of it are shown only if redacted too
    unparsable = "postgresql://u:Sup3rSecret@h/db with spaces"
    assert "Sup3r" not in pg.sanitize(f'unexpected spaces found in "{unparsable}"', unparsable)


@pytest.mark.parametrize(
    ("version_num", "version", "message"),
    [
        (90624, "9.6.24", "too old"),
        (120022, "12.22", "too old"),
        (190000, "19devel", "newer than pgtune knows"),
    ],
)
def test_unsupported_versions_are_usage_errors(
    version_num: int, version: str, message: str
) -> None:
    with pytest.raises(pg.UnsupportedServerError, match=message) as caught:
        pg.require_supported(version_num, version)
    assert caught.value.exit_code == 2
    for ok in (130000, 150018, 180006):
        pg.require_supported(ok, "fine")


def test_capabilities_choose_the_checkpoint_view() -> None:
    caps = pg.ServerCapabilities(160004, "16.4", "u", False, True, True, True)
    assert (caps.major, caps.has_checkpointer_view, caps.privilege) == (16, False, "pg_monitor")
    assert pg.ServerCapabilities(170000, "17.0", "u", True, True, True, True).has_checkpointer_view


def test_query_files_are_schema_qualified_and_load() -> None:
    names = sorted(p.stem for p in QUERIES.glob("*.sql"))
    assert names == [
        "checkpoints_bgwriter",
        "checkpoints_checkpointer",
        "connections",
        "database_size",
        "database_stats",
        "file_settings",
        "observe_activity",
        "observe_bgwriter",
        "observe_bgwriter_io",
        "observe_tables",
        "observe_totals",
        "observe_wal",
        "server_times",
        "settings",
    ]
    for name in names:
        text = pg.load_query("pgtune.tuning", name)
        body = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("--"))
        body = re.sub(r"\bEXTRACT\s*\(\s*\w+\s+FROM\b", "EXTRACT(", body, flags=re.I)
        relations = re.findall(r"\b(?:FROM|JOIN)\s+([\w.]+)", body)
        assert all(r.startswith("pg_catalog.") for r in relations), name
        calls = re.findall(r"\b(current_setting|now|count)\(", body)
        assert all(f"pg_catalog.{c}(" in body for c in calls), name


# ------------------------------------------------------------------------------------------
# A password-protected server over TCP (SCRAM)


def _scram_cluster(pg_cluster_factory: ClusterFactory, major: int) -> Cluster:
    cluster = pg_cluster_factory(major, listen_addresses="127.0.0.1")
    hba = cluster.data_dir / "pg_hba.conf"
    hba.write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    hba.chmod(0o600)
    cluster.user.chown(hba)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(
            sql.SQL("CREATE ROLE app LOGIN IN ROLE pg_monitor PASSWORD {}").format(
                sql.Literal(SECRET)
            )
        )
    return cluster


@pytest.mark.pg
@pytest.mark.parametrize("major", (15, 18))
def test_password_dsn_works_and_is_redacted_everywhere(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    from urllib.parse import quote

    cluster = _scram_cluster(pg_cluster_factory, major)
    uri = f"postgresql://app:{quote(SECRET, safe='')}@127.0.0.1:{cluster.port}/postgres"
    with pg.connect(uri) as conn:
        caps = pg.detect_capabilities(conn)
    assert (caps.user, caps.major, caps.is_superuser, caps.pg_monitor) == (
        "app",
        major,
        False,
        True,
    )

    runner = CliRunner()
    hw = ["--memory", "1GB", "--cpus", "2", "--storage", "ssd"]
    redacted = f"user=app password=*** dbname=postgres host=127.0.0.1 port={cluster.port}"
    for extra in ([], ["--format", "json"], ["--sql"]):
        result = runner.invoke(app, ["check", "--dsn", uri, *hw, *extra])
        assert result.exit_code == 1, result.output  # a stock server drifts
        assert redacted in result.stdout
        assert "Sup3r" not in result.output and quote(SECRET, safe="") not in result.output
        if extra == ["--format", "json"]:
            assert json.loads(result.stdout)["server"]["dsn"] == redacted

    wrong = f"host=127.0.0.1 port={cluster.port} dbname=postgres user=app password=Wr0ngPassw0rd"
    result = runner.invoke(app, ["check", "--dsn", wrong, *hw])
    assert result.exit_code == 2
    assert "Wr0ngPassw0rd" not in result.output
    assert 'password authentication failed for user "app"' in result.stderr
    assert result.stderr.count("\n") == 1
