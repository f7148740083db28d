"""Policy file + DSN → plan: inspect the live cluster, expand the policy on what exists, diff."""

from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgtune import pg
from pgtune.access.catalog import Connect, Inspection, inspect_cluster
from pgtune.access.plan import Change, diff
from pgtune.access.policy.document import Policy
from pgtune.access.policy.expand import expand
from pgtune.access.server_expressions import ServerExpressions
from pgtune.errors import UsageError
from pgtune.gcpasses import fewer_gc_passes
from pgtune.names import shown


@dataclass(frozen=True)
class Planned:
    changes: list[Change]
    inspection: Inspection
    first_db: str
    current_user: str


def dsn_for(dsn: str, database: str) -> str:
    return make_conninfo(dsn, dbname=database)


def first_database(dsn: str) -> str:
    """The DSN's own database: cluster-wide statements run there."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        raise pg.ConnectError(
            f"invalid DSN {pg.redact_dsn(dsn)!r}: {pg.sanitize(str(exc), dsn)}"
        ) from None
    return str(params.get("dbname") or params.get("user") or "postgres")


def connector(dsn: str, *, user_search_path: bool = False) -> Connect:
    """Connections to the DSN's cluster, one database at a time. Catalog reading runs with an
    empty search_path (pgtune.pg.connect); ``user_search_path`` for what must resolve names as
    the user does: applying a plan, compiling RLS expressions."""

    def connect(database: str) -> psycopg.Connection[tuple[object, ...]]:
        return pg.connect(dsn_for(dsn, database), user_search_path=user_search_path)

    return connect


def plan_policy(policy: Policy, dsn: str, *, set_passwords: bool = False) -> Planned:
    """``set_passwords``: also set the password of existing roles that have ``password_env``
    (``pgtune roles apply --set-passwords``); new roles always get theirs."""
    with fewer_gc_passes():
        return _plan_policy(policy, dsn, set_passwords)


def _plan_policy(policy: Policy, dsn: str, set_passwords: bool) -> Planned:
    connect = connector(dsn)
    # Cluster-wide statements share the transaction of a managed database, so a policy for one
    # database applies atomically; the DSN's database when it is one of them.
    dsn_db = first_database(dsn)
    first_db = (
        dsn_db
        if dsn_db in policy.databases or not policy.databases
        else next(iter(policy.databases))
    )
    with connect(dsn_db) as conn:
        row = conn.execute("SELECT current_user").fetchone()
        existing = {
            str(r[0])
            for r in conn.execute(
                "SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY(%s)",
                [list(policy.databases)],
            )
        }
        major = conn.info.server_version // 10000
    current_user = str(row[0]) if row else ""
    if policy.databases and not existing:
        # Every database the policy lists is missing: an invalid policy (exit 3), each
        # reported with its line by expand, not a connection error.
        expand(policy, {}, major=major)
    with pg.errors_mapped(dsn, "inspection failed on"):
        # grouped: grants on tables and sequences held per shared ACL, not per item
        inspection = inspect_cluster(
            connect, [db for db in policy.databases if db in existing], grouped=True
        )
    blind = [db for db in policy.databases if db in existing and db not in inspection.inventories]
    if blind:
        reasons = "; ".join(u for u in inspection.unreadable if any(db in u for db in blind))
        raise UsageError(
            f"cannot read database(s) {', '.join(map(shown, blind))} as {shown(current_user)}"
            + (f" ({reasons})" if reasons else "")
            + ": nothing planned (pgtune does not guess what it cannot see)"
        )
    desired, scope = expand(policy, inspection.inventories, major=inspection.major, grouped=True)
    # RLS expressions are compared through the server without locks or DDL (EXPLAIN only).
    expressions = ServerExpressions(
        connector(dsn, user_search_path=True),
        source=policy.source,
        lines={spec.table: spec.line for spec in policy.rls},
    )
    try:
        changes = diff(
            inspection.state,
            desired,
            scope,
            major=inspection.major,
            inventories=inspection.inventories,
            current_user=current_user,
            canonical=expressions,
            set_passwords=set_passwords,
        )
    finally:
        expressions.close()
    return Planned(changes, inspection, first_db, current_user)
