"""The synthetic cluster of the roles_plan benchmark, its access policy, and the drift between.

One database, ``app``, grows schema by schema: ``s01``, ``s02``, ... each holding ``per_schema``
tables ``t0001``, ``t0002``, ... (``id serial PRIMARY KEY, tenant_id int, payload text``: a
sequence, an index and a TOAST table each) and two functions, all owned by ``app_owner``. A size
of N tables is N / per_schema schemas, so the sizes of one run share their first schemas and the
cluster is only ever extended. Everything is built server-side (DO blocks, ``... ON ALL TABLES IN
SCHEMA``), a schema of 1,000 tables in one transaction.

**Roles (200 in the policy):** ``app_owner`` (owns everything), the groups ``app_readonly``,
``app_readwrite`` and ``team_01`` .. ``team_20``, ``app_monitor`` (login, monitoring profile) and
the login users ``u_001`` .. ``u_176``, each a member of one team and (odd ones) of
``app_readonly``. One more role, ``legacy_etl``, holds SELECT on every table but is not in the
policy: its grants are read and must be left alone.

**The policy** (:func:`policy_document`): ``app_owner`` owner profile; ``app_readonly`` readonly
and ``app_readwrite`` readwrite on every schema (``"*"``); ``team_NN`` readwrite on ``sNN``
(only the teams whose schema exists at this size, so the grants per table stay constant);
``u_001`` .. ``u_010`` CONNECT, USAGE and SELECT on the tables matching ``t00[1-5]?`` (a glob:
no default privileges); ``app_monitor`` monitoring; ``default_privileges.owners: [app_owner]``;
``revoke_public`` CONNECT and TEMPORARY on ``app``; ``revoke_public_function_execute``; and 50
``rls`` entries, one per table ``s01.t0001`` .. ``s01.t0050``, each with one policy.

**The live side** is that policy applied, plus drift (:data:`TABLE_DRIFT` and friends), so that
the plan has work proportional to the size: per schema 10 + 5 + 4 + 2 table grants to revoke,
add or strip of GRANT OPTION, 4 sequence grants to revoke, one function PUBLIC may execute and
the three default privileges a team lacks (29 changes per schema of 1,000 tables); once: a
missing role, a role attribute, two memberships too many or missing, PUBLIC's CONNECT and
TEMPORARY on the database, and five RLS differences (a table without RLS, a changed expression,
a missing, an extra and a re-targeted policy). :func:`expected_changes` counts them from the same
rules, so the plan is checked, not only timed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

DATABASE = "app"
OWNER = "app_owner"
READONLY = "app_readonly"
READWRITE = "app_readwrite"
MONITOR = "app_monitor"
LEGACY = "legacy_etl"  # not in the policy
TEAMS = tuple(f"team_{i:02d}" for i in range(1, 21))
USERS = tuple(f"u_{i:03d}" for i in range(1, 177))
GLOB_USERS = USERS[:10]
GLOB = "t00[1-5]?"  # t0010 .. t0059
GLOB_RANGE = (10, 59)
STRAY_USER = "u_150"  # in the policy, no table access: a grant to it is stray
RLS_TABLES = 50
SCHEMA_CHUNK = 1000  # tables per schema when the sizes allow it
TENANT = "tenant_id = current_setting('app.tenant', true)::int"

# Drift that is not per schema.
MISSING_ROLE = USERS[-1]  # in the policy, not in the cluster: CREATE ROLE + its membership
MONITOR_LIMIT = (3, 10)  # connection_limit: policy, live
EXTRA_MEMBERSHIP = (READWRITE, USERS[-2])  # live only: REVOKE
MISSING_MEMBERSHIP_USER = USERS[-3]  # its team membership is missing: GRANT

POLICY_ROLES = (OWNER, READONLY, READWRITE, MONITOR, *TEAMS, *USERS)
assert len(POLICY_ROLES) == 200


@dataclass(frozen=True)
class Rule:
    """Drift on every object ``i`` (1-based, within a schema) with ``i % mod == rem``."""

    kind: str  # "TABLE" or "SEQUENCE"
    mod: int
    rem: int
    statement: str  # format() template: %1$I schema, %2$I object
    effect: str  # what the plan must do about it

    def hits(self, per_schema: int) -> int:
        return sum(1 for i in range(1, per_schema + 1) if i % self.mod == self.rem)


TABLE_DRIFT = (
    Rule("TABLE", 100, 0, f"GRANT TRUNCATE, TRIGGER ON %1$I.%2$I TO {READWRITE}", "revoke"),
    Rule("TABLE", 200, 50, f"REVOKE SELECT ON %1$I.%2$I FROM {READONLY}", "grant"),
    Rule("TABLE", 250, 7, f"GRANT SELECT ON %1$I.%2$I TO {STRAY_USER}", "revoke"),
    Rule(
        "TABLE",
        500,
        123,
        f"GRANT SELECT ON %1$I.%2$I TO {READWRITE} WITH GRANT OPTION",
        "revoke grant option",
    ),
)
SEQUENCE_DRIFT = (
    Rule("SEQUENCE", 300, 1, f"GRANT UPDATE ON SEQUENCE %1$I.%2$I TO {READWRITE}", "revoke"),
)
PER_SCHEMA_FIXED = 1 + 3  # f_total executable by PUBLIC; the team's 3 default privileges
GLOBAL_CHANGES = 2 + 3 + 1  # role create + alter; 3 memberships; PUBLIC on the database
RLS_CHANGES = 5


def table_name(i: int) -> str:
    return f"t{i:04d}"


def schema_name(i: int) -> str:
    return f"s{i:02d}"


def team_of(user_index: int) -> str:
    """The team of ``u_<user_index>`` (1-based)."""
    return TEAMS[(user_index - 1) % len(TEAMS)]


@dataclass(frozen=True)
class Layout:
    """How N tables are laid out: ``per_schema`` tables in each of N / per_schema schemas."""

    per_schema: int

    @classmethod
    def for_sizes(cls, sizes: Sequence[int]) -> Layout:
        """1,000 tables per schema when every size is a multiple of 1,000, else the largest
        common divisor of 1,000 and the sizes; at least 60 (the RLS tables and the glob users'
        tables t0010 .. t0059 live in the first schema)."""
        per = math.gcd(SCHEMA_CHUNK, *sizes)
        if per < GLOB_RANGE[1] + 1:
            raise ValueError(
                f"table counts {', '.join(map(str, sizes))} leave {per} tables per schema; "
                f"use multiples of 100 (at least 100) or one count between 60 and 1000"
            )
        return cls(per)

    def schemas(self, tables: int) -> int:
        return tables // self.per_schema


def expected_changes(layout: Layout, tables: int) -> int:
    """The number of changes the plan must have for ``tables`` tables (see the module doc)."""
    per_schema = sum(r.hits(layout.per_schema) for r in (*TABLE_DRIFT, *SEQUENCE_DRIFT))
    per_schema += PER_SCHEMA_FIXED
    return GLOBAL_CHANGES + RLS_CHANGES + layout.schemas(tables) * per_schema


# --------------------------------------------------------------------------- the policy


def policy_document(layout: Layout, tables: int) -> dict[str, Any]:
    """The access policy for the cluster at ``tables`` tables, as YAML-ready data."""
    schemas = [schema_name(i) for i in range(1, layout.schemas(tables) + 1)]
    roles: dict[str, dict[str, Any]] = {
        OWNER: {},
        READONLY: {},
        READWRITE: {},
        MONITOR: {"login": True, "connection_limit": MONITOR_LIMIT[0]},
    }
    roles.update({team: {} for team in TEAMS})
    for i, user in enumerate(USERS, start=1):
        groups = [team_of(i)] + ([READONLY] if i % 2 else [])
        roles[user] = {"login": True, "member_of": groups}
    access: list[dict[str, Any]] = [
        {"role": OWNER, "profile": "owner", "database": DATABASE},
        {"role": READONLY, "profile": "readonly", "database": DATABASE, "tables": ["*"]},
        {"role": READWRITE, "profile": "readwrite", "database": DATABASE},
        {"role": MONITOR, "profile": "monitoring", "database": DATABASE},
    ]
    access += [
        {"role": TEAMS[i - 1], "profile": "readwrite", "database": DATABASE, "schemas": [s]}
        for i, s in enumerate(schemas, start=1)
        if i <= len(TEAMS)
    ]
    access += [
        {
            "role": user,
            "database": DATABASE,
            "privileges": {"database": ["CONNECT"], "schema": ["USAGE"], "table": ["SELECT"]},
            "tables": [GLOB],
        }
        for user in GLOB_USERS
    ]
    rls = [
        {
            "table": f"{DATABASE}.{schemas[0]}.{table_name(i)}",
            "enable": True,
            "policies": [
                {
                    "name": "tenant_isolation",
                    "command": "ALL",
                    "roles": [READWRITE, TEAMS[0]],
                    "using": TENANT,
                    "with_check": TENANT,
                }
            ],
        }
        for i in range(1, RLS_TABLES + 1)
    ]
    return {
        "version": 1,
        "settings": {"revoke_public_function_execute": True},
        "roles": roles,
        "databases": {
            DATABASE: {
                "revoke_public": ["CONNECT", "TEMPORARY"],
                "schemas": {s: {"owner": OWNER} for s in schemas},
            }
        },
        "access": access,
        "default_privileges": {"owners": [OWNER]},
        "rls": rls,
    }


# --------------------------------------------------------------------------- the cluster


def _join(statements: Sequence[sql.Composable]) -> sql.Composed:
    return sql.SQL(";\n").join(statements)


def _role(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def create_globals(conn: psycopg.Connection[Any]) -> None:
    """Roles, memberships, the database and its grants (``conn``: superuser, autocommit)."""
    stmts: list[sql.Composable] = []
    for name in (OWNER, READONLY, READWRITE, *TEAMS, LEGACY):
        stmts.append(sql.SQL("CREATE ROLE {} NOLOGIN").format(_role(name)))
    stmts.append(
        sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT {}").format(
            _role(MONITOR), sql.Literal(MONITOR_LIMIT[1])
        )
    )
    stmts.append(sql.SQL("GRANT pg_monitor TO {}").format(_role(MONITOR)))
    for i, user in enumerate(USERS, start=1):
        if user == MISSING_ROLE:
            continue
        stmts.append(sql.SQL("CREATE ROLE {} LOGIN").format(_role(user)))
        groups = [] if user == MISSING_MEMBERSHIP_USER else [team_of(i)]
        groups += [READONLY] if i % 2 else []
        groups += [EXTRA_MEMBERSHIP[0]] if user == EXTRA_MEMBERSHIP[1] else []
        for group in groups:
            stmts.append(sql.SQL("GRANT {} TO {}").format(_role(group), _role(user)))
    conn.execute(_join(stmts))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    # PUBLIC keeps CONNECT and TEMPORARY (drift: the policy revokes them).
    db = sql.Identifier(DATABASE)
    grants = [
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, _role(OWNER)),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            db, sql.SQL(", ").join(map(_role, (READONLY, READWRITE, MONITOR, *GLOB_USERS)))
        ),
    ]
    conn.execute(_join(grants))


def create_database_objects(conn: psycopg.Connection[Any]) -> None:
    """Once per database (``conn`` to ``app``): app_owner's new functions are not PUBLIC's."""
    conn.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"
        ).format(_role(OWNER))
    )


def _loop(schema: str, rule: Rule, per_schema: int) -> sql.Composed:
    """A DO block running ``rule.statement`` for every matching object of ``schema``."""
    suffix = "" if rule.kind == "TABLE" else "_id_seq"  # serial's sequence: t0001_id_seq
    body = sql.SQL(
        "DO $do$ BEGIN "
        "FOR i IN 1..{per} LOOP "
        "CONTINUE WHEN i % {mod} <> {rem}; "
        "EXECUTE format({stmt}, {schema}, 't' || lpad(i::text, 4, '0') || {suffix}); "
        "END LOOP; END $do$"
    )
    return body.format(
        per=sql.Literal(per_schema),
        mod=sql.Literal(rule.mod),
        rem=sql.Literal(rule.rem),
        stmt=sql.Literal(rule.statement),
        schema=sql.Literal(schema),
        suffix=sql.Literal(suffix),
    )


def build_schema(conn: psycopg.Connection[Any], index: int, per_schema: int) -> None:
    """Schema ``s<index>`` with its tables, functions, grants, default privileges and drift;
    RLS on the first 50 tables of ``s01`` (``conn``: superuser to ``app``, autocommit)."""
    schema = schema_name(index)
    s = sql.Identifier(schema)
    team = _role(TEAMS[index - 1]) if index <= len(TEAMS) else None
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(s, _role(OWNER)))
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(_role(OWNER)))
        conn.execute(
            sql.SQL(
                "DO $do$ BEGIN FOR i IN 1..{per} LOOP "
                "EXECUTE format('CREATE TABLE %I.%I (id serial PRIMARY KEY, "
                "tenant_id int NOT NULL, payload text)', {schema}, "
                "'t' || lpad(i::text, 4, '0')); "
                "END LOOP; END $do$"
            ).format(per=sql.Literal(per_schema), schema=sql.Literal(schema))
        )
        conn.execute(
            _join(
                [
                    sql.SQL(
                        "CREATE FUNCTION {}.f_total(n integer) RETURNS integer LANGUAGE sql "
                        "IMMUTABLE AS 'SELECT n + 1'"
                    ).format(s),
                    sql.SQL(
                        "CREATE FUNCTION {}.f_touch() RETURNS void LANGUAGE plpgsql AS 'BEGIN END'"
                    ).format(s),
                ]
            )
        )
        writers = [_role(READWRITE), *([team] if team is not None else [])]
        rw = sql.SQL(", ").join(writers)
        readers = sql.SQL(", ").join([_role(READONLY), *writers, *map(_role, GLOB_USERS)])
        stmts: list[sql.Composable] = [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, readers),
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}, {}").format(
                s, _role(READONLY), _role(LEGACY)
            ),
            sql.SQL("GRANT SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, _role(READONLY)),
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
                s, rw
            ),
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, rw),
            sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(s, rw),
            # drift: PUBLIC may run f_total
            sql.SQL("GRANT EXECUTE ON FUNCTION {}.f_total(integer) TO PUBLIC").format(s),
        ]
        lo, hi = GLOB_RANGE
        stmts.append(
            sql.SQL(
                "DO $do$ BEGIN FOR i IN {lo}..{hi} LOOP "
                "EXECUTE format('GRANT SELECT ON %I.%I TO {users}', {schema}, "
                "'t' || lpad(i::text, 4, '0')); END LOOP; END $do$"
            ).format(
                lo=sql.Literal(lo),
                hi=sql.Literal(min(hi, per_schema)),
                users=sql.SQL(", ").join(map(_role, GLOB_USERS)),
                schema=sql.Literal(schema),
            )
        )
        stmts += [_loop(schema, rule, per_schema) for rule in (*TABLE_DRIFT, *SEQUENCE_DRIFT)]
        conn.execute(_join(stmts))
        conn.execute("RESET ROLE")
        if team is not None:
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(DATABASE), team)
            )
        # Default privileges; the team's are missing (drift: 3 changes per schema).
        prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}").format(
            _role(OWNER), s
        )
        conn.execute(
            _join(
                [
                    sql.SQL("{} GRANT SELECT ON TABLES TO {}").format(prefix, _role(READONLY)),
                    sql.SQL("{} GRANT SELECT ON SEQUENCES TO {}").format(prefix, _role(READONLY)),
                    sql.SQL("{} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}").format(
                        prefix, _role(READWRITE)
                    ),
                    sql.SQL("{} GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
                        prefix, _role(READWRITE)
                    ),
                    sql.SQL("{} GRANT EXECUTE ON FUNCTIONS TO {}").format(prefix, _role(READWRITE)),
                ]
            )
        )
        if index == 1:
            conn.execute(_rls_statements(s))


def _rls_statements(s: sql.Identifier) -> sql.Composed:
    """RLS on t0001 .. t0050 with one policy each, and five differences from the policy."""
    stmts: list[sql.Composable] = []
    roles = sql.SQL(", ").join([_role(READWRITE), _role(TEAMS[0])])
    for i in range(1, RLS_TABLES + 1):
        t = sql.SQL("{}.{}").format(s, sql.Identifier(table_name(i)))
        if i != RLS_TABLES:  # drift: t0050 without RLS
            stmts.append(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(t))
        using = sql.SQL(TENANT)
        if i == RLS_TABLES - 2:  # drift: t0048 lacks its policy
            continue
        if i == RLS_TABLES - 1:  # drift: t0049 has another expression
            using = sql.SQL("tenant_id = 0")
        who = _role(READWRITE) if i == RLS_TABLES - 4 else roles  # drift: t0046, fewer roles
        stmts.append(
            sql.SQL(
                "CREATE POLICY tenant_isolation ON {} AS PERMISSIVE FOR ALL TO {} "
                "USING ({}) WITH CHECK ({})"
            ).format(t, who, using, sql.SQL(TENANT))
        )
        if i == RLS_TABLES - 3:  # drift: t0047 has a policy the file does not list
            stmts.append(
                sql.SQL("CREATE POLICY legacy_all ON {} FOR SELECT USING (true)").format(t)
            )
    return _join(stmts)


CATALOGS = (
    "pg_class",
    "pg_attribute",
    "pg_namespace",
    "pg_depend",
    "pg_proc",
    "pg_type",
    "pg_policy",
    "pg_default_acl",
    "pg_index",
    "pg_constraint",
    "pg_sequence",
    "pg_attrdef",
)


def settle(conn: psycopg.Connection[Any]) -> None:
    """VACUUM (ANALYZE) the catalogs the build filled (hint bits, statistics), then CHECKPOINT:
    the plan reads an analysed, quiet cluster, as a production one would be."""
    conn.execute(
        sql.SQL("VACUUM (ANALYZE) {}").format(
            sql.SQL(", ").join(sql.Identifier("pg_catalog", c) for c in CATALOGS)
        )
    )
    conn.execute("CHECKPOINT")
