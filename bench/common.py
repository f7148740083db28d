"""What the cluster benchmarks (roles_plan, audit_scale) share: the machine and commit they
ran on, how pgtune is started, and the CPU accounting that tells a quiet run from a noisy one
(others' CPU from /proc/stat, our own and the server's from the process table)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from pgcluster import Cluster

REPO = Path(__file__).resolve().parents[1]
# Start-up instrumentation that would distort a measured pgtune process.
_STARTUP_ENV = ("PYTHONPROFILEIMPORTTIME", "PYTHONDEVMODE", "PYTHONTRACEMALLOC", "PYTHONINSPECT")


# --------------------------------------------------------------------------- environment


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    core_text = f"{cores} cores" + (f" ({usable} usable)" if usable != cores else "")
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f", {int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    py = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{model}, {core_text}{ram}, {py}"


def git_commit() -> str:
    """Short HEAD, with ``-dirty`` when the package has uncommitted changes; or
    ``$PGTUNE_BENCH_COMMIT``, set when the pgtune measured is a snapshot of that commit (e.g.
    ``git archive`` on ``PYTHONPATH``, while others edit the working tree)."""
    pinned = os.environ.get("PGTUNE_BENCH_COMMIT")
    if pinned:
        return pinned

    def git(*args: str) -> str:
        return subprocess.run(
            ("git", *args), cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "pgtune", "profiles", "templates")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _STARTUP_ENV}


def pgtune_argv() -> list[str]:
    """The ``pgtune`` console script next to this interpreter, else ``python -m pgtune``."""
    script = Path(sys.executable).parent / "pgtune"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "pgtune"]


# --------------------------------------------------------------------------- CPU accounting


@dataclass(frozen=True)
class CpuStat:
    """/proc/stat "cpu" line, in seconds."""

    busy: float  # user + nice + system + irq + softirq (guest time is inside user/nice)
    steal: float
    total: float  # busy + steal + idle + iowait


def read_cpu_stat() -> CpuStat | None:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    busy = user + nice + system + irq + softirq
    return CpuStat(busy=busy / hz, steal=steal / hz, total=(busy + steal + idle + iowait) / hz)


def own_cpu() -> float:
    """CPU seconds of this process and of its reaped children (the pgtune runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def server_cpu(cluster: Cluster) -> float:
    """CPU seconds of the postmaster, its reaped children (the backends that served the run)
    and its live children; 0 when the server is not running."""
    pid = cluster.postmaster_pid()
    if pid is None:
        return 0.0
    try:
        postmaster = psutil.Process(pid)
        children = postmaster.children()
        t = postmaster.cpu_times()
    except psutil.Error:
        return 0.0
    total = t.user + t.system + t.children_user + t.children_system
    for child in children:
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
    return total


@dataclass(frozen=True)
class Load:
    """CPU over an interval: seconds, and others' share of the whole machine."""

    total_s: float  # machine seconds (cores x wall)
    others_s: float  # other processes and steal (other VMs)
    server_s: float
    ours_s: float

    @property
    def others_pct(self) -> float:
        return 100 * self.others_s / self.total_s if self.total_s > 0 else 0.0


class LoadMeter:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stat = read_cpu_stat()
        self.own = own_cpu()
        self.server = server_cpu(cluster)

    def stop(self) -> Load | None:
        end, own, server = read_cpu_stat(), own_cpu(), server_cpu(self.cluster)
        if self.stat is None or end is None or end.total <= self.stat.total:
            return None
        ours, srv = own - self.own, max(0.0, server - self.server)
        others = max(0.0, end.busy - self.stat.busy - ours - srv) + (end.steal - self.stat.steal)
        return Load(end.total - self.stat.total, others, srv, ours)


def combined(loads: Sequence[Load]) -> Load | None:
    if not loads:
        return None
    return Load(
        sum(x.total_s for x in loads),
        sum(x.others_s for x in loads),
        sum(x.server_s for x in loads),
        sum(x.ours_s for x in loads),
    )


def wait_for_quiet(cluster: Cluster, limit: float, max_wait: float, window: float = 2.0) -> float:
    """Wait (at most ``max_wait`` s) for a ``window`` in which other processes used at most
    ``limit`` % of the machine; returns the seconds waited."""
    start = time.monotonic()
    while True:
        if max_wait <= 0:
            return 0.0
        meter = LoadMeter(cluster)
        time.sleep(window)
        load = meter.stop()
        waited = time.monotonic() - start
        if load is None or load.others_pct <= limit or waited >= max_wait:
            return waited
