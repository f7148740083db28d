"""A hardened pg_hba.conf: peer for the local admin, SCRAM everywhere else, TLS for remote
clients, a final reject; never trust, never password, never "all all 0.0.0.0/0" accepted.
"""

import ipaddress
import re
from dataclasses import dataclass

from pgtune.errors import UsageError

_NAME = re.compile(r"^(all|\+?[A-Za-z_][A-Za-z0-9_$.-]*)$")


@dataclass(frozen=True)
class AllowRule:
    address: str  # a network in CIDR form
    database: str = "all"
    user: str = "all"


@dataclass(frozen=True)
class HbaLine:
    type: str
    database: str
    user: str
    address: str
    method: str
    comment: str


def _network(text: str) -> str | None:
    try:
        return str(ipaddress.ip_network(text.strip("[]"), strict=False))
    except ValueError:
        return None


def _name(text: str, what: str, spec: str) -> str:
    """A database or role name as pg_hba.conf wants it; odd names are double-quoted."""
    if not text:
        raise UsageError(f"empty {what} in --allow {spec!r}")
    if _NAME.match(text):
        return text
    if '"' in text or any(c.isspace() for c in text) or "," in text:
        raise UsageError(f"invalid {what} {text!r} in --allow {spec!r}")
    return f'"{text}"'


def parse_allow(spec: str) -> AllowRule:
    """``CIDR[:database[:user]]``; IPv6 networks may be bracketed: ``[fd00::/8]:app``.

    >>> parse_allow("10.0.0.0/8")
    AllowRule(address='10.0.0.0/8', database='all', user='all')
    >>> parse_allow("192.168.1.7:shop:shop_rw")
    AllowRule(address='192.168.1.7/32', database='shop', user='shop_rw')
    >>> parse_allow("[fd00::/8]:app").address, parse_allow("fd00::/8:app").database
    ('fd00::/8', 'app')
    """
    if spec.startswith("["):
        address, _, rest = spec[1:].partition("]")
        parts = [address, *rest.lstrip(":").split(":")] if rest else [address]
    else:
        parts = [spec]
        for cut in (1, 2):  # the address itself may contain colons (IPv6)
            if _network(parts[0]) is not None:
                break
            parts = spec.rsplit(":", cut)
    network = _network(parts[0])
    if network is None or len(parts) > 3:
        raise UsageError(
            f"invalid --allow {spec!r}: use CIDR[:database[:user]], e.g. 10.0.0.0/8:app"
        )
    if network in ("0.0.0.0/0", "::/0") and len(parts) == 1:
        raise UsageError(
            f"--allow {spec!r} would admit every address to every database; "
            "name the database and user"
        )
    database = _name(parts[1], "database", spec) if len(parts) > 1 else "all"
    user = _name(parts[2], "user", spec) if len(parts) > 2 else "all"
    return AllowRule(network, database, user)


def hba_lines(rules: list[AllowRule], *, admin_user: str, plaintext: bool) -> list[HbaLine]:
    admin = _name(admin_user, "admin user", admin_user)
    lines = [
        HbaLine(
            "local",
            "all",
            admin,
            "",
            "peer",
            f"the DBA as the OS user {admin_user}: no password to leak",
        ),
        HbaLine(
            "local", "all", "all", "", "scram-sha-256", "other local roles prove a SCRAM password"
        ),
    ]
    for rule in rules:
        kind = "host" if plaintext else "hostssl"
        why = (
            "allowed network, SCRAM over TLS"
            if not plaintext
            else "allowed network, SCRAM without TLS (--allow-plaintext: trusted network only)"
        )
        lines.append(HbaLine(kind, rule.database, rule.user, rule.address, "scram-sha-256", why))
    lines += [
        HbaLine("host", "all", "all", "0.0.0.0/0", "reject", "everything else is refused"),
        HbaLine("host", "all", "all", "::/0", "reject", "everything else is refused (IPv6)"),
    ]
    return lines


def hba_notes(rules: list[AllowRule], *, plaintext: bool, ssl: bool) -> list[str]:
    notes = []
    if not rules:
        notes.append("pg_hba.conf: no --allow given, so only local connections are accepted")
    elif not plaintext and not ssl:
        notes.append(
            "pg_hba.conf: hostssl lines need ssl = on; pass --ssl-cert and --ssl-key "
            "(or --allow-plaintext on a trusted network)"
        )
    notes.append(
        "pg_hba.conf: roles need SCRAM secrets; re-set passwords stored as md5 after "
        "password_encryption = scram-sha-256"
    )
    return notes
