"""Paths to power (PGT-ROLE-008), PUBLIC beyond schema CREATE (PGT-PRIV-003 to 006), one
finding per SECURITY DEFINER function (PGT-FUNC-001/002 absorb PGT-PRIV-002), and extension
functions judged by what PUBLIC can effectively run (adminpack's SQL wrapper), on real
PostgreSQL 15 and 18, plus the walk's rules on hand-built states.

Every scenario is checked for what users rely on: the login role named, the path it can walk,
the severity, names escaped, the remediation SQL runs and silences the finding, and the
check stays quiet where PostgreSQL itself would refuse the step.
"""

from collections.abc import Iterable
from dataclasses import replace

import psycopg
import pytest
from test_audit_findings import found, public_grant, secdef, snap

from pgcluster import Cluster, ClusterFactory
from pgtune.access.model import PUBLIC, DefaultPrivilege, Membership, Role
from pgtune.audit.collect import collect
from pgtune.audit.findings import run_checks
from pgtune.audit.findings.power import paths_to_power
from pgtune.audit.model import Finding
from pgtune.audit.review import future_privilege_doc, review_access, review_snapshot

MAJORS = (15, 18)
HOSTILE = 'ev"il\nDROP ROLE x; --'  # a login role name with a quote, a newline and a comment
HOSTILE_SHOWN = '"ev""il\\nDROP ROLE x; --"'
NEW_IDS = {"PGT-ROLE-008", *(f"PGT-PRIV-00{i}" for i in range(3, 7))}


def dsn_of(cluster: Cluster, user: str = "postgres") -> str:
    return f"host={cluster.socket_dir} port={cluster.port} dbname=postgres user={user}"


def run_sql(cluster: Cluster, statements: Iterable[str], dbname: str = "postgres") -> None:
    with cluster.connect(dbname) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def by_id(findings: list[Finding], id: str) -> list[Finding]:
    return [f for f in findings if f.id == id]


def power(findings: list[Finding]) -> dict[tuple[str | None, str], Finding]:
    """PGT-ROLE-008 findings by (login role, what its seen text says it reaches)."""
    out: dict[tuple[str | None, str], Finding] = {}
    for f in by_id(findings, "PGT-ROLE-008"):
        reached = f.seen.split(" reaches ", 1)[1].split(" ", 1)[0]
        assert (f.object, reached) not in out, f
        out[(f.object, reached)] = f
    return out


def _run_remediation(cluster: Cluster, f: Finding) -> None:
    with cluster.connect(f.database or "postgres") as conn:
        conn.execute(f.remediation.encode())


# ------------------------------------------------------------------------------------------
# Paths to power on a real server


def _grant(major: int, group: str, member: str, *, inherit: bool, set: bool) -> str:
    """GRANT with 16+ options; before 16 every grant allows SET ROLE and inheritance follows
    the member's INHERIT attribute."""
    if major < 16:
        return f"GRANT {group} TO {member}"
    return f"GRANT {group} TO {member} WITH INHERIT {inherit}, SET {set}"


