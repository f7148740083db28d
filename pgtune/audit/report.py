"""The access review report: one JSON-shaped document, rendered as JSON, Markdown or HTML.

The document *is* the data structure: an audit builds it, ``report merge`` reads it back from
per-cluster files, ``--baseline`` diffs against it, and the Markdown and HTML templates render
it. So the three formats cannot disagree, and a merged report is the same as one run. The
format is documented in docs/audit.md; within ``format_version`` 1 keys are only ever added.

Nothing secret reaches it: roles come from ``pg_roles`` (no password hashes), cluster labels
are DSNs parsed and rebuilt without their password, and messages from libpq or the server
(which never carry the password) are made one line with any ``password=`` token masked
(:func:`scrub`). Nothing is masked by searching for a value, so names stay whole.
"""

import getpass
import json
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgtune import __version__
from pgtune.access.model import ClusterState, Membership, Role, grantee_label
from pgtune.audit.model import SEVERITIES, Finding, Snapshot, severity_rank
from pgtune.audit.review import OWNER, PrivilegeGroup, RoleReview, future_privilege_doc
from pgtune.errors import DataError, UsageError
from pgtune.pg import sanitize

FORMAT_VERSION = 1
MAX_LISTED = 10  # object names a rendered line lists before "… and N more"
FORMATS = ("md", "html", "json")

Doc = dict[str, Any]

