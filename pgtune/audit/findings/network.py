"""Who may connect, from where, and whether the connection is encrypted: pg_hba.conf lines,
listen_addresses and ssl."""

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check
from pgtune.audit.findings.hba_rules import describe, is_remote, listens_remotely
from pgtune.audit.model import Finding, HbaRule, Snapshot

SETTINGS = ("listen_addresses", "ssl")

_FIX_HBA = (
    "pg_hba.conf {line}: use scram-sha-256 (or peer for local lines) instead of {method}, "
    "then SELECT pg_catalog.pg_reload_conf(); pgtune generate --hba writes a hardened file"
)
# Methods that admit no unencrypted client: reject admits nobody, cert needs a TLS connection.
_NEEDS_TLS = {"reject", "cert"}


def _rules(snapshot: Snapshot) -> tuple[HbaRule, ...]:
    return tuple(r for r in snapshot.hba or () if r.error is None)


def _cis(rule: HbaRule) -> str:
    return cis.LOCAL_LOGIN if rule.type == "local" else cis.HOST_LOGIN


def trust_lines(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-HBA-001",
            severity="critical" if is_remote(r) else "high",
            title="pg_hba.conf trusts connections without authentication",
            seen=describe(r) + (" (admits other machines)" if is_remote(r) else ""),
            why="trust lets anyone who reaches the server log in as any role it names, "
            "superusers included",
            remediation=_FIX_HBA.format(line=f"line {r.line_number}", method="trust"),
            cis=_cis(r),
            object=f"pg_hba.conf line {r.line_number}",
            remediation_kind="config",
        )
        for r in _rules(snapshot)
        if r.auth_method == "trust"
    ]


def password_lines(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    # Over a TCP connection that may be unencrypted the password itself crosses the network.
    return [
        Finding(
            id="PGT-HBA-002",
            severity="high" if r.type in ("host", "hostnossl") else "medium",
            title="pg_hba.conf accepts clear-text passwords",
            seen=describe(r),
            why="the password method sends the password itself; without TLS anyone on the "
            "path reads it",
            remediation=_FIX_HBA.format(line=f"line {r.line_number}", method="password"),
            cis=_cis(r),
            object=f"pg_hba.conf line {r.line_number}",
            remediation_kind="config",
        )
        for r in _rules(snapshot)
        if r.auth_method == "password"
    ]


def md5_lines(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-HBA-003",
            severity="medium",
            title="pg_hba.conf uses md5 authentication",
            seen=describe(r),
            why="md5 challenge-response is replayable and lets md5 hashes keep working",
            remediation=_FIX_HBA.format(line=f"line {r.line_number}", method="md5"),
            cis=_cis(r),
            object=f"pg_hba.conf line {r.line_number}",
            remediation_kind="config",
        )
        for r in _rules(snapshot)
        if r.auth_method == "md5"
    ]


def broken_lines(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-HBA-004",
            severity="medium",
            title="pg_hba.conf line with an error",
            seen=f"pg_hba.conf line {r.line_number}: {r.error}",
            why="a reload keeps the old rules and the next restart fails: the file on disk "
            "is not what runs",
            remediation=f"fix or remove pg_hba.conf line {r.line_number}, then "
            "SELECT pg_catalog.pg_reload_conf()",
            object=f"pg_hba.conf line {r.line_number}",
            remediation_kind="config",
        )
        for r in snapshot.hba or ()
        if r.error is not None
    ]


def listen_without_tls(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Listening beyond loopback is fine when every remote line demands TLS (hostssl) or
    rejects; without a readable pg_hba.conf nothing is claimed."""
    listen = snapshot.settings.get("listen_addresses")
    if listen is None or snapshot.hba is None or not listens_remotely(listen):
        return []
    plain = [
        r
        for r in _rules(snapshot)
        if r.type in ("host", "hostnossl") and r.auth_method not in _NEEDS_TLS and is_remote(r)
    ]
    if not plain:
        return []
    return [
        Finding(
            id="PGT-NET-001",
            severity="high",
            title="Listening on the network without TLS-only rules",
            seen=f"listen_addresses = {listen!r} and remote non-TLS pg_hba.conf "
            + "; ".join(describe(r) for r in plain),
            why="clients on other machines may connect unencrypted: passwords and data cross "
            "the network in clear",
            remediation="pg_hba.conf: make remote lines hostssl (pgtune generate --hba --allow "
            "CIDR), or bind listen_addresses to the interfaces clients use; then reload",
            cis=cis.HOST_LOGIN,
            object="listen_addresses",
            remediation_kind="config",
        )
    ]


def ssl_off(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    if snapshot.settings.get("ssl") != "off":
        return []
    listen = snapshot.settings.get("listen_addresses")
    remote = listen is not None and listens_remotely(listen)
    return [
        Finding(
            id="PGT-TLS-001",
            severity="high" if remote else "low",
            title="TLS is off",
            seen="ssl = 'off'" + (f", listen_addresses = {listen!r}" if listen is not None else ""),
            why="no client can encrypt its connection; "
            + ("remote traffic goes in clear" if remote else "only local clients for now"),
            # Not ALTER SYSTEM SET ssl = on alone: without a certificate the next restart fails.
            remediation="install a server certificate and key, set ssl = on, ssl_cert_file and "
            "ssl_key_file (pgtune generate --ssl-cert FILE --ssl-key FILE), then reload",
            cis=cis.TLS,
            object="ssl",
            remediation_kind="config",
        )
    ]


CHECKS: tuple[Check, ...] = (
    trust_lines,
    password_lines,
    md5_lines,
    broken_lines,
    listen_without_tls,
    ssl_off,
)
