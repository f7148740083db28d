"""Reading ``rls:``: one entry per table, holding the table's complete set of policies."""

from pgtune.access.expressions import validate_expression
from pgtune.access.model import PUBLIC, PUBLIC_KEYWORD, PolicyCommand, RlsPolicy, TableRef
from pgtune.access.policy.document import DatabaseSpec, RlsSpec
from pgtune.access.policy.names import format_table, name_problem, parse_table
from pgtune.access.policy.problems import did_you_mean
from pgtune.access.policy.reading import Reader, flag, items, mapping, strings, text
from pgtune.access.policy.yaml_source import Path, describe
from pgtune.errors import DataError

_COMMANDS: dict[str, PolicyCommand] = {
    c: c for c in ("ALL", "SELECT", "INSERT", "UPDATE", "DELETE")
}


def _table(reader: Reader, value: object, path: Path) -> TableRef | None:
    if isinstance(value, str):
        parsed = parse_table(value)
        if isinstance(parsed, str):
            reader.problem(path, parsed)
            return None
        table = parsed
    else:
        spec = mapping(value)
        parts = [text(spec.get(k)) for k in ("database", "schema", "name")]
        if None in parts:
            return None  # the schema check has said what is wrong
        table = TableRef(*(p or "" for p in parts))
    for part in (table.database, table.schema, table.name):
        why = name_problem(part)
        if why:
            reader.problem(path, f"table {why}")
    return table


def _expression(reader: Reader, spec: dict[str, object], path: Path, key: str) -> str | None:
    written = text(spec.get(key))
    if written is None:
        return None
    expression = written.strip()
    try:
        validate_expression(expression)
    except DataError as exc:  # ExpressionError: does not parse (with the position), or not one
        reader.problem((*path, key), f"{describe((*path, key))}: {exc}")
    return expression


def _policy(reader: Reader, table: TableRef, spec: dict[str, object], path: Path) -> RlsPolicy:
    # An unknown command is a schema problem already; ALL keeps the remaining checks going.
    command = _COMMANDS.get(text(spec.get("command")) or "ALL", "ALL")
    # The word PUBLIC in the file is the pseudo-role (model.PUBLIC), never a role of that name.
    roles = sorted({PUBLIC if r == PUBLIC_KEYWORD else r for r in strings(spec.get("roles"))})
    for index, role in enumerate(strings(spec.get("roles"))):
        reader.reference(
            role, (*path, "roles", index), "policy role", predefined_ok=True, public_ok=True
        )
    if PUBLIC in roles and len(roles) > 1:
        # PostgreSQL keeps only PUBLIC (with a warning): say so instead of drifting forever.
        reader.problem((*path, "roles"), "PUBLIC already covers every role; list it alone")
        roles = [PUBLIC]
    using = _expression(reader, spec, path, "using")
    with_check = _expression(reader, spec, path, "with_check")
    if command == "INSERT" and using is not None:
        reader.problem((*path, "using"), "an INSERT policy takes only with_check, not using")
    if command in ("SELECT", "DELETE") and with_check is not None:
        reader.problem(
            (*path, "with_check"), f"a {command} policy takes only using, not with_check"
        )
    return RlsPolicy(
        table=table,
        name=text(spec.get("name")) or "",
        permissive=flag(spec.get("permissive"), True),
        command=command,
        roles=tuple(roles) or (PUBLIC,),
        using=using,
        with_check=with_check,
        line=reader.line(path),
    )


def read_rls(
    reader: Reader, data: dict[str, object], databases: dict[str, DatabaseSpec] | None
) -> list[RlsSpec]:
    specs: list[RlsSpec] = []
    first_line: dict[TableRef, int | None] = {}
    for index, raw in enumerate(items(data.get("rls"))):
        path: Path = ("rls", index)
        spec = mapping(raw)
        table = _table(reader, spec.get("table"), (*path, "table"))
        if table is None:
            continue
        shown = format_table(table)
        if table in first_line:
            reader.problem(
                (*path, "table"),
                f"table {shown} is listed twice (first on line "
                f"{first_line[table]}); put all its policies in one entry",
            )
            continue
        first_line[table] = reader.line(path)
        if databases is not None and table.database not in databases:
            reader.problem(
                (*path, "table"),
                f"database {table.database!r} of table {shown} is not listed under databases"
                + did_you_mean(table.database, databases),
            )
        policies: list[RlsPolicy] = []
        seen: dict[str, int | None] = {}
        for number, policy_raw in enumerate(items(spec.get("policies"))):
            policy_path: Path = (*path, "policies", number)
            policy_spec = mapping(policy_raw)
            name = text(policy_spec.get("name"))
            if name is None:
                continue
            if name in seen:
                reader.problem(
                    (*policy_path, "name"),
                    f"policy {name!r} on {shown} is defined twice (first on line {seen[name]})",
                )
                continue
            seen[name] = reader.line(policy_path)
            why = name_problem(name)
            if why:
                reader.problem((*policy_path, "name"), f"policy {why}")
            policies.append(_policy(reader, table, policy_spec, policy_path))
        specs.append(
            RlsSpec(
                table,
                enable=flag(spec.get("enable"), True),
                force=flag(spec.get("force"), False),
                policies=tuple(sorted(policies, key=lambda p: p.name)),
                line=reader.line(path),
            )
        )
    return specs
