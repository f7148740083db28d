"""PgBouncer in front of PostgreSQL: pool sizes, pgbouncer.ini settings, and the server
connection count that follows from the pools (not from the number of clients).

Pure rules, like sizing/: the CLI resolves versions and flags into PoolerOptions first.
"""

import re
from dataclasses import dataclass

from pgtune.errors import UsageError
from pgtune.tuning.hardware import Hardware
from pgtune.tuning.profiles import StorageTraits

# pgbouncer versions that introduced a setting pgtune emits (all others predate 1.14, the first
# with SCRAM, which pgtune requires).
PGBOUNCER_SINCE = {"max_prepared_statements": (1, 21)}
PGBOUNCER_MIN = (1, 14)
PGBOUNCER_NEWEST = (1, 24)

SUPERUSER_RESERVED = 3  # PostgreSQL's superuser_reserved_connections default
ADMIN_HEADROOM = 10  # direct connections: migrations, monitoring, replication, a DBA's psql
POOL_MIN = 10  # server connections for all pools on a small machine
POOL_TOTAL_MAX = 400

_NAME = re.compile(r"^(\*|[A-Za-z_][A-Za-z0-9_$-]*)$")
_SPEC_KEYS = {
    "host",
    "port",
    "dbname",
    "user",
    "auth_user",
    "pool_size",
    "pool_mode",
    "connect_query",
    "application_name",
    "max_db_connections",
    "client_encoding",
    "datestyle",
    "timezone",
}


@dataclass(frozen=True)
class Database:
    name: str
    spec: str  # libpq-style "host=... port=... dbname=..."


@dataclass(frozen=True)
class PoolerOptions:
    version: tuple[int, int] = PGBOUNCER_NEWEST
    version_source: str = "newest supported"
    databases: tuple[Database, ...] = ()
    users_per_database: int = 1
    max_client_conn: int = 1000
    pool_mode: str = "transaction"
    listen_addr: str = "127.0.0.1"
    listen_port: int = 6432
    unix_socket_dir: str = "/var/run/postgresql"
    auth_user: str = "pgbouncer_auth"
    auth_file: str = "/etc/pgbouncer/userlist.txt"
    admin_user: str = "pgbouncer_admin"  # console users log in with secrets from auth_file
    stats_user: str = "pgbouncer_stats"
    pool_size: int | None = None  # None: from CPUs and storage
    fd_limit: int | None = None  # this host's `ulimit -n`, when known


@dataclass(frozen=True)
class PgbouncerSetting:
    name: str
    value: str
    reason: str


@dataclass(frozen=True)
class PoolPlan:
    options: PoolerOptions
    pool_size: int
    reserve: int
    pools: int
    server_connections: int  # PostgreSQL's max_connections
    settings: tuple[PgbouncerSetting, ...]
    databases: tuple[Database, ...]
    notes: tuple[str, ...]
    max_db_connections: int | None = None  # per database, across its users (None: not needed)

    @property
    def sizing(self) -> str:
        """How the pools add up to the server connections, in one line."""
        per_pair = f"{self.pools} pool(s) x ({self.pool_size} + {self.reserve} reserve)"
        if self.max_db_connections is None:
            return f"{per_pair} = {self.pooled_connections} server connections"
        return (
            f"{per_pair}, at most {self.max_db_connections} per database (max_db_connections) "
            f"x {len(self.databases)} database(s) = {self.pooled_connections} server connections"
        )

    @property
    def pooled_connections(self) -> int:
        """Server connections the pools may open (reserve included)."""
        return self.server_connections - SUPERUSER_RESERVED - ADMIN_HEADROOM

    @property
    def connections_reason(self) -> str:
        return (
            f"pgbouncer in front: {self.sizing} + {SUPERUSER_RESERVED} superuser-reserved + "
            f"{ADMIN_HEADROOM} for migrations, monitoring and replication; clients queue in "
            "pgbouncer, not here"
        )


