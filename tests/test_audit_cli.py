"""`pgtune audit` and `pgtune report merge` end to end.

Real PostgreSQL 15 and 18, seeded with each problem the review and the checks look for: golden
JSON, the three formats from the same data, grouping of a 300-table schema, no password
anywhere, a non-superuser with pg_monitor, a fleet with an unreachable cluster, exit codes,
merge equivalence and a baseline diff across changed grants. Then the CLI's own rules, with
the collector replaced (no server needed).
"""

import gc
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import get_pg_binaries
from typer.testing import CliRunner

from pgcluster import Cluster, TemplateCache, free_port
from pgtune.access.catalog import Inspection
from pgtune.access.model import ClusterState, Role
from pgtune.audit import fleet
from pgtune.audit.model import SEVERITIES, Finding, Snapshot
from pgtune.cli.app import app
from pgtune.pg import ConnectError

MAJORS = (15, 18)
GOLDEN = Path(__file__).parent / "golden"
DSN_PASSWORD = "Dsn-Pa55-never-printed"
ROLE_PASSWORD = "Role-Pa55-never-printed"
runner = CliRunner()

SEED_CLUSTER = [
    f"CREATE ROLE dba LOGIN SUPERUSER PASSWORD '{ROLE_PASSWORD}'",
    "CREATE ROLE etl LOGIN BYPASSRLS",
    "GRANT pg_read_server_files TO etl",
    "CREATE ROLE provisioner LOGIN CREATEROLE CONNECTION LIMIT 2 VALID UNTIL '2031-01-01 00:00+00'",
    "CREATE ROLE app_ro",
    "CREATE ROLE app_rw IN ROLE app_ro",
    f"CREATE ROLE app LOGIN PASSWORD '{ROLE_PASSWORD}' IN ROLE app_rw",
    "CREATE ROLE admin SUPERUSER",
    "CREATE ROLE ops LOGIN NOINHERIT IN ROLE admin",
    "CREATE ROLE reporting LOGIN IN ROLE pg_read_all_data",
    "CREATE ROLE monitor LOGIN IN ROLE pg_monitor",
    "SET password_encryption = 'md5'",
    f"CREATE ROLE legacy LOGIN PASSWORD '{ROLE_PASSWORD}'",
    "RESET password_encryption",
    "CREATE ROLE owner_role",
    "CREATE DATABASE appdb OWNER owner_role",
    "CREATE DATABASE secret",
    "REVOKE CONNECT ON DATABASE secret FROM PUBLIC",
]
SEED_APPDB = [
    "SET ROLE owner_role",
    "CREATE SCHEMA sales",
    "CREATE TABLE sales.orders (id int, customer text)",
    "CREATE TABLE sales.customers (id int, name text, card text)",
    "CREATE SEQUENCE sales.order_ids",
    "CREATE FUNCTION sales.refund(id int) RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
    "ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY everyone ON sales.orders USING (true)",
    "GRANT USAGE ON SCHEMA sales TO app_ro",
    "GRANT SELECT ON ALL TABLES IN SCHEMA sales TO app_ro",
    "GRANT INSERT, UPDATE ON sales.orders TO app_rw",
    "GRANT USAGE ON SEQUENCE sales.order_ids TO app_rw",
    "GRANT SELECT (id, name) ON sales.customers TO etl",
    "CREATE SCHEMA big",
    "DO $$BEGIN FOR i IN 1..300 LOOP "
    "EXECUTE format('CREATE TABLE big.t%s (id int)', lpad(i::text, 3, '0')); END LOOP; END$$",
    "GRANT USAGE ON SCHEMA big TO app_ro",
    "GRANT SELECT ON ALL TABLES IN SCHEMA big TO app_ro",
    "REVOKE SELECT ON big.t001, big.t002 FROM app_ro",
    "RESET ROLE",
    "GRANT CREATE ON SCHEMA public TO PUBLIC",
]


def run_sql(cluster: Cluster, statements: list[str], dbname: str = "postgres") -> None:
    with cluster.connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def dsn_of(cluster: Cluster, user: str = "postgres") -> str:
    # trust on the private socket: the password is never checked, only carried around
    return (
        f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user={user} "
        f"password={DSN_PASSWORD}"
    )


