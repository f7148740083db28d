"""`--probe-io`: measure the data directory's disk instead of trusting sysfs.

A temporary file (128MB, random bytes, written with O_DIRECT in at most 1.5 seconds) under the
data directory is read back with O_DIRECT in random 8kB blocks, one at a time (queue depth 1:
the latency of one read that a query waits for), for at most 1.5 seconds or 4000 reads. The
file is unlinked as soon as it is opened, so nothing is left behind even if pgtune is killed.
Without O_DIRECT (some network filesystems), or on a filesystem in memory (tmpfs, which recent
kernels let open with O_DIRECT), the figures would say nothing about a disk: pgtune then says
it cannot probe and does not classify.

The classification is a pure function of the latencies (``classify``): a median of 2ms and more
is a seek (a spinning disk); up to 100us one read is served without a SATA/SAS controller in
the way (NVMe); between the two, ssd (SATA/SAS flash, and cloud block volumes, whose 0.3-1.5ms
come from the network, not a seek, and serve many reads at once).
"""

import contextlib
import errno
import math
import mmap
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pgtune.tuning.storage import existing_parent, mount_of
from pgtune.units import MB, human_size

StorageClass = Literal["hdd", "ssd", "nvme"]

PROBE_FILE = 128 * MB  # beyond a disk's own cache of recent writes (typically 64-256MB)
MIN_FILE = 64 * MB  # written in time at least this much, or no probe
BLOCK = 8 * 1024  # PostgreSQL's page
CHUNK = 4 * MB  # write unit
WRITE_SECONDS = 1.5  # the write phase stops here (a slow disk gets a smaller file)
READ_SECONDS = 1.5
READS_MAX = 4000
READS_MIN = 50  # fewer reads do not make a percentile
FREE_FACTOR = 4  # the filesystem must have 4x the file free: never fill a disk to probe it
HDD_MEDIAN_US = 2000.0  # a seek and a rotation: 7200 rpm disks take 4-15ms, SSDs under 1.5ms
NVME_MEDIAN_US = 100.0  # NVMe flash at QD1: 10-100us; SATA SSDs 100-300us
MEMORY_MEDIAN_US = 5.0  # no device answers this fast (Optane takes ~10us): a cache did
# Filesystems in memory: recent kernels accept O_DIRECT on tmpfs, but nothing reaches a disk.
MEMORY_FILESYSTEMS = ("tmpfs", "ramfs", "devtmpfs", "hugetlbfs", "shm")


@dataclass(frozen=True)
class Figures:
    reads: int
    seconds: float
    p50_us: float
    p90_us: float
    p99_us: float
    file_bytes: int

    def text(self) -> str:
        return (
            f"{self.reads} random 8kB O_DIRECT reads of a {human_size(self.file_bytes)} file in "
            f"{self.seconds:.1f} s: median {_us(self.p50_us)}, p90 {_us(self.p90_us)}, "
            f"p99 {_us(self.p99_us)}"
        )


@dataclass(frozen=True)
class ProbeResult:
    storage: StorageClass | None  # None: could not probe, or too few reads to classify
    figures: Figures | None
    source: str  # what was measured where, and the classification; or why not
    path: str
    verdict: str = ""  # the classification's reason alone

    def as_dict(self) -> dict[str, object]:
        f = self.figures
        return {
            "storage": self.storage,
            "path": self.path,
            "source": self.source,
            "reads": f.reads if f else None,
            "seconds": round(f.seconds, 3) if f else None,
            "file_bytes": f.file_bytes if f else None,
            "p50_us": round(f.p50_us, 1) if f else None,
            "p90_us": round(f.p90_us, 1) if f else None,
            "p99_us": round(f.p99_us, 1) if f else None,
        }


