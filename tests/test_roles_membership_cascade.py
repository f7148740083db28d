"""Memberships a role granted on with its ADMIN OPTION, on real PostgreSQL 15 and 18.

From 16 PostgreSQL records who granted a membership, and a grant made with ADMIN OPTION
depends on it: revoking the holder's membership (or only its ADMIN OPTION) fails with
"dependent privileges exist" unless it says CASCADE, which takes the dependent grants too.
The plan says CASCADE there, and grants back in the same plan what the cascade takes that the
policy keeps. Before 16 nothing records the dependency: the plain REVOKE works and the
dependent membership stays. Each scenario failed at apply on PostgreSQL 18 before the change
(the plan revoked without CASCADE), or left a grant hanging on an ADMIN OPTION that was gone.
"""

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from pgcluster import Cluster
from pgtune.access.apply import apply_changes
from pgtune.access.catalog import inspect_cluster
from pgtune.access.changes import Change
from pgtune.access.model import MembershipGrant
from pgtune.access.policy.load import parse_policy
from pgtune.access.service import connector, plan_policy

pytestmark = pytest.mark.pg

MAJORS = (15, 18)
# Names a hostile member of the cluster could pick: statements quote them, reasons escape them.
ALICE = 'al"ice\nDROP ROLE bob; --'


@pytest.fixture(params=MAJORS, ids=[f"pg{m}" for m in MAJORS])
def cluster(request: pytest.FixtureRequest, pg_cluster_factory: Any) -> Cluster:
    c: Cluster = pg_cluster_factory(request.param)
    c.start()
    with c.connect() as conn:
        conn.execute("CREATE DATABASE app")
    return c


def dsn_of(cluster: Cluster) -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname=app user=postgres"


def run(cluster: Cluster, *statements: str) -> None:
    with cluster.connect("app") as conn:
        conn.autocommit = True
        for s in statements:
            conn.execute(s)  # type: ignore[call-overload]


def rows(cluster: Cluster, query: str) -> list[tuple[Any, ...]]:
    with cluster.connect("app") as conn:
        return conn.execute(query).fetchall()  # type: ignore[call-overload,no-any-return]


def q(name: str) -> str:
    return sql.Identifier(name).as_string(None)


def setup(cluster: Cluster, alice: str = "alice") -> None:
    """alice holds grp WITH ADMIN OPTION (granted by postgres) and granted it to bob."""
    run(
        cluster,
        "CREATE ROLE grp",
        f"CREATE ROLE {q(alice)}",
        "CREATE ROLE bob",
        f"GRANT grp TO {q(alice)} WITH ADMIN OPTION",
        f"SET ROLE {q(alice)}",
        "GRANT grp TO bob",
        "RESET ROLE",
    )


