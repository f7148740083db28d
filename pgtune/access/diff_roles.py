"""The diff of roles (attributes, settings, comments) and memberships of managed roles."""

from datetime import datetime

from psycopg import sql

from pgtune.access.changes import ALTER_ROLES, CREATE_ROLES, MEMBERSHIPS, Change, ident
from pgtune.access.model import ClusterState, Membership, Role, Scope
from pgtune.names import one_line, shown

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


def role_changes(live: ClusterState, desired: ClusterState) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(desired.roles):
        want, have = desired.roles[name], live.roles.get(name)
        opts = _role_options(want, have)
        if have is None:
            changes.append(
                Change(
                    None,
                    CREATE_ROLES,
                    sql.SQL("CREATE ROLE {} WITH {}").format(ident(name), sql.SQL(" ").join(opts)),
                    f"role {shown(name)} is in the policy but not in the cluster",
                    password_env=want.password_env,
                )
            )
        elif opts:
            changes.append(
                Change(
                    None,
                    ALTER_ROLES,
                    sql.SQL("ALTER ROLE {} WITH {}").format(ident(name), sql.SQL(" ").join(opts)),
                    f"role {shown(name)} attributes differ from the policy",
                )
            )
        have_settings = dict(have.settings) if have else {}
        want_settings = dict(want.settings)
        for key in sorted(set(have_settings) | set(want_settings)):
            if key not in want_settings:
                stmt = sql.SQL("ALTER ROLE {} RESET {}").format(ident(name), sql.Identifier(key))
                why = f"role {shown(name)}: setting {shown(key)} is not in the policy"
            elif have_settings.get(key) != want_settings[key]:
                stmt = sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    ident(name), sql.Identifier(key), sql.Literal(want_settings[key])
                )
                value = one_line(repr(want_settings[key]))
                why = f"role {shown(name)}: {shown(key)} should be {value}"
            else:
                continue
            changes.append(Change(None, ALTER_ROLES, stmt, why))
        if want.comment != (have.comment if have else None) and (want.comment or have):
            changes.append(
                Change(
                    None,
                    ALTER_ROLES,
                    sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        ident(name), sql.Literal(want.comment)
                    ),
                    f"role {shown(name)}: comment differs",
                )
            )
    return changes


def membership_changes(
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
                sql.SQL("REVOKE {} FROM {}").format(ident(key[0]), ident(key[1])),
                f"{shown(key[1])} is a member of {shown(key[0])}, which the policy does not say",
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
                f"{shown(key[1])} should be a member of {shown(key[0])}"
                if h is None
                else f"membership of {shown(key[1])} in {shown(key[0])}: options differ",
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
    base = sql.SQL("GRANT {} TO {}").format(ident(want.group), ident(want.member))
    if major >= 16:
        opts = [sql.SQL("ADMIN {}").format(sql.SQL("TRUE" if want.admin else "FALSE"))]
        if want.inherit is not None:
            opts.append(sql.SQL("INHERIT {}").format(sql.SQL("TRUE" if want.inherit else "FALSE")))
        if want.set is not None:
            opts.append(sql.SQL("SET {}").format(sql.SQL("TRUE" if want.set else "FALSE")))
        return sql.SQL("{} WITH {}").format(base, sql.SQL(", ").join(opts))
    if have is not None and have.admin and not want.admin:
        return sql.SQL("REVOKE ADMIN OPTION FOR {} FROM {}").format(
            ident(want.group), ident(want.member)
        )
    return sql.SQL("{} WITH ADMIN OPTION").format(base) if want.admin else base
