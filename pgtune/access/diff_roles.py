"""The diff of roles (attributes, settings, comments) and memberships of managed roles."""

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime

from psycopg import sql

from pgtune.access.changes import ALTER_ROLES, CREATE_ROLES, MEMBERSHIPS, Change, ident
from pgtune.access.model import ClusterState, Membership, MembershipGrant, Role, Scope
from pgtune.access.role_settings import same_setting, setting_value_sql
from pgtune.names import one_line, shown, shown_list

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


Pair = tuple[str, str]  # (group, member): one membership
Held = tuple[str, str]  # (member, grantor): one grant of a group (16+)


class _Cascades:
    """The plan's membership revokes played on the live grants (PostgreSQL 16+, where each
    grant is kept with its grantor and options: ``Membership.grants``).

    From 16 PostgreSQL tracks who granted a membership: a grant made by a role with ADMIN
    OPTION depends on that option. A REVOKE that takes a member's last grant carrying ADMIN
    OPTION (the membership, or ``ADMIN OPTION FOR`` it) fails with "dependent privileges exist"
    while the grants it made remain, unless it says CASCADE; then they go too, and on down the
    chain (a dependent grant that carried its holder's last ADMIN OPTION takes that holder's
    grants). Before 16 memberships record no such dependency: nothing cascades, nothing fails.
    """

    def __init__(self, live: ClusterState) -> None:
        self.groups: dict[str, dict[Held, MembershipGrant]] = defaultdict(dict)
        for m in live.memberships:
            for g in m.grants:
                self.groups[m.group][m.member, g.grantor] = g
        # (group, grantor): grantor granted group to someone
        self.granted_on = {(group, by) for group, grants in self.groups.items() for _, by in grants}

    def passed_on(self, group: str, member: str) -> bool:
        """``member`` granted ``group`` to someone (such grants depend on its ADMIN OPTION)."""
        return (group, member) in self.granted_on

    def play(
        self, revoked: set[Pair], unadmin: set[Pair]
    ) -> tuple[dict[Pair, list[MembershipGrant]], set[tuple[str, str, str]]]:
        """(the grants each member of a group the revokes touch has left, the grants a CASCADE
        takes) once every grant of the ``revoked`` memberships and the ADMIN OPTION of the
        ``unadmin`` ones are revoked. A grant made by a member that ends without ADMIN OPTION
        is taken by the CASCADE that takes the member's last one, whether the plan revokes it
        too or not (its own REVOKE would then find nothing and warn), so the order of the
        statements does not matter."""
        after: dict[Pair, list[MembershipGrant]] = {}
        taken: set[tuple[str, str, str]] = set()
        for group in sorted({group for group, _ in revoked | unadmin}):
            grants = self.groups.get(group, {})
            state: dict[Held, MembershipGrant] = {}
            made: dict[str, list[Held]] = defaultdict(list)  # grantor -> its grants
            for (member, grantor), g in grants.items():
                made[grantor].append((member, grantor))
                if (group, member) in revoked:
                    continue
                state[member, grantor] = (
                    g._replace(admin=False) if (group, member) in unadmin else g
                )
            admins = Counter(m for (m, _), g in state.items() if g.admin)
            lost = sorted({m for (m, _), g in grants.items() if g.admin} - set(admins))
            seen = set(lost)
            while lost:
                for member, grantor in made.get(lost.pop(), ()):
                    taken.add((group, member, grantor))
                    held = state.pop((member, grantor), None)
                    if held is not None and held.admin:
                        admins[member] -= 1
                        if admins[member] <= 0 and member not in seen:
                            seen.add(member)
                            lost.append(member)
            for member, _ in grants:
                after[group, member] = []
            for (member, _), g in sorted(state.items()):
                after[group, member].append(g)
        return after, taken


def _takes(group: str, holder: str, taken: set[tuple[str, str, str]]) -> list[Held]:
    """The grants of ``group`` in ``taken`` that hang on ``holder``'s ADMIN OPTION: those it
    made, and on down the chain; (member, grantor) pairs."""
    out: list[Held] = []
    todo, seen = [holder], {holder}
    while todo:
        grantor = todo.pop(0)
        for _, member, by in sorted(t for t in taken if t[0] == group and t[2] == grantor):
            out.append((member, by))
            if member not in seen:
                seen.add(member)
                todo.append(member)
    return out


