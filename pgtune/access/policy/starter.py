"""The commented starter policy that `pgtune roles init` writes."""

import json
import re
from pathlib import Path
from string import Template

from pgtune.access.model import TableRef
from pgtune.access.policy.names import format_table, name_problem
from pgtune.access.policy.schema_check import schema_path
from pgtune.errors import UsageError

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.$-]*")
# Plain words some YAML readers (YAML 1.1: editors, other tools) take for booleans or null.
_NOT_STRINGS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar: bare when that reads back as the same string, else in
    double quotes (a JSON string is a valid YAML double-quoted scalar)."""
    bare = _PLAIN.fullmatch(value) and value.lower() not in _NOT_STRINGS
    return value if bare else json.dumps(value, ensure_ascii=False)


# The editor hint names a file beside the policy: the same path in every checkout, unlike a
# file:// URL into this machine's site-packages. The starter's header says how to write it there.
SCHEMA_FILE = "pgtune-policy.schema.json"


def starter_policy(database: str = "app", *, schema_url: str | None = None) -> str:
    """The starter policy for ``database``: an owner role for migrations, a read-write app
    role, a read-only analyst role, a monitoring role, and tenant isolation on
    ``<database>.public.accounts``. ``schema_url`` (for the editor hint) defaults to
    SCHEMA_FILE, relative to the policy file."""
    why = name_problem(database)
    if why:
        raise UsageError(f"database {why}")
    template = Template(Path(__file__).with_name("starter.yaml").read_text(encoding="utf-8"))
    return template.substitute(
        schema_url=schema_url or f"./{SCHEMA_FILE}",
        schema_file=SCHEMA_FILE,
        schema_module=schema_path.__module__,
        database=_scalar(database),
        accounts_table=_scalar(format_table(TableRef(database, "public", "accounts"))),
    )
