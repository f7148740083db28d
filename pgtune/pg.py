"""Talking to a live server: connecting, DSN redaction, and the server's capabilities.

Only commands that connect import this module (it imports psycopg); ``pgtune generate`` never
does. Every message that could carry a DSN goes through :func:`redact_dsn` or :func:`sanitize`,
so a password never reaches the terminal, a log or a report. Both work on the parsed conninfo
(the ``password`` field, in key=value and URI forms alike), never by searching for the
password's value in text: that would mask every role or table that happens to share it.
PGPASSWORD, ~/.pgpass and service files never appear in a DSN's text, so never in a label.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import LiteralString

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow, class_row

from pgtune.errors import UsageError
from pgtune.versions import SUPPORTED_MAJORS

APPLICATION_NAME = "pgtune"
DEFAULT_CONNECT_TIMEOUT = 10
MASK = "***"

# A password in a URI's user info (scheme://user:PASSWORD@host) or a key=value / query parameter.
_URI_PASSWORD = re.compile(r"(\w+://[^:/@\s]*:)([^@\s]*)(@)")
# In a DSN that does not parse (never in a message): up to its last "@", as the password may
# hold "@" or spaces.
_URI_PASSWORD_IN_DSN = re.compile(r"^(\w+://[^:/@\s]*:)(.*)(@)")
# password= and sslpassword= (the client key's passphrase): the pattern finds both.
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]+)", re.IGNORECASE)
# Connection parameters that are secrets.
SECRET_KEYS = ("password", "sslpassword")


class ConnectError(UsageError):
    """The server cannot be reached or refused us (exit 2); the message holds no password."""


class UnsupportedServerError(UsageError):
    """The server's version is outside what pgtune knows (exit 2)."""


def _mask_patterns(text: str) -> str:
    text = _URI_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)


def redact_dsn(dsn: str) -> str:
    """The DSN with any password masked (rewritten in key=value form), else as given.

    >>> redact_dsn("postgresql://u:secret@db.example:5433/app?sslmode=require")
    'user=u password=*** dbname=app host=db.example port=5433 sslmode=require'
    >>> redact_dsn("host=/run/postgresql dbname=app password='s3 cr3t'")
    'password=*** dbname=app host=/run/postgresql'
    >>> redact_dsn("host=h dbname=app")
    'host=h dbname=app'
    >>> redact_dsn("postgresql://h/app?password=secret")
    'password=*** dbname=app host=h'
    >>> redact_dsn("postgresql://u:secret@h/db x")  # does not parse: masked as text
    'postgresql://u:***@h/db x'
    >>> redact_dsn("password=secret hostx")
    'password=*** hostx'
    >>> redact_dsn("host=db1 dbname=app sslpassword=Key-Pa55")
    'dbname=app host=db1 sslpassword=***'
    >>> redact_dsn("postgresql://u:my secret@db1/app")  # a space: does not parse
    'postgresql://u:***@db1/app'
    >>> redact_dsn("postgresql://u:p@ss@h/db x")
    'postgresql://u:***@h/db x'
    """
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return _mask_patterns(_URI_PASSWORD_IN_DSN.sub(lambda m: m.group(1) + MASK + "@", dsn))
    secrets = [k for k in params if k.lower() in SECRET_KEYS]
    if not secrets:
        return dsn
    return make_conninfo("", **{**params, **dict.fromkeys(secrets, MASK)})


def sanitize(message: str, dsn: str) -> str:
    r"""``message`` (from libpq or the server) on one line, safe to print.

    Masking is by parsing, never by searching for the password's value: a password ``app``
    must not turn every ``app`` (a role, a table, a database) into ``***``. libpq and the
    server never put the password in their messages. Only two things are touched:

    - a ``password=...`` conninfo token or a URI's ``user:password@`` wherever one appears;
    - when ``dsn`` does not parse, libpq's message about it quotes pieces of the raw DSN: a
      quoted piece is kept only if the redacted DSN (shown beside it) shows it too.

    >>> sanitize('missing "=" after "p4ss" in connection info string\n', "password=p4ss x")
    'missing "=" after "…" in connection info string'
    >>> sanitize("at postgresql://u:pw@h/db\n\tIs it up?", "postgresql://u:pw@h/db")
    'at postgresql://u:***@h/db; Is it up?'
    >>> sanitize('role "app" does not exist', "user=app password=app")
    'role "app" does not exist'
    >>> sanitize('invalid connection option "nosuch"', "password=pw nosuch=1")
    'invalid connection option "nosuch"'
    """
    try:
        conninfo_to_dict(dsn)
    except psycopg.Error:
        shown = redact_dsn(dsn)
        message = re.sub(
            r'"([^"]*)"', lambda m: m.group(0) if m.group(1) in shown else '"…"', message
        )
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return _mask_patterns("; ".join(lines))


@contextmanager
def errors_mapped(dsn: str, doing: str = "query failed on") -> Iterator[None]:
    """Turn psycopg errors into a one-line :class:`ConnectError`, password masked."""
    try:
        yield
    except psycopg.Error as exc:
        raise ConnectError(f"{doing} {redact_dsn(dsn)!r}: {sanitize(str(exc), dsn)}") from None


