"""The benchmark checks (CIS PostgreSQL Benchmark and pgdsat: logging, pgAudit, TLS, pg_hba.conf
reach, replication, accounts, host, versions) on hand-built snapshots: each fires on what it
is for and stays quiet otherwise. Real servers: test_audit_benchmark_real.py."""

from dataclasses import replace
from datetime import date

import pytest
from test_audit_findings import SAFE_SETTINGS, snap

from pgtune.access.model import Role
from pgtune.access.policy.document import Policy
from pgtune.audit.findings import CHECKS, NEEDED_SETTINGS, OPTIONAL_SETTINGS, run_checks
from pgtune.audit.findings import versions as versions_module
from pgtune.audit.findings.versions import Releases, releases
from pgtune.audit.model import Finding, HbaRule, Snapshot, TablespaceInfo

NEWEST_16 = releases().newest[16]
SAFE = SAFE_SETTINGS  # every setting read, hardened: test_audit_findings.py
BENCH_IDS = {
    *(f"PGT-LOG-{i:03}" for i in range(5, 15)),
    *(f"PGT-TLS-00{i}" for i in (2, 3, 4)),
    "PGT-HBA-005",
    "PGT-HBA-006",
    *(f"PGT-REPL-00{i}" for i in range(1, 5)),
    "PGT-ROLE-006",
    "PGT-ROLE-007",
    *(f"PGT-AUTH-00{i}" for i in (4, 5, 6)),
    *(f"PGT-HOST-00{i}" for i in range(1, 6)),
    "PGT-VER-001",
    "PGT-VER-002",
}
TABLESPACES = (TablespaceInfo("pg_default", ""), TablespaceInfo("fast", "/srv/ssd/fast"))


def hba(
    line: int,
    type: str,
    method: str,
    address: str | None = None,
    netmask: str | None = None,
    databases: tuple[str, ...] = ("all",),
    users: tuple[str, ...] = ("all",),
) -> HbaRule:
    return HbaRule(line, type, databases, users, address, netmask, method, None)


LOCAL_PEER = hba(1, "local", "peer")
LAN_SSL = hba(2, "hostssl", "scram-sha-256", "192.0.2.0", "255.255.255.0", ("app",), ("app",))


def bench(
    *,
    settings: dict[str, str] | None = None,
    hba_rules: tuple[HbaRule, ...] = (LOCAL_PEER, LAN_SSL),
    roles: tuple[Role, ...] = (),
    tablespaces: tuple[TablespaceInfo, ...] | None = TABLESPACES,
    collected_at: str = "2026-06-01T00:00:00+00:00",
) -> Snapshot:
    s = snap(
        settings={**SAFE, **(settings or {})},
        hba=hba_rules,
        secrets={"postgres": "scram"},
        roles=roles,
    )
    return replace(s, tablespaces=tablespaces, collected_at=collected_at)


def found(s: Snapshot, id: str, policy: Policy | None = None) -> list[Finding]:
    return [f for f in run_checks(s, policy) if f.id == id]


def only(s: Snapshot, id: str, policy: Policy | None = None) -> Finding:
    fired = found(s, id, policy)
    assert len(fired) == 1, fired
    return fired[0]


# ------------------------------------------------------------------------------------------
# The registry


def test_a_hardened_snapshot_is_quiet() -> None:
    assert run_checks(bench()) == []
    # Nothing read, nothing claimed.
    blind = replace(bench(settings={}), settings={}, hba=None, secrets=None, tablespaces=None)
    assert run_checks(blind) == []


def test_the_settings_read_are_the_ones_the_checks_use() -> None:
    assert set(NEEDED_SETTINGS) == set(SAFE)
    assert OPTIONAL_SETTINGS == {"pgaudit.log"} <= set(NEEDED_SETTINGS)
    assert len({c.__name__ for c in CHECKS}) == len(CHECKS)


def test_every_benchmark_id_is_tested_here() -> None:
    # All at once but two, which exclude others: pgAudit missing (PGT-LOG-006 needs it
    # loaded) and destinations lost (PGT-LOG-008 needs stderr kept); LOG_CASES fire them.
    every_id = {f.id for f in ALL_FIRED} | {id for id, _, _ in LOG_CASES}
    assert every_id == BENCH_IDS
    assert {f.id for f in ALL_FIRED} == BENCH_IDS - {"PGT-LOG-005", "PGT-LOG-007"}


