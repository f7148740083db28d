"""The diff of roles (attributes, settings, comments) and memberships of managed roles."""

from datetime import datetime

from psycopg import sql

from pgtune.access.changes import ALTER_ROLES, CREATE_ROLES, MEMBERSHIPS, Change, ident
from pgtune.access.model import ClusterState, Membership, Role, Scope
from pgtune.access.role_settings import same_setting, setting_value_sql
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
        # An integer literal: sql.Literal(-1) renders " -1" (psycopg's guard against "--").
        opts.append(sql.SQL("CONNECTION LIMIT {}").format(sql.SQL(str(int(role.connection_limit)))))
    changed = live is None or not _same_time(live.valid_until, role.valid_until)
    if changed and (role.valid_until is not None or live is not None):
        opts.append(sql.SQL("VALID UNTIL {}").format(sql.Literal(role.valid_until or "infinity")))
    return opts


def role_changes(
    live: ClusterState, desired: ClusterState, *, set_passwords: bool = False
) -> list[Change]:
    """``set_passwords``: also set the password of existing roles that have ``password_env``
    (a new role always gets it); the password is never read, so this is not drift otherwise."""
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
                    password_role=name,
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
        if have is not None and set_passwords and want.password_env is not None:
            changes.append(
                Change(
                    None,
                    ALTER_ROLES,
                    sql.SQL("ALTER ROLE {}").format(ident(name)),
                    f"role {shown(name)}: password from ${want.password_env} (set_passwords)",
                    password_env=want.password_env,
                    password_role=name,
                    password_only=True,
                )
            )
        changes += _setting_changes(name, have, want)
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


def _setting_changes(name: str, have: Role | None, want: Role) -> list[Change]:
    have_settings = dict(have.settings) if have else {}
    want_settings = dict(want.settings)
    changes: list[Change] = []
    for key in sorted(set(have_settings) | set(want_settings)):
        if key not in want_settings:
            stmt = sql.SQL("ALTER ROLE {} RESET {}").format(ident(name), sql.Identifier(key))
            why = f"role {shown(name)}: setting {shown(key)} is not in the policy"
        elif not same_setting(key, have_settings.get(key), want_settings[key]):
            stmt = sql.SQL("ALTER ROLE {} SET {} = {}").format(
                ident(name), sql.Identifier(key), setting_value_sql(key, want_settings[key])
            )
            value = one_line(repr(want_settings[key]))
            why = f"role {shown(name)}: {shown(key)} should be {value}"
        else:
            continue
        changes.append(Change(None, ALTER_ROLES, stmt, why))
    return changes


def membership_changes(
    live: ClusterState,
    desired: ClusterState,
    scope: Scope,
    major: int,
    current_user: str | None = None,
) -> list[Change]:
    """Memberships of managed members are managed as a whole. On the group side, a role the
    policy does not list that is a member of a managed role is reported, revoked or ignored
    (``scope.unmanaged_roles``); never the role running the plan, nor the ADMIN-only grant
    PostgreSQL 16+ itself gives a CREATEROLE role on the roles it creates (`_creator_grant`)."""
    have = {(m.group, m.member): m for m in live.memberships if m.member in scope.roles}
    want = {(m.group, m.member): m for m in desired.memberships}
    changes: list[Change] = []
    for key in sorted(set(have) - set(want)):
        why = f"{shown(key[1])} is a member of {shown(key[0])}, which the policy does not say"
        changes += _revokes(have[key], major, why, report_only=False)
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
    if scope.unmanaged_roles != "ignore":
        for m in sorted(live.memberships):
            if (
                m.group not in scope.roles
                or m.member in scope.roles
                or m.member == current_user
                or _creator_grant(m, live)
            ):
                continue
            admin = " with ADMIN OPTION (it may grant it, to itself too)" if m.admin else ""
            why = (
                f"{shown(m.member)}, a role the policy does not list, is a member of "
                f"{shown(m.group)}{admin} (unmanaged_roles: {scope.unmanaged_roles})"
            )
            changes += _revokes(m, major, why, report_only=scope.unmanaged_roles == "report")
    return changes


def _creator_grant(m: Membership, live: ClusterState) -> bool:
    """PostgreSQL 16+ makes a CREATEROLE role that creates a role its ADMIN (without INHERIT
    or SET; createrole_self_grant adds a grant of its own, which is reported): bookkeeping,
    not access. Only that grant, as the catalog shows it (``Membership.creation_grant``: the
    bootstrap superuser's grant made by the CREATE ROLE itself), held by a CREATEROLE role
    (or a superuser): the same ADMIN-only grant made otherwise (by a superuser, or by a role
    with ADMIN) is a member the policy does not list."""
    member = live.roles.get(m.member)
    return (
        m.creation_grant
        and member is not None
        and (member.createrole or member.superuser)
        and m.admin
        and m.inherit is False
        and m.set is False
    )


def _revokes(m: Membership, major: int, why: str, *, report_only: bool) -> list[Change]:
    """REVOKE group FROM member. From 16 a membership exists once per grantor and a plain
    REVOKE only removes the current user's grant, so each grant is revoked GRANTED BY its
    grantor; if the server does not let the applying role act for a grantor, apply fails
    with the statement naming that grantor (nothing is silently left behind)."""
    base = sql.SQL("REVOKE {} FROM {}").format(ident(m.group), ident(m.member))
    if major < 16 or not m.grantors:
        return [Change(None, MEMBERSHIPS, base, why, report_only=report_only)]
    return [
        Change(
            None,
            MEMBERSHIPS,
            sql.SQL("{} GRANTED BY {}").format(base, sql.Identifier(grantor)),
            f"{why} (granted by {shown(grantor)})" if len(m.grantors) > 1 else why,
            report_only=report_only,
        )
        for grantor in m.grantors
    ]


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
