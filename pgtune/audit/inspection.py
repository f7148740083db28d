"""The access inspection as the audit reads it: tables and sequences grouped by owner and ACL.

    inspection, relations = inspect_access(connect, ["app", "reporting"])

``pgtune.access.catalog.inspect_cluster(..., grouped=True)`` reads tables and sequences grouped
by ACL on the server (relation_groups.sql) and holds each relation's items as a set shared by
every relation with the same ACL. The audit needs only the groups: each (database, schema,
kind, owner, items) becomes one :class:`~pgtune.audit.model.SharedAcl` (a few hundred at 20,000
tables held by 200 roles, instead of 1.8 million grants), and the :class:`Inspection` returned
leaves out the owners, items and grantors of tables and sequences (they are in the groups; the
audit does not report who granted what). Everything else — connections, the REPEATABLE READ
snapshot per database, counting, the lines of ``unreadable`` — is ``inspect_cluster``'s.
"""

from collections.abc import Sequence
from dataclasses import replace

from pgtune.access import model
from pgtune.access.catalog import Connect, Inspection, inspect_cluster
from pgtune.audit.model import SharedAcl

# database, schema, kind, owner, items, RLS flags, grantors other than the owner
GroupKey = tuple[
    str,
    str,
    str,
    str,
    frozenset[model.Item],
    tuple[bool, bool] | None,
    frozenset[tuple[str, str, frozenset[str]]],
]


def inspect_access(
    connect: Connect, databases: Sequence[str]
) -> tuple[Inspection, tuple[SharedAcl, ...]]:
    """What ``inspect_cluster(connect, databases)`` reads, with the grants and owners of tables
    and sequences as groups (the module docstring). Raises as it does."""
    inspection = inspect_cluster(connect, databases, grouped=True)
    state = inspection.state
    held = state.relation_grants
    # Relations apart where the server's grouping keeps them apart: RLS flags, and grantors
    # other than the owner (rare: granted on by a holder of the grant option).
    granted_by: dict[model.ObjectRef, set[tuple[str, str, frozenset[str]]]] = {}
    for (obj, grantee, privilege), by in state.grantors.items():
        if obj in held:
            granted_by.setdefault(obj, set()).add((grantee, privilege, by))
    groups: dict[GroupKey, list[str]] = {}
    for obj, items in held.items():
        rls = state.rls_tables.get(model.TableRef(obj.database, obj.schema or "", obj.name or ""))
        key = (
            obj.database,
            obj.schema or "",
            obj.kind,
            state.owners[obj],
            items,
            None if rls is None else (rls.enabled, rls.forced),
            frozenset(granted_by.get(obj, ())),
        )
        groups.setdefault(key, []).append(obj.name or "")
    relations = tuple(
        SharedAcl(
            database,
            schema,
            "sequence" if kind == "sequence" else "table",
            owner,
            items,
            tuple(sorted(names)),
        )
        for (database, schema, kind, owner, items, _, _), names in sorted(
            groups.items(), key=lambda g: (g[0][:4], min(g[1]))
        )
    )
    lean = replace(
        state,
        owners={obj: owner for obj, owner in state.owners.items() if obj not in held},
        grantors={key: by for key, by in state.grantors.items() if key[0] not in held},
        relation_grants={},
    )
    return replace(inspection, state=lean), relations
