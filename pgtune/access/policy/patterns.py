"""Matching an access entry's names and glob patterns against the objects that exist."""

from fnmatch import fnmatchcase

from pgtune.access.policy.document import Pattern


def name_matches(pattern: str, name: str) -> bool:
    """Case-sensitive glob match; a name also matches itself literally, so a table called
    ``a[1]`` can be named without escaping.

    >>> name_matches("order*", "orders"), name_matches("order*", "Orders")
    (True, False)
    >>> name_matches("a[1]", "a[1]")
    True
    """
    return pattern == name or fnmatchcase(name, pattern)


def _split_args(args: str) -> list[str]:
    return [a.strip() for a in args.split(",")] if args.strip() else []


def arguments_match(written: str, identity: str) -> bool:
    """Whether arguments written in the policy name a function's identity arguments
    (``pg_get_function_identity_arguments``, which includes argument names and modes).

    Each written argument must equal the server's, or be its type after the name:

    >>> arguments_match("integer, text", "a integer, b text")
    True
    >>> arguments_match("integer,text", "integer, text")
    True
    >>> arguments_match("integer", "a integer, b text")
    False
    >>> arguments_match("", "")
    True
    """
    mine, theirs = _split_args(written), _split_args(identity)
    return len(mine) == len(theirs) and all(
        m == t or t.endswith(" " + m) for m, t in zip(mine, theirs, strict=True)
    )


def _split_call(text: str) -> tuple[str, str] | None:
    """``name(args)`` split at the parenthesis that opens the trailing group, so a name that
    itself holds parentheses keeps them: ``f(x)(integer)`` is ``f(x)`` with ``integer``.

    >>> _split_call("f(x)(integer)"), _split_call("total(integer)"), _split_call("total")
    (('f(x)', 'integer'), ('total', 'integer'), None)
    """
    if not text.endswith(")"):
        return None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            return (text[:index].strip(), text[index + 1 : -1]) if index > 0 else None
    return None


def function_matches(pattern: Pattern, name: str, args: str) -> bool:
    """``name-glob`` matches every overload; ``name-glob(args)`` only the one with those
    arguments. A pattern that is exactly a function's name (``f(x)`` for a function called
    ``f(x)``) matches that name's overloads."""
    text = pattern.text
    if text == name:
        return True
    call = _split_call(text)
    if call is not None:
        glob, written = call
        return name_matches(glob, name) and arguments_match(written, args)
    return name_matches(text, name)


def covers_everything(patterns: tuple[Pattern, ...]) -> bool:
    """Whether the patterns take in every future object too (only ``*`` does), which is
    when default privileges may stand in for them."""
    return any(p.text == "*" for p in patterns)