def _power_cluster(pg_cluster_factory: ClusterFactory, major: int) -> Cluster:
    cluster = pg_cluster_factory(major)
    cluster.start()
    hostile = '"' + HOSTILE.replace('"', '""') + '"'
    run_sql(
        cluster,
        [
            # webapp -> mid -> legacy_admin (SUPERUSER, NOLOGIN); 16+: mid may only SET ROLE.
            "CREATE ROLE legacy_admin NOLOGIN SUPERUSER",
            "CREATE ROLE mid NOLOGIN",
            "CREATE ROLE webapp LOGIN",
            "GRANT mid TO webapp",
            _grant(major, "legacy_admin", "mid", inherit=False, set=True),
            f"CREATE ROLE {hostile} LOGIN",
            f"GRANT mid TO {hostile}",
            # alice -> grp -> ops -> pg_execute_server_program: nested, by inheritance.
            "CREATE ROLE ops NOLOGIN",
            "GRANT pg_execute_server_program TO ops",
            "CREATE ROLE grp NOLOGIN IN ROLE ops",
            "CREATE ROLE alice LOGIN IN ROLE grp",
            # streamer -> rep (REPLICATION), and a BYPASSRLS group.
            "CREATE ROLE rep NOLOGIN REPLICATION",
            "CREATE ROLE rls_group NOLOGIN BYPASSRLS",
            "CREATE ROLE streamer LOGIN IN ROLE rep, rls_group",
            # Quiet: a harmless group, and a direct predefined grant (PGT-ROLE-004's).
            "CREATE ROLE readers NOLOGIN",
            "CREATE ROLE plain LOGIN IN ROLE readers",
            "CREATE ROLE filer LOGIN IN ROLE pg_read_server_files",
            "CREATE ROLE wizard LOGIN SUPERUSER IN ROLE mid",  # a superuser login: ROLE-001's
        ],
    )
    if major >= 16:
        run_sql(
            cluster,
            [
                # Neither option: the membership gives nothing.
                "CREATE ROLE nobody LOGIN",
                "GRANT legacy_admin TO nobody WITH INHERIT FALSE, SET FALSE",
                # Inherits a superuser it cannot become: owns its functions.
                "CREATE ROLE dba NOLOGIN SUPERUSER",
                "CREATE ROLE helper LOGIN",
                "GRANT dba TO helper WITH INHERIT TRUE, SET FALSE",
                # Inherits a superuser whose only function it cannot replace: no way up.
                "CREATE ROLE idle_super NOLOGIN SUPERUSER",
                "CREATE ROLE bystander LOGIN",
                "GRANT idle_super TO bystander WITH INHERIT TRUE, SET FALSE",
            ],
        )
        run_sql(
            cluster,
            [
                # dba's function in dba's schema: helper may CREATE there and replace it.
                "CREATE SCHEMA tools AUTHORIZATION dba",
                "CREATE FUNCTION tools.rotate() RETURNS text LANGUAGE sql SECURITY DEFINER "
                "SET search_path = pg_catalog, pg_temp AS 'SELECT ''rotated'''",
                "ALTER FUNCTION tools.rotate() OWNER TO dba",
                "REVOKE EXECUTE ON FUNCTION tools.rotate() FROM PUBLIC",
                "GRANT EXECUTE ON FUNCTION tools.rotate() TO helper",
                # idle_super's function in schema public (no CREATE for PUBLIC on 15+):
                # bystander owns it through inheritance but cannot replace it.
                "CREATE FUNCTION public.stamp() RETURNS text LANGUAGE sql SECURITY DEFINER "
                "SET search_path = pg_catalog, pg_temp AS 'SELECT ''stamped'''",
                "ALTER FUNCTION public.stamp() OWNER TO idle_super",
            ],
        )
    return cluster


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_login_roles_reaching_power_through_groups_are_named_with_their_path(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = _power_cluster(pg_cluster_factory, major)
    findings = run_checks(collect(dsn_of(cluster)))
    reached = power(findings)

    superuser = reached[("webapp", "SUPERUSER")]
    assert superuser.severity == "critical"
    assert superuser.seen == (
        'login role "webapp" reaches SUPERUSER after SET ROLE "legacy_admin": '
        '"webapp" \u2192 "mid" (SET) \u2192 "legacy_admin" (SET) \u2192 SUPERUSER'
    )
    # 16+: once per grantor (a plain REVOKE only removes the current role's own grant).
    granted_by = ' GRANTED BY "postgres"' if major >= 16 else ""
    assert superuser.remediation == f'REVOKE "mid" FROM "webapp"{granted_by};'

    hostile = reached[(HOSTILE, "SUPERUSER")]
    assert hostile.seen.startswith(f"login role {HOSTILE_SHOWN} reaches SUPERUSER")
    assert "\n" not in hostile.seen + hostile.title + hostile.why

    program = reached[("alice", "pg_execute_server_program")]
    assert program.severity == "critical"
    assert program.seen == (
        'login role "alice" reaches pg_execute_server_program at login, without SET ROLE: '
        '"alice" \u2192 "grp" (INHERIT) \u2192 "ops" (INHERIT) \u2192 '
        '"pg_execute_server_program" (INHERIT)'
    )
    assert program.remediation == f'REVOKE "grp" FROM "alice"{granted_by};'

    assert reached[("streamer", "REPLICATION")].severity == "high"
    assert reached[("streamer", "BYPASSRLS")].seen.endswith(
        '"streamer" \u2192 "rls_group" (SET) \u2192 BYPASSRLS'
    )

    logins = {login for login, _ in reached}
    # Quiet: a harmless group; a direct predefined grant (PGT-ROLE-004 says it); a superuser.
    assert not logins & {"plain", "filer", "wizard", "postgres"}
    assert sorted(f.object or "" for f in by_id(findings, "PGT-ROLE-004")) == ["filer", "ops"]

    if major >= 16:
        # Neither INHERIT nor SET: nothing; inheriting a superuser whose functions it cannot
        # replace: nothing.
        assert not logins & {"nobody", "bystander"}
        owner = reached[("helper", "the")]
        assert owner.severity == "critical"
        assert owner.seen == (
            'login role "helper" reaches the privileges of superuser "dba" (it cannot SET '
            'ROLE to it) and may replace its functions "postgres"."tools"."rotate"() '
            '(SECURITY DEFINER) at login, without SET ROLE: "helper" \u2192 "dba" (INHERIT)'
        )
        # What the finding says is true: helper cannot SET ROLE dba, but can replace dba's
        # SECURITY DEFINER function, which then runs as a superuser.
        with cluster.connect(user="helper") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SET ROLE dba")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT pg_catalog.pg_read_file('PG_VERSION')")
            conn.execute(
                "CREATE OR REPLACE FUNCTION tools.rotate() RETURNS text LANGUAGE sql "
                "SECURITY DEFINER SET search_path = pg_catalog, pg_temp "
                "AS 'SELECT pg_catalog.pg_read_file(''PG_VERSION'')'"
            )
            assert conn.execute("SELECT tools.rotate()").fetchone() == (f"{major}\n",)
        with cluster.connect(user="bystander") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SET ROLE idle_super")
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema public"):
                conn.execute(
                    "CREATE OR REPLACE FUNCTION public.stamp() RETURNS text LANGUAGE sql "
                    "SECURITY DEFINER AS 'SELECT current_user::text'"
                )
    # And on 15 webapp really becomes a superuser (16+: through the SET-only grant).
    with cluster.connect(user="webapp") as conn:
        conn.execute("SET ROLE legacy_admin")
        assert conn.execute("SHOW is_superuser").fetchone() == ("on",)

    # The remediations run as written and silence the findings.
    for f in by_id(findings, "PGT-ROLE-008"):
        _run_remediation(cluster, f)
    assert by_id(run_checks(collect(dsn_of(cluster))), "PGT-ROLE-008") == []


