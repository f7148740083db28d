"""SECURITY DEFINER functions run with their owner's rights, so what they resolve through
search_path must be out of reach of the caller (PostgreSQL docs, "Writing SECURITY DEFINER
Functions Safely").

One finding per function: when PUBLIC may also execute it (PGT-PRIV-002's problem), the
search_path finding says so and its remediation revokes that too, rather than two findings
of the same severity about one function (PGT-PRIV-002 then stays silent for it)."""

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, qualified, render, routine
from pgtune.audit.findings.public import public_creatable_schemas, public_executable
from pgtune.audit.model import Finding, FunctionInfo, Snapshot


def path_entries(search_path: str) -> list[str]:
    """The schemas of a proconfig search_path, unquoted ('""' is the empty path).

    >>> path_entries('app, "My Schema", pg_temp')
    ['app', 'My Schema', 'pg_temp']
    >>> path_entries('""')
    []
    """
    entries: list[str] = []
    current, quoted, i = "", False, 0
    while i < len(search_path):
        c = search_path[i]
        if c == '"':
            if quoted and search_path[i + 1 : i + 2] == '"':
                current += '"'
                i += 1
            else:
                quoted = not quoted
        elif c == "," and not quoted:
            entries.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    entries.append(current.strip())
    return [e for e in entries if e]


def unsafe_reasons(f: FunctionInfo, writable: set[tuple[str, str]]) -> list[str]:
    """What makes a pinned search_path unsafe (nothing for an unpinned one)."""
    if f.search_path is None:
        return []
    entries = path_entries(f.search_path)
    problems = [
        f"PUBLIC may create in {qualified(e)}" for e in entries if (f.database, e) in writable
    ]
    if "pg_temp" in entries[:-1]:
        problems.append("pg_temp is not last")
    return problems


def has_search_path_finding(f: FunctionInfo, writable: set[tuple[str, str]]) -> bool:
    """Whether PGT-FUNC-001 or 002 reports ``f``."""
    return f.security_definer and (f.search_path is None or bool(unsafe_reasons(f, writable)))


def _key(f: FunctionInfo) -> tuple[str, str, str, str]:
    return (f.database, f.schema, f.name, f.args)


def _pin(f: FunctionInfo, writable: set[tuple[str, str]], public: bool = False) -> str:
    """Pin the function's own schema then pg_temp; a schema PUBLIC may create in is no pin
    at all, so that CREATE is revoked first; EXECUTE is revoked from PUBLIC when it has it."""
    statements: list[sql.Composable] = []
    if (f.database, f.schema) in writable:
        statements.append(
            sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(f.schema))
        )
    statements.append(
        sql.SQL("ALTER ROUTINE {} SET search_path = {}, pg_temp").format(
            routine(f.schema, f.name, f.args), sql.Identifier(f.schema)
        )
    )
    if public:
        statements.append(
            sql.SQL("REVOKE EXECUTE ON ROUTINE {} FROM PUBLIC").format(
                routine(f.schema, f.name, f.args)
            )
        )
    return render(*statements)


PUBLIC_TOO = "; PUBLIC may execute it, so every role can"


def _owner(snapshot: Snapshot, f: FunctionInfo) -> tuple[str, bool]:
    role = snapshot.access.state.roles.get(f.owner)
    superuser = role is not None and role.superuser
    return f"owned by {f.owner!r}" + (" (a superuser)" if superuser else ""), superuser


def unpinned_search_path(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    writable = public_creatable_schemas(snapshot)
    executable = public_executable(snapshot)
    found: list[Finding] = []
    for f in snapshot.functions:
        if not f.security_definer or f.search_path is not None:
            continue
        owner, superuser = _owner(snapshot, f)
        public = _key(f) in executable
        found.append(
            Finding(
                id="PGT-FUNC-001",
                severity="critical" if superuser else "high",
                title="SECURITY DEFINER function without a pinned search_path",
                seen=f"{qualified(f.schema, f.name)}({f.args}) is SECURITY DEFINER, {owner}, "
                "with no search_path setting" + (PUBLIC_TOO if public else ""),
                why="it resolves names through the caller's search_path, so a caller can "
                "substitute its own objects and run them with the owner's rights",
                remediation=_pin(f, writable, public),
                cis=cis.FUNCTION_PRIVILEGES,
                database=f.database,
                object=f"{qualified(f.schema, f.name)}({f.args})",
            )
        )
    return found


def unsafe_search_path(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """A pinned path is still unsafe with a schema PUBLIC may create in, or with pg_temp
    anywhere but last (an unlisted pg_temp is not flagged: for functions and operators it is
    never searched, and the usual ``search_path = ''`` relies on that)."""
    writable = public_creatable_schemas(snapshot)
    executable = public_executable(snapshot)
    found: list[Finding] = []
    for f in snapshot.functions:
        if not f.security_definer or f.search_path is None:
            continue
        problems = unsafe_reasons(f, writable)
        if not problems:
            continue
        owner, superuser = _owner(snapshot, f)
        public = _key(f) in executable
        found.append(
            Finding(
                id="PGT-FUNC-002",
                severity="critical" if superuser else "high",
                title="SECURITY DEFINER function with an unsafe search_path",
                seen=f"{qualified(f.schema, f.name)}({f.args}) is SECURITY DEFINER, {owner}, "
                f"search_path = {f.search_path}: "
                + "; ".join(problems)
                + (PUBLIC_TOO if public else ""),
                why="any role can create objects the function finds first and runs with the "
                "owner's rights",
                remediation=_pin(f, writable, public),
                cis=cis.FUNCTION_PRIVILEGES,
                database=f.database,
                object=f"{qualified(f.schema, f.name)}({f.args})",
            )
        )
    return found


CHECKS: tuple[Check, ...] = (unpinned_search_path, unsafe_search_path)
