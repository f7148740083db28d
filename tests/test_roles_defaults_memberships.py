"""Default privileges, memberships, settings and apply on real PostgreSQL 15 and 18 (issue 10,
section 3): each test failed on the code before it."""

import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from pgcluster import Cluster
from pgtune.access.apply import ApplyError, apply_changes
from pgtune.access.changes import CREATE_ROLES, MEMBERSHIPS, Change
from pgtune.access.model import ClusterState, Role
from pgtune.access.plan import diff
from pgtune.access.policy.load import parse_policy
from pgtune.access.service import connector, plan_policy
from pgtune.cli.app import app

pytestmark = pytest.mark.pg

MAJORS = (15, 18)
runner = CliRunner()


@pytest.fixture(params=MAJORS, ids=[f"pg{m}" for m in MAJORS])
def cluster(request: pytest.FixtureRequest, pg_cluster_factory: Any) -> Cluster:
    c: Cluster = pg_cluster_factory(request.param)
    c.start()
    with c.connect() as conn:
        conn.execute("CREATE DATABASE app")
    return c


def dsn_of(cluster: Cluster, db: str = "app") -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname={db} user=postgres"


def run(cluster: Cluster, *statements: str, db: str = "app", user: str | None = None) -> None:
    with cluster.connect(db, **({"user": user} if user else {})) as conn:
        conn.autocommit = True
        for s in statements:
            conn.execute(s)  # type: ignore[call-overload]


def rows(cluster: Cluster, query: str, db: str = "app") -> list[tuple[Any, ...]]:
    with cluster.connect(db) as conn:
        return conn.execute(query).fetchall()  # type: ignore[call-overload,no-any-return]


def roles_cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["roles", *args], env=env or {})


