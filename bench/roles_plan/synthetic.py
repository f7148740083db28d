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
``revoke_public`` CONNECT and TEMPORARY on ``app``; ``revoke_public_function_execute``;
``unmanaged_roles: ignore`` (``legacy_etl``'s grants are left alone); and 50
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
import time
from collections.abc import Callable, Sequence
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
# The server the build needs: many relations per transaction (5 locks per table: table,
# sequence, index, TOAST table and index; 1,000 tables per transaction), no durability (a
# throwaway cluster), and no autovacuum (the catalogs are vacuumed and analysed explicitly, so
# nothing runs while a benchmark measures).
SERVER_CONF = (
    "max_locks_per_transaction = 1024\n"
    "fsync = off\n"
    "synchronous_commit = off\n"
    "full_page_writes = off\n"
    "autovacuum = off\n"
)

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
        # legacy_etl's grants are left alone (the default, report, would list each one)
        "settings": {"revoke_public_function_execute": True, "unmanaged_roles": "ignore"},
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


def _schema_with_tables(conn: psycopg.Connection[Any], schema: str, per_schema: int) -> None:
    """In the caller's transaction: ``schema`` owned by the owner, who then creates its tables
    (``t0001`` ...) and runs the rest of the transaction."""
    s = sql.Identifier(schema)
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


def _functions(s: sql.Identifier) -> list[sql.Composable]:
    """The two functions every schema has."""
    return [
        sql.SQL(
            "CREATE FUNCTION {}.f_total(n integer) RETURNS integer LANGUAGE sql "
            "IMMUTABLE AS 'SELECT n + 1'"
        ).format(s),
        sql.SQL("CREATE FUNCTION {}.f_touch() RETURNS void LANGUAGE plpgsql AS 'BEGIN END'").format(
            s
        ),
    ]


def build_schema(conn: psycopg.Connection[Any], index: int, per_schema: int) -> None:
    """Schema ``s<index>`` with its tables, functions, grants, default privileges and drift;
    RLS on the first 50 tables of ``s01`` (``conn``: superuser to ``app``, autocommit)."""
    schema = schema_name(index)
    s = sql.Identifier(schema)
    team = _role(TEAMS[index - 1]) if index <= len(TEAMS) else None
    with conn.transaction():
        _schema_with_tables(conn, schema, per_schema)
        conn.execute(_join(_functions(s)))
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


# =========================================================================== the dense shape
#
# What real clusters carry: many ACL items per table. The same layout (``s01`` .. with
# ``per_schema`` tables ``t0001`` .. each with a serial key, two functions per schema, all owned
# by ``app_owner``), but 200 roles that hold privileges on whole schemas:
#
# - 80 read-only groups ``ro_01`` .. ``ro_80``: CONNECT, USAGE and SELECT on the tables and
#   sequences of 3 schemas each (group g: schemas 3g, 3g+1, 3g+2 modulo 20, 0-based);
# - 60 read-write groups ``rw_01`` .. ``rw_60``: CONNECT, USAGE and every table privilege and
#   every sequence privilege on 2 schemas each (group h: schemas 2h, 2h+1 modulo 20);
# - 60 login users ``user_01`` .. ``user_60``: each a member of ``ro_NN`` (same number) and, the
#   odd ones, of ``rw_NN``;
# - default privileges FOR ROLE app_owner IN SCHEMA mirroring the grants;
# - 10 column grants (``user_01`` .. ``user_10``: SELECT (payload) on ``s01.t0001`` ..
#   ``s01.t0010``) and RLS with one policy on ``s01.t0001`` .. ``s01.t0005``;
# - what real clusters also have: PUBLIC SELECT on every 100th table, and a second grantor: the
#   schema's first read-write group holds SELECT WITH GRANT OPTION on every 50th table and grants
#   it to the schema's first read-only group (which holds it from app_owner too);
# - ad-hoc grants: 3 login users per schema (user j, 0-based: schema j modulo 20) each hold
#   SELECT on every 10th table (those whose number ends in j // 20 + 1), without default
#   privileges: a glob (``t???3``) in the pattern policy, a literal list of 100 names per
#   schema in the exported one.
#
# So every schema has 12 read-only and 6 read-write groups, and every table and every sequence
# 19 ACL items (owner, 12, 6): 760,000 at 20,000 tables, plus 6,000 ad-hoc, 400 second-grantor
# and 200 PUBLIC items (``dense_acl_items``; ``live_acl_items`` counts them on the server).
# Schemas beyond the 20th repeat the groups of schema (index modulo 20), so the density per
# table is the same at every size: the groups of schemas not built yet hold nothing. The
# matching pattern policy (:func:`dense_policy_document`) is the grants as profiles on schemas
# (``"*"``) and globs, PUBLIC's SELECT included (``role: PUBLIC``); its plan has only the grant
# options to revoke, with CASCADE (``dense_expected_changes``).

DENSE_RO = tuple(f"ro_{i:02d}" for i in range(1, 81))
DENSE_RW = tuple(f"rw_{i:02d}" for i in range(1, 61))
DENSE_USERS = tuple(f"user_{i:02d}" for i in range(1, 61))
DENSE_GROUP_SCHEMAS = 20  # the schema pattern repeats every 20 schemas
DENSE_COLUMN_GRANTS = 10
DENSE_RLS_TABLES = 5
DENSE_PUBLIC_EVERY = 100  # PUBLIC SELECT on tables i % 100 == 0
DENSE_GRANTOR_EVERY = 50  # second grantor on tables i % 50 == 0
DENSE_ADHOC_EVERY = 10  # ad-hoc SELECT on the tables whose number ends in one digit
DENSE_PROFILE = "everything"
assert len(DENSE_RO) + len(DENSE_RW) + len(DENSE_USERS) == 200


def _dense_ro_slots(g: int) -> set[int]:
    return {(3 * g + k) % DENSE_GROUP_SCHEMAS for k in range(3)}


def _dense_rw_slots(h: int) -> set[int]:
    return {(2 * h + k) % DENSE_GROUP_SCHEMAS for k in range(2)}


def dense_readers(index: int) -> list[str]:
    """The read-only groups of schema ``s<index>`` (1-based): 12."""
    slot = (index - 1) % DENSE_GROUP_SCHEMAS
    return [r for g, r in enumerate(DENSE_RO) if slot in _dense_ro_slots(g)]


def dense_writers(index: int) -> list[str]:
    """The read-write groups of schema ``s<index>`` (1-based): 6."""
    slot = (index - 1) % DENSE_GROUP_SCHEMAS
    return [r for h, r in enumerate(DENSE_RW) if slot in _dense_rw_slots(h)]


def dense_adhoc(index: int) -> list[tuple[str, int]]:
    """(user, last digit of the table numbers) of the ad-hoc grants in schema ``s<index>``."""
    slot = (index - 1) % DENSE_GROUP_SCHEMAS
    return [
        (u, j // DENSE_GROUP_SCHEMAS + 1)
        for j, u in enumerate(DENSE_USERS)
        if j % DENSE_GROUP_SCHEMAS == slot
    ]


def dense_table_privileges(major: int) -> list[str]:
    return ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"] + (
        ["MAINTAIN"] if major >= 17 else []
    )


def dense_expected_changes(layout: Layout, tables: int) -> int:
    """The pattern policy's plan: per schema, the grant option of SELECT on every 50th table."""
    per_schema = layout.per_schema // DENSE_GRANTOR_EVERY
    return layout.schemas(tables) * per_schema


def dense_acl_items(layout: Layout, tables: int) -> int:
    """ACL items on the tables and sequences (owner + 12 + 6 each, PUBLIC, second grantor)."""
    per = layout.per_schema
    items = 2 * per * (1 + 12 + 6) + per // DENSE_PUBLIC_EVERY + per // DENSE_GRANTOR_EVERY
    items += sum(
        1
        for _, digit in dense_adhoc(1)
        for i in range(1, per + 1)
        if i % DENSE_ADHOC_EVERY == digit
    )
    return layout.schemas(tables) * items


def dense_policy_document(layout: Layout, tables: int, major: int) -> dict[str, Any]:
    """The pattern policy of the dense cluster at ``tables`` tables: profiles on schemas."""
    count = layout.schemas(tables)
    schemas = [schema_name(i) for i in range(1, count + 1)]
    roles: dict[str, dict[str, Any]] = {OWNER: {}}
    roles.update({r: {} for r in (*DENSE_RO, *DENSE_RW)})
    for j, user in enumerate(DENSE_USERS, start=1):
        groups = [DENSE_RO[j - 1]] + ([DENSE_RW[j - 1]] if j % 2 else [])
        roles[user] = {"login": True, "member_of": groups}
    held: dict[str, list[str]] = {}
    for i, s in enumerate(schemas, start=1):
        for role in (*dense_readers(i), *dense_writers(i)):
            held.setdefault(role, []).append(s)
    access: list[dict[str, Any]] = []
    for role in (*DENSE_RO, *DENSE_RW):
        if role in held:
            profile = "readonly" if role in DENSE_RO else DENSE_PROFILE
            access.append(
                {"role": role, "profile": profile, "database": DATABASE, "schemas": held[role]}
            )
    adhoc: dict[tuple[str, int], list[str]] = {}
    for i, s in enumerate(schemas, start=1):
        for user, digit in dense_adhoc(i):
            adhoc.setdefault((user, digit), []).append(s)
    access += [
        {
            "role": user,
            "database": DATABASE,
            "schemas": names,
            "privileges": {"table": ["SELECT"]},
            "tables": [f"t???{digit}"],
        }
        for (user, digit), names in adhoc.items()
    ]
    access.append(
        {
            "role": "PUBLIC",  # the access entry for PUBLIC (t0100, t0200, ...)
            "database": DATABASE,
            "schemas": schemas,
            "privileges": {"table": ["SELECT"]},
            "tables": ["t??00"],
        }
    )
    access += [
        {
            "role": DENSE_USERS[i - 1],
            "database": DATABASE,
            "schemas": [schemas[0]],
            "privileges": {"table": ["SELECT"]},
            "tables": [table_name(i)],
            "columns": ["payload"],
        }
        for i in range(1, DENSE_COLUMN_GRANTS + 1)
    ]
    rls = [
        {
            "table": f"{DATABASE}.{schemas[0]}.{table_name(i)}",
            "enable": True,
            "policies": [
                {
                    "name": "tenant_isolation",
                    "command": "ALL",
                    "roles": [dense_writers(1)[0]],
                    "using": TENANT,
                    "with_check": TENANT,
                }
            ],
        }
        for i in range(1, DENSE_RLS_TABLES + 1)
    ]
    return {
        "version": 1,
        "roles": roles,
        "profiles": {
            DENSE_PROFILE: {
                "database": ["CONNECT"],
                "schema": ["USAGE"],
                "table": dense_table_privileges(major),
                "sequence": ["USAGE", "SELECT", "UPDATE"],
            }
        },
        "databases": {DATABASE: {"schemas": {s: {"owner": OWNER} for s in schemas}}},
        "access": access,
        "default_privileges": {"owners": [OWNER]},
        "rls": rls,
    }


def dense_create_globals(conn: psycopg.Connection[Any]) -> None:
    """The 201 roles, the memberships and the database (``conn``: superuser, autocommit)."""
    stmts: list[sql.Composable] = [
        sql.SQL("CREATE ROLE {} NOLOGIN").format(_role(name))
        for name in (OWNER, *DENSE_RO, *DENSE_RW)
    ]
    for j, user in enumerate(DENSE_USERS, start=1):
        stmts.append(sql.SQL("CREATE ROLE {} LOGIN").format(_role(user)))
        groups = [DENSE_RO[j - 1]] + ([DENSE_RW[j - 1]] if j % 2 else [])
        stmts += [sql.SQL("GRANT {} TO {}").format(_role(g), _role(user)) for g in groups]
    conn.execute(_join(stmts))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def _every(schema: str, every: int, per_schema: int, statement: str) -> sql.Composed:
    """A DO block running ``statement`` (format(): %1$I schema, %2$I table) on every
    ``every``-th table of ``schema``."""
    return sql.SQL(
        "DO $do$ BEGIN FOR i IN 1..{per} LOOP CONTINUE WHEN i % {every} <> 0; "
        "EXECUTE format({stmt}, {schema}, 't' || lpad(i::text, 4, '0')); END LOOP; END $do$"
    ).format(
        per=sql.Literal(per_schema),
        every=sql.Literal(every),
        stmt=sql.Literal(statement),
        schema=sql.Literal(schema),
    )


def dense_build_schema(conn: psycopg.Connection[Any], index: int, per_schema: int) -> None:
    """Schema ``s<index>`` of the dense shape, in one transaction (``conn``: superuser to
    ``app``, autocommit)."""
    schema = schema_name(index)
    s = sql.Identifier(schema)
    readers, writers = dense_readers(index), dense_writers(index)
    ro = sql.SQL(", ").join(map(_role, readers))
    rw = sql.SQL(", ").join(map(_role, writers))
    delegate, second = writers[0], readers[0]
    with conn.transaction():
        _schema_with_tables(conn, schema, per_schema)
        prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}").format(
            _role(OWNER), s
        )
        stmts: list[sql.Composable] = [
            *_functions(s),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}, {}").format(s, ro, rw),
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, ro),
            sql.SQL("GRANT SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, ro),
            sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA {} TO {}").format(s, rw),
            sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, rw),
            sql.SQL("{} GRANT SELECT ON TABLES TO {}").format(prefix, ro),
            sql.SQL("{} GRANT SELECT ON SEQUENCES TO {}").format(prefix, ro),
            sql.SQL("{} GRANT ALL ON TABLES TO {}").format(prefix, rw),
            sql.SQL("{} GRANT ALL ON SEQUENCES TO {}").format(prefix, rw),
            _every(schema, DENSE_PUBLIC_EVERY, per_schema, "GRANT SELECT ON %1$I.%2$I TO PUBLIC"),
            _every(
                schema,
                DENSE_GRANTOR_EVERY,
                per_schema,
                f"GRANT SELECT ON %1$I.%2$I TO {delegate} WITH GRANT OPTION",
            ),
        ]
        conn.execute(_join(stmts))
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(_role(delegate)))
        conn.execute(
            _every(
                schema, DENSE_GRANTOR_EVERY, per_schema, f"GRANT SELECT ON %1$I.%2$I TO {second}"
            )
        )
        conn.execute("RESET ROLE")
        conn.execute(
            _join(
                [
                    sql.SQL(
                        "DO $do$ BEGIN FOR i IN 1..{per} LOOP "
                        "CONTINUE WHEN i % {every} <> {digit}; "
                        "EXECUTE format('GRANT SELECT ON %I.%I TO {user}', {schema}, "
                        "'t' || lpad(i::text, 4, '0')); END LOOP; END $do$"
                    ).format(
                        per=sql.Literal(per_schema),
                        every=sql.Literal(DENSE_ADHOC_EVERY),
                        digit=sql.Literal(digit),
                        user=_role(user),
                        schema=sql.Literal(schema),
                    )
                    for user, digit in dense_adhoc(index)
                ]
            )
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
                sql.Identifier(DATABASE), ro, rw
            )
        )
        if index == 1:
            stmts = []
            for i in range(1, DENSE_COLUMN_GRANTS + 1):
                t = sql.SQL("{}.{}").format(s, sql.Identifier(table_name(i)))
                stmts.append(
                    sql.SQL("GRANT SELECT (payload) ON {} TO {}").format(
                        t, _role(DENSE_USERS[i - 1])
                    )
                )
            for i in range(1, DENSE_RLS_TABLES + 1):
                t = sql.SQL("{}.{}").format(s, sql.Identifier(table_name(i)))
                stmts.append(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(t))
                stmts.append(
                    sql.SQL(
                        "CREATE POLICY tenant_isolation ON {} AS PERMISSIVE FOR ALL TO {} "
                        "USING ({}) WITH CHECK ({})"
                    ).format(t, _role(writers[0]), sql.SQL(TENANT), sql.SQL(TENANT))
                )
            conn.execute(_join(stmts))


