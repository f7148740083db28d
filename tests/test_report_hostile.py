"""Hostile names in the report: nothing from a catalog name becomes markup.

Roles, groups and tables named like Markdown and HTML (``<script>``, ``|``, ``~~``, a URL,
newlines, backticks, ``# x``, ``> y``, ``- z`` ...) are rendered in the three formats, on real
PostgreSQL 15 and 18 and over synthetic snapshots (hypothesis). The HTML is parsed
(html.parser): its elements and attributes are exactly the template's, every anchor numbered.
The Markdown is rendered with markdown-it-py (GFM-like: tables, strike-through, autolinks): the
tables keep their shape and no link, strike-through, code or HTML comes from a name. One HTML
report is rendered by headless Chromium, whose DOM shows the names literally.
"""

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import get_pg_binaries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from psycopg import sql
from typer.testing import CliRunner

from pgcluster import Cluster, TemplateCache
from pgtune.access.catalog import Inspection
from pgtune.access.model import (
    PUBLIC,
    ClusterState,
    DefaultPrivilege,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    Role,
)
from pgtune.audit.model import Finding, Snapshot
from pgtune.audit.report import build_report, cluster_section, render
from pgtune.audit.review import review_access
from pgtune.cli.app import app

HOSTILE = [
    "<script>alert(1)</script>",
    "a|b",
    "~~struck~~",
    "https://evil.example",
    "line1\nline2",
    "`tick`",
    "# x",
    "> y",
    "- z",
    "+ p",
    "1. n",
    "www.evil.example",
    "x@evil.example",
    "[l](https://evil.example)",
    "*em* _u_ $m$",
    "q\"'&amp;\\",
]

# ------------------------------------------------------------------------------------------
# What the templates may produce


ANCHOR = (
    r"summary|cluster-\d+"
    r"(?:-(?:findings|changes|review|groups|policy|unreadable|finding-\d+))?"
)
TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "nav", "ul",
    "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span", "div", "pre", "b",
}  # fmt: skip
CLASSES = {
    "first", "meta", "sev", "critical", "high", "medium", "low", "info", "bad", "ok", "n",
    "role", "finding", "label", "muted", "partial",
}  # fmt: skip


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(html: str) -> str:
    """Every element and attribute is one the template writes; returns the text."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in TAGS, tag
        for name, value in attrs:
            assert value is not None, (tag, name)
            if name == "href":
                assert tag == "a" and re.fullmatch("#(?:" + ANCHOR + ")", value), value
            elif name == "id":
                assert re.fullmatch(ANCHOR, value), value
            elif name == "class":
                assert set(value.split()) <= CLASSES, value
            elif name == "colspan":
                assert value.isdigit()
            else:
                assert (tag, name) in {
                    ("html", "lang"),
                    ("meta", "charset"),
                    ("meta", "name"),
                    ("meta", "content"),
                }, (tag, name, value)
    ids = [v for _, attrs in parser.tags for n, v in attrs if n == "id"]
    assert len(ids) == len(set(ids))
    hrefs = {v[1:] for _, attrs in parser.tags for n, v in attrs if n == "href" and v}
    assert hrefs <= set(ids), hrefs - set(ids)  # every link lands
    return "".join(parser.text)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("gfm-like")  # tables, strike-through, autolinks, raw HTML
    md.linkify.set({"fuzzy_link": False})  # as GitHub: scheme://, www. and e-mail only
    return md


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def check_markdown(text: str, findings: int) -> str:
    """Tables keep their shape; links are the template's anchors; no strike-through, inline
    code, image or HTML but the template's anchors. Returns the rendered HTML."""
    md = _markdown()
    tokens = md.parse(text)
    row: int | None = None
    widths: list[int] = []
    for token in _walk(tokens):
        if token.type == "table_open":
            widths = []
        elif token.type == "tr_open":
            row = 0
        elif token.type in ("th_open", "td_open"):
            assert row is not None
            row += 1
        elif token.type == "tr_close":
            widths.append(row or 0)
        elif token.type == "table_close":
            assert len(set(widths)) == 1, widths  # every row as wide as the header
        elif token.type == "link_open":
            href = token.attrGet("href")
            assert isinstance(href, str) and re.fullmatch("#(?:" + ANCHOR + ")", href), href
        elif token.type in ("html_block", "html_inline"):
            anchor = r'<a id="(?:' + ANCHOR + r')">'
            assert re.fullmatch(f"{anchor}(?:</a>\\n?)?|</a>", token.content), token
        else:
            assert token.type not in ("s_open", "code_inline", "image", "code_block"), token
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) >= findings
    return md.render(text)


