"""What is wrong with a policy file: every problem at once, each with its line."""

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from pgtune.errors import DataError


@dataclass(frozen=True)
class Problem:
    line: int | None  # 1-based line in the policy file; None when no line applies
    message: str


class PolicyError(DataError):
    """An invalid policy file (exit code 3). ``str()`` lists one problem per line, in file
    order, as ``file:line: message`` so editors and terminals can jump to them."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        # Stable: by line (line-less problems first), then in the order they were found.
        self.problems = tuple(sorted(problems, key=lambda p: p.line or 0))
        super().__init__(self._render())

    def _render(self) -> str:
        return "\n".join(
            f"{self.source}:{p.line}: {p.message}" if p.line else f"{self.source}: {p.message}"
            for p in self.problems
        )

    def __str__(self) -> str:
        return self._render()


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` suffix, or "" when nothing is close.

    Case is ignored for the comparison (``select`` → ``SELECT``), but the hint is spelled as the
    candidate is.

    >>> did_you_mean("profle", ["profile", "role"])
    " (did you mean 'profile'?)"
    >>> did_you_mean("select", ["SELECT", "INSERT"])
    " (did you mean 'SELECT'?)"
    >>> did_you_mean("zzz", ["profile"])
    ''
    """
    by_folded: dict[str, str] = {}
    for c in candidates:
        by_folded.setdefault(c.casefold(), c)
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=1)
    return f" (did you mean {by_folded[close[0]]!r}?)" if close else ""
