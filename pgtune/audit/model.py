"""What an audit collects from one cluster and what it concludes: the contract between
collection (collect.py), the checks (findings/), the access review (review.py) and the
reports (report.py)."""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from pgtune.access.catalog import Inspection
from pgtune.access.model import PUBLIC, Grant, ObjectRef, TableRef

Severity = Literal["critical", "high", "medium", "low", "info"]
RemediationKind = Literal["sql", "config", "shell"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")


def severity_rank(severity: Severity) -> int:
    """critical = 0 … info = 4: lower is worse."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True, order=True)
class Finding:
    id: str  # stable, e.g. "PGT-ROLE-001"; the same problem keeps its id across releases
    severity: Severity
    title: str  # one line, the same for every instance of this check
    seen: str  # what was observed, with the names and values
    why: str  # why it matters, one line
    remediation: str  # SQL (identifiers quoted with psycopg.sql) or a config change
    cis: str | None = None  # CIS PostgreSQL Benchmark reference, e.g. "CIS 4.3"
    database: str | None = None  # None for cluster-wide findings
    object: str | None = None  # the role / table / function / rule concerned
    # What ``remediation`` is: SQL to run ("sql"), a line for a configuration file such as
    # pg_hba.conf or postgresql.conf ("config"), or a shell command on the host ("shell").
    remediation_kind: RemediationKind = "sql"


@dataclass(frozen=True)
class HbaRule:
    line_number: int
    type: str
    databases: tuple[str, ...]
    users: tuple[str, ...]
    address: str | None
    netmask: str | None
    auth_method: str
    error: str | None


@dataclass(frozen=True)
class FunctionInfo:
    database: str
    schema: str
    name: str
    args: str  # identity arguments
    owner: str
    security_definer: bool
    search_path: str | None  # from proconfig, None when not pinned
    language: str


@dataclass(frozen=True)
class ExtensionInfo:
    database: str
    name: str
    schema: str
    version: str
    # The extension's own functions PUBLIC may execute, as (schema, name, identity arguments),
    # and its foreign-data wrappers PUBLIC may use: what makes dblink or postgres_fdw reach
    # every role rather than only the ones granted. Only the functions that can do more than
    # their caller: SECURITY DEFINER or in an untrusted language (C, internal); a SECURITY
    # INVOKER SQL or plpgsql wrapper runs with the caller's rights (queries/extensions.sql).
    public_functions: tuple[tuple[str, str, str], ...] = ()
    public_wrappers: tuple[str, ...] = ()


@dataclass(frozen=True)
class LanguageInfo:
    database: str
    name: str
    trusted: bool
    # PUBLIC holds USAGE (a NULL ACL means PostgreSQL's default, which grants it). PostgreSQL
    # only consults this for trusted languages: an untrusted one is for superusers whatever
    # its ACL says.
    public_usage: bool


@dataclass(frozen=True)
class TablespaceInfo:
    name: str
    location: str  # pg_tablespace_location: '' for pg_default and pg_global


Granted = tuple[str, str, bool]  # (grantee, privilege, grantable): one item of an ACL


@dataclass(frozen=True, slots=True)
class SharedAcl:
    """Tables or sequences of one schema that share their owner and their ACL, read as one
    (the access inspection's grouped read, relation_groups.sql): a few hundred of them hold
    what would be millions of grants at 20k tables. ``grants`` are the ACL's items as the
    inspection reads them (the owner's own left out, one per grantee and privilege whatever
    the grantors, grantable if any grant is), PUBLIC as ``PUBLIC`` (the empty name)."""

    database: str
    schema: str
    kind: Literal["table", "sequence"]
    owner: str
    grants: frozenset[Granted]
    names: tuple[str, ...]  # sorted


@dataclass(frozen=True)
class Snapshot:
    """Everything the checks and the review read about one cluster, collected once."""

    cluster: str  # a label: the redacted DSN or the inventory name
    server_version: str
    major: int
    collected_at: str  # ISO 8601 UTC
    collected_by: str  # current_user
    superuser: bool
    # Roles, memberships, grants (PUBLIC included), defaults, RLS. Collected from a cluster,
    # its grants and owners leave out tables and sequences, which are in ``relations``.
    access: Inspection
    settings: dict[str, str] = field(default_factory=dict)  # name -> pg_settings.setting
    hba: tuple[HbaRule, ...] | None = None  # None: pg_hba_file_rules not readable
    secrets: dict[str, str] | None = None  # role -> "scram" | "md5" | "none"; None: unreadable
    functions: tuple[FunctionInfo, ...] = ()  # SECURITY DEFINER functions and their settings
    extensions: tuple[ExtensionInfo, ...] = ()
    languages: tuple[LanguageInfo, ...] = ()
    unreadable: tuple[str, ...] = ()  # what could not be read, one line each
    # The role created by initdb (oid 10): it cannot lose SUPERUSER, so it is the one to keep.
    bootstrap_superuser: str | None = None
    # Who the cluster is across reports (baseline, merge): pg_control_system()'s identifier
    # (None: not readable) and the host:port libpq connected to (a label, and the fallback).
    system_identifier: str | None = None
    address: str | None = None
    # Every tablespace and where it lives; None when not collected.
    tablespaces: tuple[TablespaceInfo, ...] | None = None
    # The owners and grants of tables and sequences, grouped (collect.py reads them so); a
    # snapshot built by hand may hold them in ``access.state`` instead, or both.
    relations: tuple[SharedAcl, ...] = ()

    @cached_property
    def public_grants(self) -> tuple[Grant, ...]:
        """The grants to PUBLIC, picked once for the checks about PUBLIC: a few hundred among
        what can be millions of grants (those on tables and sequences as one grant each)."""
        found = [g for g in self.access.state.grants if g.grantee == PUBLIC]
        for shared in self.relations:
            public = [(p, option) for grantee, p, option in shared.grants if grantee == PUBLIC]
            for name in shared.names if public else ():
                obj = ObjectRef(shared.kind, shared.database, shared.schema, name)
                found += (Grant(obj, PUBLIC, p, option) for p, option in public)
        return tuple(found)

    @cached_property
    def _relation_owners(self) -> dict[tuple[str, str, str], str]:
        return {
            (shared.database, shared.schema, name): shared.owner
            for shared in self.relations
            if shared.kind == "table"
            for name in shared.names
        }

    def table_owner(self, table: TableRef) -> str | None:
        """The owner of a table, wherever the snapshot holds it."""
        owner = self.access.state.owners.get(
            ObjectRef("table", table.database, table.schema, table.name)
        )
        if owner is not None or not self.relations:
            return owner
        return self._relation_owners.get((table.database, table.schema, table.name))