# ------------------------------------------------------------------------------------------
# Logging and pgAudit

LOG_CASES = [
    ("PGT-LOG-005", {"shared_preload_libraries": "pg_stat_statements"}, "low"),
    ("PGT-LOG-006", {"pgaudit.log": "none"}, "medium"),
    ("PGT-LOG-007", {"log_destination": "csvlog", "logging_collector": "off"}, "medium"),
    ("PGT-LOG-007", {"log_destination": ""}, "medium"),
    ("PGT-LOG-008", {"log_destination": "stderr", "logging_collector": "off"}, "low"),
    ("PGT-LOG-009", {"log_file_mode": "0644"}, "medium"),
    ("PGT-LOG-010", {"log_min_messages": "error"}, "low"),
    ("PGT-LOG-011", {"log_min_error_statement": "panic"}, "low"),
    ("PGT-LOG-012", {"log_error_verbosity": "terse"}, "low"),
    ("PGT-LOG-013", {"log_replication_commands": "off"}, "low"),
    ("PGT-LOG-014", {"log_min_duration_statement": "250"}, "info"),
]


@pytest.mark.parametrize(("id", "settings", "severity"), LOG_CASES)
def test_logging_items_fire(id: str, settings: dict[str, str], severity: str) -> None:
    f = only(bench(settings=settings), id)
    assert f.severity == severity
    assert f.remediation
    if id != "PGT-LOG-014":
        assert f.cis is not None and f.cis.startswith("CIS PostgreSQL 16 Benchmark v1.0.0 §")


@pytest.mark.parametrize(
    "settings",
    [
        {"log_destination": "syslog", "logging_collector": "off"},  # syslog keeps them
        {"log_destination": "csvlog", "logging_collector": "on"},
        {"log_file_mode": "0640"},
        {"log_min_messages": "debug1"},
        {"log_min_error_statement": "warning"},
        {"log_error_verbosity": "verbose"},
        {"log_min_duration_statement": "-1"},
        # slow statements logged without bind values (what pgtune generate sets)
        {"log_min_duration_statement": "250", "log_parameter_max_length": "0"},
        {"shared_preload_libraries": '"$libdir/pgaudit.so", credcheck, auth_delay'},
        {"pgaudit.log": "all, -misc"},
    ],
)
def test_logging_items_accept_alternatives(settings: dict[str, str]) -> None:
    assert run_checks(bench(settings=settings)) == []


def test_pgaudit_remediation_keeps_the_other_libraries() -> None:
    f = only(bench(settings={"shared_preload_libraries": "pg_stat_statements"}), "PGT-LOG-005")
    assert f.remediation_kind == "config"
    assert "shared_preload_libraries = 'pg_stat_statements, pgaudit'" in f.remediation
    # pgaudit.log unknown when pgaudit is not loaded: nothing said about it.
    s = bench(settings={"shared_preload_libraries": ""})
    assert found(replace(s, settings={k: v for k, v in s.settings.items() if k != "pgaudit.log"}),
                 "PGT-LOG-006") == []  # fmt: skip


# ------------------------------------------------------------------------------------------
# TLS


@pytest.mark.parametrize(
    ("id", "settings"),
    [
        ("PGT-TLS-002", {"ssl_min_protocol_version": "TLSv1"}),
        ("PGT-TLS-002", {"ssl_min_protocol_version": ""}),
        ("PGT-TLS-003", {"ssl_ciphers": "HIGH:MEDIUM:+3DES:!aNULL"}),  # PostgreSQL's default
        ("PGT-TLS-004", {"ssl_prefer_server_ciphers": "off"}),
    ],
)
def test_tls_items(id: str, settings: dict[str, str]) -> None:
    f = only(bench(settings=settings), id)
    assert f.remediation.startswith("ALTER SYSTEM SET")
    # While ssl is off PGT-TLS-001 speaks, these stay quiet.
    assert found(bench(settings={**settings, "ssl": "off"}), id) == []


def test_tls_accepts_strong_settings() -> None:
    strong = {"ssl_min_protocol_version": "TLSv1.3", "ssl_ciphers": "ECDHE+AESGCM:!aNULL"}
    assert run_checks(bench(settings=strong)) == []


# ------------------------------------------------------------------------------------------
# pg_hba.conf reach


