"""What the tuner knows about the machine: memory, CPUs, storage class, and where each came from."""

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import psutil

from pgtune.tuning import cgroups, datasize, disks, storage
from pgtune.tuning.ioprobe import ProbeResult

StorageClass = Literal["hdd", "ssd", "nvme"]
STORAGE_CLASSES: tuple[StorageClass, ...] = ("hdd", "ssd", "nvme")


@dataclass(frozen=True)
class Hardware:
    memory_bytes: int
    cpus: int
    storage: StorageClass
    memory_source: str
    cpus_source: str
    storage_source: str
    notes: tuple[str, ...] = ()
    # the databases' size (shared_buffers may be sized to hold them); None when unknown
    database_bytes: int | None = None
    database_source: str = datasize.NOT_MEASURED.source
    # the space pg_wal may fill (its filesystem, or the free space it shares with the data)
    wal_disk_bytes: int | None = None
    wal_disk_source: str = disks.NO_DATA_DIR.source
    wal_disk_shared: bool = False  # pg_wal shares the data's filesystem
    # free space on the data directory's filesystem, where temporary files go
    temp_disk_bytes: int | None = None
    temp_disk_source: str = disks.NO_DATA_DIR.source
    # huge pages reserved on this host (vm.nr_hugepages x Hugepagesize); None: not read
    huge_pages_bytes: int | None = None
    clocksource: str | None = None  # the kernel's current clock source; None: not read
    io_probe: ProbeResult | None = None  # --probe-io: measured read latency


def with_overrides(
    hw: Hardware,
    *,
    memory: int | None = None,
    cpus: int | None = None,
    storage: StorageClass | None = None,
    database: int | None = None,
    wal_disk: int | None = None,
) -> Hardware:
    """Replace detected values by the user's flags, recording the flag as the source."""
    if memory is not None:
        # the memory of another machine, perhaps: this host's huge pages and clock say nothing
        # about it
        hw = replace(
            hw,
            memory_bytes=memory,
            memory_source="--memory",
            huge_pages_bytes=None,
            clocksource=None,
        )
    if cpus is not None:
        hw = replace(hw, cpus=cpus, cpus_source="--cpus")
    if storage is not None:
        hw = replace(hw, storage=storage, storage_source="--storage")
    if database is not None:
        hw = replace(hw, database_bytes=database, database_source="--data-size")
    if wal_disk is not None:
        hw = replace(
            hw, wal_disk_bytes=wal_disk, wal_disk_source="--wal-disk-size", wal_disk_shared=False
        )
    return hw


def detect(data_dir: Path | None = None, *, root: Path = Path("/")) -> Hardware:
    """Detect this machine's usable memory, CPUs, the storage class under ``data_dir`` and the
    size of the databases in it.

    ``root`` is where /proc and /sys are read for cgroups and storage (tests use a fake
    tree); host RAM and CPU counts always come from the running system. Never raises: what
    cannot be read falls back to something safe and says so in ``notes``.
    """
    limits = cgroups.read_limits(root)
    notes = list(limits.notes)
    memory, memory_source = _memory(limits.memory, notes)
    cpus, cpus_source = _cpus(limits.cpus, notes)
    disk = _storage(data_dir, root)
    notes += disk.notes
    data = datasize.measure(data_dir)
    notes += data.notes
    wal, temp = disks.wal_disk(data_dir), disks.data_disk_free(data_dir)
    huge = huge_pages_reserved(root)
    return Hardware(
        memory_bytes=memory,
        cpus=cpus,
        storage=disk.storage,
        memory_source=memory_source,
        cpus_source=cpus_source,
        storage_source=disk.source,
        notes=tuple(notes),
        database_bytes=data.bytes,
        database_source=data.source,
        wal_disk_bytes=wal.bytes,
        wal_disk_source=wal.source,
        wal_disk_shared=wal.shared_with_data,
        temp_disk_bytes=temp.bytes,
        temp_disk_source=temp.source,
        huge_pages_bytes=huge,
        clocksource=_clocksource(root),
    )


def _clocksource(root: Path) -> str | None:
    path = root / "sys/devices/system/clocksource/clocksource0/current_clocksource"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def huge_pages_reserved(root: Path = Path("/")) -> int | None:
    """HugePages_Total x Hugepagesize from /proc/meminfo (None when it cannot be read)."""
    try:
        text = (root / "proc/meminfo").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        total = int(fields["HugePages_Total"].split()[0])
        size_kb = int(fields["Hugepagesize"].split()[0])
    except (KeyError, ValueError, IndexError):
        return None
    return total * size_kb * 1024


# Last resort when even the host's RAM cannot be read: small enough not to overcommit.
FALLBACK_MEMORY = 1 << 30


def _memory(limit: cgroups.CgroupLimit | None, notes: list[str]) -> tuple[int, str]:
    """The smaller of host RAM and the cgroup memory limit."""
    # Host first: on a tie it wins, as a limit equal to all the RAM restricts nothing.
    host = _host_memory(notes)
    candidates = [host] if host is not None else []
    if limit is not None:
        candidates.append((limit.value, limit.source))
    if not candidates:
        notes.append("Could not read the amount of memory; assumed 1 GiB, pass --memory.")
        return FALLBACK_MEMORY, "assumed: memory could not be read"
    return min(candidates, key=lambda candidate: candidate[0])


def _host_memory(notes: list[str]) -> tuple[int, str] | None:
    try:
        return psutil.virtual_memory().total, "psutil: host RAM"
    except Exception as exc:  # psutil raises its own errors on odd /proc setups
        notes.append(f"psutil could not read host memory: {exc}")
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return (pages, "sysconf: host RAM") if pages > 0 else None


def _cpus(limit: cgroups.CgroupLimit | None, notes: list[str]) -> tuple[int, str]:
    """The fewest of: CPUs in the machine, CPUs this process may run on, the cgroup quota."""
    # Broadest first: on a tie it wins, as a narrower mechanism then restricts nothing.
    candidates: list[tuple[int, str]] = []
    count = os.cpu_count()
    if count:
        candidates.append((count, "os.cpu_count"))
    affinity = _affinity()
    if affinity:
        candidates.append((affinity, "sched_getaffinity"))
    if limit is not None:
        candidates.append((limit.value, limit.source))
    if not candidates:
        notes.append("Could not count the CPUs; assumed 1, pass --cpus.")
        return 1, "assumed: CPUs could not be counted"
    return min(candidates, key=lambda candidate: candidate[0])


def _affinity() -> int | None:
    """CPUs this process may run on (taskset, cpusets); not available on every OS."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _storage(data_dir: Path | None, root: Path) -> storage.StorageInfo:
    if data_dir is not None:
        found = storage.storage_class(data_dir, root=root)
        return replace(found, source=f"{found.source}, for {data_dir}")
    try:
        cwd = Path.cwd()
    except OSError:  # the current directory was deleted under us
        return storage.assumed("no data directory given and the current directory is gone")
    found = storage.storage_class(cwd, root=root)
    where = f"the current directory {cwd} (no data directory given)"
    return replace(found, source=f"{found.source}, for {where}")
