"""The starter policy `pgtune roles init` writes: valid, and it expands to what it promises."""

import subprocess
import sys

import pytest
import yaml

from pgtune.access.model import (
    PUBLIC,
    DefaultPrivilege,
    Grant,
    Inventory,
    Membership,
    ObjectRef,
    TableRef,
)
from pgtune.access.policy import expand, parse_policy, schema_path, starter_policy
from pgtune.errors import UsageError


def inventory(database: str) -> Inventory:
    return Inventory(
        database=database,
        schemas={"public": "pg_database_owner"},
        tables={("public", "accounts"): "app_owner"},
        sequences={("public", "accounts_id_seq"): "app_owner"},
        functions={("public", "current_tenant", ""): "app_owner"},
    )


def test_starter_policy_loads_and_expands() -> None:
    text = starter_policy()
    # a path beside the policy (stable in version control), and how to put the schema there
    assert text.startswith("# yaml-language-server: $schema=./pgtune-policy.schema.json\n")
    assert "site-packages" not in text and "file://" not in text
    command = text.splitlines()[2].lstrip("# ").split(" > ")[0]
    written = subprocess.run(
        [sys.executable, "-c", command.split("-c ", 1)[1].strip('"')],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert written == schema_path().read_text()
    policy = parse_policy(text, "access.yaml")
    assert set(policy.roles) == {"app_owner", "app", "analyst", "monitor"}
    assert all(r.password_env for r in policy.roles.values())  # never a literal password
    assert policy.memberships == (Membership("pg_monitor", "monitor"),)

    state, scope = expand(policy, {"app": inventory("app")}, major=16)
    accounts = ObjectRef("table", "app", "public", "accounts")
    assert {g for g in state.grants if g.object == accounts} == {
        Grant(accounts, "app", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
    } | {Grant(accounts, "analyst", "SELECT")}
    assert Grant(ObjectRef("schema", "app", "public"), "app_owner", "CREATE") in state.grants
    assert not any(g.grantee == "monitor" and g.object.kind == "table" for g in state.grants)
    # What app_owner creates later follows.
    assert DefaultPrivilege("app", "app_owner", "public", "tables", "analyst", "SELECT") in (
        state.default_privileges
    )
    # PUBLIC: no CONNECT, TEMPORARY, CREATE on public, or EXECUTE, now or later.
    assert Grant(ObjectRef("database", "app"), PUBLIC, "CONNECT") in scope.public_revocations
    assert (
        Grant(ObjectRef("function", "app", "public", "current_tenant", args=""), PUBLIC, "EXECUTE")
        in scope.public_revocations
    )
    assert scope.public_default_revocations == {
        DefaultPrivilege("app", "app_owner", None, "functions", PUBLIC, "EXECUTE")
    }
    table = TableRef("app", "public", "accounts")
    assert state.rls_tables[table].enabled and state.rls_tables[table].forced
    tenant = state.policies[table, "tenant_isolation"]
    # missing_ok: an unset app.current_tenant gives NULL (no rows), not an error.
    assert tenant.using == "tenant_id = current_setting('app.current_tenant', true)::int"
    assert tenant.with_check == tenant.using
    assert tenant.roles == ("analyst", "app")


@pytest.mark.parametrize("database", ["app", "Sales DB", "my.db", 'we"ird', "true", "123", "ünï"])
def test_starter_policy_for_any_database_name(database: str) -> None:
    policy = parse_policy(starter_policy(database), "access.yaml")
    assert set(policy.databases) == {database}
    assert {e.database for e in policy.access} == {database}
    assert policy.rls[0].table == TableRef(database, "public", "accounts")
    expand(policy, {database: inventory(database)}, major=15)
    # Other YAML readers (editors) see the same strings.
    assert set(yaml.safe_load(starter_policy(database))["databases"]) == {database}


def test_starter_policy_refuses_impossible_database_names() -> None:
    with pytest.raises(UsageError):
        starter_policy("")
    with pytest.raises(UsageError):
        starter_policy("d" * 64)
