"""The access policy file: loading and validation (`load_policy`), the normalised `Policy`,
its expansion into the desired cluster state (`expand`), the JSON Schema and the starter file.
"""

from pgtune.access.policy.document import (
    BUILTIN_PROFILES,
    AccessEntry,
    DatabaseSpec,
    Pattern,
    Policy,
    PolicySettings,
    Privileges,
    Profile,
    RlsSpec,
    SchemaSpec,
)
from pgtune.access.policy.expand import expand
from pgtune.access.policy.load import load_policy, parse_policy
from pgtune.access.policy.problems import PolicyError, Problem
from pgtune.access.policy.schema_check import load_schema, schema_path
from pgtune.access.policy.starter import starter_policy

__all__ = [
    "BUILTIN_PROFILES",
    "AccessEntry",
    "DatabaseSpec",
    "Pattern",
    "Policy",
    "PolicyError",
    "PolicySettings",
    "Privileges",
    "Problem",
    "Profile",
    "RlsSpec",
    "SchemaSpec",
    "expand",
    "load_policy",
    "load_schema",
    "parse_policy",
    "schema_path",
    "starter_policy",
]
