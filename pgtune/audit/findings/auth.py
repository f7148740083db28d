"""How roles prove who they are: the password hashing in use and the secrets stored."""

from psycopg import sql

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check, alter_system
from pgtune.audit.findings.hba_rules import applies_to
from pgtune.audit.model import Finding, Snapshot
from pgtune.sqltext import psql_quoted

SETTINGS = ("password_encryption",)


def _new_password(role: str) -> str:
    # psql's \password hashes on the client with the server's password_encryption, so the
    # new password never travels or lands in a log in clear.
    # The role name is a psql meta-command argument: single-quoted with escapes (a newline in
    # the name must not end the command and start another, e.g. \\! running a shell command),
    # holding the double-quoted identifier psql reads it as.
    return "SET password_encryption = 'scram-sha-256';\n\\password " + psql_quoted(
        sql.Identifier(role).as_string(None)
    )


def password_encryption(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    value = snapshot.settings.get("password_encryption")
    if value is None or value == "scram-sha-256":
        return []
    return [
        Finding(
            id="PGT-AUTH-001",
            severity="medium",
            title="password_encryption is not scram-sha-256",
            seen=f"password_encryption = {value!r}",
            why="new passwords are stored as md5 hashes, which log in as well as the password",
            remediation=alter_system("password_encryption", "scram-sha-256"),
            cis=cis.HOST_LOGIN,
            object="password_encryption",
        )
    ]


def md5_secrets(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    if snapshot.secrets is None:
        return []
    return [
        Finding(
            id="PGT-AUTH-002",
            severity="high",
            title="Role with an md5 password hash",
            seen=f"role {role!r} has an md5 password hash",
            why="an md5 hash is a password equivalent (pass-the-hash) and deprecated since 18",
            remediation=_new_password(role),
            cis=cis.HOST_LOGIN,
            object=role,
        )
        for role, kind in sorted(snapshot.secrets.items())
        if kind == "md5"
    ]


def logins_without_password(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    """Info when the role can only use other methods (peer, cert, ...: often intended);
    high when a readable pg_hba.conf trusts it, since then anyone reaching the server is it."""
    if snapshot.secrets is None:
        return []
    state = snapshot.access.state
    found: list[Finding] = []
    for r in sorted(state.roles.values()):
        if not r.login or snapshot.secrets.get(r.name) != "none":
            continue
        trusting = [
            rule.line_number
            for rule in snapshot.hba or ()
            if rule.auth_method == "trust" and applies_to(rule, r.name, state)
        ]
        lines = f"; trusted by pg_hba.conf line(s) {', '.join(map(str, trusting))}"
        found.append(
            Finding(
                id="PGT-AUTH-003",
                severity="high" if trusting else "info",
                title="Login role without a password",
                seen=f"login role {r.name!r} has no password" + (lines if trusting else ""),
                why=(
                    "a trust line lets anyone who reaches the server log in as it"
                    if trusting
                    else "it logs in only by non-password methods (peer, cert, ...); "
                    "fine if intended"
                ),
                remediation=_new_password(r.name),
                cis=cis.PASSWORDS,
                object=r.name,
            )
        )
    return found


CHECKS: tuple[Check, ...] = (password_encryption, md5_secrets, logins_without_password)
