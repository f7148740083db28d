"""The canonical access state both sides of a diff are expressed in.

The policy file is expanded into a `ClusterState` (what should be); catalog inspection reads
one from the live cluster (what is). `plan.diff(live, desired)` compares the two. Everything is
a frozen dataclass (ObjectRef and Grant: named tuples, hashed and compared in C) in one
canonical form, so equal states compare equal:

- names are exact identifiers as PostgreSQL stores them (case and quotes already resolved);
- privileges are upper-case keywords (SELECT, USAGE, CONNECT, TEMPORARY, EXECUTE, ...);
- PUBLIC is the grantee ``PUBLIC`` = "" (the empty name, which no role can have: PostgreSQL
  refuses zero-length identifiers), told apart from a real role named "PUBLIC" by OID in the
  catalog queries (aclexplode grantee 0). Files, SQL and reasons spell it ``PUBLIC_KEYWORD``;
  changes.ident / changes.grantee_text render it;
- functions are identified by name and identity arguments (pg_get_function_identity_arguments);
- RLS policy roles are a sorted tuple, PUBLIC for the public pseudo-role;
- expressions (USING / WITH CHECK) are kept as the server's deparsed text (pg_get_expr) on the
  live side and canonicalised to the same form on the desired side (expressions.py).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple, TypeVar

PUBLIC = ""
PUBLIC_KEYWORD = "PUBLIC"  # how files, statements and reasons spell PUBLIC


def grantee_label(grantee: str) -> str:
    '''How a report's grantee list spells a grantee: ``PUBLIC`` for the pseudo-role; a role
    that is itself named PUBLIC in any case (``CREATE ROLE "PUBLIC"`` is allowed, only
    lowercase ``public`` is reserved), or whose name starts with a double quote, quoted as SQL
    quotes it, so that no role's label reads like the pseudo-role or like another role's label;
    any other role by its name.

    >>> [grantee_label(g) for g in ("", "PUBLIC", "Public", '"PUBLIC"', "app_ro")]
    ['PUBLIC', '"PUBLIC"', '"Public"', '"""PUBLIC"""', 'app_ro']
    '''
    if grantee == PUBLIC:
        return PUBLIC_KEYWORD
    if grantee.upper() == PUBLIC_KEYWORD or grantee.startswith('"'):
        return '"' + grantee.replace('"', '""') + '"'
    return grantee


ObjectKind = Literal["database", "schema", "table", "sequence", "function", "column"]
DefaultObjectType = Literal["tables", "sequences", "functions", "types", "schemas"]
PolicyCommand = Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]

# Privileges each kind of object takes, in PostgreSQL's order (MAINTAIN: 17+).
PRIVILEGES: dict[str, tuple[str, ...]] = {
    "database": ("CREATE", "CONNECT", "TEMPORARY"),
    "schema": ("USAGE", "CREATE"),
    "table": (
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "MAINTAIN",
    ),
    "sequence": ("USAGE", "SELECT", "UPDATE"),
    "function": ("EXECUTE",),
    "column": ("SELECT", "INSERT", "UPDATE", "REFERENCES"),
}
DEFAULT_PRIVILEGE_KIND: dict[str, str] = {
    "tables": "table",
    "sequences": "sequence",
    "functions": "function",
    "types": "type",
    "schemas": "schema",
}


@dataclass(frozen=True, order=True, slots=True)
class Role:
    name: str
    login: bool = False
    superuser: bool = False
    createdb: bool = False
    createrole: bool = False
    replication: bool = False
    bypassrls: bool = False
    inherit: bool = True
    connection_limit: int = -1
    valid_until: str | None = None  # ISO 8601 timestamp with time zone, or None = no expiry
    # Per-role settings (ALTER ROLE ... SET), sorted by name.
    settings: tuple[tuple[str, str], ...] = ()
    # The environment variable holding the password; None = the password is not managed.
    password_env: str | None = None
    comment: str | None = None


class MembershipGrant(NamedTuple):
    """One grant of a membership (PostgreSQL 16+: a membership exists once per grantor, each
    grant with its own options); live side only (``Membership.grants``)."""

    grantor: str
    admin: bool
    inherit: bool
    set: bool


@dataclass(frozen=True, order=True, slots=True)
class Membership:
    group: str  # the role granted
    member: str  # the role receiving it
    admin: bool = False
    inherit: bool | None = None  # PostgreSQL 16+ per-grant options; None = not managed
    set: bool | None = None
    # Live side, 16+: the roles that granted it (a membership exists once per grantor); not
    # part of equality. Empty before 16 and on the desired side.
    grantors: tuple[str, ...] = field(default=(), compare=False)
    # Live side, 16+: its only grant is the ADMIN one CREATE ROLE gave the CREATEROLE role
    # that created the group (catalog/queries/memberships.sql); not part of equality.
    creation_grant: bool = field(default=False, compare=False)
    # Live side, 16+: each grant with its own options, by grantor (sorted); not part of
    # equality. A revoke that takes a grant carrying ADMIN OPTION also takes, with CASCADE,
    # the grants its holder made (diff_roles).
    grants: tuple[MembershipGrant, ...] = field(default=(), compare=False)


class ObjectRef(NamedTuple):
    """One object that can carry privileges. ``database`` is the database the object lives in
    (for kind "database", the database itself).

    A named tuple, so hashing and comparing (millions of times in a diff of a large cluster)
    run in C. ``types`` is not part of the tuple: see :func:`function_ref`."""

    kind: ObjectKind
    database: str
    schema: str | None = None
    name: str | None = None  # table, sequence or function name; None for database/schema
    args: str | None = None  # function identity arguments, e.g. "integer, text"
    column: str | None = None

    @property
    def types(self) -> str | None:
        """Function argument types alone (oidvectortypes), for statements: the identity
        arguments of an ordered-set aggregate ("x ORDER BY y") are not valid there. Not part
        of identity (equality, hash, order); None unless built by :func:`function_ref`."""
        return None


class _TypedRef(ObjectRef):
    """A function's ObjectRef that also knows its argument types (in its ``__dict__``, outside
    the tuple: equal to, and hashed like, the same ObjectRef without them)."""

    @property
    def types(self) -> str | None:
        value: str | None = self.__dict__.get("types")
        return value


def function_ref(
    database: str, schema: str, name: str, args: str, types: str | None = None
) -> ObjectRef:
    """A function's ObjectRef; ``types`` (argument types for statements) when known."""
    if types is None:
        return ObjectRef("function", database, schema, name, args)
    ref = _TypedRef("function", database, schema, name, args)
    ref.__dict__["types"] = types
    return ref