def write(tmp_path: Path, text: str, name: str = "access.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def plan_sql(cluster: Cluster, policy: Path, **kw: Any) -> list[str]:
    document = parse_policy(policy.read_text(), str(policy))
    return [c.sql_text() for c in plan_policy(document, dsn_of(cluster), **kw).changes]


def apply(cluster: Cluster, policy: Path, env: dict[str, str] | None = None, **kw: Any) -> int:
    document = parse_policy(policy.read_text(), str(policy))
    planned = plan_policy(document, dsn_of(cluster), **kw)
    return apply_changes(planned.changes, connector(dsn_of(cluster)), planned.first_db, env or {})


DEFAULT_ACL = """
    SELECT defaclrole::regrole::text, defaclnamespace::regnamespace::text, defaclobjtype::text,
           defaclacl::text
    FROM pg_default_acl ORDER BY 1, 2, 3
"""

OWNER_POLICY = """\
    version: 1
    roles: {o: {}, r: {}}
    databases: {app: {schemas: {s: {}}}}
    access:
      - {role: r, database: app, schemas: [s], privileges: {schema: [USAGE], table: [SELECT]}}
    default_privileges: {owners: [o]}
"""


def _owner_setup(cluster: Cluster) -> None:
    run(
        cluster,
        "CREATE ROLE o",
        "CREATE ROLE r",
        "CREATE SCHEMA s",
        "GRANT USAGE ON SCHEMA s TO r",
        "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s GRANT SELECT ON TABLES TO r",
    )


def test_per_schema_default_privileges_to_public_are_revoked(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _owner_setup(cluster)
    run(cluster, "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s GRANT INSERT ON TABLES TO PUBLIC")
    policy = write(tmp_path, OWNER_POLICY)
    assert plan_sql(cluster, policy) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "o" IN SCHEMA "s" REVOKE INSERT ON TABLES FROM PUBLIC;'
    ]
    apply(cluster, policy)
    assert rows(cluster, DEFAULT_ACL) == [("o", "s", "r", "{r=r/o}")]
    assert plan_sql(cluster, policy) == []


def test_default_grant_option_is_taken_away_once(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _owner_setup(cluster)
    run(
        cluster,
        "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s GRANT SELECT ON TABLES TO r "
        "WITH GRANT OPTION",
    )
    policy = write(tmp_path, OWNER_POLICY)
    assert plan_sql(cluster, policy) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "o" IN SCHEMA "s" REVOKE GRANT OPTION FOR SELECT '
        'ON TABLES FROM "r";'
    ]
    apply(cluster, policy)
    assert rows(cluster, DEFAULT_ACL) == [("o", "s", "r", "{r=r/o}")]
    assert plan_sql(cluster, policy) == []


def test_a_server_warning_fails_apply_and_rolls_back(cluster) -> None:  # type: ignore[no-untyped-def]
    run(cluster, "CREATE ROLE g", "CREATE ROLE m")
    changes = [
        Change(None, CREATE_ROLES, sql.SQL("CREATE ROLE zz"), "new role"),
        # m is not a member of g: the server only warns, nothing is revoked
        Change(None, MEMBERSHIPS, sql.SQL("REVOKE g FROM m"), "not a member"),
    ]
    with pytest.raises(ApplyError) as caught:
        apply_changes(changes, connector(dsn_of(cluster)), "app", {})
    assert "warned" in str(caught.value) and "nothing was changed" in str(caught.value)
    assert caught.value.exit_code == 6
    assert rows(cluster, "SELECT 1 FROM pg_roles WHERE rolname = 'zz'") == []


MEMBER_POLICY = """\
    version: 1
    settings: {unmanaged_roles: %s}
    roles: {g: {}, m: {login: true}}
    databases: {app: {}}
"""


def test_a_membership_granted_by_a_createrole_role_is_revoked(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run(
        cluster,
        "CREATE ROLE g",
        "CREATE ROLE m LOGIN",
        "CREATE ROLE creator LOGIN CREATEROLE",
        "GRANT g TO creator WITH ADMIN OPTION",
    )
    run(cluster, "GRANT g TO m", user="creator")
    policy = write(tmp_path, MEMBER_POLICY % "ignore")
    planned = plan_sql(cluster, policy)
    if cluster.major >= 16:
        assert planned == ['REVOKE "g" FROM "m" GRANTED BY "creator";']
    else:
        assert planned == ['REVOKE "g" FROM "m";']
    apply(cluster, policy)
    assert rows(cluster, "SELECT 1 FROM pg_auth_members WHERE member = 'm'::regrole") == []
    assert plan_sql(cluster, policy) == []


def test_unmanaged_members_of_managed_groups_are_reported_or_revoked(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run(
        cluster,
        "CREATE ROLE g",
        "CREATE ROLE m LOGIN",
        "CREATE ROLE stranger",
        "GRANT g TO stranger",
    )
    report = write(tmp_path, MEMBER_POLICY % "report", "report.yaml")
    document = parse_policy(report.read_text(), "report.yaml")
    planned = plan_policy(document, dsn_of(cluster)).changes
    assert [(c.report_only, c.reason) for c in planned] == [
        (
            True,
            '"stranger", a role the policy does not list, is a member of "g" '
            "(unmanaged_roles: report)",
        )
    ]
    out = roles_cli("plan", "--policy", str(report), "--dsn", dsn_of(cluster), "--check")
    assert out.exit_code == 1
    assert apply(cluster, report) == 0  # shown, never run
    member = "SELECT 1 FROM pg_auth_members WHERE member = 'stranger'::regrole"
    assert rows(cluster, member) == [(1,)]
    assert plan_sql(cluster, write(tmp_path, MEMBER_POLICY % "ignore", "ignore.yaml")) == []
    revoke = write(tmp_path, MEMBER_POLICY % "revoke", "revoke.yaml")
    apply(cluster, revoke)
    assert rows(cluster, member) == []
    assert plan_sql(cluster, revoke) == []


def test_default_privileges_to_unlisted_roles_follow_unmanaged_roles(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run(
        cluster,
        "CREATE ROLE app_owner",
        "CREATE ROLE mallory LOGIN",
        'CREATE ROLE "PUBLIC"',
        "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public"
        " GRANT SELECT, UPDATE ON TABLES TO mallory",
        'ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT USAGE ON SEQUENCES TO "PUBLIC"',
    )
    text = """\
        version: 1
        settings: {unmanaged_roles: %s}
        roles: {app_owner: {}}
        databases: {app: {schemas: {public: {}}}}
        default_privileges: {owners: [app_owner]}
    """
    ignore = write(tmp_path, text % "ignore", "ignore.yaml")
    assert plan_sql(cluster, ignore) == []
    report = write(tmp_path, text % "report", "report.yaml")
    document = parse_policy(report.read_text(), "report.yaml")
    assert [c.report_only for c in plan_policy(document, dsn_of(cluster)).changes] == [True, True]
    revoke = write(tmp_path, text % "revoke", "revoke.yaml")
    assert plan_sql(cluster, revoke) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner" REVOKE USAGE ON SEQUENCES FROM "PUBLIC";',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner" IN SCHEMA "public" REVOKE SELECT, UPDATE'
        ' ON TABLES FROM "mallory";',
    ]
    apply(cluster, revoke)
    assert plan_sql(cluster, revoke) == []
    assert rows(cluster, "SELECT 1 FROM pg_default_acl") == []


def test_only_the_grant_create_role_makes_is_creation_bookkeeping(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """16+: a CREATEROLE role that creates a role gets ADMIN on it (granted by the bootstrap
    superuser, no INHERIT / SET): not reported, IN ROLE clauses or not. The same grant made
    later by a superuser is recorded the same way but is a member the policy does not list."""
    if cluster.major < 16:
        pytest.skip("no implicit ADMIN grant before PostgreSQL 16")
    run(
        cluster,
        "CREATE ROLE creator LOGIN CREATEROLE",
        "CREATE ROLE mallory LOGIN CREATEROLE",
        "GRANT pg_monitor TO creator WITH ADMIN TRUE",
    )
    run(cluster, "CREATE ROLE m LOGIN IN ROLE pg_monitor", "CREATE ROLE n", user="creator")
    run(cluster, "GRANT n TO mallory WITH ADMIN TRUE, INHERIT FALSE, SET FALSE")
    policy = write(
        tmp_path,
        """\
        version: 1
        settings: {unmanaged_roles: revoke}
        roles: {m: {login: true, member_of: [pg_monitor]}, n: {}}
        databases: {app: {}}
        """,
    )
    # creator's ADMIN on m and n is bookkeeping; the same grant to mallory is not
    assert plan_sql(cluster, policy) == ['REVOKE "n" FROM "mallory" GRANTED BY "postgres";']
    apply(cluster, policy)
    assert plan_sql(cluster, policy) == []
    creator = "SELECT roleid::regrole::text FROM pg_auth_members WHERE member = 'creator'::regrole"
    assert sorted(rows(cluster, creator)) == [("m",), ("n",), ("pg_monitor",)]


def test_list_settings_survive_export_and_apply(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run(
        cluster,
        "CREATE ROLE r LOGIN",
        "CREATE SCHEMA app",
        """ALTER ROLE r SET search_path = app, "$user", public, "Odd, name\"""",
    )
    exported = tmp_path / "exported.yaml"
    out = roles_cli("export", "--dsn", dsn_of(cluster), "--database", "app", "-o", str(exported))
    assert out.exit_code == 0, out.output
    with cluster.connect("app", user="r") as conn:
        original = conn.execute("SHOW search_path").fetchone()
    run(cluster, "ALTER ROLE r RESET search_path")
    apply(cluster, exported)
    with cluster.connect("app", user="r") as conn:
        assert conn.execute("SHOW search_path").fetchone() == original
    assert plan_sql(cluster, exported) == []


def test_connection_limit_is_an_integer_literal() -> None:
    changes = diff(
        ClusterState(roles={"r": Role("r", connection_limit=5)}),
        ClusterState(roles={"r": Role("r")}),
        __import__("pgtune.access.model", fromlist=["Scope"]).Scope(),
        major=16,
    )
    assert [c.sql_text() for c in changes] == ['ALTER ROLE "r" WITH CONNECTION LIMIT -1;']


def test_sql_format_prints_runnable_statements_for_passwords(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = write(
        tmp_path,
        """\
        version: 1
        roles: {r: {login: true, password_env: R_PW}}
        databases: {app: {}}
        """,
    )
    out = roles_cli("plan", "--policy", str(policy), "--dsn", dsn_of(cluster), "--format", "sql")
    assert out.exit_code == 0, out.output
    assert "<from" not in out.stdout
    script = tmp_path / "plan.sql"
    script.write_text(out.stdout)
    with psycopg.connect(dsn_of(cluster), autocommit=True) as conn:
        for line in out.stdout.splitlines():
            if line.startswith(("CREATE", "ALTER")):
                conn.execute(line)  # type: ignore[call-overload]
    assert rows(cluster, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'r'") == [(True,)]


def test_set_passwords_sets_the_password_of_an_existing_role(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run(cluster, "CREATE ROLE r LOGIN")
    policy = write(
        tmp_path,
        """\
        version: 1
        roles: {r: {login: true, password_env: R_PW}}
        databases: {app: {}}
        """,
    )
    assert plan_sql(cluster, policy) == []
    assert len(plan_sql(cluster, policy, set_passwords=True)) == 1
    apply(cluster, policy, {"R_PW": "s3cret"}, set_passwords=True)
    hashed = "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'r'"
    assert rows(cluster, hashed) == [(True,)]


def test_a_missing_database_is_an_invalid_policy(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = write(
        tmp_path,
        """\
        version: 1
        roles: {r: {}}
        databases: {nope: {}}
        """,
    )
    out = roles_cli("plan", "--policy", str(policy), "--dsn", dsn_of(cluster))
    assert out.exit_code == 3, out.output
    assert "nope" in out.stderr
    both = write(tmp_path, "version: 1\ndatabases: {app: {}, nope: {}}\n", "both.yaml")
    out = roles_cli("plan", "--policy", str(both), "--dsn", dsn_of(cluster))
    assert out.exit_code == 3, out.output


def test_several_owners_default_privileges_survive_export_and_apply(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run(
        cluster,
        "CREATE ROLE o1",
        "CREATE ROLE o2",
        "CREATE ROLE r",
        "CREATE SCHEMA s",
        "CREATE SCHEMA s2",
        "CREATE TABLE s.t0 (i int)",  # r may not read it: no '*' entry describes r
        "GRANT USAGE ON SCHEMA s, s2 TO r",
        "ALTER DEFAULT PRIVILEGES FOR ROLE o1 IN SCHEMA s GRANT SELECT ON TABLES TO r",
        "ALTER DEFAULT PRIVILEGES FOR ROLE o2 IN SCHEMA s GRANT SELECT ON TABLES TO r",
        "ALTER DEFAULT PRIVILEGES FOR ROLE o2 IN SCHEMA s2 GRANT INSERT ON TABLES TO r",
    )
    before = rows(cluster, DEFAULT_ACL)
    exported = tmp_path / "exported.yaml"
    out = roles_cli("export", "--dsn", dsn_of(cluster), "--database", "app", "-o", str(exported))
    assert out.exit_code == 0, out.output
    assert plan_sql(cluster, exported) == []
    apply(cluster, exported)
    assert rows(cluster, DEFAULT_ACL) == before
