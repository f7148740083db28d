"""Security and observability settings that every server should have."""

from pgtune.errors import UsageError
from pgtune.tlsfacts import STRONG_CIPHERS
from pgtune.tuning.sizing import Context, Decision
from pgtune.units import format_pg_duration

# time, pid, user@database, application, client host
LOG_LINE_PREFIX = "%m [%p] %q%u@%d app=%a client=%h "


def authentication(ctx: Context) -> list[Decision]:
    default = ctx.facts.param("password_encryption").default
    why = "store new passwords as SCRAM verifiers; md5 hashes are replayable and deprecated"
    if default != "scram-sha-256":
        why += f" (this version's default is {default})"
    return [Decision("password_encryption", "scram-sha-256", why)]


def tls(ctx: Context) -> list[Decision]:
    opts = ctx.options
    decisions = [
        Decision(
            "ssl_min_protocol_version",
            "TLSv1.2",
            "refuse TLS 1.0/1.1; raise to TLSv1.3 once every client supports it",
        )
    ]
    if opts.ssl_cert and opts.ssl_key:
        if ctx.build.ssl is False:
            raise UsageError(f"--ssl-cert: this server is built without SSL ({ctx.build.source})")
        decisions += [
            Decision("ssl", True, "encrypt client connections (certificate given)"),
            Decision(
                "ssl_ciphers",
                STRONG_CIPHERS,
                "TLS 1.2 suites: strong ones only (PostgreSQL's default admits MEDIUM and 3DES); "
                "TLS 1.3 suites are not governed by this setting",
            ),
            Decision("ssl_cert_file", opts.ssl_cert, "server certificate (--ssl-cert)"),
            Decision(
                "ssl_key_file",
                opts.ssl_key,
                "server private key (--ssl-key; must be 0600, owned by the server user)",
            ),
        ]
        if opts.ssl_ca:
            decisions.append(
                Decision("ssl_ca_file", opts.ssl_ca, "CA that signs client certificates (--ssl-ca)")
            )
    return decisions


def logging(ctx: Context) -> list[Decision]:
    return [
        Decision(
            "log_connections",
            True,
            "an audit trail of who connected from where (and failed attempts)",
        ),
        Decision("log_disconnections", True, "session end and duration, to pair with connections"),
        Decision("log_statement", "ddl", "record every schema change (CREATE, ALTER, DROP, GRANT)"),
        Decision(
            "log_line_prefix",
            LOG_LINE_PREFIX,
            "time, pid, user@database, application and client on every log line",
        ),
        Decision("log_lock_waits", True, "log waits longer than deadlock_timeout (1s)"),
        Decision(
            "log_replication_commands",
            True,
            "a base backup or replication stream copies the whole cluster: log who started it",
        ),
        Decision(
            "log_temp_files", 0, "log every temporary file: spills show where work_mem is too small"
        ),
        Decision(
            "log_checkpoints",
            True,
            "checkpoint frequency and cause show whether max_wal_size fits the load",
        ),
        Decision(
            "log_autovacuum_min_duration",
            1000,
            "log autovacuum runs over 1s: PostgreSQL 15's 10min default hides all but the "
            "slowest, and the runs show which tables bloat and how often they are vacuumed",
        ),
        Decision(
            "log_min_duration_statement",
            ctx.workload.log_min_duration_statement,
            f"{ctx.workload.name}: log statements slower than "
            f"{format_pg_duration(ctx.workload.log_min_duration_statement)}, the outliers "
            "worth a look, not the whole traffic",
        ),
        Decision(
            "log_parameter_max_length",
            0,
            "slow statements are logged without their bind values: passwords and personal "
            "data stay out of the log (the audit's PGT-LOG-014)",
        ),
    ]


def extensions(ctx: Context) -> list[Decision]:
    """pg_stat_statements only when asked (--pg-stat-statements): it costs ~10% of throughput
    on trivial high-rate queries (pgbench select-only here, bench/RESULTS.md), and
    shared_preload_libraries in an include file replaces the whole list the server preloads."""
    if not ctx.options.pg_stat_statements:
        return []
    return [
        Decision(
            "shared_preload_libraries",
            "pg_stat_statements",
            "per-query statistics, the first place to look when tuning (CREATE EXTENSION per "
            "database); replaces the list: add the libraries you already preload",
        )
    ]


PG_STAT_STATEMENTS_NOTE = (
    "pg_stat_statements is not preloaded: add --pg-stat-statements for per-query statistics "
    "(about 10% of throughput on trivial queries at tens of thousands per second here; "
    "shared_preload_libraries replaces the list the server preloads)"
)
