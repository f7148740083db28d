"""Read everything an audit judges from a live cluster, once, into a :class:`Snapshot`.

    snapshot = collect("host=db1 dbname=postgres user=auditor", label="db1")
    findings = run_checks(snapshot)          # pgtune.audit.findings

Connections: one to the DSN's database for the cluster-wide families (settings,
``pg_hba_file_rules``, role secrets), then one per audited database, shared by the access
inspection (``inspection.inspect_access``: the families of ``pgtune.access.catalog`` — roles,
memberships, grants, default privileges, RLS, owners — with the ACLs of tables and sequences
read grouped, into ``Snapshot.relations``) and the audit's per-database families (SECURITY
DEFINER functions, extensions, languages). Every family is one query (``queries/*.sql``).

Degradation: what the connected role may not read is listed in ``Snapshot.unreadable``, one
line each, and left empty or None in the snapshot, never guessed. As a non-superuser (even
with pg_monitor) that is ``pg_hba_file_rules`` (hba None) and ``pg_authid`` (secrets None),
plus databases without CONNECT privilege. Password hashes never leave the server: the
secrets query returns only their kind, and DSN passwords are masked in every message.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import class_row

from pgtune import pg
from pgtune.access.catalog.reader import PASSWORDS_HIDDEN
from pgtune.audit.findings import NEEDED_SETTINGS, OPTIONAL_SETTINGS
from pgtune.audit.inspection import inspect_access
from pgtune.audit.model import (
    ExtensionInfo,
    FunctionInfo,
    HbaRule,
    LanguageInfo,
    Snapshot,
    TablespaceInfo,
)

PACKAGE = "pgtune.audit"
UNPARSABLE_CONNINFO = "<unparsable>"
T = TypeVar("T")

HBA_UNREADABLE = (
    "pg_hba_file_rules: permission denied (needs superuser, or SELECT on "
    "pg_catalog.pg_hba_file_rules and EXECUTE on pg_catalog.pg_hba_file_rules()); "
    "pg_hba.conf and listen_addresses checks skipped"
)
IDENTITY_UNREADABLE = (
    "pg_control_system(): not readable ({reason}); the cluster is matched with its baseline "
    "and across merged reports by its address {address} instead of its system identifier"
)
SECRETS_UNREADABLE = (
    "role secrets (pg_authid): permission denied (needs superuser); "
    "md5-secret and missing-password checks skipped"
)


@cache
def query(name: str) -> LiteralString:
    """The text of ``queries/<name>.sql``, read once per process."""
    return pg.load_query(PACKAGE, name)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _rows(
    conn: psycopg.Connection[Any], name: str, row: type[T], params: dict[str, object] | None = None
) -> list[T]:
    with conn.cursor(row_factory=class_row(row)) as cur:
        return cur.execute(query(name), params).fetchall()


@dataclass(frozen=True)
class _ClusterFacts:
    bootstrap_superuser: str | None
    databases: list[str]


@dataclass(frozen=True)
class _Identity:
    system_identifier: str


def _address(conn: psycopg.Connection[Any]) -> str:
    """host:port as libpq connected (a socket directory, a name or an address; IPv6 bracketed),
    whatever spelling the DSN used."""
    host, port = conn.info.host, conn.info.port
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _system_identifier(conn: psycopg.Connection[Any], missing: list[str]) -> str | None:
    try:
        [row] = _rows(conn, "system_identifier", _Identity)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction) as exc:
        reason = _one_line(exc)
        missing.append(IDENTITY_UNREADABLE.format(reason=reason, address=_address(conn)))
        return None
    return row.system_identifier


@dataclass(frozen=True)
class _Setting:
    name: str
    setting: str | None


@dataclass(frozen=True)
class _HbaRow:
    line_number: int
    type: str
    databases: list[str]
    users: list[str]
    address: str | None
    netmask: str | None
    auth_method: str
    error: str | None


@dataclass(frozen=True)
class _Secret:
    name: str
    kind: str


@dataclass(frozen=True)
class _ExtensionRow:
    database: str
    name: str
    schema: str
    version: str
    public_functions: list[list[str]]
    public_wrappers: list[str]


def without_password(conninfo: str) -> str:
    """A standby's primary_conninfo with its password left out, so the snapshot (and what
    is built from it) never holds it; UNPARSABLE_CONNINFO when it cannot be parsed.

    >>> without_password("host=p user=r password=s3cret sslmode=require")
    'user=r host=p sslmode=require'
    >>> without_password("host=p password='s3cret")
    '<unparsable>'
    """
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error:  # its message may quote the string, password included
        return UNPARSABLE_CONNINFO
    params.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def _settings(conn: psycopg.Connection[Any], user: str, missing: list[str]) -> dict[str, str]:
    rows = _rows(conn, "settings", _Setting, {"names": list(NEEDED_SETTINGS)})
    settings = {r.name: r.setting for r in rows if r.setting is not None}
    if settings.get("primary_conninfo"):
        settings["primary_conninfo"] = without_password(settings["primary_conninfo"])
    missing += [
        f"setting {name}: not visible to {user!r} (needs pg_read_all_settings); "
        "checks on it skipped"
        for name in NEEDED_SETTINGS
        if name not in settings and name not in OPTIONAL_SETTINGS
    ]
    return settings


def _hba(conn: psycopg.Connection[Any], missing: list[str]) -> tuple[HbaRule, ...] | None:
    try:
        rows = _rows(conn, "hba", _HbaRow)
    except psycopg.errors.InsufficientPrivilege:
        missing.append(HBA_UNREADABLE)
        return None
    return tuple(
        HbaRule(
            line_number=r.line_number,
            type=r.type,
            databases=tuple(r.databases),
            users=tuple(r.users),
            address=r.address,
            netmask=r.netmask,
            auth_method=r.auth_method,
            error=r.error,
        )
        for r in rows
    )


def _secrets(conn: psycopg.Connection[Any], missing: list[str]) -> dict[str, str] | None:
    try:
        rows = _rows(conn, "secrets", _Secret)
    except psycopg.errors.InsufficientPrivilege:
        missing.append(SECRETS_UNREADABLE)
        return None
    return {r.name: r.kind for r in rows}


class _PerDatabase:
    """Connects to each audited database for the access inspection, reading the audit's own
    per-database families on the same connection first (one connection per database)."""

    def __init__(self, dsn: str, timeout: int | None) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.functions: list[FunctionInfo] = []
        self.extensions: list[ExtensionInfo] = []
        self.languages: list[LanguageInfo] = []
        self.missing: list[str] = []

    def connect(self, database: str) -> psycopg.Connection[Any]:
        conn = pg.connect(make_conninfo(self.dsn, dbname=database), timeout=self.timeout)
        self._read(conn, database)
        return conn

    def _read(self, conn: psycopg.Connection[Any], database: str) -> None:
        self.functions += self._family(
            database,
            "SECURITY DEFINER functions",
            lambda: _rows(conn, "security_definer", FunctionInfo),
        )
        self.languages += self._family(
            database, "languages", lambda: _rows(conn, "languages", LanguageInfo)
        )
        self.extensions += [
            ExtensionInfo(
                database=r.database,
                name=r.name,
                schema=r.schema,
                version=r.version,
                public_functions=tuple((f[0], f[1], f[2]) for f in r.public_functions),
                public_wrappers=tuple(r.public_wrappers),
            )
            for r in self._family(
                database, "extensions", lambda: _rows(conn, "extensions", _ExtensionRow)
            )
        ]

    def _family(self, database: str, what: str, read: Callable[[], list[T]]) -> list[T]:
        # These catalogs are readable by every role; a failure here is unexpected, so it is
        # reported rather than allowed to hide the rest of the audit.
        try:
            return read()
        except psycopg.Error as exc:
            reason = pg.sanitize(_one_line(exc), self.dsn)
            self.missing.append(f"{what} in database {database!r}: {reason}")
            return []


def collect(
    dsn: str,
    *,
    label: str | None = None,
    databases: Sequence[str] | None = None,
    timeout: int | None = None,
) -> Snapshot:
    """Everything the checks and the review need from the cluster behind ``dsn``.

    ``databases`` defaults to every database that accepts connections, templates left out.
    Raises :class:`pgtune.pg.ConnectError` (exit 2, password masked) when the server cannot
    be reached or no database can be read, and :class:`pgtune.pg.UnsupportedServerError`
    for a server outside 13-18.
    """
    collected_at = datetime.now(UTC).isoformat(timespec="seconds")
    missing: list[str] = []
    with pg.connect(dsn, timeout=timeout) as conn, pg.errors_mapped(dsn, "audit failed on"):
        caps = pg.detect_capabilities(conn)
        [facts] = _rows(conn, "cluster", _ClusterFacts)
        system_identifier = _system_identifier(conn, missing)
        address = _address(conn)
        settings = _settings(conn, caps.user, missing)
        hba = _hba(conn, missing)
        secrets = _secrets(conn, missing)
        tablespaces = tuple(_rows(conn, "tablespaces", TablespaceInfo))
    per_database = _PerDatabase(dsn, timeout)
    with pg.errors_mapped(dsn, "inspection failed on"):
        inspection, relations = inspect_access(
            per_database.connect, list(databases or facts.databases)
        )
    # The inspection says passwords are "not needed"; the audit does need them (md5 secrets)
    # and says so in its own line.
    from_access = [u for u in inspection.unreadable if u != PASSWORDS_HIDDEN]
    return Snapshot(
        cluster=label or pg.redact_dsn(dsn),
        server_version=caps.version,
        major=caps.major,
        collected_at=collected_at,
        collected_by=caps.user,
        superuser=caps.is_superuser,
        access=inspection,
        settings=settings,
        hba=hba,
        secrets=secrets,
        functions=tuple(per_database.functions),
        extensions=tuple(per_database.extensions),
        languages=tuple(per_database.languages),
        unreadable=(*missing, *from_access, *per_database.missing),
        bootstrap_superuser=facts.bootstrap_superuser,
        tablespaces=tablespaces,
        system_identifier=system_identifier,
        address=address,
        relations=relations,
    )
