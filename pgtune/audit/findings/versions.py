"""Whether the server runs a supported major version and its newest minor release, against a
table shipped with pgtune (``minor_versions.yaml``) that carries its own date: a finding says
"as of" that date, and a server newer than the table is not judged, so an old table never
claims a current server is behind."""

from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files

import yaml

from pgtune.access.policy.document import Policy
from pgtune.audit.findings import cis
from pgtune.audit.findings.base import Check
from pgtune.audit.model import Finding, Snapshot

SETTINGS = ("server_version_num",)


@dataclass(frozen=True)
class Releases:
    as_of: date
    newest: dict[int, int]  # major -> newest minor known on as_of
    end_of_life: dict[int, date]


@cache
def releases() -> Releases:
    """The shipped table, read once."""
    raw = yaml.safe_load(files("pgtune.audit").joinpath("minor_versions.yaml").read_text())
    majors = raw["majors"]
    return Releases(
        as_of=raw["as_of"],
        newest={int(m): int(str(v["newest"]).split(".")[1]) for m, v in majors.items()},
        end_of_life={int(m): v["end_of_life"] for m, v in majors.items()},
    )


def parse_version_num(value: str) -> tuple[int, int] | None:
    """(major, minor) from server_version_num (10 and later).

    >>> parse_version_num("150018"), parse_version_num("x"), parse_version_num("90624")
    ((15, 18), None, None)
    """
    if not value.isdigit() or int(value) < 100000:
        return None
    return int(value) // 10000, int(value) % 10000


def _collected_on(snapshot: Snapshot) -> date | None:
    try:
        return date.fromisoformat(snapshot.collected_at[:10])
    except ValueError:
        return None


def _version(snapshot: Snapshot) -> tuple[int, int] | None:
    value = snapshot.settings.get("server_version_num")
    return None if value is None else parse_version_num(value)


def minor_behind(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    version, table = _version(snapshot), releases()
    if version is None or version[0] not in table.newest:
        return []
    major, minor = version
    newest = table.newest[major]
    if minor >= newest:  # current, or newer than the table knows: not judged
        return []
    as_of = table.as_of.isoformat()
    return [
        Finding(
            id="PGT-VER-001",
            severity="medium",
            title="Not the newest minor release",
            seen=f"server {major}.{minor}; the newest {major}.x as of {as_of} is "
            f"{major}.{newest} ({newest - minor} minor release(s) behind)",
            why="minor releases carry the security fixes; the community deems not upgrading "
            "riskier than upgrading",
            remediation=f"install the newest {major}.x packages and restart "
            "(binaries only: no dump, no pg_upgrade)",
            cis=cis.VERSIONS_UP_TO_DATE,
            object="server_version",
            remediation_kind="shell",
        )
    ]


def major_end_of_life(snapshot: Snapshot, policy: Policy | None) -> list[Finding]:
    version, table, when = _version(snapshot), releases(), _collected_on(snapshot)
    if version is None or when is None:
        return []
    major = version[0]
    end = table.end_of_life.get(major)
    if end is None or when < end:
        return []
    supported = sorted(m for m, e in table.end_of_life.items() if when < e)
    return [
        Finding(
            id="PGT-VER-002",
            severity="high",
            title="Major version past end of life",
            seen=f"server {major}.{version[1]}; community support for {major} ended on "
            f"{end.isoformat()}",
            why="no more security fixes are released for this major version",
            remediation="upgrade to a supported major version ("
            + ", ".join(map(str, supported))
            + ") with pg_upgrade or a dump and restore",
            cis=cis.VERSIONS_UP_TO_DATE,
            object="server_version",
            remediation_kind="shell",
        )
    ]


CHECKS: tuple[Check, ...] = (minor_behind, major_end_of_life)