def audit(*args: str) -> Any:
    return runner.invoke(app, ["audit", *args])


def merge(*args: str) -> Any:
    return runner.invoke(app, ["report", "merge", *args])


@pytest.fixture(scope="module")
def seeded(pg_template_cache: TemplateCache) -> Iterator[dict[int, Cluster]]:
    """One seeded cluster per major, shared by the read-only tests of this module."""
    clusters: dict[int, Cluster] = {}
    try:
        for major in MAJORS:
            cluster = Cluster(get_pg_binaries(major), template_cache=pg_template_cache)
            clusters[major] = cluster
            cluster.initdb()
            cluster.start()
            run_sql(cluster, SEED_CLUSTER)
            run_sql(cluster, SEED_APPDB, "appdb")
        yield clusters
    finally:
        for cluster in clusters.values():
            cluster.cleanup()


@pytest.fixture(scope="module")
def audited(
    seeded: dict[int, Cluster], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, dict[str, Any]]:
    """Each seeded cluster audited once per format (JSON written with -o)."""
    out: dict[int, dict[str, Any]] = {}
    for major, cluster in seeded.items():
        path = tmp_path_factory.mktemp(f"audit{major}") / "report.json"
        runs = {
            "json": audit("--dsn", dsn_of(cluster), "--format", "json", "-o", str(path)),
            "md": audit("--dsn", dsn_of(cluster), "--format", "md"),
            "html": audit("--dsn", dsn_of(cluster), "--format", "html"),
        }
        for run in runs.values():
            assert run.exit_code in (0, 1), run.output
        out[major] = {
            "path": path,
            "doc": json.loads(path.read_text()),
            "json": path.read_text(),
            "md": runs["md"].stdout,
            "html": runs["html"].stdout,
            "stderr": "".join(r.stderr for r in runs.values()),
            "code": runs["json"].exit_code,
        }
    return out


def normalise(doc: dict[str, Any], clusters: list[Cluster]) -> dict[str, Any]:
    """Timestamps, versions, socket paths and ports replaced: what varies between runs."""
    text = json.dumps(doc)
    for c in clusters:
        text = text.replace(str(c.base_dir), "<dir>").replace(f"port={c.port}", "port=<port>")
    out: dict[str, Any] = json.loads(text)
    out.update(generated_at="<time>", generated_by="<who>", generator="<generator>")
    for c in out["clusters"]:
        if c["status"] == "ok":
            c.update(collected_at="<time>", server_version="<version>")
            c.update(system_identifier="<system identifier>", address="<dir>/sock:<port>")
    return out


