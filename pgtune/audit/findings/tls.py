"""How well TLS is set up once it is on: the oldest protocol accepted, the cipher list, and
who picks the cipher. Silent while ssl is off (PGT-TLS-001 says that)."""

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, alter_system
from pgtune.audit.model import Finding, Snapshot
from pgtune.tlsfacts import STRONG_CIPHERS

SETTINGS = ("ssl_min_protocol_version", "ssl_ciphers", "ssl_prefer_server_ciphers")

# What pgtune recommends: TLS 1.2's strong suites (TLS 1.3 suites are not governed by
# ssl_ciphers and are all strong).
GOOD_CIPHERS = STRONG_CIPHERS  # what pgtune generate emits with a certificate
_OLD_PROTOCOLS = {"", "tlsv1", "tlsv1.1"}
# OpenSSL cipher-list words that admit weak suites when not excluded with '!' or '-'.
_WEAK_WORDS = {"all", "default", "medium", "low", "exp", "export", "null", "enull", "anull",
               "rc4", "3des", "des", "md5", "complementofdefault", "complementofall"}  # fmt: skip


def _ssl_on(snapshot: Snapshot) -> bool:
    return snapshot.settings.get("ssl") == "on"


def weak_cipher_words(ciphers: str) -> list[str]:
    """The words of an OpenSSL cipher list that let weak suites in.

    >>> weak_cipher_words("HIGH:MEDIUM:+3DES:!aNULL")
    ['MEDIUM']
    >>> weak_cipher_words("HIGH:!aNULL:!MD5"), weak_cipher_words("ALL:!LOW")
    ([], ['ALL'])
    """
    weak = []
    for word in ciphers.replace(",", ":").replace(" ", ":").split(":"):
        if not word or word[0] in "!-+":  # excluded, or '+' only reorders what is in
            continue
        if any(part.lower() in _WEAK_WORDS for part in word.split("+")):
            weak.append(word)
    return weak


def min_protocol(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("ssl_min_protocol_version")
    if not _ssl_on(snapshot) or value is None or value.lower() not in _OLD_PROTOCOLS:
        return []
    return [
        Finding(
            id="PGT-TLS-002",
            severity="medium",
            title="TLS versions before 1.2 are accepted",
            seen=f"ssl_min_protocol_version = {value!r}",
            why="TLS 1.0 and 1.1 are deprecated (RFC 8996) and open to downgrade attacks",
            remediation=alter_system("ssl_min_protocol_version", "TLSv1.2"),
            cis=cis.TLS_CONFIGURED,
            object="ssl_min_protocol_version",
        )
    ]


def ciphers(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("ssl_ciphers")
    if not _ssl_on(snapshot) or value is None:
        return []
    weak = weak_cipher_words(value)
    if not weak:
        return []
    return [
        Finding(
            id="PGT-TLS-003",
            severity="low",
            title="The TLS cipher list admits weak ciphers",
            seen=f"ssl_ciphers = {value!r} admits {', '.join(weak)}",
            why="clients may negotiate medium-strength or obsolete TLS 1.2 cipher suites",
            remediation=alter_system("ssl_ciphers", GOOD_CIPHERS),
            cis=cis.WEAK_CIPHERS,
            object="ssl_ciphers",
        )
    ]


def prefer_server_ciphers(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    if not _ssl_on(snapshot) or snapshot.settings.get("ssl_prefer_server_ciphers") != "off":
        return []
    return [
        Finding(
            id="PGT-TLS-004",
            severity="low",
            title="Clients choose the TLS cipher",
            seen="ssl_prefer_server_ciphers = 'off'",
            why="a client (or someone tampering with its hello) can pick the weakest suite "
            "the server allows",
            remediation=alter_system("ssl_prefer_server_ciphers", "on"),
            cis=cis.TLS_CONFIGURED,
            object="ssl_prefer_server_ciphers",
        )
    ]


CHECKS: tuple[Check, ...] = (min_protocol, ciphers, prefer_server_ciphers)
