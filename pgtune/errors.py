"""One root error; each user-facing error carries the exit code the CLI returns.

Exit codes (documented in README.md):
  0  success
  1  drift / findings (reserved for check-style commands)
  2  usage error: a bad flag value or combination
  3  bad data: a missing or malformed profile, workload or template file
  4  output error: the output path cannot be written, or exists without --force
  5  the requested configuration cannot fit in memory
  6  roles apply: the server refused a statement (that database's transaction rolled back)
"""


class PgtuneError(Exception):
    exit_code = 1


class UsageError(PgtuneError):
    exit_code = 2


class DataError(PgtuneError):
    exit_code = 3


class OutputError(PgtuneError):
    exit_code = 4


class BudgetError(PgtuneError):
    exit_code = 5