# ------------------------------------------------------------------------------------------------
# One seeded cluster


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_golden_json(
    audited: dict[int, dict[str, Any]], seeded: dict[int, Cluster], major: int
) -> None:
    doc = normalise(audited[major]["doc"], [seeded[major]])
    path = GOLDEN / f"audit-pg{major}.json"
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("PGTUNE_UPDATE_GOLDEN") == "1":
        # Never a pass: comparing with the file just written would prove nothing.
        path.write_text(text)
        pytest.skip(f"wrote {path}: review the diff (git diff tests/golden/), then run again")
    assert text == path.read_text(), f"regenerate with PGTUNE_UPDATE_GOLDEN=1 and review {path}"


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_markdown_and_html_say_what_the_json_says(
    audited: dict[int, dict[str, Any]], major: int
) -> None:
    run = audited[major]
    [cluster] = run["doc"]["clusters"]
    ids = {f["id"] for f in cluster["findings"]}
    roles = {r["role"] for r in cluster["review"]}
    assert {"PGT-ROLE-001", "PGT-HBA-001"} <= ids
    assert roles == {
        "app",
        "dba",
        "etl",
        "legacy",
        "monitor",
        "ops",
        "postgres",
        "provisioner",
        "reporting",
    }
    for fmt in ("md", "html"):
        for fid in ids:
            assert fid in run[fmt], (fmt, fid)
    for external in ("http", "<script", "<link", "url(", "@import", " src="):
        assert external not in run["html"], external  # one self-contained file
    for role in roles:
        assert f"#### {role}\n" in run["md"] and f"<h4>{role}</h4>" in run["html"]
    # The same data: a report merged from the JSON renders exactly what the audit rendered,
    # timestamps aside.
    for fmt in ("md", "html"):
        again = merge(str(run["path"]), "--format", fmt)
        assert again.exit_code == 0, again.output
        strip = re.compile(r"\d{4}-\d\d-\d\dT[\d:]+\+00:00")
        assert strip.sub("T", again.stdout) == strip.sub("T", run[fmt])


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_review_says_who_can_do_what(audited: dict[int, dict[str, Any]], major: int) -> None:
    md = audited[major]["md"]
    for line in (
        "app → app_rw → app_ro",
        "ops → admin (via SET ROLE only)",
        "superuser: every privilege on every object; bypasses all permission checks and RLS "
        "(via ops → admin) — after SET ROLE",
        "SELECT on 298 of 300 tables in appdb.big (all but: t001, t002) — via app_ro",
        "SELECT on all 300 tables in appdb.big — via pg_read_all_data",
        "SELECT on 2 of 5 columns in appdb.sales: customers.id, customers.name — via direct grant",
        "USAGE, CREATE on 1 of 3 schemas in appdb: public — via PUBLIC",
        "TEMPORARY on database secret — via PUBLIC — not usable: no CONNECT on database secret",
        "provisioner\n\n- **Attributes:** CREATEROLE, connection limit 2, valid until "
        "2031-01-01T00:00:00+00:00",
    ):
        assert line in md, line


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_grouping_keeps_a_300_table_schema_small(
    audited: dict[int, dict[str, Any]], major: int
) -> None:
    run = audited[major]
    for fmt in ("json", "md", "html"):
        assert "t150" not in run[fmt], fmt  # no table of the big schema is listed one by one
    sizes = {fmt: len(run[fmt]) for fmt in ("md", "html", "json")}
    # contents, findings table and the groups inventory included; 300 tables would be far more
    assert sizes["md"] < 40_000 and sizes["html"] < 60_000 and sizes["json"] < 100_000, sizes
    [app] = [r for r in run["doc"]["clusters"][0]["review"] if r["role"] == "app"]
    [big] = [g for g in app["privileges"] if g["schema"] == "big" and g["kind"] == "table"]
    assert (big["scope"], big["count"], big["total"], big["except"]) == (
        "all_but",
        298,
        300,
        ["t001", "t002"],
    )


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_no_password_or_hash_anywhere(audited: dict[int, dict[str, Any]], major: int) -> None:
    run = audited[major]
    legacy_md5 = "md5" + hashlib.md5((ROLE_PASSWORD + "legacy").encode()).hexdigest()
    for fmt in ("json", "md", "html", "stderr"):
        for secret in (DSN_PASSWORD, ROLE_PASSWORD, legacy_md5, "SCRAM-SHA-256$"):
            assert secret not in run[fmt], (fmt, secret)


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_exit_code_follows_fail_on(audited: dict[int, dict[str, Any]], major: int) -> None:
    run = audited[major]
    counts = run["doc"]["summary"]["findings"]
    assert run["code"] == (1 if counts["critical"] or counts["high"] else 0)  # default high
    for severity in SEVERITIES:
        worse = any(counts[s] for s in SEVERITIES[: SEVERITIES.index(severity) + 1])
        result = merge(str(run["path"]), "--format", "json", "--fail-on", severity)
        assert result.exit_code == (1 if worse else 0), severity
    assert merge(str(run["path"]), "--format", "json").exit_code == 0  # merge gates only if asked


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_pg_monitor_member_degrades_and_says_what_it_could_not_read(
    seeded: dict[int, Cluster], major: int
) -> None:
    result = audit(
        "--dsn", dsn_of(seeded[major], "monitor"), "--format", "json", "--fail-on", "critical"
    )
    assert result.exit_code in (0, 1), result.output
    [cluster] = json.loads(result.stdout)["clusters"]
    assert (cluster["status"], cluster["collected_by"], cluster["superuser"]) == (
        "ok",
        "monitor",
        False,
    )
    unreadable = "\n".join(cluster["unreadable"])
    assert "pg_hba_file_rules" in unreadable and "pg_authid" in unreadable
    assert "database 'secret': no CONNECT privilege" in unreadable
    assert cluster["databases"] == ["appdb", "postgres"]
    assert {r["role"] for r in cluster["review"]} >= {"app", "monitor"}  # roles stay readable
    md = audit("--dsn", dsn_of(seeded[major], "monitor"), "--fail-on", "critical").stdout
    could_not = md.split("### Could not read\n\n")[1].split("###")[0]
    assert "- pg_hba_file_rules: permission denied" in could_not