def connect(
    dsn: str, *, timeout: int | None = None, user_search_path: bool = False
) -> psycopg.Connection[TupleRow]:
    """An autocommit connection (application_name 'pgtune' unless the DSN names one).

    The DSN's own ``connect_timeout`` applies unless ``timeout`` is given; the default is 10 s.

    The search_path is emptied (only pg_catalog, as pg_dump does) unless ``user_search_path``:
    PostgreSQL prefers an operator or function whose argument types match exactly wherever it
    sits on the path, so a role that may create objects in a schema on it (public, on 14 and
    older) could plant ``=(oid, regclass)`` and have pgtune's catalog queries run it with the
    caller's rights. Only statements that must resolve names as the user does (applying a
    plan, compiling RLS expressions) keep the user's path.
    """
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        raise ConnectError(f"invalid DSN {redact_dsn(dsn)!r}: {sanitize(str(exc), dsn)}") from None
    extra: dict[str, str | int] = {}
    if "application_name" not in params:
        extra["application_name"] = APPLICATION_NAME
    if timeout is not None or "connect_timeout" not in params:
        extra["connect_timeout"] = timeout if timeout is not None else DEFAULT_CONNECT_TIMEOUT
    with errors_mapped(dsn, "cannot connect to"):
        conn = psycopg.connect(make_conninfo(dsn, **extra), autocommit=True)
    if not user_search_path:
        with errors_mapped(dsn, "cannot set up the session on"):
            conn.execute("SELECT pg_catalog.set_config('search_path', '', false)")
    return conn


@dataclass(frozen=True)
class ServerCapabilities:
    """What the server is and what the connected role may see, detected once."""

    version_num: int  # server_version_num, e.g. 150018
    version: str  # server_version, e.g. '15.18 (Debian 15.18-0+deb12u1)'
    user: str
    is_superuser: bool
    pg_monitor: bool  # privileges of pg_monitor (which includes the next two)
    read_all_settings: bool  # pg_read_all_settings: no hidden rows in pg_settings
    read_all_stats: bool  # pg_read_all_stats: every session in pg_stat_activity

    @property
    def major(self) -> int:
        """
        >>> ServerCapabilities(170002, "17.2", "u", False, False, False, False).major
        17
        """
        return self.version_num // 10000

    @property
    def has_checkpointer_view(self) -> bool:
        """Checkpoint counters moved from pg_stat_bgwriter to pg_stat_checkpointer in 17."""
        return self.major >= 17

    @property
    def privilege(self) -> str:
        if self.is_superuser:
            return "superuser"
        if self.pg_monitor:
            return "pg_monitor"
        return "no pg_monitor"


@dataclass(frozen=True)
class _Version:
    version_num: int
    version: str


@dataclass(frozen=True)
class _Roles:
    user_name: str
    is_superuser: bool
    pg_monitor: bool
    read_all_settings: bool
    read_all_stats: bool


def load_query(package: str, name: str) -> LiteralString:
    """A catalog query shipped as ``<package>/queries/<name>.sql``.

    The files are part of the package, never built from input: they are as trusted as a literal
    (mypy treats LiteralString as str; the annotation documents the contract).
    """
    text: LiteralString = files(package).joinpath("queries", f"{name}.sql").read_text("utf-8")
    return text


def require_supported(version_num: int, version: str) -> None:
    """
    >>> require_supported(120022, "12.22")
    Traceback (most recent call last):
    ...
    pgtune.pg.UnsupportedServerError: server 12.22 is too old: pgtune supports PostgreSQL 13 to 18
    """
    low, high = SUPPORTED_MAJORS[0], SUPPORTED_MAJORS[-1]
    if version_num // 10000 < low:
        raise UnsupportedServerError(
            f"server {version} is too old: pgtune supports PostgreSQL {low} to {high}"
        )
    if version_num // 10000 > high:
        raise UnsupportedServerError(
            f"server {version} is newer than pgtune knows: it supports PostgreSQL {low} to {high}"
        )


_VERSION_QUERY: LiteralString = (
    "SELECT pg_catalog.current_setting('server_version_num')::int AS version_num,"
    " pg_catalog.current_setting('server_version') AS version"
)
_ROLES_QUERY: LiteralString = (
    "SELECT current_user AS user_name,"
    " pg_catalog.current_setting('is_superuser') = 'on' AS is_superuser,"
    " pg_catalog.pg_has_role('pg_monitor', 'USAGE') AS pg_monitor,"
    " pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE') AS read_all_settings,"
    " pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS read_all_stats"
)


def detect_capabilities(conn: psycopg.Connection[TupleRow]) -> ServerCapabilities:
    """Version first (any server answers that, and an unsupported one stops here), then roles.

    Raises :class:`UnsupportedServerError` for a server outside 13-18.
    """
    with conn.cursor(row_factory=class_row(_Version)) as cur:
        version = cur.execute(_VERSION_QUERY).fetchone()
    assert version is not None
    require_supported(version.version_num, version.version)
    with conn.cursor(row_factory=class_row(_Roles)) as cur:
        roles = cur.execute(_ROLES_QUERY).fetchone()
    assert roles is not None
    return ServerCapabilities(
        version_num=version.version_num,
        version=version.version,
        user=roles.user_name,
        is_superuser=roles.is_superuser,
        pg_monitor=roles.pg_monitor or roles.is_superuser,
        read_all_settings=roles.read_all_settings or roles.is_superuser,
        read_all_stats=roles.read_all_stats or roles.is_superuser,
    )
