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


_SPACE = " \t\n\r\f\v"


def _outside_quotes(text: str) -> list[bool]:
    """Per character of SQL text, whether it is outside double-quoted identifiers (the quote
    characters themselves are not; ``""`` inside quotes is an escaped quote).

    >>> "".join("o" if out else "q" for out in _outside_quotes('a "b,""c" d'))
    'ooqqqqqqqoo'
    """
    out: list[bool] = []
    quoted = False
    for c in text:
        if c == '"':
            quoted = not quoted  # "" inside quotes: out and straight back in
            out.append(False)
        else:
            out.append(not quoted)
    return out


def _split_args(args: str) -> list[str]:
    """Arguments split at the commas outside double quotes, each without the whitespace
    outside quotes at its ends (whitespace inside a quoted argument name is kept).

    >>> _split_args(' a integer,"b, c" text , "x) " int ')
    ['a integer', '"b, c" text', '"x) " int']
    >>> _split_args("  ")
    []
    """
    if '"' not in args:  # the usual case, no quoted names: a plain split
        plain = [a.strip(_SPACE) for a in args.split(",")]
        return [] if plain == [""] else plain
    outside = _outside_quotes(args)
    pieces: list[tuple[int, int]] = []
    start = 0
    for index, c in enumerate(args):
        if c == "," and outside[index]:
            pieces.append((start, index))
            start = index + 1
    pieces.append((start, len(args)))
    result: list[str] = []
    for begin, end in pieces:
        while begin < end and args[begin] in _SPACE and outside[begin]:
            begin += 1
        while end > begin and args[end - 1] in _SPACE and outside[end - 1]:
            end -= 1
        result.append(args[begin:end])
    return [] if result == [""] else result


def _argument_matches(mine: str, theirs: str) -> bool:
    """An argument as written against the server's: equal, or its type after the argument
    name (the two separated by a space outside quotes).

    >>> _argument_matches("integer", '"x) integer" integer')
    True
    >>> _argument_matches("integer", '"a integer"')
    False
    """
    if mine == theirs:
        return True
    cut = len(theirs) - len(mine) - 1
    return bool(mine) and cut > 0 and theirs.endswith(" " + mine) and _outside_quotes(theirs)[cut]


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
    >>> arguments_match("integer", '"a, b" integer'), arguments_match("integer", '"a, integer"')
    (True, False)
    """
    mine, theirs = _split_args(written), _split_args(identity)
    return len(mine) == len(theirs) and all(
        _argument_matches(m, t) for m, t in zip(mine, theirs, strict=True)
    )


def _split_call(text: str) -> tuple[str, str] | None:
    """``name(args)`` split at the parenthesis that opens the trailing group, so a name that
    itself holds parentheses keeps them: ``f(x)(integer)`` is ``f(x)`` with ``integer``. In the
    group, parentheses inside double-quoted argument names do not count; the name is kept
    exactly as written (whitespace included: names are exact).

    >>> _split_call("f(x)(integer)"), _split_call("total(integer)"), _split_call("total")
    (('f(x)', 'integer'), ('total', 'integer'), None)
    >>> _split_call('f10("x)" integer)'), _split_call('f\\n(x integer)')
    (('f10', '"x)" integer'), ('f\\n', 'x integer'))
    """
    if not text.endswith(")"):
        return None
    depth = 0
    quoted = False
    for index in range(len(text) - 1, -1, -1):
        c = text[index]
        if c == '"':
            quoted = not quoted  # read backwards, "" inside quotes still pairs up
        elif not quoted:
            depth += {")": 1, "(": -1}.get(c, 0)
            if depth == 0:
                return (text[:index], text[index + 1 : -1]) if index > 0 else None
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