# ------------------------------------------------------------------------------------------------
# Fleets and merge


@pytest.mark.pg
def test_fleet_with_an_unreachable_cluster(seeded: dict[int, Cluster], tmp_path: Path) -> None:
    down = f"host={seeded[15].socket_dir} port={free_port()} user=x password={DSN_PASSWORD}"
    inventory = tmp_path / "fleet.txt"
    inventory.write_text(
        f"# production\n{dsn_of(seeded[15])}\n\n  # down for maintenance\n{down}\n"
    )
    result = audit("--inventory", str(inventory), "--format", "json", "--fail-on", "critical")
    assert result.exit_code == 1, result.output  # unreachable counts as a failure
    ok, failed = json.loads(result.stdout)["clusters"]
    assert ok["status"] == "ok" and failed["status"] == "unreachable"
    assert failed["cluster"] == fleet.label_of(down) and "password" not in failed["cluster"]
    assert "No such file or directory" in failed["error"] and "\n" not in failed["error"]
    assert DSN_PASSWORD not in result.stdout + result.stderr
    assert "could not be audited" in result.stderr
    only_down = audit("--dsn", down, "--format", "md")
    assert only_down.exit_code == 2 and "no cluster could be audited" in only_down.stderr
    assert "**Could not be audited:** cannot connect" in only_down.stdout


@pytest.mark.pg
def test_merge_equals_auditing_together(
    audited: dict[int, dict[str, Any]], seeded: dict[int, Cluster], tmp_path: Path
) -> None:
    together = audit(
        *("--dsn", dsn_of(seeded[15]), "--dsn", dsn_of(seeded[18])),
        *("--format", "json", "--jobs", "2"),
    )
    assert together.exit_code in (0, 1), together.output
    merged = merge(str(audited[15]["path"]), str(audited[18]["path"]), "--format", "json")
    assert merged.exit_code == 0, merged.output
    clusters = list(seeded.values())
    a, b = json.loads(together.stdout), json.loads(merged.stdout)
    assert normalise(a, clusters) == normalise(b, clusters)
    assert [c["major"] for c in b["clusters"]] == [15, 18]
    again = merge(str(audited[15]["path"]), str(audited[15]["path"]))
    assert again.exit_code == 2 and "appears more than once" in again.stderr


@pytest.mark.pg
def test_policy_match_is_reported(seeded: dict[int, Cluster], tmp_path: Path) -> None:
    policy = tmp_path / "access.yaml"
    policy.write_text(
        "version: 1\nroles:\n  reporting:\n    login: true\n    member_of: [pg_read_all_data]\n"
        "  auditor:\n    login: true\ndatabases:\n  appdb: {}\n"
    )
    result = audit("--dsn", dsn_of(seeded[18]), "--policy", str(policy), "--format", "json")
    [cluster] = json.loads(result.stdout)["clusters"]
    assert cluster["policy"]["matches"] is False and cluster["policy"]["drift"] >= 1
    assert any("auditor" in c["sql"] for c in cluster["policy"]["changes"])
    assert json.loads(result.stdout)["summary"]["policy_mismatch"] == 1


# ------------------------------------------------------------------------------------------------
# Baseline: grants changed between two runs


