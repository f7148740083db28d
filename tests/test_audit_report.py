"""The report document and its three renderings, on a hand-built cluster: the same data in
JSON, Markdown and HTML, everything escaped, nothing secret, one self-contained HTML file."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pgtune.access.catalog import Inspection
from pgtune.access.model import PUBLIC, ClusterState, Grant, Inventory, Membership, ObjectRef, Role
from pgtune.audit.baseline import diff_cluster
from pgtune.audit.model import Finding, Snapshot
from pgtune.audit.report import (
    build_report,
    cluster_section,
    exit_code,
    load_report,
    md_escape,
    md_fence,
    merge_reports,
    render,
    scrub,
    unreachable_section,
)
from pgtune.audit.review import review_access
from pgtune.errors import DataError, UsageError

EVIL = "<script>alert('x')</script>"
SECRET = "Tr0ub4dor&3"


def _section(label: str = "host=db1 dbname=postgres", *, roles: int = 2) -> dict[str, Any]:
    names = {f"app{i}": Role(f"app{i}", login=True) for i in range(roles)}
    names[EVIL] = Role(EVIL, login=True, createrole=True, valid_until="2030-01-01T00:00:00+00:00")
    names["readers"] = Role("readers")
    st = ClusterState(
        roles=names,
        memberships=frozenset(Membership("readers", n) for n in names if n != "readers"),
        grants=frozenset(
            {
                Grant(ObjectRef("database", "app"), PUBLIC, "CONNECT"),
                Grant(ObjectRef("schema", "app", "s"), "readers", "USAGE"),
                *(
                    Grant(ObjectRef("table", "app", "s", f"t{i}"), "readers", "SELECT")
                    for i in range(29)
                ),
            }
        ),
        owners={ObjectRef("database", "app"): "postgres"},
    )
    inv = Inventory("app", {"s": "postgres"}, {("s", f"t{i}"): "postgres" for i in range(30)})
    snap = Snapshot(
        label,
        "16.4",
        16,
        "2025-01-01T00:00:00+00:00",
        "auditor",
        False,
        Inspection(st, {"app": inv}, 16, (), 0),
        unreadable=("pg_hba_file_rules: permission denied",),
    )
    findings = [
        Finding(
            "PGT-ROLE-002",
            "high",
            "CREATEROLE holder",
            f"role {EVIL!r} <b>",
            "why & how",
            "ALTER ROLE x NOCREATEROLE;\n-- ``` a fence inside",
            "CIS 4.2",
            None,
            EVIL,
        ),
        Finding(
            "PGT-LOG-001", "medium", "log_connections is off", "off", "why", "ALTER SYSTEM ..."
        ),
    ]
    return cluster_section(snap, findings, review_access(st, {"app": inv}))


def _report(*sections: dict[str, Any]) -> dict[str, Any]:
    return build_report(list(sections) or [_section()], generated_at="T", generated_by="me@host")


def test_the_three_formats_carry_the_same_findings_and_roles() -> None:
    report = _report(_section(), unreachable_section("host=db2", "cannot connect: timeout"))
    doc = json.loads(render(report, "json"))
    md, html = render(report, "md"), render(report, "html")
    ids = {f["id"] for c in doc["clusters"] for f in c["findings"]}
    roles = {r["role"] for c in doc["clusters"] for r in c["review"]}
    assert ids == {"PGT-ROLE-002", "PGT-LOG-001"} and "app0" in roles
    for fid in ids:
        assert fid in md and fid in html
    for role in roles - {EVIL}:
        assert f"#### {role}" in md and f"<h4>{role}</h4>" in html
    assert md_escape(EVIL) in md and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    for text in (md, html):
        assert "could not be audited" in text and "cannot connect: timeout" in text
        assert "pg_hba_file_rules: permission denied" in text  # what could not be read
        assert "SELECT on 29 of 30 tables in app.s (all but: t29)" in text
    assert doc["format_version"] == 1 and doc["summary"]["unreachable"] == 1


def test_html_is_one_self_contained_escaped_file() -> None:
    html = render(_report(), "html")
    assert EVIL not in html and "<b>" not in html  # the finding's "<b>" is text, escaped
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "http" not in html and "url(" not in html and " src=" not in html
    assert "@media print" in html and html.count("<style>") == 1


def test_markdown_cannot_be_broken_out_of() -> None:
    md = render(_report(), "md")
    assert EVIL not in md and "<b>" not in md
    assert "\n````sql\nALTER ROLE x NOCREATEROLE;\n-- ``` a fence inside\n````\n" in md
    assert md_escape("a|b\nc") == "a\\|b c"
    assert md_fence("x").startswith("```\n")


def test_remediations_are_shown_as_what_they_are() -> None:
    """SQL in an sql block; a configuration line or a shell command labelled as such and never
    in an sql block; a report written before remediation_kind does not claim either."""
    section = _section()
    [sql_finding, _] = section["findings"]
    config = dict(sql_finding, id="PGT-HBA-001", remediation_kind="config")
    config["remediation"] = "pg_hba.conf line 3: use scram-sha-256 instead of trust"
    shell = dict(sql_finding, id="PGT-HOST-003", remediation_kind="shell")
    shell["remediation"] = 'pg_checksums --enable -D "$PGDATA"'
    old = {k: v for k, v in sql_finding.items() if k != "remediation_kind"}
    old.update(id="PGT-OLD-001", remediation="whatever an older pgtune said")
    section["findings"] = [sql_finding, config, shell, old]
    md, html = render(_report(section), "md"), render(_report(section), "html")
    assert sql_finding["remediation_kind"] == "sql"
    assert "- **Remediation (SQL):**\n\n````sql\nALTER ROLE x NOCREATEROLE;" in md
    label = "Remediation (configuration file: postgresql.conf or pg_hba.conf)"
    assert f"- **{label}:**\n\n```\npg_hba.conf line 3: use" in md
    assert "- **Remediation (shell command on the database host):**\n\n```sh\npg_checksums" in md
    assert "- **Remediation:**\n\n```\nwhatever an older pgtune said\n```" in md
    assert md.count("```sql") == 1 and md.count("````sql") == 1
    for text in (
        '<p class="label">Remediation (SQL):</p>\n<pre>ALTER ROLE x NOCREATEROLE;',
        f'<p class="label">{label}:</p>\n<pre>pg_hba.conf line 3',
        '<p class="label">Remediation (shell command on the database host):</p>\n'
        "<pre>pg_checksums --enable -D &#34;$PGDATA&#34;</pre>",
        '<p class="label">Remediation:</p>\n<pre>whatever an older pgtune said</pre>',
    ):
        assert text in html


def test_scrub_masks_conninfo_tokens_in_messages_only() -> None:
    section = _section()
    section["error"] = f"cannot connect to 'password={SECRET} host=h': role \"app0\" refused"
    section["findings"][0]["object"] = "md5" + "0" * 32  # a table may be called that
    cleaned = json.dumps(scrub(section, {SECRET, "app0"}))
    assert SECRET not in cleaned and "password=***" in cleaned
    assert '\\"app0\\" refused' in cleaned and "md5" + "0" * 32 in cleaned


@pytest.mark.parametrize(
    ("severities", "unreachable", "fail_on", "code"),
    [
        ((), 0, "high", 0),
        (("medium",), 0, "high", 0),
        (("medium",), 0, "medium", 1),
        (("critical",), 0, "critical", 1),
        (("info",), 0, "info", 1),
        (("high",), 0, "critical", 0),
        ((), 1, "critical", 1),  # a cluster that could not be audited is a failure
    ],
)
def test_exit_codes(severities: tuple[str, ...], unreachable: int, fail_on: str, code: int) -> None:
    section = _section()
    section["findings"] = [
        {"id": f"X-{i}", "severity": s, "database": None, "object": None}
        for i, s in enumerate(severities)
    ]
    down = [unreachable_section(f"down{i}", "refused") for i in range(unreachable)]
    assert exit_code(_report(section, *down), fail_on) == code


def test_no_cluster_audited_is_exit_2() -> None:
    assert (
        exit_code(_report(unreachable_section("a", "x"), unreachable_section("b", "y")), "info")
        == 2
    )
    with pytest.raises(UsageError):
        exit_code(_report(), "severe")


def test_merge_is_the_combined_report() -> None:
    one, two = _section("host=a"), _section("host=b")
    merged = merge_reports([_report(one), _report(two)])
    together = _report(one, two)
    assert {**merged, "generated_at": "T", "generated_by": "me@host"} == together
    with pytest.raises(UsageError, match="appears more than once"):
        merge_reports([_report(one), _report(one)])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"clusters": []}', "no format_version"),
        ('{"format_version": 2, "clusters": []}', "format_version 2; this pgtune reads 1"),
        ('{"format_version": 1, "clusters": [{}]}', "no valid 'clusters'"),
    ],
)
def test_a_bad_baseline_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "last.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        load_report(path, "baseline")
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="cannot read baseline"):
        load_report(tmp_path / "missing.json", "baseline")


def test_report_round_trips_through_json_and_renders_changes(tmp_path: Path) -> None:
    section = _section()
    path = tmp_path / "r.json"
    path.write_text(render(_report(section), "json"))
    again = load_report(path)
    changed = _section(roles=3)
    changed["changes"] = diff_cluster(again["clusters"][0], changed, str(path))
    md = render(_report(changed), "md")
    assert "### Changes since the last review" in md and "**Roles added:** app2" in md
    html = render(_report(changed), "html")
    assert "<b>Roles added:</b> app2" in html


def test_a_missing_template_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"report\.md\.j2"):
        render(_report(), "md", tmp_path)


def test_the_json_keeps_its_documented_keys() -> None:
    doc = _report()
    assert list(doc) == [
        "format_version",
        "generator",
        "generated_at",
        "generated_by",
        "summary",
        "clusters",
    ]
    assert list(doc["clusters"][0]) == [
        "cluster",
        "system_identifier",
        "address",
        "status",
        "error",
        "server_version",
        "major",
        "collected_at",
        "collected_by",
        "superuser",
        "databases",
        "unreadable",
        "counts",
        "policy",
        "roles",
        "review",
        "groups",
        "changes",
        "findings",
    ]
    docs = (Path(__file__).parent.parent / "docs" / "audit.md").read_text("utf-8")
    for key in [*doc["clusters"][0], *doc["clusters"][0]["review"][0]]:
        assert f"`{key}`" in docs, f"docs/audit.md does not document {key!r}"