def test_hostnossl_lines() -> None:
    remote = hba(3, "hostnossl", "scram-sha-256", "192.0.2.0", "255.255.255.0")
    loopback = hba(4, "hostnossl", "scram-sha-256", "127.0.0.1", "255.255.255.255")
    rejected = hba(5, "hostnossl", "reject", "0.0.0.0", "0.0.0.0")
    fired = found(bench(hba_rules=(remote, loopback, rejected)), "PGT-HBA-005")
    assert [(f.object, f.severity, f.remediation_kind) for f in fired] == [
        ("pg_hba.conf line 3", "high", "config"),
        ("pg_hba.conf line 4", "medium", "config"),
    ]


@pytest.mark.parametrize(
    ("address", "netmask", "severity"),
    [
        ("0.0.0.0", "0.0.0.0", "medium"),
        ("::", "::", "medium"),
        ("all", None, "medium"),
        ("samenet", None, "low"),
        ("10.0.0.0", "255.0.0.0", "low"),
        ("2001:db8::", "ffff:ffff::", "low"),
    ],
)
def test_wide_ranges_whatever_the_method(address: str, netmask: str | None, severity: str) -> None:
    line = hba(3, "hostssl", "cert", address, netmask)
    f = only(bench(hba_rules=(line,)), "PGT-HBA-006")
    assert f.severity == severity and f.remediation_kind == "config"


@pytest.mark.parametrize(
    "line",
    [
        hba(3, "hostssl", "scram-sha-256", "10.1.0.0", "255.255.0.0"),
        hba(3, "host", "scram-sha-256", "samehost"),
        hba(3, "host", "reject", "0.0.0.0", "0.0.0.0"),
        hba(3, "hostssl", "scram-sha-256", "db.example.com"),
    ],
)
def test_narrow_local_named_and_rejecting_lines_are_quiet(line: HbaRule) -> None:
    assert found(bench(hba_rules=(line,)), "PGT-HBA-006") == []


# ------------------------------------------------------------------------------------------
# Replication


def test_replication_logins() -> None:
    roles = (
        Role("replicator", login=True, replication=True),
        Role("etl", login=True, replication=True, createdb=True),
        Role("dba", login=True, superuser=True, replication=True),  # PGT-ROLE-001's
        Role("standby_group", replication=True),  # cannot log in
    )
    fired = found(bench(roles=roles), "PGT-REPL-001")
    assert [(f.object, f.severity) for f in fired] == [("etl", "medium"), ("replicator", "low")]
    assert fired[1].remediation.startswith('ALTER ROLE "replicator" NOREPLICATION;')
    declared = Policy(roles={"replicator": Role("replicator", login=True, replication=True)})
    assert [f.object for f in found(bench(roles=roles), "PGT-REPL-001", declared)] == ["etl"]


def test_replication_lines() -> None:
    repl = ("replication",)
    plain = hba(3, "host", "scram-sha-256", "192.0.2.0", "255.255.255.0", repl)
    tls = hba(4, "hostssl", "scram-sha-256", "192.0.2.0", "255.255.255.0", repl, ("standby",))
    local = hba(5, "local", "peer", None, None, repl)
    loopback = hba(6, "host", "scram-sha-256", "127.0.0.1", "255.255.255.255", repl)
    s = bench(hba_rules=(plain, tls, local, loopback))
    assert [f.object for f in found(s, "PGT-REPL-002")] == ["pg_hba.conf line 3"]
    assert [f.object for f in found(s, "PGT-REPL-003")] == [
        "pg_hba.conf line 3",
        "pg_hba.conf line 6",
    ]


@pytest.mark.parametrize(
    ("conninfo", "fires"),
    [
        ("host=primary.example port=5432 user=standby password=Hunter2-Secret", True),
        ("host=primary.example user=standby password=Hunter2-Secret sslmode=prefer", True),
        ("postgresql://standby:Hunter2-Secret@primary.example/postgres?sslmode=disable", True),
        ("host=primary password='Hunter2-Secret", True),  # cannot be parsed
        ("host=primary.example user=standby password=Hunter2-Secret sslmode=verify-full", False),
        ("host=primary.example sslmode=require", False),
        ("host=/var/run/postgresql user=standby", False),  # a Unix socket
        ("", False),  # a primary
    ],
)
def test_standby_primary_conninfo(conninfo: str, fires: bool) -> None:
    fired = found(bench(settings={"primary_conninfo": conninfo}), "PGT-REPL-004")
    assert bool(fired) == fires
    for f in fired:
        said = f.seen + f.remediation + f.why
        assert "Hunter2" not in said and "\n" not in f.seen
        assert f.severity == "high" and f.cis is not None and "§7.5" in f.cis