def check_all(report: dict[str, Any], names: list[str]) -> dict[str, str]:
    html = render(report, "html")
    md = render(report, "md")
    doc = json.loads(render(report, "json"))
    assert doc == json.loads(json.dumps(report))
    findings = sum(len(c["findings"]) for c in report["clusters"])
    text = check_html(html)
    flat = " ".join(text.split())
    rendered = check_markdown(md, findings)
    rendered_text = " ".join(check_html_fragment(rendered).split())
    for name in names:
        one_line = " ".join(name.split())
        assert one_line in flat, name
        assert one_line in rendered_text, name
    return {"html": html, "md": md}


def check_html_fragment(html: str) -> str:
    parser = _Elements()
    parser.feed(html)
    return "".join(parser.text)


# ------------------------------------------------------------------------------------------
# Synthetic snapshots


def _report_of(names: list[str]) -> dict[str, Any]:
    roles = {n: Role(n, login=True, createrole=True) for n in names}
    group = names[0] + " group"
    roles[group] = Role(group)
    state = ClusterState(
        roles=roles,
        memberships=frozenset(Membership(group, n) for n in names),
        grants=frozenset(
            {
                Grant(ObjectRef("database", "app"), group, "CONNECT"),
                Grant(ObjectRef("schema", "app", names[-1]), group, "USAGE"),
                *(Grant(ObjectRef("table", "app", names[-1], n), group, "SELECT") for n in names),
                Grant(ObjectRef("table", "app", names[-1], names[0]), PUBLIC, "INSERT"),
            }
        ),
        # Default privileges: a hostile owner and schema, to PUBLIC and to the hostile group.
        default_privileges=frozenset(
            {
                DefaultPrivilege("app", names[1], names[-1], "tables", PUBLIC, "SELECT"),
                DefaultPrivilege("app", names[1], None, "sequences", group, "USAGE"),
            }
        ),
        owners={ObjectRef("database", "app"): "postgres"},
    )
    inv = Inventory("app", {names[-1]: "postgres"}, {(names[-1], n): "postgres" for n in names})
    snap = Snapshot(
        names[0],
        "16.4",
        16,
        "2025-01-01T00:00:00+00:00",
        names[1 % len(names)],
        False,
        Inspection(state, {"app": inv}, 16, (), 0),
        unreadable=(f"database {names[0]!r}: no CONNECT privilege",),
    )
    findings = [
        Finding(
            "PGT-ROLE-003",
            "high",
            "Login role with CREATEROLE",
            n,
            "why",
            f"-- {n}",
            None,
            "app",
            n,
        )
        for n in names
    ]
    return build_report(
        [cluster_section(snap, findings, review_access(state, {"app": inv}))],
        generated_at="T",
        generated_by=names[0],
    )


def test_hostile_names_in_a_synthetic_report() -> None:
    report = _report_of(HOSTILE)
    rendered = check_all(report, HOSTILE)
    # PUBLIC (the empty grantee in the model) is spelled PUBLIC in every format, in the
    # privileges and in the default privileges, beside the escaped hostile group.
    [review] = [r for r in report["clusters"][0]["review"] if r["role"] == HOSTILE[0]]
    vias = {v for g in review["privileges"] for v in g["via"]}
    assert {"PUBLIC", HOSTILE[0] + " group"} <= vias and PUBLIC not in vias
    future = {v for f in review["future_privileges"] for v in f["via"]}
    assert future == {"PUBLIC", HOSTILE[0] + " group"}
    evil = "&lt;script&gt;alert(1)&lt;/script&gt;"  # the same in both: md_escape and HTML
    schema = {"html": "q&#34;&#39;&amp;amp;\\", "md": "q\"'&amp;amp;\\\\"}
    bar = {"html": "a|b", "md": "a\\|b"}
    lines = {
        "html": "<li>{}</li>",
        "md": "  - {}\n",
    }
    for fmt, line in lines.items():
        for expected in (
            f"SELECT, INSERT on 1 of 16 tables in app.{schema[fmt]}: {evil} — via PUBLIC, "
            f"{evil} group",
            f"SELECT on tables {bar[fmt]} creates in app.{schema[fmt]} — via PUBLIC",
            f"USAGE on sequences {bar[fmt]} creates in app (every schema) — via {evil} group",
        ):
            assert line.format(expected) in rendered[fmt], (fmt, expected)
    for text in rendered.values():  # an empty grantee would leave "via , ..." or "via <"
        assert "via ," not in text and "via </li>" not in text and "via \n" not in text


