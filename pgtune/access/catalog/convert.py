"""Catalog rows → the canonical model (pure functions, no database).

Representation choices are documented in the package docstring (``catalog/__init__.py``).
"""

from collections.abc import Iterable
from datetime import UTC
from typing import TypeVar

from pgtune.access import model
from pgtune.access.catalog.rows import (
    AclItemRow,
    DefaultAclRow,
    MembershipRow,
    PolicyRow,
    RoleRow,
)

NEVER_VALID = "-infinity"

POLICY_COMMANDS: dict[str, model.PolicyCommand] = {
    "r": "SELECT",
    "a": "INSERT",
    "w": "UPDATE",
    "d": "DELETE",
    "*": "ALL",
}
DEFAULT_OBJTYPES: dict[str, model.DefaultObjectType] = {
    "r": "tables",
    "S": "sequences",
    "f": "functions",
    "T": "types",
    "n": "schemas",
}

_Granted = TypeVar("_Granted", model.Grant, model.DefaultPrivilege)


def role_settings(config: Iterable[str] | None) -> tuple[tuple[str, str], ...]:
    """``setconfig`` items ("name=value") as sorted pairs; values may themselves hold '='.

    >>> role_settings(["work_mem=64MB", "search_path=a, \\"b=c\\""])
    (('search_path', 'a, "b=c"'), ('work_mem', '64MB'))
    >>> role_settings(None)
    ()
    """
    pairs = (item.partition("=") for item in config or ())
    return tuple(sorted((name, value) for name, _, value in pairs))


def role(row: RoleRow) -> model.Role:
    """A role; ``valid_until`` is UTC ISO 8601 (``2027-01-01T00:00:00+00:00``), None when the
    role never expires (no VALID UNTIL, or 'infinity'), ``-infinity`` when it never was valid."""
    if row.never_valid:
        valid_until: str | None = NEVER_VALID
    elif row.valid_until is not None:
        valid_until = row.valid_until.astimezone(UTC).isoformat()
    else:
        valid_until = None
    return model.Role(
        name=row.name,
        login=row.login,
        superuser=row.superuser,
        createdb=row.createdb,
        createrole=row.createrole,
        replication=row.replication,
        bypassrls=row.bypassrls,
        inherit=row.inherit,
        connection_limit=row.connection_limit,
        valid_until=valid_until,
        settings=role_settings(row.settings),
        comment=row.comment,
    )


def membership(row: MembershipRow) -> model.Membership:
    grantors = tuple(sorted(row.grantors or ()))
    admin, inherit, set_ = (
        frozenset(names or ())
        for names in (row.admin_grantors, row.inherit_grantors, row.set_grantors)
    )
    return model.Membership(
        group=row.group_name,
        member=row.member_name,
        admin=row.admin,
        inherit=row.inherit,
        set=row.set_option,
        grantors=grantors,
        creation_grant=bool(row.creation_grant),
        grants=tuple(
            model.MembershipGrant(g, g in admin, g in inherit, g in set_) for g in grantors
        ),
    )


def grant(obj: model.ObjectRef, item: AclItemRow) -> model.Grant | None:
    """The grant an ACL item row holds, or None for an object's item-less row."""
    if item.grantee is None or item.privilege is None:
        return None
    return model.Grant(obj, item.grantee, item.privilege, bool(item.grantable))


def default_privilege(database: str, row: DefaultAclRow) -> model.DefaultPrivilege:
    return model.DefaultPrivilege(
        database=database,
        owner=row.owner,
        schema=row.schema,
        objtype=DEFAULT_OBJTYPES[row.objtype],
        grantee=row.grantee,
        privilege=row.privilege,
        grantable=row.grantable,
    )


def policy(database: str, row: PolicyRow) -> model.RlsPolicy:
    return model.RlsPolicy(
        table=model.TableRef(database, row.schema, row.table_name),
        name=row.name,
        permissive=row.permissive,
        command=POLICY_COMMANDS[row.command],
        roles=tuple(sorted(row.roles)),
        using=row.using_expr,
        with_check=row.with_check,
    )


def merge_grantors(granted: Iterable[_Granted]) -> frozenset[_Granted]:
    """One entry per privilege and grantee: the same privilege granted by several grantors
    (ACL items differ by grantor, which the model does not carry) is grantable if any is.

    >>> db = model.ObjectRef("database", "app")
    >>> merged = merge_grantors([model.Grant(db, "a", "CONNECT", False),
    ...                          model.Grant(db, "a", "CONNECT", True)])
    >>> [(g.grantee, g.privilege, g.grantable) for g in merged]
    [('a', 'CONNECT', True)]
    """
    # Hash each entry once (hundreds of thousands at 20k tables), then drop the few plain
    # entries that a grantable twin shadows.
    items = frozenset(granted)
    shadowed = {model.without_grant_option(item) for item in items if item.grantable} & items
    return items - shadowed if shadowed else items
