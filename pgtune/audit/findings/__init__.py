"""The audit's checks: pure functions ``(snapshot, policy) -> list[Finding]``, one module per
family, registered here in ``CHECKS``.

    findings = run_checks(collect(dsn), policy)   # worst first, then by id

A check looks only at the snapshot (and the access policy, for the checks that compare
with it). When what it needs could not be read (``snapshot.hba`` or ``snapshot.secrets`` is
None, a setting is missing) it stays silent: ``snapshot.unreadable`` already says so.

Ids are stable: PGT-ROLE (role attributes and memberships), PGT-AUTH (passwords),
PGT-HBA / PGT-NET / PGT-TLS (who connects, how), PGT-PRIV (PUBLIC's privileges), PGT-FUNC
(SECURITY DEFINER), PGT-RLS, PGT-LOG, PGT-LANG, PGT-EXT, PGT-REPL (replication), PGT-HOST
(the data directory, socket, checksums, tablespaces), PGT-VER (server version).
"""

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import (
    accounts,
    auth,
    extensions,
    functions,
    hba_scope,
    host,
    logs,
    network,
    power,
    privileges,
    replication,
    rls,
    roles,
    tls,
    versions,
)
from pgtune.audit.findings.base import Check
from pgtune.audit.model import Finding, Snapshot, severity_rank

CHECKS: tuple[Check, ...] = (
    *roles.CHECKS,
    *power.CHECKS,
    *auth.CHECKS,
    *network.CHECKS,
    *privileges.CHECKS,
    *functions.CHECKS,
    *rls.CHECKS,
    *logs.CHECKS,
    *extensions.CHECKS,
    # The benchmark checks (CIS PostgreSQL Benchmark, pgdsat): docs/audit.md lists them.
    *tls.CHECKS,
    *hba_scope.CHECKS,
    *replication.CHECKS,
    *accounts.CHECKS,
    *host.CHECKS,
    *versions.CHECKS,
)
BENCHMARK_SETTINGS = (
    *tls.SETTINGS,
    *replication.SETTINGS,
    *accounts.SETTINGS,
    *host.SETTINGS,
    *versions.SETTINGS,
)
# The pg_settings rows collect() reads for the checks.
NEEDED_SETTINGS: tuple[str, ...] = tuple(
    sorted({*auth.SETTINGS, *network.SETTINGS, *logs.SETTINGS, *BENCHMARK_SETTINGS})
)


def run_checks(snapshot: Snapshot, policy: Policy | None = None) -> list[Finding]:
    """Every check's findings, worst severity first, then by id, database and object."""
    found = [finding for check in CHECKS for finding in check(snapshot, policy)]
    return sorted(
        found,
        key=lambda f: (severity_rank(f.severity), f.id, f.database or "", f.object or "", f.seen),
    )


# Settings a library defines only while loaded: their absence is not "not readable".
OPTIONAL_SETTINGS: frozenset[str] = frozenset(logs.OPTIONAL_SETTINGS)

__all__ = ["CHECKS", "NEEDED_SETTINGS", "OPTIONAL_SETTINGS", "Check", "run_checks"]
