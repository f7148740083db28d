"""Classify the block device under a directory as hdd, ssd or nvme, from sysfs.

The path → device lookup is injectable and sysfs is read under ``root``, so tests can run on
a fake tree. Nothing here raises: when the device cannot be found or read, the answer is an
"ssd" assumption that says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # hardware.py imports this module; the type is only needed by mypy
    from pgtune.tuning.hardware import StorageClass

# (major, minor) of the device holding a path.
DeviceLookup = Callable[[Path], tuple[int, int]]

VIRTUAL_HINT = "override with --storage hdd if it really is backed by spinning disks"
ASSUMED_HINT = "override with --storage hdd|ssd|nvme if that is wrong"
# device/vendor and device/model words that give away a hypervisor's or cloud's emulated disk
# (GCE persistent disks, for one, claim to rotate). 0x1af4 is the PCI vendor id of virtio.
VIRTUAL_VENDORS = (
    "qemu",
    "vmware",
    "msft",
    "vbox",
    "virtual",
    "xen",
    "red hat",
    "google",
    "0x1af4",
)
VIRTUAL_NAME_PREFIXES = ("vd", "xvd")
# RAM- or file-backed devices whose rotational flag says nothing about the real storage.
UNCLASSIFIABLE_PREFIXES = ("zram", "ram", "loop", "nbd")
# Slowest first: a device stacked over several disks is only as fast as the slowest.
SPEED_ORDER: tuple[StorageClass, ...] = ("hdd", "ssd", "nvme")
MAX_STACK_DEPTH = 8


@dataclass(frozen=True)
class StorageInfo:
    storage: StorageClass
    source: str
    notes: tuple[str, ...] = ()


class _Unknown(Exception):
    """The storage class cannot be determined; the message says why."""


def device_of(path: Path) -> tuple[int, int]:
    """(major, minor) of the filesystem holding ``path`` (raises OSError)."""
    dev = os.stat(path).st_dev
    return os.major(dev), os.minor(dev)


def existing_parent(path: Path) -> Path:
    """``path`` itself, or its nearest ancestor that exists (a data dir may not exist yet)."""
    path = path.absolute()
    for candidate in (path, *path.parents):
        if os.path.exists(candidate):  # unlike Path.exists, never raises (e.g. EACCES)
            return candidate
    return Path(path.anchor)


def storage_class(
    path: Path, *, root: Path = Path("/"), lookup: DeviceLookup = device_of
) -> StorageInfo:
    """Storage class of the block device holding ``path`` (or its nearest existing parent)."""
    try:
        major, minor = lookup(existing_parent(path))
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return assumed(f"cannot stat {path}: {why}")
    return classify_device(root, major, minor)


def classify_device(root: Path, major: int, minor: int) -> StorageInfo:
    """Storage class of device ``major:minor`` as described by ``<root>/sys`` and ``/proc``."""
    try:
        return _classify(_device_dir(root, major, minor), depth=0)
    except (_Unknown, OSError) as exc:
        return assumed(str(exc))


def assumed(reason: str) -> StorageInfo:
    """The fallback answer: most servers today are on SSDs, and the guess is visible."""
    note = f"Storage class unknown ({reason}); assumed ssd, {ASSUMED_HINT}."
    return StorageInfo("ssd", source=f"assumed ssd: {reason}", notes=(note,))


def _device_dir(root: Path, major: int, minor: int) -> Path:
    """The sysfs directory of the device, through the mount table when st_dev is not one."""
    link = root / "sys/dev/block" / f"{major}:{minor}"
    if link.exists():
        return Path(os.path.realpath(link))
    # btrfs (and other multi-device filesystems) report an anonymous 0:N st_dev; the mount
    # table still names the real device.
    try:
        fstype, source = mount_of(root, major, minor)
    except LookupError as exc:
        raise _Unknown(str(exc)) from None
    if not source.startswith("/dev/"):
        raise _Unknown(f"{fstype} filesystem {source!r} is not on a block device")
    name = Path(os.path.realpath(root / source.lstrip("/"))).name  # /dev/mapper/x -> dm-N
    link = root / "sys/class/block" / name
    if not link.exists():
        raise _Unknown(f"no sysfs entry for {source} ({fstype})")
    return Path(os.path.realpath(link))


def mount_of(root: Path, major: int, minor: int) -> tuple[str, str]:
    """(fstype, source) of the mount whose st_dev is ``major:minor``, from mountinfo (raises
    LookupError when no mount has it)."""
    wanted = f"{major}:{minor}"
    for line in _read(root / "proc/self/mountinfo").splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) > 2 and fields[2] == wanted and len(tail) > 1:
            return tail[0], tail[1]
    raise LookupError(f"no block device {wanted} in sysfs")


def _classify(device: Path, depth: int) -> StorageInfo:
    """Classify a device directory, following partitions and stacked devices to real disks."""
    if (device / "partition").is_file():
        device = device.parent  # sysfs nests a partition inside its disk
    name = device.name
    if name.startswith(UNCLASSIFIABLE_PREFIXES):
        raise _Unknown(f"{name} is a RAM- or file-backed device")
    slaves = _slaves(device)
    if slaves:
        return _classify_stack(name, slaves, depth)
    if name.startswith("nvme"):
        return StorageInfo("nvme", source=f"sysfs: {name} is an NVMe device")
    return _classify_rotational(device)


def _classify_rotational(device: Path) -> StorageInfo:
    name = device.name
    flag = _read(device / "queue/rotational")
    source = f"sysfs /sys/block/{name}/queue/rotational = {flag}"
    if flag == "0":
        return StorageInfo("ssd", source=source)
    if flag != "1":
        raise _Unknown(f"cannot read the rotational flag of {name}")
    if _is_virtual(device):
        # virtio and Xen disks report rotational = 1 whatever backs them, and cloud volumes
        # (EBS gp3, GCE pd-balanced, Azure managed disks) are SSD-backed: hdd costs
        # (random_page_cost 4, effective_io_concurrency 2) would steer plans away from indexes.
        note = (
            f"{name} is a virtual disk that claims to rotate (virtual disks always do); "
            f"assumed ssd, as cloud volumes are; {VIRTUAL_HINT}."
        )
        return StorageInfo("ssd", source=f"{source} (virtual disk: assumed ssd)", notes=(note,))
    return StorageInfo("hdd", source=source)


def _classify_stack(name: str, slaves: list[Path], depth: int) -> StorageInfo:
    """A device-mapper or md device: as slow as its slowest underlying device."""
    if depth >= MAX_STACK_DEPTH:
        raise _Unknown(f"{name} is stacked too deeply")
    parts = [_classify(slave, depth + 1) for slave in slaves]
    slowest = min(parts, key=lambda part: SPEED_ORDER.index(part.storage))
    notes = tuple(dict.fromkeys(note for part in parts for note in part.notes))
    return StorageInfo(slowest.storage, source=f"{slowest.source} (under {name})", notes=notes)


def _slaves(device: Path) -> list[Path]:
    """The devices under a dm-*/md* device (empty for a plain disk)."""
    try:
        entries = sorted((device / "slaves").iterdir())
    except OSError:
        return []
    return [Path(os.path.realpath(entry)) for entry in entries]


def _is_virtual(device: Path) -> bool:
    if device.name.startswith(VIRTUAL_NAME_PREFIXES):
        return True
    # virtio-blk and virtio-scsi disks hang below a virtioN bus device.
    real = os.path.realpath(device / "device")
    if "/virtio" in real or _read(device / "device/modalias").startswith("virtio:"):
        return True
    words = f"{_read(device / 'device/vendor')} {_read(device / 'device/model')}".lower()
    return any(vendor in words for vendor in VIRTUAL_VENDORS)


def _read(path: Path) -> str:
    """Stripped contents, or "" when the file is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