_ROLE_ATTRIBUTES = (
    "login",
    "superuser",
    "createdb",
    "createrole",
    "replication",
    "bypassrls",
    "inherit",
    "connection_limit",
    "valid_until",
)


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def who_runs() -> str:
    """The OS user and host running pgtune: "who ran it" beside the database role."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no $USER
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# ---------------------------------------------------------------------------------------------
# Building


_GROUP_FIELDS = tuple(f.name for f in fields(PrivilegeGroup))


def role_attributes(role: Role) -> Doc:
    # Settings and comments are left out: a custom GUC may hold a secret, and neither is access.
    return {name: getattr(role, name) for name in _ROLE_ATTRIBUTES}


def group_doc(group: PrivilegeGroup) -> Doc:
    # Field by field rather than asdict(), which deep-copies every name (thousands of groups).
    doc = {name: getattr(group, name) for name in _GROUP_FIELDS}
    doc["except"] = doc.pop("excluded")
    doc["via"] = [grantee_label(v) for v in doc["via"]]
    return {key: list(v) if isinstance(v, tuple) else v for key, v in doc.items()}


def review_doc(review: RoleReview) -> Doc:
    return {
        "role": review.role.name,
        "attributes": role_attributes(review.role),
        "memberships": [
            {"role": m.role, "path": list(m.path), "how": m.how, "admin": m.admin}
            for m in review.memberships
        ],
        "capabilities": [
            {
                "name": c.name,
                "description": c.description,
                "path": list(c.path),
                "set_role": c.set_role,
            }
            for c in review.capabilities
        ],
        "privileges": [group_doc(g) for g in review.privileges],
        "set_role_privileges": [group_doc(g) for g in review.set_role_privileges],
        "future_privileges": [future_privilege_doc(f) for f in review.future_privileges],
    }


def _how(m: Membership, roles: Mapping[str, Role]) -> str:
    member = roles.get(m.member)
    inherits = m.inherit if m.inherit is not None else (member.inherit if member else True)
    if inherits:
        return "inherit"
    return "set_role" if m.set is not False else "none"


def groups_doc(state: ClusterState, reviews: Sequence[RoleReview]) -> list[Doc]:
    """Who is in each group (NOLOGIN role): its direct members and how (inherit, SET ROLE
    only, or neither), then the login roles that reach it through other groups, with the path.
    A predefined role is listed only when a role of the cluster's own is in it directly: the
    predefined roles' memberships among themselves (pg_monitor's) are built in."""
    direct: dict[str, list[Doc]] = {}
    for m in sorted(state.memberships, key=lambda m: (m.group, m.member)):
        if _predefined(m.group) and _predefined(m.member):
            continue
        member = state.roles.get(m.member)
        direct.setdefault(m.group, []).append(
            {
                "member": m.member,
                "login": bool(member and member.login),
                "how": _how(m, state.roles),
                "admin": m.admin,
            }
        )
    indirect: dict[str, list[Doc]] = {}
    for review in reviews:
        for held in review.memberships:
            if len(held.path) > 2 and not _predefined(held.role):
                indirect.setdefault(held.role, []).append(
                    {"member": review.role.name, "how": held.how, "path": list(held.path)}
                )
    return [
        {
            "role": name,
            "members": direct.get(name, []),
            "indirect": sorted(indirect.get(name, []), key=lambda d: (d["member"], d["path"])),
        }
        for name, role in sorted(state.roles.items())
        if not role.login and (not _predefined(name) or name in direct)
    ]


def _predefined(role: str) -> bool:
    return role.startswith("pg_")


def finding_doc(finding: Finding) -> Doc:
    return asdict(finding)


def finding_sort_key(f: Mapping[str, Any]) -> tuple[object, ...]:
    return (
        severity_rank(f["severity"]),
        f["id"],
        f.get("database") or "",
        f.get("object") or "",
        f.get("seen") or "",
    )


def severity_counts(findings: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f["severity"]] += 1
    return counts


def _empty_section(label: str) -> Doc:
    return {
        "cluster": label,
        "system_identifier": None,
        "address": None,
        "status": "ok",
        "error": None,
        "server_version": None,
        "major": None,
        "collected_at": None,
        "collected_by": None,
        "superuser": None,
        "databases": [],
        "unreadable": [],
        "counts": severity_counts(()),
        "policy": None,
        "roles": {},
        "review": [],
        "groups": [],
        "changes": None,
        "findings": [],
    }


def cluster_section(
    snapshot: Snapshot,
    findings: Sequence[Finding],
    reviews: Sequence[RoleReview],
    policy: Doc | None = None,
) -> Doc:
    """Everything the report says about one reachable cluster."""
    found = sorted((finding_doc(f) for f in findings), key=finding_sort_key)
    return {
        **_empty_section(snapshot.cluster),
        "system_identifier": snapshot.system_identifier,
        "address": snapshot.address,
        "server_version": snapshot.server_version,
        "major": snapshot.major,
        "collected_at": snapshot.collected_at,
        "collected_by": snapshot.collected_by,
        "superuser": snapshot.superuser,
        "databases": sorted(snapshot.access.inventories),
        "unreadable": list(snapshot.unreadable),  # the collector includes the inspection's
        "counts": severity_counts(found),
        "policy": policy,
        # Every role but the predefined ones (which exist everywhere): the baseline for
        # "roles added / removed / attributes changed".
        "roles": {
            name: role_attributes(role)
            for name, role in sorted(snapshot.access.state.roles.items())
            if not name.startswith("pg_")
        },
        "review": [review_doc(r) for r in reviews],
        "groups": groups_doc(snapshot.access.state, reviews),
        "findings": found,
    }


def unreachable_section(label: str, reason: str) -> Doc:
    return {**_empty_section(label), "status": "unreachable", "error": reason}


def build_report(
    clusters: Sequence[Doc], *, generated_at: str | None = None, generated_by: str | None = None
) -> Doc:
    """The combined report over cluster sections, in the order given."""
    seen: dict[tuple[str, ...], str] = {}
    for c in clusters:
        key, label = cluster_identity(c), c["cluster"]
        if key in seen:
            if seen[key] == label:
                raise UsageError(f"cluster {label!r} appears more than once")
            raise UsageError(
                f"clusters {seen[key]!r} and {label!r} are the same cluster "
                f"({identity_text(c)}): it appears more than once"
            )
        seen[key] = label
    findings = [f for c in clusters for f in c["findings"]]
    policies = [c["policy"] for c in clusters if c["policy"] is not None]
    return {
        "format_version": FORMAT_VERSION,
        "generator": f"pgtune {__version__}",
        "generated_at": generated_at or now_utc(),
        "generated_by": generated_by or who_runs(),
        "summary": {
            "clusters": len(clusters),
            "unreachable": sum(c["status"] != "ok" for c in clusters),
            "findings": severity_counts(findings),
            "policy_checked": len(policies),
            "policy_mismatch": sum(p.get("matches") is not True for p in policies),
        },
        "clusters": list(clusters),
    }


def cluster_identity(section: Mapping[str, Any]) -> tuple[str, ...]:
    """Who a section is about: the server's system identifier with the address (a standby
    shares its primary's identifier), else the address, else (unreachable, or a report
    written before identities) the label.

    >>> cluster_identity({"cluster": "db1", "system_identifier": "7", "address": "db1:5432"})
    ('system_identifier', '7', 'db1:5432')
    >>> cluster_identity({"cluster": "service=db1"})
    ('label', 'service=db1')
    """
    sysid, address = section.get("system_identifier"), section.get("address")
    if sysid:
        return ("system_identifier", str(sysid), str(address or ""))
    if address:
        return ("address", str(address))
    return ("label", str(section["cluster"]))


def identity_text(section: Mapping[str, Any]) -> str:
    """
    >>> identity_text({"system_identifier": "7", "address": "/run/postgresql:5432"})
    'system identifier 7 at /run/postgresql:5432'
    """
    sysid, address = section.get("system_identifier"), section.get("address")
    if sysid:
        return f"system identifier {sysid}" + (f" at {address}" if address else "")
    if address:
        return f"address {address} (system identifier not readable)"
    return "identified by its label only"


# What a finding's remediation is (Finding.remediation_kind): the label it is shown under and
# the Markdown fence's info string. Only "sql" is ever shown as SQL.
REMEDIATIONS: dict[str, tuple[str, str]] = {
    "sql": ("Remediation (SQL)", "sql"),
    "config": ("Remediation (configuration file: postgresql.conf or pg_hba.conf)", ""),
    "shell": ("Remediation (shell command on the database host)", "sh"),
}


def remediation_label(finding: Mapping[str, Any]) -> str:
    """The label a finding's remediation is shown under; a report written before
    ``remediation_kind`` (or with a kind this pgtune does not know) does not say what it is.

    >>> remediation_label({"remediation_kind": "config"})
    'Remediation (configuration file: postgresql.conf or pg_hba.conf)'
    >>> remediation_label({}), remediation_label({"remediation_kind": "<b>"})
    ('Remediation', 'Remediation')
    """
    known = REMEDIATIONS.get(str(finding.get("remediation_kind")))
    return known[0] if known else "Remediation"


def remediation_fence(finding: Mapping[str, Any]) -> str:
    """The remediation in a Markdown code fence, marked ``sql`` only when it is SQL.

    >>> print(remediation_fence({"remediation": "chmod 0700 x", "remediation_kind": "shell"}))
    ```sh
    chmod 0700 x
    ```
    """
    known = REMEDIATIONS.get(str(finding.get("remediation_kind")))
    return md_fence(str(finding["remediation"]), known[1] if known else "")


def merge_reports(reports: Sequence[Doc]) -> Doc:
    """One report over the clusters of several (each already validated)."""
    return build_report([c for r in reports for c in r["clusters"]])


def exit_code(report: Doc, fail_on: str) -> int:
    """0: nothing at or above ``fail_on``; 1: findings, or a cluster that could not be
    audited; 2: no cluster could be audited at all.

    >>> exit_code(build_report([], generated_at="t", generated_by="u"), "high")
    0
    """
    if fail_on not in SEVERITIES:
        raise UsageError(f"unknown severity {fail_on!r}: use {', '.join(SEVERITIES)}")
    clusters = report["clusters"]
    if clusters and all(c["status"] != "ok" for c in clusters):
        return 2
    if any(c["status"] != "ok" for c in clusters):
        return 1
    limit = SEVERITIES.index(fail_on)
    worst = [severity_rank(f["severity"]) for c in clusters for f in c["findings"]]
    return 1 if any(rank <= limit for rank in worst) else 0


# ---------------------------------------------------------------------------------------------
# Secrets


def dsn_secrets(dsn: str) -> set[str]:
    """Unused by pgtune since masking is by conninfo token (kept for callers of ``scrub``)."""
    return set()


def scrub(section: Doc, secrets: Iterable[str] = ()) -> Doc:
    """``section`` with a ``password=...`` conninfo token (or a URI's ``user:password@``)
    masked in its messages: the error, the unreadable lines and the policy's error.

    Nothing else is touched and nothing is searched for by value (``secrets`` is ignored):
    names, findings and remediation SQL are the cluster's own words, and a password ``app``
    must not turn the role ``app`` into ``***``. Password hashes never reach a report: the
    secrets query returns only their kind, role settings are left out, and a plan prints
    ``PASSWORD <from $VAR>``.

    >>> scrub({"error": "at password=pw x", "unreadable": ["pwned"], "policy": None})
    {'error': 'at password=*** x', 'unreadable': ['pwned'], 'policy': None}
    """
    out = dict(section)
    if isinstance(out.get("error"), str):
        out["error"] = sanitize(out["error"], "")
    if isinstance(out.get("unreadable"), list):
        out["unreadable"] = [sanitize(str(u), "") for u in out["unreadable"]]
    policy = out.get("policy")
    if isinstance(policy, dict) and isinstance(policy.get("error"), str):
        out["policy"] = {**policy, "error": sanitize(policy["error"], "")}
    return out


# ---------------------------------------------------------------------------------------------
# Reading reports back (baseline, merge)


def load_report(path: Path, what: str = "report") -> Doc:
    """A report written by ``pgtune audit --format json``; UsageError (exit 2) otherwise."""
    name = str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read {what} {name!r}: {reason}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{what} {name!r} is not JSON (line {exc.lineno}: {exc.msg}); "
            "give a report written with --format json"
        ) from None
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise UsageError(f"{what} {name!r} is not a pgtune audit report (no format_version)")
    if doc["format_version"] != FORMAT_VERSION:
        raise UsageError(
            f"{what} {name!r} has format_version {doc['format_version']!r}; "
            f"this pgtune reads {FORMAT_VERSION}"
        )
    clusters = doc.get("clusters")
    if not isinstance(clusters, list) or not all(
        isinstance(c, dict) and isinstance(c.get("cluster"), str) for c in clusters
    ):
        raise UsageError(f"{what} {name!r} has no valid 'clusters' list")
    return doc


# ---------------------------------------------------------------------------------------------
# Rendering


_NOUNS = {
    "database": ("database", "databases"),
    "schema": ("schema", "schemas"),
    "table": ("table", "tables"),
    "sequence": ("sequence", "sequences"),
    "function": ("function", "functions"),
    "column": ("column", "columns"),
}


def names_text(names: Sequence[str], limit: int = MAX_LISTED) -> str:
    """
    >>> names_text(["a", "b", "c"], limit=2)
    'a, b … and 1 more'
    """
    shown = ", ".join(names[:limit])
    return shown + (f" … and {len(names) - limit} more" if len(names) > limit else "")


def group_text(group: Mapping[str, Any], role: str | None = None) -> str:
    """One line for a privilege group or a change of privileges.

    >>> group_text({"database": "app", "schema": "sales", "kind": "table",
    ...     "privileges": ["SELECT"], "scope": "all_but", "count": 998, "total": 1000,
    ...     "objects": [], "except": ["audit", "keys"], "via": ["readers"]})
    'SELECT on 998 of 1000 tables in app.sales (all but: audit, keys) — via readers'
    """
    db, schema, kind = group["database"], group["schema"], group["kind"]
    owned = list(group["privileges"]) == [OWNER]
    verb = "owns" if owned else ", ".join(group["privileges"]) + " on"
    one, many = _NOUNS.get(kind, (kind, kind + "s"))
    where = db if schema is None else f"{db}.{schema}"
    count, total = group["count"], group["total"]
    objects, excluded = list(group.get("objects") or ()), list(group.get("except") or ())
    if kind == "database":
        text = f"{verb} database {db}"
    elif group["scope"] == "all":
        listed = f": {names_text(objects)}" if objects else ""
        if total == 1:
            text = f"{verb} the only {one} in {where}{listed}"
        else:
            text = f"{verb} all {total} {many} in {where}{listed}"
    elif group["scope"] == "all_but":
        text = f"{verb} {count} of {total} {many} in {where} (all but: {names_text(excluded)})"
    else:
        text = f"{verb} {count} of {total} {many} in {where}: {names_text(objects)}"
    if group.get("grantable"):
        text += f" [grant option: {', '.join(group['grantable'])}]"
    own = None if role is None else grantee_label(role)  # "via" holds labels
    via = [("direct grant" if v == own else v) for v in group.get("via") or ()]
    if via and not owned:
        text += f" — via {', '.join(via)}"
    elif owned and via and own not in via:
        text += f" — as {', '.join(via)}"
    if group.get("blocked"):
        text += f" — not usable: {group['blocked']}"
    return text


def future_text(f: Mapping[str, Any]) -> str:
    """One line for a default privilege reaching the role.

    >>> future_text({"database": "app", "owner": "etl", "schema": None, "objtype": "tables",
    ...     "privileges": ["SELECT"], "grantable": [], "via": ["readers"], "set_role": False})
    'SELECT on tables etl creates in app (every schema) — via readers'
    """
    where = f["database"] + (f".{f['schema']}" if f.get("schema") else " (every schema)")
    text = f"{', '.join(f['privileges'])} on {f['objtype']} {f['owner']} creates in {where}"
    if f.get("grantable"):
        text += f" [grant option: {', '.join(f['grantable'])}]"
    if f.get("via"):
        text += f" — via {', '.join(f['via'])}"
    return text + (" — after SET ROLE" if f.get("set_role") else "")


def membership_text(m: Mapping[str, Any]) -> str:
    text = " → ".join(m["path"])
    if m["how"] == "set_role":
        text += " (via SET ROLE only)"
    elif m["how"] == "none":
        text += " (member without INHERIT or SET: no privileges)"
    return text + (" [ADMIN OPTION]" if m.get("admin") else "")


def capability_text(c: Mapping[str, Any]) -> str:
    path = list(c["path"])
    source = "" if len(path) <= 1 else f" (via {' → '.join(path)})"
    when = " — after SET ROLE" if c.get("set_role") else ""
    return f"{c['name']}: {c['description']}{source}{when}"


def attributes_text(attrs: Mapping[str, Any]) -> str:
    flags = [
        a.upper()
        for a in ("superuser", "createrole", "createdb", "replication", "bypassrls")
        if attrs.get(a)
    ]
    if not attrs.get("inherit", True):
        flags.append("NOINHERIT")
    limit = attrs.get("connection_limit", -1)
    flags.append("no connection limit" if limit == -1 else f"connection limit {limit}")
    until = attrs.get("valid_until")
    flags.append("no expiry" if until is None else f"valid until {until}")
    return ", ".join(flags)


_MD_PUNCTUATION = re.compile(r"([`*\[\]|#~$])")
_MD_LEADING = re.compile(r"^([-+=]|\d+(?=[.)]))")


def md_escape(text: object) -> str:
    r"""Text safe in Markdown (GFM tables included), on one line; underscores inside words stay.

    Nothing in it can become markup: emphasis, strike-through (``~~``), code, links, images,
    raw HTML, headings, quotes, list items (a leading ``-``, ``+``, ``1.``), table cells, math,
    or a GFM autolink (``https://``, ``www.``, an e-mail address).

    >>> md_escape("app_rw | <b>*x*</b> _y_")
    'app_rw \\| &lt;b&gt;\\*x\\*&lt;/b&gt; \\_y\\_'
    >>> md_escape("- z ~~s~~ https://evil.example www.x.org a@b.co 1. x\nnext")
    '\\- z \\~\\~s\\~\\~ https\\:\\/\\/evil.example www\\.x.org a\\@b.co 1. x next'
    >>> md_escape("1. x"), md_escape("# x")
    ('1\\. x', '\\# x')
    """
    value = " ".join(str(text).split())  # one line: a newline would end a list item or a row
    value = value.replace("\\", "\\\\").replace("&", "&amp;")
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_PUNCTUATION.sub(r"\\\1", value)
    value = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", value)
    # GFM autolinks: a scheme's "://", "www." and an e-mail's "@" are what make them
    value = re.sub(r"://", r"\\:\\/\\/", value)
    value = re.sub(r"(?i)\b(www)\.", r"\1\\.", value)
    value = value.replace("@", "\\@")
    return _MD_LEADING.sub(
        lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit() else "\\" + m.group(0),
        value,
        count=1,
    )


def pg_value(value: object) -> str:
    """A value as PostgreSQL spells it (changes since the baseline).

    >>> [pg_value(v) for v in (None, True, False, -1, "infinity")]
    ['NULL', 'true', 'false', '-1', 'infinity']
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def md_fence(text: str, info: str = "") -> str:
    """A fenced code block longer than any backtick run inside, so the text cannot end it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _environment(templates_dir: Path | None, html: bool) -> Any:
    import jinja2

    from pgtune.resources import shipped_dir

    directory = templates_dir or shipped_dir("templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=html,  # everything in the HTML report came from the cluster: escape it all
    )
    env.filters.update(
        group_text=group_text,
        membership_text=membership_text,
        capability_text=capability_text,
        attributes_text=attributes_text,
        md=md_escape,
        fence=md_fence,
        pg_value=pg_value,
        future_text=future_text,
        identity_text=identity_text,
        remediation_label=remediation_label,
        remediation_fence=remediation_fence,
    )
    env.globals.update(severities=SEVERITIES, max_listed=MAX_LISTED)
    return env, directory


def render(report: Doc, fmt: str, templates_dir: Path | None = None) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: use md, html or json")
    import jinja2

    name = f"report.{fmt}.j2"
    env, directory = _environment(templates_dir, html=fmt == "html")
    try:
        text: str = env.get_template(name).render(report=report)
    except jinja2.TemplateNotFound as exc:
        raise DataError(f"template {exc.name!r} not found in {str(directory)!r}") from None
    except jinja2.TemplateError as exc:
        raise DataError(f"template error in {name}: {exc}") from None
    return text if text.endswith("\n") else text + "\n"
