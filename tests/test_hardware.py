"""detect(): combining host figures, cgroup limits and storage, on this machine and fake trees."""

import os
from pathlib import Path

import psutil
import pytest

from pgtune.tuning.hardware import STORAGE_CLASSES, Hardware, detect, with_overrides
from pgtune.tuning.request import TuningRequest, detect_hardware
from pgtune.units import GB

GIB = 1 << 30


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def container_root(tmp_path: Path, memory_max: str, cpu_max: str) -> Path:
    """A cgroup v2 container (private namespace): limits at the mount root, no sysfs block."""
    root = tmp_path / "root"
    write(root, "proc/self/cgroup", "0::/\n")
    write(root, "sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n")
    write(root, "sys/fs/cgroup/memory.max", memory_max)
    write(root, "sys/fs/cgroup/cpu.max", cpu_max)
    return root


def test_detect_on_this_machine() -> None:
    hw = detect()
    assert hw.memory_bytes > 0
    assert hw.cpus >= 1
    assert hw.storage in STORAGE_CLASSES
    assert hw.memory_source
    assert hw.cpus_source
    assert hw.storage_source
    assert "current directory" in hw.storage_source


def test_detect_applies_cgroup_limits(tmp_path: Path) -> None:
    root = container_root(tmp_path, "1073741824\n", "100000 100000\n")
    hw = detect(tmp_path / "pgdata", root=root)
    assert hw.memory_bytes == min(GIB, psutil.virtual_memory().total)
    assert hw.cpus == 1
    assert hw.memory_source == "cgroup v2 memory.max (/sys/fs/cgroup/memory.max)"
    assert hw.cpus_source == "cgroup v2 cpu.max (/sys/fs/cgroup/cpu.max)"


def test_detect_without_limits_uses_host_figures(tmp_path: Path) -> None:
    root = container_root(tmp_path, "max\n", "max 100000\n")
    hw = detect(tmp_path, root=root)
    assert hw.memory_bytes == psutil.virtual_memory().total
    assert hw.memory_source == "psutil: host RAM"
    assert hw.cpus == min(len(os.sched_getaffinity(0)), os.cpu_count() or 1)
    assert hw.cpus_source in ("sched_getaffinity", "os.cpu_count")


def test_detect_storage_assumption_is_noted(tmp_path: Path) -> None:
    # The fake root has no /sys/dev/block, as in a container without sysfs.
    hw = detect(tmp_path / "missing" / "pgdata", root=container_root(tmp_path, "max", "max 1"))
    assert hw.storage == "ssd"
    assert hw.storage_source.startswith("assumed ssd")
    assert hw.storage_source.endswith(f"for {tmp_path / 'missing' / 'pgdata'}")
    assert any("--storage" in note for note in hw.notes)


def test_detect_survives_garbage(tmp_path: Path) -> None:
    root = container_root(tmp_path, "\x00\x01 lots\n", "half 100000\n")
    hw = detect(tmp_path, root=root)
    assert hw.memory_source == "psutil: host RAM"
    assert hw.cpus >= 1
    assert sum("cannot parse" in note for note in hw.notes) == 2


def test_detect_with_empty_root(tmp_path: Path) -> None:
    hw = detect(tmp_path, root=tmp_path)
    assert hw.memory_bytes > 0
    assert hw.cpus >= 1


def test_detect_in_a_deleted_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    hw = detect(root=tmp_path)
    assert hw.storage == "ssd"
    assert "current directory is gone" in hw.storage_source


def test_overrides_replace_detected_values() -> None:
    hw = Hardware(GIB, 2, "hdd", "psutil: host RAM", "sched_getaffinity", "sysfs")
    hw = with_overrides(hw, memory=4 * GIB, storage="ssd")
    assert (hw.memory_bytes, hw.memory_source) == (4 * GIB, "--memory")
    assert (hw.cpus, hw.cpus_source) == (2, "sched_getaffinity")
    assert (hw.storage, hw.storage_source) == ("ssd", "--storage")


def _data_dir(tmp_path: Path) -> Path:
    """A data directory's layout: two databases under base/, plus what is not data."""
    for rel, nbytes in [
        ("base/1/1259", 8192),
        ("base/16384/16385", 3 * 8192),
        ("base/16384/16385_fsm", 100),
        ("global/1262", 50_000),  # cluster-wide catalogs: not the databases
        ("pg_wal/000000010000000000000001", 70_000),
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * nbytes)
    return tmp_path


def test_the_databases_are_measured_under_base(tmp_path: Path) -> None:
    hw = detect(_data_dir(tmp_path), root=tmp_path / "no-proc")
    assert hw.database_bytes == 8192 + 3 * 8192 + 100
    assert hw.database_source == f"measured under {tmp_path / 'base'}"


def test_no_data_dir_or_not_a_data_dir_leaves_the_size_unknown(tmp_path: Path) -> None:
    assert detect(None, root=tmp_path).database_bytes is None
    hw = detect(tmp_path, root=tmp_path)  # an empty directory: no base/
    assert hw.database_bytes is None
    assert any("no base/ directory" in note for note in hw.notes)


def test_data_size_flag_wins_over_the_measurement(tmp_path: Path) -> None:
    hw = detect_hardware(TuningRequest(data_dir=_data_dir(tmp_path), data_size="40GB"))
    assert (hw.database_bytes, hw.database_source) == (40 * GB, "--data-size")
