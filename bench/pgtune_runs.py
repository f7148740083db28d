"""A fresh ``pgtune`` process against a cluster, measured (roles_plan, audit_scale): wall time,
the child's CPU and peak RSS, the server's and the others' CPU meanwhile; and, for ``--profile``,
its phases in one process and a cProfile summary."""

from __future__ import annotations

import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import REPO, BenchError, Load, LoadMeter, child_env

if TYPE_CHECKING:
    from pgcluster import Cluster

GNU_TIME = Path("/usr/bin/time")


@dataclass(frozen=True)
class Timed:
    returncode: int
    wall_ms: float
    cpu_ms: float  # the child, user + system (GNU time's own CPU is negligible)
    rss_mb: float  # GNU time's %M, 10^6 bytes; NaN when not measured
    stdout_bytes: int
    stderr: str
    load: Load | None


def run_timed(cluster: Cluster, argv: list[str]) -> Timed:
    """One process: wall, CPU and peak RSS of exactly that child.

    The peak RSS comes from GNU time (``%M``), which forks the child from its own small
    process. ``ru_maxrss`` from our own ``wait4`` would not do: Python starts children with
    vfork, and Linux carries the parent's high-water RSS into the child's ``ru_maxrss`` at exec
    (``python -c pass`` started by a 300 MB parent reports 300 MB).
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", prefix="pgtune-bench-") as rss_file,
    ):
        if GNU_TIME.is_file():
            argv = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *argv]
        meter = LoadMeter(cluster)
        start = time.perf_counter_ns()
        proc = subprocess.Popen(
            argv, cwd=REPO, env=child_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter_ns() - start) / 1e6
        load = meter.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout_bytes = len(out.read())
        stderr = err.read().decode(errors="replace")
        rss_text = rss_file.read().strip().splitlines()
    try:
        rss_mb = int(rss_text[-1]) * 1024 / 1e6  # KiB
    except (IndexError, ValueError):
        rss_mb = float("nan")  # no GNU time: not measured
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    return Timed(proc.returncode, wall, cpu_ms, rss_mb, stdout_bytes, stderr, load)


# --------------------------------------------------------------------------- profiling

# The start of a script run in a fresh interpreter that times phases one by one: mark() after
# each records its CPU seconds, the cyclic garbage collector's time within it (gc.callbacks)
# and the peak RSS so far (VmHWM: ru_maxrss would include ours, see run_timed); the script
# prints {"phases": out, ...} as JSON.
PHASE_TIMER = """\
import gc, json, sys, time
gc_s, started = [0.0], [0.0]
def on_gc(phase, info):
    if phase == "start":
        started[0] = time.process_time()
    else:
        gc_s[0] += time.process_time() - started[0]
gc.callbacks.append(on_gc)
out = []
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")
def mark(name, t0, g0):
    out.append([name, time.process_time() - t0, gc_s[0] - g0, hwm()])
    return time.process_time(), gc_s[0]
"""


def run_python(*args: str, what: str) -> str:
    """``python -P args`` (``-P``: the pgtune on PYTHONPATH, e.g. a snapshot under test, not the
    repository's); its stdout."""
    proc = subprocess.run(
        [sys.executable, "-P", *args],
        cwd=REPO,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"{what} exited {proc.returncode}: {proc.stderr}")
    return proc.stdout


def phases(code: str, *args: str) -> tuple[dict[str, Any], list[str]]:
    """Run a PHASE_TIMER script: its JSON, and the phases as table lines."""
    data: dict[str, Any] = json.loads(run_python("-c", code, *args, what="phase run"))
    lines = [f"  {'phase':<12} {'CPU s':>6} {'of it GC':>8} {'peak RSS':>9}"]
    total = gc_total = 0.0
    for name, cpu, gc_s, rss in data["phases"]:
        total += cpu
        gc_total += gc_s
        lines.append(f"  {name:<12} {cpu:6.2f} {gc_s:8.2f} {rss:6.0f} MB")
    share = 100 * gc_total / total if total else 0.0
    lines.append(f"  {'total':<12} {total:6.2f} {gc_total:8.2f}  (cyclic GC {share:.0f} %)")
    return data, lines


def profile_text(args: list[str], what: str, top: int) -> str:
    """``python -P args``, in which the word ``{prof}`` stands for the profile file it writes;
    the heaviest functions of that profile, own and cumulative, each list titled ``what``."""
    with tempfile.TemporaryDirectory(prefix="pgtune-bench-") as tmp:
        prof = str(Path(tmp) / "run.prof")
        run_python(*(prof if a == "{prof}" else a for a in args), what="profiled run")
        lines: list[str] = []
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(prof, stream=text)
            stats.strip_dirs().sort_stats(order).print_stats(top)
            body = text.getvalue().split("\n")
            start = next((i for i, ln in enumerate(body) if ln.strip().startswith("ncalls")), 0)
            lines.append(f"{what}, top {top} by {order} (under cProfile: slower than real):")
            lines += [f"  {ln}" for ln in body[start:] if ln.strip()]
        return "\n".join(lines)
