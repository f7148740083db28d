"""`pgtune generate --dsn DSN --observe 5m`: the recommendation for the server's hardware and
version (as `check` resolves it), refined by what the server did while observed, and the extra
outputs that brings: per-role and per-table SQL, and the ``observed`` section of JSON / YAML.
"""

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from psycopg import sql
from psycopg.rows import class_row

from pgtune import pg
from pgtune.names import one_line, shown, shown_qualified
from pgtune.sqltext import printable_sql
from pgtune.tuning.check import (
    LiveSetting,
    _with_local_data_dir,
    _with_server_database_size,
    live_build,
)
from pgtune.tuning.observe import Observed, observe, parse_window
from pgtune.tuning.observed_rules import Adjusted, adjust
from pgtune.tuning.recommend import Recommendation, recommend
from pgtune.tuning.request import TuningRequest, resolve


@dataclass(frozen=True)
class ObservedRun:
    adjusted: Adjusted
    observed: Observed
    sources: dict[str, str]
    dsn: str  # redacted

    @property
    def recommendation(self) -> Recommendation:
        return self.adjusted.recommendation


def terminal_progress(elapsed: float, total: float) -> None:
    """A one-line progress bar on stderr, redrawn in place."""
    width = 30
    done = int(width * min(1.0, elapsed / total))
    end = "\n" if elapsed >= total else ""
    sys.stderr.write(
        f"\rpgtune: observing [{'#' * done}{'.' * (width - done)}] "
        f"{elapsed:4.0f}/{total:.0f} s{end}"
    )
    sys.stderr.flush()


def run_observed(
    dsn: str,
    request: TuningRequest,
    window_text: str,
    *,
    progress: Callable[[float, float], None] | None = None,
    timeout: int | None = None,
) -> ObservedRun:
    window = parse_window(window_text)
    with pg.connect(dsn, timeout=timeout) as conn, pg.errors_mapped(dsn):
        caps = pg.detect_capabilities(conn)
        with conn.cursor(row_factory=class_row(LiveSetting)) as cur:
            rows = {
                r.name: r
                for r in cur.execute(pg.load_query("pgtune.tuning", "settings")).fetchall()
            }
        if request.pg_version is None:
            request = replace(request, pg_version=caps.major)
        request = _with_local_data_dir(request, conn.info.host, rows)
        resolved = resolve(request)
        context = _with_server_database_size(resolved.context, conn)
        sources = dict(resolved.sources)
        if request.pg_config is None:
            context = replace(context, build=live_build(rows))
            sources["server_build_source"] = context.build.source
        rec = recommend(context)
        observed = observe(conn, caps, window, progress)
    return ObservedRun(adjust(rec, observed), observed, sources, pg.redact_dsn(dsn))


def statements(run: ObservedRun) -> list[str]:
    """ALTER ROLE / ALTER TABLE statements, each after a comment with its reason."""
    lines: list[str] = []
    for r in run.adjusted.roles:
        lines.append(f"-- role {shown(r.role)}: {one_line(r.reason)}")
        lines.append(
            printable_sql(
                sql.SQL("ALTER ROLE {} SET {} = {};")
                .format(sql.Identifier(r.role), sql.Identifier(r.name), sql.Literal(r.value))
                .as_string(None)
            )
        )
    for t in run.adjusted.tables:
        lines.append(f"-- table {shown_qualified(t.schema, t.table)}: {one_line(t.reason)}")
        options = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(float(v)))
            for k, v in t.options
        )
        lines.append(
            printable_sql(
                sql.SQL("ALTER TABLE {} SET ({});")
                .format(sql.Identifier(t.schema, t.table), options)
                .as_string(None)
            )
        )
    return lines


def observed_section(run: ObservedRun) -> dict[str, Any]:
    o = run.observed
    figures = asdict(o)
    figures.pop("tables")
    figures.pop("statements")
    figures["unreadable"] = [{"name": n, "reason": r} for n, r in o.unreadable]
    figures["notes"] = list(o.notes)
    return {
        "dsn": run.dsn,
        "figures": figures,
        "spilling_statements": [
            {
                "role": s.role,
                "database": s.database,
                "query": s.query,
                "calls": s.calls,
                "temp_bytes": s.temp_bytes,
            }
            for s in o.statements or ()
        ],
        "adjusted": list(run.adjusted.changed),
        "findings": list(run.adjusted.findings),
        "role_settings": [asdict(r) for r in run.adjusted.roles],
        "table_settings": [
            {"schema": t.schema, "table": t.table, "options": dict(t.options), "reason": t.reason}
            for t in run.adjusted.tables
        ],
    }


def decorate(text: str, output_format: str, run: ObservedRun) -> str:
    """Add what observing brings to generate's rendered output."""
    if output_format == "json":
        doc = json.loads(text)
        doc["observed"] = observed_section(run)
        return json.dumps(doc, indent=2) + "\n"
    if output_format == "yaml":
        import yaml

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        extra: str = yaml.dump(
            {"observed": observed_section(run)},
            Dumper=dumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        return text + extra
    lines = statements(run)
    if not lines:
        return text
    if output_format == "sql":
        return text + "-- Observed: per-role and per-table settings\n" + "\n".join(lines) + "\n"
    if output_format == "conf":
        body = "\n".join(f"# {ln}" if not ln.startswith("--") else f"#{ln[2:]}" for ln in lines)
        head = "\n# Observed: run these statements too (pgtune generate --format sql)\n"
        return text + head + body + "\n"
    return text