# ------------------------------------------------------------------------------------------
# Accounts


def test_expiry_required_only_with_a_policy_that_sets_one() -> None:
    roles = (
        Role("contractor", login=True),
        Role("temp", login=True),  # VALID UNTIL 'infinity' reads as None
        Role("ok", login=True, valid_until="2026-12-31T00:00:00+00:00"),
        Role("service", login=True),
    )
    policy = Policy(
        roles={
            "contractor": Role("contractor", login=True, valid_until="2026-12-31"),
            "temp": Role("temp", login=True, valid_until="2026-09-30"),
            "ok": Role("ok", login=True, valid_until="2026-12-31"),
            "service": Role("service", login=True),  # no expiry wanted
        }
    )
    s = bench(roles=roles)
    assert found(s, "PGT-ROLE-006") == []  # no policy, nothing says who must expire
    fired = found(s, "PGT-ROLE-006", policy)
    assert [f.object for f in fired] == ["contractor", "temp"]
    assert fired[0].remediation == "ALTER ROLE \"contractor\" VALID UNTIL '2026-12-31';"


def test_connection_limits() -> None:
    roles = (
        *(Role(f"app{i:02}", login=True) for i in range(12)),
        Role("limited", login=True, connection_limit=10),
        Role("group"),
        Role("gone", login=True, valid_until="2026-01-01T00:00:00+00:00"),  # expired
        Role("never", login=True, valid_until="-infinity"),
    )
    f = only(bench(roles=roles), "PGT-ROLE-007")
    assert f.severity == "info" and f.seen.startswith("12 login role(s)")
    assert f.seen.endswith('"app09" and 2 more')
    assert f.remediation.startswith('ALTER ROLE "app00" CONNECTION LIMIT 20;')
    assert found(bench(roles=roles[-4:]), "PGT-ROLE-007") == []


def test_password_complexity_and_auth_delay() -> None:
    bare = {"shared_preload_libraries": "pgaudit"}
    s = bench(settings=bare)
    for id, added in (("PGT-AUTH-004", "credcheck"), ("PGT-AUTH-005", "auth_delay")):
        f = only(s, id)
        assert f.remediation_kind == "config"
        assert f"shared_preload_libraries = '{added}, pgaudit'" in f.remediation
    assert found(bench(settings={"shared_preload_libraries": "passwordcheck, auth_delay, "
                                 "pgaudit"}), "PGT-AUTH-004") == []  # fmt: skip
    # Nobody logs in with a password: nothing to check or slow down.
    peer_only = bench(settings=bare, hba_rules=(LOCAL_PEER,))
    assert found(peer_only, "PGT-AUTH-004") == found(peer_only, "PGT-AUTH-005") == []


def test_authentication_timeout() -> None:
    assert only(bench(settings={"authentication_timeout": "600"}), "PGT-AUTH-006").seen == (
        "authentication_timeout = 600s"
    )
    assert found(bench(settings={"authentication_timeout": "30"}), "PGT-AUTH-006") == []


# ------------------------------------------------------------------------------------------
# Host


@pytest.mark.parametrize(
    ("id", "settings", "severity", "kind"),
    [
        ("PGT-HOST-001", {"data_directory_mode": "0750"}, "low", "shell"),
        ("PGT-HOST-002", {"unix_socket_permissions": "0777"}, "low", "config"),
        ("PGT-HOST-003", {"data_checksums": "off"}, "low", "shell"),
        ("PGT-HOST-005", {"superuser_reserved_connections": "0"}, "low", "sql"),
    ],
)
def test_host_items(id: str, settings: dict[str, str], severity: str, kind: str) -> None:
    f = only(bench(settings=settings), id)
    assert (f.severity, f.remediation_kind) == (severity, kind)


def test_host_items_quiet_on_strict_values() -> None:
    strict = {"unix_socket_permissions": "0700", "superuser_reserved_connections": "5"}
    assert run_checks(bench(settings=strict)) == []