def parse_database(text: str, port: int) -> Database:
    """``NAME`` or ``NAME=host=... dbname=...``; secrets do not belong in pgbouncer.ini.

    >>> parse_database("app", 5432)
    Database(name='app', spec='host=127.0.0.1 port=5432 dbname=app')
    >>> parse_database("web=host=db1 dbname=shop", 5432).spec
    'host=db1 dbname=shop'
    """
    name, _, spec = text.partition("=")
    name = name.strip()
    if not _NAME.match(name):
        raise UsageError(f"invalid --database name {name!r}: letters, digits, _ $ - or *")
    if not spec.strip():
        target = "" if name == "*" else f" dbname={name}"
        return Database(name, f"host=127.0.0.1 port={port}{target}")
    for item in spec.split():
        key, eq, value = item.partition("=")
        if key == "password":
            raise UsageError(
                "--database must not carry a password: pgbouncer authenticates "
                "through auth_query and auth_file"
            )
        if not eq or key not in _SPEC_KEYS or not value or "\n" in value:
            raise UsageError(f"invalid --database setting {item!r} in {text!r}")
    return Database(name, " ".join(spec.split()))


def total_pool_for(hw: Hardware, storage: StorageTraits) -> tuple[int, str]:
    """Server connections for all pools together: enough to keep every CPU and the disk busy."""
    per_cpu = {"hdd": 2, "ssd": 3, "nvme": 4}[storage.name]
    size = max(POOL_MIN, min(POOL_TOTAL_MAX, hw.cpus * per_cpu))
    return size, (
        f"{per_cpu} per CPU on {storage.name} ({hw.cpus} CPUs, at least {POOL_MIN}) for all pools "
        "together: more active queries than that only queue inside PostgreSQL"
    )


def unique_databases(databases: tuple[Database, ...]) -> tuple[Database, ...]:
    """One entry per name: a repeated --database is the same pool."""
    seen: dict[str, Database] = {}
    for db in databases:
        if db.name in seen and seen[db.name].spec != db.spec:
            raise UsageError(
                f"--database {db.name!r} is given twice with different settings "
                f"({seen[db.name].spec!r} and {db.spec!r})"
            )
        seen.setdefault(db.name, db)
    return tuple(seen.values())


