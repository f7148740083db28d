"""Per-version parameter facts, read from one data table (parameters.yaml beside this module).

>>> facts = version_facts(15)
>>> facts.param("hash_mem_multiplier").default
'2'
>>> version_facts(14).param("hash_mem_multiplier").default
'1'
>>> version_facts(17).has("io_method"), version_facts(18).has("io_method")
(False, True)
>>> version_facts(18).param("autovacuum_max_workers").applies
'reload'
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pgtune import yamlcache
from pgtune.errors import DataError, UsageError

SUPPORTED_MAJORS = (13, 14, 15, 16, 17, 18)
NEWEST_MAJOR = SUPPORTED_MAJORS[-1]

Applies = Literal["reload", "restart"]


@dataclass(frozen=True)
class ParamFacts:
    name: str
    context: str
    unit: str | None
    type: str
    min: float | None
    max: float | None
    values: tuple[str, ...]
    default: str

    @property
    def applies(self) -> Applies:
        """What makes a new value take effect: only postmaster parameters need a restart."""
        return "restart" if self.context == "postmaster" else "reload"


@dataclass(frozen=True)
class VersionFacts:
    major: int
    params: dict[str, ParamFacts]

    def has(self, name: str) -> bool:
        return name in self.params

    def param(self, name: str) -> ParamFacts:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"PostgreSQL {self.major} has no parameter {name!r}") from None


def _for_version(value: Any, major: int) -> Any:
    """Resolve a {major: value} mapping to the entry of the newest major not after ``major``."""
    if not isinstance(value, dict):
        return value
    keys = [k for k in value if k <= major]
    return value[max(keys)] if keys else None


def _text(value: Any) -> str:
    # pg_settings shows numbers without a trailing .0 and booleans as on/off.
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@cache
def _table() -> dict[str, dict[str, Any]]:
    # beside this module; parsed once per content (pgtune/yamlcache.py), not on every run
    text = (Path(__file__).parent / "parameters.yaml").read_text(encoding="utf-8")
    data = yamlcache.safe_load(text)
    if not isinstance(data, dict):
        raise DataError("parameters.yaml is not a mapping")
    return data


@cache
def version_facts(major: int) -> VersionFacts:
    check_major(major)
    params: dict[str, ParamFacts] = {}
    for name, entry in _table().items():
        if major < entry["since"] or ("until" in entry and major >= entry["until"]):
            continue
        values = _for_version(entry.get("values", ()), major) or ()
        lo = _for_version(entry.get("min"), major)
        hi = _for_version(entry.get("max"), major)
        params[name] = ParamFacts(
            name=name,
            context=_for_version(entry["context"], major),
            unit=entry.get("unit"),
            type=_for_version(entry["type"], major),
            min=float(lo) if lo is not None else None,
            max=float(hi) if hi is not None else None,
            values=tuple(_text(v) for v in values),
            default=_text(_for_version(entry.get("default", ""), major)),
        )
    return VersionFacts(major=major, params=params)


def check_major(major: int) -> int:
    if major not in SUPPORTED_MAJORS:
        raise UsageError(
            f"unsupported PostgreSQL version {major!r}: pgtune supports "
            f"{SUPPORTED_MAJORS[0]} to {SUPPORTED_MAJORS[-1]}"
        )
    return major


def detect_major(
    data_dir: Path | None, lib_root: Path = Path("/usr/lib/postgresql")
) -> tuple[int, str]:
    """The PostgreSQL major version to tune for, and where that came from.

    The data directory's PG_VERSION wins; then the newest supported server installed under
    ``lib_root`` (Debian/Ubuntu layout); else the newest version pgtune knows.
    """
    if data_dir is not None:
        marker = data_dir / "PG_VERSION"
        try:
            text = marker.read_text().strip()
        except OSError:
            pass
        else:
            if text.isdigit() and int(text) in SUPPORTED_MAJORS:
                return int(text), f"{marker}"
    try:
        installed = [int(p.name) for p in lib_root.iterdir() if p.name.isdigit()]
    except OSError:
        installed = []
    usable = [
        m for m in installed if m in SUPPORTED_MAJORS and (lib_root / str(m) / "bin").is_dir()
    ]
    if usable:
        return max(usable), f"newest server installed in {lib_root}"
    return (
        NEWEST_MAJOR,
        "no server found; newest supported version assumed (override: --pg-version)",
    )
