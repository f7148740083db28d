"""Where the shipped data lives: profiles/ and templates/.

In a source checkout (and an editable install) they sit at the top of the repository; a built
wheel carries them inside the package as pgtune/profiles and pgtune/templates.
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(kind: str) -> Path:
    """The shipped ``profiles`` or ``templates`` directory."""
    inside = _PACKAGE / kind
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / kind