_ALPHABET = st.sampled_from(
    [*"`*_~|[]()<>#+-=!:/.@&\\\"' \n\tabc1", "https://", "www.", "~~", "1. ", "&lt;"]
)
_NAME = st.lists(_ALPHABET, min_size=1, max_size=12).map("".join).filter(lambda n: n.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_NAME, min_size=2, max_size=5, unique_by=lambda n: " ".join(n.split())))
def test_hypothesis_names_never_become_markup(names: list[str]) -> None:
    check_all(_report_of(names), names)


# ------------------------------------------------------------------------------------------
# Real PostgreSQL 15 and 18


def _seed(cluster: Cluster) -> None:
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE readers")
        for name in HOSTILE:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(name)))
            conn.execute(sql.SQL("GRANT readers TO {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name + " g")))
            conn.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.Identifier(name + " g"), sql.Identifier(HOSTILE[0])
                )
            )
        conn.execute("CREATE SCHEMA s")
        conn.execute("GRANT USAGE ON SCHEMA s TO readers")
        for name in HOSTILE:
            conn.execute(sql.SQL("CREATE TABLE s.{} (id int)").format(sql.Identifier(name)))
            conn.execute(
                sql.SQL("GRANT SELECT ON s.{} TO {}").format(
                    sql.Identifier(name), sql.Identifier(name)
                )
            )
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA s TO readers")
        conn.execute(
            sql.SQL("REVOKE SELECT ON s.{} FROM readers").format(sql.Identifier(HOSTILE[2]))
        )


@pytest.fixture(scope="module")
def audited(
    pg_template_cache: TemplateCache, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, dict[str, Any]]]:
    clusters: list[Cluster] = []
    out: dict[int, dict[str, Any]] = {}
    try:
        for major in (15, 18):
            cluster = Cluster(get_pg_binaries(major), template_cache=pg_template_cache)
            clusters.append(cluster)
            cluster.initdb()
            cluster.start()
            _seed(cluster)
            dsn = f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user=postgres"
            directory = tmp_path_factory.mktemp(f"hostile{major}")
            runs = {}
            for fmt in ("json", "md", "html"):
                path = directory / f"report.{fmt}"
                result = CliRunner().invoke(
                    app, ["audit", "--dsn", dsn, "--format", fmt, "-o", str(path)]
                )
                assert result.exit_code in (0, 1), result.output
                runs[fmt] = path
            out[major] = runs
        yield out
    finally:
        for cluster in clusters:
            cluster.cleanup()


@pytest.mark.pg
@pytest.mark.parametrize("major", (15, 18))
def test_hostile_names_on_a_real_cluster(audited: dict[int, dict[str, Path]], major: int) -> None:
    runs = audited[major]
    doc = json.loads(runs["json"].read_text())
    [section] = doc["clusters"]
    assert set(HOSTILE) <= {r["role"] for r in section["review"]}
    assert {n + " g" for n in HOSTILE} <= {g["role"] for g in section["groups"]}
    assert set(HOSTILE) <= {f["object"] for f in section["findings"]}
    html, md = runs["html"].read_text(), runs["md"].read_text()
    text = " ".join(check_html(html).split())
    rendered = " ".join(check_html_fragment(check_markdown(md, len(section["findings"]))).split())
    for name in HOSTILE:
        one_line = " ".join(name.split())
        assert one_line in text and one_line in rendered, name
    assert "<script>" not in html


@pytest.mark.pg
def test_chromium_shows_the_names_literally(audited: dict[int, dict[str, Path]]) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed (Debian package chromium; .ci/run installs it)"
    page = audited[18]["html"]
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    text = " ".join(check_html(dom.replace("<tbody>", "<tbody>")).split())
    for name in HOSTILE:
        assert " ".join(name.split()) in text, name
    assert "<script" not in dom.replace("&lt;script", "")
