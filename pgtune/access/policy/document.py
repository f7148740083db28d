"""The normalised policy: what `load_policy` returns and `expand` consumes.

Every shorthand of the file has exactly one representation here (member_of → Membership,
``table: app.s.t`` → TableRef, a profile → its privileges, ``TEMP`` → TEMPORARY, omitted
lists → their defaults), so two files that mean the same thing give equal `Policy` objects.
Line numbers ride along for later error messages but never take part in equality.
"""

from dataclasses import dataclass, field
from typing import Literal

from pgtune.access.model import PRIVILEGES, Membership, RlsPolicy, Role, TableRef

# The object kinds an access entry or a profile grants privileges on.
KINDS = ("database", "schema", "table", "sequence", "function")
# Written forms PostgreSQL accepts for a privilege, mapped to the one aclexplode reports.
PRIVILEGE_ALIASES = {"TEMP": "TEMPORARY"}
# Table privileges that also exist per column (GRANT SELECT (col) ...).
COLUMN_PRIVILEGES = frozenset(PRIVILEGES["column"])


def canonical_privileges(kind: str, written: list[str]) -> tuple[str, ...]:
    """Known privileges of ``kind``, aliases resolved, deduplicated, in PostgreSQL's order.

    >>> canonical_privileges("database", ["TEMP", "CONNECT", "TEMPORARY"])
    ('CONNECT', 'TEMPORARY')
    """
    wanted = {PRIVILEGE_ALIASES.get(p, p) for p in written}
    return tuple(p for p in PRIVILEGES[kind] if p in wanted)


@dataclass(frozen=True)
class Privileges:
    """Privileges per object kind, each in PostgreSQL's order (model.PRIVILEGES)."""

    database: tuple[str, ...] = ()
    schema: tuple[str, ...] = ()
    table: tuple[str, ...] = ()
    sequence: tuple[str, ...] = ()
    function: tuple[str, ...] = ()

    def of(self, kind: str) -> tuple[str, ...]:
        value: tuple[str, ...] = getattr(self, kind)
        return value

    def union(self, other: "Privileges") -> "Privileges":
        return Privileges(*(canonical_privileges(k, [*self.of(k), *other.of(k)]) for k in KINDS))


@dataclass(frozen=True)
class Profile:
    name: str
    privileges: Privileges
    member_of: tuple[str, ...] = ()  # groups every holder of the profile joins
    builtin: bool = False


BUILTIN_PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "readonly",
            Privileges(("CONNECT",), ("USAGE",), ("SELECT",), ("SELECT",)),
            builtin=True,
        ),
        Profile(
            "readwrite",
            Privileges(
                ("CONNECT",),
                ("USAGE",),
                ("SELECT", "INSERT", "UPDATE", "DELETE"),
                ("USAGE", "SELECT"),
                ("EXECUTE",),
            ),
            builtin=True,
        ),
        Profile("owner", Privileges(("CONNECT", "TEMPORARY"), ("USAGE", "CREATE")), builtin=True),
        Profile("monitoring", Privileges(("CONNECT",)), member_of=("pg_monitor",), builtin=True),
    )
}


@dataclass(frozen=True)
class Pattern:
    """A name or glob pattern (fnmatch: ``*``, ``?``, ``[...]``) from an access entry."""

    text: str
    line: int | None = field(default=None, compare=False)

    @property
    def is_glob(self) -> bool:
        return any(c in self.text for c in "*?[")


ALL = (Pattern("*"),)


@dataclass(frozen=True)
class AccessEntry:
    role: str
    database: str
    privileges: Privileges  # the profile's and the explicit ones, merged
    schemas: tuple[str, ...]  # resolved: never empty unless the database lists no schema
    tables: tuple[Pattern, ...] = ALL
    sequences: tuple[Pattern, ...] = ALL
    functions: tuple[Pattern, ...] = ALL
    columns: tuple[str, ...] = ()  # table privileges go on these columns instead
    grant_option: bool = False  # every privilege of the entry WITH GRANT OPTION
    profile: str | None = field(default=None, compare=False)  # as written, for messages
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SchemaSpec:
    name: str
    revoke_public: tuple[str, ...] = ()
    owner: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DatabaseSpec:
    name: str
    revoke_public: tuple[str, ...] = ()
    schemas: dict[str, SchemaSpec] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RlsSpec:
    table: TableRef
    enable: bool = True
    force: bool = False
    # In file order; expressions exactly as written (surrounding whitespace stripped).
    policies: tuple[RlsPolicy, ...] = ()
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DefaultGrant:
    """``default_privileges.grants``: ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA each of
    ``schemas`` GRANT the table / sequence / function privileges TO role, exactly; for default
    privileges the ``owners`` + ``*`` entries cannot say (several owners that differ, PUBLIC,
    grant options). ``schemas`` None (not written) is the owner's global default privileges
    (no IN SCHEMA: every schema, future ones too). ``role`` may be PUBLIC (model.PUBLIC)."""

    owner: str
    role: str
    database: str
    schemas: tuple[str, ...] | None
    privileges: Privileges
    grant_option: bool = False  # WITH GRANT OPTION
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PolicySettings:
    drop_unmanaged_roles: bool = False
    manage_ownership: bool = False
    revoke_public_function_execute: bool = False
    # Roles not listed that hold what the policy manages: "report" | "revoke" | "ignore".
    unmanaged_roles: Literal["report", "revoke", "ignore"] = "report"


@dataclass(frozen=True)
class Policy:
    settings: PolicySettings = PolicySettings()
    roles: dict[str, Role] = field(default_factory=dict)
    # Sorted; from member_of, the memberships list and profiles (monitoring → pg_monitor).
    memberships: tuple[Membership, ...] = ()
    databases: dict[str, DatabaseSpec] = field(default_factory=dict)
    access: tuple[AccessEntry, ...] = ()
    profiles: dict[str, Profile] = field(default_factory=lambda: dict(BUILTIN_PROFILES))
    default_owners: tuple[str, ...] = ()
    default_grants: tuple[DefaultGrant, ...] = ()
    rls: tuple[RlsSpec, ...] = ()
    source: str = field(default="<policy>", compare=False)
    # Lines of things `expand` may have to complain about: ("role", name),
    # ("membership", group, member), ("database", name), ("schema", database, schema).
    lines: dict[tuple[str, ...], int] = field(default_factory=dict, compare=False)

    def line(self, *key: str) -> int | None:
        return self.lines.get(key)
