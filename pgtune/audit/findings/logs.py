"""Logging an investigation needs: who connected and when they left, schema changes, and a
line prefix that says when, which process, who, where and from which client."""

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, alter_system
from pgtune.audit.model import Finding, Severity, Snapshot
from pgtune.tuning.render import pg_quote

SETTINGS = (
    "log_connections",
    "log_disconnections",
    "log_line_prefix",
    "log_statement",
    # The benchmark's logging items (CIS 3.1.x, 3.2, 7.2).
    "log_destination",
    "logging_collector",
    "log_file_mode",
    "log_min_messages",
    "log_min_error_statement",
    "log_error_verbosity",
    "log_replication_commands",
    "log_min_duration_statement",
    "log_parameter_max_length",
    "shared_preload_libraries",
    "pgaudit.log",
)
# Settings that exist only while a library defines them: absent means "not loaded", not
# "not readable".
OPTIONAL_SETTINGS = ("pgaudit.log",)

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


# ------------------------------------------------------------------------------------------
# The benchmark's logging items

# Message levels from the most verbose to the quietest, as log_min_messages orders them.
LEVELS = (
    "debug5", "debug4", "debug3", "debug2", "debug1",
    "info", "notice", "warning", "error", "log", "fatal", "panic",
)  # fmt: skip


def preloaded(snapshot: Snapshot) -> set[str] | None:
    """The libraries in shared_preload_libraries, by bare name ('$libdir/pgaudit.so' is
    'pgaudit'); None when the setting could not be read.

    >>> s = Snapshot.__new__(Snapshot)
    >>> object.__setattr__(s, "settings", {"shared_preload_libraries": '"$libdir/pgaudit", x'})
    >>> sorted(preloaded(s) or ())
    ['pgaudit', 'x']
    """
    value = snapshot.settings.get("shared_preload_libraries")
    if value is None:
        return None
    names = set()
    for entry in value.split(","):
        entry = entry.strip().strip('"').strip()
        if entry:
            base = entry.rsplit("/", 1)[-1]
            names.add(base[:-3] if base.endswith(".so") else base)
    return names


def preload_fix(libraries: set[str], add: str, package: str) -> str:
    """postgresql.conf lines that add one library to shared_preload_libraries. Several
    findings may each add one: the file keeps one list, so merge them.

    >>> print(preload_fix({"pg_stat_statements"}, "pgaudit", "pgaudit package"))
    # postgresql.conf; install the pgaudit package first; one list for every library added; restart
    shared_preload_libraries = 'pg_stat_statements, pgaudit'
    """
    wanted = ", ".join(sorted(libraries | {add}))
    return (
        f"# postgresql.conf; install the {package} first; one list for every library added; "
        f"restart\nshared_preload_libraries = {pg_quote(wanted)}"
    )


def _setting_finding(
    id: str, severity: Severity, title: str, seen: str, why: str, fix: str, ref: str | None
) -> Finding:
    name = seen.split(" ", 1)[0]
    return Finding(
        id=id,
        severity=severity,
        title=title,
        seen=seen,
        why=why,
        remediation=fix,
        cis=ref,
        object=name,
    )


