"""WAL sized to the disk that holds pg_wal: detection (the pg_wal symlink, statvfs), the sizing
rules, and a real server whose pg_wal sits on a 256 MB filesystem surviving a WAL flood."""

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcluster import Cluster
from pgtune.errors import UsageError
from pgtune.tuning import disks
from pgtune.tuning.hardware import detect
from pgtune.tuning.recommend import recommend
from pgtune.tuning.render import render_conf
from pgtune.tuning.request import TuningRequest, detect_hardware
from pgtune.tuning.server import detect_build
from pgtune.tuning.sizing.wal import WAL_DISK_SHARE, WAL_DISK_SLOT_SHARE
from pgtune.units import GB, MB, TB, parse_size
from tuning_helpers import make, make_context


def size(rec, name: str) -> int:  # type: ignore[no-untyped-def]
    return parse_size(rec.get(name).value)


def test_pg_wal_symlink_is_followed_and_a_shared_filesystem_counts_free_space(
    tmp_path: Path,
) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "wal"
    data.mkdir()
    elsewhere.mkdir()
    (elsewhere / "000000010000000000000001").write_bytes(b"\0" * 4096)
    (data / "pg_wal").symlink_to(elsewhere)
    found = disks.wal_disk(data)
    st_ = os.statvfs(elsewhere)
    # same filesystem as the data: the free space plus the WAL already there
    assert found.shared_with_data
    assert str(elsewhere) in found.source
    # the free space plus the WAL (rounded down to 1/8 of its power of two), at most a quarter
    # of the filesystem, so re-runs do not flap with every write
    measured = st_.f_bavail * st_.f_frsize + 4096
    quarter = st_.f_blocks * st_.f_frsize // 4
    assert found.bytes is not None
    assert found.bytes == quarter or 0.87 * measured <= found.bytes <= measured + 64 * MB
    assert found.bytes <= quarter


class _Fs:
    def __init__(self, total: int, avail: int) -> None:
        self.f_frsize, self.f_blocks, self.f_bavail = 4096, total // 4096, avail // 4096


@pytest.mark.parametrize("avail_gb", [79.0, 80.5, 81.7, 95.0])
def test_a_shared_filesystem_with_room_gives_the_same_size_whatever_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, avail_gb: float
) -> None:
    """Free space moves with every write (79 GB here one run, 80.5 the next): on a filesystem
    with room, the size is a quarter of the filesystem, which does not move (Ansible re-runs
    stay idempotent); free space decides only when it is the tighter bound."""
    (tmp_path / "pg_wal").mkdir()
    monkeypatch.setattr(disks, "_statvfs", lambda p: _Fs(252 * GB, int(avail_gb * GB)))
    assert disks.wal_disk(tmp_path).bytes == 63 * GB
    assert disks.data_disk_free(tmp_path).bytes == 63 * GB


def test_a_nearly_full_shared_filesystem_is_bounded_by_its_free_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pg_wal").mkdir()
    monkeypatch.setattr(disks, "_statvfs", lambda p: _Fs(252 * GB, 3 * GB))
    found = disks.wal_disk(tmp_path)
    assert found.bytes == disks.free_bucket(3 * GB) and "less than a quarter" in found.source


def test_pg_wal_on_its_own_filesystem_counts_the_whole_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "wal"
    data.mkdir()
    elsewhere.mkdir()
    (data / "pg_wal").symlink_to(elsewhere)
    real_device = disks._device
    monkeypatch.setattr(
        disks, "_device", lambda p: 12345 if Path(p) == elsewhere else real_device(p)
    )
    found = disks.wal_disk(data)
    st_ = os.statvfs(elsewhere)
    assert not found.shared_with_data
    assert found.bytes == st_.f_blocks * st_.f_frsize
    assert "its own filesystem" in found.source


def test_without_a_data_dir_the_disk_is_unknown_and_the_note_says_what_was_assumed() -> None:
    assert disks.wal_disk(None).bytes is None
    rec = make(64 * GB, 16, "nvme", "dw", 17)
    assert size(rec, "max_wal_size") == 128 * GB
    note = next(n for n in rec.notes if "pg_wal's filesystem was not measured" in n)
    assert "max_wal_size 128GB assumes it holds at least 213.3 GB" in note
    assert rec.get("max_slot_wal_keep_size").value == "-1"
    assert "forgotten replication slot" in rec.get("max_slot_wal_keep_size").reason
    assert rec.get("temp_file_limit").value == "-1"


def test_a_2gb_pg_wal_disk_bounds_the_64gb_dw_host() -> None:
    rec = make(64 * GB, 16, "nvme", "dw", 17, wal_disk=2 * GB)
    high, low = size(rec, "max_wal_size"), size(rec, "min_wal_size")
    assert high == 1216 * MB  # 60% of 2 GB, rounded down to 64MB steps
    assert low <= high // 4
    assert "60% of the 2 GB pg_wal may fill" in rec.get("max_wal_size").reason
    keep = size(rec, "max_slot_wal_keep_size")
    assert high + keep <= 0.9 * 2 * GB
    assert not any("pg_wal's filesystem was not measured" in n for n in rec.notes)


