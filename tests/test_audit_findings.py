"""The audit's checks on hand-built snapshots (no server): each fires on what it is for, stays
quiet otherwise, says nothing when what it needs was unreadable, and quotes names in its SQL.
The same checks run against real PostgreSQL 15 and 18 in test_audit_collect.py."""

from collections.abc import Iterable
from dataclasses import replace

import pytest

from pgtune.access.catalog import Inspection
from pgtune.access.model import (
    PUBLIC,
    ClusterState,
    Grant,
    Membership,
    ObjectKind,
    ObjectRef,
    RlsPolicy,
    RlsTable,
    Role,
    TableRef,
)
from pgtune.access.policy.document import Policy, RlsSpec
from pgtune.audit.findings import CHECKS, NEEDED_SETTINGS, run_checks
from pgtune.audit.findings.functions import path_entries
from pgtune.audit.findings.hba_rules import applies_to, is_remote, listens_remotely
from pgtune.audit.findings.tls import GOOD_CIPHERS
from pgtune.audit.findings.versions import releases
from pgtune.audit.model import (
    SEVERITIES,
    ExtensionInfo,
    Finding,
    FunctionInfo,
    HbaRule,
    LanguageInfo,
    Snapshot,
)

POSTGRES = Role("postgres", login=True, superuser=True, createrole=True, bypassrls=True)
# Every setting the checks read, each at a hardened value: a snapshot with these (and no risky
# role, grant or pg_hba.conf line) must give no finding at all.
SAFE_SETTINGS = {
    "password_encryption": "scram-sha-256",
    "ssl": "on",
    "listen_addresses": "localhost",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_statement": "ddl",
    "log_line_prefix": "%m [%p] %q%u@%d app=%a client=%h ",
    # The benchmark checks (CIS, pgdsat): test_audit_benchmark.py.
    "log_destination": "stderr,csvlog",
    "logging_collector": "on",
    "log_file_mode": "0600",
    "log_min_messages": "warning",
    "log_min_error_statement": "error",
    "log_error_verbosity": "default",
    "log_replication_commands": "on",
    "log_min_duration_statement": "-1",
    "log_parameter_max_length": "-1",
    "shared_preload_libraries": "pg_stat_statements,pgaudit,credcheck,auth_delay",
    "pgaudit.log": "ddl, role, write",
    "ssl_min_protocol_version": "TLSv1.2",
    "ssl_ciphers": GOOD_CIPHERS,
    "ssl_prefer_server_ciphers": "on",
    "primary_conninfo": "",
    "authentication_timeout": "60",
    "data_directory": "/srv/pg/16/data",
    "data_directory_mode": "0700",
    "unix_socket_permissions": "0770",
    "data_checksums": "on",
    "superuser_reserved_connections": "3",
    "server_version_num": str(160000 + releases().newest[16]),  # snap() follows its major
}
ORDERS = TableRef("app", "public", "orders")


def safe_settings(major: int) -> dict[str, str]:
    """SAFE_SETTINGS on the newest minor release of `major`."""
    newest = releases().newest[major]
    return {**SAFE_SETTINGS, "server_version_num": str(major * 10000 + newest)}


def snap(
    *,
    roles: Iterable[Role] = (),
    memberships: Iterable[Membership] = (),
    grants: Iterable[Grant] = (),
    rls: Iterable[RlsTable] = (),
    policies: Iterable[RlsPolicy] = (),
    owners: dict[ObjectRef, str] | None = None,
    settings: dict[str, str] | None = None,
    hba: tuple[HbaRule, ...] | None = None,
    secrets: dict[str, str] | None = None,
    functions: Iterable[FunctionInfo] = (),
    extensions: Iterable[ExtensionInfo] = (),
    languages: Iterable[LanguageInfo] = (),
    major: int = 16,
) -> Snapshot:
    """A snapshot that is quiet unless told otherwise: one superuser, hardened settings."""
    state = ClusterState(
        roles={r.name: r for r in (POSTGRES, *roles)},
        memberships=frozenset(memberships),
        grants=frozenset(grants),
        rls_tables={r.table: r for r in rls},
        policies={(p.table, p.name): p for p in policies},
        owners=owners or {},
    )
    return Snapshot(
        cluster="test",
        server_version=f"{major}.1",
        major=major,
        collected_at="2026-06-01T00:00:00+00:00",
        collected_by="postgres",
        superuser=True,
        access=Inspection(state=state, inventories={}, major=major, unreadable=(), queries=0),
        settings=safe_settings(major) if settings is None else settings,
        hba=hba,
        secrets=secrets,
        functions=tuple(functions),
        extensions=tuple(extensions),
        languages=tuple(languages),
        bootstrap_superuser="postgres",
    )