def pgaudit_missing(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    libraries = preloaded(snapshot)
    if libraries is None or "pgaudit" in libraries:
        return []
    value = snapshot.settings["shared_preload_libraries"]
    return [
        Finding(
            id="PGT-LOG-005",
            severity="low",
            title="pgAudit is not loaded",
            seen=f"shared_preload_libraries = {value!r}",
            why="without pgAudit, reads and writes of sensitive tables and role changes leave "
            "no audit trail beyond log_statement",
            remediation=preload_fix(libraries, "pgaudit", "pgaudit package")
            + "\npgaudit.log = 'ddl, role, write'",
            cis=cis.PGAUDIT,
            object="shared_preload_libraries",
            remediation_kind="config",
        )
    ]


def pgaudit_silent(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    libraries = preloaded(snapshot)
    value = snapshot.settings.get("pgaudit.log")
    if libraries is None or "pgaudit" not in libraries or value is None:
        return []
    classes = {c.strip().lower() for c in value.split(",")} - {""}
    if classes and classes != {"none"}:
        return []
    return [
        _setting_finding(
            "PGT-LOG-006",
            "medium",
            "pgAudit is loaded but logs nothing",
            f"pgaudit.log = {value!r}",
            "the audit extension is in place but records no statement class",
            alter_system("pgaudit.log", "ddl, role, write"),
            cis.PGAUDIT,
        )
    ]


def _destinations(snapshot: Snapshot) -> set[str] | None:
    value = snapshot.settings.get("log_destination")
    if value is None:
        return None
    return {d.strip().lower() for d in value.split(",")} - {""}


def destinations_lost(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """csvlog and jsonlog are written only by the logging collector."""
    destinations = _destinations(snapshot)
    collector = snapshot.settings.get("logging_collector")
    if destinations is None or collector is None:
        return []
    kept = destinations - ({"csvlog", "jsonlog"} if collector == "off" else set())
    if kept:
        return []
    value = snapshot.settings["log_destination"]
    return [
        _setting_finding(
            "PGT-LOG-007",
            "medium",
            "Server log messages go nowhere",
            f"log_destination = {value!r}, logging_collector = {collector!r}",
            "csvlog and jsonlog are only written by the logging collector: messages are lost",
            alter_system("log_destination", "stderr")
            + "\n-- or keep csvlog/jsonlog: ALTER SYSTEM SET logging_collector = on; and restart",
            cis.LOG_DESTINATION,
        )
    ]


def collector_off(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    destinations = _destinations(snapshot)
    if snapshot.settings.get("logging_collector") != "off" or destinations is None:
        return []
    if "stderr" not in destinations or destinations & {"syslog", "eventlog"}:
        return []
    return [
        _setting_finding(
            "PGT-LOG-008",
            "low",
            "The logging collector is off",
            "logging_collector = 'off', log_destination = "
            + repr(snapshot.settings["log_destination"]),
            "log messages go wherever the service manager sends stderr, and some can be lost",
            alter_system("logging_collector", "on") + "\n-- takes effect after a restart",
            cis.LOGGING_COLLECTOR,
        )
    ]


def log_file_mode(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("log_file_mode")
    if value is None or not value.isdigit():
        return []
    mode = int(value, 8) if value.startswith("0") else int(value)
    if not mode & 0o037:  # 0600 and 0640 are fine
        return []
    return [
        _setting_finding(
            "PGT-LOG-009",
            "medium",
            "Log files are readable or writable beyond the server's account",
            f"log_file_mode = {mode:04o}",
            "logs hold statements, parameters and error details: others can read or edit them",
            alter_system("log_file_mode", "0600"),
            cis.LOG_FILE_MODE,
        )
    ]


def _level_above(snapshot: Snapshot, name: str, limit: str) -> str | None:
    value = snapshot.settings.get(name)
    if value is None or value.lower() not in LEVELS:
        return None
    return value if LEVELS.index(value.lower()) > LEVELS.index(limit) else None


def min_messages(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = _level_above(snapshot, "log_min_messages", "warning")
    if value is None:
        return []
    return [
        _setting_finding(
            "PGT-LOG-010",
            "low",
            "log_min_messages leaves out warnings",
            f"log_min_messages = {value!r}",
            "warnings (and errors, below 'log') about the server's state are not logged",
            alter_system("log_min_messages", "warning"),
            cis.LOG_MIN_MESSAGES,
        )
    ]


def min_error_statement(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = _level_above(snapshot, "log_min_error_statement", "error")
    if value is None:
        return []
    return [
        _setting_finding(
            "PGT-LOG-011",
            "low",
            "Statements that fail are not logged",
            f"log_min_error_statement = {value!r}",
            "the SQL behind errors (probing, injection attempts) is missing from the log",
            alter_system("log_min_error_statement", "error"),
            cis.LOG_MIN_ERROR_STATEMENT,
        )
    ]


def error_verbosity(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("log_error_verbosity")
    if value is None or value.lower() != "terse":
        return []
    return [
        _setting_finding(
            "PGT-LOG-012",
            "low",
            "Error messages are logged tersely",
            f"log_error_verbosity = {value!r}",
            "terse drops the DETAIL, HINT, QUERY and CONTEXT lines an investigation needs",
            alter_system("log_error_verbosity", "default"),
            cis.LOG_ERROR_VERBOSITY,
        )
    ]


def replication_commands(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("log_replication_commands")
    if value != "off":
        return []
    return [
        _setting_finding(
            "PGT-LOG-013",
            "low",
            "Replication commands are not logged",
            "log_replication_commands = 'off'",
            "a base backup or replication stream copies the whole cluster without a log line",
            alter_system("log_replication_commands", "on"),
            cis.LOG_REPLICATION,
        )
    ]


def duration_statements(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("log_min_duration_statement")
    if value is None or not value.lstrip("-").isdigit() or int(value) < 0:
        return []
    if snapshot.settings.get("log_parameter_max_length") == "0":
        return []  # bind values are dropped: the statement text is what slow-query logs are for
    return [
        _setting_finding(
            "PGT-LOG-014",
            "info",
            "Slow statements are logged with their values",
            f"log_min_duration_statement = {value!r} (ms)",
            "statement text and bind values (passwords, personal data) land in the log; "
            "restrict who reads it",
            alter_system("log_parameter_max_length", "0")
            + "\n-- keeps slow statements logged without their bind values; or stop logging"
            "\n-- them: ALTER SYSTEM SET log_min_duration_statement = -1",
            None,
        )
    ]


CHECKS: tuple[Check, ...] = (
    connections,
    disconnections,
    statements,
    line_prefix,
    pgaudit_missing,
    pgaudit_silent,
    destinations_lost,
    collector_off,
    log_file_mode,
    min_messages,
    min_error_statement,
    error_verbosity,
    replication_commands,
    duration_statements,
)
