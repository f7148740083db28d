"""The diff on hand-built states: exactly the statements that converge them, nothing more."""

from dataclasses import replace

from pgtune.access.model import (
    PUBLIC,
    ClusterState,
    DefaultPrivilege,
    Grant,
    Membership,
    ObjectRef,
    RlsPolicy,
    RlsTable,
    Role,
    Scope,
    TableRef,
)
from pgtune.access.plan import diff

DB = "app"
ORDERS = TableRef(DB, "sales", "orders")
T_ORDERS = ObjectRef("table", DB, "sales", "orders")
SCOPE = Scope(
    roles=frozenset({"app", "analyst", "owner"}),
    databases=frozenset({DB}),
    schemas=frozenset({(DB, "sales")}),
    rls_tables=frozenset({ORDERS}),
)


def sqls(
    live: ClusterState, desired: ClusterState, scope: Scope = SCOPE, major: int = 16
) -> list[str]:
    return [c.sql_text() for c in diff(live, desired, scope, major=major)]


def test_equal_states_need_nothing() -> None:
    state = ClusterState(
        roles={"app": Role("app", login=True)},
        grants=frozenset({Grant(T_ORDERS, "app", "SELECT")}),
        memberships=frozenset({Membership("owner", "app")}),
    )
    assert sqls(state, state) == []


def test_new_role_with_attributes_and_password_from_environment() -> None:
    want = ClusterState(
        roles={
            "app": Role(
                "app",
                login=True,
                connection_limit=5,
                password_env="APP_PW",
                settings=(("work_mem", "8MB"),),
            )
        }
    )
    out = sqls(ClusterState(), want)
    assert out[0].startswith('CREATE ROLE "app" WITH LOGIN NOSUPERUSER')
    assert "CONNECTION LIMIT 5" in out[0]
    assert out[0].endswith(
        "CONNECTION LIMIT 5;  -- PASSWORD from $APP_PW: set by pgtune apply (not printed)"
    )
    assert out[1] == 'ALTER ROLE "app" SET "work_mem" = \'8MB\';'


def test_only_changed_attributes_are_altered() -> None:
    have = ClusterState(roles={"app": Role("app", login=True, bypassrls=True)})
    want = ClusterState(roles={"app": Role("app", login=True)})
    assert sqls(have, want) == ['ALTER ROLE "app" WITH NOBYPASSRLS;']


def test_grants_revoke_extra_and_add_missing_on_managed_objects_only() -> None:
    other_schema = ObjectRef("table", DB, "hr", "salaries")
    have = ClusterState(
        grants=frozenset(
            {
                Grant(T_ORDERS, "analyst", "SELECT"),
                Grant(T_ORDERS, "analyst", "DELETE"),  # stray
                Grant(other_schema, "analyst", "SELECT"),  # schema not managed: left alone
                Grant(T_ORDERS, "stranger", "SELECT"),  # role not managed: left alone
                Grant(T_ORDERS, PUBLIC, "SELECT"),  # PUBLIC only when the policy revokes it
            }
        )
    )
    want = ClusterState(
        grants=frozenset(
            {
                Grant(T_ORDERS, "analyst", "SELECT"),
                Grant(T_ORDERS, "app", "INSERT"),
                Grant(T_ORDERS, "app", "SELECT"),
            }
        )
    )
    assert sqls(have, want) == [
        'REVOKE DELETE ON TABLE "sales"."orders" FROM "analyst";',
        'GRANT INSERT, SELECT ON TABLE "sales"."orders" TO "app";',
    ]


def test_public_revocations_come_from_the_scope() -> None:
    connect = ObjectRef("database", DB)
    have = ClusterState(
        grants=frozenset({Grant(connect, PUBLIC, "CONNECT"), Grant(connect, PUBLIC, "TEMPORARY")})
    )
    scope = (
        replace(SCOPE)
        if not hasattr(SCOPE, "public_revocations")
        else replace(SCOPE, public_revocations=frozenset({Grant(connect, PUBLIC, "CONNECT")}))
    )
    if hasattr(scope, "public_revocations"):
        assert sqls(have, ClusterState(), scope) == [
            'REVOKE CONNECT ON DATABASE "app" FROM PUBLIC;'
        ]
    assert sqls(have, ClusterState()) == []


def test_grant_option_changes() -> None:
    have = ClusterState(grants=frozenset({Grant(T_ORDERS, "app", "SELECT", grantable=True)}))
    want = ClusterState(grants=frozenset({Grant(T_ORDERS, "app", "SELECT")}))
    assert sqls(have, want) == [
        'REVOKE GRANT OPTION FOR SELECT ON TABLE "sales"."orders" FROM "app";'
    ]
    assert sqls(want, have) == [
        'GRANT SELECT ON TABLE "sales"."orders" TO "app" WITH GRANT OPTION;'
    ]