def found(snapshot: Snapshot, id: str, policy: Policy | None = None) -> list[Finding]:
    return [f for f in run_checks(snapshot, policy) if f.id == id]


def rule(line: int, type: str, method: str, address: str | None = None, **kw: object) -> HbaRule:
    netmask = kw.get("netmask")
    users = kw.get("users", ("all",))
    assert isinstance(users, tuple) and (netmask is None or isinstance(netmask, str))
    error = kw.get("error")
    assert error is None or isinstance(error, str)
    return HbaRule(line, type, ("all",), users, address, netmask, method, error)


def secdef(name: str = "f", search_path: str | None = None, **kw: str) -> FunctionInfo:
    return FunctionInfo(
        database="app",
        schema=kw.get("schema", "public"),
        name=name,
        args=kw.get("args", ""),
        owner=kw.get("owner", "app_owner"),
        security_definer=True,
        search_path=search_path,
        language="sql",
    )


def public_grant(
    kind: ObjectKind,
    privilege: str,
    schema: str = "public",
    name: str | None = None,
    args: str | None = None,
) -> Grant:
    return Grant(ObjectRef(kind, "app", schema, name, args), PUBLIC, privilege)


# ------------------------------------------------------------------------------------------
# The registry


def test_a_hardened_snapshot_is_quiet_and_an_unreadable_one_does_not_crash() -> None:
    assert run_checks(snap(hba=(), secrets={"postgres": "scram"})) == []
    blind = replace(snap(), settings={}, hba=None, secrets=None)
    assert run_checks(blind, Policy(rls=(RlsSpec(ORDERS),))) == []


def test_findings_are_sorted_worst_first_then_by_id() -> None:
    s = snap(
        roles=[
            Role("admin2", login=True, superuser=True),
            Role("old", login=True, valid_until="-infinity"),
        ],
        settings={**SAFE_SETTINGS, "log_statement": "none", "ssl": "off"},
    )
    findings = run_checks(s)
    assert [(f.id, f.severity) for f in findings] == [
        ("PGT-ROLE-001", "high"),
        ("PGT-LOG-003", "medium"),
        ("PGT-ROLE-005", "low"),
        ("PGT-TLS-001", "low"),
    ]
    ranks = [SEVERITIES.index(f.severity) for f in findings]
    assert ranks == sorted(ranks)


def test_the_settings_read_are_the_ones_the_checks_use() -> None:
    assert set(NEEDED_SETTINGS) == set(SAFE_SETTINGS)
    assert len({c.__name__ for c in CHECKS}) == len(CHECKS)


# ------------------------------------------------------------------------------------------
# Roles


def test_extra_superusers_keep_the_bootstrap_one() -> None:
    assert found(snap(), "PGT-ROLE-001") == []
    [f] = found(snap(roles=[Role("dba", superuser=True)]), "PGT-ROLE-001")
    assert (f.object, f.remediation) == ("dba", 'ALTER ROLE "dba" NOSUPERUSER;')
    assert "'dba', 'postgres'" in f.seen and "'postgres' is the bootstrap superuser" in f.seen
    unknown = replace(snap(roles=[Role("dba", superuser=True)]), bootstrap_superuser=None)
    assert {f.object for f in found(unknown, "PGT-ROLE-001")} == {"dba", "postgres"}