def _us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} us"


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.99)
    (2.0, 4.0)
    """
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def figures_of(latencies_us: list[float], seconds: float, file_bytes: int) -> Figures:
    values = sorted(latencies_us)
    return Figures(
        reads=len(values),
        seconds=seconds,
        p50_us=percentile(values, 0.50),
        p90_us=percentile(values, 0.90),
        p99_us=percentile(values, 0.99),
        file_bytes=file_bytes,
    )


def classify(latencies_us: list[float]) -> tuple[StorageClass | None, str]:
    """The storage class the read latencies (microseconds, queue depth 1) point to, and why.

    >>> classify([8000.0] * 100)[0], classify([250.0] * 100)[0], classify([60.0] * 100)[0]
    ('hdd', 'ssd', 'nvme')
    >>> classify([60.0] * 10)
    (None, 'only 10 reads: too few to classify')
    >>> classify([2.0] * 100)
    (None, 'median 2 us: served from memory, not from a disk')
    """
    if len(latencies_us) < READS_MIN:
        return None, f"only {len(latencies_us)} reads: too few to classify"
    p50 = percentile(sorted(latencies_us), 0.50)
    if p50 < MEMORY_MEDIAN_US:
        return None, f"median {_us(p50)}: served from memory, not from a disk"
    if p50 >= HDD_MEDIAN_US:
        return "hdd", f"median {_us(p50)} >= {_us(HDD_MEDIAN_US)}: seeks, a spinning disk"
    if p50 <= NVME_MEDIAN_US:
        return "nvme", f"median {_us(p50)} <= {_us(NVME_MEDIAN_US)}: NVMe-class flash"
    return "ssd", (
        f"median {_us(p50)} between {_us(NVME_MEDIAN_US)} and {_us(HDD_MEDIAN_US)}: "
        "SATA/SAS flash or a network block volume"
    )


def _cannot(path: Path, why: str) -> ProbeResult:
    return ProbeResult(None, None, f"cannot probe {path}: {why}", str(path))


def probe(
    directory: Path,
    *,
    file_bytes: int = PROBE_FILE,
    read_seconds: float = READ_SECONDS,
    reads_max: int = READS_MAX,
) -> ProbeResult:
    """Measure random-read latency on the filesystem under ``directory``. Never raises."""
    where = existing_parent(directory)
    o_direct = getattr(os, "O_DIRECT", None)
    if o_direct is None:
        return _cannot(where, "this platform has no O_DIRECT")
    fstype = _fstype(where)
    if fstype in MEMORY_FILESYSTEMS:
        return _cannot(
            where, f"it is on {fstype}, in memory: no disk to measure, so it is not classified"
        )
    try:
        st = os.statvfs(where)
    except OSError as exc:
        return _cannot(where, f"statvfs: {exc.strerror or exc}")
    free = st.f_bavail * st.f_frsize
    if free < FREE_FACTOR * file_bytes:
        return _cannot(
            where,
            f"{human_size(free)} free, less than {FREE_FACTOR}x the {human_size(file_bytes)} "
            "probe file",
        )
    name = where / f".pgtune-probe-{os.getpid()}-{random.getrandbits(32):08x}"
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | o_direct, 0o600)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # EINVAL: the filesystem refuses O_DIRECT (tmpfs)
            return _cannot(
                where,
                "its filesystem does not support O_DIRECT (tmpfs?): reads would come from "
                "memory, so the disk is not classified",
            )
        return _cannot(where, f"cannot create a file there: {exc.strerror or exc}")
    try:
        with contextlib.suppress(OSError):
            os.unlink(name)  # gone whatever happens next; the open descriptor keeps it
        return _measure(fd, where, file_bytes, read_seconds, reads_max)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)


def _fstype(path: Path) -> str | None:
    try:
        dev = os.stat(path).st_dev
        return mount_of(Path("/"), os.major(dev), os.minor(dev))[0]
    except (OSError, ValueError, LookupError):
        return None


def _measure(
    fd: int, where: Path, file_bytes: int, read_seconds: float, reads_max: int
) -> ProbeResult:
    chunk = mmap.mmap(-1, CHUNK)  # page-aligned, as O_DIRECT needs
    block = mmap.mmap(-1, BLOCK)
    try:
        chunk.write(os.urandom(CHUNK))  # incompressible: no shortcut for zeroes or repeats
        written = 0
        start = time.monotonic()
        try:
            while written < file_bytes:
                if time.monotonic() - start > WRITE_SECONDS:
                    break
                n = os.pwrite(fd, chunk, written)
                if n <= 0:
                    break
                written += n
                chunk[:16] = os.urandom(16)  # no two chunks alike
            os.fsync(fd)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                return _cannot(where, "O_DIRECT writes are refused there (tmpfs?)")
            return _cannot(where, f"writing the probe file: {exc.strerror or exc}")
        if written < MIN_FILE and written < file_bytes:
            return _cannot(
                where,
                f"only {human_size(written)} written in {WRITE_SECONDS:g} s: too slow to probe",
            )
        blocks = written // BLOCK
        rng = random.Random(0x5EED)
        latencies: list[float] = []
        start = time.monotonic()
        view = memoryview(block)
        try:
            while len(latencies) < reads_max and time.monotonic() - start < read_seconds:
                offset = rng.randrange(blocks) * BLOCK
                t0 = time.perf_counter_ns()
                os.preadv(fd, [view], offset)
                latencies.append((time.perf_counter_ns() - t0) / 1000)
        except OSError as exc:
            return _cannot(where, f"reading the probe file: {exc.strerror or exc}")
        finally:
            view.release()
        seconds = time.monotonic() - start
    finally:
        chunk.close()
        block.close()
    if not latencies:
        return _cannot(where, "no read completed")
    figures = figures_of(latencies, seconds, written)
    storage, why = classify(latencies)
    verdict = f"{storage}: {why}" if storage else f"not classified: {why}"
    return ProbeResult(
        storage, figures, f"probe of {where}: {figures.text()}; {verdict}", str(where), why
    )
