"""The cluster on its host: who may read the data directory and the socket, whether pages
carry checksums, tablespaces inside the data directory, and the connection slots kept for
superusers. These are pgdsat's checks beyond the CIS benchmark, except the data directory's
mode, which CIS covers under "Data Cluster Initialized Successfully"."""

import posixpath

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, alter_system, render
from pgtune.audit.model import Finding, Snapshot
from pgtune.names import shown

SETTINGS = (
    "data_directory",
    "data_directory_mode",
    "unix_socket_permissions",
    "data_checksums",
    "superuser_reserved_connections",
)


def file_mode(value: str | None) -> int | None:
    """A mode as pg_settings shows it ('0700'; some builds print decimal without the 0).

    >>> file_mode("0750"), file_mode("448"), file_mode("x"), file_mode(None)
    (488, 448, None, None)
    """
    if value is None or not value.isdigit():
        return None
    return int(value, 8) if value.startswith("0") else int(value)


def data_directory_mode(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    mode = file_mode(snapshot.settings.get("data_directory_mode"))
    if mode is None or not mode & 0o077:
        return []
    return [
        Finding(
            id="PGT-HOST-001",
            severity="medium" if mode & 0o007 else "low",
            title="The data directory is readable beyond its owner",
            seen=f"data_directory_mode = {mode:04o}",
            why="members of the directory's group (or everyone) can read every table's "
            "files, whatever the SQL privileges say",
            remediation='chmod 0700 "$PGDATA" && find "$PGDATA" -type d -exec chmod 0700 {} + '
            '&& find "$PGDATA" -type f -exec chmod 0600 {} +   # then restart the server',
            cis=cis.DATA_CLUSTER,
            object="data_directory_mode",
            remediation_kind="shell",
        )
    ]


def socket_permissions(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    mode = file_mode(snapshot.settings.get("unix_socket_permissions"))
    if mode is None or not mode & 0o007:
        return []
    return [
        Finding(
            id="PGT-HOST-002",
            severity="low",
            title="Every local OS user may connect to the Unix socket",
            seen=f"unix_socket_permissions = {mode:04o}",
            why="any account on the host can try to log in locally; only pg_hba.conf stands "
            "in the way",
            remediation="postgresql.conf: unix_socket_permissions = 0770 and unix_socket_group "
            "= the group of the accounts that connect; then restart",
            object="unix_socket_permissions",
            remediation_kind="config",
        )
    ]


def checksums(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    if snapshot.settings.get("data_checksums") != "off":
        return []
    return [
        Finding(
            id="PGT-HOST-003",
            severity="low",
            title="Data checksums are off",
            seen="data_checksums = 'off'",
            why="corrupted or tampered pages are read back without any error",
            remediation='pg_ctl stop -D "$PGDATA" && pg_checksums --enable -D "$PGDATA" '
            '&& pg_ctl start -D "$PGDATA"',
            object="data_checksums",
            remediation_kind="shell",
        )
    ]


def _inside(location: str, data_directory: str) -> bool:
    """
    >>> _inside("/srv/pg/data/ts", "/srv/pg/data"), _inside("/srv/pg/data2", "/srv/pg/data")
    (True, False)
    >>> _inside("pg_tblspc/16384", "/srv/pg/data")  # allow_in_place_tablespaces
    True
    """
    if not posixpath.isabs(location):
        return True
    root = posixpath.normpath(data_directory)
    return posixpath.normpath(location).startswith(root.rstrip("/") + "/")


def _move_tablespace(name: str) -> str:
    """SQL that moves everything to a new tablespace outside the data directory (the
    ALTER ... ALL IN TABLESPACE statements act on the current database: run them in each)."""
    old, new = sql.Identifier(name), sql.Identifier(name + "_moved")
    moves = [
        sql.SQL("ALTER {} ALL IN TABLESPACE {} SET TABLESPACE {}").format(sql.SQL(kind), old, new)
        for kind in ("TABLE", "INDEX", "MATERIALIZED VIEW")
    ]
    return (
        "-- in each database using it; the new directory must exist, owned by postgres\n"
        + render(
            sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                new, sql.Literal("/path/outside/the/data/directory")
            ),
            *moves,
            sql.SQL("DROP TABLESPACE {}").format(old),
        )
    )


def tablespaces_in_data_directory(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    data_directory = snapshot.settings.get("data_directory")
    if snapshot.tablespaces is None or data_directory is None:
        return []
    return [
        Finding(
            id="PGT-HOST-004",
            severity="low",
            title="Tablespace inside the data directory",
            seen=f"tablespace {shown(t.name)} is at {shown(t.location)}, inside the data "
            f"directory {shown(data_directory)}",
            why="copies and pg_upgrade of the data directory handle it wrongly, and it "
            "shares the data directory's disk and permissions",
            remediation=_move_tablespace(t.name),
            object=t.name,
        )
        for t in snapshot.tablespaces
        if t.location and _inside(t.location, data_directory)
    ]


def superuser_reserved(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("superuser_reserved_connections")
    if value != "0":
        return []
    return [
        Finding(
            id="PGT-HOST-005",
            severity="low",
            title="No connection slots reserved for superusers",
            seen="superuser_reserved_connections = 0",
            why="when clients exhaust max_connections an administrator cannot log in to intervene",
            remediation=alter_system("superuser_reserved_connections", "3")
            + "\n-- takes effect after a restart",
            object="superuser_reserved_connections",
        )
    ]


CHECKS: tuple[Check, ...] = (
    data_directory_mode,
    socket_permissions,
    checksums,
    tablespaces_in_data_directory,
    superuser_reserved,
)
