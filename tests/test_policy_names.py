"""Identifiers survive YAML → Policy exactly: quotes, spaces, capitals, unicode, SQL reserved
words and YAML 1.1 words (yes, on, null) are names like any other."""

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pgtune.access.model import Membership, TableRef
from pgtune.access.policy import parse_policy
from pgtune.access.policy.names import MAX_NAME_BYTES, format_table, split_dotted

TRICKY = [
    "select",
    "user",
    "table",
    "order",
    "group",
    "Public",
    "PUBLIC ",
    "App",
    "APP",
    'say "hi"',
    "it's",
    "two words",
    " padded ",
    "ünïcödé",
    "日本語",
    "emoji 🐘",
    "yes",
    "no",
    "on",
    "off",
    "null",
    "~",
    "true",
    "123",
    "1e3",
    "a.b",
    '"quoted"',
    "#x",
    "- dash",
    ": colon",
    "{brace}",
    "[bracket]",
    "*star",
    "&amp",
    "!bang",
    "%pct",
    "@at",
]


def _acceptable(name: str) -> bool:
    return (
        0 < len(name.encode()) <= MAX_NAME_BYTES
        and name not in ("public", "none", "PUBLIC")
        and not name.startswith("pg_")
    )


# Anything PostgreSQL takes as an identifier and YAML can carry: no NUL, no surrogates, and
# none of the characters YAML may not hold even escaped-free (it escapes the rest itself).
names = st.one_of(
    st.sampled_from(TRICKY),
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00\ufeff"),
        min_size=1,
        max_size=20,
    ),
).filter(_acceptable)


@settings(max_examples=150, deadline=None)
@given(
    role=names,
    group=names,
    database=names,
    schema=names,
    table=names,
)
def test_names_round_trip_through_yaml(
    role: str, group: str, database: str, schema: str, table: str
) -> None:
    if role == group:
        group = group + "_g" if _acceptable(group + "_g") else "grp"
    document = {
        "version": 1,
        "roles": {role: {"login": True, "member_of": [group]}, group: {}},
        "databases": {database: {"schemas": {schema: {}}}},
        "access": [{"role": role, "database": database, "profile": "readonly"}],
        "rls": [
            {
                "table": format_table(TableRef(database, schema, table)),
                "policies": [{"name": table, "roles": [role, group], "using": "true"}],
            }
        ],
    }
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    policy = parse_policy(text, "access.yaml")
    assert set(policy.roles) == {role, group}
    assert policy.memberships == (Membership(group, role),)
    assert set(policy.databases) == {database}
    assert set(policy.databases[database].schemas) == {schema}
    (entry,) = policy.access
    assert (entry.role, entry.database, entry.schemas) == (role, database, (schema,))
    (rls,) = policy.rls
    assert rls.table == TableRef(database, schema, table)
    assert rls.policies[0].name == table
    assert rls.policies[0].roles == tuple(sorted({role, group}))


@given(parts=st.lists(names, min_size=3, max_size=3))
def test_dotted_table_names_round_trip(parts: list[str]) -> None:
    ref = TableRef(*parts)
    assert split_dotted(format_table(ref)) == parts
