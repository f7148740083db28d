"""The diff between the live cluster and the policy's desired state: ordered changes, each a
one-line reason and a psycopg `sql.Composed` statement (identifiers quoted by psycopg, never by
string formatting). One module per family: diff_roles (roles and memberships), diff_grants,
diff_defaults (default privileges), diff_rls; ownership and dropping here.

Only what the Scope manages is compared: attributes and memberships of managed roles, privileges
granted to managed roles in managed databases and schemas, the PUBLIC privileges the policy
revokes, default privileges of managed owners, RLS of managed tables.
"""

from collections.abc import Iterable

from psycopg import sql

from pgtune.access.changes import DROPS, OWNERSHIP, Change, describe, ident, object_sql
from pgtune.access.diff_defaults import default_changes
from pgtune.access.diff_grants import grant_changes
from pgtune.access.diff_rls import Canonical, as_written, rls_changes
from pgtune.access.diff_roles import membership_changes, role_changes
from pgtune.access.model import ClusterState, Grant, Inventory, Scope
from pgtune.names import shown

__all__ = ["Change", "diff", "grants_of"]


def _ownership_changes(
    desired: ClusterState, scope: Scope, inventories: dict[str, Inventory]
) -> list[Change]:
    if not scope.manage_ownership:
        return []
    changes: list[Change] = []
    for obj, owner in sorted(desired.owners.items()):
        inv = inventories.get(obj.database)
        if inv is None:
            continue
        if obj.kind == "schema":
            current = inv.schemas.get(obj.schema or "")
        elif obj.kind == "sequence":
            current = inv.sequences.get((obj.schema or "", obj.name or ""))
        elif obj.kind == "function":
            current = inv.functions.get((obj.schema or "", obj.name or "", obj.args or ""))
        else:
            current = inv.tables.get((obj.schema or "", obj.name or ""))
        if current is None or current == owner:
            continue
        changes.append(
            Change(
                obj.database,
                OWNERSHIP,
                sql.SQL("ALTER {} OWNER TO {}").format(object_sql(obj), ident(owner)),
                f"{describe(obj)} is owned by {shown(current)}, the policy says {shown(owner)}",
            )
        )
    return changes


def _drop_changes(
    live: ClusterState, desired: ClusterState, scope: Scope, current_user: str | None
) -> list[Change]:
    if not scope.drop_roles:
        return []
    return [
        Change(
            None,
            DROPS,
            sql.SQL("DROP ROLE {}").format(ident(name)),
            f"role {shown(name)} exists but is not in the policy (drop_unmanaged_roles)",
        )
        for name, role in sorted(live.roles.items())
        if name not in desired.roles
        and not name.startswith("pg_")
        and not role.superuser
        and name != current_user
    ]


def diff(
    live: ClusterState,
    desired: ClusterState,
    scope: Scope,
    *,
    major: int,
    inventories: dict[str, Inventory] | None = None,
    current_user: str | None = None,
    canonical: Canonical | None = None,
    set_passwords: bool = False,
) -> list[Change]:
    """The ordered changes that turn ``live`` into ``desired`` within ``scope``.

    ``canonical(table, expression)`` brings a desired RLS expression into the server's own form
    for comparison (server_expressions.py); statements still carry the expression as written.
    ``set_passwords``: also set the passwords of existing roles with ``password_env``.
    """
    changes = [
        *role_changes(live, desired, set_passwords=set_passwords),
        *membership_changes(live, desired, scope, major, current_user),
        *_ownership_changes(desired, scope, inventories or {}),
        *grant_changes(live, desired, scope),
        *default_changes(live, desired, scope),
        *rls_changes(live, desired, scope, canonical or as_written),
        *_drop_changes(live, desired, scope, current_user),
    ]
    # Stable order: by phase, then as generated (which is sorted within each family).
    return sorted(changes, key=lambda c: c.phase)


def grants_of(grants: Iterable[Grant], grantee: str) -> list[Grant]:
    return sorted(g for g in grants if g.grantee == grantee)
