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
