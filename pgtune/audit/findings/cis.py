"""CIS PostgreSQL Benchmark references.

Section numbers only where they are the same in the PostgreSQL 15 and 17 benchmarks (the
logging items 3.1.x and TLS 6.8); elsewhere the numbering moved between releases (e.g.
"excessive administrative privileges" is 4.2 in older editions, 4.3 in 17), so the
recommendation is cited by its title, which did not.
"""

LOG_CONNECTIONS = "CIS 3.1.20 Ensure 'log_connections' is enabled"
LOG_DISCONNECTIONS = "CIS 3.1.21 Ensure 'log_disconnections' is enabled"
LOG_LINE_PREFIX = "CIS 3.1.24 Ensure 'log_line_prefix' is set correctly"
LOG_STATEMENT = "CIS 3.1.25 Ensure 'log_statement' is set correctly"
TLS = "CIS 6.8 Ensure TLS is enabled and configured correctly"

ADMIN_PRIVILEGES = "CIS: Ensure excessive administrative privileges are revoked"
FUNCTION_PRIVILEGES = "CIS: Ensure excessive function privileges are revoked"
RLS = "CIS: Ensure Row Level Security (RLS) is configured correctly"
LOCK_UNUSED = "CIS: Lock Out Accounts if Not Currently in Use"
PASSWORDS = "CIS: Ensure all accounts that can log in have passwords"
HOST_LOGIN = 'CIS: Ensure login via "host" TCP/IP Socket is configured correctly'
LOCAL_LOGIN = 'CIS: Ensure login via "local" UNIX Domain Socket is configured correctly'

# The benchmark checks (logging, TLS, replication, host, versions), cited with the edition
# whose numbering they were checked against: CIS PostgreSQL 16 Benchmark v1.0.0. Sections 3.1.x,
# 3.2, 6.8 and 7.x keep their numbers in the 15 and 17 editions (pgdsat, which implements the
# 17 benchmark, lists the same ones). Items whose number moved between editions, or which only
# the 17 edition has, are cited by title with the edition named.
BENCHMARK = "CIS PostgreSQL 16 Benchmark v1.0.0"
LOG_DESTINATION = f"{BENCHMARK} §3.1.2 Ensure the log destinations are set correctly"
LOGGING_COLLECTOR = f"{BENCHMARK} §3.1.3 Ensure the logging collector is enabled"
LOG_FILE_MODE = f"{BENCHMARK} §3.1.6 Ensure the log file permissions are set correctly"
LOG_MIN_MESSAGES = f"{BENCHMARK} §3.1.14 Ensure the correct messages are written to the server log"
LOG_MIN_ERROR_STATEMENT = (
    f"{BENCHMARK} §3.1.15 Ensure the correct SQL statements generating errors are recorded"
)
LOG_ERROR_VERBOSITY = f"{BENCHMARK} §3.1.22 Ensure 'log_error_verbosity' is set correctly"
PGAUDIT = f"{BENCHMARK} §3.2 Ensure the PostgreSQL Audit Extension (pgAudit) is enabled"
TLS_CONFIGURED = f"{BENCHMARK} §6.8 Ensure TLS is enabled and configured correctly"
REPLICATION_USER = (
    f"{BENCHMARK} §7.1 Ensure a replication-only user is created and used for streaming replication"
)
LOG_REPLICATION = f"{BENCHMARK} §7.2 Ensure logging of replication commands is configured"
STREAMING_REPLICATION = (
    f"{BENCHMARK} §7.5 Ensure streaming replication parameters are configured correctly"
)
# By title: section 1's numbering moved (1.4 in 16, 1.5 in 17).
VERSIONS_UP_TO_DATE = f"{BENCHMARK}: Ensure PostgreSQL versions are up-to-date (section 1)"
DATA_CLUSTER = f"{BENCHMARK}: Ensure Data Cluster Initialized Successfully (section 1)"
# By title: section 5's numbering moved between editions.
PASSWORD_COMPLEXITY = "CIS PostgreSQL 17 Benchmark: Ensure Password Complexity is configured"
CONNECTION_LIMITS = "CIS PostgreSQL 17 Benchmark: Ensure per-account connection limits are used"
WEAK_CIPHERS = "CIS PostgreSQL 17 Benchmark: Ensure Weak SSL/TLS Ciphers Are Disabled"