def test_bypassrls_and_createrole_on_login_roles() -> None:
    s = snap(
        roles=[
            Role("reporter", login=True, bypassrls=True),
            Role("group_bypass", bypassrls=True),  # cannot log in
            Role("maker", login=True, createrole=True),
        ]
    )
    assert [f.object for f in found(s, "PGT-ROLE-002")] == ["reporter"]
    assert found(s, "PGT-ROLE-002")[0].remediation == 'ALTER ROLE "reporter" NOBYPASSRLS;'
    assert [(f.object, f.severity) for f in found(s, "PGT-ROLE-003")] == [("maker", "medium")]
    old = replace(s, major=15)
    assert [f.severity for f in found(old, "PGT-ROLE-003")] == ["high"]


def test_powerful_predefined_roles_direct_and_through_groups() -> None:
    s = snap(
        roles=[
            Role("ops"),
            Role("alice", login=True),
            Role("bob", login=True),
            Role("reader", login=True),
            Role("carol", login=True),
        ],
        memberships=[
            Membership("pg_execute_server_program", "ops"),
            Membership("ops", "alice"),
            Membership("ops", "bob", inherit=False, set=False),  # 16+: gets nothing
            Membership("pg_read_all_data", "reader"),
            Membership("pg_write_server_files", "postgres"),  # a superuser has it anyway
            Membership("pg_read_server_files", "carol", inherit=False, set=False),
        ],
    )
    findings = {f.object: f for f in found(s, "PGT-ROLE-004")}
    assert set(findings) == {"ops", "reader"}
    assert findings["ops"].severity == "critical"
    assert findings["ops"].seen.endswith("through 'ops': 'alice'")
    assert findings["ops"].remediation == 'REVOKE "pg_execute_server_program" FROM "ops";'
    assert (findings["reader"].severity, findings["reader"].seen) == (
        "medium",
        "login role 'reader' is a member of pg_read_all_data",
    )


def test_expired_login_roles() -> None:
    s = snap(
        roles=[
            Role("gone", login=True, valid_until="2020-01-01T00:00:00+00:00"),
            Role("never", login=True, valid_until="-infinity"),
            Role("later", login=True, valid_until="2030-01-01T00:00:00+00:00"),
            Role("group_gone", valid_until="2020-01-01T00:00:00+00:00"),
            # Hand-built or older snapshots: 'infinity' and a time without a zone (UTC).
            Role("forever", login=True, valid_until="infinity"),
            Role("naive_gone", login=True, valid_until="2026-05-31T23:59:59"),
            Role("naive_later", login=True, valid_until="2026-06-01T00:00:01"),
            Role("garbled", login=True, valid_until="next tuesday"),  # not called expired
        ]
    )
    assert [f.object for f in found(s, "PGT-ROLE-005")] == ["gone", "naive_gone", "never"]


# ------------------------------------------------------------------------------------------
# Passwords


def test_password_encryption() -> None:
    [f] = found(snap(settings={**SAFE_SETTINGS, "password_encryption": "md5"}), "PGT-AUTH-001")
    assert f.remediation.startswith("ALTER SYSTEM SET \"password_encryption\" = 'scram-sha-256';")
    assert found(snap(settings={}), "PGT-AUTH-001") == []


def test_md5_secrets_only_when_readable() -> None:
    s = snap(roles=[Role("app", login=True)], secrets={"postgres": "scram", "app": "md5"})
    [f] = found(s, "PGT-AUTH-002")
    assert (f.object, f.severity) == ("app", "high")
    assert "\\password '\"app\"'" in f.remediation
    assert found(replace(s, secrets=None), "PGT-AUTH-002") == []


def test_login_roles_without_password_are_high_only_when_trusted() -> None:
    roles = [Role("app", login=True), Role("ops"), Role("peer_user", login=True)]
    secrets = {"postgres": "scram", "app": "none", "ops": "none", "peer_user": "none"}
    trusting = (rule(1, "local", "trust", users=("+ops",)), rule(2, "local", "peer"))
    s = snap(roles=roles, memberships=[Membership("ops", "app")], secrets=secrets, hba=trusting)
    by_role = {f.object: f for f in found(s, "PGT-AUTH-003")}
    assert {r: f.severity for r, f in by_role.items()} == {"app": "high", "peer_user": "info"}
    assert by_role["app"].seen.endswith("trusted by pg_hba.conf line(s) 1")
    unreadable_hba = replace(s, hba=None)
    assert {f.severity for f in found(unreadable_hba, "PGT-AUTH-003")} == {"info"}
    assert found(replace(s, secrets=None), "PGT-AUTH-003") == []


