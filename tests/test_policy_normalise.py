"""Shorthand and long forms become one canonical Policy; defaults are filled in."""

from pathlib import Path

from pgtune.access.model import Membership, RlsPolicy, Role, TableRef
from pgtune.access.policy import (
    BUILTIN_PROFILES,
    AccessEntry,
    DatabaseSpec,
    Pattern,
    PolicySettings,
    Privileges,
    RlsSpec,
    SchemaSpec,
    load_policy,
    parse_policy,
)

POLICIES = Path(__file__).parent / "data" / "policies"


def test_shorthand_and_longhand_files_give_the_same_policy() -> None:
    short = load_policy(POLICIES / "shorthand.yaml")
    long = load_policy(POLICIES / "longhand.yaml")
    assert short == long


def test_shorthand_normalises_to_the_documented_canonical_form() -> None:
    policy = load_policy(POLICIES / "shorthand.yaml")
    assert policy.settings == PolicySettings()
    assert policy.roles == {
        "owner": Role("owner"),
        "app": Role("app", login=True, settings=(("jit", "false"), ("work_mem", "64MB"))),
        "app_rw": Role("app_rw"),
        "watcher": Role("watcher", login=True),
    }
    # member_of and the monitoring profile both become Memberships, sorted.
    assert policy.memberships == (
        Membership("app_rw", "app"),
        Membership("pg_monitor", "watcher"),
        Membership("pg_read_all_stats", "app"),
    )
    assert policy.databases == {
        "app": DatabaseSpec(
            "app",
            revoke_public=("CONNECT", "TEMPORARY"),  # TEMP is TEMPORARY, in PostgreSQL's order
            schemas={"sales": SchemaSpec("sales"), "public": SchemaSpec("public", ("CREATE",))},
        )
    }
    readwrite = Privileges(
        database=("CONNECT",),
        schema=("USAGE",),
        table=("SELECT", "INSERT", "UPDATE", "DELETE"),
        sequence=("USAGE", "SELECT"),
        function=("EXECUTE",),
    )
    assert policy.access == (
        AccessEntry("app_rw", "app", readwrite, schemas=("public", "sales")),
        AccessEntry("watcher", "app", Privileges(database=("CONNECT",)), ("public", "sales")),
    )
    orders = TableRef("app", "sales", "orders")
    assert policy.rls == (
        RlsSpec(
            orders,
            enable=True,
            force=False,
            policies=(
                RlsPolicy(orders, "by_tenant", roles=("app", "app_rw"), using="tenant_id = 1"),
            ),
        ),
    )
    assert policy.profiles == BUILTIN_PROFILES
    assert policy.default_owners == ()


def test_built_in_profiles_follow_the_documented_table() -> None:
    assert BUILTIN_PROFILES["readonly"].privileges == Privileges(
        ("CONNECT",), ("USAGE",), ("SELECT",), ("SELECT",)
    )
    assert BUILTIN_PROFILES["owner"].privileges == Privileges(
        ("CONNECT", "TEMPORARY"), ("USAGE", "CREATE")
    )
    assert BUILTIN_PROFILES["monitoring"].member_of == ("pg_monitor",)
    assert BUILTIN_PROFILES["monitoring"].privileges == Privileges(("CONNECT",))


def test_profile_and_explicit_privileges_are_merged() -> None:
    policy = parse_policy(
        "version: 1\nroles: {a: {}}\ndatabases: {db: {schemas: {s: {}}}}\n"
        "profiles:\n  rep: {table: [SELECT], member_of: [pg_read_all_stats]}\n"
        "access:\n  - role: a\n    database: db\n    profile: rep\n"
        "    privileges: {table: [INSERT, SELECT], database: [TEMP]}\n",
        "p.yaml",
    )
    (entry,) = policy.access
    assert entry.privileges == Privileges(database=("TEMPORARY",), table=("SELECT", "INSERT"))
    assert entry.profile == "rep"
    assert policy.memberships == (Membership("pg_read_all_stats", "a"),)


def test_a_written_membership_wins_over_the_one_a_profile_brings() -> None:
    policy = parse_policy(
        "version: 1\nroles: {m: {login: true}}\ndatabases: {db: {}}\n"
        "memberships: [{group: pg_monitor, member: m, admin: true}]\n"
        "access: [{role: m, database: db, profile: monitoring}]\n",
        "p.yaml",
    )
    assert policy.memberships == (Membership("pg_monitor", "m", admin=True),)


def test_patterns_columns_and_lines() -> None:
    text = (
        "version: 1\n"  # 1
        "roles: {a: {}}\n"  # 2
        "databases: {db: {schemas: {s: {}}}}\n"  # 3
        "access:\n"  # 4
        "  - role: a\n"  # 5
        "    database: db\n"  # 6
        "    privileges: {table: [SELECT, UPDATE]}\n"  # 7
        "    tables:\n"  # 8
        "      - orders\n"  # 9
        "      - 'order_*'\n"  # 10
        "    columns: [name, id]\n"  # 11
    )
    (entry,) = parse_policy(text, "p.yaml").access
    assert entry.tables == (Pattern("order_*"), Pattern("orders"))
    assert [p.line for p in entry.tables] == [10, 9]
    assert entry.columns == ("id", "name")
    assert entry.line == 5
    assert entry.sequences == (Pattern("*"),)


def test_valid_until_forms() -> None:
    def valid_until(value: str) -> str | None:
        policy = parse_policy(f"version: 1\nroles:\n  a: {{valid_until: '{value}'}}\n", "p.yaml")
        return policy.roles["a"].valid_until

    assert valid_until("2027-01-01T00:00:00Z") == "2027-01-01T00:00:00+00:00"
    assert valid_until("2027-01-01T02:00:00+02:00") == "2027-01-01T00:00:00+00:00"
    assert valid_until("2027-01-01") == "2027-01-01T00:00:00+00:00"  # a date: midnight UTC
    assert valid_until("infinity") is None


def test_dotted_table_names_may_quote_parts() -> None:
    policy = parse_policy(
        "version: 1\ndatabases: {app: {}}\n"
        'rls:\n  - table: \'app."my.schema"."Order ""Lines"""\'\n',
        "p.yaml",
    )
    assert policy.rls[0].table == TableRef("app", "my.schema", 'Order "Lines"')


def test_identifiers_keep_their_case() -> None:
    policy = parse_policy("version: 1\nroles:\n  App: {}\n  app: {member_of: [App]}\n", "p.yaml")
    assert set(policy.roles) == {"App", "app"}
    assert policy.memberships == (Membership("App", "app"),)


def test_lines_do_not_take_part_in_equality() -> None:
    a = parse_policy("version: 1\nroles: {a: {}}\n", "one.yaml")
    b = parse_policy("# moved down\n\nversion: 1\nroles:\n  a: {}\n", "two.yaml")
    assert a == b
    assert a.line("role", "a") == 2
    assert b.line("role", "a") == 5