def plan_pools(
    hw: Hardware,
    storage: StorageTraits,
    opts: PoolerOptions,
    idle_in_transaction_ms: int,
    server_port: int,
    ceiling: int | None = None,
) -> PoolPlan:
    """Pools sized to the machine: their sum is about what the CPUs and disk can run, each
    (database, user) pair's pool shrinks as pairs grow, and ``ceiling`` (the server connections
    without a pooler) is never exceeded unless --pool-size asks for it."""
    if opts.version < PGBOUNCER_MIN:
        raise UsageError(
            f"pgbouncer {opts.version[0]}.{opts.version[1]} is too old: "
            "SCRAM authentication needs 1.14 or later"
        )
    if opts.pool_mode not in ("session", "transaction", "statement"):
        raise UsageError(
            f"invalid --pool-mode {opts.pool_mode!r}: session, transaction or statement"
        )
    databases = unique_databases(opts.databases) or (parse_database("*", server_port),)
    n_db, users = len(databases), opts.users_per_database
    pools = n_db * users
    per_db: int | None = None
    if opts.pool_size is not None:
        pool, pool_why = opts.pool_size, "--pool-size"
        reserve = max(1, pool // 5)
        pooled = pools * (pool + reserve)
    else:
        total, total_why = total_pool_for(hw, storage)
        most = None if ceiling is None else ceiling - SUPERUSER_RESERVED - ADMIN_HEADROOM
        if most is not None:
            total = min(total, most)
        if n_db > total:  # every database needs a server connection of its own
            if most is not None and n_db > most:
                raise UsageError(
                    f"{n_db} databases need at least {n_db} server connections, more than the "
                    f"{most} PostgreSQL would have without pgbouncer; serve them with one "
                    "wildcard entry (leave --database out) or give --pool-size"
                )
            total, total_why = n_db, f"one per database ({n_db}), more than the CPUs need"
        share = total // n_db  # server connections per database, reserve included
        # a fifth of each pool is reserve, for bursts
        reserve = share // 6
        if users == 1:
            pool = max(1, share - reserve)
            pool_why = f"{total_why}; {total} shared by {n_db} database(s)"
        else:
            # each user may take up to twice its even share of the database's connections;
            # max_db_connections keeps the users of one database to its share together
            pool = max(1, min(share - reserve, -(-2 * (share - reserve) // users)))
            per_db = share
            pool_why = (
                f"{total_why}; {total} shared by {n_db} database(s), each of its {users} users "
                f"up to twice an even share, max_db_connections {per_db} capping them together"
            )
        pooled = (
            n_db * min(per_db, users * (pool + reserve)) if per_db else pools * (pool + reserve)
        )
    server_connections = pooled + SUPERUSER_RESERVED + ADMIN_HEADROOM

    fds_needed = opts.max_client_conn + pooled + 100
    notes = []
    if opts.fd_limit is not None and opts.fd_limit < fds_needed:
        notes.append(
            f"pgbouncer: max_client_conn {opts.max_client_conn} needs about {fds_needed} file "
            f"descriptors but `ulimit -n` is {opts.fd_limit}; raise it (LimitNOFILE={fds_needed} "
            "in the systemd unit) or lower --max-client-conn"
        )
    notes.append(
        f"pgbouncer: {opts.auth_file} (mode 0600, owned by pgbouncer) holds {opts.auth_user}'s "
        "password in plain text: pgbouncer logs in as the auth user itself, and a SCRAM secret "
        "only works for logins that a SCRAM client started; every other user's secret comes "
        "from auth_query. Run the auth SQL (--emit pgbouncer-auth-sql) in every database served"
    )

    s = PgbouncerSetting
    settings = [
        s("listen_addr", opts.listen_addr, "where clients connect; keep it to the app network"),
        s("listen_port", str(opts.listen_port), "pgbouncer's conventional port"),
        s("unix_socket_dir", opts.unix_socket_dir, "local clients connect through this socket"),
        s("auth_type", "scram-sha-256", "SCRAM end to end; no md5 or plain-text passwords"),
        s(
            "auth_file",
            opts.auth_file,
            f"only {opts.auth_user}'s password and the console users' (see notes)",
        ),
        s(
            "auth_user",
            opts.auth_user,
            "looks up other users' secrets through a SECURITY DEFINER function, not pg_shadow",
        ),
        s(
            "auth_query",
            "SELECT uname, phash FROM pgbouncer.user_lookup($1)",
            "the lookup function (see the auth SQL): search_path pinned, superusers excluded",
        ),
        s(
            "pool_mode",
            opts.pool_mode,
            "a server connection per transaction: many clients share few backends"
            if opts.pool_mode == "transaction"
            else f"--pool-mode {opts.pool_mode}",
        ),
        s(
            "max_client_conn",
            str(opts.max_client_conn),
            "client connections pgbouncer accepts; each costs only a few kB here",
        ),
        s("default_pool_size", str(pool), pool_why),
        s("reserve_pool_size", str(reserve), "about a fifth of the pool for bursts"),
        s("reserve_pool_timeout", "3", "a client waiting 3s may use the reserve pool"),
        s("server_lifetime", "3600", "recycle server connections hourly (memory, DNS changes)"),
        s("server_idle_timeout", "300", "close server connections idle for 5 minutes"),
        s(
            "query_wait_timeout",
            "60",
            "fail a client that waited 60s for a connection instead of piling up",
        ),
        s(
            "client_idle_timeout",
            "0",
            "application pools keep idle connections on purpose; they cost pgbouncer little",
        ),
        s(
            "idle_transaction_timeout",
            str(max(0, idle_in_transaction_ms // 1000)),
            "like the server's idle_in_transaction_session_timeout, frees the pool earlier",
        ),
        s(
            "ignore_startup_parameters",
            "extra_float_digits",
            "JDBC and others send it; pgbouncer would refuse the connection otherwise",
        ),
        s(
            "admin_users",
            opts.admin_user,
            "may run SHOW/PAUSE/RELOAD on the admin console (secret in auth_file)",
        ),
        s(
            "stats_users",
            opts.stats_user,
            "may read SHOW POOLS / STATS for monitoring (secret in auth_file)",
        ),
    ]
    if per_db is not None:
        settings.append(
            s(
                "max_db_connections",
                str(per_db),
                f"server connections per database across its {users} users: the pools' sum "
                "stays what the machine can run however many users connect",
            )
        )
    if opts.version >= PGBOUNCER_SINCE["max_prepared_statements"]:
        settings.append(
            s(
                "max_prepared_statements",
                "200",
                "protocol-level prepared statements work in transaction mode (1.21+)",
            )
        )
    for item in settings:
        if "\n" in item.value:
            raise UsageError(f"pgbouncer {item.name} must be one line")
    return PoolPlan(
        opts,
        pool,
        reserve,
        pools,
        server_connections,
        tuple(settings),
        databases,
        tuple(notes),
        per_db,
    )
