"""Redaction by parsing, and a cluster's identity from the server.

Real PostgreSQL 15 and 18 (trust on the private socket: a DSN's password is carried, never
checked). A password that is also a role, a table and a database name (``postgres``, ``app``)
must leave those names whole everywhere; the password field never appears. Then the identity:
a keyword DSN, a URI, a password added, a non-superuser auditor all find the same baseline
section, and merging reports of one cluster audited two ways is refused.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import get_pg_binaries
from typer.testing import CliRunner

from pgcluster import Cluster, TemplateCache
from pgtune.cli.app import app

MAJORS = (15, 18)
MD5_TABLE = "md5" + "0123456789abcdef" * 2  # shaped like a password hash, but a table
runner = CliRunner()

SEED = [
    "CREATE ROLE app LOGIN CREATEROLE",
    "CREATE DATABASE app",
    "CREATE ROLE monitor LOGIN IN ROLE pg_monitor",
]
SEED_APP = [
    "CREATE TABLE public.app (id int)",
    f'CREATE TABLE public."{MD5_TABLE}" (id int)',
    "GRANT SELECT ON public.app TO app",
    f'GRANT SELECT ON public."{MD5_TABLE}" TO app',
    "ALTER TABLE public.app ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY everyone ON public.app USING (true)",
]


@pytest.fixture(scope="module")
def clusters(pg_template_cache: TemplateCache) -> Iterator[dict[int, Cluster]]:
    out: dict[int, Cluster] = {}
    try:
        for major in MAJORS:
            cluster = Cluster(get_pg_binaries(major), template_cache=pg_template_cache)
            out[major] = cluster
            cluster.initdb()
            cluster.start()
            with cluster.connect() as conn:
                for statement in SEED:
                    conn.execute(statement.encode())
            with cluster.connect("app") as conn:
                for statement in SEED_APP:
                    conn.execute(statement.encode())
        yield out
    finally:
        for cluster in out.values():
            cluster.cleanup()


def keyword(c: Cluster, user: str = "postgres", password: str | None = None) -> str:
    dsn = f"host={c.socket_dir} port={c.port} user={user} dbname=postgres"
    return dsn + (f" password={password}" if password is not None else "")


def uri(c: Cluster, user: str = "postgres", password: str | None = None) -> str:
    auth = user + (f":{password}" if password is not None else "")
    return f"postgresql://{auth}@/postgres?host={c.socket_dir}&port={c.port}"


def md_fenced(sql: str) -> str:
    return "```\n" + sql.rstrip() + "\n```"


def run_audit(*args: str) -> tuple[int, dict[str, Any], str, str]:
    """(exit code, JSON, Markdown, HTML) of one audit."""
    outputs = {}
    for fmt in ("json", "md", "html"):
        result = runner.invoke(app, ["audit", *args, "--format", fmt, "--fail-on", "critical"])
        assert result.exit_code in (0, 1), result.output
        assert "***" not in result.output, result.output  # nothing to mask: no token printed
        outputs[fmt] = result.stdout
    return result.exit_code, json.loads(outputs["json"]), outputs["md"], outputs["html"]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_password_postgres_keeps_the_role_postgres(
    clusters: dict[int, Cluster], major: int
) -> None:
    c = clusters[major]
    _, doc, md, html = run_audit("--dsn", keyword(c, "postgres", "postgres"))
    [section] = doc["clusters"]
    expected = f"host={c.socket_dir} port={c.port} user=postgres dbname=postgres"
    assert sorted(section["cluster"].split()) == sorted(expected.split())
    assert section["collected_by"] == "postgres" and "postgres" in section["databases"]
    assert "postgres" in {r["role"] for r in section["review"]}
    assert "#### postgres\n" in md and "<h4>postgres</h4>" in html
    assert "as role postgres" in md and "user=postgres dbname=postgres" in md
    for text in (json.dumps(doc), md, html):
        assert "password=" not in text and "postgres:postgres@" not in text


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
@pytest.mark.parametrize("form", ["keyword", "uri", "PGPASSWORD", "service"])
def test_password_app_keeps_app_everywhere(
    clusters: dict[int, Cluster],
    major: int,
    form: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = clusters[major]
    if form == "keyword":
        dsn = keyword(c, "postgres", "app")
    elif form == "uri":
        dsn = uri(c, "postgres", "app")
    elif form == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", "app")
        dsn = keyword(c)
    else:
        services = tmp_path / "pg_service.conf"
        services.write_text(
            f"[audited]\nhost={c.socket_dir}\nport={c.port}\nuser=postgres\n"
            "dbname=postgres\npassword=app\n"
        )
        monkeypatch.setenv("PGSERVICEFILE", str(services))
        dsn = "service=audited"
    _, doc, md, html = run_audit("--dsn", dsn)
    [section] = doc["clusters"]
    label = section["cluster"]
    assert "password" not in label and ":app@" not in label
    if form == "service":
        assert label == "service=audited"  # never what the service file holds
    roles = {r["role"]: r for r in section["review"]}
    assert "app" in roles and "app" in section["databases"] and "app" in section["roles"]
    [createrole] = [f for f in section["findings"] if f["title"] == "Login role with CREATEROLE"]
    assert createrole["object"] == "app" and "app" in createrole["remediation"]
    assert createrole["remediation"] in md or md_fenced(createrole["remediation"]) in md
    privileges = [g for g in roles["app"]["privileges"] if g["kind"] == "table"]
    assert {o for g in privileges for o in g["objects"]} >= {"app", MD5_TABLE}
    assert "#### app\n" in md and "<h4>app</h4>" in html
    for text in (md, html):
        assert MD5_TABLE in text and "SELECT on" in text


@pytest.mark.pg
def test_errors_keep_names_that_equal_the_password(clusters: dict[int, Cluster]) -> None:
    c = clusters[15]
    dsn = f"host={c.socket_dir} port={c.port} user=nosuch dbname=app password=nosuch"
    result = runner.invoke(app, ["audit", "--dsn", dsn, "--format", "json"])
    assert result.exit_code == 2
    [section] = json.loads(result.stdout)["clusters"]
    assert 'role "nosuch" does not exist' in section["error"], section["error"]
    assert "password=nosuch" not in result.output and "password" not in section["cluster"]


# ------------------------------------------------------------------------------------------
# Identity: the server says which cluster it is


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_identity_survives_dsn_form_password_and_auditor(
    clusters: dict[int, Cluster], major: int, tmp_path: Path
) -> None:
    c = clusters[major]
    first = tmp_path / "first.json"
    result = runner.invoke(
        app,
        [
            "audit",
            "--dsn",
            keyword(c),
            "--format",
            "json",
            "-o",
            str(first),
            "--fail-on",
            "critical",
        ],
    )
    assert result.exit_code in (0, 1), result.output
    [before] = json.loads(first.read_text())["clusters"]
    with c.connect() as conn:
        row = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()
    assert row is not None and before["system_identifier"] == row[0]
    assert before["address"] == f"{c.socket_dir}:{c.port}"
    for dsn in (uri(c, "monitor", "s3cret"), keyword(c, "monitor", "app"), uri(c)):
        result = runner.invoke(
            app,
            [
                "audit",
                "--dsn",
                dsn,
                "--baseline",
                str(first),
                "--format",
                "json",
                "--fail-on",
                "critical",
            ],
        )
        assert result.exit_code in (0, 1), result.output
        [after] = json.loads(result.stdout)["clusters"]
        assert after["cluster"] != before["cluster"]
        assert (after["system_identifier"], after["address"]) == (
            before["system_identifier"],
            before["address"],
        )
        changes = after["changes"]
        assert changes["note"] is None, (dsn, changes)
        assert not changes["roles_added"] and not changes["roles_removed"]
    second = tmp_path / "second.json"
    result = runner.invoke(
        app,
        [
            "audit",
            "--dsn",
            uri(c, "monitor"),
            "--format",
            "json",
            "-o",
            str(second),
            "--fail-on",
            "critical",
        ],
    )
    merged = runner.invoke(app, ["report", "merge", str(first), str(second)])
    assert merged.exit_code == 2 and "are the same cluster" in merged.stderr
    assert before["system_identifier"] in merged.stderr


@pytest.mark.pg
def test_two_clusters_are_told_apart(clusters: dict[int, Cluster], tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "audit",
            *("--dsn", keyword(clusters[15]), "--dsn", keyword(clusters[18])),
            *("--format", "json", "--fail-on", "critical"),
        ],
    )
    a, b = json.loads(result.stdout)["clusters"]
    assert a["system_identifier"] and b["system_identifier"]
    assert a["system_identifier"] != b["system_identifier"]


@pytest.mark.pg
def test_identity_degrades_to_the_address_and_says_so(
    pg_cluster_factory: Any, tmp_path: Path
) -> None:
    c = pg_cluster_factory(18)
    c.start()
    with c.connect() as conn:
        conn.execute("CREATE ROLE monitor LOGIN IN ROLE pg_monitor")
        conn.execute("REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC")
    first = tmp_path / "first.json"
    args = ["--format", "json", "--fail-on", "critical"]
    result = runner.invoke(app, ["audit", "--dsn", keyword(c), "-o", str(first), *args])
    assert result.exit_code in (0, 1), result.output
    result = runner.invoke(
        app, ["audit", "--dsn", uri(c, "monitor"), "--baseline", str(first), *args]
    )
    [section] = json.loads(result.stdout)["clusters"]
    assert section["system_identifier"] is None
    assert section["address"] == f"{c.socket_dir}:{c.port}"
    [line] = [u for u in section["unreadable"] if u.startswith("pg_control_system()")]
    assert "permission denied" in line and f"by its address {section['address']}" in line
    assert section["changes"]["note"] is None  # matched by the address
