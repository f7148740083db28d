"""Who may copy the whole cluster, and how: login roles with REPLICATION, pg_hba.conf lines
for replication connections, and whether a standby reaches its primary over TLS."""

import psycopg
from psycopg import conninfo, sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, render
from pgtune.audit.findings.hba_rules import describe, is_remote
from pgtune.audit.model import Finding, HbaRule, Snapshot
from pgtune.names import shown

SETTINGS = ("primary_conninfo",)

_TLS_MODES = {"require", "verify-ca", "verify-full"}


def replication_logins(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Login roles with REPLICATION that are not superusers (those are PGT-ROLE-001). Quiet
    for a role the access policy declares with REPLICATION: that one is intended."""
    intended = {n for n, r in (policy.roles if policy else {}).items() if r.replication}
    found = []
    for role in sorted(snapshot.access.state.roles.values()):
        if not role.login or not role.replication or role.superuser or role.name in intended:
            continue
        also = [a for a in ("createrole", "createdb", "bypassrls") if getattr(role, a)]
        found.append(
            Finding(
                id="PGT-REPL-001",
                severity="medium" if also else "low",
                title="Login role with REPLICATION",
                seen=f"login role {shown(role.name)} has REPLICATION"
                + (f" and {', '.join(a.upper() for a in also)}" if also else ""),
                why="REPLICATION streams or base-backs-up every table of every database; keep "
                "it to one dedicated replication-only role",
                remediation=render(
                    sql.SQL("ALTER ROLE {} NOREPLICATION").format(sql.Identifier(role.name))
                )
                + "\n-- or, if it is the replication account, keep REPLICATION alone on it "
                "(and declare it in the access policy)",
                cis=cis.REPLICATION_USER,
                object=role.name,
            )
        )
    return found


def _replication_lines(snapshot: Snapshot) -> list[HbaRule]:
    return [
        r
        for r in snapshot.hba or ()
        if r.error is None and r.auth_method != "reject" and "replication" in r.databases
    ]


def replication_without_tls(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-REPL-002",
            severity="high",
            title="Replication connections accepted from the network without TLS",
            seen=describe(r),
            why="a replication stream carries every row and every password hash; without TLS "
            "anyone on the path reads it",
            remediation=f"pg_hba.conf line {r.line_number}: make it hostssl (and the standbys' "
            "primary_conninfo sslmode=verify-full), then SELECT pg_catalog.pg_reload_conf();",
            cis=cis.STREAMING_REPLICATION,
            object=f"pg_hba.conf line {r.line_number}",
            remediation_kind="config",
        )
        for r in _replication_lines(snapshot)
        if r.type in ("host", "hostnossl") and is_remote(r) and r.auth_method != "cert"
    ]


def replication_for_all(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-REPL-003",
            severity="low",
            title="Replication line for every role",
            seen=describe(r),
            why="any role given REPLICATION can then replicate from there; name the one "
            "replication account",
            remediation=f"pg_hba.conf line {r.line_number}: replace the user column 'all' with "
            "the replication role, then SELECT pg_catalog.pg_reload_conf();",
            cis=cis.REPLICATION_USER,
            object=f"pg_hba.conf line {r.line_number}",
            remediation_kind="config",
        )
        for r in _replication_lines(snapshot)
        if r.type != "local" and "all" in r.users
    ]


def standby_without_tls(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Only sslmode and host are read from primary_conninfo: its password never leaves this
    function."""
    value = snapshot.settings.get("primary_conninfo")
    if not value:
        return []
    try:
        params = conninfo.conninfo_to_dict(value)
    except psycopg.Error:  # its message may quote the string, password included
        params = None
    if params is None:
        seen = "primary_conninfo cannot be parsed (not shown: it may hold a password)"
    else:
        mode = params.get("sslmode")
        if mode in _TLS_MODES:
            return []
        host = params.get("host") or params.get("hostaddr")
        if isinstance(host, str) and host.startswith("/"):
            return []  # a Unix socket: nothing crosses the network
        seen = "primary_conninfo " + (
            f"sslmode = {shown(str(mode))}" if mode else "has no sslmode (libpq's default: prefer)"
        )
        if host:
            seen += f", host = {shown(str(host))}"
    return [
        Finding(
            id="PGT-REPL-004",
            severity="high",
            title="Standby connects to its primary without requiring TLS",
            seen=seen,
            why="the WAL stream (every change, password hashes included) may cross the "
            "network in clear, and the primary is not authenticated",
            remediation="postgresql.conf on the standby: primary_conninfo = '<the same keywords> "
            "sslmode=verify-full sslrootcert=/path/to/root.crt', then reload",
            cis=cis.STREAMING_REPLICATION,
            object="primary_conninfo",
            remediation_kind="config",
        )
    ]


CHECKS: tuple[Check, ...] = (
    replication_logins,
    replication_without_tls,
    replication_for_all,
    standby_without_tls,
)
