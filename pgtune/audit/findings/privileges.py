"""What PUBLIC (every role, present and future) may do: create in schemas, execute SECURITY
DEFINER functions, read and write tables, create in databases, and what it will get on objects
created later (default privileges). Read from the access inspection, whose grants spell out
PostgreSQL's built-in defaults (acldefault) as ordinary grants to PUBLIC.

What is PostgreSQL's own default is not a finding: CONNECT and TEMPORARY on databases (a
temporary table is private to its session and only shadows names for that session; pg_temp
is searched last for functions and operators), EXECUTE on functions and USAGE on types
(in default privileges too), USAGE on trusted languages (sql, plpgsql: they cannot reach
outside the database; an untrusted language marked trusted is PGT-LANG-002, and the ACL of an
untrusted one is not consulted at all). CREATE on a database is: it is not granted by default.

Tables are grouped per schema and privileges: one finding says which tables of a schema
PUBLIC may write (INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER, MAINTAIN: the
SELECT it may hold on them is listed there too), another which ones it may only read.
Column grants are not judged here. Grants on objects of system schemas and extensions are
not read by the inspection, so they are not findings either.
"""

from collections import defaultdict

from psycopg import sql

from pgtune.access.model import PRIVILEGES, PUBLIC, DefaultPrivilege
from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, qualified, render, routine
from pgtune.audit.findings.functions import has_search_path_finding
from pgtune.audit.findings.public import public_creatable_schemas, public_executable
from pgtune.audit.model import Finding, Severity, Snapshot
from pgtune.names import shown, shown_list

__all__ = ["CHECKS", "public_creatable_schemas", "public_executable"]

SHOWN_TABLES = 5  # tables named in ``seen``; the remediation names them all
TABLE_ORDER = PRIVILEGES["table"]


def public_create_on_schema(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-PRIV-001",
            severity="high",
            title="PUBLIC may CREATE in a schema",
            seen=f"PUBLIC has CREATE on schema {qualified(schema)} in database {database!r}",
            why="any role can plant functions or tables there that shadow the ones others "
            "call (CVE-2018-1058)",
            remediation=render(
                sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(schema))
            ),
            database=database,
            object=schema,
        )
        for database, schema in sorted(public_creatable_schemas(snapshot))
    ]


def _superusers(snapshot: Snapshot) -> set[str]:
    return {r.name for r in snapshot.access.state.roles.values() if r.superuser}


def public_execute_security_definer(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    executable = public_executable(snapshot)
    writable = public_creatable_schemas(snapshot)
    supers = _superusers(snapshot)
    return [
        Finding(
            id="PGT-PRIV-002",
            severity="critical" if f.owner in supers else "high",
            title="PUBLIC may execute a SECURITY DEFINER function",
            seen=f"PUBLIC may execute {qualified(f.schema, f.name)}({f.args}), SECURITY "
            f"DEFINER owned by {f.owner!r}" + (" (a superuser)" if f.owner in supers else ""),
            why="every role runs it with its owner's privileges; grant EXECUTE only to the "
            "roles that need it",
            remediation=render(
                sql.SQL("REVOKE EXECUTE ON ROUTINE {} FROM PUBLIC").format(
                    routine(f.schema, f.name, f.args)
                )
            ),
            cis=cis.FUNCTION_PRIVILEGES,
            database=f.database,
            object=f"{qualified(f.schema, f.name)}({f.args})",
        )
        for f in snapshot.functions
        if f.security_definer
        and (f.database, f.schema, f.name, f.args) in executable
        # One finding per function: PGT-FUNC-001/002 says PUBLIC may execute it and revokes.
        and not has_search_path_finding(f, writable)
    ]


def _ordered(privileges: set[str]) -> list[str]:
    return sorted(privileges, key=lambda p: (TABLE_ORDER.index(p) if p in TABLE_ORDER else 99, p))


def _keywords(privileges: list[str]) -> sql.Composable:
    """Privilege keywords as SQL: only the ones PostgreSQL has (the catalog's own words)."""
    known = {p for kind in PRIVILEGES.values() for p in kind}
    assert all(p in known for p in privileges), privileges
    return sql.SQL(", ").join(sql.SQL(p) for p in privileges)


def _tables_finding(
    database: str, schema: str, privileges: list[str], tables: list[str]
) -> Finding:
    write = privileges != ["SELECT"]
    shown_names = shown_list(tables[:SHOWN_TABLES])
    more = f", ... ({len(tables)} in all)" if len(tables) > SHOWN_TABLES else ""
    count = f"{len(tables)} table" + ("s" if len(tables) > 1 else "")
    return Finding(
        id="PGT-PRIV-003" if write else "PGT-PRIV-004",
        severity="high" if write else "medium",
        title="PUBLIC may change a table's data" if write else "PUBLIC may read a table",
        seen=f"PUBLIC has {', '.join(privileges)} on {count} in schema {shown(schema)} of "
        f"database {shown(database)}: {shown_names}{more}",
        why=(
            "every role, present and future, may change or destroy these rows (TRIGGER: run "
            "its code as whoever writes the table)"
            if write
            else "every role, present and future, may read these rows"
        ),
        remediation=render(
            sql.SQL("REVOKE {} ON TABLE {} FROM PUBLIC").format(
                _keywords(privileges),
                sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables),
            )
        ),
        database=database,
        object=schema,
    )


