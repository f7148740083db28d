"""What every command shares: turning pgtune errors into a message and an exit code."""

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from pgtune.errors import PgtuneError
from pgtune.names import one_line

P = ParamSpec("P")
R = TypeVar("R")


def _lines(message: str) -> str:
    # Messages may hold several lines on purpose (every policy problem at once); within a line,
    # a control character from a name or the server (\r, ESC, U+2028 ...) is escaped.
    return "\n".join(one_line(line) for line in message.split("\n"))


def fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"pgtune: error: {_lines(message)}\n")
    return typer.Exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """One line on stderr and the error's exit code instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PgtuneError as exc:
            raise fail(str(exc), exc.exit_code) from None

    return wrapper


def say(message: str) -> None:
    """Diagnostics go to stderr so stdout stays machine-readable."""
    sys.stderr.write(_lines(message) + "\n")
