"""One dataclass per catalog query (``queries/<name>.sql``), filled by ``class_row``.

Field names are the queries' column aliases. Rows that carry ACL items come from a
``LEFT JOIN LATERAL aclexplode(...)``, so an object without any item (an empty ACL, or one
holding only the owner's own privileges) still yields one row, with the item fields NULL: the
object is still part of the inventory. Relations and columns, by far the most numerous, come
one row per relation instead, with their items in a JSON array.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AclItemRow:
    """One exploded ACL item; all None when the object has none (see the module docstring)."""

    grantee: str | None  # a role name or "" for PUBLIC (model.PUBLIC)
    privilege: str | None  # upper case, as aclexplode spells it (TEMPORARY, not TEMP)
    grantable: bool | None


@dataclass(frozen=True, slots=True)
class RoleRow:
    name: str
    login: bool
    superuser: bool
    createdb: bool
    createrole: bool
    replication: bool
    bypassrls: bool
    inherit: bool
    connection_limit: int
    valid_until: datetime | None  # None also for 'infinity'
    never_valid: bool  # VALID UNTIL '-infinity'
    settings: list[str] | None  # "name=value" items
    comment: str | None


@dataclass(frozen=True, slots=True)
class MembershipRow:
    group_name: str
    member_name: str
    admin: bool
    inherit: bool | None  # None before PostgreSQL 16
    set_option: bool | None
    grantors: list[str] | None = None  # 16+: who granted it (one grant each); None before
    # 16+: the grantors whose grant carries ADMIN / INHERIT / SET (None: none, or before 16)
    admin_grantors: list[str] | None = None
    inherit_grantors: list[str] | None = None
    set_grantors: list[str] | None = None
    # 16+: its only grant is the one CREATE ROLE gave the CREATEROLE role that created the
    # group (see memberships.sql); None before
    creation_grant: bool | None = None


@dataclass(frozen=True, slots=True)
class DatabaseRow(AclItemRow):
    database: str
    owner: str
    allow_connections: bool
    can_connect: bool  # the inspecting role's CONNECT privilege
    grantor: str | None = None  # None: the owner granted it


@dataclass(frozen=True, slots=True)
class SchemaRow(AclItemRow):
    schema: str
    owner: str
    grantor: str | None = None  # None: the owner granted it


@dataclass(frozen=True, slots=True)
class RelationRow:
    """One relation with all its ACL items (relations.sql aggregates them)."""

    schema: str
    name: str
    kind: str  # "table" or "sequence"
    has_rls: bool  # an ordinary or partitioned table, the relations RLS applies to
    rls_enabled: bool
    rls_forced: bool
    owner: str
    # the ACL items as parallel arrays, None when there are none
    grantees: list[str] | None  # role names or "" for PUBLIC (model.PUBLIC)
    privileges: list[str] | None
    grantable: list[bool] | None
    grantors: list[str | None] | None = None  # None: the owner granted it


@dataclass(frozen=True, slots=True)
class RelationGroupRow:
    """The relations of one schema and kind that share owner, RLS flags and ACL, with that
    ACL's items once (relation_groups.sql)."""

    schema: str
    kind: str  # "table" or "sequence"
    has_rls: bool
    rls_enabled: bool
    rls_forced: bool
    owner: str
    names: list[str]  # in no particular order
    grantees: list[str] | None  # role names or "" for PUBLIC (model.PUBLIC); None: no items
    privileges: list[str] | None
    grantable: list[bool] | None
    grantors: list[str | None] | None  # None: the owner granted it


@dataclass(frozen=True, slots=True)
class ColumnsRow:
    """One table's columns and their ACL items (columns.sql aggregates them)."""

    schema: str
    table_name: str
    columns: list[str]  # by position
    acl: list[list[Any]] | None  # JSON [column, grantee, privilege, grantable, grantor] items


@dataclass(frozen=True, slots=True)
class FunctionRow(AclItemRow):
    schema: str
    name: str
    args: str
    owner: str
    arg_types: str | None = None  # oidvectortypes: the arguments as statements take them
    grantor: str | None = None  # None: the owner granted it


@dataclass(frozen=True, slots=True)
class DefaultAclRow:
    owner: str
    schema: str | None  # None = every schema
    objtype: str  # pg_default_acl.defaclobjtype: r, S, f, T, n
    grantee: str
    privilege: str
    grantable: bool


@dataclass(frozen=True, slots=True)
class PolicyRow:
    schema: str
    table_name: str
    name: str
    permissive: bool
    command: str  # pg_policy.polcmd: r, a, w, d, *
    roles: list[str]
    using_expr: str | None
    with_check: str | None