class Grant(NamedTuple):
    """A privilege held on an object (a named tuple: hashed and compared in C)."""

    object: ObjectRef
    grantee: str  # a role name or PUBLIC
    privilege: str
    grantable: bool = False


@dataclass(frozen=True, order=True, slots=True)
class DefaultPrivilege:
    """ALTER DEFAULT PRIVILEGES FOR ROLE owner [IN SCHEMA schema] GRANT privilege ON objtype."""

    database: str
    owner: str
    schema: str | None  # None = every schema
    objtype: DefaultObjectType
    grantee: str
    privilege: str
    grantable: bool = False


GrantLike = TypeVar("GrantLike", Grant, DefaultPrivilege)
# A grant without its object: (grantee, privilege, grantable), see ClusterState.relation_grants.
Item = tuple[str, str, bool]


def strongest_items(items: Iterable[Item]) -> frozenset[Item]:
    """One item per grantee and privilege: grantable wins over plain (as merge_grantors and
    the expansion merge Grants)."""
    found = frozenset(items)
    shadowed = {(grantee, p, False) for grantee, p, grantable in found if grantable} & found
    return found - shadowed if shadowed else found


def without_grant_option(item: GrantLike) -> GrantLike:
    """The same grant or default privilege, not grantable."""
    if isinstance(item, Grant):
        return Grant(item.object, item.grantee, item.privilege)
    return replace(item, grantable=False)


@dataclass(frozen=True, order=True, slots=True)
class TableRef:
    database: str
    schema: str
    name: str


@dataclass(frozen=True, slots=True)
class RlsTable:
    table: TableRef
    enabled: bool
    forced: bool


