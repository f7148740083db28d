"""Code that reaches outside the database: untrusted procedural languages, and extensions
that read or write server files or open connections from the server."""

import re

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, qualified, render, routine
from pgtune.audit.model import ExtensionInfo, Finding, LanguageInfo, Snapshot

# internal and c are PostgreSQL's own, untrusted by nature and only for superusers.
BUILTIN_UNTRUSTED = {"internal", "c"}
# By convention an untrusted language's name ends in "u": plperlu, plpython3u, pltclu.
UNTRUSTED_NAME = re.compile(r"^pl.*u$")
RISKY: dict[str, str] = {
    "adminpack": "writes, renames and deletes files on the server",
    "dblink": "opens connections from the server to any host, past pg_hba.conf and firewalls",
    "file_fdw": "reads server files and program output as tables",
    "postgres_fdw": "opens connections from the server to any host, past firewalls",
}
# Extensions whose own functions do the risky part; for the others only the wrapper matters
# (postgres_fdw's handler and validator are harmless to execute).
RISKY_FUNCTIONS = {"adminpack", "dblink"}
SHOWN = 3  # functions named in ``seen``; the remediation lists them all


def _extension_names(snapshot: Snapshot, database: str) -> set[str]:
    return {e.name for e in snapshot.extensions if e.database == database}


def _drop_language(snapshot: Snapshot, lang: LanguageInfo) -> str:
    # plpython3u and friends are installed as extensions, which own the language.
    if lang.name in _extension_names(snapshot, lang.database):
        statement = sql.SQL("DROP EXTENSION {}").format(sql.Identifier(lang.name))
    else:
        statement = sql.SQL("DROP LANGUAGE {}").format(sql.Identifier(lang.name))
    return "-- once no function uses it\n" + render(statement)


def untrusted_languages(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-LANG-001",
            severity="medium",
            title="Untrusted procedural language installed",
            seen=f"language {lang.name!r} is untrusted (installed in database {lang.database!r})",
            why="its functions run any code as the server's OS user; one SECURITY DEFINER "
            "function in it is a way to the shell",
            remediation=_drop_language(snapshot, lang),
            database=lang.database,
            object=lang.name,
        )
        for lang in snapshot.languages
        if not lang.trusted and lang.name not in BUILTIN_UNTRUSTED
    ]


def untrusted_made_trusted(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-LANG-002",
            severity="critical",
            title="Untrusted language marked trusted and usable by PUBLIC",
            seen=f"language {lang.name!r} is marked trusted and PUBLIC has USAGE "
            f"(database {lang.database!r})",
            why="any role can write functions in a language built to run OS code",
            remediation=render(
                sql.SQL("REVOKE USAGE ON LANGUAGE {} FROM PUBLIC").format(
                    sql.Identifier(lang.name)
                ),
                sql.SQL(
                    "UPDATE pg_catalog.pg_language SET lanpltrusted = false WHERE lanname = {}"
                ).format(sql.Literal(lang.name)),
            ),
            database=lang.database,
            object=lang.name,
        )
        for lang in snapshot.languages
        if lang.trusted and lang.public_usage and UNTRUSTED_NAME.match(lang.name)
    ]


def risky_extensions(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-EXT-001",
            severity="low",
            title="Extension that reaches outside the database",
            seen=f"extension {e.name} {e.version} in schema {qualified(e.schema)}",
            why=f"{e.name} {RISKY[e.name]}; installed only where it is needed",
            remediation="-- if unused\n"
            + render(sql.SQL("DROP EXTENSION {}").format(sql.Identifier(e.name))),
            database=e.database,
            object=e.name,
        )
        for e in snapshot.extensions
        if e.name in RISKY
    ]


def _open(e: ExtensionInfo) -> tuple[list[tuple[str, str, str]], list[str]]:
    functions = list(e.public_functions) if e.name in RISKY_FUNCTIONS else []
    return functions, list(e.public_wrappers)


def _seen(e: ExtensionInfo, functions: list[tuple[str, str, str]], wrappers: list[str]) -> str:
    parts = []
    if functions:
        shown = ", ".join(f"{n}({a})" for _, n, a in functions[:SHOWN])
        more = f", ... ({len(functions)} in all)" if len(functions) > SHOWN else ""
        parts.append(f"PUBLIC may execute {shown}{more}")
    if wrappers:
        parts.append(f"PUBLIC may use foreign-data wrapper(s) {', '.join(wrappers)}")
    return f"extension {e.name}: " + "; ".join(parts)


def open_to_public(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    found: list[Finding] = []
    for e in snapshot.extensions:
        if e.name not in RISKY:
            continue
        functions, wrappers = _open(e)
        if not functions and not wrappers:
            continue
        statements = [
            sql.SQL("REVOKE EXECUTE ON ROUTINE {} FROM PUBLIC").format(routine(*f))
            for f in functions
        ] + [
            sql.SQL("REVOKE USAGE ON FOREIGN DATA WRAPPER {} FROM PUBLIC").format(sql.Identifier(w))
            for w in wrappers
        ]
        found.append(
            Finding(
                id="PGT-EXT-002",
                severity="high",
                title="Extension that reaches outside the database is open to PUBLIC",
                seen=_seen(e, functions, wrappers),
                why=f"every role can use it: {e.name} {RISKY[e.name]}",
                remediation=render(*statements),
                cis=cis.FUNCTION_PRIVILEGES,
                database=e.database,
                object=e.name,
            )
        )
    return found


CHECKS: tuple[Check, ...] = (
    untrusted_languages,
    untrusted_made_trusted,
    risky_extensions,
    open_to_public,
)
