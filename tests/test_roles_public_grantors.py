"""Complete state of grants on real PostgreSQL 15 and 18: what the policy does not grant on
managed objects is drift — PUBLIC's, unlisted roles', other grantors' — and one apply
converges (column grants after a table REVOKE, routines whose identity is not valid SQL)."""

from typing import Any

import pytest

from pgcluster import Cluster
from pgtune.access.apply import apply_changes
from pgtune.access.changes import Change
from pgtune.access.policy.load import parse_policy
from pgtune.access.service import connector, plan_policy

pytestmark = pytest.mark.pg

MAJORS = (15, 18)
SETUP = [
    "CREATE ROLE app_owner",
    "CREATE ROLE reader",
    "CREATE ROLE lead",
    "CREATE ROLE stranger",  # not in the policy
    'CREATE ROLE "PUBLIC"',  # a real role, not the PUBLIC pseudo-role
    "CREATE SCHEMA s AUTHORIZATION app_owner",
    "CREATE TABLE s.t (id int, secret text)",
    "CREATE TABLE s.a1 (x int)",
    'CREATE TABLE s."a[1]" (x int)',
    "ALTER TABLE s.t OWNER TO app_owner",
    "ALTER TABLE s.a1 OWNER TO app_owner",
    'ALTER TABLE s."a[1]" OWNER TO app_owner',
    "CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE FUNCTION s.g() RETURNS int LANGUAGE sql AS 'SELECT 2'",
    "CREATE FUNCTION s.\"f(x)\"(int) RETURNS int LANGUAGE sql AS 'SELECT 3'",
    "CREATE AGGREGATE s.my_pct(float8 ORDER BY float8) (sfunc = ordered_set_transition, "
    "stype = internal, finalfunc = percentile_disc_final, finalfunc_extra)",
    "ALTER FUNCTION s.f() OWNER TO app_owner",
    "ALTER FUNCTION s.g() OWNER TO app_owner",
    'ALTER FUNCTION s."f(x)"(int) OWNER TO app_owner',
    "ALTER AGGREGATE s.my_pct(float8 ORDER BY float8) OWNER TO app_owner",
]
POLICY = """
version: 1
settings: {revoke_public_function_execute: true, unmanaged_roles: %(unmanaged)s}
roles:
  app_owner: {}
  reader: {}
  lead: {}
databases:
  app:
    schemas:
      s: {owner: app_owner}
access:
  - {role: reader, database: app, privileges: {schema: [USAGE]}}
  - {role: lead, database: app, privileges: {schema: [USAGE]}}
  - role: reader
    database: app
    privileges: {table: [SELECT]}
    tables: [t]
    columns: [id]
  - role: reader
    database: app
    privileges: {table: [SELECT]}
    tables: ["a[1]"]
  - role: PUBLIC
    database: app
    privileges: {function: [EXECUTE]}
    functions: [g]
"""


@pytest.fixture(params=MAJORS, ids=[f"pg{m}" for m in MAJORS])
def cluster(request: pytest.FixtureRequest, pg_cluster_factory: Any) -> Cluster:
    cluster: Cluster = pg_cluster_factory(request.param)
    cluster.start()
    with cluster.connect() as conn:
        conn.execute("CREATE DATABASE app")
    with cluster.connect("app") as conn:
        for statement in SETUP:
            conn.execute(statement)
    return cluster


def _dsn(cluster: Cluster) -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname=app user=postgres"


def _plan(cluster: Cluster, unmanaged: str = "revoke") -> list[Change]:
    policy = parse_policy(POLICY % {"unmanaged": unmanaged}, "access.yaml")
    return plan_policy(policy, _dsn(cluster)).changes


def _apply(cluster: Cluster, changes: list[Change]) -> None:
    apply_changes(changes, connector(_dsn(cluster)), "app", env={})


def _acl(cluster: Cluster, query: str) -> Any:
    with cluster.connect("app") as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def _drift(cluster: Cluster, statements: list[str]) -> None:
    with cluster.connect("app") as conn:
        for statement in statements:
            conn.execute(statement)


def _converge(cluster: Cluster, unmanaged: str = "revoke") -> list[Change]:
    """Apply the plan once; the next plan must be empty."""
    changes = _plan(cluster, unmanaged)
    _apply(cluster, changes)
    again = _plan(cluster, unmanaged)
    assert [c.sql_text() for c in again] == [], [c.reason for c in again]
    return changes


