"""Read the memory and CPU limits that cgroups (v1 or v2) put on this process.

Everything takes a ``root`` so tests can point it at a fake tree. Nothing here raises on odd
files: a missing file means "no limit here"; an unreadable or unparsable one is skipped and
described in ``notes`` (when the caller passes a list to collect them).
"""

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypeVar

T = TypeVar("T")
# Reads one cgroup directory: the limit found there and a source string, or None.
Reader = Callable[[Path], tuple[T, str] | None]

CGROUP_MOUNT = "sys/fs/cgroup"
# v1 reports "no limit" as a page-aligned LONG_MAX; anything from 1 EiB up is effectively that.
V1_UNLIMITED_FROM = 1 << 60
# v1 mounts cpu alone or co-mounted with cpuacct (under either name order).
V1_CPU_DIRS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


@dataclass(frozen=True)
class Membership:
    """Which cgroup this process is in: per v1 controller, and in the v2 unified tree."""

    v1: dict[str, str] = field(default_factory=dict)
    v2: str | None = None


@dataclass(frozen=True)
class CgroupLimit:
    """A limit found in a cgroup file: bytes for memory, whole CPUs for CPU."""

    value: int
    source: str


@dataclass(frozen=True)
class CgroupLimits:
    memory: CgroupLimit | None
    cpus: CgroupLimit | None
    notes: tuple[str, ...] = ()


def parse_proc_cgroup(text: str) -> Membership:
    """Parse /proc/<pid>/cgroup: v1 lines ``N:ctrl[,ctrl]:/path``, the v2 line ``0::/path``.

    >>> parse_proc_cgroup("4:memory:/a\\n2:cpu,cpuacct:/b\\n0::/c")
    Membership(v1={'memory': '/a', 'cpu': '/b', 'cpuacct': '/b'}, v2='/c')
    """
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            continue  # garbage line: skip it rather than guess
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        else:
            v1.update(dict.fromkeys(controllers.split(","), path))
    return Membership(v1=v1, v2=v2)


def read_membership(root: Path = Path("/"), notes: list[str] | None = None) -> Membership:
    text = _read(root / "proc/self/cgroup", root, _sink(notes))
    return Membership() if text is None else parse_proc_cgroup(text)


def memory_limit(root: Path = Path("/"), notes: list[str] | None = None) -> CgroupLimit | None:
    """The tightest memory limit on this process in bytes, or None when there is none."""
    sink = _sink(notes)
    membership = read_membership(root, sink)
    found: list[tuple[int, str]] = []
    if "memory" in membership.v1:
        read_v1 = _file_reader("cgroup v1", "memory.limit_in_bytes", _parse_v1_memory, root, sink)
        found += _scan(root / CGROUP_MOUNT / "memory", membership.v1["memory"], read_v1)
    if membership.v2 is not None:
        read_v2 = _file_reader("cgroup v2", "memory.max", _parse_v2_memory, root, sink)
        for mount in v2_mounts(root):
            found += _scan(mount, membership.v2, read_v2)
    if not found:
        return None
    value, source = min(found, key=lambda pair: pair[0])
    return CgroupLimit(value=value, source=source)


def cpu_limit(root: Path = Path("/"), notes: list[str] | None = None) -> CgroupLimit | None:
    """The tightest CPU quota on this process as whole CPUs (rounded up, at least 1), or None."""
    sink = _sink(notes)
    membership = read_membership(root, sink)
    found: list[tuple[float, str]] = []
    if "cpu" in membership.v1:
        read_v1 = _v1_cpu_reader(root, sink)
        for name in V1_CPU_DIRS:
            found += _scan(root / CGROUP_MOUNT / name, membership.v1["cpu"], read_v1)
    if membership.v2 is not None:
        read_v2 = _file_reader("cgroup v2", "cpu.max", _parse_v2_cpu, root, sink)
        for mount in v2_mounts(root):
            found += _scan(mount, membership.v2, read_v2)
    if not found:
        return None
    ratio, source = min(found, key=lambda pair: pair[0])
    return CgroupLimit(value=max(1, math.ceil(ratio)), source=source)


def read_limits(root: Path = Path("/")) -> CgroupLimits:
    """Both limits, plus notes about any cgroup file that could not be used."""
    notes: list[str] = []
    memory = memory_limit(root, notes)
    cpus = cpu_limit(root, notes)
    # /proc/self/cgroup is read twice; report a problem with it once.
    return CgroupLimits(memory=memory, cpus=cpus, notes=tuple(dict.fromkeys(notes)))


