"""Storage classification from sysfs, on a fake tree laid out like a real /sys (see data/)."""

import os
import shutil
from pathlib import Path

import pytest

from pgtune.tuning.hardware import STORAGE_CLASSES, StorageClass
from pgtune.tuning.storage import (
    StorageInfo,
    classify_device,
    device_of,
    existing_parent,
    storage_class,
)

# Real sysfs layout: /sys/dev/block/MAJ:MIN symlinks into /sys/devices, partitions nested in
# their disk, dm/md devices with slaves/ links, plus /proc/self/mountinfo and /dev/mapper.
BLOCK = Path(__file__).parent / "data" / "sysfs" / "block"
SDB = "sys/devices/pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb"


@pytest.mark.parametrize(
    ("device", "expected", "source"),
    [
        ((259, 1), "nvme", "sysfs: nvme0n1 is an NVMe device"),  # partition → its disk
        ((259, 0), "nvme", "sysfs: nvme0n1 is an NVMe device"),
        ((8, 0), "ssd", "sysfs /sys/block/sda/queue/rotational = 0"),
        ((8, 1), "ssd", "sysfs /sys/block/sda/queue/rotational = 0"),
        ((8, 16), "hdd", "sysfs /sys/block/sdb/queue/rotational = 1"),
        ((252, 0), "ssd", "sysfs /sys/block/sda/queue/rotational = 0 (under dm-0)"),
        # RAID1 of an SSD and an HDD is as slow as the HDD.
        ((9, 0), "hdd", "sysfs /sys/block/sdb/queue/rotational = 1 (under md0)"),
    ],
)
def test_physical_devices(device: tuple[int, int], expected: StorageClass, source: str) -> None:
    assert classify_device(BLOCK, *device) == StorageInfo(expected, source)


@pytest.mark.parametrize(
    ("device", "name"),
    [((254, 0), "vda"), ((8, 32), "sdc")],  # virtio (this build machine), VMware SCSI
)
def test_virtual_disk_claiming_rotational_is_ssd_with_note(
    device: tuple[int, int], name: str
) -> None:
    info = classify_device(BLOCK, *device)
    assert info.storage == "ssd"
    assert info.source == (
        f"sysfs /sys/block/{name}/queue/rotational = 1 (virtual disk: assumed ssd)"
    )
    (note,) = info.notes
    assert f"{name} is a virtual disk that claims to rotate" in note
    assert "assumed ssd" in note
    assert "--storage hdd" in note


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        ((253, 0), "zram0 is a RAM- or file-backed device"),
        ((7, 0), "loop0 is a RAM- or file-backed device"),
        ((0, 50), "overlay filesystem 'overlay' is not on a block device"),
        ((0, 23), "tmpfs filesystem 'tmpfs' is not on a block device"),
        ((0, 51), "no sysfs entry for /dev/mapper/vg0-gone (btrfs)"),
        ((0, 99), "no block device 0:99 in sysfs"),
    ],
)
def test_unknown_is_an_ssd_assumption(device: tuple[int, int], reason: str) -> None:
    info = classify_device(BLOCK, *device)
    assert info.storage == "ssd"
    assert info.source == f"assumed ssd: {reason}"
    (note,) = info.notes
    assert "assumed ssd" in note
    assert "--storage" in note


def test_missing_sysfs_is_an_ssd_assumption(tmp_path: Path) -> None:
    info = classify_device(tmp_path, 8, 0)
    assert (info.storage, info.source) == ("ssd", "assumed ssd: no block device 8:0 in sysfs")


@pytest.mark.parametrize(
    ("device", "expected"),
    [((0, 26), "nvme"), ((0, 52), "ssd")],  # btrfs on nvme0n1p1; btrfs on /dev/mapper → dm-0
)
def test_btrfs_anonymous_device_found_through_mountinfo(
    device: tuple[int, int], expected: str
) -> None:
    assert classify_device(BLOCK, *device).storage == expected


@pytest.mark.parametrize("content", ["banana\n", "", None])
def test_garbage_rotational_flag(tmp_path: Path, content: str | None) -> None:
    root = tmp_path / "root"
    shutil.copytree(BLOCK, root, symlinks=True)
    flag = root / SDB / "queue/rotational"
    if content is None:
        flag.unlink()
    else:
        flag.write_text(content)
    info = classify_device(root, 8, 16)
    assert info.storage == "ssd"
    assert info.source == "assumed ssd: cannot read the rotational flag of sdb"


def test_storage_class_uses_nearest_existing_parent(tmp_path: Path) -> None:
    asked: list[Path] = []

    def lookup(path: Path) -> tuple[int, int]:
        asked.append(path)
        return (259, 1)

    info = storage_class(tmp_path / "pg" / "18" / "data", root=BLOCK, lookup=lookup)
    assert info.storage == "nvme"
    assert asked == [tmp_path]


def test_storage_class_when_stat_fails(tmp_path: Path) -> None:
    def lookup(path: Path) -> tuple[int, int]:
        raise PermissionError(13, "Permission denied")

    info = storage_class(tmp_path, root=BLOCK, lookup=lookup)
    reason = f"cannot stat {tmp_path}: Permission denied"
    assert (info.storage, info.source) == ("ssd", f"assumed ssd: {reason}")


def test_existing_parent(tmp_path: Path) -> None:
    assert existing_parent(tmp_path / "a" / "b") == tmp_path
    assert existing_parent(tmp_path) == tmp_path


def test_device_of_matches_stat(tmp_path: Path) -> None:
    dev = os.stat(tmp_path).st_dev
    assert device_of(tmp_path) == (os.major(dev), os.minor(dev))


def test_this_machine() -> None:
    info = storage_class(Path.cwd())
    assert info.storage in STORAGE_CLASSES
    assert info.source
