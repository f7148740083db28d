"""Auditing one cluster or a fleet: targets, the per-cluster pipeline, bounded concurrency.

One cluster goes: collect (collect.py) → checks (findings/) → review (review.py) → policy
comparison (``--policy``) → changes since the baseline (``--baseline``) → its report section.
A cluster that cannot be reached, or refuses the audit, becomes a section saying so, with the
one-line reason; the others carry on. Sections come back in the order the targets were given,
whatever order they finish in, so a report does not depend on timing.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgtune import pg
from pgtune.audit.baseline import baseline_section, diff_cluster
from pgtune.audit.report import (
    Doc,
    cluster_section,
    scrub,
    unreachable_section,
)
from pgtune.audit.review import review_snapshot
from pgtune.errors import PgtuneError, UsageError
from pgtune.gcpasses import fewer_gc_passes

if TYPE_CHECKING:
    from pgtune.access.policy.document import Policy

DEFAULT_JOBS = 4


@dataclass(frozen=True)
class Target:
    dsn: str
    label: str  # what the report calls it: the DSN without its password


@dataclass(frozen=True)
class AuditOptions:
    databases: tuple[str, ...] | None = None  # None: every database accepting connections
    timeout: int | None = None
    policy: "Policy | None" = None
    policy_file: str | None = None
    baseline: Doc | None = None
    baseline_file: str | None = None


def parse_inventory(text: str) -> list[str]:
    """One DSN or libpq service name per line; blank lines and ``#`` comment lines skipped.

    >>> parse_inventory("# prod\\nhost=db1 dbname=app\\n\\n  billing  \\nservice=crm\\n")
    ['host=db1 dbname=app', 'service=billing', 'service=crm']
    """
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # A bare word is a service name (pg_service.conf); anything else is a DSN or URI.
        is_dsn = "=" in line or "://" in line
        found.append(line if is_dsn else f"service={line}")
    return found


def read_inventory(path: Path) -> list[str]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read inventory {str(path)!r}: {reason}") from None
    dsns = parse_inventory(text)
    if not dsns:
        raise UsageError(f"inventory {str(path)!r} lists no cluster")
    return dsns


def label_of(dsn: str) -> str:
    """What the report calls a cluster: its DSN without the password, so that a changed
    password keeps the label (the baseline is matched by it) and a report never shows one.

    >>> label_of("postgresql://audit:s3cret@db1.example:5433/app")
    'user=audit dbname=app host=db1.example port=5433'
    >>> label_of("service=billing")
    'service=billing'
    """
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return pg.redact_dsn(dsn)  # masked by pattern; connecting will say what is wrong
    if not any(k.lower() in pg.SECRET_KEYS for k in params):
        return dsn
    return make_conninfo("", **{k: v for k, v in params.items() if k.lower() not in pg.SECRET_KEYS})


def targets(dsns: Sequence[str], inventory: Path | None = None) -> list[Target]:
    """The clusters to audit, each once, in the order given (--dsn first)."""
    given = [*dsns, *(read_inventory(inventory) if inventory is not None else [])]
    if not given:
        raise UsageError("nothing to audit: give --dsn (repeatable) or --inventory FILE")
    found: dict[str, Target] = {}
    for dsn in given:
        label = label_of(dsn)
        if label in found:
            if found[label].dsn == dsn:
                continue  # listed twice: audited once
            raise UsageError(f"two different DSNs redact to {label!r}: name them apart")
        found[label] = Target(dsn, label)
    return list(found.values())


def _one_line(exc: BaseException, dsn: str) -> str:
    # pgtune's errors are already one line with the password masked; psycopg's are not.
    return pg.sanitize(str(exc), dsn) if isinstance(exc, psycopg.Error) else str(exc)


def compare_policy(target: Target, options: AuditOptions) -> Doc | None:
    """Drift between the cluster and ``--policy``: what ``pgtune roles plan`` would change."""
    if options.policy is None:
        return None
    from pgtune.access.service import plan_policy

    doc: Doc = {
        "file": options.policy_file,
        "matches": None,
        "drift": None,
        "changes": [],
        "error": None,
    }
    try:
        planned = plan_policy(options.policy, target.dsn)
    except (PgtuneError, psycopg.Error) as exc:
        return {**doc, "error": f"could not compare: {_one_line(exc, target.dsn)}"}
    changes = [
        {"database": c.database or planned.first_db, "reason": c.reason, "sql": c.sql_text()}
        for c in planned.changes
    ]
    return {**doc, "matches": not changes, "drift": len(changes), "changes": changes}


def audit_cluster(target: Target, options: AuditOptions) -> Doc:
    """The report section of one cluster; never raises for a cluster that cannot be audited."""
    from pgtune.audit.collect import collect
    from pgtune.audit.findings import run_checks

    try:
        snapshot = collect(
            target.dsn, label=target.label, databases=options.databases, timeout=options.timeout
        )
    except (PgtuneError, psycopg.Error) as exc:
        section = unreachable_section(target.label, _one_line(exc, target.dsn))
    else:
        findings = run_checks(snapshot, policy=options.policy)
        reviews = review_snapshot(snapshot)
        section = cluster_section(snapshot, findings, reviews, compare_policy(target, options))
    if options.baseline is not None:
        before = baseline_section(options.baseline, section)
        section["changes"] = diff_cluster(before, section, options.baseline_file or "baseline")
    return scrub(section)


Progress = Callable[[int, int, Doc], None]


def audit_fleet(
    fleet: Sequence[Target],
    options: AuditOptions,
    *,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
    audit: Callable[[Target, AuditOptions], Doc] = audit_cluster,
) -> list[Doc]:
    """Every target's section, in the targets' order; at most ``jobs`` audits at a time.

    ``progress(done, total, section)`` is called from this thread as each one finishes.
    Call it from the main thread: it raises the cyclic GC's thresholds (process-wide) for
    the whole run, never the workers themselves (pgtune.gcpasses).
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs!r}")
    sections: list[Doc | None] = [None] * len(fleet)
    workers = min(jobs, len(fleet)) or 1
    with (
        fewer_gc_passes(),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pgtune-audit") as pool,
    ):
        futures = {pool.submit(audit, target, options): i for i, target in enumerate(fleet)}
        for done, future in enumerate(as_completed(futures), start=1):
            section = future.result()
            sections[futures[future]] = section
            if progress is not None:
                progress(done, len(fleet), section)
    return [s for s in sections if s is not None]


def describe(section: Doc) -> str:
    """One progress line for a finished cluster."""
    if section["status"] != "ok":
        return f"{section['cluster']}: could not be audited: {section['error']}"
    counts: dict[str, int] = section["counts"]
    found = ", ".join(f"{n} {severity}" for severity, n in counts.items() if n)
    return f"{section['cluster']}: {found or 'no findings'}"