class _MembershipPlan:
    """Statements for the memberships of one plan (see ``membership_changes``)."""

    def __init__(
        self,
        live: ClusterState,
        have: dict[Pair, Membership],
        want: dict[Pair, Membership],
        managed: frozenset[str],
        major: int,
        revoked: set[Pair],
        unadmin: set[Pair],
    ) -> None:
        self.major = major
        self.want = want
        self.managed = managed
        self.unadmin = unadmin
        self.revoked = revoked
        self.cascades = _Cascades(live) if major >= 16 else None
        self.after: dict[Pair, list[MembershipGrant]] = {}
        self.taken: set[tuple[str, str, str]] = set()
        if self.cascades is not None:
            self.after, self.taken = self.cascades.play(revoked, unadmin)
        self.taken_from: dict[Pair, list[str]] = defaultdict(list)  # grantors, sorted
        for group, member, grantor in sorted(self.taken):
            self.taken_from[group, member].append(grantor)
        # the memberships the policy wants that a CASCADE leaves short: granted again
        self.regrant: set[Pair] = set()
        for key in self.taken_from.keys() & want.keys():
            left = self.held_after(have.get(key))
            if left is None or not _same_membership(left, want[key]):
                self.regrant.add(key)

    def _cascade(self, m: Membership, g: MembershipGrant, report_only: bool) -> str | None:
        """Why a revoke of ``g`` (a grant of ``m``) says CASCADE, or None when it need not:
        only a grant carrying ADMIN OPTION, from a member that granted the role on."""
        if self.cascades is None or not g.admin or not self.cascades.passed_on(m.group, m.member):
            return None
        taken = self.taken
        if report_only:  # not run: what it would take
            _, taken = self.cascades.play(self.revoked | {(m.group, m.member)}, self.unadmin)
        items = []
        for member, grantor in _takes(m.group, m.member, taken):
            notes = [f"granted by {shown(grantor)}"] if grantor != m.member else []
            if report_only and (m.group, member) in self.want:
                notes.append("the policy keeps it")
            elif (m.group, member) in self.regrant:
                notes.append("the policy keeps it: granted again below")
            elif (m.group, member) in self.want:
                notes.append("the policy keeps it: another grant stays")
            elif member in self.managed:
                notes.append("the policy drops it too")
            else:
                notes.append("a role the policy does not list: not granted back")
            items.append(shown(member) + (f" ({'; '.join(notes)})" if notes else ""))
        what = ", ".join(items) if items else "the grants it made"
        return (
            f"CASCADE: {shown(m.member)} granted {shown(m.group)} on with its ADMIN OPTION, "
            f"and those grants go with it: {what}"
        )

    def revokes(self, m: Membership, why: str, *, report_only: bool) -> list[Change]:
        """REVOKE group FROM member. From 16 a membership exists once per grantor and a plain
        REVOKE only removes the current user's grant, so each grant is revoked GRANTED BY its
        grantor; if the server does not let the applying role act for a grantor, apply fails
        with the statement naming that grantor (nothing is silently left behind). A grant a
        CASCADE of this plan takes needs no statement (it would warn: nothing to revoke)."""
        base = sql.SQL("REVOKE {} FROM {}").format(ident(m.group), ident(m.member))
        if self.major < 16 or not m.grantors:
            return [Change(None, MEMBERSHIPS, base, why, report_only=report_only)]
        grants = m.grants or tuple(MembershipGrant(g, False, False, False) for g in m.grantors)
        changes: list[Change] = []
        for g in grants:
            if (m.group, m.member, g.grantor) in self.taken:
                continue
            stmt = sql.SQL("{} GRANTED BY {}").format(base, sql.Identifier(g.grantor))
            reason = f"{why} (granted by {shown(g.grantor)})" if len(grants) > 1 else why
            cascade = self._cascade(m, g, report_only)
            if cascade is not None:
                stmt = sql.SQL("{} CASCADE").format(stmt)
                reason = f"{reason}; {cascade}"
            changes.append(Change(None, MEMBERSHIPS, stmt, reason, report_only=report_only))
        return changes

    def admin_revokes(self, m: Membership) -> list[Change]:
        """16+: REVOKE ADMIN OPTION FOR group FROM member GRANTED BY each grantor whose grant
        carries it (a GRANT ... WITH ADMIN FALSE would only change the current user's grant,
        and never asks about the grants the member made with it)."""
        admin = [g for g in m.grants if g.admin]
        changes: list[Change] = []
        for g in admin:
            if (m.group, m.member, g.grantor) in self.taken:
                continue
            stmt = sql.SQL("REVOKE ADMIN OPTION FOR {} FROM {} GRANTED BY {}").format(
                ident(m.group), ident(m.member), sql.Identifier(g.grantor)
            )
            reason = f"{shown(m.member)} may grant {shown(m.group)}; the policy says not"
            if len(admin) > 1:
                reason += f" (granted by {shown(g.grantor)})"
            cascade = self._cascade(m, g, False)
            if cascade is not None:
                stmt = sql.SQL("{} CASCADE").format(stmt)
                reason = f"{reason}; {cascade}"
            changes.append(Change(None, MEMBERSHIPS, stmt, reason))
        return changes

    def held_after(self, have: Membership | None) -> Membership | None:
        """``have`` as the plan's revokes leave it: on 16+ the grants left once ADMIN OPTION
        is revoked where the policy says so and the CASCADEs took theirs (None: none left)."""
        if have is None or not have.grants:
            return have
        left = self.after.get((have.group, have.member))
        if left is None:  # untouched
            return have
        if not left:
            return None
        return replace(
            have,
            admin=any(g.admin for g in left),
            inherit=any(g.inherit for g in left),
            set=any(g.set for g in left),
            grants=tuple(sorted(left)),
            grantors=tuple(sorted(g.grantor for g in left)),
        )


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
    PostgreSQL 16+ itself gives a CREATEROLE role on the roles it creates (`_creator_grant`).

    From 16, taking a member's ADMIN OPTION (revoking the membership, or only the option) says
    CASCADE where the member granted the role on (`_Cascades`); what the cascade takes from a
    membership the policy wants is granted again at the end of the memberships."""
    have = {(m.group, m.member): m for m in live.memberships if m.member in scope.roles}
    want = {(m.group, m.member): m for m in desired.memberships}
    unmanaged: list[tuple[Membership, str]] = []
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
            unmanaged.append((m, why))
    report_only = scope.unmanaged_roles == "report"
    dropped = set(have) - set(want)
    revoked = dropped | (set() if report_only else {(m.group, m.member) for m, _ in unmanaged})
    unadmin = {
        key
        for key, w in want.items()
        if key in have and have[key].admin and not w.admin and have[key].grants
    }
    plan = _MembershipPlan(
        live, have, want, scope.roles, major, revoked, unadmin if major >= 16 else set()
    )
    changes: list[Change] = []
    for key in sorted(dropped):
        why = f"{shown(key[1])} is a member of {shown(key[0])}, which the policy does not say"
        changes += plan.revokes(have[key], why, report_only=False)
    regrants: list[Change] = []
    for key in sorted(want):
        w, h = want[key], have.get(key)
        if key in plan.unadmin and h is not None:
            changes += plan.admin_revokes(h)
        left = plan.held_after(h)
        if left is not None and _same_membership(left, w):
            continue
        if key in plan.regrant:
            by = shown_list(plan.taken_from[key])
            why = (
                f"{shown(key[1])} should be a member of {shown(key[0])}: a CASCADE above "
                f"takes its grant by {by}"
                if left is None
                else f"membership of {shown(key[1])} in {shown(key[0])}: options differ once "
                f"a CASCADE above takes its grant by {by}"
            )
            regrants.append(Change(None, MEMBERSHIPS, _grant_membership(w, left, major), why))
            continue
        changes.append(
            Change(
                None,
                MEMBERSHIPS,
                _grant_membership(w, left, major),
                f"{shown(key[1])} should be a member of {shown(key[0])}"
                if left is None
                else f"membership of {shown(key[1])} in {shown(key[0])}: options differ",
            )
        )
    for m, why in unmanaged:
        changes += plan.revokes(m, why, report_only=report_only)
    return changes + regrants


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
