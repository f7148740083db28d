"""Catalog rows → model, without a server: conversions, grantor merging, query files."""

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from importlib.resources import files
from typing import Any, TypeVar

import pytest

from pgtune.access import model
from pgtune.access.catalog import convert
from pgtune.access.catalog.families import membership_query, read_database
from pgtune.access.catalog.reader import query
from pgtune.access.catalog.rows import ColumnsRow, PolicyRow, RelationRow, RoleRow

T = TypeVar("T")
QUERIES = files("pgtune.access.catalog").joinpath("queries")
FUNCTIONS = (
    "aclexplode",
    "acldefault",
    "pg_get_userbyid",
    "pg_get_expr",
    "pg_get_function_identity_arguments",
    "has_database_privilege",
    "bool_or",
    "json_agg",
    "array_agg",
    "json_build_array",
    "unnest",
    "isfinite",
)


def _role_row(**overrides: Any) -> RoleRow:
    values: dict[str, Any] = {
        "name": "r",
        "login": False,
        "superuser": False,
        "createdb": False,
        "createrole": False,
        "replication": False,
        "bypassrls": False,
        "inherit": True,
        "connection_limit": -1,
        "valid_until": None,
        "never_valid": False,
        "settings": None,
        "comment": None,
    }
    return RoleRow(**{**values, **overrides})


def test_valid_until_is_utc_iso_and_infinity_means_no_expiry() -> None:
    cest = timezone(timedelta(hours=2))
    moment = datetime(2030, 6, 1, 12, 0, tzinfo=cest)
    assert convert.role(_role_row(valid_until=moment)).valid_until == "2030-06-01T10:00:00+00:00"
    assert convert.role(_role_row(valid_until=None)).valid_until is None
    assert convert.role(_role_row(never_valid=True)).valid_until == "-infinity"
    with_micro = datetime(2030, 1, 1, 0, 0, 0, 5, tzinfo=UTC)
    assert convert.role(_role_row(valid_until=with_micro)).valid_until == (
        "2030-01-01T00:00:00.000005+00:00"
    )


def test_role_settings_split_at_the_first_equals_sign_and_sort() -> None:
    role = convert.role(
        _role_row(settings=["work_mem=64MB", "app.x=a=b", 'search_path="$user", public'])
    )
    assert role.settings == (
        ("app.x", "a=b"),
        ("search_path", '"$user", public'),
        ("work_mem", "64MB"),
    )


@pytest.mark.parametrize(
    ("polcmd", "command"),
    [("r", "SELECT"), ("a", "INSERT"), ("w", "UPDATE"), ("d", "DELETE"), ("*", "ALL")],
)
def test_policy_commands_and_roles_sorted(polcmd: str, command: model.PolicyCommand) -> None:
    row = PolicyRow("s", "t", "p", False, polcmd, ["zed", "PUBLIC", "Alpha"], "true", None)
    policy = convert.policy("db", row)
    assert policy == model.RlsPolicy(
        model.TableRef("db", "s", "t"), "p", False, command, ("Alpha", "PUBLIC", "zed"), "true"
    )


def test_merging_grantors_keeps_one_entry_grantable_if_any_is() -> None:
    t = model.ObjectRef("table", "db", "s", "t")
    merged = convert.merge_grantors(
        [
            model.Grant(t, "a", "SELECT", True),
            model.Grant(t, "a", "SELECT", False),
            model.Grant(t, "a", "INSERT", False),
            model.Grant(t, "a", "INSERT", False),
        ]
    )
    assert merged == {model.Grant(t, "a", "SELECT", True), model.Grant(t, "a", "INSERT")}
    d = model.DefaultPrivilege("db", "o", None, "tables", "a", "SELECT")
    assert convert.merge_grantors([d, d]) == {d}


def test_membership_options_query_follows_the_version() -> None:
    assert membership_query(15) == "memberships_pre16"
    assert membership_query(16) == membership_query(18) == "memberships"


class _FakeFetch:
    """Answers read_database's queries from canned rows, in any order they are asked."""

    def __init__(self, rows: Mapping[str, list[Any]]) -> None:
        self.rows = rows
        self.asked: list[str] = []

    def __call__(
        self, name: str, row: type[T], params: Mapping[str, object] | None = None
    ) -> Iterator[T]:
        self.asked.append(name)
        return iter(self.rows.get(name, []))


def test_columns_and_relations_become_inventory_owners_and_grants() -> None:
    fetch = _FakeFetch(
        {
            "columns": [
                ColumnsRow("s", "t", ["a", "b"], [["a", "u", "SELECT", False]]),
                ColumnsRow("s", "v", ["z"], None),
                ColumnsRow("s", "u", ["x"], [["x", "v", "UPDATE", True]]),
            ],
            "relations": [
                RelationRow("s", "t", "table", True, True, False, "o", ["u"], ["SELECT"], [True]),
                RelationRow("s", "t_id_seq", "sequence", False, False, False, "o", *[None] * 3),
            ],
        }
    )
    part = read_database(fetch, "db")
    assert part.inventory is not None
    assert part.inventory.columns == {
        ("s", "t"): ("a", "b"),
        ("s", "u"): ("x",),
        ("s", "v"): ("z",),
    }
    assert part.inventory.tables == {("s", "t"): "o"}
    assert part.inventory.sequences == {("s", "t_id_seq"): "o"}
    table = model.ObjectRef("table", "db", "s", "t")
    seq = model.ObjectRef("sequence", "db", "s", "t_id_seq")
    assert sorted(part.grants) == sorted(
        [
            model.Grant(table, "u", "SELECT", True),
            model.Grant(model.ObjectRef("column", "db", "s", "t", column="a"), "u", "SELECT"),
            model.Grant(model.ObjectRef("column", "db", "s", "u", column="x"), "v", "UPDATE", True),
        ]
    )
    assert part.owners == {table: "o", seq: "o"}
    ref = model.TableRef("db", "s", "t")
    assert part.rls_tables == {ref: model.RlsTable(ref, True, False)}
    assert sorted(fetch.asked) == sorted(
        ["schemas", "relations", "columns", "functions", "default_acl", "policies"]
    )


def test_query_files_are_schema_qualified_and_load() -> None:
    names = sorted(p.name.removesuffix(".sql") for p in QUERIES.iterdir())
    assert names == [
        "columns",
        "databases",
        "default_acl",
        "functions",
        "memberships",
        "memberships_pre16",
        "policies",
        "relation_groups",
        "relations",
        "roles",
        "schemas",
    ]
    for name in names:
        body = "\n".join(ln for ln in query(name).splitlines() if not ln.lstrip().startswith("--"))
        ctes = set(re.findall(r"\b(\w+) AS \(", body))
        targets = re.findall(r"\b(?:FROM|JOIN)\s+(?:LATERAL\s+)?([\w.]+|\()", body)
        assert targets, name
        for target in targets:
            assert target == "(" or target in ctes or target.startswith("pg_catalog."), (
                name,
                target,
            )
        for function in FUNCTIONS:
            calls = re.findall(rf"(\S*)\b{function}\(", body)
            assert all(prefix.endswith("pg_catalog.") for prefix in calls), (name, function)
    assert query("roles") is query("roles")  # read once
