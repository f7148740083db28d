"""What PUBLIC (every role, present and future) may do: create in schemas, execute SECURITY
DEFINER functions. Read from the access inspection, whose grants spell out PostgreSQL's
built-in defaults (acldefault) as ordinary grants to PUBLIC."""

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, qualified, render, routine
from pgtune.audit.model import Finding, Snapshot


def public_creatable_schemas(snapshot: Snapshot) -> set[tuple[str, str]]:
    """(database, schema) pairs where PUBLIC holds CREATE."""
    return {
        (g.object.database, g.object.schema or "")
        for g in snapshot.public_grants
        if g.object.kind == "schema" and g.privilege == "CREATE"
    }


def public_executable(snapshot: Snapshot) -> set[tuple[str, str, str, str]]:
    """(database, schema, name, args) of the functions PUBLIC may execute."""
    return {
        (g.object.database, g.object.schema or "", g.object.name or "", g.object.args or "")
        for g in snapshot.public_grants
        if g.object.kind == "function" and g.privilege == "EXECUTE"
    }


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
        if f.security_definer and (f.database, f.schema, f.name, f.args) in executable
    ]


CHECKS: tuple[Check, ...] = (public_create_on_schema, public_execute_security_definer)