def test_tablespaces_inside_the_data_directory() -> None:
    evil = "ts\nDROP TABLE x; --"
    inside = (
        *TABLESPACES,
        TablespaceInfo(evil, "/srv/pg/16/data/ts"),
        TablespaceInfo("in_place", "pg_tblspc/16390"),  # allow_in_place_tablespaces
        TablespaceInfo("sibling", "/srv/pg/16/data2/ts"),
    )
    fired = found(bench(tablespaces=inside), "PGT-HOST-004")
    assert [f.object for f in fired] == ["in_place", evil]
    [named] = [f for f in fired if f.object == evil]
    assert "\n" not in named.seen and '"ts\\nDROP TABLE x; --"' in named.seen
    assert (
        'ALTER TABLE ALL IN TABLESPACE "ts\nDROP TABLE x; --" SET TABLESPACE' in named.remediation
    )
    # data_directory unreadable (no pg_read_all_settings): nothing claimed.
    s = bench(tablespaces=inside)
    blind = replace(s, settings={k: v for k, v in s.settings.items() if k != "data_directory"})
    assert found(blind, "PGT-HOST-004") == []


# ------------------------------------------------------------------------------------------
# Versions


def test_minor_behind_says_as_of_when() -> None:
    as_of = releases().as_of.isoformat()
    f = only(bench(settings={"server_version_num": "160002"}), "PGT-VER-001")
    assert f.seen == (
        f"server 16.2; the newest 16.x as of {as_of} is 16.{NEWEST_16} "
        f"({NEWEST_16 - 2} minor release(s) behind)"
    )
    assert f.remediation_kind == "shell" and f.severity == "medium"


def test_a_server_newer_than_the_table_is_not_judged() -> None:
    for num in (160000 + NEWEST_16, 160000 + NEWEST_16 + 3, 190001):
        assert found(bench(settings={"server_version_num": str(num)}), "PGT-VER-001") == []


def test_end_of_life_by_the_day_of_collection() -> None:
    thirteen = {"server_version_num": "130023"}
    before = bench(settings=thirteen, collected_at="2025-11-12T23:00:00+00:00")
    after = bench(settings=thirteen, collected_at="2025-11-13T08:00:00+00:00")
    assert found(before, "PGT-VER-002") == []
    f = only(after, "PGT-VER-002")
    assert f.severity == "high" and "ended on 2025-11-13" in f.seen
    assert "14" in f.remediation and "13," not in f.remediation


def test_the_version_table_is_consistent() -> None:
    table = releases()
    assert isinstance(table, Releases) and table.as_of >= date(2025, 11, 13)
    assert set(table.newest) == set(table.end_of_life) >= {13, 14, 15, 16, 17, 18}
    assert versions_module.parse_version_num("180001") == (18, 1)


# ------------------------------------------------------------------------------------------
# Every benchmark check, fired at once

ALL_FIRED = run_checks(
    bench(
        settings={
            "shared_preload_libraries": "pgaudit",
            "pgaudit.log": "none",
            "log_destination": "stderr",
            "logging_collector": "off",
            "log_file_mode": "0666",
            "log_min_messages": "fatal",
            "log_min_error_statement": "log",
            "log_error_verbosity": "terse",
            "log_replication_commands": "off",
            "log_min_duration_statement": "0",
            "ssl_min_protocol_version": "TLSv1.1",
            "ssl_ciphers": "ALL",
            "ssl_prefer_server_ciphers": "off",
            "primary_conninfo": "host=10.0.0.1 user=r password=x",
            "authentication_timeout": "120",
            "data_directory_mode": "0750",
            "unix_socket_permissions": "0777",
            "data_checksums": "off",
            "superuser_reserved_connections": "0",
            "server_version_num": "130001",
        },
        hba_rules=(hba(1, "hostnossl", "scram-sha-256", "0.0.0.0", "0.0.0.0", ("replication",)),),
        roles=(Role("r", login=True, replication=True, valid_until=None),),
        tablespaces=(TablespaceInfo("t", "/srv/pg/16/data/t"),),
    ),
    Policy(roles={"r": Role("r", login=True, valid_until="2027-01-01")}),
)


def test_every_finding_is_one_line_and_says_where_to_apply_it() -> None:
    for f in ALL_FIRED:
        assert f.title and f.seen and f.why and f.remediation, f
        assert "\n" not in f.title + f.seen + f.why, f
        if f.remediation_kind == "sql":
            statements = [x for x in f.remediation.splitlines() if not x.startswith("--")]
            assert all(s.endswith(";") for s in statements), f
