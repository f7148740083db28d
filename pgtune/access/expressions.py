"""RLS expressions compared by meaning, not by text.

The server stores USING / WITH CHECK expressions parsed and deparses them with pg_get_expr:
casts appear on constants (`'x'::text`, `(10)::numeric`, `'ok'::mood`), parentheses are added,
`IN (...)` becomes `= ANY (ARRAY[...])` (and `x = 1` for one element), `BETWEEN` becomes
`x >= a AND x <= b`, `LIKE` becomes `~~`, the table's own qualifier is dropped from columns. Two
ways to compare what a policy file says with what the server holds, both applied to *both*
sides (server_expressions.py decides which):

- through the server (`ServerExpressions`): plan each side with EXPLAIN, read-only and
  lock-free, and compare the server's own rendering — exact;
- with pglast (`canonical_text`, here): parse both sides and undo the known rewrites — used
  where the server path is not allowed (no SELECT on the table, a lock held, no connection).
  It errs on the lenient side: casts on constants, widening casts on columns, and the schema of
  relations, functions and types (pg_get_expr leaves out any the search_path finds) are dropped.

`validate_expression` makes sure the text is one SQL expression (not a statement smuggled in)
and reports the position of a syntax error.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream

from pgtune.errors import DataError

_PREFIX = "SELECT ("
# Type names the server prints that people write differently (after pg_catalog. is dropped).
_TYPE_ALIASES = {
    "int4": "integer",
    "int": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "bool": "boolean",
    "varchar": "character varying",
    "float8": "double precision",
    "float4": "real",
    "timestamptz": "timestamp with time zone",
    "bpchar": "character",
    "decimal": "numeric",
}
# Casts the server adds on a column or CURRENT_USER-like value to make an operator fit: text for
# varchar / name, oid for reg* types, and the numeric widenings. Dropped on both sides.
_IMPLICIT_TARGETS = {
    "text",
    "character varying",
    "name",
    "oid",
    "numeric",
    "bigint",
    "integer",
    "double precision",
    "real",
}
_LIKE_OPERATORS = {
    "~~": (enums.A_Expr_Kind.AEXPR_LIKE, "~~"),
    "!~~": (enums.A_Expr_Kind.AEXPR_LIKE, "!~~"),
    "~~*": (enums.A_Expr_Kind.AEXPR_ILIKE, "~~*"),
    "!~~*": (enums.A_Expr_Kind.AEXPR_ILIKE, "!~~*"),
}
# `x = ANY (ARRAY[...])` is `x IN (...)`, `x <> ALL (ARRAY[...])` is `x NOT IN (...)`.
_ARRAY_TO_IN = {
    (enums.A_Expr_Kind.AEXPR_OP_ANY, "="): "=",
    (enums.A_Expr_Kind.AEXPR_OP_ALL, "<>"): "<>",
}
_BETWEEN = {
    enums.A_Expr_Kind.AEXPR_BETWEEN: (enums.BoolExprType.AND_EXPR, ">=", "<="),
    enums.A_Expr_Kind.AEXPR_NOT_BETWEEN: (enums.BoolExprType.OR_EXPR, "<", ">"),
}


class ExpressionError(DataError):
    """An RLS expression that is not one valid SQL expression."""


def _parse(expr: str) -> Any:
    """The AST of one expression; anything else (two statements, a FROM clause) is refused."""
    text = f"{_PREFIX}{expr}\n)"
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        message, position = exc.args[0], exc.args[1] if len(exc.args) > 1 else None
        where = "" if position is None else f" at position {max(0, position - len(_PREFIX)) + 1}"
        raise ExpressionError(f"expression {expr!r} does not parse: {message}{where}") from None
    stmt = statements[0].stmt if len(statements) == 1 else None
    if (
        not isinstance(stmt, ast.SelectStmt)
        or stmt.fromClause
        or stmt.whereClause
        or not stmt.targetList
        or len(stmt.targetList) != 1
    ):
        raise ExpressionError(f"{expr!r} is not a single SQL expression")
    return stmt.targetList[0].val


def locks_rows(expr: str) -> bool:
    """Whether a subquery in ``expr`` has FOR UPDATE / SHARE: planning it takes RowShareLock.

    >>> locks_rows("EXISTS (SELECT 1 FROM crit FOR UPDATE)")
    True
    >>> locks_rows("EXISTS (SELECT 1 FROM crit)")
    False
    """
    todo: list[Any] = [_parse(expr)]
    while todo:
        node = todo.pop()
        if isinstance(node, tuple | list):
            todo.extend(node)
        elif isinstance(node, ast.Node):
            if isinstance(node, ast.SelectStmt) and node.lockingClause:
                return True
            todo.extend(getattr(node, s, None) for s in getattr(type(node), "__slots__", ()))
    return False


def validate_expression(expr: str) -> None:
    _parse(expr)


def _type_name(type_name: Any) -> str:
    # pg_get_expr leaves out the schema of whatever the search_path finds: so do both sides.
    name = str(type_name.names[-1].sval)
    return _TYPE_ALIASES.get(name, name)


@dataclass(frozen=True)
class _Scope:
    """Qualifiers that name the relation a column belongs to where the server leaves them out
    (the policy's table at the top; inside a subquery the server qualifies every column, and
    both sides drop the qualifier of the subquery's only relation)."""

    strip: frozenset[tuple[str, ...]]
    subquery: bool = False


def _from_names(stmt: Any) -> frozenset[tuple[str, ...]]:
    items: tuple[Any, ...] = tuple(stmt.fromClause or ())
    rel: Any = items[0] if len(items) == 1 else None
    if not isinstance(rel, ast.RangeVar):
        return frozenset()
    if rel.alias is not None:
        return frozenset({(str(rel.alias.aliasname),)})
    names: set[tuple[str, ...]] = {(str(rel.relname),)}
    if rel.schemaname:
        names.add((str(rel.schemaname), str(rel.relname)))
    return frozenset(names)


def _column(node: Any, scope: _Scope) -> Any:
    fields = tuple(node.fields)
    if not all(isinstance(f, ast.String) for f in fields):
        return node  # t.* and the like
    parts = tuple(f.sval for f in fields)
    if scope.subquery and len(parts) == 3:
        parts = parts[1:]  # the server names an outer table without its schema in a subquery
    if len(parts) > 1 and parts[:-1] in scope.strip:
        parts = parts[-1:]
    node.fields = tuple(ast.String(sval=p) for p in parts)
    return node


def _op(name: str, left: Any, right: Any) -> Any:
    return ast.A_Expr(
        kind=enums.A_Expr_Kind.AEXPR_OP, name=(ast.String(sval=name),), lexpr=left, rexpr=right
    )


def _flatten(node: Any) -> Any:
    """`a AND (b AND c)` is `a AND b AND c` (the server's parser flattens, BETWEEN nests)."""
    args: list[Any] = []
    for arg in node.args or ():
        if isinstance(arg, ast.BoolExpr) and arg.boolop == node.boolop:
            args.extend(arg.args or ())
        else:
            args.append(arg)
    node.args = tuple(args)
    return node


def _a_expr(node: Any) -> Any:
    op: str = node.name[-1].sval if node.name else ""
    if node.kind == enums.A_Expr_Kind.AEXPR_OP and op in _LIKE_OPERATORS:
        node.kind, symbol = _LIKE_OPERATORS[op]
        node.name = (ast.String(sval=symbol),)
    elif (node.kind, op) in _ARRAY_TO_IN and isinstance(node.rexpr, ast.A_ArrayExpr):
        node.name = (ast.String(sval=_ARRAY_TO_IN[node.kind, op]),)
        node.kind = enums.A_Expr_Kind.AEXPR_IN
        node.rexpr = tuple(node.rexpr.elements or ())
    if node.kind in _BETWEEN and isinstance(node.rexpr, tuple | list) and len(node.rexpr) == 2:
        boolop, low, high = _BETWEEN[node.kind]
        return _flatten(
            ast.BoolExpr(
                boolop=boolop,
                args=(_op(low, node.lexpr, node.rexpr[0]), _op(high, node.lexpr, node.rexpr[1])),
            )
        )
    one = isinstance(node.rexpr, tuple | list) and len(node.rexpr) == 1
    if node.kind == enums.A_Expr_Kind.AEXPR_IN and one:
        # The server turns a one-element list into the operator itself.
        return _op(node.name[-1].sval, node.lexpr, node.rexpr[0])
    return node


def _constant(node: Any) -> Any:
    # `5`, `'5'` and `(5)::integer` are one constant once the cast is gone: keep its text.
    if isinstance(node.val, ast.Integer):
        node.val = ast.String(sval=str(node.val.ival))
    elif isinstance(node.val, ast.Float):
        node.val = ast.String(sval=node.val.fval)
    return node


def _cast(node: Any) -> Any:
    if node.typeName is None:
        return node
    name = _type_name(node.typeName)
    if isinstance(node.arg, ast.A_Const | ast.A_ArrayExpr):
        return node.arg  # the server types constants by their context: drop those casts
    if name in _IMPLICIT_TARGETS and isinstance(node.arg, ast.ColumnRef | ast.SQLValueFunction):
        return node.arg
    node.typeName.names = tuple(ast.String(sval=part) for part in name.split("."))
    return node


def _normalise(node: Any, scope: _Scope) -> Any:
    """Undo the server's rewrites so written and deparsed forms meet."""
    if isinstance(node, tuple | list):
        return type(node)(_normalise(n, scope) for n in node)
    if not isinstance(node, ast.Node):
        return node
    inner = scope
    if isinstance(node, ast.SelectStmt):
        inner = _Scope(_from_names(node), subquery=True)
    for slot in getattr(type(node), "__slots__", ()):
        value = getattr(node, slot, None)
        if isinstance(value, ast.Node | tuple | list):
            setattr(node, slot, _normalise(value, inner))
    if isinstance(node, ast.ColumnRef):
        return _column(node, scope)
    if isinstance(node, ast.A_Const):
        return _constant(node)
    if isinstance(node, ast.TypeCast):
        return _cast(node)
    if isinstance(node, ast.RangeVar):
        node.catalogname = node.schemaname = None  # the server omits a visible schema
        return node
    if isinstance(node, ast.FuncCall) and node.funcname:
        node.funcname = node.funcname[-1:]  # likewise for functions
        return node
    if isinstance(node, ast.A_Expr):
        return _a_expr(node)
    if isinstance(node, ast.BoolExpr) and node.boolop != enums.BoolExprType.NOT_EXPR:
        return _flatten(node)
    if (
        isinstance(node, ast.SubLink)
        and node.subLinkType == enums.SubLinkType.ANY_SUBLINK
        and node.operName
        and [n.sval for n in node.operName] == ["="]
    ):
        node.operName = None  # `x = ANY (SELECT ...)` is `x IN (SELECT ...)`
    return node


def canonical_text(expr: str, schema: str | None = None, table: str | None = None) -> str:
    """One spelling per meaning (for the rewrites above), for a policy on ``schema.table``.

    >>> canonical_text("status IN (1, 2)") == canonical_text("(status = ANY (ARRAY[1, 2]))")
    True
    >>> canonical_text("name LIKE 'a%'") == canonical_text("((name)::text ~~ 'a%'::text)")
    True
    >>> canonical_text("t.id BETWEEN 1 AND 5", "s", "t")
    "id >= '1' AND id <= '5'"
    >>> canonical_text("t = current_setting('x', true)::int")
    "t = CAST(current_setting('x', TRUE) AS integer)"
    """
    strip: set[tuple[str, ...]] = set()
    if table is not None:
        strip.add((table,))
        if schema is not None:
            strip.add((schema, table))
    return str(RawStream()(_normalise(_parse(expr), _Scope(frozenset(strip)))))


@lru_cache(maxsize=4096)
def _canonical_cached(expr: str, schema: str | None, table: str | None) -> str:
    return canonical_text(expr, schema, table)


def same_expression(
    a: str | None, b: str | None, schema: str | None = None, table: str | None = None
) -> bool:
    """Whether two expressions on ``schema.table`` mean the same, by pglast alone."""
    if a is None or b is None:
        return a is b
    return a == b or _canonical_cached(a, schema, table) == _canonical_cached(b, schema, table)
