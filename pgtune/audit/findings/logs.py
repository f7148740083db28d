"""Logging an investigation needs: who connected and when they left, schema changes, and a
line prefix that says when, which process, who, where and from which client."""

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, alter_system
from pgtune.audit.model import Finding, Severity, Snapshot

SETTINGS = ("log_connections", "log_disconnections", "log_line_prefix", "log_statement")

# PostgreSQL 18 turned log_connections into a list of aspects, '' being none of them.
_OFF = {"off", "", "false", "no", "0"}
# What each part of the prefix must show, and the escapes that show it.
PREFIX_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("time", ("%m", "%t", "%n")),
    ("process id", ("%p", "%c")),
    ("user", ("%u",)),
    ("database", ("%d",)),
    ("application", ("%a",)),
    ("client host", ("%h", "%r")),
)
# pgtune generate's prefix: all of the above, readable.
GOOD_PREFIX = "%m [%p] %q%u@%d app=%a client=%h "


def _switch(
    snapshot: Snapshot, name: str, id: str, severity: Severity, why: str, ref: str
) -> list[Finding]:
    value = snapshot.settings.get(name)
    if value is None or value.strip().lower() not in _OFF:
        return []
    return [
        Finding(
            id=id,
            severity=severity,
            title=f"{name} is off",
            seen=f"{name} = {value!r}",
            why=why,
            remediation=alter_system(name, "on"),
            cis=ref,
            object=name,
        )
    ]


def connections(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    why = "connection attempts, failed logins included, leave no trace to investigate"
    return _switch(snapshot, "log_connections", "PGT-LOG-001", "medium", why, cis.LOG_CONNECTIONS)


def disconnections(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    why = "session ends and durations are not logged, so sessions cannot be reconstructed"
    return _switch(
        snapshot, "log_disconnections", "PGT-LOG-002", "low", why, cis.LOG_DISCONNECTIONS
    )


def statements(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("log_statement")
    if value != "none":
        return []
    return [
        Finding(
            id="PGT-LOG-003",
            severity="medium",
            title="DDL is not logged",
            seen="log_statement = 'none'",
            why="schema and privilege changes (CREATE, ALTER, GRANT, DROP) leave no trace",
            remediation=alter_system("log_statement", "ddl"),
            cis=cis.LOG_STATEMENT,
            object="log_statement",
        )
    ]


def line_prefix(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("log_line_prefix")
    if value is None:
        return []
    missing = [part for part, escapes in PREFIX_PARTS if not any(e in value for e in escapes)]
    if not missing:
        return []
    return [
        Finding(
            id="PGT-LOG-004",
            severity="low",
            title="log_line_prefix leaves out who, where or when",
            seen=f"log_line_prefix = {value!r} lacks: {', '.join(missing)}",
            why="log lines cannot be tied to a user, database or client without these",
            remediation=alter_system("log_line_prefix", GOOD_PREFIX),
            cis=cis.LOG_LINE_PREFIX,
            object="log_line_prefix",
        )
    ]


CHECKS: tuple[Check, ...] = (connections, disconnections, statements, line_prefix)