# ------------------------------------------------------------------------------------------
# PUBLIC beyond schema CREATE, one finding per function, effective extension executability


APP_SQL = [
    "CREATE TABLE public.open_w (id int)",
    "GRANT SELECT, INSERT, UPDATE ON public.open_w TO PUBLIC",
    "CREATE TABLE public.open_r (id int)",
    "CREATE TABLE public.open_r2 (id int)",
    "GRANT SELECT ON public.open_r, public.open_r2 TO PUBLIC",
    "CREATE TABLE public.private (id int)",
    "ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT SELECT ON TABLES TO PUBLIC",
    "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT INSERT ON TABLES TO PUBLIC",
    # Built-in defaults, granted again explicitly: not beyond what PostgreSQL does.
    "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public "
    "GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
    # One SECURITY DEFINER function with both problems, one with only PUBLIC EXECUTE.
    "CREATE FUNCTION public.open_door() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
    "CREATE FUNCTION public.pinned_door() RETURNS int LANGUAGE sql SECURITY DEFINER "
    "SET search_path = pg_catalog, pg_temp AS 'SELECT 1'",
    # dblink with its functions revoked from PUBLIC, and two members added to it: a SQL
    # wrapper (runs with the caller's rights: harmless) and a SECURITY DEFINER one (not).
    "CREATE EXTENSION dblink",
    """DO $$ DECLARE f regprocedure; BEGIN
         FOR f IN SELECT d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                  WHERE e.extname = 'dblink' AND d.classid = 'pg_proc'::regclass
         LOOP EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f); END LOOP;
       END $$""",
    "CREATE FUNCTION public.dblink_wrap(text) RETURNS text LANGUAGE sql "
    "AS 'SELECT public.dblink_connect($1)'",
    "ALTER EXTENSION dblink ADD FUNCTION public.dblink_wrap(text)",
    "CREATE FUNCTION public.dblink_door(text) RETURNS text LANGUAGE sql SECURITY DEFINER "
    "SET search_path = pg_catalog, pg_temp AS 'SELECT public.dblink_connect($1)'",
    "ALTER EXTENSION dblink ADD FUNCTION public.dblink_door(text)",
]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_public_privileges_merged_functions_and_extension_wrappers(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    run_sql(cluster, ["CREATE DATABASE app", "GRANT CREATE ON DATABASE app TO PUBLIC"])
    run_sql(
        cluster,
        ["CREATE DATABASE quiet", "CREATE ROLE readers NOLOGIN", "CREATE ROLE member LOGIN"],
    )
    run_sql(cluster, ["GRANT readers TO member"])
    run_sql(cluster, APP_SQL, "app")
    run_sql(
        cluster,
        [
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public "
            "GRANT UPDATE ON TABLES TO readers WITH GRANT OPTION"
        ],
        "app",
    )
    if major == 15:  # removed in 17
        run_sql(cluster, ["CREATE EXTENSION adminpack"], "app")
    snapshot = collect(dsn_of(cluster))
    findings = run_checks(snapshot)

    [write] = by_id(findings, "PGT-PRIV-003")
    assert (write.database, write.object, write.severity) == ("app", "public", "high")
    assert write.seen == (
        'PUBLIC has SELECT, INSERT, UPDATE on 1 table in schema "public" of database "app": '
        '"open_w"'
    )
    [read] = by_id(findings, "PGT-PRIV-004")
    assert read.severity == "medium"
    assert read.seen.endswith(': "open_r", "open_r2"')
    assert read.remediation == (
        'REVOKE SELECT ON TABLE "public"."open_r", "public"."open_r2" FROM PUBLIC;'
    )
    # CREATE on a database is a finding; CONNECT and TEMPORARY (PostgreSQL's default) are not.
    assert [(f.object, f.severity) for f in by_id(findings, "PGT-PRIV-005")] == [("app", "high")]
    defaults = {(f.severity, f.seen) for f in by_id(findings, "PGT-PRIV-006")}
    assert defaults == {
        (
            "medium",
            'the tables "postgres" creates in every schema of database "app" will grant '
            "PUBLIC SELECT",
        ),
        (
            "high",
            'the tables "postgres" creates in schema "public" of database "app" will grant '
            "PUBLIC INSERT",
        ),
    }

    # One finding for open_door (FUNC-001, saying PUBLIC may execute it); PRIV-002 only for
    # the pinned one.
    assert [f.object for f in by_id(findings, "PGT-FUNC-001")] == ["public.open_door()"]
    [door] = by_id(findings, "PGT-FUNC-001")
    assert door.seen.endswith("PUBLIC may execute it, so every role can")
    assert 'REVOKE EXECUTE ON ROUTINE "public"."open_door"() FROM PUBLIC;' in door.remediation
    assert [f.object for f in by_id(findings, "PGT-PRIV-002")] == ["public.pinned_door()"]

    # Extensions: only what PUBLIC can effectively run counts.
    extensions = {(e.database, e.name): e for e in snapshot.extensions}
    assert extensions[("app", "dblink")].public_functions == (("public", "dblink_door", "text"),)
    [ext] = [f for f in by_id(findings, "PGT-EXT-002") if f.object == "dblink"]
    assert "dblink_door(text)" in ext.seen and "dblink_wrap" not in ext.seen
    if major == 15:
        assert extensions[("app", "adminpack")].public_functions == ()
        assert not [f for f in by_id(findings, "PGT-EXT-002") if f.object == "adminpack"]
    # ... and that is what PostgreSQL enforces: the wrappers fail for an ordinary role.
    with cluster.connect("app", user="member") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="dblink_connect"):
            conn.execute("SELECT public.dblink_wrap('dbname=app')")
        if major == 15:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pg_file_rename"):
                conn.execute("SELECT pg_catalog.pg_file_rename('a', 'b')")

    # The review says what member will get on tables postgres creates later, and through whom
    # (PostgreSQL's own PUBLIC EXECUTE on functions is left out).
    [review] = [r for r in review_snapshot(snapshot) if r.role.name == "member"]
    assert [future_privilege_doc(f) for f in review.future_privileges] == [
        {
            "database": "app",
            "owner": "postgres",
            "schema": None,
            "objtype": "tables",
            "privileges": ["SELECT"],
            "grantable": [],
            "via": ["PUBLIC"],
            "set_role": False,
        },
        {
            "database": "app",
            "owner": "postgres",
            "schema": "public",
            "objtype": "tables",
            "privileges": ["INSERT", "UPDATE"],
            "grantable": ["UPDATE"],
            "via": ["PUBLIC", "readers"],
            "set_role": False,
        },
    ]

    # Quiet where nothing was granted: the other database has no such finding.
    assert not [f for f in findings if f.id in NEW_IDS and f.database == "quiet"]

    # The remediations run as written and silence their findings.
    for f in findings:
        if f.id in NEW_IDS | {"PGT-FUNC-001", "PGT-PRIV-002"}:
            _run_remediation(cluster, f)
    after = run_checks(collect(dsn_of(cluster)))
    assert not [f for f in after if f.id in NEW_IDS | {"PGT-FUNC-001", "PGT-PRIV-002"}]


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_a_fresh_cluster_with_harmless_groups_is_quiet(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    cluster = pg_cluster_factory(major)
    cluster.start()
    run_sql(
        cluster,
        [
            "CREATE ROLE readers NOLOGIN",
            "CREATE ROLE team NOLOGIN IN ROLE readers",
            "CREATE ROLE app LOGIN IN ROLE team",
            "CREATE DATABASE app",
        ],
    )
    run_sql(cluster, ["CREATE TABLE t (id int)", "GRANT SELECT ON t TO readers"], "app")
    findings = run_checks(collect(dsn_of(cluster)))
    assert not [f for f in findings if f.id in NEW_IDS]


# ------------------------------------------------------------------------------------------
# The walk's rules, on hand-built states


def test_set_path_needs_set_on_every_step_from_the_login() -> None:
    s = snap(
        roles=[
            Role("u", login=True),
            Role("a"),
            Role("root", superuser=True),
            Role("pg_write_all_data"),
        ],
        memberships=[
            # u inherits a (no SET), a may SET ROLE root: u cannot become root.
            Membership("a", "u", inherit=True, set=False),
            Membership("root", "a", inherit=False, set=True),
            Membership("pg_write_all_data", "root", inherit=True, set=False),
        ],
    )
    assert found(s, "PGT-ROLE-008") == []
    # With SET on the first step it can, and the write role comes along after SET ROLE.
    s2 = snap(
        roles=s.access.state.roles.values(),
        memberships=[
            Membership("a", "u", inherit=False, set=True),
            Membership("root", "a", inherit=False, set=True),
            Membership("pg_write_all_data", "a", inherit=True, set=False),
        ],
    )
    reached = power(found(s2, "PGT-ROLE-008"))
    assert set(reached) == {("u", "SUPERUSER"), ("u", "pg_write_all_data")}
    assert reached[("u", "pg_write_all_data")].seen == (
        'login role "u" reaches pg_write_all_data after SET ROLE "a": '
        '"u" \u2192 "a" (SET) \u2192 "pg_write_all_data" (INHERIT)'
    )


def test_before_16_every_grant_sets_and_inheritance_follows_the_member() -> None:
    s = snap(
        roles=[Role("u", login=True, inherit=False), Role("g"), Role("pg_read_all_data")],
        memberships=[Membership("g", "u"), Membership("pg_read_all_data", "g")],
        major=15,
    )
    [f] = found(s, "PGT-ROLE-008")
    # u does not inherit (NOINHERIT), so it must SET ROLE g first; g inherits.
    assert f.severity == "medium"  # as PGT-ROLE-004 rates pg_read_all_data
    assert f.seen.endswith('"u" \u2192 "g" (SET) \u2192 "pg_read_all_data" (INHERIT)')


def test_own_attributes_and_superuser_groups_are_not_repeated() -> None:
    s = snap(
        roles=[
            Role("u", login=True, bypassrls=True),
            Role("boss", superuser=True, bypassrls=True, createrole=True),
            Role("cr", createrole=True),
        ],
        memberships=[Membership("boss", "u"), Membership("cr", "u")],
    )
    reached = power(found(s, "PGT-ROLE-008"))
    # BYPASSRLS is u's own (PGT-ROLE-002); boss's other attributes are its superuser's.
    assert set(reached) == {("u", "SUPERUSER"), ("u", "CREATEROLE")}
    assert reached[("u", "CREATEROLE")].severity == "medium"  # 16+, as PGT-ROLE-003
    assert reached[("u", "CREATEROLE")].seen.endswith('"u" \u2192 "cr" (SET) \u2192 CREATEROLE')


def test_inheriting_a_superuser_without_set_names_its_functions_or_nothing() -> None:
    roles = [Role("u", login=True), Role("dba", superuser=True)]
    grant = Membership("dba", "u", inherit=True, set=False)
    assert paths_to_power(snap(roles=roles, memberships=[grant]), None) == []
    function = secdef("f", "pg_catalog", owner="dba")
    # It owns f through inheritance but may not CREATE in its schema: cannot replace it.
    assert paths_to_power(snap(roles=roles, memberships=[grant], functions=[function]), None) == []
    with_function = snap(
        roles=roles,
        memberships=[grant],
        functions=[function],
        grants=[public_grant("schema", "CREATE")],
    )
    [f] = paths_to_power(with_function, None)
    assert f.severity == "critical" and '"app"."public"."f"() (SECURITY DEFINER)' in f.seen
    # Able to SET ROLE too: the SUPERUSER finding says it, no second one.
    both = snap(
        roles=roles,
        memberships=[Membership("dba", "u", inherit=True, set=True)],
        functions=[secdef("f", "pg_catalog", owner="dba")],
    )
    assert [x.seen.split(" reaches ")[1][:9] for x in paths_to_power(both, None)] == ["SUPERUSER"]


def test_public_checks_skip_builtin_defaults_and_group_tables() -> None:
    base = snap(grants=[public_grant("database", "TEMPORARY", schema=None)])
    builtin = frozenset(
        {
            DefaultPrivilege("app", "owner", None, "functions", PUBLIC, "EXECUTE"),
            DefaultPrivilege("app", "owner", "s", "types", PUBLIC, "USAGE"),
        }
    )
    state = replace(base.access.state, default_privileges=builtin)
    assert run_checks(replace(base, access=replace(base.access, state=state))) == []
    beyond = builtin | {DefaultPrivilege("app", "owner", None, "schemas", PUBLIC, "CREATE")}
    state = replace(base.access.state, default_privileges=beyond)
    [f] = run_checks(replace(base, access=replace(base.access, state=state)))
    assert (f.id, f.severity, f.object) == ("PGT-PRIV-006", "high", "owner")
    assert f.remediation == (
        'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" REVOKE CREATE ON SCHEMAS FROM PUBLIC;'
    )
    many = snap(grants=[public_grant("table", "DELETE", name=f"t{i}") for i in range(7)])
    [f] = found(many, "PGT-PRIV-003")
    assert f.seen.endswith('"t0", "t1", "t2", "t3", "t4", ... (7 in all)')
    assert f.remediation.count('"public"."t') == 7


def test_future_privileges_at_login_and_after_set_role() -> None:
    roles = [Role("u", login=True), Role("team"), Role("admin"), Role("boss", login=True)]
    defaults = [
        DefaultPrivilege("app", "owner", "s", "tables", "team", "SELECT"),
        DefaultPrivilege("app", "owner", "s", "tables", "admin", "SELECT"),
        DefaultPrivilege("app", "owner", "s", "tables", "admin", "DELETE", grantable=True),
        DefaultPrivilege("app", "owner", None, "functions", PUBLIC, "EXECUTE"),  # built-in
        DefaultPrivilege("app", "owner", None, "sequences", "nobody", "USAGE"),
    ]
    base = snap(
        roles=[*roles, Role("boss", login=True, superuser=True)],
        memberships=[
            Membership("team", "u", inherit=True, set=True),
            Membership("admin", "u", inherit=False, set=True),
        ],
    )
    state = replace(base.access.state, default_privileges=frozenset(defaults))
    reviews = {r.role.name: r for r in review_access(state, {})}
    assert reviews["boss"].future_privileges == ()  # a superuser holds everything anyway
    assert [
        (f.schema, f.objtype, f.privileges, f.grantable, f.via, f.set_role)
        for f in reviews["u"].future_privileges
    ] == [
        ("s", "tables", ("SELECT",), (), ("team",), False),
        ("s", "tables", ("DELETE",), ("DELETE",), ("admin",), True),  # SELECT: at login
    ]


def test_hostile_names_stay_on_one_line_and_sql_is_quoted() -> None:
    evil = 'x"\n<b>--'
    grants = [public_grant("table", "UPDATE", schema=evil, name=evil)]
    base = snap(grants=grants)
    defaults = frozenset({DefaultPrivilege("app", evil, evil, "tables", PUBLIC, "SELECT")})
    state = replace(base.access.state, default_privileges=defaults)
    findings = run_checks(replace(base, access=replace(base.access, state=state)))
    assert {f.id for f in findings} == {"PGT-PRIV-003", "PGT-PRIV-006"}
    shown_evil = '"x""\\n<b>--"'
    for f in findings:
        assert "\n" not in f.seen and shown_evil in f.seen, f.seen
    [write] = [f for f in findings if f.id == "PGT-PRIV-003"]
    assert write.remediation == 'REVOKE UPDATE ON TABLE "x""\n<b>--"."x""\n<b>--" FROM PUBLIC;'


def test_one_finding_per_security_definer_function() -> None:
    unpinned = secdef("f", owner="postgres")
    executable = public_grant("function", "EXECUTE", name="f", args="")
    s = snap(functions=[unpinned], grants=[executable])
    [f] = [x for x in run_checks(s) if x.object == "public.f()"]
    assert (f.id, f.severity) == ("PGT-FUNC-001", "critical")
    assert f.seen.endswith("with no search_path setting; PUBLIC may execute it, so every role can")
    assert f.remediation.splitlines() == [
        'ALTER ROUTINE "public"."f"() SET search_path = "public", pg_temp;',
        'REVOKE EXECUTE ON ROUTINE "public"."f"() FROM PUBLIC;',
    ]
    # Not executable by PUBLIC: the search_path finding alone, without the revoke.
    [alone] = run_checks(snap(functions=[unpinned]))
    assert alone.id == "PGT-FUNC-001" and "REVOKE" not in alone.remediation


@pytest.mark.pg
@pytest.mark.parametrize("major", MAJORS)
def test_a_role_named_public_never_reads_like_the_pseudo_role(
    pg_cluster_factory: ClusterFactory, major: int
) -> None:
    """CREATE ROLE "PUBLIC" is allowed (only lowercase public is reserved). What a member gets
    through that role and what everyone gets through PUBLIC must not read alike anywhere in the
    review: JSON, Markdown and HTML."""
    from pgtune.audit.report import build_report, cluster_section, render

    cluster = pg_cluster_factory(major)
    cluster.start()
    run_sql(
        cluster,
        [
            'CREATE ROLE "PUBLIC" NOLOGIN',
            "CREATE ROLE alice LOGIN",
            'GRANT "PUBLIC" TO alice',
            # a role whose name is "PUBLIC" with its quotes must not read like the one above
            'CREATE ROLE """PUBLIC""" NOLOGIN',
            'GRANT """PUBLIC""" TO alice',
            "CREATE TABLE public.via_role (id int)",
            "CREATE TABLE public.via_everyone (id int)",
            "CREATE TABLE public.via_quoted (id int)",
            'GRANT SELECT, UPDATE ON public.via_quoted TO """PUBLIC"""',
            # INSERT too, so the two tables are not one group (whose "via" would list both)
            'GRANT SELECT, INSERT ON public.via_role TO "PUBLIC"',
            "GRANT SELECT ON public.via_everyone TO PUBLIC",
        ],
    )
    snapshot = collect(dsn_of(cluster))
    reviews = review_snapshot(snapshot)
    section = cluster_section(snapshot, run_checks(snapshot), reviews)
    [alice] = [r for r in section["review"] if r["role"] == "alice"]
    via = {
        tuple(g["objects"]): (g["privileges"], g["via"])
        for g in alice["privileges"]
        if g["kind"] == "table"
    }
    assert via == {
        ("via_role",): (["SELECT", "INSERT"], ['"PUBLIC"']),
        ("via_everyone",): (["SELECT"], ["PUBLIC"]),
        ("via_quoted",): (["SELECT", "UPDATE"], ['"""PUBLIC"""']),
    }

    report = build_report([section])
    md, html = render(report, "md"), render(report, "html")
    line = "{} on 1 of 3 tables in postgres.public: {}"
    assert line.format("SELECT, INSERT", 'via_role — via "PUBLIC"') in md
    assert line.format("SELECT, INSERT", "via_role — via PUBLIC") not in md
    assert line.format("SELECT", "via_everyone — via PUBLIC") in md
    assert line.format("SELECT, INSERT", "via_role — via &#34;PUBLIC&#34;") in html
    assert line.format("SELECT", "via_everyone — via PUBLIC") in html
    assert line.format("SELECT, UPDATE", 'via_quoted — via """PUBLIC"""') in md