def test_public_per_object_is_drift_and_one_apply_converges(cluster: Cluster) -> None:
    _converge(cluster)
    _drift(
        cluster,
        [
            "GRANT EXECUTE ON FUNCTION s.f() TO PUBLIC",
            "GRANT SELECT ON s.t TO PUBLIC",
            "GRANT CREATE ON SCHEMA s TO PUBLIC",
            "GRANT EXECUTE ON FUNCTION s.my_pct(float8, float8) TO PUBLIC",
            'GRANT EXECUTE ON FUNCTION s."f(x)"(int) TO PUBLIC',
        ],
    )
    texts = [c.sql_text() for c in _plan(cluster)]
    for wanted in (
        'REVOKE EXECUTE ON ROUTINE "s"."f"() FROM PUBLIC;',
        'REVOKE SELECT ON TABLE "s"."t" FROM PUBLIC;',
        'REVOKE CREATE ON SCHEMA "s" FROM PUBLIC;',
        # the argument types, not the identity "double precision ORDER BY double precision"
        'REVOKE EXECUTE ON ROUTINE "s"."my_pct"(double precision, double precision) FROM PUBLIC;',
        'REVOKE EXECUTE ON ROUTINE "s"."f(x)"(integer) FROM PUBLIC;',
    ):
        assert wanted in texts, texts
    _converge(cluster)
    assert _acl(cluster, "SELECT has_function_privilege('reader', 's.g()', 'EXECUTE')")
    assert not _acl(cluster, "SELECT has_function_privilege('reader', 's.f()', 'EXECUTE')")


def test_a_role_named_public_is_not_public(cluster: Cluster) -> None:
    _converge(cluster)
    _drift(cluster, ['GRANT SELECT ON s.t TO "PUBLIC"'])
    texts = [c.sql_text() for c in _plan(cluster)]
    assert texts == ['REVOKE SELECT ON TABLE "s"."t" FROM "PUBLIC";'], texts
    reasons = [c.reason for c in _plan(cluster)]
    assert '"PUBLIC"' in reasons[0], reasons
    _converge(cluster)
    role = "(SELECT oid FROM pg_roles WHERE rolname = 'PUBLIC')"
    assert not _acl(cluster, f"SELECT has_table_privilege({role}, 's.t', 'SELECT')")


def test_unmanaged_roles_are_reported_revoked_or_ignored(cluster: Cluster) -> None:
    _converge(cluster)
    _drift(cluster, ["GRANT DELETE ON s.t TO stranger"])
    reported = _plan(cluster, "report")
    assert [c.report_only for c in reported] == [True], [c.reason for c in reported]
    assert "stranger" in reported[0].reason
    _apply(cluster, reported)  # never run
    assert _acl(cluster, "SELECT has_table_privilege('stranger', 's.t', 'DELETE')")
    assert _plan(cluster, "ignore") == []
    _converge(cluster, "revoke")
    assert not _acl(cluster, "SELECT has_table_privilege('stranger', 's.t', 'DELETE')")


def test_grants_from_another_grantor_are_revoked_as_the_grantor(cluster: Cluster) -> None:
    _converge(cluster)
    # lead gets SELECT WITH GRANT OPTION from the owner and passes it on: the owner's plain
    # REVOKE ... FROM stranger would leave stranger's item (granted by lead) in place.
    _drift(
        cluster,
        [
            "GRANT SELECT ON s.a1 TO lead WITH GRANT OPTION",
            "SET ROLE lead",
            "GRANT SELECT ON s.a1 TO stranger",
            "GRANT SELECT ON s.a1 TO reader",
            "RESET ROLE",
        ],
    )
    # reader's SELECT on a1 is not in the policy either (the pattern a[1] names "a[1]" only)
    _converge(cluster)
    acl = _acl(cluster, "SELECT relacl::text FROM pg_class WHERE oid = 's.a1'::regclass")
    assert acl in (None, "{app_owner=arwdDxt/app_owner}", "{app_owner=arwdDxtm/app_owner}"), acl


def test_a_wanted_grant_lost_to_a_cascade_is_granted_back(cluster: Cluster) -> None:
    _converge(cluster)
    with cluster.connect("app") as conn:
        conn.execute('REVOKE SELECT ON s."a[1]" FROM reader')
    _drift(
        cluster,
        [
            'GRANT SELECT ON s."a[1]" TO lead WITH GRANT OPTION',
            "SET ROLE lead",
            'GRANT SELECT ON s."a[1]" TO reader',
            "RESET ROLE",
        ],
    )
    texts = [c.sql_text() for c in _plan(cluster)]
    assert any("CASCADE" in t for t in texts), texts
    _converge(cluster)
    assert _acl(cluster, "SELECT has_table_privilege('reader', 's.\"a[1]\"', 'SELECT')")
    assert not _acl(cluster, "SELECT has_table_privilege('lead', 's.\"a[1]\"', 'SELECT')")


def test_column_grants_survive_the_table_revoke_in_one_apply(cluster: Cluster) -> None:
    _converge(cluster)
    _drift(cluster, ["GRANT SELECT ON s.t TO reader"])  # table-wide: beyond the policy
    _converge(cluster)
    assert _acl(cluster, "SELECT has_column_privilege('reader', 's.t', 'id', 'SELECT')")
    assert not _acl(cluster, "SELECT has_column_privilege('reader', 's.t', 'secret', 'SELECT')")
