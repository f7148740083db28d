"""The filesystems a cluster writes to: the one holding pg_wal (max_wal_size must fit in it, or a
full pg_wal stops the server) and the data directory's (temporary files spill there).

``pg_wal`` is followed through its symlink (``initdb --waldir`` puts it on another volume). When
it has a filesystem of its own, the whole filesystem is WAL's; when it shares the data's, only
the free space plus the WAL already there is, and the data's growth eats into it. Nothing here
raises: what cannot be measured is ``None`` with a source that says why.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from pgtune.tuning.storage import existing_parent
from pgtune.units import human_size


@dataclass(frozen=True)
class Disk:
    bytes: int | None  # what WAL (or temp files) may use on that filesystem; None: unknown
    source: str
    shared_with_data: bool = False


NO_DATA_DIR = Disk(None, "not measured (give --data-dir or --wal-disk-size)")


def free_bucket(nbytes: int) -> int:
    """Free space rounded down to 1/8 of its power of two (79.1 GB reads 72 GB): free space moves
    with every write, and re-running pgtune (Ansible, cron) must not change its output for that.

    >>> from pgtune.units import GB
    >>> free_bucket(int(79.1 * GB)) // GB
    72
    """
    if nbytes <= 0:
        return 0
    step = max(1024 * 1024, 1 << max(0, nbytes.bit_length() - 4))
    return nbytes // step * step


# Of a filesystem shared with the data, WAL (or temporary files) may plan on at most this share
# of its size: the size does not move between runs, so re-running pgtune gives the same output
# unless free space is the tighter bound (a nearly full disk, which the reason then names).
SHARED_SHARE = 4


def _shared(total: int, free: int, what: str) -> tuple[int, str]:
    """The smaller of a quarter of the filesystem and its free space (bucketed), and why."""
    quarter = total // SHARED_SHARE
    if quarter <= free:
        return quarter, f"a quarter of the {human_size(total)} filesystem (less than {what})"
    return free, f"{what}, less than a quarter of the {human_size(total)} filesystem"


def _statvfs(path: Path) -> os.statvfs_result | None:
    try:
        return os.statvfs(path)
    except (OSError, ValueError):
        return None


def _used(directory: Path) -> int:
    """Bytes of the files directly in ``directory`` (WAL segments; no recursion needed)."""
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
    except OSError:
        return 0
    return total


def _device(path: Path) -> int | None:
    try:
        return os.stat(path).st_dev
    except (OSError, ValueError):
        return None


def wal_disk(data_dir: Path | None) -> Disk:
    """The space pg_wal may fill: its own filesystem's size, or, on the data's filesystem, the
    free space plus the WAL already in pg_wal."""
    if data_dir is None:
        return NO_DATA_DIR
    wal = data_dir / "pg_wal"
    target = Path(os.path.realpath(wal)) if os.path.exists(wal) else existing_parent(data_dir)
    st = _statvfs(target)
    if st is None:
        return Disk(None, f"not measured: cannot statvfs {target}")
    data_dev, wal_dev = _device(existing_parent(data_dir)), _device(target)
    if os.path.exists(wal) and data_dev is not None and wal_dev != data_dev:
        size = st.f_blocks * st.f_frsize
        return Disk(size, f"statvfs: {target} is its own filesystem ({human_size(size)})")
    total = st.f_blocks * st.f_frsize
    free = free_bucket(st.f_bavail * st.f_frsize)
    if not os.path.exists(wal):
        size, why = _shared(total, free, f"the {human_size(free)} free")
        return Disk(
            size,
            f"statvfs: {why} under {target} (no pg_wal yet; the data's too)",
            shared_with_data=True,
        )
    held = _used(target)
    size, why = _shared(
        total,
        free_bucket(free + held),
        f"the {human_size(free)} free + {human_size(held)} of WAL already there",
    )
    return Disk(
        size, f"statvfs: {target} shares the data's filesystem: {why}", shared_with_data=True
    )


def data_disk_free(data_dir: Path | None) -> Disk:
    """Free space on the data directory's filesystem, where temporary files go by default."""
    if data_dir is None:
        return NO_DATA_DIR
    target = existing_parent(data_dir)
    st = _statvfs(target)
    if st is None:
        return Disk(None, f"not measured: cannot statvfs {target}")
    free = free_bucket(st.f_bavail * st.f_frsize)
    size, why = _shared(st.f_blocks * st.f_frsize, free, f"the {human_size(free)} free")
    return Disk(size, f"statvfs: {why} under {target}")