def live_acl_items(conn: psycopg.Connection[Any]) -> int:
    """ACL items on the tables and sequences of the ``s*`` schemas (``conn`` to ``app``)."""
    row = conn.execute(
        "SELECT coalesce(sum(cardinality(c.relacl)), 0) FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'S') AND n.nspname ~ '^s[0-9]+$'"
    ).fetchone()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------- both shapes


@dataclass(frozen=True)
class Shape:
    """How to build one shape of the cluster and the policy that matches it."""

    name: str

    @property
    def dense(self) -> bool:
        return self.name == "dense"

    def create_globals(self, conn: psycopg.Connection[Any]) -> None:
        if self.dense:
            dense_create_globals(conn)
        else:
            create_globals(conn)

    def create_database_objects(self, conn: psycopg.Connection[Any]) -> None:
        if not self.dense:
            create_database_objects(conn)

    def build_schema(self, conn: psycopg.Connection[Any], index: int, per_schema: int) -> None:
        if self.dense:
            dense_build_schema(conn, index, per_schema)
        else:
            build_schema(conn, index, per_schema)

    def policy_document(self, layout: Layout, tables: int, major: int) -> dict[str, Any]:
        if self.dense:
            return dense_policy_document(layout, tables, major)
        return policy_document(layout, tables)

    def expected_changes(self, layout: Layout, tables: int) -> int:
        if self.dense:
            return dense_expected_changes(layout, tables)
        return expected_changes(layout, tables)