def test_columns_functions_and_sequences_are_addressed_correctly() -> None:
    col = ObjectRef("column", DB, "sales", "orders", column="total amount")
    fn = ObjectRef("function", DB, "sales", "tax", args="amount numeric, region text")
    seq = ObjectRef("sequence", DB, "sales", "orders_id_seq")
    want = ClusterState(
        grants=frozenset(
            {
                Grant(col, "analyst", "SELECT"),
                Grant(fn, "app", "EXECUTE"),
                Grant(seq, "app", "USAGE"),
            }
        )
    )
    out = sqls(ClusterState(), want)
    assert 'GRANT SELECT ("total amount") ON TABLE "sales"."orders" TO "analyst";' in out
    assert 'GRANT EXECUTE ON ROUTINE "sales"."tax"(amount numeric, region text) TO "app";' in out
    assert 'GRANT USAGE ON SEQUENCE "sales"."orders_id_seq" TO "app";' in out


def test_memberships_with_pg16_options_and_before() -> None:
    want = ClusterState(
        memberships=frozenset({Membership("readers", "app", inherit=True, set=False)})
    )
    assert sqls(ClusterState(), want) == [
        'GRANT "readers" TO "app" WITH ADMIN FALSE, INHERIT TRUE, SET FALSE;'
    ]
    assert sqls(
        ClusterState(),
        ClusterState(memberships=frozenset({Membership("readers", "app")})),
        major=15,
    ) == ['GRANT "readers" TO "app";']
    stray = ClusterState(memberships=frozenset({Membership("pg_write_all_data", "app")}))
    assert sqls(stray, ClusterState()) == ['REVOKE "pg_write_all_data" FROM "app";']
    # an unmanaged member's memberships are not ours to touch
    other = ClusterState(memberships=frozenset({Membership("readers", "stranger")}))
    assert sqls(other, ClusterState()) == []


def test_default_privileges_for_managed_owners() -> None:
    dp = DefaultPrivilege(DB, "owner", "sales", "tables", "analyst", "SELECT")
    assert sqls(ClusterState(), ClusterState(default_privileges=frozenset({dp}))) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "sales" GRANT SELECT ON TABLES '
        'TO "analyst";'
    ]
    assert sqls(ClusterState(default_privileges=frozenset({dp})), ClusterState()) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "sales" REVOKE SELECT ON TABLES '
        'FROM "analyst";'
    ]


TENANT = "tenant_id = current_setting('app.tenant', true)::int"
SERVER_FORM = "(tenant_id = (current_setting('app.tenant'::text, true))::integer)"


def _policy(**kw: object) -> RlsPolicy:
    base = RlsPolicy(ORDERS, "tenant", roles=("app",), using=TENANT, with_check=TENANT)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_rls_flags_and_policies() -> None:
    want = ClusterState(
        rls_tables={ORDERS: RlsTable(ORDERS, True, True)}, policies={(ORDERS, "tenant"): _policy()}
    )
    out = sqls(ClusterState(rls_tables={ORDERS: RlsTable(ORDERS, False, False)}), want)
    assert out == [
        'ALTER TABLE "sales"."orders" ENABLE ROW LEVEL SECURITY;',
        'ALTER TABLE "sales"."orders" FORCE ROW LEVEL SECURITY;',
        'CREATE POLICY "tenant" ON "sales"."orders" AS PERMISSIVE FOR ALL TO "app" '
        f"USING ({TENANT}) WITH CHECK ({TENANT});",
    ]


def test_server_rewritten_expressions_are_not_drift() -> None:
    live = ClusterState(
        policies={(ORDERS, "tenant"): _policy(using=SERVER_FORM, with_check=SERVER_FORM)}
    )
    want = ClusterState(policies={(ORDERS, "tenant"): _policy()})
    assert sqls(live, want) == []


def test_changed_expression_alters_changed_command_recreates() -> None:
    live = ClusterState(policies={(ORDERS, "tenant"): _policy(using="true")})
    want = ClusterState(policies={(ORDERS, "tenant"): _policy()})
    assert sqls(live, want) == [f'ALTER POLICY "tenant" ON "sales"."orders" USING ({TENANT});']
    live = ClusterState(policies={(ORDERS, "tenant"): _policy(command="SELECT")})
    out = sqls(live, want)
    assert out[0] == 'DROP POLICY "tenant" ON "sales"."orders";'
    assert out[1].startswith('CREATE POLICY "tenant"')
    restrictive = sqls(
        live,
        ClusterState(policies={(ORDERS, "tenant"): _policy(permissive=False, command="SELECT")}),
    )
    assert restrictive[1].startswith('CREATE POLICY "tenant" ON "sales"."orders" AS RESTRICTIVE')


def test_identifiers_are_quoted_by_psycopg() -> None:
    name = 'we"ird Name'
    want = ClusterState(roles={name: Role(name)})
    assert sqls(ClusterState(), want)[0].startswith('CREATE ROLE "we""ird Name" WITH NOLOGIN')


def test_injection_through_an_expression_is_refused() -> None:
    import pytest

    from pgtune.access.expressions import ExpressionError

    want = ClusterState(policies={(ORDERS, "tenant"): _policy(using="true) ; DROP TABLE x; --")})
    with pytest.raises(ExpressionError):
        sqls(ClusterState(), want)