@dataclass(frozen=True, slots=True)
class RlsPolicy:
    table: TableRef
    name: str
    permissive: bool = True
    command: PolicyCommand = "ALL"
    roles: tuple[str, ...] = (PUBLIC,)  # sorted
    using: str | None = None
    with_check: str | None = None
    # The policy file line it was written on (errors point at it); not part of its identity.
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Scope:
    """What the policy manages; the diff never touches anything outside it.

    - roles: attributes and memberships of these roles, and every privilege granted to them
      on objects in ``databases`` / ``schemas``;
    - public_revocations / public_default_revocations: privileges (and default privileges)
      PUBLIC must not hold — PUBLIC is otherwise left alone, since PostgreSQL's own defaults
      grant it things;
    - rls_tables: tables whose RLS flags and policies are managed as a whole;
    - drop_roles: remove roles that exist but are not in the policy (explicit opt-in), except
      superusers, predefined pg_* roles and the current user.
    """

    roles: frozenset[str] = frozenset()
    databases: frozenset[str] = frozenset()
    schemas: frozenset[tuple[str, str]] = frozenset()  # (database, schema)
    rls_tables: frozenset[TableRef] = frozenset()
    drop_roles: bool = False
    manage_ownership: bool = False
    # Grants PUBLIC must not hold (REVOKE ... FROM PUBLIC when the live state has them).
    public_revocations: frozenset[Grant] = frozenset()
    # Default privileges PUBLIC must not hold, e.g. EXECUTE on the functions an owner creates
    # later. The live side shows the *effective* global default ACL (pg_default_acl's entry,
    # else acldefault), so "PUBLIC may execute R's future functions" is a DefaultPrivilege
    # with schema None, and its absence means it was revoked (see policy/expand.py).
    public_default_revocations: frozenset[DefaultPrivilege] = frozenset()
    # Roles the policy does not list that are members of managed roles: "report" (a
    # report-only change), "revoke" or "ignore" (policy settings.unmanaged_roles).
    # Complete state (grants on objects): on managed objects (the managed databases, their
    # managed schemas and everything in them) every privilege the policy does not grant is
    # drift — PUBLIC's too, except ``public_allowed`` (PostgreSQL's built-in defaults the
    # policy keeps: left alone when held, never granted back). Roles the policy does not list
    # ("unmanaged", predefined ones included) follow ``unmanaged_roles``: "report" (a
    # report-only change: drift for --check, never applied), "revoke", or "ignore". Off
    # (the older rule: only policy roles and ``public_revocations``) unless ``complete``.
    complete: bool = False
    public_allowed: frozenset[Grant] = frozenset()
    unmanaged_roles: Literal["report", "revoke", "ignore"] = "ignore"


@dataclass(frozen=True, slots=True)
class ClusterState:
    roles: dict[str, Role] = field(default_factory=dict)
    memberships: frozenset[Membership] = frozenset()
    grants: frozenset[Grant] = frozenset()
    default_privileges: frozenset[DefaultPrivilege] = frozenset()
    rls_tables: dict[TableRef, RlsTable] = field(default_factory=dict)
    policies: dict[tuple[TableRef, str], RlsPolicy] = field(default_factory=dict)
    # Objects that should be owned by a role (only with Scope.manage_ownership).
    owners: dict[ObjectRef, str] = field(default_factory=dict)
    # Live side only: (object, grantee, privilege) -> the roles other than the object's owner
    # that granted it (WITH GRANT OPTION chains). A plain REVOKE by the owner or a superuser
    # does not remove those items; the diff revokes them as their grantor.
    grantors: dict[tuple[ObjectRef, str, str], frozenset[str]] = field(default_factory=dict)
    # Grants on tables and sequences held per object, as item sets shared by the objects that
    # hold the same ones (the grouped inspection and expansion: a few hundred distinct sets
    # for hundreds of thousands of grants). An object's grants are in ``grants`` or here, never
    # both; ``all_grants()`` is the union.
    relation_grants: dict[ObjectRef, frozenset[Item]] = field(default_factory=dict)

    def all_grants(self) -> frozenset[Grant]:
        """Every grant, ``relation_grants`` spelled out as Grants."""
        if not self.relation_grants:
            return self.grants
        return self.grants | {
            Grant(obj, *item) for obj, items in self.relation_grants.items() for item in items
        }


@dataclass(frozen=True, slots=True)
class Inventory:
    """The objects that exist in one database, for expanding patterns in the policy."""

    database: str
    schemas: dict[str, str] = field(default_factory=dict)  # schema -> owner
    tables: dict[tuple[str, str], str] = field(default_factory=dict)  # (schema, table) -> owner
    sequences: dict[tuple[str, str], str] = field(default_factory=dict)
    functions: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (s, name, args)
    columns: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # (s, name, args) -> argument types for statements (ObjectRef.types); derived, not compared
    function_types: dict[tuple[str, str, str], str] = field(default_factory=dict, compare=False)
    # ("table" | "sequence", schema, name) -> the inspection's ObjectRef of that relation, so
    # the desired side shares the live side's instances (equal tuples compare by identity
    # first); derived, not compared, may be empty
    refs: dict[tuple[str, str, str], ObjectRef] = field(default_factory=dict, compare=False)