# ------------------------------------------------------------------------------------------
# pg_hba.conf, listen_addresses, ssl


def test_trust_password_md5_and_broken_hba_lines() -> None:
    hba = (
        rule(1, "local", "trust"),
        rule(2, "host", "trust", "0.0.0.0", netmask="0.0.0.0"),
        rule(3, "hostssl", "password", "10.0.0.0", netmask="255.0.0.0"),
        rule(4, "host", "password", "127.0.0.1", netmask="255.255.255.255"),
        rule(5, "host", "md5", "samenet"),
        rule(6, "", "", error='invalid connection type "hostfoo"'),
        rule(7, "host", "scram-sha-256", "10.0.0.0", netmask="255.0.0.0"),
    )
    s = snap(hba=hba)
    assert [(f.object, f.severity) for f in found(s, "PGT-HBA-001")] == [
        ("pg_hba.conf line 2", "critical"),
        ("pg_hba.conf line 1", "high"),
    ]
    assert [(f.object, f.severity) for f in found(s, "PGT-HBA-002")] == [
        ("pg_hba.conf line 4", "high"),
        ("pg_hba.conf line 3", "medium"),
    ]
    assert [f.seen for f in found(s, "PGT-HBA-003")] == ["line 5: host all all samenet md5"]
    assert [f.seen for f in found(s, "PGT-HBA-004")] == [
        'pg_hba.conf line 6: invalid connection type "hostfoo"'
    ]
    assert all(found(replace(s, hba=None), f"PGT-HBA-00{i}") == [] for i in range(1, 5))


@pytest.mark.parametrize(
    ("listen", "hba", "fires"),
    [
        ("*", (rule(1, "host", "scram-sha-256", "10.0.0.0", netmask="255.0.0.0"),), True),
        ("10.1.2.3", (rule(1, "hostnossl", "scram-sha-256", "all"),), True),
        ("*", (rule(1, "hostssl", "scram-sha-256", "0.0.0.0", netmask="0.0.0.0"),), False),
        ("*", (rule(1, "host", "reject", "0.0.0.0", netmask="0.0.0.0"),), False),
        ("*", (rule(1, "host", "cert", "0.0.0.0", netmask="0.0.0.0"),), False),
        ("*", (rule(1, "host", "trust", "127.0.0.1", netmask="255.255.255.255"),), False),
        ("localhost", (rule(1, "host", "md5", "0.0.0.0", netmask="0.0.0.0"),), False),
        ("*", None, False),  # pg_hba_file_rules unreadable: nothing claimed
    ],
)
def test_listening_without_tls_only_rules(
    listen: str, hba: tuple[HbaRule, ...] | None, fires: bool
) -> None:
    s = snap(settings={**SAFE_SETTINGS, "listen_addresses": listen}, hba=hba)
    assert bool(found(s, "PGT-NET-001")) is fires


def test_ssl_off_is_high_when_listening_remotely() -> None:
    def severity(listen: str) -> list[str]:
        s = snap(settings={**SAFE_SETTINGS, "ssl": "off", "listen_addresses": listen})
        return [f.severity for f in found(s, "PGT-TLS-001")]

    assert (severity("*"), severity(""), severity("localhost")) == (["high"], ["low"], ["low"])
    assert found(snap(), "PGT-TLS-001") == [] and found(snap(settings={}), "PGT-TLS-001") == []


def test_address_helpers() -> None:
    assert listens_remotely("localhost, 10.0.0.5") and not listens_remotely("127.0.0.1, ::1")
    assert listens_remotely("db.example.com")
    assert not is_remote(rule(1, "host", "md5", "127.0.0.0", netmask="255.0.0.0"))
    assert not is_remote(rule(1, "host", "md5", "samehost"))
    assert is_remote(rule(1, "host", "md5", "all")) and is_remote(rule(1, "host", "md5", ".corp"))
    state = ClusterState(memberships=frozenset({Membership("g", "u", inherit=False, set=False)}))
    assert applies_to(rule(1, "local", "trust", users=("+g",)), "u", state)  # any grant counts
    assert applies_to(rule(1, "local", "trust", users=("/^app_",)), "app_1", state)
    assert not applies_to(rule(1, "local", "trust", users=("other",)), "u", state)


