"""The diff of default privileges (ALTER DEFAULT PRIVILEGES): what future objects will grant."""

from collections import defaultdict

from psycopg import sql

from pgtune.access.changes import DEFAULTS, Change, grantee_text, ident, keywords
from pgtune.access.model import PUBLIC, ClusterState, DefaultPrivilege, Scope
from pgtune.names import shown, shown_qualified

_OBJTYPE_SQL = {
    "tables": "TABLES",
    "sequences": "SEQUENCES",
    "functions": "FUNCTIONS",
    "types": "TYPES",
    "schemas": "SCHEMAS",
}

_BUILTIN_PUBLIC = (("functions", "EXECUTE"), ("types", "USAGE"))


def _builtin(d: DefaultPrivilege) -> bool:
    """PostgreSQL's built-in global default for PUBLIC (acldefault)."""
    return d.schema is None and (d.objtype, d.privilege) in _BUILTIN_PUBLIC


def default_changes(live: ClusterState, desired: ClusterState, scope: Scope) -> list[Change]:
    public_managed = scope.public_default_revocations
    owners = (
        {d.owner for d in desired.default_privileges}
        | {d.owner for d in public_managed}
        | ({d.owner for d in live.default_privileges} & set(scope.roles))
    )

    def key(d: DefaultPrivilege) -> tuple[str, str, str | None, str, str]:
        return (d.database, d.owner, d.schema, d.objtype, d.grantee)

    def managed(d: DefaultPrivilege) -> bool:
        if d.owner not in owners or d.database not in scope.databases or d.grantee == d.owner:
            return False
        if d.schema is not None and (d.database, d.schema) not in scope.schemas:
            return False
        if d.grantee == PUBLIC:
            # PostgreSQL's own global default (EXECUTE on functions, USAGE on types) is left
            # alone unless the policy revokes it; anything else PUBLIC would get on a managed
            # owner's new objects (per schema, or tables / sequences / schemas globally) is
            # beyond the policy, which never grants to PUBLIC.
            return d in public_managed or d.schema is not None or not _builtin(d)
        # a role the policy does not list (a real role named "PUBLIC" too, predefined roles
        # too): as for grants on objects, settings.unmanaged_roles
        return d.grantee in scope.roles or scope.unmanaged_roles != "ignore"

    want: dict[tuple[str, str, str | None, str, str], dict[str, bool]] = defaultdict(dict)
    for d in desired.default_privileges:
        want[key(d)][d.privilege] = d.grantable
    have: dict[tuple[str, str, str | None, str, str], dict[str, bool]] = defaultdict(dict)
    for d in live.default_privileges:
        # what the policy grants is compared too (PUBLIC's built-in EXECUTE written out)
        if managed(d) or d.privilege in want.get(key(d), ()):
            have[key(d)][d.privilege] = d.grantable
    for d in public_managed:
        if d.owner not in live.roles:  # created by this plan: starts with the built-in default
            have[key(d)][d.privilege] = d.grantable

    changes: list[Change] = []
    for k in sorted(set(have) | set(want), key=lambda k: (k[0], k[1], k[2] or "", k[3], k[4])):
        database, owner, schema, objtype, grantee = k
        h, w = have.get(k, {}), want.get(k, {})
        prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}").format(ident(owner))
        if schema is not None:
            prefix = sql.SQL("{} IN SCHEMA {}").format(prefix, sql.Identifier(schema))
        objects = sql.SQL(_OBJTYPE_SQL[objtype])
        where = f"{objtype} {shown(owner)} creates in " + (
            shown_qualified(database, schema) if schema else shown(database)
        )
        unlisted = grantee != PUBLIC and grantee not in scope.roles
        report = unlisted and scope.unmanaged_roles == "report"
        who = grantee_text(grantee)
        if unlisted:
            who = f"role {shown(grantee)}, which the policy does not list,"
        note = " (report only: settings.unmanaged_roles is report)" if report else ""
        gone = sorted(p for p in h if p not in w)
        if gone:
            changes.append(
                Change(
                    database,
                    DEFAULTS,
                    sql.SQL("{} REVOKE {} ON {} FROM {}").format(
                        prefix, keywords(gone), objects, ident(grantee)
                    ),
                    f"{who} would get {', '.join(gone)} on new {where}, beyond the policy{note}",
                    report_only=report,
                )
            )
        # A GRANT without GRANT OPTION does not take a grant option away (it would be a no-op
        # planned forever): that needs REVOKE GRANT OPTION FOR.
        downgraded = sorted(p for p in w if h.get(p) is True and w[p] is False)
        if downgraded:
            changes.append(
                Change(
                    database,
                    DEFAULTS,
                    sql.SQL("{} REVOKE GRANT OPTION FOR {} ON {} FROM {}").format(
                        prefix, keywords(downgraded), objects, ident(grantee)
                    ),
                    f"{grantee_text(grantee)} could grant {', '.join(downgraded)} on new "
                    f"{where} to others (WITH GRANT OPTION), beyond the policy",
                )
            )
        new = sorted(p for p in w if p not in h or (w[p] and not h[p]))
        for grantable in (False, True):
            batch = [p for p in new if w[p] == grantable]
            if not batch:
                continue
            stmt = sql.SQL("{} GRANT {} ON {} TO {}").format(
                prefix, keywords(batch), objects, ident(grantee)
            )
            if grantable:
                stmt = sql.SQL("{} WITH GRANT OPTION").format(stmt)
            changes.append(
                Change(
                    database,
                    DEFAULTS,
                    stmt,
                    f"{grantee_text(grantee)} should get {', '.join(batch)} on new {where}",
                )
            )
    return changes
