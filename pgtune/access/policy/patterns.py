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


def function_matches(pattern: Pattern, name: str, args: str) -> bool:
    """``name-glob`` matches every overload; ``name-glob(args)`` only the one with those
    arguments."""
    text = pattern.text
    if text.endswith(")") and "(" in text:
        glob, written = text[:-1].split("(", 1)
        return name_matches(glob.strip(), name) and arguments_match(written, args)
    return name_matches(text, name)


def covers_everything(patterns: tuple[Pattern, ...]) -> bool:
    """Whether the patterns take in every future object too (only ``*`` does), which is
    when default privileges may stand in for them."""
    return any(p.text == "*" for p in patterns)