BASELINE_SEED = [
    "CREATE ROLE readers",
    "CREATE ROLE app LOGIN IN ROLE readers",
    "CREATE ROLE leaving LOGIN",
    "CREATE SCHEMA s",
    "CREATE TABLE s.a (id int)",
    "CREATE TABLE s.b (id int)",
    "GRANT USAGE ON SCHEMA s TO readers",
    "GRANT SELECT ON s.a, s.b TO readers",
]
CHANGES = [
    "GRANT INSERT ON s.a TO app",  # gained
    "REVOKE SELECT ON s.b FROM readers",  # lost, through the group
    "CREATE ROLE newcomer LOGIN",  # added
    "DROP ROLE leaving",  # removed
    "ALTER ROLE app CREATEDB CONNECTION LIMIT 3",  # attributes
    "CREATE ROLE admins SUPERUSER",
]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_baseline_diff_after_changing_grants(
    pg_cluster_factory: Any, major: int, tmp_path: Path
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    run_sql(cluster, BASELINE_SEED)
    dsn = dsn_of(cluster)
    last = tmp_path / "last.json"
    first = audit("--dsn", dsn, "--format", "json", "-o", str(last), "--fail-on", "critical")
    assert first.exit_code in (0, 1), first.output
    grant_admins = "GRANT admins TO app" + (" WITH INHERIT FALSE" if major >= 16 else "")
    run_sql(cluster, [*CHANGES, grant_admins])
    second = audit(
        "--dsn", dsn, "--baseline", str(last), "--format", "json", "--fail-on", "critical"
    )
    assert second.exit_code in (0, 1), second.output
    changes = json.loads(second.stdout)["clusters"][0]["changes"]
    assert changes["baseline"] == str(last) and changes["note"] is None
    assert (changes["roles_added"], changes["roles_removed"]) == (
        ["admins", "newcomer"],
        ["leaving"],
    )
    assert {
        (a["role"], a["attribute"], a["before"], a["after"]) for a in changes["attributes"]
    } == {
        ("app", "createdb", False, True),
        ("app", "connection_limit", -1, 3),
    }
    held = {
        (p["change"], p["role"], tuple(p["privileges"]), p["kind"], tuple(p["objects"]))
        for p in changes["privileges"]
    }
    assert held == {
        ("gained", "app", ("INSERT",), "table", ("a",)),
        ("lost", "app", ("SELECT",), "table", ("b",)),
    }
    assert [(m["change"], m["member_of"], m["how"]) for m in changes["memberships"]] == [
        ("gained", "admins", "set_role" if major >= 16 else "inherit")  # 16+: WITH INHERIT FALSE
    ]
    md = audit("--dsn", dsn, "--baseline", str(last), "--fail-on", "critical").stdout
    assert "### Changes since the last review" in md
    assert "- **app gained:** INSERT on 1 of 2 tables in postgres.s: a\n" in md
    assert "- **Roles removed:** leaving" in md
    assert "- **Attribute:** app: createdb false → true\n" in md  # PostgreSQL's spelling


# ------------------------------------------------------------------------------------------------
# The CLI's own rules (the collector and checks replaced: no server)


def _snapshot(label: str) -> Snapshot:
    state = ClusterState(roles={"app": Role("app", login=True)})
    inspection = Inspection(state, {}, 16, (), 0)
    return Snapshot(label, "16.4", 16, "2025-01-01T00:00:00+00:00", "auditor", True, inspection)


@pytest.fixture
def fake_clusters(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``collect`` fails for DSNs containing 'down'; each cluster gets one finding of the
    severity named by its DSN's ``application_name``."""
    seen: dict[str, Any] = {"dsns": []}

    def collect(dsn: str, *, label: str | None = None, **_: object) -> Snapshot:
        seen["dsns"].append(dsn)
        if "down" in dsn:
            raise ConnectError(f"cannot connect to {label!r}: refused")
        return _snapshot(label or dsn)

    def run_checks(snapshot: Snapshot, policy: object = None) -> list[Finding]:
        match = re.search(r"application_name=(\w+)", snapshot.cluster)
        severity = match.group(1) if match else "none"
        if severity not in SEVERITIES:
            return []
        return [Finding("PGT-X-001", severity, "t", "seen", "why", "SQL;")]  # type: ignore[arg-type]

    monkeypatch.setattr("pgtune.audit.collect.collect", collect)
    monkeypatch.setattr("pgtune.audit.findings.run_checks", run_checks)
    return seen


@pytest.mark.parametrize(
    ("severity", "fail_on", "code"),
    [
        ("high", "high", 1),
        ("medium", "high", 0),
        ("medium", "medium", 1),
        ("none", "info", 0),
        ("critical", "critical", 1),
        ("low", "info", 1),
    ],
)
def test_fail_on_through_the_cli(
    fake_clusters: dict[str, Any], severity: str, fail_on: str, code: int
) -> None:
    result = audit(
        "--dsn", f"host=h application_name={severity}", "--fail-on", fail_on, "--format", "json"
    )
    assert result.exit_code == code, result.output


def test_inventory_service_names_and_duplicates(
    fake_clusters: dict[str, Any], tmp_path: Path
) -> None:
    inventory = tmp_path / "fleet"
    inventory.write_text("# all of them\nbilling\nhost=a\nhost=a\nhost=down1\n")
    result = audit("--inventory", str(inventory), "--dsn", "host=b", "--format", "json")
    assert fake_clusters["dsns"] == ["host=b", "service=billing", "host=a", "host=down1"]
    doc = json.loads(result.stdout)
    assert [c["status"] for c in doc["clusters"]] == ["ok", "ok", "ok", "unreachable"]
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "nothing to audit"),
        (("--dsn", "host=a", "--jobs", "0"), "--jobs must be at least 1"),
        (("--inventory", "/nonexistent/fleet"), "cannot read inventory"),
        (("--dsn", "host=a", "--baseline", "/nonexistent/last.json"), "cannot read baseline"),
    ],
)
def test_usage_errors_exit_2(
    fake_clusters: dict[str, Any], args: tuple[str, ...], message: str
) -> None:
    result = audit(*args)
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_bad_baseline_exits_2(fake_clusters: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "last.json"
    bad.write_text('{"format_version": 7, "clusters": []}')
    result = audit("--dsn", "host=a", "--baseline", str(bad))
    assert result.exit_code == 2 and "format_version 7" in result.stderr
    assert fake_clusters["dsns"] == []  # checked before connecting anywhere


def test_output_file_and_force(fake_clusters: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert audit("--dsn", "host=a", "--format", "html", "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    again = audit("--dsn", "host=a", "--format", "html", "-o", str(out))
    assert again.exit_code == 4 and "--force" in again.stderr


def test_progress_on_a_terminal(
    fake_clusters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pgtune.cli.audit._interactive", lambda: True)
    result = audit("--dsn", "host=a application_name=low", "--dsn", "host=down", "--jobs", "1")
    lines = result.stderr.splitlines()
    assert lines[0] == "pgtune: auditing 2 cluster(s), 1 at a time"
    assert "pgtune: [1/2] host=a application_name=low: 1 low" in lines
    assert (
        "pgtune: [2/2] host=down: could not be audited: cannot connect to 'host=down': refused"
        in lines
    )
    assert lines[-1] == "pgtune: 2 cluster(s), findings: 1 low; 1 could not be audited"
    monkeypatch.setattr("pgtune.cli.audit._interactive", lambda: False)
    quiet = audit("--dsn", "host=a application_name=low", "--dsn", "host=down")
    assert "[1/2]" not in quiet.stderr  # not a terminal: no progress, but the failure is said
    assert "host=down: could not be audited" in quiet.stderr


def test_fleet_runs_bounded_and_keeps_order() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def slow(target: fleet.Target, options: fleet.AuditOptions) -> dict[str, Any]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02 * (10 - int(target.label[1:])))  # the first ones finish last
        with lock:
            running[0] -= 1
        return {"cluster": target.label, "status": "ok"}

    targets = [fleet.Target(f"h{i}", f"h{i}") for i in range(10)]
    done: list[int] = []
    sections = fleet.audit_fleet(
        targets, fleet.AuditOptions(), jobs=3, audit=slow, progress=lambda n, _t, _s: done.append(n)
    )
    assert [s["cluster"] for s in sections] == [t.label for t in targets]
    assert peak[0] == 3 and done == list(range(1, 11))


def test_fleet_raises_the_gc_thresholds_for_the_run_only() -> None:
    """Set once around the pool (process-wide), seen by the workers, restored after."""
    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []

    def record(target: fleet.Target, options: fleet.AuditOptions) -> dict[str, Any]:
        seen.append(gc.get_threshold())
        return {"cluster": target.label, "status": "ok"}

    targets = [fleet.Target(f"h{i}", f"h{i}") for i in range(4)]
    fleet.audit_fleet(targets, fleet.AuditOptions(), jobs=2, audit=record)
    assert len(seen) == 4 and all(t[0] > before[0] for t in seen)
    assert gc.get_threshold() == before