SHAPES = ("dense", "sparse")


class Builder:
    """Grows one cluster of one shape size by size (the sizes of a run share their first
    schemas): what both benchmarks (roles_plan, audit_scale) build, from one place.

    ``connect(dbname)`` returns an autocommit superuser connection (``Cluster.connect``)."""

    def __init__(
        self, shape: Shape, layout: Layout, connect: Callable[[str], psycopg.Connection[Any]]
    ) -> None:
        self.shape, self.layout, self.connect = shape, layout, connect
        self.schemas = 0  # built so far

    def grow(self, tables: int, log: Callable[[str], None] | None = None) -> float:
        """Build up to ``tables`` tables, settle the catalogs; seconds taken."""
        start = time.perf_counter()
        if self.schemas == 0:
            with self.connect("postgres") as conn:
                self.shape.create_globals(conn)
            with self.connect(DATABASE) as conn:
                self.shape.create_database_objects(conn)
        target = self.layout.schemas(tables)
        with self.connect(DATABASE) as conn:
            for index in range(self.schemas + 1, target + 1):
                self.shape.build_schema(conn, index, self.layout.per_schema)
                if log is not None and target > 1:
                    log(f"  schema {index}/{target} built ({time.perf_counter() - start:.0f} s)")
            settle(conn)
        self.schemas = target
        return time.perf_counter() - start

    def acl_items(self) -> int:
        with self.connect(DATABASE) as conn:
            return live_acl_items(conn)