def _table_groups(snapshot: Snapshot, write: bool) -> list[Finding]:
    """Tables PUBLIC may write (``write``) or only read, per schema and privilege set."""
    held: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for g in snapshot.public_grants:
        if g.object.kind == "table" and g.object.name is not None:
            held[(g.object.database, g.object.schema or "", g.object.name)].add(g.privilege)
    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (database, schema, name), privileges in held.items():
        if (privileges != {"SELECT"}) == write:
            groups[(database, schema, tuple(_ordered(privileges)))].append(name)
    return [
        _tables_finding(database, schema, list(privileges), sorted(tables))
        for (database, schema, privileges), tables in sorted(groups.items())
    ]


def public_table_writes(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """PGT-PRIV-003, high: any privilege beyond SELECT (the SELECT listed with it)."""
    return _table_groups(snapshot, write=True)


def public_table_reads(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """PGT-PRIV-004, medium: SELECT alone."""
    return _table_groups(snapshot, write=False)


def public_create_on_database(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-PRIV-005",
            severity="high",
            title="PUBLIC may CREATE in a database",
            seen=f"PUBLIC has CREATE on database {shown(database)}",
            why="any role can create schemas there, one named after another role included, "
            'which comes first in that role\'s default search_path ("$user", public), and '
            "can install trusted extensions",
            remediation=render(
                sql.SQL("REVOKE CREATE ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
            ),
            database=database,
            object=database,
        )
        for database in sorted(
            {
                g.object.database
                for g in snapshot.public_grants
                if g.object.kind == "database" and g.privilege == "CREATE"
            }
        )
    ]


# What PostgreSQL grants PUBLIC on future objects by itself: not a finding.
BUILTIN_DEFAULTS = {("functions", "EXECUTE"), ("types", "USAGE")}
# Default privileges to PUBLIC that give more than reading.
HIGH_DEFAULTS = {("tables", p) for p in TABLE_ORDER if p != "SELECT"} | {
    ("sequences", "UPDATE"),
    ("schemas", "CREATE"),
}


def public_defaults(snapshot: Snapshot) -> dict[tuple[str, str, str | None, str], set[str]]:
    """(database, owner, schema or None, objtype) -> the privileges PUBLIC will get on the
    objects that owner creates later, beyond PostgreSQL's built-in defaults."""
    found: dict[tuple[str, str, str | None, str], set[str]] = defaultdict(set)
    d: DefaultPrivilege
    for d in snapshot.access.state.default_privileges:
        if d.grantee == PUBLIC and (d.objtype, d.privilege) not in BUILTIN_DEFAULTS:
            found[(d.database, d.owner, d.schema, d.objtype)].add(d.privilege)
    return found


def public_default_privileges(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    found: list[Finding] = []
    for (database, owner, schema, objtype), privileges in sorted(
        public_defaults(snapshot).items(),
        key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "", kv[0][3]),
    ):
        ordered = sorted(privileges)
        severity: Severity = (
            "high" if any((objtype, p) in HIGH_DEFAULTS for p in ordered) else "medium"
        )
        where = f"in schema {shown(schema)}" if schema is not None else "in every schema"
        statement = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}{} REVOKE {} ON {} FROM PUBLIC")
        found.append(
            Finding(
                id="PGT-PRIV-006",
                severity=severity,
                title="Default privileges give PUBLIC the objects created later",
                seen=f"the {objtype} {shown(owner)} creates {where} of database "
                f"{shown(database)} will grant PUBLIC {', '.join(ordered)}",
                why="every new object starts open to every role, present and future, beyond "
                "what PostgreSQL grants by default",
                remediation=render(
                    statement.format(
                        sql.Identifier(owner),
                        sql.SQL(" IN SCHEMA {}").format(sql.Identifier(schema))
                        if schema is not None
                        else sql.SQL(""),
                        _keywords(ordered),
                        sql.SQL(objtype.upper()),
                    )
                ),
                database=database,
                object=owner,
            )
        )
    return found


CHECKS: tuple[Check, ...] = (
    public_create_on_schema,
    public_execute_security_definer,
    public_table_writes,
    public_table_reads,
    public_create_on_database,
    public_default_privileges,
)
