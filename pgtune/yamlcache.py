"""Parsed YAML data files, cached by content, so a run need not import PyYAML.

Importing yaml and parsing the profiles and parameters.yaml cost a `pgtune generate` run about
15 ms. The text is always read; its SHA-256 (with the Python version) names a marshal file in
the cache directory that holds what yaml.safe_load made of it. A changed file has another digest,
so the cache cannot go stale; anything wrong with it (missing, unreadable, not writable, foreign
content) only means parsing again. Only plain data is cached (mappings, lists, strings, numbers,
booleans, null), and only data the cache gives back unchanged.

The directory: ``$PGTUNE_CACHE_DIR`` (empty: no cache), else ``$XDG_CACHE_HOME/pgtune``, else
``~/.cache/pgtune``; created with mode 0700.
"""

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SALT = f"pgtune-yaml-1 {sys.version_info[0]}.{sys.version_info[1]} {marshal.version}\n".encode()
_PLAIN = (str, int, float, bool, type(None))


def cache_dir() -> Path | None:
    explicit = os.environ.get("PGTUNE_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None  # no usable home (expanduser left "~"): do not cache into the cwd
    return Path(base) / "pgtune"


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN)


def load(text: str, parse: Callable[[str], Any]) -> Any:
    """``parse(text)``, from the cache when this exact text was parsed before."""
    directory = cache_dir()
    if directory is None:
        return parse(text)
    path = directory / (hashlib.sha256(_SALT + text.encode()).hexdigest() + ".marshal")
    try:
        cached = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    else:
        if _plain(cached):
            return cached
    data = parse(text)  # errors (malformed YAML) are the caller's, as without a cache
    try:
        blob = marshal.dumps(data)
    except ValueError:  # e.g. a date: not plain data
        return data
    if _plain(data) and marshal.loads(blob) == data:
        _store(path, blob)
    return data


def _store(path: Path, blob: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


class MalformedYAML(Exception):
    """yaml.safe_load refused the text; ``line`` (1-based) is where, when known."""

    def __init__(self, line: int | None) -> None:
        super().__init__(f"malformed YAML{'' if line is None else f' line {line}'}")
        self.line = line


def _yaml_parse(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise MalformedYAML(None if mark is None else mark.line + 1) from None


def safe_load(text: str) -> Any:
    """What ``yaml.load(text, CSafeLoader)`` returns, cached; MalformedYAML when it refuses."""
    return load(text, _yaml_parse)
