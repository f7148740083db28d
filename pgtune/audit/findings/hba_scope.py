"""How far pg_hba.conf lines reach: lines that refuse TLS (hostnossl) and lines open to very
wide address ranges, whatever their authentication method. A reject line admits nobody and is
never reported."""

from ipaddress import ip_address

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check
from pgtune.audit.findings.hba_rules import _prefix, describe, is_remote
from pgtune.audit.model import Finding, HbaRule, Snapshot

# A range at least this wide is reported: /8 is 16 million IPv4 addresses, /32 a whole
# internet provider's IPv6 allocation.
WIDEST_IPV4 = 8
WIDEST_IPV6 = 32


def _admitting(snapshot: Snapshot) -> list[HbaRule]:
    return [r for r in snapshot.hba or () if r.error is None and r.auth_method != "reject"]


def width(rule: HbaRule) -> tuple[str, int] | None:
    """How wide the line's address range is, as (what to say, how bad: 2 any address,
    1 a very wide range or samenet); None when narrow, local or a host name.

    >>> from pgtune.audit.model import HbaRule as R
    >>> width(R(1, "host", ("all",), ("all",), "0.0.0.0", "0.0.0.0", "scram-sha-256", None))
    ('0.0.0.0/0: every IPv4 address', 2)
    >>> width(R(1, "host", ("all",), ("all",), "10.0.0.0", "255.0.0.0", "scram-sha-256", None))
    ('10.0.0.0/8: 16777216 addresses', 1)
    >>> width(R(1, "host", ("all",), ("all",), "10.1.0.0", "255.255.0.0", "md5", None)) is None
    True
    """
    if rule.type == "local" or rule.address is None:
        return None
    if rule.address == "all":
        return "all: any address", 2
    if rule.address == "samenet":
        return "samenet: any address on the server's subnets", 1
    try:
        host = ip_address(rule.address)
    except ValueError:  # samehost, a host name or a .domain suffix
        return None
    prefix_text = _prefix(rule.netmask) if rule.netmask else str(host.max_prefixlen)
    if not prefix_text.isdigit():
        return None
    prefix = int(prefix_text)
    where = f"{rule.address}/{prefix}"
    if prefix == 0:
        return f"{where}: every IPv{host.version} address", 2
    if prefix <= (WIDEST_IPV4 if host.version == 4 else WIDEST_IPV6):
        return f"{where}: {2 ** (host.max_prefixlen - prefix)} addresses", 1
    return None


def hostnossl_lines(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    return [
        Finding(
            id="PGT-HBA-005",
            severity="high" if is_remote(r) else "medium",
            title="pg_hba.conf line that admits only unencrypted connections",
            seen=describe(r),
            why="hostnossl matches only connections without TLS: passwords and data cross the "
            "network in clear",
            remediation=f"pg_hba.conf line {r.line_number}: replace hostnossl with hostssl "
            "(or reject), then SELECT pg_catalog.pg_reload_conf();",
            cis=cis.TLS_CONFIGURED,
            object=f"pg_hba.conf line {r.line_number}",
            remediation_kind="config",
        )
        for r in _admitting(snapshot)
        if r.type == "hostnossl"
    ]


def wide_ranges(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    found = []
    for r in _admitting(snapshot):
        wide = width(r)
        if wide is None:
            continue
        what, badness = wide
        found.append(
            Finding(
                id="PGT-HBA-006",
                severity="medium" if badness == 2 else "low",
                title="pg_hba.conf line open to a very wide address range",
                seen=f"{describe(r)} ({what})",
                why="anyone who can reach the port from that range can try passwords; "
                "list the clients' own networks",
                remediation=f"pg_hba.conf line {r.line_number}: replace the address with the "
                "clients' networks (e.g. 192.0.2.0/24), then SELECT pg_catalog.pg_reload_conf();",
                object=f"pg_hba.conf line {r.line_number}",
                remediation_kind="config",
            )
        )
    return found


CHECKS: tuple[Check, ...] = (hostnossl_lines, wide_ranges)