# ------------------------------------------------------------------------------------------
# PUBLIC's privileges and SECURITY DEFINER


def test_public_create_on_schema() -> None:
    s = snap(grants=[public_grant("schema", "CREATE"), public_grant("schema", "USAGE", schema="x")])
    [f] = found(s, "PGT-PRIV-001")
    assert (f.database, f.object, f.remediation) == (
        "app",
        "public",
        'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC;',
    )


def test_public_execute_on_security_definer() -> None:
    funcs = [secdef("open", "public, pg_temp", args="n integer"), secdef("closed", "public")]
    plain = replace(secdef("plain"), security_definer=False)
    grants = [
        public_grant("function", "EXECUTE", name="open", args="n integer"),
        public_grant("function", "EXECUTE", name="plain", args=""),
    ]
    [f] = found(snap(functions=[*funcs, plain], grants=grants), "PGT-PRIV-002")
    assert (f.object, f.severity) == ("public.open(n integer)", "high")
    assert f.remediation == 'REVOKE EXECUTE ON ROUTINE "public"."open"(n integer) FROM PUBLIC;'
    by_superuser = [replace(funcs[0], owner="postgres")]
    assert [
        x.severity for x in found(snap(functions=by_superuser, grants=grants), "PGT-PRIV-002")
    ] == ["critical"]


def test_security_definer_search_path() -> None:
    functions = [
        secdef("unpinned"),
        secdef("empty", '""'),
        secdef("safe", "app, pg_temp", schema="app"),
        secdef("temp_first", "pg_temp, app", schema="app"),
        secdef("writable", "public, pg_temp"),
        secdef("Odd", None, schema="My Schema", args="x text"),
    ]
    s = snap(functions=functions, grants=[public_grant("schema", "CREATE")])
    assert {f.object for f in found(s, "PGT-FUNC-001")} == {
        '"My Schema"."Odd"(x text)',
        "public.unpinned()",
    }
    unsafe = {f.object: f for f in found(s, "PGT-FUNC-002")}
    assert set(unsafe) == {"app.temp_first()", "public.writable()"}
    assert unsafe["app.temp_first()"].seen.endswith("pg_temp is not last")
    assert unsafe["public.writable()"].seen.endswith("PUBLIC may create in public")
    # Pinning to a schema PUBLIC may create in is no pin: CREATE is revoked first.
    assert unsafe["public.writable()"].remediation == (
        'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC;\n'
        'ALTER ROUTINE "public"."writable"() SET search_path = "public", pg_temp;'
    )
    odd = next(f for f in found(s, "PGT-FUNC-001") if "Odd" in f.remediation)
    assert odd.remediation == (
        'ALTER ROUTINE "My Schema"."Odd"(x text) SET search_path = "My Schema", pg_temp;'
    )


def test_search_path_parsing() -> None:
    assert path_entries('"$user", public') == ["$user", "public"]
    assert path_entries('"a""b", pg_temp') == ['a"b', "pg_temp"]
    assert path_entries("") == []


# ------------------------------------------------------------------------------------------
# Row level security


def _rls_snapshot(
    owner: str = "app_owner",
    rls: Iterable[RlsTable] = (),
    policies: Iterable[RlsPolicy] = (),
    memberships: Iterable[Membership] = (),
) -> Snapshot:
    """orders in database app, owned by ``owner``; app_owner cannot log in, the others can."""
    return snap(
        roles=[Role("app_owner"), Role("owner_login", login=True), Role("app", login=True)],
        memberships=memberships,
        owners={ObjectRef("table", "app", "public", "orders"): owner},
        rls=rls,
        policies=policies,
    )