def v2_mounts(root: Path) -> list[Path]:
    """Where the unified (v2) hierarchy is mounted: /sys/fs/cgroup, or .../unified in hybrid mode.

    ``cgroup.controllers`` exists only at the root of a v2 mount, so it tells the two apart
    from the tmpfs that holds the v1 mounts.
    """
    candidates = (root / CGROUP_MOUNT, root / CGROUP_MOUNT / "unified")
    return [mount for mount in candidates if os.path.isfile(mount / "cgroup.controllers")]


def cgroup_dirs(mount: Path, cgroup_path: str) -> Iterator[Path]:
    """The process's cgroup directory and every ancestor up to the mount root, deepest first.

    Limits on an ancestor apply too. Inside a container the path from /proc/self/cgroup often
    names a directory of the host's tree that the container's mount does not show; such
    directories are skipped and the mount root (the container's own cgroup) still counts.
    """
    relative = PurePosixPath(cgroup_path.lstrip("/"))
    if ".." in relative.parts:  # garbage; never climb out of the mount
        relative = PurePosixPath(".")
    for part in (relative, *relative.parents):
        directory = mount / part
        if os.path.isdir(directory):  # unlike Path.is_dir, never raises (e.g. EACCES)
            yield directory


def _scan(mount: Path, cgroup_path: str, read: Reader[T]) -> list[tuple[T, str]]:
    limits = (read(directory) for directory in cgroup_dirs(mount, cgroup_path))
    return [limit for limit in limits if limit is not None]


def _file_reader(
    label: str, filename: str, parse: Callable[[str], T | None], root: Path, notes: list[str]
) -> Reader[T]:
    """A reader for limits that live in a single file (all but v1 CPU)."""

    def read(directory: Path) -> tuple[T, str] | None:
        path = directory / filename
        text = _read(path, root, notes)
        value = None if text is None else _parse(parse, text, path, root, notes)
        return None if value is None else (value, f"{label} {filename} ({_shown(path, root)})")

    return read


def _v1_cpu_reader(root: Path, notes: list[str]) -> Reader[float]:
    """v1 splits the quota and its period over two files."""

    def read(directory: Path) -> tuple[float, str] | None:
        quota_path = directory / "cpu.cfs_quota_us"
        quota = _read(quota_path, root, notes)
        period = _read(directory / "cpu.cfs_period_us", root, notes)
        if quota is None or period is None:
            return None
        ratio = _parse(_parse_v2_cpu, f"{quota} {period}", quota_path, root, notes)
        source = f"cgroup v1 cpu.cfs_quota_us ({_shown(quota_path, root)})"
        return None if ratio is None else (ratio, source)

    return read


# --- parsing file contents: the limit, None for "unlimited", or ValueError for garbage


def _parse_v1_memory(text: str) -> int | None:
    value = int(text)
    return None if value >= V1_UNLIMITED_FROM else _positive(value)


def _parse_v2_memory(text: str) -> int | None:
    return None if text == "max" else _positive(int(text))


def _parse_v2_cpu(text: str) -> float | None:
    """``"max 100000"`` or ``"<quota> <period>"``; v1's quota of -1 also means no quota."""
    quota, period = text.split()
    if quota in ("max", "-1"):
        return None
    return _positive(int(quota)) / _positive(int(period))


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError(f"expected a positive number, got {value}")
    return value


# --- file access that never raises


def _parse(
    parse: Callable[[str], T | None], text: str, path: Path, root: Path, notes: list[str]
) -> T | None:
    try:
        return parse(text)
    except ValueError:
        notes.append(f"ignored {_shown(path, root)}: cannot parse {text[:60]!r}")
        return None


def _read(path: Path, root: Path, notes: list[str]) -> str | None:
    """The stripped contents; None if missing (normal: no such controller) or unreadable."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        notes.append(f"could not read {_shown(path, root)}: {exc.strerror or exc}")
        return None


def _shown(path: Path, root: Path) -> str:
    """The path as it would be on the real machine, so sources read the same in tests."""
    try:
        return "/" + path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _sink(notes: list[str] | None) -> list[str]:
    return [] if notes is None else notes
