"""RLS expressions compared by meaning, not by text.

The server stores USING / WITH CHECK expressions parsed and deparses them with pg_get_expr:
casts appear on constants (`'x'::text`), parentheses are added, `IN (...)` becomes
`= ANY (ARRAY[...])` and `LIKE` becomes `~~`. Two ways to bring what a policy file says into
the same form:

- through the server (`ServerCanonicalizer`): create the policy on the real table inside a
  transaction that is rolled back, read pg_get_expr, discard — exact, but needs a role that may
  create policies on the table (its owner or a superuser);
- with pglast (`canonical_text`): parse both sides and normalise the known rewrites; used for the
  live side too, so both go through the same function.

`validate_expression` makes sure the text is one SQL expression (not a statement smuggled in)
and reports the position of a syntax error.
"""

from collections.abc import Callable
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
}
_TEXTLIKE = {"text", "character varying", "unknown", "name"}
_LIKE_OPERATORS = {
    "~~": (enums.A_Expr_Kind.AEXPR_LIKE, "~~"),
    "!~~": (enums.A_Expr_Kind.AEXPR_LIKE, "!~~"),
    "~~*": (enums.A_Expr_Kind.AEXPR_ILIKE, "~~*"),
    "!~~*": (enums.A_Expr_Kind.AEXPR_ILIKE, "!~~*"),
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


def validate_expression(expr: str) -> None:
    _parse(expr)


def _type_name(type_name: Any) -> str:
    names = [n.sval for n in type_name.names]
    if names and names[0] == "pg_catalog":
        names = names[1:]
    name = ".".join(names)
    return _TYPE_ALIASES.get(name, name)


def _normalise(node: Any) -> Any:
    """Undo the server's rewrites so written and deparsed forms meet."""
    if isinstance(node, tuple | list):
        return type(node)(_normalise(n) for n in node)
    if not isinstance(node, ast.Node):
        return node
    for slot in getattr(type(node), "__slots__", ()):
        value = getattr(node, slot, None)
        if isinstance(value, ast.Node | tuple | list):
            setattr(node, slot, _normalise(value))
    if isinstance(node, ast.TypeCast) and node.typeName is not None:
        name = _type_name(node.typeName)
        # The server casts string literals and columns compared as text: drop those casts.
        if name in _TEXTLIKE and isinstance(node.arg, ast.A_Const | ast.ColumnRef):
            return node.arg
        node.typeName.names = tuple(ast.String(sval=part) for part in name.split("."))
        return node
    if isinstance(node, ast.A_Expr):
        op = node.name[-1].sval if node.name else None
        if node.kind == enums.A_Expr_Kind.AEXPR_OP and op in _LIKE_OPERATORS:
            node.kind, symbol = _LIKE_OPERATORS[op]
            node.name = (ast.String(sval=symbol),)
        elif (
            node.kind == enums.A_Expr_Kind.AEXPR_OP_ANY
            and op == "="
            and isinstance(node.rexpr, ast.A_ArrayExpr)
        ):
            node.kind = enums.A_Expr_Kind.AEXPR_IN
            node.rexpr = tuple(node.rexpr.elements or ())
    return node


def canonical_text(expr: str) -> str:
    """One spelling per meaning (for the rewrites above).

    >>> canonical_text("status IN (1, 2)") == canonical_text("(status = ANY (ARRAY[1, 2]))")
    True
    >>> canonical_text("name LIKE 'a%'") == canonical_text("((name)::text ~~ 'a%'::text)")
    True
    >>> canonical_text("t = current_setting('x', true)::int")
    "t = CAST(current_setting('x', TRUE) AS integer)"
    """
    return str(RawStream()(_normalise(_parse(expr))))


@lru_cache(maxsize=4096)
def _canonical_cached(expr: str) -> str:
    return canonical_text(expr)


def same_expression(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    # Through the server both sides usually arrive as the same text: skip pglast then.
    return a == b or _canonical_cached(a) == _canonical_cached(b)


Canonicalizer = Callable[[str, str, str, str], str]  # (database, schema, table, expr) -> text