def test_policies_on_a_table_with_rls_disabled() -> None:
    policy = RlsPolicy(ORDERS, "tenant", using="(tenant = CURRENT_USER)")
    s = _rls_snapshot(rls=[RlsTable(ORDERS, False, False)], policies=[policy])
    [f] = found(s, "PGT-RLS-001")
    assert f.remediation == 'ALTER TABLE "public"."orders" ENABLE ROW LEVEL SECURITY;'
    assert found(_rls_snapshot(rls=[RlsTable(ORDERS, False, False)]), "PGT-RLS-001") == []


def test_not_forced_when_a_login_role_can_act_as_the_owner() -> None:
    policy = RlsPolicy(ORDERS, "tenant", using="(tenant = CURRENT_USER)")

    def fired(
        owner: str, forced: bool = False, members: Iterable[Membership] = ()
    ) -> list[Finding]:
        table = RlsTable(ORDERS, True, forced)
        return found(_rls_snapshot(owner, [table], [policy], members), "PGT-RLS-002")

    assert fired("app_owner") == []  # a NOLOGIN owner nobody can act as
    [f] = fired("owner_login")
    assert f.remediation == 'ALTER TABLE "public"."orders" FORCE ROW LEVEL SECURITY;'
    [through] = fired("app_owner", members=[Membership("app_owner", "app")])
    assert through.seen.endswith("login roles acting as the owner: 'app'")
    assert fired("owner_login", forced=True) == []
    assert fired("postgres") == []  # a superuser bypasses RLS even when forced


def test_enabled_without_policy_and_permissive_true() -> None:
    s = _rls_snapshot(rls=[RlsTable(ORDERS, True, True)])
    [f] = found(s, "PGT-RLS-003")
    assert f.severity == "low" and "DISABLE" not in f.remediation
    open_policies = [
        RlsPolicy(ORDERS, "all_rows", using="true"),
        RlsPolicy(ORDERS, "insert_any", command="INSERT", with_check="true"),
        RlsPolicy(ORDERS, "restrictive", permissive=False, using="true"),
        RlsPolicy(ORDERS, "tenant", using="(tenant = CURRENT_USER)"),
    ]
    s = _rls_snapshot(rls=[RlsTable(ORDERS, True, True)], policies=open_policies)
    assert found(s, "PGT-RLS-003") == []
    by_object = {f.object: f for f in found(s, "PGT-RLS-004")}
    assert set(by_object) == {"public.orders policy all_rows", "public.orders policy insert_any"}
    assert by_object["public.orders policy insert_any"].remediation.endswith(
        'ALTER POLICY "insert_any" ON "public"."orders" WITH CHECK (<condition>);'
    )


def test_rls_the_policy_file_requires() -> None:
    wanted = Policy(rls=(RlsSpec(ORDERS, enable=True, force=True),))
    s = _rls_snapshot(rls=[RlsTable(ORDERS, True, False)])
    [f] = found(s, "PGT-RLS-005", wanted)
    assert f.seen == "table public.orders: the policy wants RLS forced; it is enabled, not forced"
    assert f.remediation.startswith('ALTER TABLE "public"."orders" FORCE ROW LEVEL SECURITY;')
    assert found(s, "PGT-RLS-005") == []  # no policy given
    assert found(_rls_snapshot(rls=[RlsTable(ORDERS, True, True)]), "PGT-RLS-005", wanted) == []
    assert found(_rls_snapshot(), "PGT-RLS-005", wanted) == []  # table not seen: not judged


# ------------------------------------------------------------------------------------------
# Logging


@pytest.mark.parametrize(
    ("name", "value", "id"),
    [
        ("log_connections", "off", "PGT-LOG-001"),
        ("log_connections", "", "PGT-LOG-001"),  # PostgreSQL 18: no aspect logged
        ("log_disconnections", "off", "PGT-LOG-002"),
        ("log_statement", "none", "PGT-LOG-003"),
        ("log_line_prefix", "%m [%p] ", "PGT-LOG-004"),
    ],
)
def test_logging_gaps(name: str, value: str, id: str) -> None:
    [f] = found(snap(settings={**SAFE_SETTINGS, name: value}), id)
    assert f.object == name and f.cis is not None and f.cis.startswith("CIS 3.1.")
    assert f.remediation.endswith("SELECT pg_catalog.pg_reload_conf();")


