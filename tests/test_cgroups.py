"""cgroup limit parsing, on fake /proc + /sys/fs/cgroup trees laid out like real ones."""

import shutil
from pathlib import Path

import pytest

from pgtune.tuning import cgroups
from pgtune.tuning.cgroups import CgroupLimit, cpu_limit, memory_limit, read_limits

# Copied from the build machine: cgroup v1 with the v2 tree at /sys/fs/cgroup/unified (hybrid).
HYBRID = Path(__file__).parent / "data" / "sysfs" / "cgroup-v1-hybrid"
HYBRID_ID = "e02687938a533b307912d08d9694f7a6"
HYBRID_MEMORY = f"sys/fs/cgroup/memory/process_api/{HYBRID_ID}"
GIB = 1 << 30
V2_SCOPE = "user.slice/user-1000.slice/session-3.scope"


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def hybrid(tmp_path: Path) -> Path:
    """A writable copy of the build machine's cgroup v1 hybrid layout."""
    root = tmp_path / "root"
    shutil.copytree(HYBRID, root)
    return root


@pytest.fixture
def v2(tmp_path: Path) -> Path:
    """A pure cgroup v2 host (systemd), the process in a login session scope, no limits set."""
    root = tmp_path / "root"
    write(root, "proc/self/cgroup", f"0::/{V2_SCOPE}\n")
    write(root, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n")
    cgroup = "sys/fs/cgroup"
    for part in V2_SCOPE.split("/"):
        cgroup += "/" + part
        write(root, f"{cgroup}/memory.max", "max\n")
        write(root, f"{cgroup}/cpu.max", "max 100000\n")
    return root


# --- /proc/self/cgroup


def test_parse_proc_cgroup_of_the_build_machine() -> None:
    membership = cgroups.parse_proc_cgroup((HYBRID / "proc/self/cgroup").read_text())
    assert membership.v1["memory"] == f"/process_api/{HYBRID_ID}"
    assert membership.v1["cpu"] == "/"
    assert membership.v1["name=systemd"] == "/"
    assert membership.v2 == "/"


def test_parse_proc_cgroup_skips_garbage_lines() -> None:
    text = "garbage\n\n7:memory\n5:cpu,cpuacct:/docker/abc\n0::/\x00\n0::/x\n"
    membership = cgroups.parse_proc_cgroup(text)
    assert membership.v1 == {"cpu": "/docker/abc", "cpuacct": "/docker/abc"}
    assert membership.v2 == "/x"


# --- cgroup v1


def test_v1_build_machine_is_unlimited() -> None:
    # memory.limit_in_bytes is 9223372036854771712 (v1's "no limit"), cfs_quota_us is -1.
    assert read_limits(HYBRID) == cgroups.CgroupLimits(memory=None, cpus=None, notes=())


def test_v2_mount_in_hybrid_mode_is_unified() -> None:
    assert cgroups.v2_mounts(HYBRID) == [HYBRID / "sys/fs/cgroup/unified"]


def test_v1_limited(hybrid: Path) -> None:
    write(hybrid, f"{HYBRID_MEMORY}/memory.limit_in_bytes", "4294967296\n")
    write(hybrid, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "150000\n")
    memory_file = f"/{HYBRID_MEMORY}/memory.limit_in_bytes"
    assert memory_limit(hybrid) == CgroupLimit(
        4 * GIB, f"cgroup v1 memory.limit_in_bytes ({memory_file})"
    )
    # 1.5 CPUs of quota rounds up to 2.
    assert cpu_limit(hybrid) == CgroupLimit(
        2, "cgroup v1 cpu.cfs_quota_us (/sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
    )


def test_v1_ancestor_limit_applies(hybrid: Path) -> None:
    write(hybrid, f"{HYBRID_MEMORY}/memory.limit_in_bytes", "4294967296\n")
    write(hybrid, "sys/fs/cgroup/memory/process_api/memory.limit_in_bytes", "2147483648\n")
    limit = memory_limit(hybrid)
    assert limit is not None
    assert limit.value == 2 * GIB
    assert "/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes" in limit.source


def test_v1_docker_namespaced_path_with_cpu_cpuacct(tmp_path: Path) -> None:
    # Docker without a cgroup namespace: /proc/self/cgroup shows the host path, but the
    # container's mounts show only its own cgroup at their roots.
    proc = "12:cpu,cpuacct:/docker/4f1c\n9:memory:/docker/4f1c\n1:name=systemd:/docker/4f1c\n"
    write(tmp_path, "proc/self/cgroup", proc)
    write(tmp_path, "sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "200000\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert memory_limit(tmp_path) == CgroupLimit(
        512 << 20, "cgroup v1 memory.limit_in_bytes (/sys/fs/cgroup/memory/memory.limit_in_bytes)"
    )
    cpus = cpu_limit(tmp_path)
    assert cpus is not None
    assert cpus.value == 2
    assert "/sys/fs/cgroup/cpu,cpuacct/" in cpus.source


# --- cgroup v2


def test_v2_unlimited(v2: Path) -> None:
    assert read_limits(v2) == cgroups.CgroupLimits(memory=None, cpus=None, notes=())


def test_v2_limited(v2: Path) -> None:
    write(v2, f"sys/fs/cgroup/{V2_SCOPE}/memory.max", "8589934592\n")
    write(v2, f"sys/fs/cgroup/{V2_SCOPE}/cpu.max", "50000 100000\n")
    assert memory_limit(v2) == CgroupLimit(
        8 * GIB, f"cgroup v2 memory.max (/sys/fs/cgroup/{V2_SCOPE}/memory.max)"
    )
    # Half a CPU still needs one whole CPU.
    assert cpu_limit(v2) == CgroupLimit(1, f"cgroup v2 cpu.max (/sys/fs/cgroup/{V2_SCOPE}/cpu.max)")


def test_v2_nested_ancestor_smaller(v2: Path) -> None:
    write(v2, f"sys/fs/cgroup/{V2_SCOPE}/memory.max", "8589934592\n")
    write(v2, "sys/fs/cgroup/user.slice/user-1000.slice/memory.max", "2147483648\n")
    write(v2, f"sys/fs/cgroup/{V2_SCOPE}/cpu.max", "400000 100000\n")
    write(v2, "sys/fs/cgroup/user.slice/cpu.max", "250000 100000\n")
    memory = memory_limit(v2)
    assert memory is not None
    assert memory.value == 2 * GIB
    assert "/sys/fs/cgroup/user.slice/user-1000.slice/memory.max" in memory.source
    assert cpu_limit(v2) == CgroupLimit(3, "cgroup v2 cpu.max (/sys/fs/cgroup/user.slice/cpu.max)")


def test_v2_namespaced_path_missing_under_mount(tmp_path: Path) -> None:
    # A Kubernetes pod with a private cgroup namespace but an old-style host path reported:
    # only the mount root (the pod's own cgroup) holds the limits.
    write(tmp_path, "proc/self/cgroup", "0::/kubepods/burstable/pod7d2e/c0ffee\n")
    write(tmp_path, "sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n")
    write(tmp_path, "sys/fs/cgroup/memory.max", "1073741824\n")
    write(tmp_path, "sys/fs/cgroup/cpu.max", "300000 100000\n")
    limits = read_limits(tmp_path)
    assert limits.memory == CgroupLimit(GIB, "cgroup v2 memory.max (/sys/fs/cgroup/memory.max)")
    assert limits.cpus == CgroupLimit(3, "cgroup v2 cpu.max (/sys/fs/cgroup/cpu.max)")


def test_hybrid_takes_the_smaller_of_v1_and_v2(hybrid: Path) -> None:
    write(hybrid, f"{HYBRID_MEMORY}/memory.limit_in_bytes", "4294967296\n")
    write(hybrid, "sys/fs/cgroup/unified/memory.max", "1073741824\n")
    limit = memory_limit(hybrid)
    assert limit is not None
    assert limit.value == GIB
    assert limit.source.startswith("cgroup v2 memory.max")


# --- no cgroups, garbage, unreadable files


def test_no_cgroup_filesystem(tmp_path: Path) -> None:
    assert read_limits(tmp_path) == cgroups.CgroupLimits(memory=None, cpus=None, notes=())


@pytest.mark.parametrize(
    ("relative", "garbage"),
    [
        (f"sys/fs/cgroup/{V2_SCOPE}/memory.max", "lots\n"),
        (f"sys/fs/cgroup/{V2_SCOPE}/memory.max", "-1\n"),
        (f"sys/fs/cgroup/{V2_SCOPE}/memory.max", ""),
        (f"sys/fs/cgroup/{V2_SCOPE}/cpu.max", "1 2 3\n"),
        (f"sys/fs/cgroup/{V2_SCOPE}/cpu.max", "0 100000\n"),
        (f"sys/fs/cgroup/{V2_SCOPE}/cpu.max", "100000 0\n"),
        (f"sys/fs/cgroup/{V2_SCOPE}/cpu.max", "\xff\xfe\n"),
    ],
)
def test_v2_garbage_is_noted_and_skipped(v2: Path, relative: str, garbage: str) -> None:
    write(v2, relative, garbage)
    limits = read_limits(v2)
    assert (limits.memory, limits.cpus) == (None, None)
    assert limits.notes == (f"ignored /{relative}: cannot parse {garbage.strip()!r}",)


def test_garbage_in_leaf_does_not_hide_ancestor_limit(v2: Path) -> None:
    write(v2, f"sys/fs/cgroup/{V2_SCOPE}/memory.max", "banana\n")
    write(v2, "sys/fs/cgroup/user.slice/memory.max", "1073741824\n")
    limits = read_limits(v2)
    assert limits.memory is not None
    assert limits.memory.value == GIB
    assert len(limits.notes) == 1


@pytest.mark.parametrize(
    ("relative", "garbage"),
    [
        (f"{HYBRID_MEMORY}/memory.limit_in_bytes", "unlimited\n"),
        (f"{HYBRID_MEMORY}/memory.limit_in_bytes", "0\n"),
        ("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "abc\n"),
        ("sys/fs/cgroup/cpu/cpu.cfs_period_us", "-100000\n"),
    ],
)
def test_v1_garbage_is_noted_and_skipped(hybrid: Path, relative: str, garbage: str) -> None:
    if "/cpu/" in relative:
        write(hybrid, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "150000\n")  # a real quota to spoil
    write(hybrid, relative, garbage)
    limits = read_limits(hybrid)
    assert (limits.memory, limits.cpus) == (None, None)
    assert len(limits.notes) == 1
    assert "cannot parse" in limits.notes[0]


def test_binary_proc_cgroup(tmp_path: Path) -> None:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_bytes(b"\x00\xff\xfe:::\n\x89PNG")
    assert read_limits(tmp_path) == cgroups.CgroupLimits(memory=None, cpus=None, notes=())


def test_unreadable_proc_cgroup_is_noted(tmp_path: Path) -> None:
    (tmp_path / "proc/self/cgroup").mkdir(parents=True)  # reading a directory fails
    limits = read_limits(tmp_path)
    assert (limits.memory, limits.cpus) == (None, None)
    assert len(limits.notes) == 1  # read twice, reported once
    assert limits.notes[0].startswith("could not read /proc/self/cgroup")


def test_cgroup_dirs_never_leave_the_mount(tmp_path: Path) -> None:
    (tmp_path / "mount/a/b").mkdir(parents=True)
    mount = tmp_path / "mount"
    assert list(cgroups.cgroup_dirs(mount, "/a/b")) == [mount / "a/b", mount / "a", mount]
    assert list(cgroups.cgroup_dirs(mount, "/a/missing/c")) == [mount / "a", mount]
    assert list(cgroups.cgroup_dirs(mount, "/../../etc")) == [mount]
