"""Memory and time units: parsing user input and writing PostgreSQL values.

PostgreSQL memory units are powers of 1024 (kB, MB, GB, TB) and its smallest is kB.

>>> parse_size("16GB")
17179869184
>>> parse_size("512 mb")
536870912
>>> parse_size("1.5GiB")
1610612736
>>> parse_size("4096")
4096
>>> format_pg_size(4 * GB)
'4GB'
>>> format_pg_size(1536 * MB)
'1536MB'
>>> format_pg_size(64 * KB)
'64kB'
>>> human_size(12_025_000_000)
'11.2 GB'
"""

import math
import re

from pgtune.errors import UsageError

KB = 1024
MB = 1024 * KB
GB = 1024 * MB
TB = 1024 * GB

_SUFFIXES = {
    "": 1,
    "b": 1,
    "k": KB,
    "kb": KB,
    "kib": KB,
    "m": MB,
    "mb": MB,
    "mib": MB,
    "g": GB,
    "gb": GB,
    "gib": GB,
    "t": TB,
    "tb": TB,
    "tib": TB,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Parse a human size such as ``16GB`` or ``512MB`` into bytes (binary units)."""
    match = _SIZE_RE.match(text)
    if not match:
        raise UsageError(f"invalid size {text!r}: use a number with a unit, e.g. '16GB'")
    number, suffix = match.groups()
    factor = _SUFFIXES.get(suffix.lower())
    if factor is None:
        raise UsageError(f"invalid size unit in {text!r}: use kB, MB, GB or TB")
    value = float(number) * factor
    if not math.isfinite(value):
        raise UsageError(f"invalid size {text!r}")
    return int(value)


def format_pg_size(nbytes: int) -> str:
    """Write a byte count the way postgresql.conf reads it: the largest exact unit.

    Values are rounded down to whole kB first (PostgreSQL's smallest memory unit).

    >>> format_pg_size(3 * GB + 512 * MB)
    '3584MB'
    >>> format_pg_size(1000)
    '0'
    """
    kb = nbytes // KB
    if kb == 0:
        return "0"
    for unit, size in (("TB", TB // KB), ("GB", GB // KB), ("MB", MB // KB)):
        if kb >= size and kb % size == 0:
            return f"{kb // size}{unit}"
    return f"{kb}kB"


def human_size(nbytes: float) -> str:
    """A size for people: one decimal, decimal-looking but binary units (like `free -h`).

    >>> human_size(512 * MB)
    '512 MB'
    >>> human_size(3 * KB)
    '3 kB'
    """
    for unit, size in (("TB", TB), ("GB", GB), ("MB", MB), ("kB", KB)):
        if nbytes >= size:
            value = nbytes / size
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{int(nbytes)} B"


def round_down(nbytes: int, step: int) -> int:
    """Round down to a multiple of ``step``.

    >>> round_down(1000 * MB + 5, MB)
    1048576000
    """
    return (nbytes // step) * step


def nice_size(nbytes: int) -> int:
    """Round down to a value people recognise: 256 MB steps above 4 GB (whole GB would lose up
    to a fifth of shared_buffers on a 23.5 GB machine), whole MB above 4 MB, else kB.

    >>> format_pg_size(nice_size(5 * GB + 300 * MB))
    '5376MB'
    >>> format_pg_size(nice_size(16 * GB + 100 * MB))
    '16GB'
    >>> format_pg_size(nice_size(37 * MB + 100 * KB))
    '37MB'
    >>> format_pg_size(nice_size(2 * MB + 100 * KB + 7))
    '2148kB'
    """
    if nbytes >= 4 * GB:
        return round_down(nbytes, 256 * MB)
    if nbytes >= 4 * MB:
        return round_down(nbytes, MB)
    return round_down(nbytes, KB)


_DURATION_FACTORS_MS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|min|h|d)?\s*$")


def parse_duration_ms(text: str | int) -> int:
    """Parse a duration such as ``15min`` or ``60s`` into milliseconds (bare numbers are seconds).

    >>> parse_duration_ms("15min")
    900000
    >>> parse_duration_ms(0)
    0
    """
    match = _DURATION_RE.match(str(text))
    if not match:
        raise UsageError(f"invalid duration {text!r}: use e.g. '60s', '15min' or '1h'")
    number, unit = match.groups()
    return int(number) * _DURATION_FACTORS_MS[unit or "s"]


def format_pg_duration(ms: int) -> str:
    """Write milliseconds the way postgresql.conf reads them: the largest exact unit.

    >>> format_pg_duration(900_000), format_pg_duration(60_000), format_pg_duration(1500)
    ('15min', '1min', '1500ms')
    >>> format_pg_duration(0)
    '0'
    """
    if ms == 0:
        return "0"
    for unit in ("d", "h", "min", "s"):
        size = _DURATION_FACTORS_MS[unit]
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
