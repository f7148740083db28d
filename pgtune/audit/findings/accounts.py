"""Account hygiene the benchmarks ask for beyond the passwords themselves: expiry where the
access policy wants it, per-role connection limits, password-complexity and brute-force
slow-down modules, and how long a client may take to authenticate."""

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, alter_system, can_log_in, render
from pgtune.audit.findings.logs import preload_fix, preloaded
from pgtune.audit.model import Finding, Snapshot
from pgtune.names import shown, shown_list

SETTINGS = ("authentication_timeout",)

# Modules that refuse weak passwords at CREATE/ALTER ROLE ... PASSWORD.
COMPLEXITY_MODULES = ("passwordcheck", "credcheck")
_PASSWORD_METHODS = {"scram-sha-256", "md5", "password"}
MAX_NAMED = 10


def _never_expires(valid_until: str | None) -> bool:
    return valid_until is None or valid_until == "infinity"


def expiry_required(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Only with an access policy: a login role the policy gives a VALID UNTIL that never
    expires in the cluster. Without a policy nothing says which roles must expire."""
    if policy is None:
        return []
    roles = snapshot.access.state.roles
    found = []
    for name, wanted in sorted(policy.roles.items()):
        role = roles.get(name)
        if role is None or not role.login or _never_expires(wanted.valid_until):
            continue
        if not _never_expires(role.valid_until):
            continue
        assert wanted.valid_until is not None
        found.append(
            Finding(
                id="PGT-ROLE-006",
                severity="medium",
                title="Login role never expires though the policy gives it an expiry",
                seen=f"login role {shown(name)} has no VALID UNTIL; the policy says "
                f"{wanted.valid_until}",
                why="the account keeps working after the date it was approved until",
                remediation=render(
                    sql.SQL("ALTER ROLE {} VALID UNTIL {}").format(
                        sql.Identifier(name), sql.Literal(wanted.valid_until)
                    )
                ),
                cis=cis.LOCK_UNUSED,
                object=name,
            )
        )
    return found


def connection_limits(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Login roles that can still log in (expired ones are PGT-ROLE-005's) without a limit."""
    unlimited = sorted(
        r.name
        for r in snapshot.access.state.roles.values()
        if r.login
        and not r.superuser
        and r.connection_limit < 0
        and can_log_in(r.valid_until, snapshot.collected_at)
    )
    if not unlimited:
        return []
    named = shown_list(unlimited[:MAX_NAMED])
    more = len(unlimited) - MAX_NAMED
    example = unlimited[0]
    return [
        Finding(
            id="PGT-ROLE-007",
            severity="info",
            title="Login roles without a connection limit",
            seen=f"{len(unlimited)} login role(s) without CONNECTION LIMIT: {named}"
            + (f" and {more} more" if more > 0 else ""),
            why="one runaway or compromised account can take every connection slot",
            remediation=render(
                sql.SQL("ALTER ROLE {} CONNECTION LIMIT 20").format(sql.Identifier(example))
            )
            + "\n-- likewise for the others, with the limit each one needs",
            cis=cis.CONNECTION_LIMITS,
        )
    ]


def _passwords_in_use(snapshot: Snapshot) -> bool:
    """Whether some pg_hba.conf line takes a password (unknown pg_hba.conf: assume so)."""
    if snapshot.hba is None:
        return True
    return any(r.auth_method in _PASSWORD_METHODS for r in snapshot.hba if r.error is None)


def password_complexity(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    libraries = preloaded(snapshot)
    if libraries is None or libraries & set(COMPLEXITY_MODULES):
        return []
    if not _passwords_in_use(snapshot):
        return []
    return [
        Finding(
            id="PGT-AUTH-004",
            severity="low",
            title="Nothing checks the strength of new passwords",
            seen="shared_preload_libraries = "
            + repr(snapshot.settings["shared_preload_libraries"])
            + " has neither passwordcheck nor credcheck",
            why="roles can be given short or guessable passwords",
            remediation=preload_fix(
                libraries, "credcheck", "credcheck extension (or use passwordcheck, shipped)"
            ),
            remediation_kind="config",
            cis=cis.PASSWORD_COMPLEXITY,
            object="shared_preload_libraries",
        )
    ]


def auth_delay(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    libraries = preloaded(snapshot)
    if libraries is None or "auth_delay" in libraries or not _passwords_in_use(snapshot):
        return []
    return [
        Finding(
            id="PGT-AUTH-005",
            severity="low",
            title="Failed logins are answered at once",
            seen="shared_preload_libraries = "
            + repr(snapshot.settings["shared_preload_libraries"])
            + " lacks auth_delay",
            why="password guessing runs as fast as the server answers",
            remediation=preload_fix(libraries, "auth_delay", "contrib package")
            + "\nauth_delay.milliseconds = 500",
            object="shared_preload_libraries",
            remediation_kind="config",
        )
    ]


def authentication_timeout(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("authentication_timeout")  # seconds
    if value is None or not value.isdigit() or int(value) <= 60:
        return []
    return [
        Finding(
            id="PGT-AUTH-006",
            severity="low",
            title="Clients may take long to authenticate",
            seen=f"authentication_timeout = {value}s",
            why="half-open logins hold connection slots longer: cheaper to exhaust them",
            remediation=alter_system("authentication_timeout", "30s"),
            object="authentication_timeout",
        )
    ]


CHECKS: tuple[Check, ...] = (
    expiry_required,
    connection_limits,
    password_complexity,
    auth_delay,
    authentication_timeout,
)