def test_a_big_disk_keeps_the_profile_value_and_says_it_fits() -> None:
    rec = make(64 * GB, 16, "nvme", "dw", 17, wal_disk=2 * TB)
    assert size(rec, "max_wal_size") == 128 * GB
    assert "within 60% of the 2 TB" in rec.get("max_wal_size").reason


def test_temp_file_limit_bounds_one_query_with_its_workers() -> None:
    rec = make(64 * GB, 16, "nvme", "dw", 17, temp_disk=500 * GB)
    per_gather = int(rec.get("max_parallel_workers_per_gather").value)
    limit = size(rec, "temp_file_limit")
    assert (1 + per_gather) * limit <= 0.2 * 500 * GB
    assert limit >= 10 * GB  # big sorts of a dw query still fit


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=128 * MB, max_value=64 * TB),
    st.integers(min_value=1 * GB, max_value=1024 * GB),
    st.sampled_from(["web", "oltp", "dw", "mixed", "desktop"]),
    st.sampled_from([13, 15, 18]),
)
def test_wal_never_exceeds_its_share_of_the_disk(
    disk: int, memory: int, workload: str, major: int
) -> None:
    rec = make(memory, 8, "ssd", workload, major, wal_disk=disk)
    high, low = size(rec, "max_wal_size"), size(rec, "min_wal_size")
    keep = size(rec, "max_slot_wal_keep_size")
    assert high <= max(WAL_DISK_SHARE * disk, 32 * MB)
    assert 32 * MB <= low < high and low <= max(high // 4, 32 * MB)
    assert high + keep <= max(WAL_DISK_SLOT_SHARE * disk, high + 16 * MB)


def test_wal_disk_size_flag_overrides_detection_and_is_checked(tmp_path: Path) -> None:
    hw = detect_hardware(TuningRequest(data_dir=tmp_path, wal_disk_size="20GB"))
    assert hw.wal_disk_bytes == 20 * GB and hw.wal_disk_source == "--wal-disk-size"
    with pytest.raises(UsageError, match="too small"):
        detect_hardware(TuningRequest(wal_disk_size="10MB"))


@pytest.fixture
def small_wal_filesystem(pg_cluster_factory):  # type: ignore[no-untyped-def]
    """A PostgreSQL 15/18 cluster whose pg_wal is a symlink to a 256 MB tmpfs."""
    created: list[tuple[Cluster, Path]] = []

    def make_cluster(major: int) -> Cluster:
        if os.geteuid() != 0:
            pytest.skip("mounting a small filesystem for pg_wal needs root (.ci/run is root)")
        cluster: Cluster = pg_cluster_factory(major)
        mount = cluster.base_dir / "walfs"
        mount.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount)], check=True)
        created.append((cluster, mount))
        cluster.user.chown(mount)
        wal = cluster.data_dir / "pg_wal"
        subprocess.run(["cp", "-a", f"{wal}/.", str(mount)], check=True)
        subprocess.run(["rm", "-rf", str(wal)], check=True)
        wal.symlink_to(mount)
        return cluster

    yield make_cluster
    for cluster, mount in created:
        cluster.stop() if cluster.is_running() else None
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.pg
@pytest.mark.parametrize("major", (15, 18))
def test_server_with_pg_wal_on_a_small_disk_survives_a_wal_flood(
    small_wal_filesystem, major: int
) -> None:  # type: ignore[no-untyped-def]
    cluster = small_wal_filesystem(major)
    hw = detect(cluster.data_dir)
    assert hw.wal_disk_bytes == 256 * MB, hw.wal_disk_source
    assert "own filesystem" in hw.wal_disk_source
    ctx = make_context(
        2 * GB, 2, "ssd", "oltp", major, detect_build(major, cluster.binaries.exe("pg_config"))
    )
    ctx = replace(
        ctx,
        hardware=replace(
            ctx.hardware, wal_disk_bytes=hw.wal_disk_bytes, wal_disk_source=hw.wal_disk_source
        ),
    )
    rec = recommend(ctx)
    assert size(rec, "max_wal_size") <= 0.6 * 256 * MB
    cluster.write_conf(render_conf(rec), mode="include")
    cluster.start()
    rows = cluster.settings(["max_wal_size", "min_wal_size", "max_slot_wal_keep_size"])
    for name, row in rows.items():
        assert row.setting == rec.get(name).setting, name
    # ~700 MB of WAL, almost three times the filesystem: checkpoints must keep pg_wal small.
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE flood (id int, pad text)")
        peak = 0
        for _ in range(7):
            conn.execute(
                "INSERT INTO flood SELECT g, repeat('x', 900) FROM generate_series(1, 100000) g"
            )
            row = conn.execute("SELECT sum(size)::bigint FROM pg_ls_waldir()").fetchone()
            assert row is not None
            peak = max(peak, int(row[0]))
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert peak < 256 * MB
