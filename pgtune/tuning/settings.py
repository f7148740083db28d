"""Turn sizing decisions into PostgreSQL settings: the text for postgresql.conf, the value
pg_settings will show, its unit, and whether a reload or a restart applies it.

>>> from pgtune.versions import version_facts
>>> s = to_setting(Decision("shared_buffers", 4 * 1024**3, "why"), version_facts(15), "memory")
>>> s.value, s.setting, s.unit, s.applies
('4GB', '524288', '8kB', 'restart')
>>> to_setting(Decision("checkpoint_timeout", 900_000, "why"), version_facts(15), "wal").setting
'900'
>>> to_setting(Decision("jit", False, "why"), version_facts(15), "planner").value
'off'
"""

from dataclasses import dataclass

from pgtune.tuning.sizing import Decision, Value
from pgtune.units import KB, MB, format_pg_duration, format_pg_size
from pgtune.versions import Applies, ParamFacts, VersionFacts

_MEMORY_UNITS = {"kB": KB, "8kB": 8 * KB, "MB": MB}
_TIME_UNITS_MS = {"ms": 1, "s": 1000, "min": 60_000}


@dataclass(frozen=True)
class Setting:
    name: str
    value: str  # as written in postgresql.conf (before quoting)
    setting: str  # as pg_settings.setting shows it, in `unit`
    unit: str | None
    applies: Applies
    reason: str
    section: str


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _convert(value: Value, facts: ParamFacts) -> tuple[str, str]:
    if isinstance(value, bool):
        text = "on" if value else "off"
        return text, text
    if isinstance(value, int) and value == -1 and facts.min == -1:
        return "-1", "-1"  # PostgreSQL's "no limit" / "use the other setting"
    if isinstance(value, int) and facts.unit in _MEMORY_UNITS:
        return format_pg_size(value), str(value // _MEMORY_UNITS[facts.unit])
    if isinstance(value, int) and facts.unit in _TIME_UNITS_MS:
        return format_pg_duration(value), str(value // _TIME_UNITS_MS[facts.unit])
    if isinstance(value, int | float):
        text = _number_text(value)
        return text, text
    return value, value


class InvalidSetting(AssertionError):
    """A sizing rule produced a value the server would reject: a bug in pgtune, not user error."""


def _check(name: str, value: Value, setting: str, facts: ParamFacts) -> None:
    if facts.type in ("integer", "real") and not isinstance(value, bool):
        number = float(setting)
        if (facts.min is not None and number < facts.min) or (
            facts.max is not None and number > facts.max
        ):
            raise InvalidSetting(f"{name} = {setting} outside [{facts.min}, {facts.max}]")
    if facts.type == "enum" and setting not in facts.values:
        raise InvalidSetting(f"{name} = {setting!r} not one of {facts.values}")


def to_setting(decision: Decision, facts: VersionFacts, section: str) -> Setting:
    param = facts.param(decision.name)
    value, setting = _convert(decision.value, param)
    _check(decision.name, decision.value, setting, param)
    return Setting(
        decision.name, value, setting, param.unit, param.applies, decision.reason, section
    )