def test_logging_alternatives_are_accepted() -> None:
    quiet = {
        **SAFE_SETTINGS,
        "log_connections": "receipt,authentication,authorization",
        "log_statement": "all",
        "log_line_prefix": "%t [%c] %u %d %a %r ",
    }
    assert run_checks(snap(settings=quiet)) == []
    [f] = found(snap(settings={**SAFE_SETTINGS, "log_line_prefix": "%t %u "}), "PGT-LOG-004")
    assert f.seen.endswith("lacks: process id, database, application, client host")


# ------------------------------------------------------------------------------------------
# Languages and extensions


def test_untrusted_languages() -> None:
    languages = [
        LanguageInfo("app", "c", False, True),
        LanguageInfo("app", "plpgsql", True, True),
        LanguageInfo("app", "plpython3u", False, True),  # USAGE means nothing when untrusted
        LanguageInfo("app", "plperlu", True, True),
        LanguageInfo("app", "pltclu", True, False),
    ]
    extension = ExtensionInfo("app", "plpython3u", "pg_catalog", "1.0")
    s = snap(languages=languages, extensions=[extension])
    [untrusted] = found(s, "PGT-LANG-001")
    assert untrusted.object == "plpython3u"
    assert untrusted.remediation.endswith('DROP EXTENSION "plpython3u";')
    assert [f.object for f in found(s, "PGT-LANG-002")] == ["plperlu"]


def test_risky_extensions_and_what_public_may_use() -> None:
    dblink = ExtensionInfo(
        "app",
        "dblink",
        "public",
        "1.2",
        public_functions=(("public", "dblink_connect", "text"), ("public", "dblink", "text")),
    )
    fdw = ExtensionInfo(
        "app", "postgres_fdw", "ext", "1.1", public_functions=(("ext", "postgres_fdw_handler", ""),)
    )
    opened_fdw = replace(fdw, database="other", public_wrappers=("postgres_fdw",))
    harmless = ExtensionInfo(
        "app",
        "pg_trgm",
        "public",
        "1.6",
        public_functions=(("public", "similarity", "text, text"),),
    )
    s = snap(extensions=[dblink, fdw, opened_fdw, harmless])
    assert {(f.database, f.object) for f in found(s, "PGT-EXT-001")} == {
        ("app", "dblink"),
        ("app", "postgres_fdw"),
        ("other", "postgres_fdw"),
    }
    by_db = {(f.database, f.object): f for f in found(s, "PGT-EXT-002")}
    assert set(by_db) == {("app", "dblink"), ("other", "postgres_fdw")}
    assert by_db[("app", "dblink")].remediation == (
        'REVOKE EXECUTE ON ROUTINE "public"."dblink_connect"(text) FROM PUBLIC;\n'
        'REVOKE EXECUTE ON ROUTINE "public"."dblink"(text) FROM PUBLIC;'
    )
    assert by_db[("other", "postgres_fdw")].remediation == (
        'REVOKE USAGE ON FOREIGN DATA WRAPPER "postgres_fdw" FROM PUBLIC;'
    )
    revoked = replace(dblink, public_functions=())
    assert found(snap(extensions=[revoked]), "PGT-EXT-002") == []


# ------------------------------------------------------------------------------------------
# Every finding


def test_every_finding_is_one_line_with_quoted_names() -> None:
    weird = 'we"ird'
    s = snap(
        roles=[Role(weird, login=True, superuser=True, bypassrls=True, createrole=True)],
        memberships=[Membership("pg_write_all_data", "x")],
        settings={k: "off" if k == "ssl" else "" for k in SAFE_SETTINGS},
        hba=(rule(1, "host", "trust", "all"),),
        secrets={weird: "md5", "postgres": "none"},
        functions=[secdef(weird, schema=weird)],
        languages=[LanguageInfo("app", "plx", False, True)],
    )
    findings = run_checks(s)
    assert len({f.id for f in findings}) >= 10
    for f in findings:
        assert f.title and f.seen and f.why and f.remediation
        assert "\n" not in f.title + f.seen + f.why, f
    [extra] = found(s, "PGT-ROLE-001")
    assert extra.remediation == 'ALTER ROLE "we""ird" NOSUPERUSER;'
