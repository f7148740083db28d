"""Reading pg_hba.conf rules and listen_addresses: who a line admits, and from where."""

import re
from ipaddress import ip_address, ip_network

from pgtune.access.model import ClusterState
from pgtune.audit.findings.memberships import usable_groups
from pgtune.audit.model import HbaRule

# Address keywords: samehost is the server's own addresses; samenet any subnet it is on.
_LOCAL_WORDS = {"samehost", "localhost"}


def describe(rule: HbaRule) -> str:
    """The line as it reads in the file.

    >>> describe(HbaRule(91, "host", ("all",), ("all",), "127.0.0.1", "255.255.255.255",
    ...                  "trust", None))
    'line 91: host all all 127.0.0.1/32 trust'
    """
    where = ""
    if rule.address is not None:
        where = rule.address + (f"/{_prefix(rule.netmask)}" if rule.netmask else "")
    parts = [rule.type, ",".join(rule.databases), ",".join(rule.users), where, rule.auth_method]
    return f"line {rule.line_number}: " + " ".join(p for p in parts if p)


def is_remote(rule: HbaRule) -> bool:
    """Whether the line admits clients from other machines.

    >>> r = HbaRule(1, "host", ("all",), ("all",), "10.0.0.0", "255.0.0.0", "md5", None)
    >>> is_remote(r), is_remote(HbaRule(2, "host", ("all",), ("all",), "::1",
    ...     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "trust", None))
    (True, False)
    """
    if rule.type == "local":
        return False
    if rule.address is None:  # "all" is reported as the keyword, so None is a broken line
        return True
    if rule.address in _LOCAL_WORDS:
        return False
    return not _loopback(rule.address, rule.netmask)


def _loopback(address: str, netmask: str | None) -> bool:
    try:
        host = ip_address(address)
    except ValueError:  # a host name, "all" or "samenet"
        return False
    prefix = _prefix(netmask) if netmask else str(host.max_prefixlen)
    if not prefix.isdigit():
        return False
    return ip_network((host, int(prefix)), strict=False).is_loopback


def _prefix(netmask: str) -> str:
    """The prefix length of a netmask as pg_hba_file_rules prints it, else the mask.

    >>> _prefix("255.255.0.0"), _prefix("ffff:ffff::"), _prefix("nonsense")
    ('16', '32', 'nonsense')
    """
    try:
        return str(bin(int(ip_address(netmask))).count("1"))
    except ValueError:
        return netmask


def listens_remotely(listen_addresses: str) -> bool:
    """
    >>> [listens_remotely(v) for v in ("", "localhost", "127.0.0.1,::1", "*", "10.1.2.3")]
    [False, False, False, True, True]
    """
    for entry in (e.strip() for e in listen_addresses.split(",")):
        if not entry or entry == "localhost":
            continue
        try:
            if not ip_address(entry).is_loopback:
                return True
        except ValueError:  # '*' or a host name other than localhost
            return True
    return False


def applies_to(rule: HbaRule, role: str, state: ClusterState) -> bool:
    """Whether the line's user column matches ``role`` (all, the name, +group, /regex)."""
    for user in rule.users:
        if user in ("all", role):
            return True
        if user.startswith("+"):
            group = user[1:]
            if group == role or group in usable_groups(state, any_grant=True).get(role, ()):
                return True
        if user.startswith("/"):
            try:
                if re.search(user[1:], role):
                    return True
            except re.error:
                continue
    return False
