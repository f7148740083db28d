"""The diff between the live cluster and the policy's desired state: ordered changes, each a
one-line reason and a psycopg `sql.Composed` statement (identifiers quoted by psycopg, never by
string formatting).

Only what the Scope manages is compared: attributes and memberships of managed roles, privileges
granted to managed roles in managed databases and schemas, the PUBLIC privileges the policy
revokes, default privileges of managed owners, RLS of managed tables.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from pgtune.access.expressions import same_expression, validate_expression
from pgtune.access.model import (
    PUBLIC,
    ClusterState,
    DefaultPrivilege,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    RlsPolicy,
    Role,
    Scope,
    TableRef,
)

# Phases, in the order statements run.
(
    CREATE_ROLES,
    ALTER_ROLES,
    MEMBERSHIPS,
    OWNERSHIP,
    REVOKES,
    GRANTS,
    DEFAULTS,
    RLS,
    POLICIES,
    DROPS,
) = range(10)


@dataclass(frozen=True)
class Change:
    database: str | None  # None: cluster-wide (roles, memberships), run in the first database
    phase: int
    statement: sql.Composed
    reason: str
    password_env: str | None = None  # the statement takes PASSWORD from this variable at apply

    def sql_text(self) -> str:
        text = self.statement.as_string(None)
        if self.password_env is not None:
            text += f" PASSWORD <from ${self.password_env}>"
        return text + ";"


def _id(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == PUBLIC else sql.Identifier(name)


def _ids(names: Iterable[str]) -> sql.Composable:
    return sql.SQL(", ").join(_id(n) for n in names)


def _kw(words: Iterable[str]) -> sql.Composable:
    # Privilege keywords come from model.PRIVILEGES, a fixed vocabulary.
    return sql.SQL(", ").join(sql.SQL(w) for w in words)


def _trusted(text: str) -> sql.Composable:
    """SQL text that is not an identifier: function identity arguments as the server printed
    them, or an RLS expression already checked to be exactly one expression."""
    return sql.SQL(text)


# --- roles -------------------------------------------------------------------------------------

_FLAGS = (
    ("login", "LOGIN", "NOLOGIN"),
    ("superuser", "SUPERUSER", "NOSUPERUSER"),
    ("createdb", "CREATEDB", "NOCREATEDB"),
    ("createrole", "CREATEROLE", "NOCREATEROLE"),
    ("replication", "REPLICATION", "NOREPLICATION"),
    ("bypassrls", "BYPASSRLS", "NOBYPASSRLS"),
    ("inherit", "INHERIT", "NOINHERIT"),
)


def _same_time(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return a == b


def _role_options(role: Role, live: Role | None) -> list[sql.Composable]:
    opts: list[sql.Composable] = []
    for attr, yes, no in _FLAGS:
        want = getattr(role, attr)
        if live is None or getattr(live, attr) != want:
            opts.append(sql.SQL(yes if want else no))
    if live is None or live.connection_limit != role.connection_limit:
        opts.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(role.connection_limit)))
    changed = live is None or not _same_time(live.valid_until, role.valid_until)
    if changed and (role.valid_until is not None or live is not None):
        opts.append(sql.SQL("VALID UNTIL {}").format(sql.Literal(role.valid_until or "infinity")))
    return opts


def _role_changes(live: ClusterState, desired: ClusterState) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(desired.roles):
        want, have = desired.roles[name], live.roles.get(name)
        opts = _role_options(want, have)
        if have is None:
            changes.append(
                Change(
                    None,
                    CREATE_ROLES,
                    sql.SQL("CREATE ROLE {} WITH {}").format(_id(name), sql.SQL(" ").join(opts)),
                    f"role {name!r} is in the policy but not in the cluster",
                    password_env=want.password_env,
                )
            )
        elif opts:
            changes.append(
                Change(
                    None,
                    ALTER_ROLES,
                    sql.SQL("ALTER ROLE {} WITH {}").format(_id(name), sql.SQL(" ").join(opts)),
                    f"role {name!r} attributes differ from the policy",
                )
            )
        have_settings = dict(have.settings) if have else {}
        want_settings = dict(want.settings)
        for key in sorted(set(have_settings) | set(want_settings)):
            if key not in want_settings:
                stmt = sql.SQL("ALTER ROLE {} RESET {}").format(_id(name), sql.Identifier(key))
                why = f"role {name!r}: setting {key} is not in the policy"
            elif have_settings.get(key) != want_settings[key]:
                stmt = sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    _id(name), sql.Identifier(key), sql.Literal(want_settings[key])
                )
                why = f"role {name!r}: {key} should be {want_settings[key]!r}"
            else:
                continue
            changes.append(Change(None, ALTER_ROLES, stmt, why))
        if want.comment != (have.comment if have else None) and (want.comment or have):
            changes.append(
                Change(
                    None,
                    ALTER_ROLES,
                    sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        _id(name), sql.Literal(want.comment)
                    ),
                    f"role {name!r}: comment differs",
                )
            )
    return changes


def _membership_changes(
    live: ClusterState, desired: ClusterState, scope: Scope, major: int
) -> list[Change]:
    """Memberships of managed members are managed as a whole (group side left alone: PostgreSQL
    16 grants creators ADMIN on roles they create)."""
    have = {(m.group, m.member): m for m in live.memberships if m.member in scope.roles}
    want = {(m.group, m.member): m for m in desired.memberships}
    changes: list[Change] = []
    for key in sorted(set(have) - set(want)):
        changes.append(
            Change(
                None,
                MEMBERSHIPS,
                sql.SQL("REVOKE {} FROM {}").format(_id(key[0]), _id(key[1])),
                f"{key[1]!r} is a member of {key[0]!r}, which the policy does not say",
            )
        )
    for key in sorted(want):
        w, h = want[key], have.get(key)
        if h is not None and _same_membership(h, w):
            continue
        changes.append(
            Change(
                None,
                MEMBERSHIPS,
                _grant_membership(w, h, major),
                f"{key[1]!r} should be a member of {key[0]!r}"
                if h is None
                else f"membership of {key[1]!r} in {key[0]!r}: options differ",
            )
        )
    return changes


def _same_membership(have: Membership, want: Membership) -> bool:
    return (
        have.admin == want.admin
        and (want.inherit is None or have.inherit == want.inherit)
        and (want.set is None or have.set == want.set)
    )


def _grant_membership(want: Membership, have: Membership | None, major: int) -> sql.Composed:
    base = sql.SQL("GRANT {} TO {}").format(_id(want.group), _id(want.member))
    if major >= 16:
        opts = [sql.SQL("ADMIN {}").format(sql.SQL("TRUE" if want.admin else "FALSE"))]
        if want.inherit is not None:
            opts.append(sql.SQL("INHERIT {}").format(sql.SQL("TRUE" if want.inherit else "FALSE")))
        if want.set is not None:
            opts.append(sql.SQL("SET {}").format(sql.SQL("TRUE" if want.set else "FALSE")))
        return sql.SQL("{} WITH {}").format(base, sql.SQL(", ").join(opts))
    if have is not None and have.admin and not want.admin:
        return sql.SQL("REVOKE ADMIN OPTION FOR {} FROM {}").format(
            _id(want.group), _id(want.member)
        )
    return sql.SQL("{} WITH ADMIN OPTION").format(base) if want.admin else base


# --- privileges ----------------------------------------------------------------------------------


def _object_sql(obj: ObjectRef) -> sql.Composable:
    if obj.kind == "database":
        return sql.SQL("DATABASE {}").format(sql.Identifier(obj.database))
    if obj.kind == "schema":
        return sql.SQL("SCHEMA {}").format(sql.Identifier(obj.schema or ""))
    qualified = sql.Identifier(obj.schema or "", obj.name or "")
    if obj.kind == "sequence":
        return sql.SQL("SEQUENCE {}").format(qualified)
    if obj.kind == "function":
        # ROUTINE covers functions, procedures and aggregates alike.
        return sql.SQL("ROUTINE {}({})").format(qualified, _trusted(obj.args or ""))
    return sql.SQL("TABLE {}").format(qualified)


def _privileges_sql(obj: ObjectRef, privileges: Iterable[str]) -> sql.Composable:
    if obj.kind == "column":
        return sql.SQL(", ").join(
            sql.SQL("{} ({})").format(_kw([p]), sql.Identifier(obj.column or ""))
            for p in privileges
        )
    return _kw(privileges)


def _describe(obj: ObjectRef) -> str:
    if obj.kind == "database":
        return f"database {obj.database}"
    if obj.kind == "schema":
        return f"schema {obj.database}.{obj.schema}"
    where = f"{obj.database}.{obj.schema}.{obj.name}"
    if obj.kind == "function":
        return f"function {where}({obj.args})"
    if obj.kind == "column":
        return f"column {where}.{obj.column}"
    return f"{obj.kind} {where}"


def _grant_changes(live: ClusterState, desired: ClusterState, scope: Scope) -> list[Change]:
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
        target = _object_sql(obj)
        gone = sorted(p for p in h if p not in w)
        if gone:
            changes.append(
                Change(
                    obj.database,
                    REVOKES,
                    sql.SQL("REVOKE {} ON {} FROM {}").format(
                        _privileges_sql(obj, gone), target, _id(grantee)
                    ),
                    f"{grantee} holds {', '.join(gone)} on {_describe(obj)} beyond the policy",
                )
            )
        option_gone = sorted(p for p in h if p in w and h[p] and not w[p])
        if option_gone:
            changes.append(
                Change(
                    obj.database,
                    REVOKES,
                    sql.SQL("REVOKE GRANT OPTION FOR {} ON {} FROM {}").format(
                        _privileges_sql(obj, option_gone), target, _id(grantee)
                    ),
                    f"{grantee} may re-grant {', '.join(option_gone)} on {_describe(obj)}; "
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
                _privileges_sql(obj, new), target, _id(grantee)
            )
            if grantable:
                stmt = sql.SQL("{} WITH GRANT OPTION").format(stmt)
            changes.append(
                Change(
                    obj.database,
                    GRANTS,
                    stmt,
                    f"{grantee} needs {', '.join(new)} on {_describe(obj)}",
                )
            )
    return changes


_OBJTYPE_SQL = {
    "tables": "TABLES",
    "sequences": "SEQUENCES",
    "functions": "FUNCTIONS",
    "types": "TYPES",
    "schemas": "SCHEMAS",
}


def _default_changes(live: ClusterState, desired: ClusterState, scope: Scope) -> list[Change]:
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
        return d.grantee in scope.roles or (d.grantee == PUBLIC and d in public_managed)

    have: dict[tuple[str, str, str | None, str, str], dict[str, bool]] = defaultdict(dict)
    for d in live.default_privileges:
        if managed(d):
            have[key(d)][d.privilege] = d.grantable
    for d in public_managed:
        if d.owner not in live.roles:  # created by this plan: starts with the built-in default
            have[key(d)][d.privilege] = d.grantable
    want: dict[tuple[str, str, str | None, str, str], dict[str, bool]] = defaultdict(dict)
    for d in desired.default_privileges:
        want[key(d)][d.privilege] = d.grantable

    changes: list[Change] = []
    for k in sorted(set(have) | set(want), key=lambda k: (k[0], k[1], k[2] or "", k[3], k[4])):
        database, owner, schema, objtype, grantee = k
        h, w = have.get(k, {}), want.get(k, {})
        prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}").format(_id(owner))
        if schema is not None:
            prefix = sql.SQL("{} IN SCHEMA {}").format(prefix, sql.Identifier(schema))
        objects = sql.SQL(_OBJTYPE_SQL[objtype])
        where = f"{objtype} {owner} creates" + (
            f" in {database}.{schema}" if schema else f" in {database}"
        )
        gone = sorted(p for p in h if p not in w)
        if gone:
            changes.append(
                Change(
                    database,
                    DEFAULTS,
                    sql.SQL("{} REVOKE {} ON {} FROM {}").format(
                        prefix, _kw(gone), objects, _id(grantee)
                    ),
                    f"{grantee} would get {', '.join(gone)} on new {where}, beyond the policy",
                )
            )
        new = sorted(p for p in w if p not in h or h[p] != w[p])
        for grantable in (False, True):
            batch = [p for p in new if w[p] == grantable]
            if not batch:
                continue
            stmt = sql.SQL("{} GRANT {} ON {} TO {}").format(
                prefix, _kw(batch), objects, _id(grantee)
            )
            if grantable:
                stmt = sql.SQL("{} WITH GRANT OPTION").format(stmt)
            changes.append(
                Change(
                    database,
                    DEFAULTS,
                    stmt,
                    f"{grantee} should get {', '.join(batch)} on new {where}",
                )
            )
    return changes


# --- row-level security ------------------------------------------------------------------------


def _table_sql(t: TableRef) -> sql.Composable:
    return sql.Identifier(t.schema, t.name)


def _policy_sql(p: RlsPolicy) -> sql.Composed:
    parts: list[sql.Composable] = [
        sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(p.name),
            _table_sql(p.table),
            sql.SQL("PERMISSIVE" if p.permissive else "RESTRICTIVE"),
            sql.SQL(p.command),
            _ids(p.roles),
        )
    ]
    if p.using is not None:
        validate_expression(p.using)
        parts.append(sql.SQL("USING ({})").format(_trusted(p.using)))
    if p.with_check is not None:
        validate_expression(p.with_check)
        parts.append(sql.SQL("WITH CHECK ({})").format(_trusted(p.with_check)))
    return sql.SQL(" ").join(parts)


Canonical = Callable[[TableRef, str], str]


def _as_written(table: TableRef, expr: str) -> str:
    return expr


def _rls_changes(
    live: ClusterState, desired: ClusterState, scope: Scope, canonical: Canonical
) -> list[Change]:
    changes: list[Change] = []
    for t in sorted(scope.rls_tables):
        want, have = desired.rls_tables.get(t), live.rls_tables.get(t)
        name = f"{t.database}.{t.schema}.{t.name}"
        if want is not None:
            enabled = have.enabled if have else False
            forced = have.forced if have else False
            if want.enabled != enabled:
                changes.append(
                    Change(
                        t.database,
                        RLS,
                        sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY").format(
                            _table_sql(t), sql.SQL("ENABLE" if want.enabled else "DISABLE")
                        ),
                        f"row-level security on {name} should be "
                        + ("enabled" if want.enabled else "disabled"),
                    )
                )
            if want.forced != forced:
                changes.append(
                    Change(
                        t.database,
                        RLS,
                        sql.SQL("ALTER TABLE {} {} ROW LEVEL SECURITY").format(
                            _table_sql(t), sql.SQL("FORCE" if want.forced else "NO FORCE")
                        ),
                        f"row-level security on {name} should "
                        + ("apply to the owner too" if want.forced else "not apply to the owner"),
                    )
                )
        have_p = {n: p for (tt, n), p in live.policies.items() if tt == t}
        want_p = {n: p for (tt, n), p in desired.policies.items() if tt == t}
        for pname in sorted(set(have_p) | set(want_p)):
            w, h = want_p.get(pname), have_p.get(pname)
            if w is not None:  # every desired expression is checked, by the server if it can
                for expr in (w.using, w.with_check):
                    if expr is not None:
                        canonical(t, expr)
            drop = sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(pname), _table_sql(t))
            if w is None:
                changes.append(
                    Change(
                        t.database,
                        POLICIES,
                        drop,
                        f"policy {pname!r} on {name} is not in the policy file",
                    )
                )
            elif h is None:
                changes.append(
                    Change(
                        t.database,
                        POLICIES,
                        _policy_sql(w),
                        f"policy {pname!r} on {name} is missing",
                    )
                )
            elif (
                h.permissive != w.permissive
                or h.command != w.command
                or (h.using is None) != (w.using is None)
                or (h.with_check is None) != (w.with_check is None)
            ):
                # ALTER POLICY cannot change these or drop a clause: drop and create again.
                why = f"policy {pname!r} on {name}: command or permissive/restrictive changed"
                changes.append(Change(t.database, POLICIES, drop, why))
                changes.append(Change(t.database, POLICIES, _policy_sql(w), why))
            else:
                alter = _alter_policy(t, h, w, canonical)
                if alter is not None:
                    changes.append(
                        Change(
                            t.database,
                            POLICIES,
                            alter,
                            f"policy {pname!r} on {name}: roles or expressions differ",
                        )
                    )
    return changes


def _alter_policy(
    t: TableRef, have: RlsPolicy, want: RlsPolicy, canonical: Canonical
) -> sql.Composed | None:
    parts: list[sql.Composable] = []
    if tuple(sorted(have.roles)) != tuple(sorted(want.roles)):
        parts.append(sql.SQL("TO {}").format(_ids(want.roles)))
    for clause, h, w in (
        ("USING", have.using, want.using),
        ("WITH CHECK", have.with_check, want.with_check),
    ):
        if w is None or h is None:
            continue  # both absent here: a removed clause recreates the policy, added too
        # Compare by meaning: the server's own form of the desired text against pg_get_expr.
        if same_expression(h, canonical(t, w)):
            continue
        validate_expression(w)
        parts.append(sql.SQL("{} ({})").format(sql.SQL(clause), _trusted(w)))
    if not parts:
        return None
    return sql.SQL("ALTER POLICY {} ON {} {}").format(
        sql.Identifier(want.name), _table_sql(t), sql.SQL(" ").join(parts)
    )


# --- ownership and dropping ----------------------------------------------------------------------


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
                sql.SQL("ALTER {} OWNER TO {}").format(_object_sql(obj), _id(owner)),
                f"{_describe(obj)} is owned by {current!r}, the policy says {owner!r}",
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
            sql.SQL("DROP ROLE {}").format(_id(name)),
            f"role {name!r} exists but is not in the policy (drop_unmanaged_roles)",
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
) -> list[Change]:
    """The ordered changes that turn ``live`` into ``desired`` within ``scope``.

    ``canonical(table, expression)`` brings a desired RLS expression into the server's own form
    for comparison (server_expressions.py); statements still carry the expression as written.
    """
    changes = [
        *_role_changes(live, desired),
        *_membership_changes(live, desired, scope, major),
        *_ownership_changes(desired, scope, inventories or {}),
        *_grant_changes(live, desired, scope),
        *_default_changes(live, desired, scope),
        *_rls_changes(live, desired, scope, canonical or _as_written),
        *_drop_changes(live, desired, scope, current_user),
    ]
    # Stable order: by phase, then as generated (which is sorted within each family).
    return sorted(changes, key=lambda c: c.phase)


def grants_of(grants: Iterable[Grant], grantee: str) -> list[Grant]:
    return sorted(g for g in grants if g.grantee == grantee)