def policy(tmp_path: Path, roles: list[str], memberships: list[dict[str, Any]]) -> Path:
    path = tmp_path / "access.yaml"
    document = {
        "version": 1,
        "settings": {"unmanaged_roles": "revoke"},
        "roles": {name: {} for name in ["grp", *roles]},
        "databases": {"app": {}},
        "memberships": memberships,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def member(name: str, **options: Any) -> dict[str, Any]:
    return {"group": "grp", "member": name, **options}


def plan(cluster: Cluster, path: Path) -> list[Change]:
    document = parse_policy(path.read_text(), str(path))
    return plan_policy(document, dsn_of(cluster)).changes


def apply(cluster: Cluster, path: Path) -> int:
    document = parse_policy(path.read_text(), str(path))
    planned = plan_policy(document, dsn_of(cluster))
    return apply_changes(planned.changes, connector(dsn_of(cluster)), planned.first_db, {})


MEMBERS = """
    SELECT m.rolname, a.admin_option, g.rolname
    FROM pg_auth_members a
    JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.grantor
    WHERE a.roleid = 'grp'::regrole ORDER BY 1, 3
"""
# 16+: grants whose grantor (other than the bootstrap superuser) no longer holds ADMIN OPTION
# on the group: a dependency PostgreSQL lost track of (DROP ROLE of the grantor fails on it).
HANGING = """
    SELECT a.member::regrole::text, a.grantor::regrole::text
    FROM pg_auth_members a
    WHERE a.roleid = 'grp'::regrole AND a.grantor <> 10 AND NOT EXISTS (
        SELECT 1 FROM pg_auth_members h
        WHERE h.roleid = a.roleid AND h.member = a.grantor AND h.admin_option)
"""


def test_what_the_server_does_with_a_plain_revoke(cluster: Cluster) -> None:
    """The server's behaviour the plan is built on: 16+ refuses the plain REVOKE (and the
    plain REVOKE ADMIN OPTION FOR) while bob's grant depends on alice's ADMIN OPTION; before
    16 both succeed and bob keeps his membership."""
    setup(cluster)
    statements = [
        "REVOKE grp FROM alice",
        "REVOKE ADMIN OPTION FOR grp FROM alice",
    ]
    if cluster.major >= 16:
        statements += [
            "REVOKE grp FROM alice GRANTED BY postgres",  # what the plan said before
            "REVOKE ADMIN OPTION FOR grp FROM alice GRANTED BY postgres",
        ]
    for statement in statements:
        with cluster.connect("app") as conn:
            if cluster.major >= 16:
                with pytest.raises(psycopg.errors.DependentObjectsStillExist):
                    conn.execute(statement)  # type: ignore[arg-type]
            else:
                conn.execute(statement)  # type: ignore[arg-type]
                members = conn.execute(MEMBERS).fetchall()
                assert ("bob", False, "alice") in members, members
                conn.rollback()


def test_the_inspection_keeps_each_grant_with_its_options(cluster: Cluster) -> None:
    setup(cluster)
    run(cluster, "GRANT grp TO bob")  # by postgres too: 16+ a second grant
    memberships = inspect_cluster(connector(dsn_of(cluster)), ["app"]).state.memberships
    grants = {m.member: m.grants for m in memberships if m.group == "grp"}
    if cluster.major >= 16:
        assert grants == {
            "alice": (MembershipGrant("postgres", admin=True, inherit=True, set=True),),
            "bob": (
                MembershipGrant("alice", admin=False, inherit=True, set=True),
                MembershipGrant("postgres", admin=False, inherit=True, set=True),
            ),
        }
    else:  # one grant per membership, no grantors read
        assert grants == {"alice": (), "bob": ()}


def test_dropping_the_granter_keeps_the_member_the_policy_keeps(
    cluster: Cluster, tmp_path: Path
) -> None:
    """(a) the policy drops alice and keeps bob."""
    setup(cluster)
    path = policy(tmp_path, ["alice", "bob"], [member("bob")])
    changes = plan(cluster, path)
    texts = [c.sql_text() for c in changes]
    if cluster.major >= 16:
        assert texts == [
            'REVOKE "grp" FROM "alice" GRANTED BY "postgres" CASCADE;',
            'GRANT "grp" TO "bob" WITH ADMIN FALSE;',
        ]
        assert changes[0].reason == (
            '"alice" is a member of "grp", which the policy does not say; CASCADE: "alice" '
            'granted "grp" on with its ADMIN OPTION, and those grants go with it: "bob" '
            "(the policy keeps it: granted again below)"
        )
        assert changes[1].reason == (
            '"bob" should be a member of "grp": a CASCADE above takes its grant by "alice"'
        )
    else:
        assert texts == ['REVOKE "grp" FROM "alice";']
    assert apply(cluster, path) == len(texts)
    assert plan(cluster, path) == []
    grantor = "postgres" if cluster.major >= 16 else "alice"
    assert rows(cluster, MEMBERS) == [("bob", False, grantor)]


def test_dropping_both_leaves_neither(cluster: Cluster, tmp_path: Path) -> None:
    """(b) the policy drops alice and bob: the CASCADE takes bob's grant, which then needs no
    REVOKE of its own (it would find nothing and warn)."""
    setup(cluster)
    path = policy(tmp_path, ["alice", "bob"], [])
    texts = [c.sql_text() for c in plan(cluster, path)]
    if cluster.major >= 16:
        assert texts == ['REVOKE "grp" FROM "alice" GRANTED BY "postgres" CASCADE;']
    else:
        assert texts == ['REVOKE "grp" FROM "alice";', 'REVOKE "grp" FROM "bob";']
    apply(cluster, path)
    assert plan(cluster, path) == []
    assert rows(cluster, MEMBERS) == []


def test_taking_only_the_admin_option_keeps_the_member(cluster: Cluster, tmp_path: Path) -> None:
    """(c) the policy keeps alice without ADMIN OPTION, and bob. 16+: REVOKE ADMIN OPTION FOR
    ... CASCADE, then bob granted back (before, GRANT ... WITH ADMIN FALSE left bob's grant
    hanging on an ADMIN OPTION alice no longer had)."""
    setup(cluster)
    path = policy(tmp_path, ["alice", "bob"], [member("alice"), member("bob")])
    changes = plan(cluster, path)
    texts = [c.sql_text() for c in changes]
    if cluster.major >= 16:
        assert texts == [
            'REVOKE ADMIN OPTION FOR "grp" FROM "alice" GRANTED BY "postgres" CASCADE;',
            'GRANT "grp" TO "bob" WITH ADMIN FALSE;',
        ]
        assert changes[0].reason.startswith(
            '"alice" may grant "grp"; the policy says not; CASCADE: "alice" granted "grp" on'
        )
    else:
        assert texts == ['REVOKE ADMIN OPTION FOR "grp" FROM "alice";']
    apply(cluster, path)
    assert plan(cluster, path) == []
    if cluster.major >= 16:
        assert rows(cluster, MEMBERS) == [("alice", False, "postgres"), ("bob", False, "postgres")]
        assert rows(cluster, HANGING) == []
    else:
        assert rows(cluster, MEMBERS) == [("alice", False, "postgres"), ("bob", False, "alice")]


def test_a_chain_of_admin_grants_with_a_hostile_name(cluster: Cluster, tmp_path: Path) -> None:
    """alice -> bob (WITH ADMIN OPTION) -> carol, dave; the policy drops alice, keeps bob with
    ADMIN OPTION and carol; dave is a role the policy does not list (unmanaged_roles: revoke)."""
    setup(cluster, ALICE)
    run(
        cluster,
        "CREATE ROLE carol",
        "CREATE ROLE dave",
        f"SET ROLE {q(ALICE)}",
        "GRANT grp TO bob WITH ADMIN OPTION",  # 16+: the same grant, now with ADMIN OPTION
        "RESET ROLE",
        "SET ROLE bob",
        "GRANT grp TO carol",
        "GRANT grp TO dave",
        "RESET ROLE",
    )
    path = policy(tmp_path, [ALICE, "bob", "carol"], [member("bob", admin=True), member("carol")])
    changes = plan(cluster, path)
    texts = [c.sql_text() for c in changes]
    for c in changes:
        assert "\n" not in c.reason and "\n" not in c.sql_text()
    if cluster.major >= 16:
        assert texts[1:] == [
            'GRANT "grp" TO "bob" WITH ADMIN TRUE;',
            'GRANT "grp" TO "carol" WITH ADMIN FALSE;',
        ]
        assert texts[0].startswith('REVOKE "grp" FROM ') and texts[0].endswith(
            ' GRANTED BY "postgres" CASCADE;'
        )
        assert changes[0].reason.endswith(
            'those grants go with it: "bob" (the policy keeps it: granted again below), '
            '"carol" (granted by "bob"; the policy keeps it: granted again below), '
            '"dave" (granted by "bob"; a role the policy does not list: not granted back)'
        )
        assert '"al""ice\\nDROP ROLE bob; --"' in changes[0].reason
    else:
        assert len(texts) == 2
        assert texts[0].startswith('REVOKE "grp" FROM ') and texts[0].endswith('";')
        assert texts[1] == 'REVOKE "grp" FROM "dave";'
    apply(cluster, path)
    assert plan(cluster, path) == []
    members = [(m, admin) for m, admin, _ in rows(cluster, MEMBERS)]
    assert members == [("bob", True), ("carol", False)]
    if cluster.major >= 16:
        assert rows(cluster, HANGING) == []


def test_admin_from_two_grantors_and_an_unmanaged_granter(cluster: Cluster, tmp_path: Path) -> None:
    """alice holds ADMIN OPTION from postgres and from creator (a role the policy does not
    list, unmanaged_roles: revoke), and granted grp to bob. The plan revokes alice's grant by
    postgres (alice keeps ADMIN through creator's at that point: nothing cascades yet), then
    creator's membership, whose CASCADE takes alice's grant by creator and with it bob's; bob
    is granted back last. Whatever order the grants go in, one apply converges."""
    setup(cluster)
    run(
        cluster,
        "CREATE ROLE creator",
        "GRANT grp TO creator WITH ADMIN OPTION",
        "SET ROLE creator",
        "GRANT grp TO alice WITH ADMIN OPTION",  # 16+: a second grant of alice's membership
        "RESET ROLE",
    )
    path = policy(tmp_path, ["alice", "bob"], [member("bob")])
    changes = plan(cluster, path)
    texts = [c.sql_text() for c in changes]
    if cluster.major >= 16:
        assert texts == [
            'REVOKE "grp" FROM "alice" GRANTED BY "postgres" CASCADE;',
            'REVOKE "grp" FROM "creator" GRANTED BY "postgres" CASCADE;',
            'GRANT "grp" TO "bob" WITH ADMIN FALSE;',
        ]
        assert changes[1].reason.endswith(
            'those grants go with it: "alice" (the policy drops it too), '
            '"bob" (granted by "alice"; the policy keeps it: granted again below)'
        )
    else:
        assert texts == ['REVOKE "grp" FROM "alice";', 'REVOKE "grp" FROM "creator";']
    apply(cluster, path)
    assert plan(cluster, path) == []
    assert [m[:2] for m in rows(cluster, MEMBERS)] == [("bob", False)]
