"""The diff of privileges on objects: what managed roles and PUBLIC hold against the policy."""

from collections import defaultdict

from psycopg import sql

from pgtune.access.changes import (
    GRANTS,
    REVOKES,
    Change,
    describe,
    grantee_text,
    ident,
    object_sql,
    privileges_sql,
)
from pgtune.access.model import PUBLIC, ClusterState, Grant, ObjectRef, Scope


def grant_changes(live: ClusterState, desired: ClusterState, scope: Scope) -> list[Change]:
    revocations = {(r.object, r.privilege) for r in scope.public_revocations}
    roles, databases, schemas = scope.roles, scope.databases, scope.schemas

    def relevant(g: Grant) -> bool:
        """A live grant the diff may revoke: PUBLIC's where the policy revokes it, and the
        policy roles' on the databases and schemas it manages."""
        if g.grantee == PUBLIC:
            return (g.object, g.privilege) in revocations
        obj = g.object
        return (
            g.grantee in roles
            and obj.database in databases
            and (obj.kind == "database" or (obj.database, obj.schema or "") in schemas)
        )

    # Set algebra in C instead of a Python pass per grant (hundreds of thousands at 20k tables).
    # Only what one side holds and the other not needs a statement: held - desired is revoked
    # where the diff manages it, desired - held granted. A desired grant the cluster holds
    # outside what the diff manages (normally none) counts as not held.
    outside = [g for g in desired.grants if not relevant(g)]
    extra = [g for g in live.grants - desired.grants if relevant(g)]
    missing = [*(desired.grants - live.grants), *(g for g in outside if g in live.grants)]
    have: dict[tuple[ObjectRef, str], dict[str, bool]] = defaultdict(dict)
    want: dict[tuple[ObjectRef, str], dict[str, bool]] = defaultdict(dict)
    for source, into in ((extra, have), (missing, want)):
        for g in source:
            into[g.object, g.grantee][g.privilege] = g.grantable

    changes: list[Change] = []
    # Only what differs is sorted (a handful of keys out of tens of thousands).
    for key in sorted(have.keys() | want.keys()):
        obj, grantee = key
        h, w = have.get(key, {}), want.get(key, {})
        target = object_sql(obj)
        gone = sorted(p for p in h if p not in w)
        if gone:
            changes.append(
                Change(
                    obj.database,
                    REVOKES,
                    sql.SQL("REVOKE {} ON {} FROM {}").format(
                        privileges_sql(obj, gone), target, ident(grantee)
                    ),
                    f"{grantee_text(grantee)} holds {', '.join(gone)} on {describe(obj)} "
                    "beyond the policy",
                )
            )
        option_gone = sorted(p for p in h if p in w and h[p] and not w[p])
        if option_gone:
            changes.append(
                Change(
                    obj.database,
                    REVOKES,
                    sql.SQL("REVOKE GRANT OPTION FOR {} ON {} FROM {}").format(
                        privileges_sql(obj, option_gone), target, ident(grantee)
                    ),
                    f"{grantee_text(grantee)} may re-grant {', '.join(option_gone)} on "
                    f"{describe(obj)}; "
                    "the policy says not",
                )
            )
        for grantable in (False, True):
            new = sorted(
                p for p in w if w[p] == grantable and (p not in h or (grantable and not h[p]))
            )
            if not new:
                continue
            stmt = sql.SQL("GRANT {} ON {} TO {}").format(
                privileges_sql(obj, new), target, ident(grantee)
            )
            if grantable:
                stmt = sql.SQL("{} WITH GRANT OPTION").format(stmt)
            changes.append(
                Change(
                    obj.database,
                    GRANTS,
                    stmt,
                    f"{grantee_text(grantee)} needs {', '.join(new)} on {describe(obj)}",
                )
            )
    return changes
